// openai-batch: Files API upload + Batches API (protocols A).
//
// Every batch is recorded in the ledger (remote_objects, batch_rows) before its file is
// uploaded, and each step's result is recorded right after it: uploading -> creating ->
// <provider status> -> collected. A batch found in 'creating' after a crash is looked
// up by its metadata key (fgraph_key) before it is created again.
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "extract/internal/lane.h"

namespace fgraph::extract::internal {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kEndpoint = "/v1/chat/completions";

bool is_terminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "expired" || status == "cancelled";
}

// The outcome of one output/error file line (protocols A.5).
RowResult classify_openai_line(const json& line) {
  RowResult r;
  const json& err = line.contains("error") ? line["error"] : json();
  if (err.is_object()) {
    const std::string code = err.value("code", "");
    r.outcome = code == "batch_expired" ? Outcome::kExpired : Outcome::kTransient;
    r.error_detail = code + ": " + err.value("message", "");
    return r;
  }
  const json& resp = line.contains("response") ? line["response"] : json();
  if (!resp.is_object()) {
    r.outcome = Outcome::kTransient;
    r.error_detail = "row has neither response nor error";
    return r;
  }
  const int status = resp.contains("status_code") && resp["status_code"].is_number_integer()
                         ? resp["status_code"].get<int>() : 0;
  const json& body = resp.contains("body") ? resp["body"] : json();
  if (status != 200) {
    const ErrorCode code = classify_http_status(status);
    r.outcome = is_retryable(code) ? Outcome::kTransient : Outcome::kInvalidRequest;
    std::string message;
    if (body.is_object() && body.contains("error") && body["error"].is_object()) {
      message = body["error"].value("message", "");
    }
    r.error_detail = "HTTP " + std::to_string(status) + (message.empty() ? "" : ": " + message.substr(0, 300));
    return r;
  }
  return classify_chat_completion(body.dump(-1, ' ', false, json::error_handler_t::replace));
}

class OpenAiBatchLane final : public Lane {
 public:
  explicit OpenAiBatchLane(LaneContext ctx)
      : ctx_(std::move(ctx)),
        http_(*ctx_.transport, *ctx_.clock,
              HttpClientOptions{ctx_.options->providers.openai_base_url,
                                {{"Authorization", "Bearer " + ctx_.options->providers.openai_api_key}},
                                ctx_.options->http_retry,
                                std::chrono::milliseconds(600000)}) {}

  LaneKind kind() const override { return LaneKind::kOpenAiBatch; }

  Status submit(const std::vector<PendingRow>& rows) override {
    if (rows.empty()) return ok();
    // One model per file (protocols A.4).
    std::map<std::string, std::vector<const PendingRow*>> by_model;
    for (const PendingRow& r : rows) by_model[r.request.model].push_back(&r);
    for (auto& [model, group] : by_model) {
      if (auto s = write_files(model, group); !s) return s;
    }
    return resume_open();
  }

  // Only this run's batches (Ledger::open_remotes).
  Status resume_open() override {
    auto open = ctx_.ledger->open_remotes(std::string(to_string(kind())), ctx_.run_id);
    if (!open) return open.error();
    if (open->empty()) return ok();
    std::vector<RemoteObject> objs = std::move(*open);
    const auto deadline = ctx_.clock->steady_now() + ctx_.options->max_wait;
    auto wait = ctx_.options->poll_initial;
    while (true) {
      std::size_t still_open = 0;
      for (RemoteObject& obj : objs) {
        if (obj.state == "collected" || obj.state == "abandoned") continue;
        if (auto s = advance(obj); !s) return s;
        if (obj.state != "collected" && obj.state != "abandoned") ++still_open;
      }
      if (still_open == 0) return ok();
      if (ctx_.clock->steady_now() >= deadline) {
        return make_error(ErrorCode::kTransient,
                          std::to_string(still_open) + " batch(es) still running after the wait limit; run again to resume");
      }
      report(ctx_, "polling", std::to_string(still_open) + " batch(es) open");
      ctx_.clock->sleep_for(wait);
      wait = std::min(wait * 2, ctx_.options->poll_max);
    }
  }

  Status cancel_open() override {
    auto open = ctx_.ledger->open_remotes(std::string(to_string(kind())), ctx_.run_id);
    if (!open) return open.error();
    for (RemoteObject& obj : *open) {
      if (obj.remote_id.empty() || is_terminal(obj.state)) continue;
      auto r = http_.send_json("POST", "/batches/" + obj.remote_id + "/cancel", "{}");
      if (!r) return r.error();
      json b = json::parse(r->body, nullptr, false);
      obj.state = b.is_object() ? b.value("status", "cancelling") : "cancelling";
      if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
    }
    return ok();
  }

 private:
  std::string batch_dir() const {
    return (fs::path(ctx_.options->work_dir) / "batches").string();
  }

  // Writes the JSONL files of one model, rotating at the line and byte limits, and
  // records each (state 'uploading') with its rows.
  Status write_files(const std::string& model, const std::vector<const PendingRow*>& rows) {
    std::error_code ec;
    fs::create_directories(batch_dir(), ec);
    if (ec) return make_error(ErrorCode::kInternal, "cannot create " + batch_dir() + ": " + ec.message());
    std::size_t i = 0;
    while (i < rows.size()) {
      RemoteObject obj;
      obj.key = "fgb-" + random_hex(8);
      obj.provider = "openai";
      obj.lane = std::string(to_string(kind()));
      obj.model = model;
      obj.run_id = ctx_.run_id;
      obj.local_path = (fs::path(batch_dir()) / (obj.key + ".jsonl")).string();
      obj.state = "uploading";
      std::vector<PendingRow> in_file;
      {
        std::ofstream out(obj.local_path, std::ios::binary | std::ios::trunc);
        if (!out) return make_error(ErrorCode::kInternal, "cannot write " + obj.local_path);
        std::uint64_t bytes = 0;
        while (i < rows.size() && in_file.size() < ctx_.options->max_lines_per_file) {
          auto line = render_line(*rows[i]);
          if (!line) return line.error();
          if (!in_file.empty() && bytes + line->size() > ctx_.options->max_bytes_per_file) break;
          if (line->size() > ctx_.options->max_bytes_per_file) {
            return make_error(ErrorCode::kInvalidInput,
                              "request " + rows[i]->request.custom_id + " alone exceeds the batch file size limit");
          }
          out.write(line->data(), static_cast<std::streamsize>(line->size()));
          bytes += line->size();
          in_file.push_back(*rows[i]);
          ++i;
        }
        out.flush();
        if (!out) return make_error(ErrorCode::kInternal, "cannot write " + obj.local_path);
      }
      auto claimed = ctx_.ledger->create_remote(obj, in_file);
      if (!claimed) return claimed.error();
      if (claimed->empty()) {
        fs::remove(obj.local_path, ec);
        continue;
      }
      // Rows claimed by another batch first are not sent: the file is written again
      // with the claimed rows only.
      if (claimed->size() < in_file.size()) {
        if (auto s = rewrite_file(obj); !s) return s;
      }
      if (ctx_.counters != nullptr) ctx_.counters->submitted += static_cast<std::int64_t>(claimed->size());
      report(ctx_, "submitted", obj.key + " " + std::to_string(claimed->size()) + " rows");
    }
    return ok();
  }

  Result<std::string> render_line(const PendingRow& row) {
    auto body = render_checked(ctx_, kind(), row);
    if (!body) return body.error();
    std::string line;
    line.reserve(body->size() + 128);
    line.append("{\"custom_id\":\"").append(row.request.custom_id)
        .append("\",\"method\":\"POST\",\"url\":\"").append(kEndpoint).append("\",\"body\":")
        .append(*body).append("}\n");
    return line;
  }

  // Rewrites a recorded batch's input file (lost in a crash before upload).
  Status rewrite_file(RemoteObject& obj) {
    auto rows = ctx_.ledger->batch_rows(obj.key);
    if (!rows) return rows.error();
    std::ofstream out(obj.local_path, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kInternal, "cannot write " + obj.local_path);
    for (const PendingRow& r : *rows) {
      auto line = render_line(r);
      if (!line) return line.error();
      out.write(line->data(), static_cast<std::streamsize>(line->size()));
    }
    out.flush();
    return out ? ok() : make_error(ErrorCode::kInternal, "cannot write " + obj.local_path);
  }

  // Moves one batch one step forward: upload, create, poll, or collect.
  Status advance(RemoteObject& obj) {
    auto log = logger("extract");
    if (obj.state == "uploading") {
      std::error_code ec;
      if (!fs::exists(obj.local_path, ec)) {
        if (auto s = rewrite_file(obj); !s) return s;
      }
      // An upload interrupted by a crash may have left an orphan file at the provider:
      // it costs nothing and nothing refers to it, so the file is simply uploaded again.
      auto r = http_.send_multipart(
          "/files", {MultipartPart{"purpose", "batch", "", "", ""},
                     MultipartPart{"file", "", obj.local_path, obj.key + ".jsonl", "application/jsonl"}});
      if (!r) return r.error();
      json f = json::parse(r->body, nullptr, false);
      if (!f.is_object() || !f.contains("id") || !f["id"].is_string()) {
        return make_error(ErrorCode::kTransient, "file upload answered without an id");
      }
      crash_point("upload");  // uploaded, not yet recorded: resume uploads again
      obj.file_id = f["id"];
      obj.state = "creating";
      if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
      log->info("batch={} uploaded file={} run={}", obj.key, obj.file_id, obj.run_id);
      created_here_.insert(obj.key);
    }
    if (obj.state == "creating") {
      if (!created_here_.count(obj.key)) {
        // Recorded as 'creating' by an earlier process: the POST may have gone through.
        auto found = find_by_key(obj.key);
        if (!found) return found.error();
        if (!found->empty()) {
          obj.remote_id = *found;
          obj.state = "validating";
          if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
          log->info("batch={} found again as {} after a restart", obj.key, obj.remote_id);
        }
      }
      if (obj.state == "creating") {
        // The run's tags travel with the batch (seen in the provider's console and usage
        // exports); fgraph's own keys come last and win.
        json metadata = json::object();
        for (const auto& [k, v] : ctx_.options->batch_metadata) metadata[k] = v;
        metadata["fgraph_key"] = obj.key;
        metadata["fgraph_run"] = obj.run_id;
        json req{{"input_file_id", obj.file_id},
                 {"endpoint", kEndpoint},
                 {"completion_window", "24h"},
                 {"metadata", std::move(metadata)}};
        auto r = http_.send_json("POST", "/batches", req.dump());
        if (!r) return r.error();
        json b = json::parse(r->body, nullptr, false);
        if (!b.is_object() || !b.contains("id") || !b["id"].is_string()) {
          return make_error(ErrorCode::kTransient, "batch creation answered without an id");
        }
        crash_point("batch_created");  // created, not yet recorded: resume finds it by key
        obj.remote_id = b["id"];
        obj.state = b.value("status", "validating");
        if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
        log->info("batch={} created id={} rows={} run={}", obj.key, obj.remote_id, obj.rows, obj.run_id);
      }
      return ok();  // poll on the next round
    }
    if (!is_terminal(obj.state) || (obj.output_file_id.empty() && obj.error_file_id.empty())) {
      auto r = http_.send_json("GET", "/batches/" + obj.remote_id, "");
      if (!r) return r.error();
      json b = json::parse(r->body, nullptr, false);
      if (!b.is_object()) return make_error(ErrorCode::kTransient, "batch poll answered non-JSON");
      const std::string status = b.value("status", "");
      auto str = [&](const char* k) { return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : std::string(); };
      obj.output_file_id = str("output_file_id");
      obj.error_file_id = str("error_file_id");
      if (status == "failed" && b.contains("errors") && b["errors"].is_object()) {
        obj.detail = b["errors"].dump().substr(0, 1000);
      }
      if (status != obj.state) {
        obj.state = status;
        if (auto s = ctx_.ledger->update_remote(obj); !s) return s;
      }
      if (!is_terminal(status)) {
        if (b.contains("request_counts") && b["request_counts"].is_object()) {
          const json& c = b["request_counts"];
          report(ctx_, "polling", obj.remote_id + " " + status + " " +
                                      std::to_string(c.value("completed", 0)) + "/" +
                                      std::to_string(c.value("total", 0)));
        }
        return ok();
      }
    }
    return collect(obj);
  }

  // Looks for a batch carrying metadata fgraph_key == key (pages through the list).
  Result<std::string> find_by_key(const std::string& key) {
    std::string after;
    for (int page = 0; page < 100; ++page) {
      std::string path = "/batches?limit=100" + (after.empty() ? "" : "&after=" + after);
      auto r = http_.send_json("GET", path, "");
      if (!r) return r.error();
      json list = json::parse(r->body, nullptr, false);
      if (!list.is_object() || !list.contains("data") || !list["data"].is_array()) return std::string();
      for (const json& b : list["data"]) {
        if (b.is_object() && b.contains("metadata") && b["metadata"].is_object() &&
            b["metadata"].value("fgraph_key", "") == key && b.contains("id")) {
          return b["id"].get<std::string>();
        }
      }
      if (!list.value("has_more", false) || list["data"].empty()) break;
      after = list["data"].back().value("id", "");
      if (after.empty()) break;
    }
    return std::string();
  }

  Status collect(RemoteObject& obj) {
    auto rows = ctx_.ledger->batch_rows(obj.key);
    if (!rows) return rows.error();
    ResultLines got;
    for (const std::string& file_id : {obj.output_file_id, obj.error_file_id}) {
      if (file_id.empty()) continue;
      const std::string path = (fs::path(batch_dir()) / (obj.key + "." + file_id + ".jsonl")).string();
      auto d = http_.download("/files/" + file_id + "/content", path);
      if (!d) return d.error();
      if (auto s = read_result_lines(path, *rows, classify_openai_line, got); !s) return s;
    }
    // Rows the provider did not return: the batch's fate decides their outcome.
    Outcome missing = Outcome::kTransient;
    std::string missing_detail = "row missing from the output of batch " + obj.remote_id;
    if (obj.state == "expired") {
      missing = Outcome::kExpired;
      missing_detail = "batch expired before the row ran";
    } else if (obj.state == "cancelled") {
      missing_detail = "batch cancelled before the row ran";
    } else if (obj.state == "failed") {
      const bool token_limit = obj.detail.find("token_limit_exceeded") != std::string::npos;
      missing = token_limit ? Outcome::kTransient : Outcome::kInvalidRequest;
      missing_detail = "batch failed validation: " + obj.detail.substr(0, 300);
    }
    return record_collected(ctx_, kind(), obj, *rows, got, missing, missing_detail);
  }

  LaneContext ctx_;
  HttpClient http_;
  std::unordered_set<std::string> created_here_;
};

}  // namespace

std::unique_ptr<Lane> make_openai_batch_lane(LaneContext ctx) {
  return std::make_unique<OpenAiBatchLane>(std::move(ctx));
}

}  // namespace fgraph::extract::internal
