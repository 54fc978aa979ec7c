// The run stage's reading side for the web console (service/console*.cpp): a run's
// documents a page at a time, a document's accepted facts with the entities they resolved
// to, and an entity's neighbourhood in Neo4j.
#include <algorithm>
#include <set>
#include <tuple>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using registry::int_of;
using registry::text_of;

Result<Coordinator::DocumentList> Coordinator::documents(const std::string& run_id,
                                                         std::int64_t offset, std::int64_t limit) {
  if (auto run = impl_->load_run(run_id); !run) return run.error();
  auto& store = impl_->store;
  DocumentList out;
  auto total = store.query("SELECT count(*) FROM run_documents WHERE run_id = ?", {run_id});
  if (!total) return total.error();
  out.total = int_of((*total)[0][0]);
  // In the order they were recorded, which is the order they were parsed (a page does not
  // join run_inputs as Impl::run_documents does: it has no index by document).
  auto rows = store.query(
      "SELECT doc_id, state, coalesce(error, '') FROM run_documents WHERE run_id = ?"
      " ORDER BY rowid LIMIT ? OFFSET ?",
      {run_id, std::max<std::int64_t>(limit, 0), std::max<std::int64_t>(offset, 0)});
  if (!rows) return rows.error();
  for (const auto& r : *rows) {
    RunDocument d;
    auto meta = registry::get_document_meta(store, text_of(r[0]));
    if (!meta) return meta.error();
    d.document = std::move(*meta);
    d.state = parse_doc_state(text_of(r[1])).value_or(DocState::kParsed);
    d.error = text_of(r[2]);
    auto counts = verify::document_fact_counts(store, run_id, d.document.doc_id);
    if (!counts) return counts.error();
    d.facts = *counts;
    out.documents.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<Coordinator::DocumentFact>> Coordinator::document_facts(
    const std::string& run_id, const std::string& doc_id) {
  auto held = impl_->store.query("SELECT 1 FROM run_documents WHERE run_id = ? AND doc_id = ?",
                                 {run_id, doc_id});
  if (!held) return held.error();
  if (held->empty()) {
    return make_error(ErrorCode::kNotFound, "run " + run_id + " holds no document " + doc_id);
  }
  auto resolved = impl_->resolved_entities(run_id, doc_id);
  if (!resolved) return resolved.error();
  auto facts = verify::recorded_facts(impl_->store, run_id, doc_id);
  if (!facts) return facts.error();
  auto entity_of = [&](const std::string& request, const std::string& local) {
    auto it = resolved->find({request, local});
    return it == resolved->end() ? std::string() : it->second;
  };
  std::map<std::pair<std::string, std::string>, std::string> names;  // (request, local) -> name
  std::vector<DocumentFact> out;
  std::set<std::string> relation_ids;
  for (const auto& [request, e] : facts->entities) {
    names[{request, e.local_id}] = e.name;
    DocumentFact f;
    f.fact_id = "entity:" + request + ":" + std::to_string(e.index);
    f.kind = verify::FactKind::kEntity;
    f.type = e.type;
    f.evidence = e.evidence;
    f.char_start = e.char_start;
    f.char_end = e.char_end;
    f.name = e.name;
    f.entity_id = entity_of(request, e.local_id);
    out.push_back(std::move(f));
  }
  // A relation's end is an entity of its output, or the document's filer (registry name).
  auto name_of = [&](const std::string& request, const std::string& local) -> std::string {
    if (local != verify::kFilerRef) return names[{request, local}];
    auto d = impl_->entities.identity(entity_of(request, local));
    return d ? d->name : std::string();
  };
  for (const auto& [request, v] : facts->relations) {
    DocumentFact f;
    f.kind = verify::FactKind::kRelation;
    f.type = v.type;
    f.evidence = v.evidence;
    f.char_start = v.char_start;
    f.char_end = v.char_end;
    f.name = name_of(request, v.source_local_id);
    f.entity_id = entity_of(request, v.source_local_id);
    f.target_name = name_of(request, v.target_local_id);
    f.target_entity_id = entity_of(request, v.target_local_id);
    // The id staging gives the fact (stage.cpp); the same fact from two chunks is one.
    f.fact_id = graph::make_fact_id(doc_id, f.type, f.entity_id, f.target_entity_id, f.evidence);
    if (!relation_ids.insert(f.fact_id).second) continue;
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.char_start, a.char_end) < std::tie(b.char_start, b.char_end);
  });
  return out;
}

Result<std::vector<std::string>> Coordinator::document_runs(const std::string& doc_id) {
  auto rows = impl_->store.query(
      "SELECT d.run_id FROM run_documents d JOIN runs r ON r.run_id = d.run_id"
      " WHERE d.doc_id = ? ORDER BY r.started_at, r.rowid",
      {doc_id});
  if (!rows) return rows.error();
  std::vector<std::string> out;
  for (const auto& r : *rows) out.push_back(text_of(r[0]));
  return out;
}

Result<graph::GraphClient::Neighbourhood> Coordinator::neighbourhood(const std::string& entity_id,
                                                                     std::size_t max_edges) {
  return impl_->graph().neighbourhood(entity_id, max_edges);
}

}  // namespace fgraph::run
