// The JSON objects that `fgraph ... --json` prints and that `fgraph serve` answers with:
// one writer per object, so the command line and the HTTP API cannot drift apart.
//
// These are the wire format of the two front ends (tools/ and service/), which is why
// they hand nlohmann::json across: both only dump it. No stage below sees them.
// Threading: pure functions.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "registry/registry.h"
#include "run/run.h"

namespace fgraph::cli {

using run::AuditReport;
using run::RunReport;
using run::RunSummary;

// `fgraph status --json`, `run --json`, `replay --json`: a run's reconciliation.
nlohmann::json report_json(const RunReport& report);
// One line of `fgraph runs --json`.
nlohmann::json run_summary_json(const RunSummary& summary);
// `fgraph audit --json`.
nlohmann::json audit_json(const AuditReport& audit);
// `fgraph costs --json`: {"by", "period", "since", "lines": [...], "total"}.
nlohmann::json costs_json(const run::CostReport& costs, const std::string& period);

// One line of `fgraph registry find --json`.
nlohmann::json candidate_json(const registry::Candidate& candidate);
// `fgraph registry show --json`.
nlohmann::json entity_json(const registry::EntityDetails& entity);
// `fgraph registry merge --json`, and each merge of an entity.
nlohmann::json merge_json(const registry::MergeRecord& merge);
// `fgraph registry unmerge --json`: {"merge_id", "state": "undone"}.
nlohmann::json unmerge_json(const std::string& merge_id);
// One line of `fgraph registry history --json`.
nlohmann::json journal_json(const registry::JournalEntry& entry);

// GET /v1/runs/{id}/documents (one line per document) and the web console's lists.
nlohmann::json run_document_json(const run::Coordinator::RunDocument& document);
// One accepted fact of GET /v1/runs/{id}/documents/{doc_id}.
nlohmann::json document_fact_json(const run::Coordinator::DocumentFact& fact);
// One dropped fact of GET /v1/runs/{id}/dropped and of a document.
nlohmann::json drop_json(const verify::RecordedDrop& drop);
// ---- issue 20 (quality gates)
// The canary's scores (inside report_json as "canary").
nlohmann::json canary_json(const run::CanaryScores& canary);
// `fgraph report --tracks RUN_ID --json`: the completion and quality tracks of a run.
nlohmann::json tracks_json(const run::QualityTracks& tracks);
// One line of `fgraph report --json`.
nlohmann::json quality_line_json(const run::QualityLine& line);
// `fgraph drift --json`.
nlohmann::json drift_json(const run::DriftReport& drift);

// Compact JSON text; invalid UTF-8 from a filing is replaced, never an exception.
std::string to_json_text(const nlohmann::json& j);

}  // namespace fgraph::cli
