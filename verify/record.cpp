// The verify stage's SQL: recording verdicts in the tables of migration 0300.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "registry/registry.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

using nlohmann::json;

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string entity_json(const VerifiedEntity& e) {
  return dump({{"id", e.local_id},
               {"name", e.name},
               {"type", e.type},
               {"cik", optional_json(e.cik)},
               {"ticker", optional_json(e.ticker)},
               {"lei", optional_json(e.lei)},
               {"jurisdiction", optional_json(e.jurisdiction)},
               {"is_subject", e.is_subject}});
}

std::string relation_json(const VerifiedRelation& r) {
  return dump({{"source", r.source_local_id},
               {"target", r.target_local_id},
               {"type", r.type},
               {"ownership_percent", r.ownership_percent ? json(*r.ownership_percent)
                                                         : json(nullptr)},
               {"effective_date", optional_json(r.effective_date)},
               {"role", optional_json(r.role)}});
}

}  // namespace

Status record_verdict(registry::Store& store, const RowKey& key, const RowVerdict& verdict,
                      std::string_view verified_at) {
  const std::string at(verified_at);
  return store.transaction([&]() -> Status {
    for (const char* table : {"verified_facts", "dropped_facts", "evidence_leaks"}) {
      auto s = store.execute(std::string("DELETE FROM ") + table +
                                 " WHERE run_id = ?1 AND request_id = ?2",
                             {key.run_id, key.request_id});
      if (!s) return s;
    }
    const std::string insert_verified =
        "INSERT INTO verified_facts (run_id, request_id, doc_id, kind, fact_index, local_id, "
        "type, fact_json, evidence, char_start, char_end, verified_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    for (const auto& e : verdict.entities) {
      auto s = store.execute(insert_verified,
                             {key.run_id, key.request_id, verdict.doc_id, "entity",
                              std::int64_t{e.index}, e.local_id, e.type, entity_json(e),
                              e.evidence, std::int64_t{e.char_start}, std::int64_t{e.char_end},
                              at});
      if (!s) return s;
    }
    for (const auto& r : verdict.relations) {
      auto s = store.execute(insert_verified,
                             {key.run_id, key.request_id, verdict.doc_id, "relation",
                              std::int64_t{r.index}, "", r.type, relation_json(r), r.evidence,
                              std::int64_t{r.char_start}, std::int64_t{r.char_end}, at});
      if (!s) return s;
    }
    for (const auto& d : verdict.dropped) {
      std::string detail = d.detail;
      if (d.reason == DropReason::kSchemaInvalid) {
        detail = "at \"" + verdict.pointer + "\": " + d.detail;
      }
      auto s = store.execute(
          "INSERT INTO dropped_facts (run_id, request_id, doc_id, kind, fact_index, local_id, "
          "reason, detail, raw_json, dropped_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
          "?10)",
          {key.run_id, key.request_id, verdict.doc_id, std::string(to_string(d.kind)),
           std::int64_t{d.index}, d.local_id, std::string(to_string(d.reason)), detail,
           d.raw_json, at});
      if (!s) return s;
    }
    for (const auto& l : verdict.leaks) {
      auto s = store.execute(
          "INSERT INTO evidence_leaks (run_id, request_id, batch_id, kind, fact_index, "
          "own_doc_id, other_doc_id, quote, detected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
          "?8, ?9)",
          {key.run_id, key.request_id, key.batch_id, std::string(to_string(l.kind)),
           std::int64_t{l.index}, l.own_doc_id, l.other_doc_id, l.quote, at});
      if (!s) return s;
    }
    return ok();
  });
}

namespace {

std::optional<std::string> opt_text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Result<DocumentFacts> recorded_facts(registry::Store& store, const std::string& run_id,
                                     const std::string& doc_id) {
  auto rows = store.query(
      "SELECT request_id, kind, fact_index, local_id, type, fact_json, evidence, char_start,"
      " char_end FROM verified_facts WHERE run_id = ? AND doc_id = ?"
      " ORDER BY request_id, kind, fact_index",
      {run_id, doc_id});
  if (!rows) return rows.error();
  DocumentFacts out;
  for (const auto& r : *rows) {
    json fact = json::parse(registry::text_of(r[5]), nullptr, false);
    if (!fact.is_object()) {
      return make_error(ErrorCode::kInternal, "verified_facts: unreadable fact of request " +
                                                  registry::text_of(r[0]));
    }
    const auto index = static_cast<int>(registry::int_of(r[2]));
    const auto start = static_cast<std::uint32_t>(registry::int_of(r[7]));
    const auto end = static_cast<std::uint32_t>(registry::int_of(r[8]));
    if (registry::text_of(r[1]) == "entity") {
      VerifiedEntity e;
      e.index = index;
      e.local_id = registry::text_of(r[3]);
      e.type = registry::text_of(r[4]);
      e.name = fact.value("name", "");
      e.cik = opt_text(fact, "cik");
      e.ticker = opt_text(fact, "ticker");
      e.lei = opt_text(fact, "lei");
      e.jurisdiction = opt_text(fact, "jurisdiction");
      e.is_subject = fact.value("is_subject", false);
      e.evidence = registry::text_of(r[6]);
      e.char_start = start;
      e.char_end = end;
      out.entities.emplace_back(registry::text_of(r[0]), std::move(e));
    } else {
      VerifiedRelation v;
      v.index = index;
      v.type = registry::text_of(r[4]);
      v.source_local_id = fact.value("source", "");
      v.target_local_id = fact.value("target", "");
      if (auto p = fact.find("ownership_percent"); p != fact.end() && p->is_number()) {
        v.ownership_percent = p->get<double>();
      }
      v.effective_date = opt_text(fact, "effective_date");
      v.role = opt_text(fact, "role");
      v.evidence = registry::text_of(r[6]);
      v.char_start = start;
      v.char_end = end;
      out.relations.emplace_back(registry::text_of(r[0]), std::move(v));
    }
  }
  return out;
}

Result<RunVerdicts> run_verdicts(registry::Store& store, const std::string& run_id) {
  RunVerdicts v;
  auto accepted = store.query(
      "SELECT request_id, count(*) FROM verified_facts WHERE run_id = ? GROUP BY request_id", {run_id});
  if (!accepted) return accepted.error();
  for (const auto& r : *accepted) {
    v.accepted_by_request[registry::text_of(r[0])] = registry::int_of(r[1]);
    v.accepted += registry::int_of(r[1]);
  }
  auto dropped = store.query(
      "SELECT reason, count(*) FROM dropped_facts WHERE run_id = ? GROUP BY reason", {run_id});
  if (!dropped) return dropped.error();
  for (const auto& r : *dropped) {
    v.dropped_by_reason[registry::text_of(r[0])] = registry::int_of(r[1]);
    v.dropped += registry::int_of(r[1]);
  }
  auto leaks = store.query(
      "SELECT batch_id, own_doc_id, other_doc_id, quote FROM evidence_leaks WHERE run_id = ?"
      " ORDER BY request_id, kind, fact_index",
      {run_id});
  if (!leaks) return leaks.error();
  for (const auto& r : *leaks) {
    v.leaks.push_back({registry::text_of(r[0]), registry::text_of(r[1]), registry::text_of(r[2]),
                       registry::text_of(r[3])});
  }
  return v;
}

Result<DropPage> recorded_drops(registry::Store& store, const DropQuery& q) {
  std::string where = " WHERE run_id = ?";
  std::vector<registry::SqlValue> params = {q.run_id};
  if (q.doc_id) {
    where += " AND doc_id = ?";
    params.push_back(*q.doc_id);
  }
  if (q.reason) {
    where += " AND reason = ?";
    params.push_back(*q.reason);
  }
  DropPage page;
  auto total = store.query("SELECT count(*) FROM dropped_facts" + where, params);
  if (!total) return total.error();
  page.total = registry::int_of((*total)[0][0]);
  params.push_back(std::max<std::int64_t>(q.limit, 0));
  params.push_back(std::max<std::int64_t>(q.offset, 0));
  auto rows = store.query(
      "SELECT doc_id, request_id, kind, fact_index, local_id, reason, detail, raw_json"
      " FROM dropped_facts" + where + " ORDER BY doc_id, request_id, kind, fact_index LIMIT ? OFFSET ?",
      params);
  if (!rows) return rows.error();
  for (const auto& r : *rows) {
    RecordedDrop d;
    d.doc_id = registry::text_of(r[0]);
    d.request_id = registry::text_of(r[1]);
    const std::string kind = registry::text_of(r[2]);
    d.kind = kind == "output" ? FactKind::kOutput
             : kind == "relation" ? FactKind::kRelation : FactKind::kEntity;
    d.index = static_cast<int>(registry::int_of(r[3]));
    d.local_id = registry::text_of(r[4]);
    d.reason = registry::text_of(r[5]);
    d.detail = registry::text_of(r[6]);
    d.raw_json = registry::text_of(r[7]);
    json fact = json::parse(d.raw_json, nullptr, false);
    if (fact.is_object()) {
      if (auto e = fact.find("evidence"); e != fact.end() && e->is_string()) d.quote = e->get<std::string>();
    }
    page.drops.push_back(std::move(d));
  }
  return page;
}

Result<FactCounts> document_fact_counts(registry::Store& store, const std::string& run_id,
                                        const std::string& doc_id) {
  auto rows = store.query(
      "SELECT (SELECT count(*) FROM verified_facts WHERE doc_id = ?1 AND run_id = ?2),"
      " (SELECT count(*) FROM dropped_facts WHERE doc_id = ?1 AND run_id = ?2)",
      {doc_id, run_id});
  if (!rows) return rows.error();
  return FactCounts{registry::int_of((*rows)[0][0]), registry::int_of((*rows)[0][1])};
}

Result<std::set<std::pair<std::string, std::string>>> accepted_relation_evidence(
    registry::Store& store, const std::string& run_id) {
  auto rows = store.query(
      "SELECT doc_id, evidence FROM verified_facts WHERE run_id = ? AND kind = 'relation'", {run_id});
  if (!rows) return rows.error();
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& r : *rows) out.emplace(registry::text_of(r[0]), registry::text_of(r[1]));
  return out;
}

Result<std::map<std::string, RowTally>> row_tallies(registry::Store& store, const std::string& run_id) {
  std::map<std::string, RowTally> out;
  auto accepted = store.query(
      "SELECT request_id, count(*) FROM verified_facts WHERE run_id = ? GROUP BY request_id", {run_id});
  if (!accepted) return accepted.error();
  for (const auto& r : *accepted) out[registry::text_of(r[0])].accepted = registry::int_of(r[1]);
  auto dropped = store.query(
      "SELECT request_id, kind, reason, count(*) FROM dropped_facts WHERE run_id = ?"
      " GROUP BY request_id, kind, reason",
      {run_id});
  if (!dropped) return dropped.error();
  for (const auto& r : *dropped) {
    RowTally& t = out[registry::text_of(r[0])];
    const std::int64_t n = registry::int_of(r[3]);
    t.dropped_by_reason[registry::text_of(r[2])] += n;
    if (registry::text_of(r[1]) == "output") {
      t.schema_ok = false;
    } else {
      t.dropped += n;
    }
  }
  auto leaks = store.query(
      "SELECT request_id, count(*) FROM evidence_leaks WHERE run_id = ? GROUP BY request_id", {run_id});
  if (!leaks) return leaks.error();
  for (const auto& r : *leaks) out[registry::text_of(r[0])].leak_alarms = registry::int_of(r[1]);
  return out;
}

Result<std::map<std::string, RunTally>> run_tallies(registry::Store& store) {
  std::map<std::string, RunTally> out;
  auto accepted = store.query("SELECT run_id, count(*) FROM verified_facts GROUP BY run_id");
  if (!accepted) return accepted.error();
  for (const auto& r : *accepted) out[registry::text_of(r[0])].accepted = registry::int_of(r[1]);
  auto dropped = store.query(
      "SELECT run_id, count(*) FROM dropped_facts WHERE kind <> 'output' GROUP BY run_id");
  if (!dropped) return dropped.error();
  for (const auto& r : *dropped) out[registry::text_of(r[0])].dropped = registry::int_of(r[1]);
  auto invalid = store.query("SELECT run_id, request_id FROM dropped_facts WHERE kind = 'output'");
  if (!invalid) return invalid.error();
  for (const auto& r : *invalid) out[registry::text_of(r[0])].schema_invalid.insert(registry::text_of(r[1]));
  auto leaks = store.query("SELECT run_id, count(*) FROM evidence_leaks GROUP BY run_id");
  if (!leaks) return leaks.error();
  for (const auto& r : *leaks) out[registry::text_of(r[0])].leak_alarms = registry::int_of(r[1]);
  return out;
}

}  // namespace fgraph::verify
