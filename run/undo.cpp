// The run stage's undo side: rollback of a run or a document (with the hand-over of
// documents other runs stage via it), replay, and the audit of Neo4j against the ledger.
#include <future>
#include <set>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using nlohmann::json;
using registry::int_of;
using registry::SqlValue;
using registry::text_of;

// Before `from` leaves the graph (its rollback), every document another live run
// stages via `from` is staged as the earliest such run's own, and the others then go
// via that heir: rolling back runs in any order leaves exactly the facts of the runs
// still live. `doc_id` limits this to one document. Idempotent: a crash halfway leaves
// heirs staged in Neo4j and the ledger unchanged, and the next rollback does it again.
Status Coordinator::Impl::hand_over(const std::string& from, const std::optional<std::string>& doc_id) {
  auto rows = store.query(
      "SELECT rd.doc_id, rd.run_id FROM run_documents rd JOIN live_runs r ON r.run_id = rd.run_id"
      " WHERE rd.staged_via = ?1 AND rd.state = ?3 AND (?2 IS NULL OR rd.doc_id = ?2)"
      " ORDER BY rd.doc_id, r.started_at, r.seq",
      {from, doc_id ? SqlValue(*doc_id) : SqlValue(std::monostate{}),
       std::string(to_string(DocState::kStaged))});
  if (!rows) return rows.error();
  std::map<std::string, std::vector<std::string>> docs_of_heir;  // heir -> documents
  std::string last_doc;
  for (const auto& r : *rows) {
    if (text_of(r[0]) == last_doc) continue;  // the earliest run inherits
    last_doc = text_of(r[0]);
    docs_of_heir[text_of(r[1])].push_back(last_doc);
  }
  for (const auto& [heir_id, doc_ids] : docs_of_heir) {
    auto heir = load_run(heir_id);
    if (!heir) return heir.error();
    const graph::RunInfo info = run_info(*heir);
    std::vector<graph::GraphClient::StageInput> inputs;
    for (const auto& d : doc_ids) {
      auto rec = registry::get_document(store, d);
      if (!rec) return rec.error();
      auto in = stage_input(*heir, from_record(*rec));
      if (!in) return in.error();
      inputs.push_back(std::move(*in));
    }
    auto results = graph().stage_documents(info, inputs, std::max(1, settings.neo4j_concurrency));
    for (const auto& r : results) {
      if (!r) return r.error();  // nothing is rolled back before every heir holds its facts
    }
    if (auto s = store.transaction([&]() -> Status {
          for (std::size_t i = 0; i < inputs.size(); ++i) {
            const std::string& d = inputs[i].document.doc_id;
            if (auto x = record_staged(heir_id, inputs[i], results[i], nullptr); !x) return x;
            if (auto x = store.execute(
                    "UPDATE run_documents SET staged_via = ? WHERE doc_id = ? AND staged_via = ?",
                    {heir_id, d, from});
                !x) {
              return x;
            }
            logger("run")->info("run={} doc={} handed over to run={}", from, d, heir_id);
          }
          return ok();
        });
        !s) {
      return s;
    }
  }
  return ok();
}

// Three stores change in turn (Neo4j, registry, ledger), so the ledger records the
// rollback as begun ('rolling_back') before the first and done ('rolled_back') after the
// last. Each step is idempotent, so `fgraph rollback` on a half-done rollback finishes it
// (and `fgraph replay` finishes it, then stages the run again). Nothing changes before
// Neo4j answers, and documents other live runs staged via this one are handed over first.
Status Coordinator::rollback(const std::string& run_id, const std::optional<std::string>& doc_id) {
  Impl& m = *impl_;
  auto run = m.load_run(run_id);
  if (!run) return run.error();
  auto tolerate_nothing = [](Status s) -> Status {
    return s || s.error().code == ErrorCode::kNotFound ? ok() : s;
  };
  if (doc_id) {
    auto present = m.store.query("SELECT state FROM run_documents WHERE run_id = ? AND doc_id = ?",
                                 {run_id, *doc_id});
    if (!present) return present.error();
    if (present->empty()) {
      return make_error(ErrorCode::kNotFound, "run " + run_id + " has no document " + *doc_id);
    }
  }
  if (auto up = m.graph().connect(); !up) return up.error();
  if (doc_id) {
    if (auto s = m.set_doc_state(run_id, *doc_id, DocState::kRollingBack); !s) return s;
    if (auto s = m.hand_over(run_id, doc_id); !s) return s;
    if (auto s = m.graph().rollback_document(*doc_id, run_id); !s) return s.error();
    crash_point("rollback_graph");
    if (auto s = tolerate_nothing(m.entities.rollback_document(run_id, *doc_id)); !s) return s;
    crash_point("rollback_registry");
    return m.store.transaction([&]() -> Status {
      for (const char* sql : {"DELETE FROM staged_facts WHERE run_id = ? AND doc_id = ?",
                              "DELETE FROM run_entities WHERE run_id = ? AND doc_id = ?",
                              "UPDATE run_documents SET state = 'rolled_back', staged_at = NULL,"
                              " staged_via = NULL WHERE run_id = ? AND doc_id = ?"}) {
        if (auto s = m.store.execute(sql, {run_id, *doc_id}); !s) return s;
      }
      return ok();
    });
  }
  if (auto s = m.set_run_state(run_id, RunState::kRollingBack, false); !s) return s;
  if (auto s = m.hand_over(run_id, std::nullopt); !s) return s;
  if (auto s = m.graph().rollback_run(run_id); !s) return s.error();
  crash_point("rollback_graph");
  if (auto s = tolerate_nothing(m.entities.rollback_run(run_id)); !s) return s;
  crash_point("rollback_registry");
  return m.store.transaction([&]() -> Status {
    for (const char* sql : {"DELETE FROM staged_facts WHERE run_id = ?",
                            "DELETE FROM run_entities WHERE run_id = ?",
                            "UPDATE run_documents SET state = 'rolled_back', staged_at = NULL,"
                            " staged_via = NULL WHERE run_id = ? AND state IN ('staged', 'verified',"
                            " 'failed', 'rolling_back')"}) {
      if (auto s = m.store.execute(sql, {run_id}); !s) return s;
    }
    return m.set_run_state(run_id, RunState::kRolledBack, true);
  });
}

Result<RunReport> Coordinator::replay(const std::string& run_id) {
  Impl& m = *impl_;
  auto run = m.load_run(run_id);
  if (!run) return run.error();
  const RunState state = run->state;
  if (state != RunState::kRolledBack && state != RunState::kRollingBack &&
      state != RunState::kFinished && state != RunState::kVerified && state != RunState::kStaged) {
    return make_error(ErrorCode::kInvalidInput,
                      "run " + run_id + " is " + std::string(to_string(state)) +
                          ": only a verified, finished or rolled-back run can be replayed");
  }
  // A half-done rollback (of the run, or of some of its documents) is finished first,
  // so that the replay starts from a known state: nothing of those documents anywhere.
  if (state == RunState::kRollingBack) {
    if (auto s = rollback(run_id, std::nullopt); !s) return s.error();
  } else {
    auto half = m.store.query(
        "SELECT doc_id FROM run_documents WHERE run_id = ? AND state = 'rolling_back'", {run_id});
    if (!half) return half.error();
    for (const auto& r : *half) {
      if (auto s = rollback(run_id, text_of(r[0])); !s) return s.error();
    }
  }
  if (auto s = m.store.execute(
          "UPDATE run_documents SET state = 'verified' WHERE run_id = ? AND state = 'rolled_back'",
          {run_id});
      !s) {
    return s.error();
  }
  auto docs = m.run_documents(run_id);
  if (!docs) return docs.error();
  RunReport report;
  if (auto s = m.resolve_run(run_id, *docs); !s) return s.error();
  if (auto s = m.stage_run(*run, *docs, &report, /*restage=*/true); !s) return s.error();
  (void)m.set_run_state(run_id, RunState::kFinished, true);
  auto errors = report.stage_errors;
  if (auto s = m.fill_report(run_id, report); !s) return s.error();
  report.stage_errors = errors;
  return report;
}

// What the ledger says the graph holds: for each live run, each document it staged as
// its own (not via another run), the Document, Run and STAGED_BY, every entity it
// resolved with its MENTIONED_IN, and every staged fact with its provenance. Compared
// with Neo4j's inventory both ways, kind by kind.
Result<AuditReport> Coordinator::audit() {
  Impl& m = *impl_;
  AuditReport a;
  // Neo4j answers while the ledger side is read here.
  graph::GraphClient& graph = m.graph();
  auto graph_side = std::async(std::launch::async, [&graph] { return graph.inventory(); });

  graph::GraphInventory expected;
  // The documents live runs staged as their own (view held_documents, migration 0502),
  // and what each holds.
  const std::string own = "held_documents o";
  auto docs = m.store.query("SELECT o.run_id, o.doc_id FROM " + own);
  if (!docs) return docs.error();
  for (const auto& r : *docs) {
    expected.runs.insert(text_of(r[0]));
    expected.documents.insert(text_of(r[1]));
    expected.staged_by.emplace(text_of(r[1]), text_of(r[0]));
  }
  auto mentions = m.store.query("SELECT DISTINCT re.entity_id, re.doc_id, re.run_id FROM " + own +
                                " JOIN run_entities re ON re.run_id = o.run_id AND re.doc_id = o.doc_id");
  if (!mentions) return mentions.error();
  for (const auto& r : *mentions) {
    const std::string id = text_of(r[0]);
    expected.mentions.emplace(id, text_of(r[1]), text_of(r[2]));
    if (!expected.entities.count(id)) {
      auto identity = m.entities.identity(id);
      expected.entities[id] = identity ? graph::entity_label(identity->type) : "?";
    }
  }
  auto facts = m.store.query(
      "SELECT s.fact_id, s.run_id, s.rel_type, s.source_entity_id, s.target_entity_id, s.doc_id,"
      " s.evidence, s.char_start, s.char_end FROM " + own +
      " JOIN staged_facts s ON s.run_id = o.run_id AND s.doc_id = o.doc_id");
  if (!facts) return facts.error();
  for (const auto& r : *facts) {
    expected.facts[{text_of(r[0]), text_of(r[1])}] =
        graph::FactEdge{text_of(r[2]), text_of(r[3]), text_of(r[4]), text_of(r[5]),
                        text_of(r[6]), int_of(r[7]),  int_of(r[8])};
  }
  auto actual = graph_side.get();
  if (!actual) return actual.error();
  a.graph_facts = static_cast<std::int64_t>(actual->facts.size());
  a.ledger_facts = static_cast<std::int64_t>(expected.facts.size());
  graph::InventoryDiff diff = graph::diff_inventories(expected, *actual);

  // The ledger against itself: a document staged via a run that no longer holds it, and
  // a staged fact that verify never accepted.
  auto orphans = m.store.query(
      "SELECT rd.run_id, rd.doc_id, rd.staged_via FROM run_documents rd"
      " JOIN live_runs r ON r.run_id = rd.run_id WHERE rd.state = 'staged'"
      " AND rd.staged_via IS NOT NULL AND NOT EXISTS (SELECT 1 FROM held_documents h"
      "  WHERE h.run_id = rd.staged_via AND h.doc_id = rd.doc_id)");
  if (!orphans) return orphans.error();
  for (const auto& r : *orphans) {
    diff.note("staged_via", "missing",
              "document " + text_of(r[1]) + " of run " + text_of(r[0]) + " is staged via run " +
                  text_of(r[2]) + ", which does not hold it");
  }
  auto unfinished = m.store.query(
      "SELECT run_id, NULL FROM runs WHERE state = 'rolling_back' UNION ALL"
      " SELECT rd.run_id, rd.doc_id FROM run_documents rd JOIN runs r ON r.run_id = rd.run_id"
      " WHERE rd.state = 'rolling_back' AND r.state <> 'rolling_back'");
  if (!unfinished) return unfinished.error();
  for (const auto& r : *unfinished) {
    const bool whole_run = std::holds_alternative<std::monostate>(r[1]);
    diff.note("rolling_back", "unfinished",
              (whole_run ? "run " + text_of(r[0])
                         : "document " + text_of(r[1]) + " of run " + text_of(r[0])) +
                  " (finish it with `fgraph rollback`, or undo it with `fgraph replay`)");
  }
  // Facts staged by live runs that verify never accepted (verify's API, run by run).
  auto staged = m.store.query(
      "SELECT s.fact_id, s.run_id, s.doc_id, s.evidence FROM staged_facts s JOIN live_runs r"
      " ON r.run_id = s.run_id ORDER BY s.run_id");
  if (!staged) return staged.error();
  std::string accepted_run;
  std::set<std::pair<std::string, std::string>> accepted;
  for (const auto& r : *staged) {
    if (text_of(r[1]) != accepted_run) {
      accepted_run = text_of(r[1]);
      auto a_run = verify::accepted_relation_evidence(m.store, accepted_run);
      if (!a_run) return a_run.error();
      accepted = std::move(*a_run);
    }
    if (accepted.count({text_of(r[2]), text_of(r[3])}) > 0) continue;
    diff.note("verified_fact", "missing",
              "fact " + text_of(r[0]) + " (run " + text_of(r[1]) + ", doc " + text_of(r[2]) +
                  ") was staged but never accepted by verify");
  }
  a.counts = std::move(diff.counts);
  a.differences = std::move(diff.lines);
  return a;
}

}  // namespace fgraph::run
