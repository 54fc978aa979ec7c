#include "ingest/internal/libxml_util.h"

#include <cctype>
#include <climits>
#include <mutex>

#include <libxml/xmlerror.h>

namespace fgraph::ingest::internal {
namespace {

void discard_generic(void*, const char*, ...) {}
void discard_structured(void*, xmlError*) {}

std::string_view skip_leading_space(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return s.substr(i);
}

}  // namespace

void prepare_libxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
  xmlSetGenericErrorFunc(nullptr, discard_generic);
  xmlSetStructuredErrorFunc(nullptr, discard_structured);
}

Result<XmlDocPtr> parse_html(std::string_view utf8, const char* url, bool lift_limits) {
  prepare_libxml();
  if (utf8.size() > static_cast<std::size_t>(INT_MAX)) {
    return make_error(ErrorCode::kInvalidInput, "HTML over 2 GiB");
  }
  std::unique_ptr<htmlParserCtxt, void (*)(htmlParserCtxtPtr)> ctxt(htmlNewParserCtxt(),
                                                                    htmlFreeParserCtxt);
  if (!ctxt) return make_error(ErrorCode::kInternal, "libxml2 could not allocate a parser");
  // HTML_PARSE_HUGE exists only from libxml2 2.11; XML_PARSE_HUGE is the same bit.
  int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
             HTML_PARSE_COMPACT | (lift_limits ? XML_PARSE_HUGE : 0);
  XmlDocPtr doc(htmlCtxtReadMemory(ctxt.get(), utf8.data(), static_cast<int>(utf8.size()), url,
                                   "UTF-8", opts));
  // The HTML parser recovers from every markup error; it only disables its SAX callbacks
  // when it halts (xmlHaltParser: excessive depth, huge text, out of memory), dropping
  // everything after that point.
  if (ctxt->disableSAX != 0) {
    std::string why = ctxt->lastError.message != nullptr ? ctxt->lastError.message : "";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return make_error(ErrorCode::kInvalidInput,
                      "libxml2 stopped before the end of the HTML (line " +
                          std::to_string(ctxt->lastError.line) + ": " +
                          (why.empty() ? "unknown error" : why) +
                          "); refused rather than cut short");
  }
  if (!doc) return make_error(ErrorCode::kInvalidInput, "libxml2 could not parse the HTML");
  return doc;
}

XmlDocPtr parse_xml(std::string_view utf8, const char* url) {
  prepare_libxml();
  utf8 = skip_leading_space(utf8);
  if (utf8.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_COMPACT;
  return XmlDocPtr(xmlReadMemory(utf8.data(), static_cast<int>(utf8.size()), url, "UTF-8", opts));
}

std::string local_name(const xmlNode* node) {
  if (node == nullptr || node->name == nullptr) return "";
  std::string_view n(reinterpret_cast<const char*>(node->name));
  std::size_t colon = n.rfind(':');
  if (colon != std::string_view::npos) n.remove_prefix(colon + 1);
  std::string out(n);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view local_name_into(const xmlNode* node, char (&buf)[40]) {
  if (node == nullptr || node->name == nullptr) return {};
  const char* n = reinterpret_cast<const char*>(node->name);
  const char* start = n;
  for (const char* p = n; *p != '\0'; ++p) {
    if (*p == ':') start = p + 1;
  }
  std::size_t len = 0;
  for (const char* p = start; *p != '\0'; ++p) {
    if (len + 1 >= sizeof buf) return {};
    buf[len++] = static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
  }
  return std::string_view(buf, len);
}

namespace {
bool same_name_ci(const char* a, const char* b) {
  for (; *a != '\0' && *b != '\0'; ++a, ++b) {
    if (std::tolower(static_cast<unsigned char>(*a)) != std::tolower(static_cast<unsigned char>(*b))) return false;
  }
  return *a == *b;
}
}  // namespace

std::string_view attribute_view(const xmlNode* node, const char* name) {
  for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
    if (!same_name_ci(reinterpret_cast<const char*>(a->name), name)) continue;
    const xmlNode* c = a->children;
    if (c == nullptr || c->next != nullptr || c->content == nullptr) return {};
    return reinterpret_cast<const char*>(c->content);
  }
  return {};
}

std::string attribute(const xmlNode* node, const char* name) {
  for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
    const char* an = reinterpret_cast<const char*>(a->name);
    bool match = true;
    std::size_t i = 0;
    for (; name[i] != '\0' && an[i] != '\0'; ++i) {
      if (std::tolower(static_cast<unsigned char>(name[i])) !=
          std::tolower(static_cast<unsigned char>(an[i]))) {
        match = false;
        break;
      }
    }
    if (!match || name[i] != '\0' || an[i] != '\0') continue;
    std::string out;
    for (const xmlNode* c = a->children; c != nullptr; c = c->next) {
      if (c->content != nullptr) out += reinterpret_cast<const char*>(c->content);
    }
    return out;
  }
  return "";
}

const xmlNode* next_in_subtree(const xmlNode* node, const xmlNode* root, bool descend) {
  if (descend && node->children != nullptr) return node->children;
  while (node != root) {
    if (node->next != nullptr) return node->next;
    node = node->parent;
  }
  return nullptr;
}

std::string text_content(const xmlNode* node) {
  std::string out;
  if (node == nullptr) return out;
  for (const xmlNode* c = next_in_subtree(node, node, true); c != nullptr;
       c = next_in_subtree(c, node, c->type == XML_ELEMENT_NODE)) {
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content != nullptr) {
      out += reinterpret_cast<const char*>(c->content);
    }
  }
  return out;
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool ws = c <= 0x20;
    // U+00A0 as C2 A0.
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {
      ws = true;
      ++i;
    }
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

}  // namespace fgraph::ingest::internal
