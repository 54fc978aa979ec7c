// The run stage's staging: the Neo4j client, each document's staging input from the
// ledger, the voucher of a document another live run already staged, and the stage phase.
#include <algorithm>
#include <set>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using registry::SqlValue;
using registry::text_of;

graph::GraphClient& Coordinator::Impl::graph() {
  if (!graph_client) {
    // The allow-list comes from the same embedded schema text the requests carry.
    auto schema = graph::parse_graph_schema(extract::bundled_prompt().schema_json,
                                            extract::bundled_prompt().schema_version);
    FGRAPH_CHECK(schema.has_value());
    graph_client = std::make_unique<graph::GraphClient>(settings.neo4j, *schema, transport, clock);
  }
  return *graph_client;
}

Result<std::map<std::pair<std::string, std::string>, std::string>>
Coordinator::Impl::resolved_entities(const std::string& run_id, const std::string& doc_id) {
  auto rows = store.query(
      "SELECT request_id, local_id, entity_id FROM run_entities WHERE run_id = ? AND doc_id = ?",
      {run_id, doc_id});
  if (!rows) return rows.error();
  std::map<std::pair<std::string, std::string>, std::string> mapping;
  for (const auto& r : *rows) mapping[{text_of(r[0]), text_of(r[1])}] = text_of(r[2]);
  const std::string filer_ref(verify::kFilerRef);
  if (auto filer = mapping.find({doc_id, filer_ref}); filer != mapping.end()) {
    const std::string filer_id = filer->second;
    std::set<std::string> requests;
    for (const auto& [key, id] : mapping) requests.insert(key.first);
    for (const auto& request : requests) mapping.emplace(std::make_pair(request, filer_ref), filer_id);
  }
  return mapping;
}

// The staging input of one resolved document, from the ledger: its entities (by registry
// id) and its accepted relations, each fact once.
Result<graph::GraphClient::StageInput> Coordinator::Impl::stage_input(const RunRecord& run,
                                                                      const ingest::Document& doc) {
  auto resolved = resolved_entities(run.run_id, doc.doc_id);
  if (!resolved) return resolved.error();
  const auto& mapping = *resolved;
  std::set<std::string> entity_ids;
  for (const auto& [key, id] : mapping) entity_ids.insert(id);
  graph::GraphClient::StageInput in;
  for (const auto& id : entity_ids) {
    graph::EntityNode n;
    n.entity_id = id;
    if (auto d = entities.identity(id)) {
      n.type = d->type;
      n.name = d->name;
      n.cik = d->cik;
      n.ticker = d->ticker;
      n.lei = d->lei;
      n.jurisdiction = d->jurisdiction;
    }
    in.entities.push_back(std::move(n));
  }
  auto facts = verify::recorded_facts(store, run.run_id, doc.doc_id);
  if (!facts) return facts.error();
  std::set<std::string> fact_ids;
  for (const auto& [request_id, fact] : facts->relations) {
    auto src = mapping.find({request_id, fact.source_local_id});
    auto dst = mapping.find({request_id, fact.target_local_id});
    if (src == mapping.end() || dst == mapping.end()) continue;
    graph::RelationEdge e;
    e.type = fact.type;
    e.source_entity_id = src->second;
    e.target_entity_id = dst->second;
    e.run_id = run.run_id;
    e.doc_id = doc.doc_id;
    e.evidence = fact.evidence;
    e.char_start = fact.char_start;
    e.char_end = fact.char_end;
    e.ownership_percent = fact.ownership_percent;
    e.effective_date = fact.effective_date;
    e.role = fact.role;
    e.extractor = extractor_of(run.run_id, request_id);
    e.fact_id = graph::make_fact_id(doc.doc_id, e.type, e.source_entity_id, e.target_entity_id,
                                    e.evidence);
    if (!fact_ids.insert(e.fact_id).second) continue;  // the same fact from two chunks
    in.relations.push_back(std::move(e));
  }
  in.document.doc_id = doc.doc_id;
  in.document.accession = doc.accession.value_or("");
  in.document.form_type = doc.form_type.value_or("");
  in.document.cik = doc.cik.value_or("");
  in.document.filer = doc.company.value_or("");
  in.document.filed_at = doc.filed_at.value_or("");
  in.document.source = doc.source;
  return in;
}

// Called inside the batch's ledger transaction.
Status Coordinator::Impl::record_staged(const std::string& run_id,
                                        const graph::GraphClient::StageInput& in,
                                        const Result<graph::Counters>& staged, RunReport* report,
                                        const std::optional<std::string>& via) {
  const std::string& doc_id = in.document.doc_id;
  if (!staged) {
    std::string why = staged.error().detail.empty()
                          ? staged.error().message
                          : staged.error().detail + " " + staged.error().message;
    logger("run")->error("run={} doc={} staging failed: {}", run_id, doc_id, why);
    if (report != nullptr) report->stage_errors.push_back(doc_id + ": " + why);
    return store.execute("UPDATE run_documents SET state = ?, error = ? WHERE run_id = ? AND doc_id = ?",
                         {std::string(to_string(DocState::kFailed)), why, run_id, doc_id});
  }
  std::string at = now_utc(clock);
  for (const auto& e : in.relations) {
    if (auto x = store.execute(
            "INSERT OR REPLACE INTO staged_facts(run_id, doc_id, fact_id, rel_type,"
            " source_entity_id, target_entity_id, evidence, char_start, char_end, staged_at)"
            " VALUES(?,?,?,?,?,?,?,?,?,?)",
            {run_id, doc_id, e.fact_id, e.type, e.source_entity_id, e.target_entity_id,
             e.evidence, e.char_start, e.char_end, at});
        !x) {
      return x;
    }
  }
  return store.execute(
      "UPDATE run_documents SET state = ?, error = NULL, staged_at = ?, staged_via = ?"
      " WHERE run_id = ? AND doc_id = ?",
      {std::string(to_string(DocState::kStaged)), at,
       via ? SqlValue(*via) : SqlValue(std::monostate{}), run_id, doc_id});
}

// Invariant 7: a drop fed again changes nothing. A live run of the same model, prompt and
// schema whose own edges hold exactly this document's entities and facts vouches for it:
// this run records the document as staged via that run and writes nothing.
Result<std::optional<std::string>> Coordinator::Impl::voucher_for(
    const RunRecord& run, const graph::GraphClient::StageInput& in) {
  auto candidates = store.query(
      "SELECT h.run_id FROM held_documents h JOIN live_runs r ON r.run_id = h.run_id"
      " WHERE h.doc_id = ?1 AND h.run_id <> ?2"
      " AND r.model = ?3 AND r.prompt_version = ?4 AND r.schema_version = ?5"
      " ORDER BY r.started_at, r.seq",
      {in.document.doc_id, run.run_id, run.model, run.prompt_version, run.schema_version});
  if (!candidates) return candidates.error();
  std::set<std::string> facts, ents;
  for (const auto& e : in.relations) facts.insert(e.fact_id);
  for (const auto& e : in.entities) ents.insert(e.entity_id);
  for (const auto& c : *candidates) {
    const std::string other = text_of(c[0]);
    auto their_facts = store.query(
        "SELECT fact_id FROM staged_facts WHERE run_id = ? AND doc_id = ?", {other, in.document.doc_id});
    auto their_ents = store.query(
        "SELECT DISTINCT entity_id FROM run_entities WHERE run_id = ? AND doc_id = ?",
        {other, in.document.doc_id});
    if (!their_facts) return their_facts.error();
    if (!their_ents) return their_ents.error();
    std::set<std::string> f, e;
    for (const auto& r : *their_facts) f.insert(text_of(r[0]));
    for (const auto& r : *their_ents) e.insert(text_of(r[0]));
    if (f == facts && e == ents) return std::optional<std::string>(other);
  }
  return std::optional<std::string>();
}

// Stages every resolved document of the run that is not staged yet, in batches that
// graph sends as Settings::neo4j_concurrency requests at once of graph's documents per
// request (each document in its own transaction, its outcome reported alone); the
// ledger records each batch's outcomes afterwards, on this thread. A crash between
// the two leaves documents in the graph that the ledger calls unstaged: resuming stages
// them again, which changes nothing (MERGE on ids).
// kUnavailable or kUnauthorized stops after recording the batch (the ledger keeps
// everything; resume stages the rest).
// `restage` (replay): every document not rolled back is staged again, including those
// already staged: as this run's own, or, when another live run vouches for it, as that
// run's edges (so a replay restores the facts and the graph stays as staged first).
Status Coordinator::Impl::stage_run(const RunRecord& run, const RunDocuments& docs,
                                    RunReport* report, bool restage) {
  // The phase starts here, with the connection to Neo4j, not at the first batch staged.
  progress.update("stage", 0, static_cast<long>(docs.size()));
  if (auto s = graph().bootstrap_schema(); !s) return s;
  const graph::RunInfo info = run_info(run);
  const int concurrency = std::max(1, settings.neo4j_concurrency);
  const std::size_t batch_size =
      static_cast<std::size_t>(concurrency) * graph().documents_per_request();
  std::vector<graph::GraphClient::StageInput> batch;
  long done = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return ok();
    auto results = graph().stage_documents(info, batch, concurrency);
    std::optional<Error> unavailable;
    // One ledger transaction for the whole batch: all its outcomes are recorded or none
    // (then resume stages the batch again, which changes nothing in Neo4j).
    Status recorded = store.transaction([&]() -> Status {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        // Neo4j unreachable, or refusing our credentials: not this document's fault.
        if (!results[i] && (results[i].error().code == ErrorCode::kUnavailable ||
                            results[i].error().code == ErrorCode::kUnauthorized)) {
          if (!unavailable) unavailable = results[i].error();
          continue;  // stays 'resolved': the next run or resume stages it
        }
        if (results[i]) crash_point("stage");  // in Neo4j, not yet in the ledger
        if (auto s = record_staged(run.run_id, batch[i], results[i], report); !s) return s;
      }
      return ok();
    });
    if (!recorded) return recorded;
    done += static_cast<long>(batch.size());
    progress.update("stage", done, static_cast<long>(docs.size()));
    batch.clear();
    if (unavailable) return *unavailable;
    return ok();
  };
  for (const auto& [doc, state] : docs) {
    if ((state == DocState::kStaged && !restage) || state == DocState::kRolledBack ||
        state == DocState::kRollingBack) {  // a document rolled back alone: replay revives it first
      ++done;
      continue;
    }
    auto in = stage_input(run, doc);
    if (!in) return in.error();
    auto via = voucher_for(run, *in);
    if (!via) return via.error();
    if (*via) {
      logger("run")->info("run={} doc={} already staged by {}", run.run_id, doc.doc_id, **via);
      if (restage) {
        // A replay restores the facts whoever holds them: the voucher's own edges.
        auto holder = load_run(**via);
        if (!holder) return holder.error();
        auto theirs = stage_input(*holder, doc);
        if (!theirs) return theirs.error();
        auto staged = graph().stage_document(run_info(*holder), theirs->document,
                                             theirs->entities, theirs->relations);
        if (!staged) return staged.error();
      }
      if (auto s = store.transaction([&] {
            return record_staged(run.run_id, *in, graph::Counters{}, report, *via);
          });
          !s) {
        return s;
      }
      ++done;
      continue;
    }
    batch.push_back(std::move(*in));
    if (batch.size() >= batch_size) {
      if (auto s = flush(); !s) return s;
    }
  }
  if (auto s = flush(); !s) return s;
  progress.update("stage", static_cast<long>(docs.size()), static_cast<long>(docs.size()));
  return ok();
}

}  // namespace fgraph::run
