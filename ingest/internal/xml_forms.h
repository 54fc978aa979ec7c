// ingest/internal: XML filings to text and metadata.
//
// Owns: SEC XML forms (Forms 3/4/5 ownershipDocument, 13F-HR cover and information
// table, Schedule 13D/13G, Form D, N-PORT) rendered as readable "label: value" lines
// (the element's local name, or its parent's for <value> wrappers; attribute-borne
// values such as N-PORT `<isin value=...>` included), DART disclosure XML rendered like
// HTML, and XBRL instances and linkbases (xbrl.cpp): one line per fact.
// Threading: reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "ingest/ingest.h"
#include "ingest/internal/libxml_util.h"

namespace fgraph::ingest::internal {

struct XmlContent {
  Format format = Format::kXml;  // kXml or kXbrl
  std::string text;
  std::optional<std::string> form_type, cik, company, period, registry_id;
  std::vector<Party> parties;
  std::vector<std::string> warnings;
};

// Parses UTF-8 XML strictly (leading whitespace skipped). When that fails, stray `&` and
// `<` are escaped and the parse retried once (DART). kInvalidInput when it is still not
// well-formed.
Result<XmlContent> xml_to_content(std::string_view utf8, const std::string& url);

// Escapes `&` not starting an entity or character reference and `<` not starting a tag,
// comment, PI or CDATA section.
std::string escape_stray_markup(std::string_view xml);

// xbrl.cpp: renders an XBRL instance (root xbrli:xbrl) or a linkbase into `out`.
void render_xbrl_instance(const xmlNode* root, XmlContent& out);
void render_linkbase(const xmlNode* root, XmlContent& out);

// Helpers shared by xml_forms.cpp and xbrl.cpp.
std::string original_local_name(const xmlNode* node);  // case kept, prefix removed
std::string qualified_name(const xmlNode* node);         // "prefix:local" from the namespace
std::string zero_pad_cik(std::string_view digits);       // 10 digits, or "" if not a CIK

}  // namespace fgraph::ingest::internal
