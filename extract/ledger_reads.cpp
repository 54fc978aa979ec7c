// The extract ledger as other stages read it: the reconciliation of a run, what was spent
// (by run, by day, since a time), dead letters, stored results, a run's requests and rows,
// open batches. Read-only; split from extractor.cpp, which writes the ledger.
#include <map>
#include <string>
#include <string_view>

#include "extract/internal/lane.h"

namespace fgraph::extract {

using registry::SqlValue;

namespace {

using registry::int_of;
using registry::text_of;

double double_of(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return 0;
}

}  // namespace

Result<Reconciliation> reconcile(registry::Store& store, const std::string& run_id) {
  Reconciliation rec;
  rec.run_id = run_id;
  auto one = [&](const std::string& sql, std::vector<SqlValue> params) -> Result<std::vector<std::vector<SqlValue>>> {
    return store.query(sql, params);
  };
  auto counts = one(
      "SELECT COUNT(DISTINCT custom_id), COUNT(DISTINCT CASE WHEN reused=1 THEN custom_id END), "
      "COUNT(*) FROM run_requests WHERE run_id=? AND chunk_index >= 0",
      {run_id});
  if (!counts) return counts.error();
  rec.requests = int_of((*counts)[0][0]);
  rec.reused = int_of((*counts)[0][1]);
  rec.deduplicated = int_of((*counts)[0][2]) - rec.requests;
  auto sub = one(
      "WITH s AS (SELECT custom_id FROM attempts WHERE run_id=?1 UNION SELECT b.custom_id FROM "
      "batch_rows b JOIN remote_objects o ON o.obj_key=b.obj_key WHERE o.run_id=?1) "
      "SELECT COUNT(*), SUM(r.state='completed'), SUM(r.state='dead') FROM s JOIN requests r ON "
      "r.custom_id=s.custom_id",
      {run_id});
  if (!sub) return sub.error();
  rec.submitted = int_of((*sub)[0][0]);
  rec.completed = int_of((*sub)[0][1]);
  rec.dead_lettered = int_of((*sub)[0][2]);
  rec.in_flight = rec.submitted - rec.completed - rec.dead_lettered;
  auto att = one(
      "SELECT COUNT(*), SUM(attempt>1), SUM(outcome!='completed') FROM attempts WHERE run_id=?", {run_id});
  if (!att) return att.error();
  rec.attempts = int_of((*att)[0][0]);
  rec.resubmitted = int_of((*att)[0][1]);
  rec.failed_attempts = int_of((*att)[0][2]);
  auto failed = one("SELECT outcome, COUNT(*) FROM attempts WHERE run_id=? AND outcome!='completed' GROUP BY outcome",
                    {run_id});
  if (!failed) return failed.error();
  for (const auto& row : *failed) rec.failed_by_outcome[text_of(row[0])] = int_of(row[1]);
  auto dead = one("SELECT outcome, COUNT(*) FROM dead_letters WHERE run_id=? GROUP BY outcome", {run_id});
  if (!dead) return dead.error();
  for (const auto& row : *dead) rec.dead_by_outcome[text_of(row[0])] = int_of(row[1]);
  auto usage = one(
      "SELECT lane, model, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), "
      "SUM(cost_usd) FROM attempts WHERE run_id=? GROUP BY lane, model ORDER BY lane, model",
      {run_id});
  if (!usage) return usage.error();
  for (const auto& row : *usage) {
    LaneModelUsage u{text_of(row[0]), text_of(row[1]), int_of(row[2]), int_of(row[3]), int_of(row[4]),
                     int_of(row[5]), double_of(row[6])};
    rec.cost_usd += u.cost_usd;
    rec.usage.push_back(std::move(u));
  }
  auto swaps = one(
      "SELECT model, answered_model, COUNT(*) FROM attempts WHERE run_id=? AND answered_model IS NOT NULL "
      "AND answered_model<>model GROUP BY model, answered_model ORDER BY model, answered_model",
      {run_id});
  if (!swaps) return swaps.error();
  for (const auto& row : *swaps) rec.model_swaps.push_back({text_of(row[0]), text_of(row[1]), int_of(row[2])});
  auto by = one(
      "SELECT r.extractor, COUNT(DISTINCT m.doc_id) FROM run_requests m JOIN requests r "
      "ON r.custom_id = m.custom_id WHERE m.run_id=? GROUP BY r.extractor",
      {run_id});
  if (!by) return by.error();
  for (const auto& row : *by) rec.documents_by_extractor[text_of(row[0])] = int_of(row[1]);
  auto skips = one("SELECT COUNT(*), COALESCE(SUM(est_cost_usd), 0) FROM cascade_skips WHERE run_id=?",
                   {run_id});
  if (!skips) return skips.error();
  rec.documents_model_skipped = int_of((*skips)[0][0]);
  rec.saved_usd = double_of((*skips)[0][1]);
  return rec;
}

Result<std::vector<RunSpend>> spend_by_run(registry::Store& store, std::string_view since) {
  auto rows = store.query(
      "SELECT run_id, lane, model, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(output_tokens), "
      "SUM(cost_usd) FROM attempts WHERE created_at >= ? GROUP BY run_id, lane, model ORDER BY run_id, lane, model",
      {std::string(since)});
  if (!rows) return rows.error();
  std::vector<RunSpend> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    out.push_back(RunSpend{text_of(row[0]), text_of(row[1]), text_of(row[2]), int_of(row[3]), int_of(row[4]),
                           int_of(row[5]), int_of(row[6]), double_of(row[7])});
  }
  return out;
}

Result<SpendTotal> spent_since(registry::Store& store, std::string_view since) {
  // Rows of open batches have no attempt yet: their estimate stands for what they will cost.
  auto rows = store.query(
      "SELECT (SELECT COALESCE(SUM(cost_usd), 0.0) FROM attempts WHERE created_at >= ?1), "
      "(SELECT COALESCE(SUM(r.est_cost_usd), 0.0) FROM remote_objects o JOIN batch_rows b ON b.obj_key=o.obj_key "
      " JOIN requests r ON r.custom_id=b.custom_id WHERE o.kind='batch' AND o.state NOT IN ('collected','abandoned') "
      " AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.custom_id=b.custom_id AND a.attempt=b.attempt))",
      {std::string(since)});
  if (!rows) return rows.error();
  return SpendTotal{double_of((*rows)[0][0]), double_of((*rows)[0][1])};
}

Result<std::vector<DeadLetter>> dead_letters(registry::Store& store, const std::string& run_id) {
  auto rows = store.query(
      "SELECT d.custom_id, r.doc_id, d.outcome, COALESCE(d.detail,''), d.attempts FROM dead_letters d "
      "JOIN requests r ON r.custom_id=d.custom_id WHERE ?1='' OR d.run_id=?1 ORDER BY d.custom_id",
      {run_id});
  if (!rows) return rows.error();
  std::vector<DeadLetter> out;
  for (const auto& row : *rows) {
    out.push_back(DeadLetter{text_of(row[0]), text_of(row[1]), text_of(row[2]), text_of(row[3]),
                             static_cast<int>(int_of(row[4]))});
  }
  return out;
}

Result<std::string> stored_result(registry::Store& store, std::string_view custom_id) {
  auto rows = store.query("SELECT content FROM results WHERE custom_id=?", {std::string(custom_id)});
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorCode::kNotFound, "no result for " + std::string(custom_id));
  return text_of((*rows)[0][0]);
}

Result<std::vector<RunRequest>> run_requests(registry::Store& store, const std::string& run_id) {
  auto rows = store.query(
      "SELECT m.custom_id, m.doc_id, m.chunk_index, m.char_start, m.char_end, r.state, "
      " (SELECT COALESCE(o.remote_id, '') FROM attempts a JOIN remote_objects o ON o.obj_key=a.obj_key "
      "  WHERE a.custom_id=m.custom_id AND a.outcome='completed' ORDER BY a.attempt_id DESC LIMIT 1), "
      " r.extractor "
      "FROM run_requests m JOIN requests r ON r.custom_id=m.custom_id WHERE m.run_id=? "
      "ORDER BY m.doc_id, m.chunk_index",
      {run_id});
  if (!rows) return rows.error();
  std::vector<RunRequest> out;
  for (const auto& row : *rows) {
    out.push_back(RunRequest{text_of(row[0]), text_of(row[1]), static_cast<int>(int_of(row[2])),
                             int_of(row[3]), int_of(row[4]), text_of(row[5]), text_of(row[6]),
                             text_of(row[7])});
  }
  return out;
}

Result<std::vector<OpenBatch>> open_batches(registry::Store& store) {
  auto rows = store.query(
      "SELECT run_id, lane, model, COALESCE(remote_id,''), state, created_at, rows FROM remote_objects "
      "WHERE kind='batch' AND state NOT IN ('collected','abandoned') ORDER BY created_at, obj_key");
  if (!rows) return rows.error();
  std::vector<OpenBatch> out;
  for (const auto& row : *rows) {
    out.push_back(OpenBatch{text_of(row[0]), text_of(row[1]), text_of(row[2]), text_of(row[3]),
                            text_of(row[4]), text_of(row[5]), int_of(row[6])});
  }
  return out;
}

// ---- Issue 20 (quality tracks, drift audit)

namespace {

// The rows of the runs whose attempts and batches match `where` (`run_id = ?1` or
// `created_at >= ?1`), by run, each in submission order: its first attempt in the run, and
// the first batch of the run that carried it. Two plain scans merged here: correlated
// subqueries per row made `fgraph report` over a long ledger slow.
Result<std::map<std::string, RunRows>> rows_where(registry::Store& store, const std::string& where,
                                                  const std::string& param) {
  struct Row {
    SubmittedRow row;
    std::int64_t order = 0;
    bool answered_seen = false;
  };
  std::map<std::string, std::unordered_map<std::string, Row>> by_run;
  auto attempts = store.query(
      "SELECT a.run_id, a.custom_id, a.attempt_id, a.outcome, a.cost_usd, r.doc_id, r.state FROM attempts a "
      "JOIN requests r ON r.custom_id = a.custom_id WHERE a." + where + " ORDER BY a.attempt_id",
      {param});
  if (!attempts) return attempts.error();
  std::map<std::string, RunRows> out;
  for (const auto& a : *attempts) {
    const std::string run_id = text_of(a[0]);
    out[run_id].cost_usd += double_of(a[4]);
    auto [it, first] = by_run[run_id].try_emplace(text_of(a[1]));
    Row& r = it->second;
    if (first) {
      r.row.custom_id = it->first;
      r.row.doc_id = text_of(a[5]);
      r.row.state = text_of(a[6]);
      r.order = int_of(a[2]);
    }
    const std::string outcome = text_of(a[3]);
    if (!r.answered_seen && (outcome == "completed" || outcome == "schema_invalid" || outcome == "truncated" ||
                             outcome == "refused")) {
      r.row.first_answer = outcome;
      r.answered_seen = true;
    }
  }
  // Rows still in an open batch have no attempt yet: they come last, in batch order.
  auto batches = store.query(
      "SELECT o.run_id, b.custom_id, b.rowid, COALESCE(o.remote_id, o.obj_key), r.doc_id, r.state "
      "FROM remote_objects o JOIN batch_rows b ON b.obj_key = o.obj_key JOIN requests r ON r.custom_id = b.custom_id "
      "WHERE o." + where + " ORDER BY b.rowid",
      {param});
  if (!batches) return batches.error();
  for (const auto& b : *batches) {
    auto [it, first] = by_run[text_of(b[0])].try_emplace(text_of(b[1]));
    Row& r = it->second;
    if (first) {
      r.row.custom_id = it->first;
      r.row.doc_id = text_of(b[4]);
      r.row.state = text_of(b[5]);
      r.order = 1000000000000 + int_of(b[2]);
    }
    if (r.row.batch_id.empty()) r.row.batch_id = text_of(b[3]);
  }
  for (auto& [run_id, rows] : by_run) {
    std::vector<Row*> ordered;
    ordered.reserve(rows.size());
    for (auto& [id, r] : rows) ordered.push_back(&r);
    std::sort(ordered.begin(), ordered.end(), [](const Row* x, const Row* y) { return x->order < y->order; });
    auto& into = out[run_id].rows;
    into.reserve(ordered.size());
    for (Row* r : ordered) into.push_back(std::move(r->row));
  }
  return out;
}

}  // namespace

Result<std::vector<SubmittedRow>> submitted_rows(registry::Store& store, const std::string& run_id) {
  auto by_run = rows_where(store, "run_id = ?1", run_id);
  if (!by_run) return by_run.error();
  auto it = by_run->find(run_id);
  return it == by_run->end() ? std::vector<SubmittedRow>() : std::move(it->second.rows);
}

Result<std::map<std::string, RunRows>> submitted_rows_since(registry::Store& store,
                                                            const std::string& since) {
  return rows_where(store, "created_at >= ?1", since);
}

Result<std::vector<DailyCost>> daily_costs(registry::Store& store, const std::string& since) {
  auto rows = store.query(
      "SELECT substr(created_at, 1, 10) AS day, lane, model, count(*), total(cost_usd)"
      " FROM attempts WHERE created_at >= ? GROUP BY day, lane, model ORDER BY day, lane, model",
      {since});
  if (!rows) return rows.error();
  std::vector<DailyCost> out;
  for (const auto& row : *rows) {
    out.push_back(DailyCost{text_of(row[0]), text_of(row[1]), text_of(row[2]), int_of(row[3]),
                            std::get<double>(row[4])});
  }
  return out;
}

}  // namespace fgraph::extract
