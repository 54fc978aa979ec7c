// The run stage's reading side: state names, the reconciliation of a run and the list of
// runs.
#include <array>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using nlohmann::json;
using registry::int_of;
using registry::text_of;

namespace {

constexpr std::array<std::pair<RunState, std::string_view>, 11> kRunStates{{
    {RunState::kStarted, "started"},
    {RunState::kSubmitted, "submitted"},
    {RunState::kBudgetRefused, "budget_refused"},
    {RunState::kExtracted, "extracted"},
    {RunState::kVerified, "verified"},
    {RunState::kStaged, "staged"},
    {RunState::kFinished, "finished"},
    {RunState::kRollingBack, "rolling_back"},
    {RunState::kRolledBack, "rolled_back"},
    {RunState::kCanaryFailed, "canary_failed"},
    {RunState::kHalted, "halted"},
}};

constexpr std::array<std::pair<DocState, std::string_view>, 6> kDocStates{{
    {DocState::kParsed, "parsed"},
    {DocState::kVerified, "verified"},
    {DocState::kStaged, "staged"},
    {DocState::kFailed, "failed"},
    {DocState::kRollingBack, "rolling_back"},
    {DocState::kRolledBack, "rolled_back"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E e) {
  for (const auto& [value, name] : names) {
    if (value == e) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& names,
                          std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(RunState state) { return name_of(kRunStates, state); }
std::optional<RunState> parse_run_state(std::string_view text) { return value_of(kRunStates, text); }
std::string_view to_string(DocState state) { return name_of(kDocStates, state); }
std::optional<DocState> parse_doc_state(std::string_view text) { return value_of(kDocStates, text); }

bool is_open(RunState state) {
  switch (state) {
    case RunState::kStarted:
    case RunState::kSubmitted:
    case RunState::kExtracted:
    case RunState::kVerified:
    case RunState::kStaged:
      return true;
    default:
      return false;
  }
}

std::map<std::string, std::string> recorded_tags(const json& options) {
  std::map<std::string, std::string> tags;
  if (options.is_object() && options.contains("tags") && options["tags"].is_object()) {
    for (const auto& [k, v] : options["tags"].items()) {
      if (v.is_string()) tags[k] = v.get<std::string>();
    }
  }
  return tags;
}

Status Coordinator::Impl::fill_report(const std::string& run_id, RunReport& r) {
  auto run = load_run(run_id);
  if (!run) return run.error();
  auto options = recorded_options(run_id);
  if (!options) return options.error();
  r.tags = recorded_tags(*options);
  r.run_id = run_id;
  r.lane = run->lane;
  r.model = run->model;
  r.state = std::string(to_string(run->state));
  auto inputs = store.query(
      "SELECT outcome, coalesce(reason_code, ''), count(*) FROM run_inputs WHERE run_id = ?"
      " GROUP BY outcome, reason_code",
      {run_id});
  if (!inputs) return inputs.error();
  for (const auto& row : *inputs) {
    std::string outcome = text_of(row[0]);
    std::int64_t count = int_of(row[2]);
    r.files_seen += count;
    if (outcome == "document") r.documents_parsed += count;
    if (outcome == "skipped") r.parts_skipped += count;
    if (outcome == "failed") r.files_failed_by_reason[text_of(row[1])] += count;
  }
  auto rec = extract::reconcile(store, run_id);
  if (!rec) return rec.error();
  r.requests_planned = rec->requests;
  r.requests_deduplicated = rec->deduplicated;
  r.requests_reused = rec->reused;
  r.requests_submitted = rec->submitted;
  r.requests_completed = rec->completed;
  r.requests_dead_lettered = rec->dead_lettered;
  r.requests_in_flight = rec->in_flight;
  r.attempts = rec->attempts;
  r.resubmitted = rec->resubmitted;
  r.failed_by_outcome = rec->failed_by_outcome;
  r.cost_usd = rec->cost_usd;
  r.usage.clear();
  for (const auto& u : rec->usage) {
    r.usage.push_back({u.lane, u.model, u.attempts, u.input_tokens, u.output_tokens, u.cost_usd,
                       u.cached_input_tokens});
  }
  auto verdicts = verify::run_verdicts(store, run_id);
  if (!verdicts) return verdicts.error();
  r.facts_accepted = verdicts->accepted;
  r.documents_by_extractor = rec->documents_by_extractor;
  r.documents_model_skipped = rec->documents_model_skipped;
  r.saved_usd = rec->saved_usd;
  r.facts_by_extractor.clear();
  for (const auto& [request_id, n] : verdicts->accepted_by_request) {
    r.facts_by_extractor[extractor_of(run_id, request_id)] += n;
  }
  r.facts_dropped = verdicts->dropped;
  r.dropped_by_reason = verdicts->dropped_by_reason;
  r.leak_alarms = verdicts->leaks;
  auto staged = store.query(
      "SELECT state, count(*) FROM run_documents WHERE run_id = ? GROUP BY state", {run_id});
  if (!staged) return staged.error();
  r.documents_staged = r.documents_stage_failed = 0;
  r.documents_rolled_back = r.documents_rolling_back = 0;
  for (const auto& row : *staged) {
    switch (parse_doc_state(text_of(row[0])).value_or(DocState::kParsed)) {
      case DocState::kStaged: r.documents_staged = int_of(row[1]); break;
      case DocState::kFailed: r.documents_stage_failed = int_of(row[1]); break;
      case DocState::kRolledBack: r.documents_rolled_back = int_of(row[1]); break;
      case DocState::kRollingBack: r.documents_rolling_back = int_of(row[1]); break;
      default: break;
    }
  }
  auto rels = store.query("SELECT count(*) FROM staged_facts WHERE run_id = ?", {run_id});
  if (rels && !rels->empty()) r.relations_staged = int_of((*rels)[0][0]);
  auto dead = extract::dead_letters(store, run_id);
  if (!dead) return dead.error();
  r.dead_letters.clear();
  for (const auto& d : *dead) {
    r.dead_letters.push_back({d.custom_id, d.doc_id, d.outcome, d.detail, d.attempts});
  }
  r.model_swaps = rec->model_swaps;
  return fill_quality_gates(run_id, r);  // issue 20
}

Result<RunReport> Coordinator::report(const std::string& run_id) {
  RunReport r;
  if (auto s = impl_->fill_report(run_id, r); !s) return s.error();
  auto failed = impl_->store.query(
      "SELECT doc_id, coalesce(error, '') FROM run_documents WHERE run_id = ? AND state = ?",
      {run_id, std::string(to_string(DocState::kFailed))});
  if (failed) {
    for (const auto& row : *failed) r.stage_errors.push_back(text_of(row[0]) + ": " + text_of(row[1]));
  }
  return r;
}

Result<std::vector<RunSummary>> Coordinator::runs() {
  auto rows = impl_->store.query(
      "SELECT r.run_id, r.lane, r.model, r.state, r.started_at, r.finished_at,"
      " (SELECT count(*) FROM run_documents d WHERE d.run_id = r.run_id), r.options_json,"
      " coalesce(r.drop_path, '')"
      " FROM runs r ORDER BY r.started_at, r.rowid");
  if (!rows) return rows.error();
  std::vector<RunSummary> out;
  for (const auto& row : *rows) {
    RunSummary s;
    s.run_id = text_of(row[0]);
    s.lane = text_of(row[1]);
    s.model = text_of(row[2]);
    auto state = parse_run_state(text_of(row[3]));
    if (!state) {
      return make_error(ErrorCode::kInternal, "run " + s.run_id + " has an unknown state " + text_of(row[3]));
    }
    s.state = *state;
    s.started_at = text_of(row[4]);
    if (!std::holds_alternative<std::monostate>(row[5])) s.finished_at = text_of(row[5]);
    s.documents = int_of(row[6]);
    s.drop = text_of(row[8]);
    s.tags = recorded_tags(json::parse(text_of(row[7]), nullptr, false));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<Coordinator::Input>> Coordinator::inputs(const std::string& run_id) {
  auto rows = impl_->store.query(
      "SELECT source, part, outcome, coalesce(reason_code, ''), coalesce(message, '')"
      " FROM run_inputs WHERE run_id = ? ORDER BY rowid",
      {run_id});
  if (!rows) return rows.error();
  std::vector<Input> out;
  for (const auto& r : *rows) {
    out.push_back({text_of(r[0]), static_cast<int>(int_of(r[1])), text_of(r[2]), text_of(r[3]),
                   text_of(r[4])});
  }
  return out;
}

}  // namespace fgraph::run
