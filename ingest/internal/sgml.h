// ingest/internal: the EDGAR SGML splitter.
//
// Owns: reading full-submission `.txt` files (with or without the 1990s PEM envelope),
// EDGAR feed `.nc` files (tag-style header, bare-CR line ends) and documents cut out of
// submissions (`<DOCUMENT>`/`<TYPE>` lines before the payload): the header metadata and
// one block per `<DOCUMENT>`, payload cut out of `<TEXT>` with `<XML>`/`<XBRL>` wrappers
// removed. It does not interpret payloads beyond recognising uuencoded binaries.
// Threading: pure functions, reentrant.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"

namespace fgraph::ingest::internal {

struct HeaderParty {
  std::string role;  // "filer", "subject-company", "reporting-owner", "issuer", ...
  std::string name;
  std::string cik;   // as written (10 digits in EDGAR), "" when absent
};

struct SubmissionHeader {
  std::optional<std::string> accession;  // "0000943374-24-000509"
  std::optional<std::string> form_type;  // CONFORMED SUBMISSION TYPE / <TYPE>
  std::optional<std::string> filed_at;   // YYYY-MM-DD
  std::optional<std::string> period;     // YYYY-MM-DD
  std::vector<HeaderParty> parties;      // in header order, duplicates (role, cik) removed
  // The header's own lines, between <SEC-HEADER> and </SEC-HEADER> (or the .nc
  // <SUBMISSION> tags before the first <DOCUMENT>): a view into Submission::text.
  std::string_view text;
};

struct SgmlDocument {
  std::string type, sequence, filename, description;  // "" when absent
  // The <TEXT> content without <XML>/<XBRL> wrappers: a view into Submission::text, so
  // that a 64 MB submission is not held a third time in copies of its payloads.
  std::string_view payload;
};

struct Submission {
  bool has_header = false;  // a <SEC-HEADER> or .nc <SUBMISSION> header was present
  SubmissionHeader header;
  std::vector<SgmlDocument> documents;  // valid while `text` lives
  // The submission with LF line ends and no PEM envelope; on the heap so that moving the
  // Submission never moves the bytes the payloads view.
  std::unique_ptr<const std::string> text;
};

// True when the bytes look like an SGML submission or a document cut out of one.
bool looks_like_sgml(std::string_view bytes);

// Splits a submission. kInvalidInput, with a message naming what is missing, when the
// file is truncated (header never closed, a <DOCUMENT> never closed, or nothing found).
Result<Submission> split_submission(std::string_view bytes);

// CRLF and bare CR become LF.
std::string normalise_line_ends(std::string_view bytes);

// Removes a PEM "PRIVACY-ENHANCED MESSAGE" envelope and its "- " dash escaping; returns
// the input unchanged when there is no envelope.
std::string strip_pem_envelope(std::string_view text);

// Why a document's payload is not text ("uuencoded binary attachment (JPG)", ...), or
// nullopt when it should be parsed.
std::optional<std::string> skip_reason(const SgmlDocument& doc);

// Drops EDGAR ASCII markup tags (<PAGE>, <TABLE>, <CAPTION>, <S>, <C>, <FN>, <Fn>) from
// a plain-text document.
std::string strip_ascii_markup(std::string_view text);

}  // namespace fgraph::ingest::internal
