// anthropic-batch: Message Batches API (protocols B); JSON through a forced tool call.
//
// The batch body is written to disk and the batch recorded ('creating') before the POST.
// Message batches carry no metadata, so a batch left in 'creating' by a crash is found
// again by listing batches created since the record with the same number of requests
// and not already known to the ledger.
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "extract/internal/lane.h"

namespace fgraph::extract::internal {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

RowResult classify_anthropic_line(const json& line) {
  RowResult r;
  const json& result = line.contains("result") ? line["result"] : json();
  const std::string type = result.is_object() ? result.value("type", "") : "";
  if (type == "succeeded" && result.contains("message")) {
    return classify_anthropic_message(result["message"].dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (type == "errored") {
    std::string etype, message;
    if (result.contains("error") && result["error"].is_object()) {
      const json& env = result["error"];
      const json& inner = env.contains("error") && env["error"].is_object() ? env["error"] : env;
      etype = inner.value("type", "");
      message = inner.value("message", "");
    }
    r.outcome = etype == "invalid_request_error" ? Outcome::kInvalidRequest : Outcome::kTransient;
    r.error_detail = etype + ": " + message.substr(0, 300);
    return r;
  }
  if (type == "expired") {
    r.outcome = Outcome::kExpired;
    r.error_detail = "batch expired before the row ran";
    return r;
  }
  r.outcome = Outcome::kTransient;
  r.error_detail = type == "canceled" ? "batch canceled before the row ran" : "unknown result type '" + type + "'";
  return r;
}

class AnthropicBatchLane final : public Lane {
 public:
  explicit AnthropicBatchLane(LaneContext ctx)
      : ctx_(std::move(ctx)),
        http_(*ctx_.transport, *ctx_.clock,
              HttpClientOptions{ctx_.options->providers.anthropic_base_url,
                                {{"x-api-key", ctx_.options->providers.anthropic_api_key},
                                 {"anthropic-version", "2023-06-01"}},
                                ctx_.options->http_retry,
                                std::chrono::milliseconds(600000)}) {}

  LaneKind kind() const override { return LaneKind::kAnthropicBatch; }

  Status submit(const std::vector<PendingRow>& rows) override {
    std::error_code ec;
    fs::create_directories(batch_dir(), ec);
    if (ec) return make_error(ErrorCode::kInternal, "cannot create " + batch_dir());
    const std::size_t per_batch = std::max<std::size_t>(1, ctx_.options->max_requests_per_anthropic_batch);
    for (std::size_t i = 0; i < rows.size(); i += per_batch) {
      std::vector<PendingRow> group(rows.begin() + static_cast<std::ptrdiff_t>(i),
                                    rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), i + per_batch)));
      RemoteObject obj;
      obj.key = "fgb-" + random_hex(8);
      obj.provider = "anthropic";
      obj.lane = std::string(to_string(kind()));
      obj.model = group.front().request.model;
      obj.run_id = ctx_.run_id;
      obj.local_path = (fs::path(batch_dir()) / (obj.key + ".json")).string();
      obj.state = "creating";
      if (auto s = write_body(obj.local_path, group); !s) return s;
      auto claimed = ctx_.ledger->create_remote(obj, group);
      if (!claimed) return claimed.error();
      if (claimed->empty()) {
        fs::remove(obj.local_path, ec);
        continue;
      }
      // Rows claimed by another batch first are not sent.
      if (claimed->size() < group.size()) {
        if (auto s = write_body(obj.local_path, *claimed); !s) return s;
      }
      created_here_[obj.key] = true;
      if (ctx_.counters != nullptr) ctx_.counters->submitted += static_cast<std::int64_t>(claimed->size());
    }
    return resume_open();
  }

  // Only this run's batches (Ledger::open_remotes).
  Status resume_open() override {
    auto open = ctx_.ledger->open_remotes(std::string(to_string(kind())), ctx_.run_id);
    if (!open) return open.error();
    std::vector<RemoteObject> objs = std::move(*open);
    const auto deadline = ctx_.clock->steady_now() + ctx_.options->max_wait;
    auto wait = ctx_.options->poll_initial;
    while (!objs.empty()) {
      std::size_t still_open = 0;
      for (RemoteObject& obj : objs) {
        if (obj.state == "collected") continue;
        if (auto s = advance(obj); !s) return s;
        if (obj.state != "collected") ++still_open;
      }
      if (still_open == 0) return ok();
      if (ctx_.clock->steady_now() >= deadline) {
        return make_error(ErrorCode::kTransient, "message batches still running; run again to resume");
      }
      report(ctx_, "polling", std::to_string(still_open) + " batch(es) open");
      ctx_.clock->sleep_for(wait);
      wait = std::min(wait * 2, ctx_.options->poll_max);
    }
    return ok();
  }

  Status cancel_open() override {
    auto open = ctx_.ledger->open_remotes(std::string(to_string(kind())), ctx_.run_id);
    if (!open) return open.error();
    for (RemoteObject& obj : *open) {
      if (obj.remote_id.empty() || obj.state == "ended") continue;
      auto r = http_.send_json("POST", "/v1/messages/batches/" + obj.remote_id + "/cancel", "{}");
      if (!r) return r.error();
      obj.state = "canceling";
      if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
    }
    return ok();
  }

 private:
  std::string batch_dir() const { return (fs::path(ctx_.options->work_dir) / "batches").string(); }

  Status write_body(const std::string& path, const std::vector<PendingRow>& rows) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kInternal, "cannot write " + path);
    out << "{\"requests\":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto body = render_checked(ctx_, kind(), rows[i]);
      if (!body) return body.error();
      if (i > 0) out << ',';
      out << "{\"custom_id\":\"" << rows[i].request.custom_id << "\",\"params\":" << *body << '}';
    }
    out << "]}";
    out.flush();
    return out ? ok() : make_error(ErrorCode::kInternal, "cannot write " + path);
  }

  Result<std::string> find_again(const RemoteObject& obj) {
    auto known = ctx_.ledger->store().query("SELECT remote_id FROM remote_objects WHERE remote_id IS NOT NULL");
    if (!known) return known.error();
    std::unordered_map<std::string, bool> seen;
    for (const auto& row : *known) {
      if (const auto* s = std::get_if<std::string>(&row[0])) seen[*s] = true;
    }
    // Ten minutes of slack for a provider clock behind ours.
    auto created = ctx_.ledger->store().query(
        "SELECT strftime('%Y-%m-%dT%H:%M:%S', created_at, '-10 minutes') FROM remote_objects WHERE obj_key=?",
        {obj.key});
    if (!created || created->empty() || !std::holds_alternative<std::string>((*created)[0][0])) return std::string();
    const std::string since = std::get<std::string>((*created)[0][0]);
    auto r = http_.send_json("GET", "/v1/messages/batches?limit=100", "");
    if (!r) return r.error();
    json list = json::parse(r->body, nullptr, false);
    if (!list.is_object() || !list.contains("data") || !list["data"].is_array()) return std::string();
    for (const json& b : list["data"]) {
      if (!b.is_object() || !b.contains("id") || seen.count(b["id"].get<std::string>())) continue;
      std::int64_t total = 0;
      if (b.contains("request_counts") && b["request_counts"].is_object()) {
        for (const auto& [k, v] : b["request_counts"].items()) {
          if (v.is_number_integer()) total += v.get<std::int64_t>();
        }
      }
      // RFC 3339 UTC strings of the same shape compare in time order.
      if (total == obj.rows && b.value("created_at", "").substr(0, 19) >= since.substr(0, 19)) {
        return b["id"].get<std::string>();
      }
    }
    return std::string();
  }

  Status advance(RemoteObject& obj) {
    auto log = logger("extract");
    if (obj.state == "creating") {
      if (!created_here_.count(obj.key)) {
        auto found = find_again(obj);
        if (!found) return found.error();
        if (!found->empty()) {
          obj.remote_id = *found;
          obj.state = "in_progress";
          if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
          log->info("batch={} found again as {} after a restart", obj.key, obj.remote_id);
          return ok();
        }
      }
      std::error_code ec;
      if (!fs::exists(obj.local_path, ec)) {
        auto rows = ctx_.ledger->batch_rows(obj.key);
        if (!rows) return rows.error();
        if (auto s = write_body(obj.local_path, *rows); !s) return s;
      }
      auto body = read_file(obj.local_path);
      if (!body) return body.error();
      auto r = http_.send_json("POST", "/v1/messages/batches", *body);
      if (!r) return r.error();
      json b = json::parse(r->body, nullptr, false);
      if (!b.is_object() || !b.contains("id") || !b["id"].is_string()) {
        return make_error(ErrorCode::kTransient, "message batch creation answered without an id");
      }
      crash_point("batch_created");  // created, not yet recorded: resume finds it again
      obj.remote_id = b["id"];
      obj.state = b.value("processing_status", "in_progress");
      if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
      log->info("batch={} created id={} rows={} run={}", obj.key, obj.remote_id, obj.rows, obj.run_id);
      return ok();
    }
    std::string results_url = obj.output_file_id;
    if (obj.state != "ended" || results_url.empty()) {
      auto r = http_.send_json("GET", "/v1/messages/batches/" + obj.remote_id, "");
      if (!r) return r.error();
      json b = json::parse(r->body, nullptr, false);
      if (!b.is_object()) return make_error(ErrorCode::kTransient, "batch poll answered non-JSON");
      const std::string status = b.value("processing_status", "");
      if (b.contains("results_url") && b["results_url"].is_string()) results_url = b["results_url"];
      if (status != obj.state || results_url != obj.output_file_id) {
        obj.state = status;
        obj.output_file_id = results_url;
        if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
      }
      if (status != "ended") return ok();
    }
    return collect(obj, results_url);
  }

  Status collect(RemoteObject& obj, const std::string& results_url) {
    auto rows = ctx_.ledger->batch_rows(obj.key);
    if (!rows) return rows.error();
    const std::string url = results_url.empty() ? "/v1/messages/batches/" + obj.remote_id + "/results" : results_url;
    const std::string path = (fs::path(batch_dir()) / (obj.key + ".results.jsonl")).string();
    auto d = http_.download(url, path);
    if (!d) return d.error();
    ResultLines got;
    if (auto s = read_result_lines(path, *rows, classify_anthropic_line, got); !s) return s;
    return record_collected(ctx_, kind(), obj, *rows, got, Outcome::kTransient,
                            "row missing from the results of " + obj.remote_id);
  }

  LaneContext ctx_;
  HttpClient http_;
  std::unordered_map<std::string, bool> created_here_;
};

}  // namespace

std::unique_ptr<Lane> make_anthropic_batch_lane(LaneContext ctx) {
  return std::make_unique<AnthropicBatchLane>(std::move(ctx));
}

}  // namespace fgraph::extract::internal
