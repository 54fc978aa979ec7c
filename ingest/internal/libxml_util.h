// ingest/internal: the libxml2 adapter shared by the ingest parsers.
//
// Owns: process-wide libxml2 initialisation (once; xmlCleanupParser is never called per
// parse), silencing libxml2's own stderr output, owning handles for parsed documents,
// and small node helpers. Only ingest's .cpp files include this header.
// Threading: parse functions are reentrant; init is guarded by std::call_once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/core.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

namespace fgraph::ingest::internal {

struct XmlDocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

// Initialises libxml2 once and installs error handlers that discard its messages on the
// calling thread (libxml2's handlers are per thread).
void prepare_libxml();

// HTML parser with RECOVER|NOERROR|NOWARNING|NONET|COMPACT|HUGE; the bytes must be UTF-8
// (the explicit encoding overrides any <meta charset>).
// HUGE lifts libxml2's nesting limit (256 elements without it; old EDGAR HTML leaves
// hundreds of <FONT> tags open) and its 10 MB text node limit. When libxml2 still stops
// before the end of the input (a limit of a newer libxml2, out of memory), the parser
// halts and the tree holds only the text before that point: that is an error here,
// never a shorter document. kInvalidInput when the parser stopped early or built nothing.
// `lift_limits` false keeps libxml2's default limits: only tests use it, to make the
// parser halt.
Result<XmlDocPtr> parse_html(std::string_view utf8, const char* url, bool lift_limits = true);

// XML parser, NONET|NOERROR|NOWARNING, no entity expansion, no RECOVER (recover mode
// silently drops text after the first error). Leading whitespace is skipped. Null on any
// well-formedness error.
XmlDocPtr parse_xml(std::string_view utf8, const char* url);

// Lower-cased element name after its last ':' ("ix:nonNumeric" -> "nonnumeric").
std::string local_name(const xmlNode* node);

// Allocation-free variant for hot loops: the lower-cased local name written into `buf`
// (names of 40 bytes or more yield "").
std::string_view local_name_into(const xmlNode* node, char (&buf)[40]);

// The raw text of an attribute (case-insensitive name), without copying; "" if absent
// or not a single text node.
std::string_view attribute_view(const xmlNode* node, const char* name);

// An attribute's value ("" when absent). Tries the exact name, then lower case (the HTML
// parser lowercases attribute names).
std::string attribute(const xmlNode* node, const char* name);

// Concatenated text content of a subtree (iterative: any depth).
std::string text_content(const xmlNode* node);

// Whitespace runs collapsed to one space, ends trimmed.
std::string collapse_spaces(std::string_view s);

// The node after `node` in document order (pre-order), descending into children when
// `descend`, never leaving the subtree of `root`; null at the end. Walks of any depth use
// it instead of recursion, which a deeply nested tree would run off the stack.
const xmlNode* next_in_subtree(const xmlNode* node, const xmlNode* root, bool descend);

}  // namespace fgraph::ingest::internal
