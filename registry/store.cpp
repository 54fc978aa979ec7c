#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "registry/internal/names.h"
#include "registry/registry.h"

namespace fgraph::registry {
namespace {

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = ErrorCode::kTransient;
  if (primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH || primary == SQLITE_TOOBIG) {
    code = ErrorCode::kInvalidInput;
  }
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) code = ErrorCode::kInvalidInput;
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return make_error(code, std::move(msg), "sqlite:" + std::to_string(rc));
}

}  // namespace

bool is_locked(const Error& e) {
  if (e.code != ErrorCode::kTransient || !e.detail.starts_with("sqlite:")) return false;
  const int rc = std::atoi(e.detail.c_str() + 7);
  return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

namespace {

// Copies WAL frames into the database on its own thread and connection (see
// StoreOptions::background_checkpoint). The main connection's WAL hook, which replaces
// SQLite's autocheckpoint, wakes it after a commit that leaves `threshold` frames in the
// WAL. A PASSIVE checkpoint never blocks the writer, but the WAL starts from its
// beginning again only after a checkpoint that copied every frame, which a thread racing
// a busy writer may never manage: from `backstop` frames the committing thread waits for
// the thread's checkpoint and checkpoints the rest itself.
class Checkpointer {
 public:
  Checkpointer(std::unique_ptr<sqlite3, DbDeleter> db, int threshold)
      : db_(std::move(db)), threshold_(threshold), backstop_(4 * threshold) {
    thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
  }
  ~Checkpointer() {
    thread_.request_stop();
    thread_.join();  // before db_ closes
  }

  static int on_commit(void* self, sqlite3* db, const char* name, int frames) {
    auto* c = static_cast<Checkpointer*>(self);
    if (frames >= c->backstop_) {
      // Behind: wait for the thread's checkpoint to end (BUSY meanwhile), then copy the
      // rest here, so that the next transaction starts the WAL from its beginning again.
      for (int waited_ms = 0; waited_ms < 30000; ++waited_ms) {
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if ((rc & 0xff) != SQLITE_BUSY) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } else if (frames >= c->threshold_) {
      {
        std::lock_guard lock(c->mutex_);
        c->due_ = true;
      }
      c->wake_.notify_one();
    }
    return SQLITE_OK;
  }

  std::int64_t completed() const { return completed_.load(); }

 private:
  void loop(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (wake_.wait(lock, stop, [&] { return due_; })) {
      due_ = false;
      lock.unlock();
      int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                         nullptr);
      if (rc == SQLITE_OK) {
        ++completed_;
      } else if ((rc & 0xff) != SQLITE_BUSY) {  // BUSY: another checkpoint is running
        logger("store")->warn("background checkpoint: {}", sqlite3_errmsg(db_.get()));
      }
      lock.lock();
    }
  }

  std::unique_ptr<sqlite3, DbDeleter> db_;
  const int threshold_, backstop_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool due_ = false;
  std::atomic<std::int64_t> completed_{0};
  std::jthread thread_;
};

}  // namespace

struct Statement::Impl {
  std::unique_ptr<sqlite3_stmt, StmtDeleter> stmt;
  sqlite3* db = nullptr;
};

Statement::Statement() : impl_(std::make_unique<Impl>()) {}
Statement::~Statement() = default;
Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;

Statement& Statement::bind(int index, const SqlValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          bind_null(index);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          bind(index, v);
        } else if constexpr (std::is_same_v<T, double>) {
          sqlite3_bind_double(impl_->stmt.get(), index, v);
        } else {
          bind(index, std::string_view(v));
        }
      },
      value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(impl_->stmt.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                      SQLITE_UTF8);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(impl_->stmt.get(), index, value);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(impl_->stmt.get(), index);
  return *this;
}

Statement& Statement::bind_optional(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bind_null(index);
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(impl_->stmt.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(impl_->db, rc, "step");
}

Status Statement::run() {
  while (true) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return ok();
  }
}

void Statement::reset() {
  sqlite3_reset(impl_->stmt.get());
  sqlite3_clear_bindings(impl_->stmt.get());
}

int Statement::column_count() const { return sqlite3_column_count(impl_->stmt.get()); }
bool Statement::column_is_null(int i) const {
  return sqlite3_column_type(impl_->stmt.get(), i) == SQLITE_NULL;
}
std::int64_t Statement::column_int(int i) const {
  return sqlite3_column_int64(impl_->stmt.get(), i);
}
double Statement::column_double(int i) const { return sqlite3_column_double(impl_->stmt.get(), i); }
std::string Statement::column_text(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(impl_->stmt.get(), i));
  int n = sqlite3_column_bytes(impl_->stmt.get(), i);
  return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
}
std::optional<std::string> Statement::column_optional(int i) const {
  if (column_is_null(i)) return std::nullopt;
  return column_text(i);
}
SqlValue Statement::column_value(int i) const {
  switch (sqlite3_column_type(impl_->stmt.get(), i)) {
    case SQLITE_NULL: return std::monostate{};
    case SQLITE_INTEGER: return column_int(i);
    case SQLITE_FLOAT: return column_double(i);
    default: return column_text(i);
  }
}

struct Store::Impl {
  std::unique_ptr<sqlite3, DbDeleter> db;
  std::map<std::string, Statement, std::less<>> cache;
  std::unique_ptr<Checkpointer> checkpointer;  // after db: stops before db closes
};

Store::Store() : impl_(std::make_unique<Impl>()) {}
Store::~Store() {
  impl_->cache.clear();  // statements before the connection
  if (impl_->checkpointer) {
    sqlite3_wal_hook(impl_->db.get(), nullptr, nullptr);
    impl_->checkpointer.reset();
  }
}

std::int64_t Store::background_checkpoints() const {
  return impl_->checkpointer ? impl_->checkpointer->completed() : 0;
}

namespace {

// A one-argument text function of names.cpp as a deterministic SQL function (NULL -> NULL).
template <std::string (*F)(std::string_view)>
void name_sql_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(ctx);
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const auto size = static_cast<std::size_t>(sqlite3_value_bytes(argv[0]));
  std::string out = F(std::string_view(text ? text : "", text ? size : 0));
  sqlite3_result_text(ctx, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

std::string normalize_name_fn(std::string_view s) { return normalize_name(s); }
std::string core_name_fn(std::string_view s) { return core_name(s); }
std::string legal_form_fn(std::string_view s) { return internal::legal_form(s); }

// For migrations that re-normalise stored names when the normalisation changes (0116).
int register_name_functions(sqlite3* db) {
  struct Fn {
    const char* name;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
  };
  const Fn fns[] = {{"fgraph_normalize_name", &name_sql_function<&normalize_name_fn>},
                    {"fgraph_core_name", &name_sql_function<&core_name_fn>},
                    {"fgraph_legal_form", &name_sql_function<&legal_form_fn>}};
  for (const auto& f : fns) {
    int rc = sqlite3_create_function_v2(db, f.name, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                        nullptr, f.fn, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store());
  store->path_ = options.path;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(options.path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  store->impl_->db.reset(raw);
  if (rc != SQLITE_OK) return sqlite_error(raw, rc, "open " + options.path);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  // Before anything is written (journal_mode=WAL writes the header of a new file).
  if (auto s = store->exec("PRAGMA page_size=" + std::to_string(options.page_size)); !s) {
    return s.error();
  }
  if (auto s = store->exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"); !s) {
    return s.error();
  }
  if (auto s = store->exec("PRAGMA cache_size=-" + std::to_string(options.cache_size_kib) +
                           "; PRAGMA wal_autocheckpoint=" +
                           std::to_string(options.wal_autocheckpoint_pages) + ";");
      !s) {
    return s.error();
  }
  if (options.path != ":memory:" && !options.path.empty()) {
    auto mode = store->query("PRAGMA journal_mode=WAL");
    if (!mode) return mode.error();
  }
  // The entity registry's fuzzy index needs FTS5 with the trigram tokenizer (3.34+).
  if (auto s = store->exec("CREATE VIRTUAL TABLE temp.fgraph_fts5_probe USING fts5(x, "
                           "tokenize='trigram'); DROP TABLE temp.fgraph_fts5_probe;");
      !s) {
    return make_error(ErrorCode::kInvalidInput,
                      std::string("this SQLite (") + sqlite3_libversion() +
                          ") lacks FTS5 with the trigram tokenizer, which the entity registry "
                          "needs: use SQLite 3.34 or newer built with FTS5 (Debian 12's "
                          "libsqlite3-0 has it)",
                      s.error().message);
  }
  if (rc = register_name_functions(raw); rc != SQLITE_OK) {
    return sqlite_error(raw, rc, "register name functions");
  }
  if (auto s = store->migrate(); !s) return s.error();
  if (options.background_checkpoint && options.wal_autocheckpoint_pages > 0 &&
      options.path != ":memory:" && !options.path.empty()) {
    sqlite3* ck = nullptr;
    rc = sqlite3_open_v2(options.path.c_str(), &ck, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         nullptr);
    std::unique_ptr<sqlite3, DbDeleter> ck_db(ck);
    if (rc != SQLITE_OK) {
      // The committing connection keeps checkpointing, as SQLite does by default.
      logger("store")->warn("no background checkpoints: {}",
                            sqlite_error(ck, rc, "open " + options.path).describe());
    } else {
      sqlite3_exec(ck, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
      store->impl_->checkpointer =
          std::make_unique<Checkpointer>(std::move(ck_db), options.wal_autocheckpoint_pages);
      sqlite3_wal_hook(raw, &Checkpointer::on_commit, store->impl_->checkpointer.get());
    }
  }
  return store;
}

Status Store::exec(std::string_view sql) {
  std::string copy(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(impl_->db.get(), copy.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "";
    sqlite3_free(err);
    Error e = sqlite_error(impl_->db.get(), rc, "exec");
    if (!msg.empty()) e.message = "exec: " + msg;
    return e;
  }
  return ok();
}

Result<Statement> Store::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(impl_->db.get(), sql.data(), static_cast<int>(sql.size()), &raw,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    Error e = sqlite_error(impl_->db.get(), rc, "prepare");
    e.code = ErrorCode::kInternal;  // a statement of ours that does not compile is a bug
    return e;
  }
  Statement st;
  st.impl_->stmt.reset(raw);
  st.impl_->db = impl_->db.get();
  return st;
}

Result<Statement*> Store::cached(const std::string& sql) {
  auto it = impl_->cache.find(sql);
  if (it == impl_->cache.end()) {
    auto st = prepare(sql);
    if (!st) return st.error();
    it = impl_->cache.emplace(sql, std::move(*st)).first;
  }
  it->second.reset();
  return &it->second;
}

Result<std::vector<std::vector<SqlValue>>> Store::query(std::string_view sql,
                                                        const std::vector<SqlValue>& params) {
  auto st = prepare(sql);
  if (!st) return st.error();
  for (size_t i = 0; i < params.size(); ++i) st->bind(static_cast<int>(i + 1), params[i]);
  std::vector<std::vector<SqlValue>> rows;
  while (true) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) break;
    std::vector<SqlValue> row;
    int n = st->column_count();
    row.reserve(static_cast<size_t>(n));
    for (int c = 0; c < n; ++c) row.push_back(st->column_value(c));
    rows.push_back(std::move(row));
  }
  return rows;
}

Status Store::execute(std::string_view sql, const std::vector<SqlValue>& params) {
  auto st = prepare(sql);
  if (!st) return st.error();
  for (size_t i = 0; i < params.size(); ++i) st->bind(static_cast<int>(i + 1), params[i]);
  return st->run();
}

Status Store::begin() {
  if (in_transaction()) return make_error(ErrorCode::kInternal, "nested transaction");
  return exec("BEGIN IMMEDIATE");
}
Status Store::commit() {
  release_cached();
  return exec("COMMIT");
}
void Store::rollback() {
  release_cached();
  if (in_transaction()) (void)exec("ROLLBACK");
}
// A cached statement that stopped on a row keeps its read snapshot open; a retry of a
// write transaction after SQLITE_BUSY(_SNAPSHOT) would then fail forever.
void Store::release_cached() {
  for (auto& [sql, st] : impl_->cache) sqlite3_reset(st.impl_->stmt.get());
}
bool Store::in_transaction() const { return sqlite3_get_autocommit(impl_->db.get()) == 0; }
std::int64_t Store::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(impl_->db.get());
}
int Store::changes() const { return sqlite3_changes(impl_->db.get()); }

int Store::schema_version() const {
  sqlite3_stmt* raw = nullptr;
  int version = 0;
  if (sqlite3_prepare_v2(impl_->db.get(), "SELECT max(version) FROM schema_migrations", -1, &raw,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(raw) == SQLITE_ROW) {
    version = sqlite3_column_int(raw, 0);
  }
  sqlite3_finalize(raw);
  return version;
}

Status Store::migrate() {
  if (auto s = exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
      !s) {
    return s;
  }
  int current = schema_version();
  int newest = migrations().empty() ? 0 : migrations().back().version;
  if (current > newest) {
    return make_error(ErrorCode::kInvalidInput,
                      path_ + " has schema version " + std::to_string(current) +
                          ", newer than this fgraph knows (" + std::to_string(newest) + ")");
  }
  // Each stage numbers its migrations in its own range, so a stage's new migration can
  // be numbered below one already applied: apply every migration not yet recorded.
  std::set<std::int64_t> applied;
  {
    auto rows = query("SELECT version FROM schema_migrations");
    if (!rows) return rows.error();
    for (const auto& r : *rows) applied.insert(std::get<std::int64_t>(r[0]));
  }
  for (const Migration& m : migrations()) {
    if (applied.count(m.version) != 0) continue;
    Status s = transaction([&]() -> Status {
      // Another process opening the same new home (a reader beside the first writer)
      // may have applied it since `applied` was read; BEGIN IMMEDIATE orders the two.
      auto done = query("SELECT 1 FROM schema_migrations WHERE version = ?", {std::int64_t{m.version}});
      if (!done) return done.error();
      if (!done->empty()) return ok();
      if (auto e = exec(m.sql); !e) {
        Error err = e.error();
        err.message = "migration " + std::to_string(m.version) + " " + m.name + ": " + err.message;
        err.code = ErrorCode::kInternal;
        return err;
      }
      return execute(
          "INSERT INTO schema_migrations(version, name, applied_at) VALUES(?, ?, "
          "strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
          {std::int64_t{m.version}, std::string(m.name)});
    });
    if (!s) return s;
  }
  return ok();
}

}  // namespace fgraph::registry
