// ingest/internal: HTML and inline XBRL to clean text, and iXBRL registrant facts.
//
// Owns the block-aware text walker: block elements (p, div, headings, lists, tables)
// end paragraphs, <br>/<li> end lines, table rows become one line with cells joined by
// " | ", and scripts, styles, <head>, comments, display:none elements and the hidden
// ix:header are dropped. iXBRL elements are transparent inline wrappers (visible facts
// and ix:exclude text stay). Works on trees from either libxml2 parser and with libxml2
// 2.9 and >= 2.11 naming (names are matched lower-cased, after the last ':').
// Threading: reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/core.h"
#include "ingest/internal/libxml_util.h"
#include "ingest/internal/text_builder.h"

namespace fgraph::ingest::internal {

// Registrant metadata read from iXBRL facts (hidden ones included), normalised.
struct IxbrlFacts {
  std::optional<std::string> registrant_name;  // dei:EntityRegistrantName or UK legal name
  std::optional<std::string> cik;              // dei:EntityCentralIndexKey, 10 digits
  std::optional<std::string> document_type;    // dei:DocumentType
  std::optional<std::string> period_end;       // YYYY-MM-DD
  std::optional<std::string> uk_company_number;  // UKCompaniesHouseRegisteredNumber
};

struct HtmlText {
  std::string text;
  bool ixbrl = false;  // inline XBRL facts were found
  IxbrlFacts facts;
};

enum class Layout {
  kHtml,  // HTML element semantics
  kDart,  // DART dart3.xsd XML: P/TITLE/SECTION-n blocks, TD/TH/TE/TU cells
};

// Parses UTF-8 HTML/XHTML with libxml2's HTML parser and renders it. kInvalidInput when
// libxml2 cannot build a tree at all.
Result<HtmlText> html_to_text(std::string_view utf8, const std::string& url);

// Renders the subtree under `node` into `out` with the given element semantics.
void render_tree(const xmlNode* node, Layout layout, TextBuilder& out);

// Reads a displayed date ("June 28, 2025", "28 June 2025", "31.3.19", "2025-06-28",
// "12/31/2024", "20250628") as YYYY-MM-DD.
std::optional<std::string> parse_display_date(std::string_view display);

// Renders an HTML fragment (an XBRL text block) as one collapsed line.
std::string html_fragment_to_line(std::string_view utf8);

}  // namespace fgraph::ingest::internal
