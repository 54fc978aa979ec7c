// The run stage's money (issue 20): a new run's tags, the dry run's request listing, and
// `fgraph costs`: what the ledger spent, grouped by a run's tag, lane, model or run. The
// dollars and tokens come from the extract stage (extract::spend_by_run: every attempt,
// retries and the live strike included); the run stage adds its runs' tags.
#include <algorithm>
#include <set>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using nlohmann::json;
using registry::text_of;

// A new run's tags: the settings' defaults under the call's own, checked against what an
// OpenAI batch's metadata can carry.
Result<std::map<std::string, std::string>> new_run_tags(const Settings& settings, const RunOptions& options) {
  std::map<std::string, std::string> tags = settings.tags;
  for (const auto& [k, v] : options.tags) tags[k] = v;
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 64 || k.starts_with("fgraph_")) {
      return make_error(ErrorCode::kInvalidInput,
                        "tag key \"" + k + "\" must be 1..64 characters and not start with fgraph_");
    }
    if (v.size() > 512) return make_error(ErrorCode::kInvalidInput, "tag " + k + ": value longer than 512 characters");
  }
  if (tags.size() > extract::kMaxBatchMetadataTags) {
    return make_error(ErrorCode::kInvalidInput, "at most " + std::to_string(extract::kMaxBatchMetadataTags) +
                                                    " tags per run (they travel as batch metadata)");
  }
  return tags;
}

// The dry run's listing: every (document, chunk) of the plan, and the totals of what would
// be submitted.
void fill_plan(const extract::Plan& plan, const std::vector<ingest::Document>& docs, RunReport& r) {
  std::map<std::string_view, const ingest::Document*> by_id;
  for (const auto& d : docs) by_id.emplace(d.doc_id, &d);
  for (const auto& [q, fate] : plan.lines) {
    RunReport::PlannedRequest p;
    p.doc_id = q.doc_id;
    if (auto d = by_id.find(q.doc_id); d != by_id.end()) {
      p.source = d->second->source;
      p.part = d->second->part;
    }
    p.chunk_index = q.chunk_index;
    p.chunk_count = q.chunk_count;
    p.custom_id = q.custom_id;
    p.fate = fate;
    p.est_input_tokens = q.est_input_tokens;
    p.est_cached_input_tokens = q.est_cached_input_tokens;
    p.est_output_tokens = q.est_output_tokens;
    p.est_cost_usd = q.est_cost_usd;
    r.plan.push_back(std::move(p));
  }
  r.requests_to_submit = plan.requests_to_submit;
  r.est_input_tokens = plan.est_input_tokens;
  r.est_cached_input_tokens = plan.est_cached_input_tokens;
  r.est_output_tokens = plan.est_output_tokens;
}

Result<CostReport> Coordinator::costs(const CostQuery& query) {
  std::string tag;
  if (query.by == "project") {
    tag = "project";
  } else if (query.by.starts_with("tag:") && query.by.size() > 4) {
    tag = query.by.substr(4);
  } else if (query.by != "lane" && query.by != "model" && query.by != "run") {
    return make_error(ErrorCode::kInvalidInput,
                      "unknown grouping \"" + query.by + "\": project, lane, model, run or tag:KEY");
  }
  auto spend = extract::spend_by_run(impl_->store, query.since);
  if (!spend) return spend.error();
  static const std::string kNone = "(none)";
  std::map<std::string, std::string> key_of_run;
  if (!tag.empty()) {
    auto rows = impl_->store.query("SELECT run_id, options_json FROM runs");
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
      auto tags = recorded_tags(json::parse(text_of(row[1]), nullptr, false));
      if (auto t = tags.find(tag); t != tags.end()) key_of_run.emplace(text_of(row[0]), t->second);
    }
  }
  CostReport report;
  report.by = query.by;
  report.since = query.since;
  report.total.key = "total";
  std::map<std::string, CostLine> lines;
  std::map<std::string, std::set<std::string>> runs_of;
  std::set<std::string> all_runs;
  for (const extract::RunSpend& s : *spend) {
    std::string key;
    if (!tag.empty()) {
      auto k = key_of_run.find(s.run_id);
      key = k != key_of_run.end() ? k->second : kNone;
    } else {
      key = query.by == "lane" ? s.lane : query.by == "model" ? s.model : s.run_id;
    }
    for (CostLine* line : {&lines[key], &report.total}) {
      line->attempts += s.attempts;
      line->input_tokens += s.input_tokens;
      line->cached_input_tokens += s.cached_input_tokens;
      line->output_tokens += s.output_tokens;
      line->cost_usd += s.cost_usd;
    }
    runs_of[key].insert(s.run_id);
    all_runs.insert(s.run_id);
  }
  for (auto& [key, line] : lines) {
    line.key = key;
    line.runs = static_cast<std::int64_t>(runs_of[key].size());
    report.lines.push_back(std::move(line));
  }
  report.total.runs = static_cast<std::int64_t>(all_runs.size());
  std::stable_sort(report.lines.begin(), report.lines.end(),
                   [](const CostLine& a, const CostLine& b) { return a.cost_usd > b.cost_usd; });
  return report;
}

}  // namespace fgraph::run
