// The web console's pages (console_pages.cpp): each builds its body from the typed calls
// the JSON API uses, escaping every value through html::escape.
// Threading: each call uses the LedgerContext it is given, on the calling thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/core.h"
#include "run/run.h"
#include "service/internal/ledger.h"
#include "service/service.h"

namespace fgraph::service::pages {

struct Request {
  LedgerContext& ledger;
  const run::Settings& settings;
  AlertList& alerts;
  const std::vector<std::string>& params;  // the route's {name} segments, decoded
  const std::map<std::string, std::string>& query;
  const std::string& csrf;                 // the session's CSRF token, for forms
};

struct Rendered {
  std::string title;
  std::string body;    // HTML
  std::string search;  // the search box's text
};

// Rows per page of the paginated lists.
inline constexpr std::int64_t kRunsPerPage = 50;
inline constexpr std::int64_t kDocumentsPerPage = 50;
inline constexpr std::int64_t kDropsPerPage = 100;

Result<Rendered> runs(const Request& r);      // /ui/
Result<Rendered> run(const Request& r);       // /ui/runs/{id}
Result<Rendered> dropped(const Request& r);   // /ui/runs/{id}/dropped?reason=&page=
Result<Rendered> document(const Request& r);  // /ui/runs/{id}/documents/{doc}?find=
Result<Rendered> entity(const Request& r);    // /ui/entities/{id}
Result<Rendered> search(const Request& r);    // /ui/search?q=
Result<Rendered> cost(const Request& r);      // /ui/cost

// The 1-based "page" query parameter (1 when absent or malformed).
std::int64_t page_of(const std::map<std::string, std::string>& query);

// The document's text as HTML with each span in <mark data-fact-id=ID title=TITLE>;
// spans are code-point offsets; overlapping spans nest, so the text under all marks of
// one id, in order, is exactly that span. `found` (optional) is marked as id="found".
struct Span {
  std::uint32_t start = 0, end = 0;
  std::string fact_id, title;  // fact_id "" for the `found` mark
};
std::string marked_text(std::string_view text, std::vector<Span> spans);

}  // namespace fgraph::service::pages
