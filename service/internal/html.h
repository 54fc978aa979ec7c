// The web console's HTML primitives: the one escaping function every value from a filing
// or a model goes through, URL encoding for the console's own links, and the page frame
// (head with the embedded stylesheet and script, the search box, the navigation).
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fgraph::service::html {

// Appends `text` escaped for element content and double- or single-quoted attribute
// values: & < > " ' become entities, NUL becomes U+FFFD. Nothing else is needed inside a
// quoted attribute or text, so a filing's `<script>`, `onerror=` or `javascript:` stays
// text. Never use it for an unquoted attribute, a URL or inside <script>/<style>.
void escape(std::string& out, std::string_view text);
std::string escape(std::string_view text);

// Percent-encodes everything but unreserved characters (A-Z a-z 0-9 - . _ ~): for a path
// segment or a query value of a console link. A link is always "/ui/..." + encoded parts,
// so no value can change its scheme or origin.
std::string url_encode(std::string_view text);

// At most `max_chars` code points of `text`, with "…" when cut (for a heading or a link;
// the whole text goes in a title attribute beside it). Not escaped.
std::string clipped(std::string_view text, std::size_t max_chars = 160);

// Dollars as "$1.2345" (four decimals below a dollar, two above).
std::string dollars(double usd);

// What every page carries.
struct Frame {
  std::string title;   // escaped here
  std::string csrf;    // the session's CSRF token, for the logout form ("" on the login page)
  std::string search;  // the search box's current text (escaped here)
};
// A whole page: `body` is HTML already escaped by its builder.
std::string page(const Frame& frame, std::string_view body);

// "Page 2 of 7" links: `base` is an already encoded link ending in '?' or '&'.
std::string pager(std::string_view base, std::int64_t page, std::int64_t per_page,
                  std::int64_t total);

}  // namespace fgraph::service::html
