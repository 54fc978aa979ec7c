// registry: the SQLite store, fgraph's system of record.
//
// Owns: the database file ($FGRAPH_HOME/fgraph.db, WAL, foreign keys on), its numbered
// migrations (registry/migrations/NNNN_name.sql, embedded at build time and applied in
// order, each in its own transaction), a small typed statement API that keeps sqlite3
// types out of every other header, and the ledger records that every stage shares
// (documents, runs). The entity registry (entities, aliases, journal) lives here too:
// see EntityRegistry at the end of this header.
//
// Each stage keeps the SQL for its own ledger tables in its own folder and runs it
// through Store; the DDL for every table lives in registry/migrations so that the
// schema has one owner and one order.
//
// Requires SQLite with FTS5 and its trigram tokenizer (3.34+, as in Debian 12's 3.40):
// Store::open checks for it and fails with kInvalidInput and a clear message otherwise.
//
// Threading: a Store is one SQLite connection and is used by one thread at a time (its
// background checkpointer has a connection of its own; see StoreOptions).
// Several processes (or several Stores) may open the same file: WAL mode plus a busy
// timeout let them interleave, and write transactions use BEGIN IMMEDIATE.
#pragma once

#include <cstdint>
#include <functional>
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
// A column as an integer (0 for NULL or text) and as text ("" for NULL; numbers printed).
inline std::int64_t int_of(const SqlValue& v) {
  if (auto p = std::get_if<std::int64_t>(&v)) return *p;
  if (auto p = std::get_if<double>(&v)) return static_cast<std::int64_t>(*p);
  return 0;
}
inline std::string text_of(const SqlValue& v) {
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
  return "";
}

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
  // Page cache of this connection, at most (SQLite's default is 2 MiB). It fills only as
  // pages are read: a registry of 200,000 entities and a million resolved names uses it
  // all, and resolves 1.3x faster than with 64 MiB (registry bench; 1 GiB gains nothing).
  int cache_size_kib = 262144;
  // Page size of a new database file (SQLite's default is 4 KiB); an existing file keeps
  // its own. A transaction writes each page it dirtied to the WAL, with a frame header,
  // and its random-key index inserts (entity ids, names, mentions by entity) dirty about
  // one page each: larger pages mean fewer frames and shallower B-trees. Registry bench,
  // 200k entities and 1M names: 1.07x the resolutions/s and 1.16x the write floor at
  // 16 KiB (same WAL bytes); 1 and 2 KiB were slower, 64 KiB no faster than 16.
  int page_size = 16384;
  // WAL pages written before a commit checkpoints them into the database (SQLite's
  // default is 1000). A checkpoint copies each page once however often it was rewritten,
  // so rarer checkpoints cost less per write. The WAL file grows to about this size
  // (256 MiB at 16 KiB pages; 1 GiB at most, see background_checkpoint) and keeps it.
  // Registry bench: 1.5x the resolutions per CPU second against SQLite's default; at 1M
  // names, 256 MiB against 64 MiB gave 1.10x (4 KiB pages) and 1.07x (16 KiB).
  int wal_autocheckpoint_pages = 16384;
  // Checkpoints run on a thread of the Store with its own connection, so that a commit
  // never waits for a checkpoint's copy and fsync (which took a third of the registry
  // bench's wall time). Should that thread fall behind, the committing connection
  // checkpoints itself once the WAL holds 4x wal_autocheckpoint_pages, which bounds the
  // WAL file (a commit then waits for the thread's checkpoint to end). false: the
  // committing connection checkpoints, as SQLite does by default.
  bool background_checkpoint = true;
};

// True when `e` is a Store's SQLITE_BUSY or SQLITE_LOCKED (kTransient, detail "sqlite:N"):
// another connection, often another process, held the database past the busy timeout.
// The CLI exits 2 for it, as for a second writer (DESIGN.md).
bool is_locked(const Error& e);

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
    // A COMMIT that fails (e.g. SQLITE_BUSY) leaves the transaction open: close it so that
    // a retry can begin again.
    s = commit();
    if (!s) rollback();
    return s;
  }
  Status begin();
  Status commit();
  void rollback();
  bool in_transaction() const;

  std::int64_t last_insert_rowid() const;
  int changes() const;
  int schema_version() const;
  // Checkpoints the background thread has completed (0 without one). For tests.
  std::int64_t background_checkpoints() const;
  const std::string& path() const { return path_; }
  // Resets every cached statement, ending their read snapshots: a statement that stopped
  // on a row keeps the snapshot it read, so a connection kept across requests (fgraph
  // serve) calls this after each use, or it would go on reading an old ledger.
  void release_cached();

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
// The record without its text (`text` left empty): lists of documents (the web console).
// kNotFound when absent.
Result<DocumentRecord> get_document_meta(Store& store, std::string_view doc_id);
// Documents whose accession number, CIK or form type equals `text`, or whose filer name
// contains it (case-insensitive), without their text; at most `limit`, by filer and
// accession. kInvalidInput for an empty text.
Result<std::vector<DocumentRecord>> find_documents(Store& store, std::string_view text,
                                                   std::size_t limit = 20);

// ---------------------------------------------------------------------------------
// Entity registry: the canonical identity of every entity in the graph.
//
// Model. An entity has a stable `entity_id`, a type (COMPANY, PERSON, ... as the
// extraction schema enumerates; any non-empty string is accepted), a canonical name and
// identifiers (CIK zero-padded to 10 digits, ticker, LEI, jurisdiction). Aliases record
// the names an entity is known by beyond its own: a match (by CIK, LEI, a merged
// entity's alias or fuzzy) under a normalised name that is neither the entity's nor one
// of its aliases teaches it, raw and normalised, with the document and run that taught
// it; the first spelling wins. Other spellings of a known name ("APPLE INC" for
// "Apple Inc.") add nothing to resolution and are not aliases: the ledger keeps every
// name as the document gave it (verified facts, run_entities). Mentions record which
// documents (and runs) mention an entity. Every insert, identifier update, alias, merge
// and unmerge is written to a journal, with its run id, in the same SQLite transaction as
// the change; the journal keeps enough (before/after images) to undo it.
//
// Resolution is a cascade; the first step that decides wins, and its method and score
// are returned:
//   1. "cik" / "lei" / "cusip": an identifier equal to a live entity's (a CUSIP by its
//      issuer number, the first 6 characters; an entity with another one never matches).
//   2. "exact": the same normalised name (normalize_name) within the same type.
//   3. "alias": the normalised name equals a known alias of an entity of the same type.
//   4. "fuzzy": the best trigram candidate, scored by the Dice coefficient over distinct
//      character trigrams of the *core* names (normalised name without legal-form
//      tokens). Candidates come from an in-memory trigram index that mirrors the
//      entities' core names, as the FTS5 trigram table entity_fts does on disk (FTS5
//      queries cost milliseconds per name in a large registry); it finds every entity
//      scoring >= min(fuzzy_review, fuzzy_accept - fuzzy_margin), exactly. A candidate
//      is accepted only when ALL hold: same type, score >=
//      RegistryOptions::fuzzy_accept (0.85), score - runner-up >= fuzzy_margin (0.05),
//      legal forms compatible (equal, or one side has none), the same tokens with digits
//      ("Block 15" is not "Block 17"), the same words but one misspelt one (edit
//      distance <= length/4, so words under 4 letters must match; an added or dropped word
//      is never absorbed), and no
//      conflicting identifier.
//   5. "new": otherwise a new entity. When step 2 or 3 is ambiguous (several live
//      entities), or the best fuzzy candidate scored >= fuzzy_review (0.75) without being
//      accepted, the new entity is flagged `possible_duplicate_of` that candidate and the
//      method is "new_possible_duplicate". Nothing is ever merged silently.
// Steps 2-4 skip a candidate whose CIK or LEI differs from the input's. A merged entity
// redirects to its survivor. A match fills the entity's missing identifiers (journaled).
// Resolution is deterministic: entity ids are derived from (type, identifier or
// normalised name), and every tie is broken by creation order, so the same inputs in the
// same order give the same ids in a fresh database.
//
// Memory: the trigram index behind fuzzy matching and find holds every entity's core
// name and trigrams (about 200 bytes per entity, some 40 MB for 200,000), plus a prefix
// filter for searches at the fuzzy floor (about 110 bytes per entity); it is built on
// first use (about a second for 200,000) and kept in step with the database by rid and
// by a change counter (migration 0101), so other processes' writes and rollbacks are
// seen. Beside it, 64-bit hashes of every entity's and alias's normalised name (about
// 40 bytes each) tell the prefetch thread which inputs the exact and alias steps will
// decide, so that it does not search them, and let resolution skip those steps' lookups
// for a name that no entity or alias has (migration 0104 keeps them exact).
//
// Threading: an EntityRegistry wraps one Store and shares its threading (one thread at
// a time). Inside a large resolve_all it runs a second thread of its own, which reads no
// database, that shares the fuzzy searches (RegistryOptions::prefetch_min_inputs);
// it stops before resolve_all returns. Several processes may resolve against one
// database file at once: every write is a BEGIN IMMEDIATE transaction, retried on
// kTransient (SQLITE_BUSY) with RetryPolicy, so writers serialise and neither duplicates
// nor journal entries are lost.

struct EntityInput {
  std::string type;                         // entity type, e.g. "COMPANY"; required
  std::string name;                         // the raw name as written; required. A new
                                            // entity's canonical name is it less its
                                            // invisible (default-ignorable) code points;
                                            // aliases keep it verbatim
  std::optional<std::string> cik;           // digits, padded to 10 here; kInvalidInput otherwise
  std::optional<std::string> ticker;        // stored upper-cased; never used to match
  std::optional<std::string> lei;           // 20 alphanumerics, upper-cased here
  std::optional<std::string> jurisdiction;  // stored as given
  std::string doc_id;                       // the document that mentions it ("" for none)
  std::string run_id;                       // the run that resolves it ("" for none)
  bool authoritative = false;               // a filer identity from filing metadata (SEC
                                            // header, iXBRL dei:), not a model's extraction
  // A CUSIP (9 characters, valid check digit; kInvalidInput otherwise): its issuer
  // number (the first 6) identifies the entity, after the CIK and the LEI.
  std::optional<std::string> cusip = {};
};

// `raw` as a CUSIP: trimmed, upper-cased, 9 letters or digits whose last is the check
// digit of the first 8; kInvalidInput otherwise.
Result<std::string> normalize_cusip(std::string_view raw);

// The filer identity of a document (company + CIK from its metadata) as an authoritative
// input of type COMPANY, or nullopt when the document names no company. Takes the fields,
// not a DocumentRecord, so that callers holding the metadata need not read the text again.
std::optional<EntityInput> filer_input(std::string doc_id,
                                       const std::optional<std::string>& company,
                                       const std::optional<std::string>& cik, std::string run_id);

struct Resolution {
  std::string entity_id;
  std::string method;  // cik | lei | exact | alias | fuzzy | new | new_possible_duplicate
  double score = 0;    // 1 for identifier/exact/alias/new, the Dice score for fuzzy
  bool created = false;                          // a new entity was inserted
  std::optional<std::string> possible_duplicate_of;
};

struct Candidate {
  std::string entity_id;
  std::string type;
  std::string name;    // canonical name
  std::string method;  // cik | lei | ticker | exact | alias | substring | fuzzy
  double score = 0;    // 1 for identifier/exact/alias; Dice score otherwise
  std::string matched;  // the name or identifier that matched
};

struct AliasRecord {
  std::int64_t alias_id = 0;
  std::string raw, norm;
  std::string method;  // how it was learnt: the resolution method, "seed" or "merge"
  std::optional<std::string> doc_id, run_id;
};

struct MergeRecord {
  std::string merge_id;  // "mrg_<n>"
  std::string survivor_id, merged_id;
  std::optional<std::string> run_id;
  std::string state;  // active | undone
  std::string merged_at;
  std::optional<std::string> unmerged_at;
};

struct JournalEntry {
  std::int64_t seq = 0;
  std::optional<std::string> run_id;
  std::string op;  // insert | update | alias | merge | unmerge
  std::string entity_id;
  std::optional<std::string> target;  // merge partner or possible_duplicate_of
  std::string before_json, after_json;
  std::string at;
  bool undone = false;  // undone by rollback_run
};

struct Mention {
  std::string doc_id, run_id;
};

struct EntityDetails {
  std::string entity_id, type, name, norm_name;
  std::optional<std::string> cik, ticker, lei, jurisdiction;
  std::optional<std::string> cusip;  // the CUSIP issuer number (6 characters)
  bool authoritative = false;
  std::optional<std::string> possible_duplicate_of;
  std::optional<std::string> merged_into;  // set when merged away into another entity
  std::vector<AliasRecord> aliases;
  std::vector<Mention> mentions;
  std::vector<MergeRecord> merges;  // where it is survivor or merged, oldest first
};

// How many entity inputs a caller resolving many documents (the run coordinator)
// gathers into one resolve_all, whole documents at a time. A commit writes every page the
// group dirtied, and the random-key indexes (mentions by entity, entity ids, names) dirty
// about one page per row in small groups: at 200,000 entities, groups of 2,000 / 10,000 /
// 20,000 gave 10.7k / 12.6k / 14.0k resolutions/s (registry_bench). A group of this size
// holds the write lock for one to two seconds (busy_timeout is 15 s).
inline constexpr std::size_t kResolveGroupInputs = 10000;

struct RegistryOptions {
  double fuzzy_accept = 0.85;  // minimum Dice score for a fuzzy match
  double fuzzy_margin = 0.05;  // minimum lead of the best fuzzy candidate over the runner-up
  double fuzzy_review = 0.75;  // a new entity is flagged possible_duplicate_of from this
                               // score (among candidates >= min(review, accept - margin),
                               // which the trigram index always finds)
  std::size_t max_fuzzy_trigrams = 256;  // core names with more trigrams (or find texts
                                         // longer than this) skip fuzzy/substring matching
  std::size_t max_fuzzy_rows = 256;      // candidates (best first) loaded from the database
                                         // per fuzzy lookup at most; bounds the cost when
                                         // many names score alike
  // resolve_all with at least this many inputs shares its fuzzy searches with a second
  // thread (0: never). Same results, less wall time.
  std::size_t prefetch_min_inputs = 256;
  RetryPolicy retry;  // for SQLITE_BUSY (kTransient) around each write transaction
};

// Default-ignorable code points removed (zero-width spaces and joiners, word joiner, soft
// hyphen, bidi marks, variation selectors, ...: core's nfkc_visible), so that an invisible
// character cannot make a twin of a known name; then NFKC (full-width ＡＣＭＥ -> acme),
// Unicode case folding, punctuation and symbols dropped ('.' and apostrophes
// deleted, others become spaces), whitespace collapsed, a leading "the" dropped, and
// legal forms unified: Inc/Incorporated -> inc, Corp/Corporation -> corp, Co/Company
// -> co, Ltd/Limited -> ltd, LLC, LP, LLP, PLC, N.V. -> nv, B.V. -> bv, S.A. -> sa, AG,
// GmbH, SE, N.A./National Association -> na, 주식회사/(주)/㈜ -> 주식회사 (moved last).
// A name that is nothing but punctuation normalises to its folded self, so that it stays
// distinct and findable. Invalid UTF-8 bytes become U+FFFD (a symbol, so a space); NUL
// and other controls are spaces.
std::string normalize_name(std::string_view name);
// The normalised name without its legal-form tokens (what fuzzy matching compares).
std::string core_name(std::string_view normalized);
// Dice coefficient over the distinct code-point trigrams of two strings, in [0, 1].
double trigram_similarity(std::string_view a, std::string_view b);

class EntityRegistry {
 public:
  // `clock` paces retries (nullptr: the system clock). The store must outlive this.
  explicit EntityRegistry(Store& store, RegistryOptions options = {}, Clock* clock = nullptr);
  ~EntityRegistry();

  // Resolves one entity (one transaction). kInvalidInput for an empty type or name, or a
  // malformed CIK/LEI; kTransient when the database stayed locked through the retries.
  Result<Resolution> resolve(const EntityInput& input);
  // Resolves entities in order (one document's, or several documents' one after the
  // other), in ONE transaction: all are recorded or none (a crash halfway leaves none).
  // `also`, when given, runs inside that transaction with the resolutions, so that a
  // caller's own records of them (the run ledger) commit with them; an error from it
  // rolls everything back. It may run more than once (a retry after SQLITE_BUSY), so it
  // must write idempotently. Errors as resolve(); the message names the index.
  Result<std::vector<Resolution>> resolve_all(
      const std::vector<EntityInput>& inputs,
      const std::function<Status(const std::vector<Resolution>&)>& also = {});

  // Ranked candidates for a free text (a name, CIK, LEI, CUSIP or ticker), best first, ties by
  // entity id; `type` restricts the type. Read-only. kInvalidInput for an empty text.
  Result<std::vector<Candidate>> find(std::string_view text,
                                      const std::optional<std::string>& type = std::nullopt,
                                      std::size_t limit = 10);
  // kNotFound for an unknown id.
  Result<EntityDetails> show(std::string_view entity_id);
  // The entity's own fields only (aliases, mentions and merges left empty): what staging
  // needs, at a cost that does not grow with the documents that mention it.
  Result<EntityDetails> identity(std::string_view entity_id);

  // B becomes an alias of A: B redirects to A, B's canonical name is added to A's
  // aliases; one journal entry. kNotFound for an unknown id; kInvalidInput when A == B,
  // the types differ, or either is already merged away.
  Result<MergeRecord> merge(std::string_view a, std::string_view b,
                            const std::optional<std::string>& run_id = std::nullopt);
  // Undoes a merge exactly (the alias it added is removed). kNotFound for an unknown
  // merge id; kInvalidInput when it is already undone or B was merged again since.
  Status unmerge(std::string_view merge_id);
  // Journal entries that concern the entity (as subject or target), oldest first.
  // kNotFound for an unknown id.
  Result<std::vector<JournalEntry>> history(std::string_view entity_id);

  // Undoes every journal entry of the run in reverse order, and deletes its mentions, in
  // one transaction; the entries stay in the journal marked undone. Afterwards dump()
  // equals what it was before the run. kNotFound when the registry holds nothing of the
  // run; kInvalidInput when a later change of another run or a manual merge touches an
  // entity this run changed (roll that back or unmerge it first). Rolling back twice is
  // kNotFound the second time. A crash halfway leaves the state before the call.
  Status rollback_run(std::string_view run_id);
  // Removes what one document contributed to the registry in one run, in one transaction:
  // its mentions; the entities it created that no remaining mention (any document, any
  // run) and no other live journal entry refers to, with this run's entries on them; and
  // the aliases it taught that no remaining mention's document contains verbatim. The
  // undone entries are marked undone, so a later rollback_run undoes only the rest.
  // Identifiers it filled into surviving entities stay (rollback_run undoes them).
  // kInvalidInput for an empty id; kNotFound when the registry holds nothing of the
  // document in the run. A crash halfway leaves the state before the call.
  Status rollback_document(std::string_view run_id, std::string_view doc_id);
  // Number of journal entries of the run that are not undone (0 for an unknown run).
  Result<std::int64_t> journal_count(std::string_view run_id);

  // The registry's state as canonical text, one sorted line per row: entities, aliases,
  // mentions, active merges and the FTS index contents. The journal and undone merges
  // are history, not state, and are left out. For tests and audits.
  Result<std::string> dump();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fgraph::registry
