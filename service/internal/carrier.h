// The service's background work: every open run is carried on without anyone asking.
//
// A run is open while a later call has work to do for it (run::is_open: batches submitted
// and not collected, results to verify, documents waiting for Neo4j). The carrier looks at
// each open run when it is due, with a no_wait resume (run::Coordinator::run): one poll of
// its open batches, and, once they are collected, verify, resolve and stage. A run still
// waiting is looked at again after a backoff that starts at `poll_initial` and doubles to
// `poll_max`; a new run (wake) is looked at at once. Nothing is submitted twice: the
// extract ledger claims every row before it is sent, and only the run's own batches move.
//
// Alerts (service::Alert, keyed "kind:run_id"; each raised once; AlertList logs it):
// a batch open longer
// than `batch_open_alert`; a run whose dead-lettered rows exceed `failed_rows_alert` of its
// submitted rows; any cross-document leak alarm; Neo4j unreachable for longer than
// `neo4j_down_alert`; a run refused by its budget.
//
// Threading: not thread-safe. The service calls tick() and wake() from its writer thread
// only, between other writes, so runs are carried one at a time (each look is short for a
// batch lane; a live lane's look does the whole extraction).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/core.h"
#include "registry/registry.h"
#include "run/run.h"
#include "service/service.h"

namespace fgraph::service {

class Carrier {
 public:
  Carrier(CarrierSettings settings, Clock& clock);

  struct Pass {
    int looked = 0;                        // runs looked at in this pass
    std::vector<std::string> finished;     // runs that reached `finished` in this pass
    std::vector<Alert> raised;             // alerts new in this pass
    std::chrono::milliseconds next_in{0};  // until the next run is due (poll_max when none)
  };
  // Looks at every open run that is due, in the order they started.
  Pass tick(run::Coordinator& coordinator, registry::Store& store);
  // Looks at `run_id` at the next tick.
  void wake(const std::string& run_id);
  // The AlertList key of an alert of `kind` about `run_id` ("" for none).
  static std::string alert_key(const std::string& kind, const std::string& run_id) {
    return kind + ":" + run_id;
  }
  // True while Neo4j was unreachable at the last look that needed it.
  bool neo4j_down() const { return neo4j_down_since_.has_value(); }

 private:
  struct Due {
    std::chrono::steady_clock::time_point at;
    std::chrono::seconds backoff{0};
  };
  void raise(Pass& pass, const std::string& kind, const std::string& run_id, const std::string& message);
  void check_report(Pass& pass, const run::RunReport& report);
  void check_batches(Pass& pass, registry::Store& store);

  CarrierSettings settings_;
  Clock& clock_;
  std::map<std::string, Due> due_;
  std::set<std::pair<std::string, std::string>> raised_;  // (kind, run_id) already alerted
  std::optional<std::chrono::steady_clock::time_point> neo4j_down_since_;
};

}  // namespace fgraph::service
