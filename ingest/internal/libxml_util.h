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

// HTML parser with RECOVER|NOERROR|NOWARNING|NONET|COMPACT; the bytes must be UTF-8
// (the explicit encoding overrides any <meta charset>). Null when nothing could be built.
XmlDocPtr parse_html(std::string_view utf8, const char* url);

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

// Concatenated text content of a subtree.
std::string text_content(const xmlNode* node);

// Whitespace runs collapsed to one space, ends trimmed.
std::string collapse_spaces(std::string_view s);

}  // namespace fgraph::ingest::internal
