// ingest: filing files and folders become clean, addressed documents.
//
// Owns: drop scanning (recursive, stable order, paths confined to the drop), format and
// encoding detection, SEC full-submission splitting, HTML/iXBRL/XML/XBRL/text to clean
// UTF-8 text, and filing metadata. It writes nothing; callers record documents in the
// ledger (registry::put_document).
//
// Threading: the functions are reentrant; they share no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"

namespace fgraph::ingest {

enum class Format { kSecSubmission, kHtml, kIxbrl, kXml, kXbrl, kText };
// "sec-submission" | "html" | "ixbrl" | "xml" | "xbrl" | "text"
std::string_view to_string(Format f);

// A party named by the filing's own metadata (SEC header, iXBRL dei: facts, XML form).
struct Party {
  std::string role;  // "filer" | "subject-company" | "issuer" | "reporting-owner" | ...
  std::string name;
  std::optional<std::string> cik;  // zero-padded to 10 digits when known
};

struct Document {
  std::string doc_id;  // "sha256:" + hex SHA-256 of `text`
  std::string source;  // the path of the file, as found in the drop
  int part = 1;        // 1-based position of this document within its source file
  Format format = Format::kText;  // the format of the document's own content
  std::optional<std::string> form_type;  // e.g. "10-K", "4", "EX-21.1"
  std::optional<std::string> cik;        // primary filer/issuer CIK, 10 digits
  std::optional<std::string> company;    // primary filer/issuer name
  std::optional<std::string> accession;  // "0000943374-24-000509"
  std::optional<std::string> filed_at;   // "YYYY-MM-DD"
  std::optional<std::string> period;     // "YYYY-MM-DD"
  // From the SGML <DOCUMENT> block, when there was one.
  std::optional<std::string> doc_type, sequence, filename, description;
  std::vector<Party> parties;  // every party the metadata names
  std::string text;            // clean UTF-8, whitespace normalised, no markup
  std::vector<std::string> warnings;  // e.g. "replaced 3 undecodable bytes"
};

// A part of a source that was deliberately not turned into a document.
struct Skipped {
  std::string source;
  int part = 0;
  std::string reason;  // e.g. "uuencoded binary attachment (PDF)"
};

// A file that could not be read or parsed at all.
struct Failure {
  std::string source;
  Error error;  // kInvalidInput with a readable message; code() for JSON below
  std::string reason_code;  // stable: "empty_file", "binary_file", "too_large",
                            // "outside_drop", "symlink_loop", "permission_denied",
                            // "truncated_submission", "unreadable", "parse_error"
};

struct Options {
  std::uint64_t max_file_bytes = 64ull << 20;  // larger files are refused unread
  bool follow_symlinks_within_root = true;     // symlinks whose target stays in the root
};

struct ParseResult {
  std::vector<Document> documents;
  std::vector<Skipped> skipped;
  std::vector<Failure> failures;
};

// Parses one file into its documents. Never throws; failures are values.
ParseResult parse_file(const std::string& path, const Options& options = {});

// Parses the given files and folders (folders recursively, entries in byte-wise sorted
// order). A folder argument is the root that its symlinks may not escape.
ParseResult parse_paths(const std::vector<std::string>& paths, const Options& options = {});

// Parses bytes already in memory (`name` is used for format hints and messages).
ParseResult parse_bytes(std::string_view bytes, const std::string& name,
                        const Options& options = {});

// "sha256:<hex>" of the text.
std::string make_doc_id(std::string_view text);

}  // namespace fgraph::ingest
