// The extract stage's SQL over registry::Store (tables of migration 0200).
// Threading: as the Store, one thread at a time; callers serialise.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/core.h"
#include "extract/extract.h"
#include "registry/registry.h"

namespace fgraph::extract::internal {

struct RequestRow {
  ExtractionRequest request;
  std::string state;    // planned|submitted|completed|failed|dead
  std::string outcome;  // last attempt's outcome, "" if none
  int attempts = 0;     // the highest attempt number recorded
  int ladder_base = 0;  // attempts made before the current retry ladder (dead letter resent)
};

// A request of a run still to be sent, with the attempt it is about to make.
struct PendingRow {
  ExtractionRequest request;
  int attempt = 1;  // the attempt's number, unique per request for good
  int step = 1;     // its place in the retry ladder (attempt - ladder_base)
  std::string last_outcome;
  std::string last_error;
};

struct RemoteObject {
  std::string key;
  std::string kind = "batch";
  std::string provider;
  std::string lane;
  std::string model;
  std::string run_id;
  std::string local_path;
  std::string file_id;
  std::string remote_id;
  std::string state;
  std::int64_t rows = 0;
  std::string output_file_id;
  std::string error_file_id;
  std::string detail;
};

class Ledger {
 public:
  Ledger(registry::Store& store, Clock& clock) : store_(store), clock_(clock) {}
  registry::Store& store() { return store_; }

  Result<std::optional<RequestRow>> find_request(const std::string& custom_id);
  // Records the requests and the run's (doc, chunk) mapping in one transaction.
  // Existing requests are kept; `reset_dead` puts dead ones back to 'planned' with a new
  // retry ladder (their attempt numbers go on).
  Status record_plan(const std::string& run_id, const std::vector<ExtractionRequest>& unique,
                     const std::vector<ExtractionRequest>& all_chunks,
                     const std::vector<std::string>& reused_ids, bool reset_dead);
  // Requests of the run in state planned|failed (not in an open batch).
  Result<std::vector<PendingRow>> pending(const std::string& run_id);

  // Records the outcome of row attempts in one transaction: attempts rows, request
  // state, results of completed rows. Rows of requests already completed are recorded
  // as attempts but do not change the result (first completion wins). An attempt is one
  // row (unique (custom_id, attempt), migration 0201): an answer to an attempt already
  // recorded adds its tokens and cost to that row (it was paid for) and changes the
  // request only if it completes it. When `close_key` is set, the remote object is marked
  // 'collected' in the same transaction.
  Status record_rows(const std::string& run_id, const std::vector<RowResult>& rows,
                     const std::string& close_key = {});
  Status dead_letter(const std::string& run_id, const PendingRow& row);
  // Records a form-extractor request of the run in one transaction: completed, with its
  // output, extractor 'rules', chunk_index -1 in run_requests; a request completed before
  // (the same document text and rules version) is kept and marked reused. `skipped_usd`,
  // when set, records the document in cascade_skips (the model was not asked).
  Status record_rules(const std::string& run_id, const ExtractionRequest& request,
                      const std::string& output_json, const std::string& form_kind,
                      std::optional<double> skipped_usd);

  // Remote objects.
  // Records a batch and claims its rows in one transaction, before anything is sent: a
  // row is claimed (request -> 'submitted') only if its request still waits for exactly
  // that attempt (planned or failed, `attempt - 1` attempts made); a row another batch
  // or run claimed first is left out. Returns the claimed rows; none claimed: nothing is
  // recorded. Fails when the key exists already.
  Result<std::vector<PendingRow>> create_remote(const RemoteObject& obj,
                                                const std::vector<PendingRow>& rows);
  Status update_remote(const RemoteObject& obj);
  // The open batches of one run on one lane. A lane advances only its own run's
  // batches: another run's are that run's to poll and collect (its own process, or its
  // `run --resume`), or two processes would create and collect one batch twice.
  Result<std::vector<RemoteObject>> open_remotes(const std::string& lane, const std::string& run_id);
  // Requests of `run_id` waiting in open batches of other runs: (that run, rows).
  Result<std::vector<std::pair<std::string, std::int64_t>>> held_by_other_runs(
      const std::string& run_id);
  // custom_id, attempt, doc_id, chunk range of each row of a batch.
  Result<std::vector<PendingRow>> batch_rows(const std::string& key);

 private:
  registry::Store& store_;
  Clock& clock_;
};

}  // namespace fgraph::extract::internal
