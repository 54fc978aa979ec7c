// ingest: filing files and folders become clean, addressed documents.
//
// Owns: drop scanning (recursive, stable order, paths confined to the drop), format and
// encoding detection, SEC full-submission splitting, HTML/iXBRL/XML/XBRL/text to clean
// UTF-8 text, and filing metadata. It writes nothing; callers record documents in the
// ledger (registry::put_document).
//
// Formats: SEC full submissions (.txt with or without PEM envelope, .nc feed files, cut-out
// <DOCUMENT> blocks) are split so that each <DOCUMENT> is its own Document (its `format`
// is its content's); HTML and inline XBRL go through libxml2's HTML parser; XML forms
// (Forms 3/4/5, 13F, 13D/G, Form D, N-PORT) become "label: value" lines; XBRL instances
// become one line per fact ("qname = value unit (decimals d) | period | entity | dims",
// dimension-free facts first, text blocks cut at 1000 bytes); label linkbases one line
// per label ("concept [role, lang]: text"); DART disclosure XML is rendered like HTML.
// Sniffing uses content, never the file extension.
//
// Text normalisation (stable: later stages quote this text verbatim by offset):
// - valid UTF-8 always; undecodable bytes become U+FFFD and are counted in `warnings`;
// - whitespace runs (U+00A0 and other Unicode spaces included) collapse to one space;
//   no leading or trailing spaces on a line;
// - paragraphs (p, div, headings, lists, tables...) are separated by exactly one blank
//   line; <br>, list items and table rows end a line;
// - a table row is one line, its non-empty cells joined by " | " (empty cells dropped);
// - U+00AD soft hyphens and zero-width characters are deleted; U+0080..U+009F (from
//   `&#146;`-style references) are mapped through Windows-1252 (U+2019 ...);
// - scripts, styles, <head>/<title>, comments, display:none elements and ix:header are
//   dropped; visible iXBRL facts (and ix:exclude text) stay as displayed;
// - plain text keeps its lines (collapsed) and EDGAR ASCII tags (<PAGE>, <S>, <C>...) go.
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

// kSecSubmission names the container format; a Document never carries it, because each
// <DOCUMENT> of a submission is reported with the format of its own content.
enum class Format { kSecSubmission, kHtml, kIxbrl, kXml, kXbrl, kText };
// "sec-submission" | "html" | "ixbrl" | "xml" | "xbrl" | "text"
std::string_view to_string(Format f);

// A party named by the filing's own metadata (SEC header, iXBRL dei: facts, XML form).
struct Party {
  std::string role;  // "filer" | "subject-company" | "issuer" | "reporting-owner" | ...
  std::string name;
  std::optional<std::string> cik;  // zero-padded to 10 digits when known
};

// Document::doc_type of a submission's header (part 0).
inline constexpr std::string_view kSubmissionHeader = "SEC-HEADER";

struct Document {
  std::string doc_id;  // "sha256:" + hex SHA-256 of `text`
  std::string source;  // the path of the file, as found in the drop
  // 1-based position within its source file: the <DOCUMENT> block's index in a
  // submission (skipped blocks keep their numbers, so parts can have gaps), else 1.
  // Part 0 is a submission's header (doc_type kSubmissionHeader): its lines, trimmed,
  // as the document's text, so the facts only the header states can be grounded.
  int part = 1;
  Format format = Format::kText;  // the format of the document's own content
  std::optional<std::string> form_type;  // e.g. "10-K", "4", "EX-21.1"
  std::optional<std::string> cik;        // primary filer/issuer CIK, 10 digits
  std::optional<std::string> company;    // primary filer/issuer name
  std::optional<std::string> accession;  // "0000943374-24-000509"
  std::optional<std::string> filed_at;   // "YYYY-MM-DD"
  std::optional<std::string> period;     // "YYYY-MM-DD"
  // A non-SEC registry identifier: "dart:00126380" (DART corp code) or
  // "companies-house:02345678" (UK company number).
  std::optional<std::string> registry_id;
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
  // Stable codes:
  //   "empty_file"           zero bytes or whitespace only
  //   "binary_file"          executable, archive, image, PDF or other non-text bytes
  //   "too_large"            over Options::max_file_bytes (refused unread), or an HTML/XML
  //                          document over Options::max_markup_bytes (refused unparsed)
  //   "outside_drop"         a symlink whose target leaves the drop folder
  //   "symlink_loop"         a symlink that loops (or points back at an enclosing folder)
  //   "permission_denied"    a file or folder the process may not read
  //   "not_found"            the path does not exist (or a dangling symlink)
  //   "truncated_submission" an SGML header or <DOCUMENT> never closed
  //   "no_text"              parsed, but no text content at all
  //   "unreadable"           other I/O errors, or not a regular file or folder (a FIFO,
  //                          socket or device is refused, never opened)
  //   "inside_home"          a path named directly inside the fgraph home in use
  //   "parse_error"          libxml2 could not build a tree, or stopped before the end of
  //                          the input (it recovers from any malformed markup and stops
  //                          only at a limit of its own or out of memory): the document is
  //                          refused whole rather than passed on cut short
  std::string reason_code;
  // The <DOCUMENT> block of a submission that failed (1-based), or 0 for the whole file.
  int part = 0;
};

struct Options {
  std::uint64_t max_file_bytes = 64ull << 20;  // larger files are refused unread
  // An HTML/XML document (a file, or one <DOCUMENT> of a submission) larger than this
  // is refused "too_large": libxml2's tree takes about ten times the markup's size, and
  // this keeps the peak of parsing any accepted file under 4x max_file_bytes
  // (ARCHITECTURE.md, "Memory"). Plain text and submissions are not trees. Default 16 MiB.
  std::uint64_t max_markup_bytes = 16ull << 20;
  bool follow_symlinks_within_root = true;     // symlinks whose target stays in the root
  // Files and folders whose name starts with '.' (.git, .DS_Store, the default home
  // ./.fgraph) are passed over in folder walks unless set; they are not inputs and are
  // not reported, only counted (ParseResult::hidden_skipped). A path named directly is
  // always read. Default false.
  bool include_hidden = false;
  // Folders never read: the fgraph home in use, so that a drop holding it (`fgraph run .`
  // with the default ./.fgraph) never reads the ledger as filings. Compared by canonical
  // path (symlinks and `..` resolved); a folder walk passes over them silently, even with
  // include_hidden, and a path named directly inside one fails with "inside_home".
  // Paths that do not exist are ignored. Default none.
  std::vector<std::string> excluded_dirs;
};

struct ParseResult {
  std::vector<Document> documents;
  std::vector<Skipped> skipped;
  std::vector<Failure> failures;
  // Hidden files and folders a folder walk passed over (Options::include_hidden); a
  // hidden folder counts once, whatever it holds.
  std::size_t hidden_skipped = 0;
};

// Parses one file into its documents. Never throws; failures are values. A path that is
// not a regular file (FIFO, socket, device, folder) fails "unreadable" without being
// opened, so a FIFO cannot block the caller.
ParseResult parse_file(const std::string& path, const Options& options = {});

// Parses the given files and folders (folders recursively, entries in byte-wise sorted
// order, hidden entries and Options::excluded_dirs passed over). A folder argument is the
// root that its symlinks may not escape; a file named directly is read where it (or its
// symlink) points. Anything that is neither a regular file nor a folder is refused
// unopened. Per-file problems become Failures and never stop the rest.
ParseResult parse_paths(const std::vector<std::string>& paths, const Options& options = {});

// Parses bytes already in memory (`name` is used for format hints and messages).
ParseResult parse_bytes(std::string_view bytes, const std::string& name,
                        const Options& options = {});

// "sha256:<hex>" of the text.
std::string make_doc_id(std::string_view text);

}  // namespace fgraph::ingest
