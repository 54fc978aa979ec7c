// The extract stage's ledger queries.
#include <unordered_set>

#include "extract/internal/ledger.h"

namespace fgraph::extract::internal {

using registry::SqlValue;
using registry::Statement;

namespace {

std::string text_of(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return {};
}
std::int64_t int_of(const SqlValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  return 0;
}
SqlValue opt_text(const std::string& s) {
  if (s.empty()) return std::monostate{};
  return s;
}

constexpr const char* kRequestColumns =
    "r.custom_id, r.doc_id, r.chunk_index, r.chunk_count, r.char_start, r.char_end, r.model, "
    "r.prompt_version, r.schema_version, r.est_input_tokens, r.est_output_tokens, "
    "r.est_cost_usd, r.state, COALESCE(r.outcome,''), r.attempts";

RequestRow request_from(const std::vector<SqlValue>& row) {
  RequestRow out;
  ExtractionRequest& r = out.request;
  r.custom_id = text_of(row[0]);
  r.doc_id = text_of(row[1]);
  r.chunk_index = static_cast<int>(int_of(row[2]));
  r.chunk_count = static_cast<int>(int_of(row[3]));
  r.char_start = int_of(row[4]);
  r.char_end = int_of(row[5]);
  r.model = text_of(row[6]);
  r.prompt_version = text_of(row[7]);
  r.schema_version = text_of(row[8]);
  r.est_input_tokens = int_of(row[9]);
  r.est_output_tokens = int_of(row[10]);
  if (const auto* d = std::get_if<double>(&row[11])) r.est_cost_usd = *d;
  out.state = text_of(row[12]);
  out.outcome = text_of(row[13]);
  out.attempts = static_cast<int>(int_of(row[14]));
  return out;
}

}  // namespace

Result<std::optional<RequestRow>> Ledger::find_request(const std::string& custom_id) {
  auto st = store_.cached(std::string("SELECT ") + kRequestColumns +
                          " FROM requests r WHERE r.custom_id = ?");
  if (!st) return st.error();
  Statement& q = **st;
  q.reset();
  q.bind(1, custom_id);
  auto has = q.step();
  if (!has) return has.error();
  if (!*has) return std::optional<RequestRow>{};
  std::vector<SqlValue> row;
  for (int i = 0; i < q.column_count(); ++i) row.push_back(q.column_value(i));
  q.reset();
  return std::optional<RequestRow>(request_from(row));
}

Status Ledger::record_plan(const std::string& run_id, const std::vector<ExtractionRequest>& unique,
                           const std::vector<ExtractionRequest>& all_chunks,
                           const std::vector<std::string>& reused_ids, bool reset_dead) {
  const std::string now = format_utc(clock_.now());
  std::unordered_set<std::string> reused(reused_ids.begin(), reused_ids.end());
  return store_.transaction([&]() -> Status {
    auto ins = store_.cached(
        "INSERT OR IGNORE INTO requests (custom_id, doc_id, run_id, chunk_index, chunk_count, "
        "char_start, char_end, model, prompt_version, schema_version, est_input_tokens, "
        "est_output_tokens, est_cost_usd, state, attempts, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, 'planned', 0, ?, ?)");
    if (!ins) return ins.error();
    for (const ExtractionRequest& r : unique) {
      Statement& st = **ins;
      st.reset();
      st.bind(1, r.custom_id).bind(2, r.doc_id).bind(3, run_id)
          .bind(4, std::int64_t{r.chunk_index}).bind(5, std::int64_t{r.chunk_count})
          .bind(6, r.char_start).bind(7, r.char_end).bind(8, r.model)
          .bind(9, r.prompt_version).bind(10, r.schema_version)
          .bind(11, r.est_input_tokens).bind(12, r.est_output_tokens)
          .bind(13, SqlValue(r.est_cost_usd)).bind(14, now).bind(15, now);
      if (auto s = st.run(); !s) return s;
    }
    if (reset_dead) {
      for (const ExtractionRequest& r : unique) {
        if (auto s = store_.execute(
                "UPDATE requests SET state='planned', attempts=0, updated_at=? "
                "WHERE custom_id=? AND state='dead'",
                {now, r.custom_id});
            !s) {
          return s;
        }
        if (store_.changes() > 0) {
          if (auto s = store_.execute("DELETE FROM dead_letters WHERE custom_id=?", {r.custom_id}); !s) {
            return s;
          }
        }
      }
    }
    auto map = store_.cached(
        "INSERT OR IGNORE INTO run_requests (run_id, doc_id, chunk_index, custom_id, char_start, "
        "char_end, reused) VALUES (?,?,?,?,?,?,?)");
    if (!map) return map.error();
    for (const ExtractionRequest& r : all_chunks) {
      Statement& st = **map;
      st.reset();
      st.bind(1, run_id).bind(2, r.doc_id).bind(3, std::int64_t{r.chunk_index})
          .bind(4, r.custom_id).bind(5, r.char_start).bind(6, r.char_end)
          .bind(7, std::int64_t{reused.count(r.custom_id) ? 1 : 0});
      if (auto s = st.run(); !s) return s;
    }
    return ok();
  });
}

Result<std::vector<PendingRow>> Ledger::pending(const std::string& run_id) {
  auto rows = store_.query(
      std::string("SELECT ") + kRequestColumns +
          ", COALESCE((SELECT error FROM attempts a WHERE a.custom_id = r.custom_id "
          "ORDER BY attempt_id DESC LIMIT 1), '') "
          "FROM requests r WHERE r.state IN ('planned','failed') AND r.custom_id IN "
          "(SELECT custom_id FROM run_requests WHERE run_id = ?) ORDER BY r.custom_id",
      {run_id});
  if (!rows) return rows.error();
  std::vector<PendingRow> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    RequestRow rr = request_from(row);
    PendingRow p;
    p.request = std::move(rr.request);
    p.attempt = rr.attempts + 1;
    p.last_outcome = rr.outcome;
    p.last_error = text_of(row[15]);
    out.push_back(std::move(p));
  }
  return out;
}

Status Ledger::record_rows(const std::string& run_id, const std::vector<RowResult>& rows,
                           const std::string& close_key) {
  const std::string now = format_utc(clock_.now());
  return store_.transaction([&]() -> Status {
    auto att = store_.cached(
        "INSERT INTO attempts (custom_id, attempt, run_id, lane, model, obj_key, outcome, "
        "input_tokens, output_tokens, cost_usd, error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!att) return att.error();
    auto upd = store_.cached(
        "UPDATE requests SET state = CASE WHEN state IN ('completed') THEN state ELSE ? END, "
        "outcome = ?, attempts = MAX(attempts, ?), updated_at = ? WHERE custom_id = ?");
    if (!upd) return upd.error();
    auto res = store_.cached(
        "INSERT OR IGNORE INTO results (custom_id, content, lane, model, run_id, completed_at) "
        "VALUES (?,?,?,?,?,?)");
    if (!res) return res.error();
    for (const RowResult& r : rows) {
      const bool done = r.outcome == Outcome::kCompleted;
      Statement& a = **att;
      a.reset();
      a.bind(1, r.custom_id).bind(2, std::int64_t{r.attempt}).bind(3, run_id).bind(4, r.lane)
          .bind(5, r.model).bind(6, opt_text(r.batch_key)).bind(7, std::string(to_string(r.outcome)))
          .bind(8, r.usage.input_tokens).bind(9, r.usage.output_tokens)
          .bind(10, SqlValue(r.cost_usd)).bind(11, opt_text(r.error_detail)).bind(12, now);
      if (auto s = a.run(); !s) return s;
      Statement& u = **upd;
      u.reset();
      u.bind(1, done ? "completed" : "failed").bind(2, std::string(to_string(r.outcome)))
          .bind(3, std::int64_t{r.attempt}).bind(4, now).bind(5, r.custom_id);
      if (auto s = u.run(); !s) return s;
      if (done) {
        Statement& w = **res;
        w.reset();
        w.bind(1, r.custom_id).bind(2, r.content).bind(3, r.lane).bind(4, r.model).bind(5, run_id).bind(6, now);
        if (auto s = w.run(); !s) return s;
      }
    }
    if (!close_key.empty()) {
      if (auto s = store_.execute(
              "UPDATE remote_objects SET state='collected', updated_at=? WHERE obj_key=?",
              {now, close_key});
          !s) {
        return s;
      }
    }
    return ok();
  });
}

Status Ledger::dead_letter(const std::string& run_id, const PendingRow& row) {
  const std::string now = format_utc(clock_.now());
  return store_.transaction([&]() -> Status {
    if (auto s = store_.execute(
            "UPDATE requests SET state='dead', updated_at=? WHERE custom_id=? AND state!='completed'",
            {now, row.request.custom_id});
        !s) {
      return s;
    }
    return store_.execute(
        "INSERT OR REPLACE INTO dead_letters (custom_id, run_id, outcome, detail, attempts, created_at) "
        "VALUES (?,?,?,?,?,?)",
        {row.request.custom_id, run_id, row.last_outcome.empty() ? std::string("transient") : row.last_outcome,
         opt_text(row.last_error), std::int64_t{row.attempt - 1}, now});
  });
}

Status Ledger::create_remote(const RemoteObject& obj, const std::vector<PendingRow>& rows) {
  const std::string now = format_utc(clock_.now());
  return store_.transaction([&]() -> Status {
    if (auto s = store_.execute(
            "INSERT INTO remote_objects (obj_key, kind, provider, lane, model, run_id, local_path, "
            "file_id, remote_id, state, rows, detail, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            {obj.key, obj.kind, obj.provider, obj.lane, obj.model, obj.run_id, opt_text(obj.local_path),
             opt_text(obj.file_id), opt_text(obj.remote_id), obj.state,
             static_cast<std::int64_t>(rows.size()), opt_text(obj.detail), now, now});
        !s) {
      return s;
    }
    auto ins = store_.cached("INSERT INTO batch_rows (obj_key, custom_id, attempt) VALUES (?,?,?)");
    if (!ins) return ins.error();
    auto upd = store_.cached("UPDATE requests SET state='submitted', updated_at=? WHERE custom_id=?");
    if (!upd) return upd.error();
    for (const PendingRow& r : rows) {
      Statement& st = **ins;
      st.reset();
      st.bind(1, obj.key).bind(2, r.request.custom_id).bind(3, std::int64_t{r.attempt});
      if (auto s = st.run(); !s) return s;
      Statement& u = **upd;
      u.reset();
      u.bind(1, now).bind(2, r.request.custom_id);
      if (auto s = u.run(); !s) return s;
    }
    return ok();
  });
}

Status Ledger::update_remote(const RemoteObject& obj) {
  return store_.execute(
      "UPDATE remote_objects SET local_path=?, file_id=?, remote_id=?, state=?, output_file_id=?, "
      "error_file_id=?, detail=?, updated_at=? WHERE obj_key=?",
      {opt_text(obj.local_path), opt_text(obj.file_id), opt_text(obj.remote_id), obj.state,
       opt_text(obj.output_file_id), opt_text(obj.error_file_id), opt_text(obj.detail),
       format_utc(clock_.now()), obj.key});
}

Result<std::vector<RemoteObject>> Ledger::open_remotes(const std::string& lane) {
  auto rows = store_.query(
      "SELECT obj_key, kind, provider, lane, model, run_id, COALESCE(local_path,''), "
      "COALESCE(file_id,''), COALESCE(remote_id,''), state, rows, COALESCE(output_file_id,''), "
      "COALESCE(error_file_id,''), COALESCE(detail,'') FROM remote_objects "
      "WHERE lane = ? AND state NOT IN ('collected','abandoned') ORDER BY created_at, obj_key",
      {lane});
  if (!rows) return rows.error();
  std::vector<RemoteObject> out;
  for (const auto& row : *rows) {
    RemoteObject o;
    o.key = text_of(row[0]);
    o.kind = text_of(row[1]);
    o.provider = text_of(row[2]);
    o.lane = text_of(row[3]);
    o.model = text_of(row[4]);
    o.run_id = text_of(row[5]);
    o.local_path = text_of(row[6]);
    o.file_id = text_of(row[7]);
    o.remote_id = text_of(row[8]);
    o.state = text_of(row[9]);
    o.rows = int_of(row[10]);
    o.output_file_id = text_of(row[11]);
    o.error_file_id = text_of(row[12]);
    o.detail = text_of(row[13]);
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<PendingRow>> Ledger::batch_rows(const std::string& key) {
  auto rows = store_.query(std::string("SELECT ") + kRequestColumns +
                               ", b.attempt FROM batch_rows b JOIN requests r ON r.custom_id = "
                               "b.custom_id WHERE b.obj_key = ? ORDER BY b.rowid",
                           {key});
  if (!rows) return rows.error();
  std::vector<PendingRow> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    PendingRow p;
    p.request = request_from(row).request;
    p.attempt = static_cast<int>(int_of(row[15]));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace fgraph::extract::internal
