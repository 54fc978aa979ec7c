#include "service/internal/carrier.h"

#include <algorithm>

#include "extract/extract.h"

namespace fgraph::service {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

Carrier::Carrier(CarrierSettings settings, Clock& clock) : settings_(settings), clock_(clock) {}

void Carrier::wake(const std::string& run_id) { due_[run_id] = Due{clock_.steady_now(), seconds(0)}; }

void Carrier::raise(Pass& pass, const std::string& kind, const std::string& run_id,
                    const std::string& message) {
  if (!raised_.emplace(kind, run_id).second) return;
  pass.raised.push_back({alert_key(kind, run_id), kind, message, run_id, format_utc(clock_.now())});
}

void Carrier::check_report(Pass& pass, const run::RunReport& r) {
  if (!r.leak_alarms.empty()) {
    raise(pass, "leak_alarm", r.run_id,
          std::to_string(r.leak_alarms.size()) + " cross-document leak alarm(s); the first: a quote of " +
              r.leak_alarms.front().own_doc_id + " found in " + r.leak_alarms.front().other_doc_id);
  }
  if (r.requests_submitted > 0 &&
      static_cast<double>(r.requests_dead_lettered) >
          settings_.failed_rows_alert * static_cast<double>(r.requests_submitted)) {
    raise(pass, "failed_rows", r.run_id,
          std::to_string(r.requests_dead_lettered) + " of " + std::to_string(r.requests_submitted) +
              " rows failed for good (dead letters)");
  }
}

void Carrier::check_batches(Pass& pass, registry::Store& store) {
  auto open = extract::open_batches(store);
  if (!open) {
    logger("service")->warn("open batches unreadable: {}", open.error().describe());
    return;
  }
  const auto now = clock_.now();
  for (const auto& b : *open) {
    auto created = parse_utc(b.created_at);
    if (!created || now - *created <= settings_.batch_open_alert) continue;
    const auto hours = duration_cast<std::chrono::hours>(now - *created).count();
    raise(pass, "batch_open_long", b.run_id,
          "batch " + (b.remote_id.empty() ? std::string("(being created)") : b.remote_id) + " on " +
              b.lane + " open for " + std::to_string(hours) + " h (state " + b.state + ")");
  }
}

Carrier::Pass Carrier::tick(run::Coordinator& coordinator, registry::Store& store) {
  Pass pass;
  pass.next_in = duration_cast<milliseconds>(settings_.poll_max);
  auto runs = coordinator.runs();
  if (!runs) {
    logger("service")->error("runs unreadable: {}", runs.error().describe());
    pass.next_in = duration_cast<milliseconds>(settings_.poll_initial);
    return pass;
  }
  std::set<std::string> open;
  for (const auto& summary : *runs) {
    const std::string& id = summary.run_id;
    if (summary.state == run::RunState::kBudgetRefused) {
      raise(pass, "budget_refused", id,
            "run refused by its budget or a spend cap; nothing more is sent until `fgraph run --resume " +
                id + "` (with --budget-usd for a budget)");
    }
    // Issue 20's gates stop a run for a person to look at: say so where people look.
    if (summary.state == run::RunState::kHalted) {
      raise(pass, "run_halted", id,
            "run halted by on_failure=halt: rows were dead-lettered, nothing was staged "
            "(`fgraph retry " + id + "` sends them again)");
    }
    if (summary.state == run::RunState::kCanaryFailed) {
      raise(pass, "canary_failed", id,
            "run's canary scored below its thresholds; nothing was bulk-submitted (`fgraph status " +
                id + "`)");
    }
    if (!run::is_open(summary.state)) continue;
    open.insert(id);
    const auto now = clock_.steady_now();
    Due& due = due_.try_emplace(id, Due{now, seconds(0)}).first->second;
    if (due.at > now) continue;
    ++pass.looked;
    run::RunOptions look;
    look.resume_run_id = id;
    look.no_wait = true;
    auto report = coordinator.run(look);
    if (report) {
      check_report(pass, *report);
      if (report->state == run::to_string(run::RunState::kFinished)) {
        neo4j_down_since_.reset();  // it staged: a later outage is a new alert
        raised_.erase({"neo4j_unreachable", ""});
        logger("service")->info("run={} finished: {} documents staged", id, report->documents_staged);
        pass.finished.push_back(id);
        due_.erase(id);
        open.erase(id);
        continue;
      }
    } else {
      const Error& e = report.error();
      auto state = coordinator.report(id);
      const bool stuck_on_neo4j = e.code == ErrorCode::kUnavailable && state &&
                                  state->state == run::to_string(run::RunState::kVerified);
      if (stuck_on_neo4j) {
        if (!neo4j_down_since_) neo4j_down_since_ = now;
        if (now - *neo4j_down_since_ > settings_.neo4j_down_alert) {
          raise(pass, "neo4j_unreachable", "",
                "Neo4j unreachable for " +
                    std::to_string(duration_cast<std::chrono::minutes>(now - *neo4j_down_since_).count()) +
                    " min: " + e.message);
        }
      }
      if (e.detail == "budget") raise(pass, "budget_refused", id, e.message);
      logger("service")->warn("run={} not carried on this time: {}", id, escape_for_terminal(e.describe()));
    }
    due.backoff = due.backoff.count() == 0 ? settings_.poll_initial
                                           : std::min(due.backoff * 2, settings_.poll_max);
    due.at = clock_.steady_now() + due.backoff;
  }
  for (auto it = due_.begin(); it != due_.end();) {
    it = open.count(it->first) > 0 ? std::next(it) : due_.erase(it);
  }
  check_batches(pass, store);
  const auto now = clock_.steady_now();
  for (const auto& [id, due] : due_) {
    pass.next_in = std::min(pass.next_in, std::max(milliseconds(0), duration_cast<milliseconds>(due.at - now)));
  }
  return pass;
}

}  // namespace fgraph::service
