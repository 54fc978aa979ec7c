// The run coordinator: composes the stages into `fgraph run`, `status`, `rollback`,
// `replay` and `audit`.
//
// A run moves every document of a drop through ingest -> plan -> extract -> verify ->
// resolve -> stage, and records each transition in the ledger (runs.state,
// run_documents.state, run_inputs, run_entities, staged_facts; migration 0500). Every
// phase reads what earlier phases recorded and skips what is already done, so the same
// command (or `fgraph run --resume RUN_ID`) finishes a run killed at any point: no
// document is parsed into a second id, no completed row is sent to a model again, no
// entity is created twice (resolution is idempotent per (run, request)), and staging is
// a MERGE on fact ids inside one Neo4j transaction per document.
//
// A document a live run already staged with exactly the same facts is recorded as staged
// `via` that run and written once (invariant 7); rolling that run back first hands the
// document over (migration 0502).
//
// Run states: started -> extracted -> verified -> staged -> finished; a run that could
// not reach Neo4j stays `verified` (resume stages it); `budget_refused` when the budget
// gate refused its submission (nothing was sent; `--resume` refuses it unless given a new
// budget, RunOptions::budget_usd, which it records); `rolling_back` while a rollback
// changes Neo4j, the registry and the ledger in turn, `rolled_back` once all three are done
// (a repeated `fgraph rollback` finishes an interrupted one).
// Document states: parsed -> verified -> staged | failed | rolling_back -> rolled_back.
//
// Threading: one Coordinator per command, used from the main thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/core.h"
#include "registry/registry.h"
#include "tools/config.h"
#include "tools/progress.h"

namespace fgraph::cli {

struct RunOptions {
  std::string drop;                      // folder or files of the drop ("" on resume)
  std::string resume_run_id;             // resume this run instead of starting one
  bool dry_run = false;                  // plan and estimate, send nothing
  bool no_wait = false;                  // return after submission; resume collects
  // --budget-usd of this command. A resume uses it, recorded as the run's new budget;
  // without it, the budget recorded by the run (else the configured one).
  std::optional<double> budget_usd;
  bool include_hidden = false;           // read hidden files and folders of the drop too
};

struct LaneUsage {
  std::string lane, model;
  std::int64_t attempts = 0, input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
};

// The reconciliation printed at the end of every run (and by `status`).
struct RunReport {
  std::string run_id, lane, model, state;
  bool dry_run = false;
  // Documents.
  std::int64_t files_seen = 0;        // inputs of the drop: documents + skipped + failed
  std::int64_t documents_parsed = 0;
  std::int64_t parts_skipped = 0;
  std::map<std::string, std::int64_t> files_failed_by_reason;
  // Requests (from the extract ledger).
  std::int64_t requests_planned = 0, requests_deduplicated = 0, requests_reused = 0;
  std::int64_t requests_submitted = 0, requests_completed = 0, requests_dead_lettered = 0;
  std::int64_t requests_in_flight = 0, attempts = 0, resubmitted = 0;
  std::map<std::string, std::int64_t> failed_by_outcome;
  double est_cost_usd = 0;  // dry run: the estimate
  // Facts.
  std::int64_t facts_accepted = 0, facts_dropped = 0;
  // By extractor ("model" | "rules", issue 18): documents with its requests, accepted facts;
  // documents the cascade kept from the model and what they would have cost on the lane.
  std::map<std::string, std::int64_t> documents_by_extractor, facts_by_extractor;
  std::int64_t documents_model_skipped = 0;
  double saved_usd = 0;
  std::map<std::string, std::int64_t> dropped_by_reason;
  struct LeakAlarm {
    std::string batch_id, own_doc_id, other_doc_id, quote;
  };
  std::vector<LeakAlarm> leak_alarms;
  // Graph.
  std::int64_t documents_staged = 0, documents_stage_failed = 0, relations_staged = 0;
  // Documents rolled back alone (`rollback --doc`), and those whose rollback was
  // interrupted (a repeated `fgraph rollback` finishes it).
  std::int64_t documents_rolled_back = 0, documents_rolling_back = 0;
  std::vector<std::string> stage_errors;  // "doc_id: code message"
  // Money.
  std::vector<LaneUsage> usage;
  double cost_usd = 0;
  double cost_per_staged_document() const {
    return documents_staged > 0 ? cost_usd / static_cast<double>(documents_staged) : 0;
  }
  // submitted == completed + dead_lettered (+ in flight while a run is open).
  bool identity_holds() const {
    return requests_submitted == requests_completed + requests_dead_lettered + requests_in_flight;
  }
  struct DeadLetterRow {
    std::string custom_id, doc_id, outcome, detail;
    int attempts = 0;
  };
  std::vector<DeadLetterRow> dead_letters;
};

// Neo4j against the ledger, everything the graph model holds, both ways. Kinds:
// document, run, entity, staged_by, mentioned_in, fact, foreign (outside the model), and
// the ledger's own staged_via and verified_fact checks, and rolling_back (a rollback
// interrupted, "unfinished"); directions: missing (the ledger has it, Neo4j not), extra
// (Neo4j only), differs (both, other properties).
struct AuditReport {
  std::int64_t graph_facts = 0;   // fact relationships in Neo4j
  std::int64_t ledger_facts = 0;  // facts live runs staged as their own, in the ledger
  std::map<std::string, std::map<std::string, std::int64_t>> counts;  // kind -> direction -> n
  std::vector<std::string> differences;  // readable, one per problem (the first 200)
  bool clean() const { return counts.empty(); }
};

struct RunSummary {
  std::string run_id, lane, model, state, started_at;
  std::optional<std::string> finished_at;
  std::int64_t documents = 0;
};

class Coordinator {
 public:
  Coordinator(const Config& config, registry::Store& store, HttpTransport& transport,
              Clock& clock, Progress& progress);
  ~Coordinator();

  // Runs (or resumes) a run. Errors: kInvalidInput (usage, budget), kUnavailable (Neo4j
  // or a provider unreachable: the ledger keeps everything, resume continues). The report
  // is returned even when some inputs failed; `exit_code` tells 0 or 1.
  Result<RunReport> run(const RunOptions& options);
  // The reconciliation of a run from the ledger; kNotFound for an unknown run.
  Result<RunReport> report(const std::string& run_id);
  Result<std::vector<RunSummary>> runs();
  // Removes the run's (or one document's) contributions from Neo4j and the registry:
  // for one document, its registry mentions, the entities it alone created and the
  // aliases it alone taught in that run (EntityRegistry::rollback_document). kNotFound
  // for an unknown run or document; kUnavailable when Neo4j cannot be reached. A crash
  // halfway leaves the run (or document) `rolling_back`; calling again finishes it.
  Status rollback(const std::string& run_id, const std::optional<std::string>& doc_id);
  // Stages the run again from the ledger, with zero model calls.
  Result<RunReport> replay(const std::string& run_id);
  // Compares everything in Neo4j with what the ledger says live runs staged (AuditReport).
  Result<AuditReport> audit();
  // Runs a Cypher query read-only (graph::GraphClient::run_read_query: Neo4j's READ access
  // mode); rows as JSON text arrays, columns first. A write or an administration command
  // is refused with kInvalidInput, as is any other fault of the query.
  Result<std::vector<std::vector<std::string>>> query(const std::string& cypher);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fgraph::cli
