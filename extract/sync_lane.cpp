// openai-sync and local: live chat completions; anthropic-sync: the live Messages API. One
// isolated request per row, bounded concurrency. Bodies are rendered (and isolation-checked) on the calling thread in
// waves; workers only do HTTP; the ledger is written on the calling thread per wave.
#include <atomic>
#include <mutex>
#include <thread>

#include "extract/internal/lane.h"

namespace fgraph::extract::internal {

namespace {

// Serialises a Clock shared by the workers (ManualClock is single-threaded).
class LockedClock final : public Clock {
 public:
  explicit LockedClock(Clock& inner) : inner_(inner) {}
  std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(mu_);
    return inner_.now();
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    std::lock_guard lock(mu_);
    return inner_.steady_now();
  }
  void sleep_for(std::chrono::milliseconds d) override {
    // A real sleep must not hold the lock; a manual one is instantaneous.
    if (dynamic_cast<ManualClock*>(&inner_) != nullptr) {
      std::lock_guard lock(mu_);
      inner_.sleep_for(d);
    } else {
      inner_.sleep_for(d);
    }
  }

 private:
  Clock& inner_;
  mutable std::mutex mu_;
};

class SyncLane final : public Lane {
 public:
  SyncLane(LaneKind kind, LaneContext ctx) : kind_(kind), ctx_(std::move(ctx)), clock_(*ctx_.clock) {
    const ProviderConfig& p = ctx_.options->providers;
    HttpClientOptions o;
    if (kind == LaneKind::kAnthropicSync) {
      o.base_url = p.anthropic_base_url;
      o.headers = {{"x-api-key", p.anthropic_api_key}, {"anthropic-version", "2023-06-01"}};
    } else {
      o.base_url = kind == LaneKind::kLocal ? p.local_base_url : p.openai_base_url;
      const std::string& key = kind == LaneKind::kLocal ? p.local_api_key : p.openai_api_key;
      if (!key.empty()) o.headers.emplace_back("Authorization", "Bearer " + key);
    }
    o.retry = ctx_.options->http_retry;
    o.timeout = ctx_.options->request_timeout;
    http_ = std::make_unique<HttpClient>(*ctx_.transport, clock_, std::move(o));
  }

  LaneKind kind() const override { return kind_; }

  Status submit(const std::vector<PendingRow>& rows) override {
    const std::size_t workers = static_cast<std::size_t>(std::max(1, ctx_.options->sync_concurrency));
    const std::size_t wave = std::max<std::size_t>(workers * 4, 16);
    for (std::size_t begin = 0; begin < rows.size(); begin += wave) {
      const std::size_t end = std::min(rows.size(), begin + wave);
      std::vector<std::string> bodies;
      bodies.reserve(end - begin);
      for (std::size_t i = begin; i < end; ++i) {
        auto body = render_checked(ctx_, kind_, rows[i]);
        if (!body) return body.error();
        bodies.push_back(std::move(*body));
      }
      std::vector<std::optional<RowResult>> results(end - begin);
      std::atomic<std::size_t> next{0};
      std::mutex err_mu;
      std::optional<Error> fatal;
      auto work = [&]() {
        try {
          while (true) {
            {
              std::lock_guard lock(err_mu);
              if (fatal) return;
            }
            const std::size_t k = next.fetch_add(1);
            if (k >= bodies.size()) return;
            auto r = send_row(bodies[k]);
            if (!r) {
              std::lock_guard lock(err_mu);
              if (!fatal) fatal = r.error();
              return;
            }
            results[k] = std::move(*r);
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(err_mu);
          if (!fatal) fatal = make_error(ErrorCode::kInternal, std::string("sync lane worker: ") + e.what());
        }
      };
      std::vector<std::thread> threads;
      for (std::size_t t = 1; t < std::min(workers, bodies.size()); ++t) threads.emplace_back(work);
      work();
      for (auto& t : threads) t.join();

      // Rows answered before a fatal error are still recorded (they were paid for).
      std::vector<RowResult> done;
      for (std::size_t k = 0; k < results.size(); ++k) {
        if (!results[k]) continue;
        RowResult r = std::move(*results[k]);
        const PendingRow& p = rows[begin + k];
        r.custom_id = p.request.custom_id;
        r.lane = std::string(to_string(kind_));
        r.model = p.request.model;
        r.attempt = p.attempt;
        r.cost_usd = row_cost(ctx_.options, kind_, r.model, r.usage);
        if (ctx_.counters != nullptr) {
          ctx_.counters->submitted += 1;
          (r.outcome == Outcome::kCompleted ? ctx_.counters->completed : ctx_.counters->failed) += 1;
        }
        done.push_back(std::move(r));
      }
      if (auto s = ctx_.ledger->record_rows(ctx_.run_id, done); !s) return s;
      if (ctx_.answers != nullptr) ctx_.answers->insert(ctx_.answers->end(), done.begin(), done.end());
      report(ctx_, "collected", std::to_string(end) + "/" + std::to_string(rows.size()) + " rows");
      if (fatal) return *fatal;
    }
    return ok();
  }

 private:
  // One row: the HTTP call with retries (429 Retry-After honoured through the policy).
  // Returns a RowResult for every answer; an Error only when the server cannot be
  // reached at all or refuses us for good (auth), which stops the lane.
  Result<RowResult> send_row(const std::string& body) {
    HttpRequest req;
    req.method = "POST";
    const bool anthropic = kind_ == LaneKind::kAnthropicSync;
    req.url = http_->url(anthropic ? "/v1/messages" : "/chat/completions");
    req.body = body;
    req.headers.emplace_back("Content-Type", "application/json");
    RetryPolicy policy = ctx_.options->http_retry;
    for (int attempt = 1;; ++attempt) {
      auto r = http_->send_once(req);
      if (r) return anthropic ? classify_anthropic_message(r->body) : classify_chat_completion(r->body);
      const Error& e = r.error();
      if (auto delay = policy.next_delay(attempt, e)) {
        clock_.sleep_for(*delay);
        continue;
      }
      if (e.code == ErrorCode::kUnavailable) return e;  // nothing answered: stop the lane
      // Refused credentials or an exhausted quota fail every row alike: stop the lane.
      if (e.code == ErrorCode::kUnauthorized || e.detail == "insufficient_quota") return e;
      RowResult row;
      row.outcome = is_retryable(e.code) ? Outcome::kTransient : Outcome::kInvalidRequest;
      row.error_detail = e.message;
      return row;
    }
  }

  LaneKind kind_;
  LaneContext ctx_;
  LockedClock clock_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace

std::unique_ptr<Lane> make_sync_lane(LaneKind kind, LaneContext ctx) {
  return std::make_unique<SyncLane>(kind, std::move(ctx));
}

}  // namespace fgraph::extract::internal
