#include "tools/json_output.h"

namespace fgraph::cli {

using nlohmann::json;

namespace {
json opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
}  // namespace

std::string to_json_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json report_json(const RunReport& r) {
  json usage = json::array();
  for (const auto& u : r.usage) {
    usage.push_back({{"lane", u.lane}, {"model", u.model}, {"attempts", u.attempts},
                     {"input_tokens", u.input_tokens}, {"cached_input_tokens", u.cached_input_tokens},
                     {"output_tokens", u.output_tokens}, {"cost_usd", u.cost_usd}});
  }
  json leaks = json::array();
  for (const auto& l : r.leak_alarms) {
    leaks.push_back({{"batch_id", l.batch_id}, {"doc_id", l.own_doc_id},
                     {"found_in_doc_id", l.other_doc_id}, {"quote", l.quote}});
  }
  json dead = json::array();
  for (const auto& d : r.dead_letters) {
    dead.push_back({{"custom_id", d.custom_id}, {"doc_id", d.doc_id}, {"outcome", d.outcome},
                    {"detail", d.detail}, {"attempts", d.attempts}});
  }
  json j = {
      {"run_id", r.run_id},
      {"lane", r.lane},
      {"model", r.model},
      {"state", r.state},
      {"dry_run", r.dry_run},
      {"documents", {{"seen", r.files_seen}, {"parsed", r.documents_parsed},
                     {"skipped", r.parts_skipped}, {"failed_by_reason", r.files_failed_by_reason}}},
      {"requests", {{"planned", r.requests_planned}, {"deduplicated", r.requests_deduplicated},
                    {"reused", r.requests_reused}, {"submitted", r.requests_submitted},
                    {"completed", r.requests_completed}, {"dead_lettered", r.requests_dead_lettered},
                    {"in_flight", r.requests_in_flight}, {"attempts", r.attempts},
                    {"resubmitted", r.resubmitted}, {"failed_by_outcome", r.failed_by_outcome}}},
      {"facts", {{"accepted", r.facts_accepted}, {"dropped", r.facts_dropped},
                 {"dropped_by_reason", r.dropped_by_reason},
                 {"accepted_by_extractor", r.facts_by_extractor}}},
      {"extractors", {{"documents", r.documents_by_extractor},
                      {"documents_model_skipped", r.documents_model_skipped},
                      {"saved_usd", r.saved_usd}}},
      {"leak_alarms", leaks},
      {"graph", {{"documents_staged", r.documents_staged},
                 {"documents_failed", r.documents_stage_failed},
                 {"relations_staged", r.relations_staged}, {"errors", r.stage_errors},
                 {"documents_rolled_back", r.documents_rolled_back},
                 {"documents_rolling_back", r.documents_rolling_back}}},
      {"usage", usage},
      {"cost_usd", r.cost_usd},
      {"cost_per_staged_document_usd", r.cost_per_staged_document()},
      {"identity_holds", r.identity_holds()},
      {"dead_letters", dead},
      {"tags", r.tags},
  };
  if (r.dry_run) {
    j["estimated_cost_usd"] = r.est_cost_usd;
    json plan = json::array();
    for (const auto& p : r.plan) {
      plan.push_back({{"doc_id", p.doc_id}, {"source", p.source}, {"part", p.part},
                      {"chunk", p.chunk_index}, {"chunks", p.chunk_count}, {"custom_id", p.custom_id},
                      {"fate", p.fate}, {"est_input_tokens", p.est_input_tokens},
                      {"est_cached_input_tokens", p.est_cached_input_tokens},
                      {"est_output_tokens", p.est_output_tokens}, {"est_cost_usd", p.est_cost_usd}});
    }
    j["plan"] = {{"requests", plan},
                 {"totals", {{"requests", r.plan.size()}, {"to_submit", r.requests_to_submit},
                             {"est_input_tokens", r.est_input_tokens},
                             {"est_cached_input_tokens", r.est_cached_input_tokens},
                             {"est_output_tokens", r.est_output_tokens}, {"est_cost_usd", r.est_cost_usd}}}};
  }
  // issue 20 (quality gates)
  j["on_failure"] = r.on_failure;
  j["canary"] = r.canary ? canary_json(*r.canary) : json(nullptr);
  json swaps = json::array();
  for (const auto& s : r.model_swaps) {
    swaps.push_back({{"requested", s.requested}, {"answered", s.answered}, {"attempts", s.attempts}});
  }
  j["model_swaps"] = swaps;
  return j;
}

// ---- issue 20 (quality gates)

json canary_json(const run::CanaryScores& c) {
  return {{"passed", c.passed}, {"failures", c.failures}, {"documents", c.documents},
          {"rows", c.rows}, {"answered", c.answered}, {"schema_valid", c.schema_valid},
          {"schema_valid_rate", c.schema_valid_rate}, {"facts_proposed", c.facts_proposed},
          {"facts_accepted", c.facts_accepted}, {"grounded_rate", c.grounded_rate},
          {"leak_alarms", c.leak_alarms}, {"cost_usd", c.cost_usd}, {"seconds", c.seconds}};
}

namespace {
json track_json(const run::Track& t) {
  const run::Completion& c = t.completion;
  const run::Quality& q = t.quality;
  return {{"label", t.label},
          {"completion", {{"rows", c.rows}, {"completed", c.completed},
                          {"dead_lettered", c.dead_lettered}, {"in_flight", c.in_flight},
                          {"rate", c.rate()}}},
          {"quality", {{"answered", q.answered}, {"schema_valid", q.schema_valid},
                       {"schema_valid_rate", q.schema_valid_rate()}, {"completed", q.completed},
                       {"documents", q.documents}, {"facts_proposed", q.proposed},
                       {"facts_accepted", q.accepted}, {"grounded_rate", q.grounded_rate()},
                       {"dropped_by_reason", q.dropped_by_reason}, {"leak_alarms", q.leak_alarms}}},
          {"flagged", !t.flag.empty()},
          {"flag", t.flag}};
}
}  // namespace

json tracks_json(const run::QualityTracks& t) {
  json batches = json::array(), segments = json::array();
  for (const auto& b : t.batches) batches.push_back(track_json(b));
  for (const auto& s : t.segments) segments.push_back(track_json(s));
  return {{"run_id", t.run_id}, {"run", track_json(t.run)}, {"batches", batches}, {"segments", segments}};
}

json quality_line_json(const run::QualityLine& l) {
  return {{"run_id", l.run_id}, {"lane", l.lane}, {"model", l.model}, {"state", l.state},
          {"started_at", l.started_at}, {"completion_rate", l.completion_rate},
          {"schema_valid_rate", l.schema_valid_rate}, {"grounded_rate", l.grounded_rate},
          {"leak_alarms", l.leak_alarms}, {"documents_staged", l.documents_staged},
          {"cost_usd", l.cost_usd}, {"cost_per_staged_document_usd", l.cost_per_staged_document},
          {"canary_passed", l.canary_passed ? json(*l.canary_passed) : json(nullptr)}};
}

json drift_json(const run::DriftReport& d) {
  json measures = json::array();
  for (const auto& m : d.measures) {
    measures.push_back({{"name", m.name}, {"batch", m.batch}, {"live", m.live},
                        {"gap_points", m.gap_points}, {"flagged", m.flagged}});
  }
  json swaps = json::array();
  for (const auto& s : d.model_swaps) {
    swaps.push_back({{"requested", s.requested}, {"answered", s.answered}, {"attempts", s.attempts}});
  }
  return {{"run_id", d.run_id}, {"drift_run_id", d.drift_run_id}, {"lane", d.lane},
          {"live_lane", d.live_lane}, {"model", d.model}, {"sampled", d.sampled},
          {"compared", d.compared}, {"measures", measures}, {"flagged", d.flagged()},
          {"flag_above_points", run::DriftReport::kFlagPoints}, {"model_swaps", swaps},
          {"cost_usd", d.cost_usd}};
}

json run_summary_json(const RunSummary& r) {
  return {{"run_id", r.run_id},         {"lane", r.lane},
          {"model", r.model},           {"state", run::to_string(r.state)},
          {"started_at", r.started_at}, {"finished_at", opt(r.finished_at)},
          {"documents", r.documents},   {"tags", r.tags}};
}

json costs_json(const run::CostReport& c, const std::string& period) {
  auto line = [](const run::CostLine& l) {
    return json{{"key", l.key}, {"runs", l.runs}, {"attempts", l.attempts},
                {"input_tokens", l.input_tokens}, {"cached_input_tokens", l.cached_input_tokens},
                {"output_tokens", l.output_tokens}, {"cost_usd", l.cost_usd}};
  };
  json lines = json::array();
  for (const auto& l : c.lines) lines.push_back(line(l));
  return {{"by", c.by}, {"period", period}, {"since", c.since.empty() ? json(nullptr) : json(c.since)},
          {"lines", lines}, {"total", line(c.total)}};
}

json audit_json(const AuditReport& a) {
  return {{"graph_facts", a.graph_facts}, {"ledger_facts", a.ledger_facts},
          {"counts", a.counts}, {"differences", a.differences}};
}

json candidate_json(const registry::Candidate& c) {
  return {{"entity_id", c.entity_id}, {"type", c.type},     {"name", c.name},
          {"method", c.method},       {"score", c.score},   {"matched", c.matched}};
}

json merge_json(const registry::MergeRecord& m) {
  return {{"merge_id", m.merge_id},   {"survivor_id", m.survivor_id}, {"merged_id", m.merged_id},
          {"run_id", opt(m.run_id)},  {"state", m.state},             {"merged_at", m.merged_at},
          {"unmerged_at", opt(m.unmerged_at)}};
}

json entity_json(const registry::EntityDetails& d) {
  json aliases = json::array(), mentions = json::array(), merges = json::array();
  for (const auto& a : d.aliases) {
    aliases.push_back({{"alias_id", a.alias_id}, {"raw", a.raw}, {"norm", a.norm},
                       {"method", a.method}, {"doc_id", opt(a.doc_id)},
                       {"run_id", opt(a.run_id)}});
  }
  for (const auto& m : d.mentions) mentions.push_back({{"doc_id", m.doc_id}, {"run_id", m.run_id}});
  for (const auto& m : d.merges) merges.push_back(merge_json(m));
  return {{"entity_id", d.entity_id}, {"type", d.type}, {"name", d.name},
          {"norm_name", d.norm_name}, {"cik", opt(d.cik)}, {"ticker", opt(d.ticker)},
          {"lei", opt(d.lei)}, {"cusip", opt(d.cusip)}, {"jurisdiction", opt(d.jurisdiction)},
          {"authoritative", d.authoritative},
          {"possible_duplicate_of", opt(d.possible_duplicate_of)},
          {"merged_into", opt(d.merged_into)}, {"aliases", aliases},
          {"mentions", mentions}, {"merges", merges}};
}

json unmerge_json(const std::string& merge_id) {
  return {{"merge_id", merge_id}, {"state", "undone"}};
}

json journal_json(const registry::JournalEntry& e) {
  return {{"seq", e.seq},
          {"run_id", opt(e.run_id)},
          {"op", e.op},
          {"entity_id", e.entity_id},
          {"target", opt(e.target)},
          {"before", json::parse(e.before_json, nullptr, false)},
          {"after", json::parse(e.after_json, nullptr, false)},
          {"at", e.at},
          {"undone", e.undone}};
}

json run_document_json(const run::Coordinator::RunDocument& d) {
  const auto& m = d.document;
  return {{"doc_id", m.doc_id},         {"source", m.source},
          {"part", m.part},             {"format", m.format},
          {"form_type", opt(m.form_type)}, {"cik", opt(m.cik)},
          {"company", opt(m.company)},  {"accession", opt(m.accession)},
          {"filed_at", opt(m.filed_at)}, {"state", run::to_string(d.state)},
          {"error", d.error.empty() ? json(nullptr) : json(d.error)},
          {"facts_accepted", d.facts.accepted}, {"facts_dropped", d.facts.dropped}};
}

json document_fact_json(const run::Coordinator::DocumentFact& f) {
  json j = {{"fact_id", f.fact_id},       {"kind", verify::to_string(f.kind)},
            {"type", f.type},             {"evidence", f.evidence},
            {"char_start", f.char_start}, {"char_end", f.char_end},
            {"name", f.name},             {"entity_id", f.entity_id}};
  if (f.kind == verify::FactKind::kRelation) {
    j["target_name"] = f.target_name;
    j["target_entity_id"] = f.target_entity_id;
  }
  return j;
}

json drop_json(const verify::RecordedDrop& d) {
  return {{"doc_id", d.doc_id},     {"request_id", d.request_id},
          {"kind", verify::to_string(d.kind)}, {"index", d.index},
          {"local_id", d.local_id}, {"reason", d.reason},
          {"detail", d.detail},     {"quote", d.quote}};
}

}  // namespace fgraph::cli
