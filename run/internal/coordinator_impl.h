// The coordinator's state, shared by the run stage's files: coordinator.cpp (a run's
// phases), stage.cpp (staging), undo.cpp (rollback, replay, hand-over, audit) and
// report.cpp (reconciliation, run list, state names).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "graph/graph.h"
#include "ingest/ingest.h"
#include "registry/registry.h"
#include "run/run.h"
#include "verify/verify.h"

namespace fgraph::run {

// One row of `runs`.
struct RunRecord {
  std::string run_id, lane, model, prompt_version, schema_version, drop_path, started_at;
  RunState state = RunState::kStarted;
};

// The run's documents in the order they were parsed, with their state.
using RunDocuments = std::vector<std::pair<ingest::Document, DocState>>;

std::string dump_json(const nlohmann::json& j);
std::string now_utc(Clock& clock);

struct Coordinator::Impl {
  Settings settings;
  registry::Store& store;
  HttpTransport& transport;
  Clock& clock;
  ProgressSink& progress;
  registry::EntityRegistry entities;
  std::unique_ptr<graph::GraphClient> graph_client;

  Impl(Settings s, registry::Store& st, HttpTransport& t, Clock& k, ProgressSink& p)
      : settings(std::move(s)), store(st), transport(t), clock(k), progress(p),
        entities(st, {}, &k) {}

  // ---- the run's own tables (coordinator.cpp)
  Result<RunRecord> load_run(const std::string& run_id);
  // Records the run's phase; `finished` stamps finished_at, otherwise it is cleared.
  Status set_run_state(const std::string& run_id, RunState state, bool finished);
  Status set_doc_state(const std::string& run_id, const std::string& doc_id, DocState state);
  Result<RunDocuments> run_documents(const std::string& run_id);
  // The options a run recorded when it started (runs.options_json), an object.
  Result<nlohmann::json> recorded_options(const std::string& run_id);

  // ---- phases (coordinator.cpp)
  ingest::Options ingest_options(bool include_hidden) const;
  Status ingest_drop(const std::string& run_id, const std::string& drop, bool include_hidden);
  Result<std::optional<double>> run_budget(const std::string& run_id, const RunOptions& options);
  extract::ExtractorOptions extractor_options(const RunRecord& run, bool no_wait) const;
  // The extractor of a verdict's row key ("model" | "rules"), from extract's run_requests
  // (cached per run).
  std::string extractor_of(const std::string& run_id, const std::string& request_id);
  std::map<std::string, std::map<std::string, std::string>> extractors_by_run;
  Status verify_run(const std::string& run_id, const RunDocuments& docs);
  Status resolve_run(const std::string& run_id, const RunDocuments& docs);

  // ---- staging (stage.cpp)
  graph::GraphClient& graph();
  // (request_id, local_id) -> registry entity id of a document's resolved entities; the
  // document's filer (resolved once, keyed by the document id) also answers to
  // (request_id, verify::kFilerRef) of every request, as its relations refer to it.
  Result<std::map<std::pair<std::string, std::string>, std::string>> resolved_entities(
      const std::string& run_id, const std::string& doc_id);
  Result<graph::GraphClient::StageInput> stage_input(const RunRecord& run,
                                                     const ingest::Document& doc);
  // Records one staging outcome: the staged facts and the document's state. `via`: the
  // live run whose edges hold these facts when this run wrote nothing (migration 0502).
  Status record_staged(const std::string& run_id, const graph::GraphClient::StageInput& in,
                       const Result<graph::Counters>& staged, RunReport* report,
                       const std::optional<std::string>& via = std::nullopt);
  Result<std::optional<std::string>> voucher_for(const RunRecord& run,
                                                 const graph::GraphClient::StageInput& in);
  Status stage_run(const RunRecord& run, const RunDocuments& docs, RunReport* report,
                   bool restage = false);

  // ---- undo.cpp
  Status hand_over(const std::string& from, const std::optional<std::string>& doc_id);

  // ---- report.cpp
  Status fill_report(const std::string& run_id, RunReport& r);

  // ---- quality gates (quality.cpp, issue 20)
  // The run's failure policy: this call's, else the one it recorded (a new one is recorded).
  Result<FailurePolicy> failure_policy(const std::string& run_id, const RunOptions& options);
  // The canary gate of a batch run before its bulk is submitted: samples the documents,
  // extracts them through the live lane of the same provider and model, verifies and
  // scores them, records the scores (run_canaries). Returns the scores (nullopt: the run
  // has no canary, or it passed before); `bulk`'s budget is reduced by what it cost.
  Result<std::optional<CanaryScores>> run_canary(const RunRecord& run, const RunDocuments& docs,
                                                 extract::ExtractorOptions& bulk);
  Status fill_quality_gates(const std::string& run_id, RunReport& r);
};

graph::RunInfo run_info(const RunRecord& run);
// The tags a run recorded in runs.options_json (report.cpp).
std::map<std::string, std::string> recorded_tags(const nlohmann::json& options);

// ---- money.cpp (issue 20)
// A new run's tags: Settings::tags under RunOptions::tags, checked (RunOptions::tags says
// how); kInvalidInput otherwise.
Result<std::map<std::string, std::string>> new_run_tags(const Settings& settings, const RunOptions& options);
// Fills a dry run's listing (RunReport::plan) and totals from the extract plan.
void fill_plan(const extract::Plan& plan, const std::vector<ingest::Document>& docs, RunReport& r);
ingest::Document from_record(const registry::DocumentRecord& r);

}  // namespace fgraph::run
