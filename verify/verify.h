// verify: decides which extracted facts may reach the graph (DESIGN.md invariants 1-3).
//
// Owns: strict schema validation of model output against the exact schema text sent with
// its request, reference checks between facts, evidence matching (substring-or-drop)
// under one documented normalisation, the cross-document leak check, the closed set of
// drop reasons, and the SQL that records verdicts in the ledger (tables of migration 0300).
//
// Evidence normalisation, applied identically to document text, quotes and names:
//   1. the text is split into extended grapheme clusters (UAX #29) and each cluster is
//      brought to Unicode NFKC (utf8proc); invalid UTF-8 bytes become U+FFFD;
//   2. typographic quotes fold to ASCII: ‘ ’ ‚ ‛ ′ ʼ ＇ to ' and “ ” „ ‟ ″ ＂ to ";
//      dashes and minus signs (U+2010-U+2015, U+2212, U+FE58, U+FE63, U+FF0D) fold to -;
//   3. soft hyphens and zero-width characters (U+00AD, U+200B-U+200D, U+2060, U+FEFF)
//      are removed;
//   4. every run of whitespace (ASCII controls \t\n\v\f\r, U+0085, Unicode Zs/Zl/Zp,
//      non-breaking spaces included) becomes one space; leading and trailing whitespace
//      is dropped.
// Case is not folded. A quote is found when its normalised form is a substring of the
// normalised document; the match maps back to code-point offsets of the original text.
//
// Threading: Verifier, PreparedDocument and a built LeakIndex are immutable after
// construction and may be used from many threads at once. Building a LeakIndex (add) is
// single-threaded. record_verdict uses the Store it is given (one thread per Store).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "ingest/ingest.h"

namespace fgraph::registry {
class Store;
}

namespace fgraph::verify {
namespace internal {
class AnchorIndex;
}

// ---------------------------------------------------------------------------------
// Drop reasons: a closed set. Every dropped fact carries exactly one.
enum class DropReason {
  kSchemaInvalid,       // the output is not JSON or breaks its schema; the whole row fails
  kUnknownEntityRef,    // a relation end is not an entity of the output, or was dropped,
                        // or the entity id is defined more than once
  kDisallowedType,      // a type outside the schema's enumeration or refused by Options
  kSelfRelation,        // source == target for a type not in Options::self_relation_types
  kEvidenceMissing,     // the evidence is empty after normalisation
  kEvidenceTooShort,    // fewer code points than Options::min_quote_chars
  kEvidenceNotFound,    // the quote occurs in no document of the run
  kNameNotInEvidence,   // the quote lacks the entity's name, or a relation end's name
  kCrossDocumentLeak,   // absent from its own document, present in another of the run
};
// "schema_invalid", "unknown_entity_ref", ... (the names stored in the ledger).
std::string_view to_string(DropReason reason);
// The inverse of to_string; nullopt for an unknown name.
std::optional<DropReason> parse_drop_reason(std::string_view name);
// Every reason, in the order above.
const std::vector<DropReason>& all_drop_reasons();

enum class FactKind { kOutput, kEntity, kRelation };
std::string_view to_string(FactKind kind);  // "output" | "entity" | "relation"

// ---------------------------------------------------------------------------------
// Normalisation (see the top of this file).

// Normalised text plus, for every byte of it, the span of source code points it came
// from, so that any match maps back to exact offsets in the source.
struct NormalizedText {
  std::string text;                      // normalised UTF-8
  std::vector<std::uint32_t> char_begin;  // per byte: first source code point (0-based)
  std::vector<std::uint32_t> char_end;    // per byte: one past the last source code point
};

// Normalises `utf8` and keeps the offset map.
NormalizedText normalize_with_offsets(std::string_view utf8);
// Normalises `utf8` without the map (quotes, names, other documents of a run).
std::string normalize(std::string_view utf8);
// Number of code points in valid UTF-8 (counts lead bytes).
std::size_t count_code_points(std::string_view utf8);

// A half-open range of Unicode code points in a document's text.
struct CharSpan {
  std::uint32_t char_start = 0;
  std::uint32_t char_end = 0;
};

// ---------------------------------------------------------------------------------
// Documents, prepared once.

// A relation end that is the document's filer: the company (and CIK) its metadata names
// (an SEC header, iXBRL dei: facts), which the registry records for every document as an
// authoritative mention (registry::filer_input, run_entities local id "@filer"). It lets
// a fact whose one end the document's text calls only "the Registrant", or never names (a
// 13F information table's manager), be proposed: the relation needs no entity of the
// output for that end, and its evidence must still occur in the document and name the
// other end. Without a filer in the metadata it is an unknown reference, and an output
// entity may not take it as its id.
inline constexpr std::string_view kFilerRef = "@filer";

// A document ready for verification: normalised once, with what the checks need from
// its metadata. Build with prepare_document; cheap to share by const reference.
struct PreparedDocument {
  std::string doc_id;
  NormalizedText normalized;
  std::optional<std::string> filer;  // the company its metadata names (kFilerRef), if any
  // Comparison keys of the filing's own subject (company, and parties whose role is in
  // Options::subject_roles): case-folded alphanumerics without legal-form suffixes.
  std::vector<std::string> subject_keys;
  std::vector<std::string> subject_ciks;  // digits without leading zeros
  // Anchor index over normalized.text (built by prepare_document; searches fall back to a
  // plain scan without it).
  std::shared_ptr<const internal::AnchorIndex> index;

  // The first occurrence of the normalised `quote` (already normalised by the caller),
  // mapped back to code-point offsets of the source text; nullopt when absent or empty.
  std::optional<CharSpan> find_normalized(std::string_view normalized_quote) const;
  // Normalises `quote` and finds it.
  std::optional<CharSpan> find(std::string_view quote) const;
};

// Roles of ingest::Party that make a party the filing's own subject.
std::vector<std::string> default_subject_roles();

PreparedDocument prepare_document(const ingest::Document& document,
                                  const std::vector<std::string>& subject_roles =
                                      default_subject_roles());

// Whether `name` (or `cik`) is the document's own subject by its metadata, by the rule the
// checks apply (prepare_document's subject_keys and subject_ciks): an extractor may then
// leave that end of a relation out of its quote (the form extractor does).
bool is_document_subject(const ingest::Document& document, std::string_view name,
                         const std::optional<std::string>& cik,
                         const std::vector<std::string>& subject_roles = default_subject_roles());

// The key used to decide whether an entity name is the filing's subject: NFKC,
// case-folded, alphanumerics only, without a leading "the" and trailing legal-form
// words (inc, corp, corporation, co, company, ltd, limited, llc, plc, lp, llp, ...).
// "EXXON MOBIL CORP" and "Exxon Mobil Corporation" give the same key.
std::string subject_key(std::string_view name);

// ---------------------------------------------------------------------------------
// The run-level leak index: every document of a run, normalised once.
//
// Lookups are for quotes that were NOT found in their own document. An index of
// content-defined 8-byte anchors narrows the candidate documents; a quote without an
// anchor (rare, short quotes) is searched in every document.
class LeakIndex {
 public:
  LeakIndex();
  ~LeakIndex();
  LeakIndex(LeakIndex&&) noexcept;
  LeakIndex& operator=(LeakIndex&&) noexcept;

  // Adds a document (normalising its text). A doc_id added twice is kept once.
  void add(std::string_view doc_id, std::string_view text);
  // Adds a prepared document, reusing its normalised text.
  void add(const PreparedDocument& document);
  std::size_t size() const;

  // The id of a document other than `own_doc_id` whose normalised text contains
  // `normalized_quote` (the first in order of addition), or nullopt.
  std::optional<std::string> find_elsewhere(std::string_view normalized_quote,
                                            std::string_view own_doc_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------
// Verdicts.

struct VerifiedEntity {
  int index = 0;           // position in the output's `entities` array
  std::string local_id;    // the output's own id ("e1")
  std::string name;
  std::string type;        // from the schema's entity type enumeration
  std::optional<std::string> cik, ticker, lei, jurisdiction;
  std::string evidence;    // the quote as the model wrote it
  std::uint32_t char_start = 0;  // code-point offsets of the match in the document text
  std::uint32_t char_end = 0;
  bool is_subject = false;  // the entity is the filing's own subject (metadata)
};

struct VerifiedRelation {
  int index = 0;  // position in the output's `relations` array
  std::string source_local_id;
  std::string target_local_id;
  std::string type;  // from the schema's relation type enumeration
  std::string evidence;
  std::uint32_t char_start = 0;
  std::uint32_t char_end = 0;
  std::optional<double> ownership_percent;
  std::optional<std::string> effective_date;
  std::optional<std::string> role;
};

struct DroppedFact {
  FactKind kind = FactKind::kEntity;
  int index = -1;         // position in its array; -1 for the whole output
  std::string local_id;   // entity id ("" for relations and the output)
  DropReason reason = DropReason::kSchemaInvalid;
  std::string detail;     // readable: what was wrong (e.g. the missing name)
  std::string raw_json;   // the fact exactly as the model produced it (whole output for
                          // schema_invalid)
};

// A quote found in another document of the same run but not in its own: an alarm.
struct Leak {
  FactKind kind = FactKind::kEntity;
  int index = 0;
  std::string quote;
  std::string own_doc_id;
  std::string other_doc_id;
};

struct RowVerdict {
  std::string doc_id;
  bool schema_ok = false;
  std::string pointer;       // JSON pointer of the first schema violation ("" = root)
  std::string schema_error;  // the validator's description of it
  std::vector<VerifiedEntity> entities;
  std::vector<VerifiedRelation> relations;
  std::vector<DroppedFact> dropped;
  std::vector<Leak> leaks;

  std::size_t accepted_count() const { return entities.size() + relations.size(); }
  // Dropped facts per reason name (only reasons that occurred).
  std::map<std::string, int> dropped_by_reason() const;
};

// ---------------------------------------------------------------------------------
// The verifier.

struct Options {
  // Normalised quotes shorter than this many code points cannot stand alone.
  std::size_t min_quote_chars = 12;
  // Relation types that may link an entity to itself (none in extraction v1).
  std::vector<std::string> self_relation_types;
  // Types the schema allows but this deployment refuses (entity or relation); empty.
  std::vector<std::string> refused_types;
  // Party roles that mark the filing's subject (a relation end that need not be named).
  std::vector<std::string> subject_roles = default_subject_roles();
};

class Verifier {
 public:
  // Builds a verifier from the exact schema text sent with the requests. The entity and
  // relation type enumerations are read from it. kInvalidInput when the text is not
  // JSON, not a schema valijson accepts, or lacks the entities/relations type enums.
  static Result<Verifier> create(std::string_view schema_text, Options options = {});
  ~Verifier();
  Verifier(Verifier&&) noexcept;
  Verifier& operator=(Verifier&&) noexcept;

  // Verifies one model output against its own document. `run` (may be null) holds the
  // run's documents for the leak check. Never fails: every problem is a verdict.
  RowVerdict verify(const PreparedDocument& document, std::string_view output_json,
                    const LeakIndex* run = nullptr) const;

  const std::vector<std::string>& entity_types() const;
  const std::vector<std::string>& relation_types() const;
  const std::string& schema_sha256() const;  // hex SHA-256 of the schema text
  const Options& options() const;

 private:
  Verifier();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The schema text of extraction v1 (schemas/extraction.v1.json, embedded at build time).
std::string_view extraction_schema_v1();

// ---------------------------------------------------------------------------------
// Ledger (tables verified_facts, dropped_facts, evidence_leaks of migration 0300).

// Which row a verdict belongs to.
struct RowKey {
  std::string run_id;
  std::string request_id;
  std::string batch_id;  // provider batch id, "" for sync lanes
};

// Records a row's verdict: replaces whatever that (run_id, request_id) had before, in one
// transaction, so re-verifying a row is idempotent. `verified_at` is RFC 3339.
// kInvalidInput when the run or document is not in the ledger (foreign keys); kTransient
// when the database is busy. A crash halfway leaves the previous record.
Status record_verdict(registry::Store& store, const RowKey& key, const RowVerdict& verdict,
                      std::string_view verified_at);

// What verify recorded, read back as structs: the other stages read these tables only
// through the functions below.

// One document's accepted facts in a run, in (request, position) order, each with the
// request (row key of record_verdict) it came from: local ids are unique per request.
struct DocumentFacts {
  std::vector<std::pair<std::string, VerifiedEntity>> entities;     // (request_id, entity)
  std::vector<std::pair<std::string, VerifiedRelation>> relations;  // (request_id, relation)
};
Result<DocumentFacts> recorded_facts(registry::Store& store, const std::string& run_id,
                                     const std::string& doc_id);

// A run's verdicts in numbers, and its leak alarms (in request order).
struct RunVerdicts {
  std::int64_t accepted = 0;  // entities and relations
  std::map<std::string, std::int64_t> accepted_by_request;  // by row key (record_verdict)
  std::int64_t dropped = 0;
  std::map<std::string, std::int64_t> dropped_by_reason;
  struct LeakAlarm {
    std::string batch_id, own_doc_id, other_doc_id, quote;
  };
  std::vector<LeakAlarm> leaks;
};
Result<RunVerdicts> run_verdicts(registry::Store& store, const std::string& run_id);
// Issue 20 (quality tracks): each recorded row's verdict in numbers, by request id (the
// row key of record_verdict). A row whose whole output broke the schema has schema_ok
// false; a row verified with no facts at all has no entry.
struct RowTally {
  bool schema_ok = true;
  std::int64_t accepted = 0, dropped = 0, leak_alarms = 0;  // dropped: facts, not the output
  std::map<std::string, std::int64_t> dropped_by_reason;   // the output's schema_invalid too
};
Result<std::map<std::string, RowTally>> row_tallies(registry::Store& store, const std::string& run_id);
// Every run's verdicts in numbers (`fgraph report`): facts accepted and dropped, leak
// alarms, and the rows (request ids) whose whole output broke the schema. One pass over
// each table's primary key, whatever the number of runs.
struct RunTally {
  std::int64_t accepted = 0, dropped = 0, leak_alarms = 0;
  std::set<std::string> schema_invalid;  // row keys
};
Result<std::map<std::string, RunTally>> run_tallies(registry::Store& store);

// ---- For the web console (service/console*.cpp): dropped facts as records, a page at a time.
struct RecordedDrop {
  std::string doc_id, request_id;
  FactKind kind = FactKind::kEntity;
  int index = -1;         // position in its array; -1 for the whole output
  std::string local_id;
  std::string reason;     // to_string(DropReason)
  std::string detail;
  std::string quote;      // the fact's "evidence" as the model wrote it ("" when it had none)
  std::string raw_json;   // the fact (or whole output) exactly as produced
};
struct DropQuery {
  std::string run_id;
  std::optional<std::string> doc_id;  // one document's drops only
  std::optional<std::string> reason;  // one reason's only
  std::int64_t offset = 0, limit = 100;
};
struct DropPage {
  std::int64_t total = 0;  // drops matching the query, all pages
  std::vector<RecordedDrop> drops;  // in (doc, request, kind, position) order
};
Result<DropPage> recorded_drops(registry::Store& store, const DropQuery& query);
// Accepted and dropped facts of one document in a run.
struct FactCounts {
  std::int64_t accepted = 0, dropped = 0;
};
Result<FactCounts> document_fact_counts(registry::Store& store, const std::string& run_id,
                                        const std::string& doc_id);

// (doc_id, evidence) of every relation verify accepted in `run_id`: what the audit checks
// staged facts against.
Result<std::set<std::pair<std::string, std::string>>> accepted_relation_evidence(
    registry::Store& store, const std::string& run_id);

}  // namespace fgraph::verify
