// The extract stage's ledger queries.
#include <unordered_set>

#include "extract/internal/ledger.h"

namespace fgraph::extract::internal {

using registry::SqlValue;
using registry::Statement;

namespace {

using registry::int_of;
using registry::text_of;
SqlValue opt_text(const std::string& s) {
  if (s.empty()) return std::monostate{};
  return s;
}

constexpr const char* kRequestColumns =
    "r.custom_id, r.doc_id, r.chunk_index, r.chunk_count, r.char_start, r.char_end, r.model, "
    "r.prompt_version, r.schema_version, r.est_input_tokens, r.est_output_tokens, "
    "r.est_cost_usd, r.state, COALESCE(r.outcome,''), r.attempts, r.ladder_base";
constexpr int kRequestColumnCount = 16;

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
  out.ladder_base = static_cast<int>(int_of(row[15]));
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
        // Attempt numbers go on (they are unique per request); the ladder starts again.
        if (auto s = store_.execute(
                "UPDATE requests SET state='planned', ladder_base=attempts, updated_at=? "
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

Status Ledger::record_rules(const std::string& run_id, const ExtractionRequest& r,
                           const std::string& output_json, const std::string& form_kind,
                           std::optional<double> skipped_usd) {
  const std::string now = format_utc(clock_.now());
  return store_.transaction([&]() -> Status {
    auto existing = find_request(r.custom_id);
    if (!existing) return existing.error();
    const bool reused = existing->has_value();
    if (!reused) {
      if (auto s = store_.execute(
              "INSERT INTO requests (custom_id, doc_id, run_id, chunk_index, chunk_count, "
              "char_start, char_end, model, prompt_version, schema_version, est_input_tokens, "
              "est_output_tokens, est_cost_usd, state, outcome, attempts, created_at, updated_at, "
              "extractor) VALUES (?,?,?,0,1,?,?,?,?,?,0,0,0,'completed','completed',0,?,?,'rules')",
              {r.custom_id, r.doc_id, run_id, r.char_start, r.char_end, r.model, r.prompt_version,
               r.schema_version, now, now});
          !s) {
        return s;
      }
      if (auto s = store_.execute(
              "INSERT INTO results (custom_id, content, lane, model, run_id, completed_at) "
              "VALUES (?,?,'rules',?,?,?)",
              {r.custom_id, output_json, r.model, run_id, now});
          !s) {
        return s;
      }
    }
    if (auto s = store_.execute(
            "INSERT OR IGNORE INTO run_requests (run_id, doc_id, chunk_index, custom_id, "
            "char_start, char_end, reused) VALUES (?,?,-1,?,?,?,?)",
            {run_id, r.doc_id, r.custom_id, r.char_start, r.char_end, std::int64_t{reused ? 1 : 0}});
        !s) {
      return s;
    }
    if (!skipped_usd) return ok();
    return store_.execute(
        "INSERT OR REPLACE INTO cascade_skips (run_id, doc_id, form_kind, est_cost_usd) "
        "VALUES (?,?,?,?)",
        {run_id, r.doc_id, form_kind, SqlValue(*skipped_usd)});
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
    p.step = p.attempt - rr.ladder_base;
    p.last_outcome = rr.outcome;
    p.last_error = text_of(row[kRequestColumnCount]);
    out.push_back(std::move(p));
  }
  return out;
}

Status Ledger::record_rows(const std::string& run_id, const std::vector<RowResult>& rows,
                           const std::string& close_key) {
  const std::string now = format_utc(clock_.now());
  std::size_t repeats = 0;
  Status s = store_.transaction([&]() -> Status {
    repeats = 0;
    auto att = store_.cached(
        "INSERT OR IGNORE INTO attempts (custom_id, attempt, run_id, lane, model, obj_key, outcome, "
        "input_tokens, output_tokens, cost_usd, error, created_at, cached_input_tokens, cache_write_tokens, "
        "answered_model) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!att) return att.error();
    // A second answer to one attempt: paid for, so counted on the attempt's row; it can
    // complete the attempt, never fail it again.
    auto again = store_.cached(
        "UPDATE attempts SET input_tokens = input_tokens + ?2, output_tokens = output_tokens + ?3, "
        "cost_usd = cost_usd + ?4, outcome = CASE WHEN ?1 = 'completed' THEN ?1 ELSE outcome END, "
        "error = CASE WHEN ?1 = 'completed' THEN NULL ELSE error END, "
        "cached_input_tokens = cached_input_tokens + ?7, cache_write_tokens = cache_write_tokens + ?8 "
        "WHERE custom_id = ?5 AND attempt = ?6");
    if (!again) return again.error();
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
      const std::string outcome(to_string(r.outcome));
      Statement& a = **att;
      a.reset();
      a.bind(1, r.custom_id).bind(2, std::int64_t{r.attempt}).bind(3, run_id).bind(4, r.lane)
          .bind(5, r.model).bind(6, opt_text(r.batch_key)).bind(7, outcome)
          .bind(8, r.usage.input_tokens).bind(9, r.usage.output_tokens)
          .bind(10, SqlValue(r.cost_usd)).bind(11, opt_text(r.error_detail)).bind(12, now)
          .bind(13, r.usage.cached_input_tokens).bind(14, r.usage.cache_write_tokens)
          .bind(15, opt_text(r.answered_model));
      if (auto s = a.run(); !s) return s;
      if (store_.changes() == 0) {
        ++repeats;
        Statement& g = **again;
        g.reset();
        g.bind(1, outcome).bind(2, r.usage.input_tokens).bind(3, r.usage.output_tokens)
            .bind(4, SqlValue(r.cost_usd)).bind(5, r.custom_id).bind(6, std::int64_t{r.attempt})
            .bind(7, r.usage.cached_input_tokens).bind(8, r.usage.cache_write_tokens);
        if (auto s = g.run(); !s) return s;
        if (!done) continue;
      }
      Statement& u = **upd;
      u.reset();
      u.bind(1, done ? "completed" : "failed").bind(2, outcome)
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
  if (s && repeats > 0) {
    logger("extract")->warn("run={} batch={} {} answers to attempts already recorded (counted on them)",
                            run_id, close_key.empty() ? "-" : close_key, repeats);
  }
  return s;
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

Result<std::vector<PendingRow>> Ledger::create_remote(const RemoteObject& obj,
                                                      const std::vector<PendingRow>& rows) {
  const std::string now = format_utc(clock_.now());
  std::vector<PendingRow> claimed;
  Status s = store_.transaction([&]() -> Status {
    claimed.clear();
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
    auto claim = store_.cached(
        "UPDATE requests SET state='submitted', updated_at=? "
        "WHERE custom_id=? AND state IN ('planned','failed') AND attempts=?");
    if (!claim) return claim.error();
    auto ins = store_.cached("INSERT INTO batch_rows (obj_key, custom_id, attempt) VALUES (?,?,?)");
    if (!ins) return ins.error();
    for (const PendingRow& r : rows) {
      Statement& c = **claim;
      c.reset();
      c.bind(1, now).bind(2, r.request.custom_id).bind(3, std::int64_t{r.attempt - 1});
      if (auto s = c.run(); !s) return s;
      if (store_.changes() == 0) continue;
      Statement& st = **ins;
      st.reset();
      st.bind(1, obj.key).bind(2, r.request.custom_id).bind(3, std::int64_t{r.attempt});
      if (auto s = st.run(); !s) return s;
      claimed.push_back(r);
    }
    if (claimed.empty()) return store_.execute("DELETE FROM remote_objects WHERE obj_key=?", {obj.key});
    if (claimed.size() == rows.size()) return ok();
    return store_.execute("UPDATE remote_objects SET rows=? WHERE obj_key=?",
                          {static_cast<std::int64_t>(claimed.size()), obj.key});
  });
  if (!s) return s.error();
  if (claimed.size() < rows.size()) {
    logger("extract")->warn("run={} batch={} left out {} of {} rows claimed by another batch",
                            obj.run_id, obj.key, rows.size() - claimed.size(), rows.size());
  }
  return claimed;
}

Status Ledger::update_remote(const RemoteObject& obj) {
  return store_.execute(
      "UPDATE remote_objects SET local_path=?, file_id=?, remote_id=?, state=?, output_file_id=?, "
      "error_file_id=?, detail=?, updated_at=? WHERE obj_key=?",
      {opt_text(obj.local_path), opt_text(obj.file_id), opt_text(obj.remote_id), obj.state,
       opt_text(obj.output_file_id), opt_text(obj.error_file_id), opt_text(obj.detail),
       format_utc(clock_.now()), obj.key});
}

Result<std::vector<RemoteObject>> Ledger::open_remotes(const std::string& lane,
                                                      const std::string& run_id) {
  auto rows = store_.query(
      "SELECT obj_key, kind, provider, lane, model, run_id, COALESCE(local_path,''), "
      "COALESCE(file_id,''), COALESCE(remote_id,''), state, rows, COALESCE(output_file_id,''), "
      "COALESCE(error_file_id,''), COALESCE(detail,'') FROM remote_objects "
      "WHERE lane = ? AND run_id = ? AND state NOT IN ('collected','abandoned') "
      "ORDER BY created_at, obj_key",
      {lane, run_id});
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

Result<std::vector<std::pair<std::string, std::int64_t>>> Ledger::held_by_other_runs(
    const std::string& run_id) {
  auto rows = store_.query(
      "SELECT o.run_id, COUNT(DISTINCT b.custom_id) FROM run_requests m "
      "JOIN requests r ON r.custom_id = m.custom_id AND r.state = 'submitted' "
      "JOIN batch_rows b ON b.custom_id = m.custom_id "
      "JOIN remote_objects o ON o.obj_key = b.obj_key "
      "WHERE m.run_id = ?1 AND o.run_id <> ?1 AND o.state NOT IN ('collected','abandoned') "
      "GROUP BY o.run_id ORDER BY o.run_id",
      {run_id});
  if (!rows) return rows.error();
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& row : *rows) out.emplace_back(text_of(row[0]), int_of(row[1]));
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
    RequestRow rr = request_from(row);
    p.request = std::move(rr.request);
    p.attempt = static_cast<int>(int_of(row[kRequestColumnCount]));
    p.step = p.attempt - rr.ladder_base;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace fgraph::extract::internal
