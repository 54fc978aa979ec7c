// run: the run stage. Composes the pipeline stages into a run (`fgraph run`, `status`,
// `runs`, `rollback`, `replay`, `audit`, `query`) and owns the run's tables.
//
// A run moves every document of a drop through ingest -> plan -> extract -> verify ->
// resolve -> stage, and records each transition in the ledger. Every phase reads what
// earlier phases recorded and skips what is already done, so the same call (or a resume,
// RunOptions::resume_run_id) finishes a run killed at any point: no document is parsed
// into a second id, no completed row is sent to a model again, no entity is created twice
// (resolution is idempotent per (run, request)), and staging is a MERGE on fact ids inside
// one Neo4j transaction per document.
//
// A document a live run already staged with exactly the same facts is recorded as staged
// `via` that run and written once (invariant 7); rolling that run back first hands the
// document over (migration 0502).
//
// Owns (migrations 0001, 0500, 0502, 0510): runs, run_documents, run_inputs, run_entities,
// staged_facts, run_canaries and the views live_runs and held_documents. It reads the other stages'
// tables only through their typed APIs (extract::reconcile, run_requests, verify::
// recorded_facts, run_verdicts, registry::get_document, EntityRegistry...).
//
// It depends on plain data and our own seams only: Settings (the caller maps its
// configuration onto it), registry::Store, HttpTransport (Neo4j and every provider lane go
// through it), Clock and ProgressSink. Tests drive it with the real Neo4j and the provider
// emulator, and with a fault-injecting transport.
//
// Threading: one Coordinator per thread; it uses its Store from the calling thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "extract/extract.h"
#include "graph/graph.h"
#include "registry/registry.h"
#include "verify/verify.h"

namespace fgraph::run {

// runs.state. started -> submitted (batches open) -> extracted -> verified -> finished;
// a run that could not reach Neo4j stays `verified` (resume stages it); `budget_refused`
// when the budget gate refused its submission (nothing was sent; a resume needs a new
// budget); `rolling_back` while a rollback changes Neo4j, the registry and the ledger in
// turn, `rolled_back` once all three are done (a repeated rollback finishes an interrupted
// one). `staged` is accepted from older ledgers and means what `verified` means.
// Issue 20: `canary_failed` when the canary's scores fell below the thresholds (nothing
// was bulk-submitted); `halted` when on_failure=halt and a row was dead-lettered (nothing
// was verified or staged; `fgraph retry` sends the dead letters again).
enum class RunState {
  kStarted, kSubmitted, kBudgetRefused, kExtracted, kVerified, kStaged, kFinished,
  kRollingBack, kRolledBack, kCanaryFailed, kHalted,
};
std::string_view to_string(RunState state);
std::optional<RunState> parse_run_state(std::string_view text);
// Open: a later call (resume, or the service) has work to do without being asked for it.
bool is_open(RunState state);

// run_documents.state: parsed -> verified -> staged | failed; rolling_back -> rolled_back
// (a document rolled back alone; `replay` revives it).
enum class DocState { kParsed, kVerified, kStaged, kFailed, kRollingBack, kRolledBack };
std::string_view to_string(DocState state);
std::optional<DocState> parse_doc_state(std::string_view text);

// ---- Quality gates (issue 20, run/quality.cpp): what a run does with dead letters, and the
// canary that gates a batch lane's bulk.
// continue: dead letters are reported and the run goes on; halt: the run stops `halted`
// before anything is verified or staged.
enum class FailurePolicy { kContinue, kHalt };
std::string_view to_string(FailurePolicy policy);  // "continue" | "halt"
std::optional<FailurePolicy> parse_failure_policy(std::string_view text);

struct CanaryOptions {
  // Share of the drop's documents sent first through the live lane of the same provider
  // and model (openai-batch and anthropic-batch only); 0 = no canary.
  double fraction = 0;
  int min_documents = 20;          // at least this many documents, or all of a smaller drop
  double min_schema_valid = 0.95;  // answered rows whose output is schema-valid
  double min_grounded = 0.80;      // facts accepted / facts proposed
  int max_leak_alarms = 0;         // cross-document leak alarms
};

// The canary's scores, kept in the ledger (run_canaries) and shown by `status`.
struct CanaryScores {
  std::int64_t documents = 0;      // sampled documents
  std::int64_t rows = 0;           // their requests
  std::int64_t answered = 0;       // rows the model answered (any output)
  std::int64_t schema_valid = 0;   // answered rows whose output is schema-valid
  std::int64_t facts_proposed = 0, facts_accepted = 0, leak_alarms = 0;
  double schema_valid_rate = 0, grounded_rate = 0;
  bool passed = false;
  std::vector<std::string> failures;  // each threshold missed and by how much
  double cost_usd = 0;             // what the canary's live calls cost
  double seconds = 0;              // its wall time
};

// What a run needs from the caller's configuration, as plain data.
struct Settings {
  std::string home;                   // $FGRAPH_HOME: work files; never ingested
  std::string lane = "local";         // default lane of a new run
  std::string model;                  // model of a new run on any lane; "" = the lane's own
  std::map<std::string, std::string> lane_models;  // lane -> its default model
  std::optional<double> budget_usd;   // default budget; none = no gate
  extract::PriceTable prices = extract::PriceTable::bundled();
  int concurrency = 2;                // parallel requests on live lanes
  extract::ProviderConfig providers;
  graph::Neo4jOptions neo4j;
  int neo4j_concurrency = 4;          // staging requests at once (each of many documents,
                                      // each document in its own transaction)
  // The cascade (issue 18): kRulesAndModel reads forms first and sends the model only the
  // documents the form extractor does not cover completely. Default kModel here; the
  // command line's settings default to rules+model.
  extract::ExtractMode extract = extract::ExtractMode::kModel;
  // ---- money (issue 20)
  // Spend caps (budget.daily_usd, budget.monthly_usd): checked before anything is sent
  // against the ledger's spend in the current UTC day / month plus the call's estimate
  // (extract::ExtractorOptions::daily_cap_usd). None = no cap.
  std::optional<double> daily_cap_usd, monthly_cap_usd;
  // Default tags of a new run (settings `tags.KEY`, e.g. project); RunOptions::tags win
  // key by key.
  std::map<std::string, std::string> tags;
  // Issue 20 (quality gates): a new run's failure policy and canary.
  FailurePolicy on_failure = FailurePolicy::kContinue;
  CanaryOptions canary;
};

// Where long work reports its progress (a terminal line, log lines, nothing).
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // `phase` with `done` of `total` units (`total` 0 = unknown) and a detail text.
  virtual void update(const std::string& phase, long done, long total,
                      const std::string& detail = {}) = 0;
};
class NoProgress final : public ProgressSink {
 public:
  void update(const std::string&, long, long, const std::string& = {}) override {}
};

struct RunOptions {
  std::string drop;                      // folder or files of the drop ("" on resume)
  std::string resume_run_id;             // resume this run instead of starting one
  bool dry_run = false;                  // plan and estimate, send nothing
  bool no_wait = false;                  // return after submission (or one poll); resume collects
  // The budget of this call. A resume uses it, recorded as the run's new budget; without
  // it, the budget recorded by the run (else Settings::budget_usd).
  std::optional<double> budget_usd;
  bool include_hidden = false;           // read hidden files and folders of the drop too
  // A new run's lane and model instead of the Settings' ones, and free tags recorded with
  // it (project, owner, ...) over Settings::tags. Ignored on resume. A key is 1..64
  // characters and not `fgraph_*`, a value at most 512, at most
  // extract::kMaxBatchMetadataTags tags (OpenAI batch metadata carries them): else
  // kInvalidInput.
  std::optional<std::string> lane, model;
  std::map<std::string, std::string> tags;
  // Issue 20: this run's failure policy and canary share instead of the Settings' ones
  // (recorded with the run; a resume may change the policy). retry_dead_letters: send
  // the run's dead letters again (`fgraph retry`).
  std::optional<FailurePolicy> on_failure;
  std::optional<double> canary_fraction;
  bool retry_dead_letters = false;
};

struct LaneUsage {
  std::string lane, model;
  std::int64_t attempts = 0, input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
  std::int64_t cached_input_tokens = 0;  // of input_tokens, read from the prompt cache
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
  using LeakAlarm = verify::RunVerdicts::LeakAlarm;
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
  // ---- issue 20 (quality gates)
  std::string on_failure = "continue";
  std::optional<CanaryScores> canary;
  // Attempts the provider answered with another model than the one requested.
  std::vector<extract::Reconciliation::ModelSwap> model_swaps;
  // ---- money (issue 20)
  std::map<std::string, std::string> tags;  // the run's tags
  // Dry run: every (document, chunk) of the plan with what the run would do with it, and
  // the estimate of the requests it would submit (est_cost_usd above).
  struct PlannedRequest {
    std::string doc_id, source;
    int part = 1;  // the document's part of its file (a <DOCUMENT> of a submission), 1 whole
    int chunk_index = 0, chunk_count = 1;
    std::string custom_id;
    std::string fate;  // submit | reused | in_flight | dead | duplicate (extract::PlanLine)
    std::int64_t est_input_tokens = 0, est_cached_input_tokens = 0, est_output_tokens = 0;
    double est_cost_usd = 0;
  };
  std::vector<PlannedRequest> plan;
  std::int64_t requests_to_submit = 0;
  std::int64_t est_input_tokens = 0, est_cached_input_tokens = 0, est_output_tokens = 0;
};

// ---- Completion and quality tracks (issue 20, run/quality.cpp), kept apart: completion
// counts rows by outcome; quality looks at answered and completed rows only.
struct Completion {
  std::int64_t rows = 0, completed = 0, dead_lettered = 0, in_flight = 0;
  double rate() const { return rows > 0 ? static_cast<double>(completed) / rows : 0; }
};
struct Quality {
  std::int64_t answered = 0;      // rows whose first answer came back (any output)
  std::int64_t schema_valid = 0;  // of those, first answer schema-valid (extract and verify)
  std::int64_t completed = 0, documents = 0;
  std::int64_t proposed = 0, accepted = 0;  // facts on completed rows
  std::map<std::string, std::int64_t> dropped_by_reason;
  std::int64_t leak_alarms = 0;
  double schema_valid_rate() const { return answered > 0 ? static_cast<double>(schema_valid) / answered : 0; }
  double grounded_rate() const { return proposed > 0 ? static_cast<double>(accepted) / proposed : 0; }
};
struct Track {
  std::string label;     // "run", a batch id ("live" for live-lane rows), "rows 1-1000"
  Completion completion;
  Quality quality;
  std::string flag;      // why the segment is flagged ("" = not flagged)
};
struct QualityTracks {
  std::string run_id;
  Track run;
  std::vector<Track> batches;   // in order of first submission
  std::vector<Track> segments;  // 1,000 rows each, in submission order
  static constexpr std::int64_t kSegmentRows = 1000;
  static constexpr double kFlagPoints = 5;  // below the first segment by more: flagged
};

// One line of `fgraph report`: the run's rows (completion, first answers) and all of its
// verdicts (grounded rate, leak alarms; reused rows' verdicts included).
struct QualityLine {
  std::string run_id, lane, model, state, started_at;
  double completion_rate = 0, schema_valid_rate = 0, grounded_rate = 0;
  std::int64_t leak_alarms = 0, documents_staged = 0;
  double cost_usd = 0, cost_per_staged_document = 0;
  std::optional<bool> canary_passed;
};

// `fgraph drift`: the same rows answered by the batch lane and by the live lane of the same
// model, verified both and compared pairwise.
struct DriftMeasure {
  std::string name;            // schema_valid, facts_accepted, grounded, fact_overlap, drop:<reason>
  double batch = 0, live = 0;  // the measure on each side (rates in 0..1; facts as counts)
  double gap_points = 0;       // |difference| in percentage points (facts: % of the batch side)
  bool flagged = false;        // gap_points above DriftReport::kFlagPoints
};
struct DriftReport {
  std::string run_id, drift_run_id, lane, live_lane, model;
  std::int64_t sampled = 0, compared = 0;  // rows sampled; rows both sides answered
  std::vector<DriftMeasure> measures;
  std::vector<extract::Reconciliation::ModelSwap> model_swaps;  // of the live answers
  double cost_usd = 0;
  static constexpr double kFlagPoints = 2;
  bool flagged() const {
    for (const auto& m : measures) {
      if (m.flagged) return true;
    }
    return false;
  }
};

// ---- money (issue 20): `fgraph costs`, from the extract ledger's attempts (every attempt,
// retries and the live strike included) and the runs' tags.
struct CostQuery {
  // project (the `project` tag) | lane | model | run | tag:KEY
  std::string by = "project";
  std::string since;  // RFC 3339: attempts recorded at or after it; "" = all time
};
struct CostLine {
  std::string key;  // the group's value; "(none)" for runs without the tag
  std::int64_t runs = 0, attempts = 0, input_tokens = 0, cached_input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
};
struct CostReport {
  std::string by, since;
  std::vector<CostLine> lines;  // by cost, highest first
  CostLine total;               // key "total"
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
  std::string run_id, lane, model;
  std::string drop;  // the drop's path as given ("" for none)
  RunState state = RunState::kStarted;
  std::string started_at;
  std::optional<std::string> finished_at;
  std::int64_t documents = 0;
  std::map<std::string, std::string> tags;
};

class Coordinator {
 public:
  // Everything given must outlive the Coordinator.
  Coordinator(Settings settings, registry::Store& store, HttpTransport& transport, Clock& clock,
              ProgressSink& progress);
  ~Coordinator();

  // Records a new run and ingests its drop (state `started`), and returns its id; nothing
  // is sent anywhere. run() with resume_run_id carries it on. Errors: kInvalidInput (no
  // drop, the replay lane, an unpriced model on a paid lane).
  Result<std::string> start(const RunOptions& options);
  // Starts (or resumes) a run and carries it as far as it goes: to `finished`, or, with
  // no_wait, until its batches are submitted or still open after one look. Errors:
  // kInvalidInput (usage, budget), kUnavailable (Neo4j or a provider unreachable: the
  // ledger keeps everything, resume continues). The report is returned even when some
  // inputs failed.
  Result<RunReport> run(const RunOptions& options);
  // The reconciliation of a run from the ledger; kNotFound for an unknown run.
  Result<RunReport> report(const std::string& run_id);
  Result<std::vector<RunSummary>> runs();
  // What became of each input of the run's drop (run_inputs), in the order they were read.
  struct Input {
    std::string source;       // the file
    int part = 0;             // its part (a document of a submission), 0 for a whole file
    std::string outcome;      // document | skipped | failed
    std::string reason_code;  // why it was skipped or failed ("" for a document)
    std::string message;
  };
  Result<std::vector<Input>> inputs(const std::string& run_id);
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
  // Spend grouped as asked (CostQuery). kInvalidInput for an unknown grouping.
  Result<CostReport> costs(const CostQuery& query);

  // ---- What the web console reads (service/console*.cpp), beside report() and runs()
  // (run/view.cpp).
  struct RunDocument {
    registry::DocumentRecord document;  // its metadata, without the text
    DocState state = DocState::kParsed;
    std::string error;                  // why staging failed ("" otherwise)
    verify::FactCounts facts;
  };
  struct DocumentList {
    std::int64_t total = 0;  // documents of the run, all pages
    std::vector<RunDocument> documents;  // in the order they were parsed
  };
  // One page of the run's documents. kNotFound for an unknown run.
  Result<DocumentList> documents(const std::string& run_id, std::int64_t offset, std::int64_t limit);
  // One accepted fact of a document, with the registry entities it resolved to.
  struct DocumentFact {
    // A relation: its graph fact id (graph::make_fact_id, as staged); an entity:
    // "entity:<request_id>:<position>" (entities have no fact id of their own).
    std::string fact_id;
    verify::FactKind kind = verify::FactKind::kEntity;
    std::string type, evidence;
    std::uint32_t char_start = 0, char_end = 0;  // code points in the document's text
    std::string name;              // an entity's name as written; a relation's source's
    std::string entity_id;         // an entity's registry id; a relation's source's
    std::string target_name, target_entity_id;  // a relation's target ("" for entities)
  };
  // The accepted facts of a document in a run, by offset. kNotFound for a document the
  // run does not hold.
  Result<std::vector<DocumentFact>> document_facts(const std::string& run_id,
                                                   const std::string& doc_id);
  // The runs that hold a document, oldest first (empty for an unknown document).
  Result<std::vector<std::string>> document_runs(const std::string& doc_id);
  // The entity's neighbourhood in Neo4j (graph::GraphClient::neighbourhood).
  Result<graph::GraphClient::Neighbourhood> neighbourhood(const std::string& entity_id,
                                                          std::size_t max_edges);
  // ---- end of the web console's part
  // ---- Quality gates (issue 20, run/quality.cpp)
  // Sends the run's dead-lettered rows again through the retry ladder and carries the run
  // on (a halted run, or a finished one whose documents are then verified and staged
  // again). kInvalidInput when the run has no dead letters or is still open.
  Result<RunReport> retry(const std::string& run_id, const RunOptions& options);
  // The completion and quality tracks of a run, in segments of `segment_rows` rows.
  // kNotFound for an unknown run.
  Result<QualityTracks> tracks(const std::string& run_id,
                               std::int64_t segment_rows = QualityTracks::kSegmentRows);
  // One line per run started at or after `since` (RFC 3339; "" = all), oldest first.
  Result<std::vector<QualityLine>> quality_report(const std::string& since);
  // Sends `sample` completed batch rows of the run (a deterministic choice) through the
  // live lane of the same model, under a new run id of its own (its cost is in the ledger
  // like any run's), and compares both answers. `budget_usd`: the gate of those calls.
  // kInvalidInput when the run has no completed batch rows or the budget refuses.
  Result<DriftReport> drift(const std::string& run_id, int sample,
                            std::optional<double> budget_usd);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fgraph::run
