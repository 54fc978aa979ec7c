// The verify stage's SQL: recording verdicts in the tables of migration 0300.
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

}  // namespace fgraph::verify
