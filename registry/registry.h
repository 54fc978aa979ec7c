// registry: the SQLite store, fgraph's system of record.
//
// Owns: the database file ($FGRAPH_HOME/fgraph.db, WAL, foreign keys on), its numbered
// migrations (registry/migrations/NNNN_name.sql, embedded at build time and applied in
// order, each in its own transaction), a small typed statement API that keeps sqlite3
// types out of every other header, and the ledger records that every stage shares
// (documents, runs). The entity registry (entities, aliases, journal) lives here too.
//
// Each stage keeps the SQL for its own ledger tables in its own folder and runs it
// through Store; the DDL for every table lives in registry/migrations so that the
// schema has one owner and one order.
//
// Threading: a Store is one SQLite connection and is used by one thread at a time.
// Several processes (or several Stores) may open the same file: WAL mode plus a busy
// timeout let them interleave, and write transactions use BEGIN IMMEDIATE.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/core.h"

namespace fgraph::registry {

// A value bound to or read from SQL. std::monostate is SQL NULL.
using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string>;

// A prepared statement. Created by Store::prepare; valid while its Store lives.
class Statement {
 public:
  Statement();
  ~Statement();
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;

  // Binds 1-based parameter `index`. Text is bound as a copy (embedded NULs kept).
  Statement& bind(int index, const SqlValue& value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value);
  Statement& bind_null(int index);
  Statement& bind_optional(int index, const std::optional<std::string>& text);

  // Advances: true when a row is available, false when done. kTransient on SQLITE_BUSY
  // after the busy timeout, kInvalidInput on constraint violations, kInternal otherwise.
  Result<bool> step();
  // Runs to completion, ignoring rows.
  Status run();
  // Resets for re-execution and clears bindings.
  void reset();

  int column_count() const;
  bool column_is_null(int index) const;
  std::int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;  // "" for NULL
  std::optional<std::string> column_optional(int index) const;
  SqlValue column_value(int index) const;

 private:
  friend class Store;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct StoreOptions {
  std::string path;  // database file; ":memory:" for a private in-memory database
  std::chrono::milliseconds busy_timeout{15000};  // how long a writer waits for a lock
};

class Store {
 public:
  // Opens (creating if needed) the database, sets WAL, foreign keys and the busy timeout,
  // and applies pending migrations. kInvalidInput if the file is not a database or was
  // written by a newer fgraph; kInternal for other SQLite failures. A crash halfway through
  // a migration leaves the previous schema version (each migration is one transaction).
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();

  Status exec(std::string_view sql);  // one or more statements, no parameters
  Result<Statement> prepare(std::string_view sql);
  // A statement prepared once per Store and reset before each use (hot paths).
  Result<Statement*> cached(const std::string& sql);

  // Runs `sql` with `params`, collecting all rows.
  Result<std::vector<std::vector<SqlValue>>> query(std::string_view sql,
                                                   const std::vector<SqlValue>& params = {});
  Status execute(std::string_view sql, const std::vector<SqlValue>& params = {});

  // BEGIN IMMEDIATE; runs `body`; COMMIT if it returned ok, ROLLBACK otherwise.
  // Not reentrant: nested calls return kInternal.
  template <typename F>
  Status transaction(F&& body) {
    if (auto s = begin(); !s) return s;
    Status s = body();
    if (!s) {
      rollback();
      return s;
    }
    return commit();
  }
  Status begin();
  Status commit();
  void rollback();
  bool in_transaction() const;

  std::int64_t last_insert_rowid() const;
  int changes() const;
  int schema_version() const;
  const std::string& path() const { return path_; }

 private:
  Store();
  Status migrate();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

// One embedded migration (generated from registry/migrations/*.sql).
struct Migration {
  int version;
  const char* name;
  const char* sql;
};
const std::vector<Migration>& migrations();

// ---------------------------------------------------------------------------------
// Documents: every parsed document's metadata and final text, keyed by doc_id.
struct DocumentRecord {
  std::string doc_id;  // "sha256:<hex of text>"
  std::string source;  // path of the file it came from
  int part = 1;        // 1-based index of the document within its source
  std::string format;  // sec-submission | html | ixbrl | xml | xbrl | text
  std::optional<std::string> form_type, cik, company, accession, filed_at;
  std::string metadata_json = "{}";  // everything else the parser knew, as JSON
  std::string warnings_json = "[]";
  std::string text;
};

// Inserts the document if its doc_id is new; an existing row is left as it is (the id
// is the text's hash, so the text cannot differ). Returns true when inserted.
Result<bool> put_document(Store& store, const DocumentRecord& doc);
// kNotFound when absent.
Result<DocumentRecord> get_document(Store& store, std::string_view doc_id);

}  // namespace fgraph::registry
