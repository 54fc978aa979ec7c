#include "ingest/internal/xml_forms.h"

#include <cctype>
#include <cstring>

#include "ingest/internal/html_text.h"
#include "ingest/internal/text_builder.h"

namespace fgraph::ingest::internal {
namespace {

const xmlNode* child(const xmlNode* node, std::string_view name) {
  if (node == nullptr) return nullptr;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && local_name(c) == name) return c;
  }
  return nullptr;
}

// Follows a path of lower-case local names; null when any step is missing.
const xmlNode* path(const xmlNode* node, std::initializer_list<std::string_view> steps) {
  for (auto s : steps) {
    node = child(node, s);
    if (node == nullptr) return nullptr;
  }
  return node;
}

std::string path_text(const xmlNode* node, std::initializer_list<std::string_view> steps) {
  const xmlNode* n = path(node, steps);
  return n == nullptr ? "" : collapse_spaces(text_content(n));
}

void descendants(const xmlNode* node, std::string_view name, std::vector<const xmlNode*>& out) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (local_name(c) == name) out.push_back(c);
    descendants(c, name, out);
  }
}

std::optional<std::string> opt(std::string s) {
  if (s.empty()) return std::nullopt;
  return s;
}

std::optional<std::string> opt_cik(std::string_view s) {
  std::string padded = zero_pad_cik(s);
  if (padded.empty()) return std::nullopt;
  return padded;
}

bool is_leaf(const xmlNode* node) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return false;
  }
  return true;
}

// A field: a leaf, or an element whose children are only <value> and <footnoteId>.
bool is_field(const xmlNode* node) {
  bool any = false;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string n = local_name(c);
    if (n != "value" && n != "footnoteid") return false;
    any = true;
  }
  return any || is_leaf(node);
}

std::string leaf_value(const xmlNode* node) {
  std::string v = collapse_spaces(text_content(node));
  if (v.empty()) v = collapse_spaces(attribute(node, "value"));
  return v;
}

void render_field(const xmlNode* node, TextBuilder& out) {
  std::string label = original_local_name(node);
  std::string value;
  std::string notes;
  if (is_leaf(node)) {
    value = leaf_value(node);
    if (local_name(node) == "footnoteid") { value.clear(); notes = attribute(node, "id"); }
    std::string id = attribute(node, "id");
    if (!id.empty() && local_name(node) != "footnoteid") label += " " + id;
  } else {
    for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (local_name(c) == "value") {
        value = leaf_value(c);
      } else {
        if (!notes.empty()) notes += ", ";
        notes += attribute(c, "id");
      }
    }
  }
  if (value.empty() && notes.empty()) return;
  out.line_break();
  std::string line = label + ":";
  if (!value.empty()) line += " " + value;
  if (!notes.empty()) line += " [" + notes + "]";
  out.append(line);
  out.line_break();
}

void render_form(const xmlNode* node, TextBuilder& out) {
  bool has_fields = false;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && is_field(c)) { has_fields = true; break; }
  }
  if (has_fields) out.paragraph_break();
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (is_field(c)) render_field(c, out); else render_form(c, out);
  }
  if (has_fields) out.paragraph_break();
}

void add_party(XmlContent& c, std::string role, std::string name, std::string cik) {
  if (name.empty() && cik.empty()) return;
  c.parties.push_back(Party{std::move(role), std::move(name), opt_cik(cik)});
}

// MM-DD-YYYY (13F) or YYYY-MM-DD.
std::optional<std::string> form_date(const std::string& v) {
  if (v.empty()) return std::nullopt;
  if (v.size() == 10 && v[2] == '-' && v[5] == '-') {
    return v.substr(6, 4) + "-" + v.substr(0, 2) + "-" + v.substr(3, 2);
  }
  if (auto d = parse_display_date(v)) return d;
  return v;
}

void ownership_metadata(const xmlNode* root, XmlContent& c) {
  c.form_type = opt(path_text(root, {"documenttype"}));
  c.period = form_date(path_text(root, {"periodofreport"}));
  std::string cik = path_text(root, {"issuer", "issuercik"});
  std::string name = path_text(root, {"issuer", "issuername"});
  c.cik = opt_cik(cik);
  c.company = opt(name);
  add_party(c, "issuer", name, cik);
  std::vector<const xmlNode*> owners;
  descendants(root, "reportingowner", owners);
  for (const xmlNode* o : owners) {
    add_party(c, "reporting-owner", path_text(o, {"reportingownerid", "rptownername"}),
              path_text(o, {"reportingownerid", "rptownercik"}));
  }
}

void edgar_submission_metadata(const xmlNode* root, XmlContent& c) {
  c.form_type = opt(path_text(root, {"headerdata", "submissiontype"}));
  if (!c.form_type) c.form_type = opt(path_text(root, {"submissiontype"}));
  if (const xmlNode* issuer = path(root, {"primaryissuer"})) {  // Form D
    std::string cik = path_text(issuer, {"cik"});
    std::string name = path_text(issuer, {"entityname"});
    c.cik = opt_cik(cik);
    c.company = opt(name);
    add_party(c, "issuer", name, cik);
    std::vector<const xmlNode*> people;
    descendants(root, "relatedpersoninfo", people);
    for (const xmlNode* p : people) {
      std::string full;
      for (auto part : {"firstname", "middlename", "lastname"}) {
        std::string v = path_text(p, {"relatedpersonname", part});
        if (!v.empty()) full += (full.empty() ? "" : " ") + v;
      }
      add_party(c, "related-person", full, "");
    }
    return;
  }
  if (const xmlNode* gen = path(root, {"formdata", "geninfo"})) {  // N-PORT
    std::string cik = path_text(gen, {"regcik"});
    std::string name = path_text(gen, {"regname"});
    c.cik = opt_cik(cik);
    c.company = opt(name);
    c.period = form_date(path_text(gen, {"reppddate"}));
    add_party(c, "registrant", name, cik);
    return;
  }
  if (const xmlNode* cover = path(root, {"formdata", "coverpage"})) {  // 13F-HR cover
    std::string cik = path_text(root, {"headerdata", "filerinfo", "filer", "credentials", "cik"});
    std::string name = path_text(cover, {"filingmanager", "name"});
    c.cik = opt_cik(cik);
    c.company = opt(name);
    c.period = form_date(path_text(root, {"headerdata", "filerinfo", "periodofreport"}));
    add_party(c, "filer", name, cik);
    std::vector<const xmlNode*> others;
    descendants(cover, "othermanager", others);
    for (const xmlNode* o : others) {
      add_party(c, "other-manager", path_text(o, {"name"}), path_text(o, {"cik"}));
    }
    return;
  }
  if (const xmlNode* header = path(root, {"formdata", "coverpageheader"})) {  // 13D / 13G
    std::string cik = path_text(header, {"issuerinfo", "issuercik"});
    std::string name = path_text(header, {"issuerinfo", "issuername"});
    c.cik = opt_cik(cik);
    c.company = opt(name);
    add_party(c, "issuer", name, cik);
    std::vector<const xmlNode*> persons;
    descendants(root, "reportingpersoninfo", persons);
    for (const xmlNode* p : persons) {
      add_party(c, "reporting-person", path_text(p, {"reportingpersonname"}),
                path_text(p, {"reportingpersoncik"}));
    }
  }
}

void dart_document(const xmlNode* root, XmlContent& c) {
  const xmlNode* name = child(root, "document-name");
  const xmlNode* company = child(root, "company-name");
  if (name != nullptr) c.form_type = opt(collapse_spaces(text_content(name)));
  if (company != nullptr) {
    c.company = opt(collapse_spaces(text_content(company)));
    std::string code = attribute(company, "AREGCIK");
    if (!code.empty()) c.registry_id = "dart:" + code;
    if (c.company) c.parties.push_back(Party{"filer", *c.company, std::nullopt});
  }
  TextBuilder out;
  render_tree(root, Layout::kDart, out);
  c.text = out.finish();
}

bool is_name_start(unsigned char c) { return std::isalpha(c) || c == '_' || c == ':' || c >= 0x80; }

}  // namespace

std::string original_local_name(const xmlNode* node) {
  std::string_view n(reinterpret_cast<const char*>(node->name));
  std::size_t colon = n.rfind(':');
  if (colon != std::string_view::npos) n.remove_prefix(colon + 1);
  return std::string(n);
}

std::string qualified_name(const xmlNode* node) {
  std::string local = original_local_name(node);
  if (node->ns != nullptr && node->ns->prefix != nullptr) {
    return std::string(reinterpret_cast<const char*>(node->ns->prefix)) + ":" + local;
  }
  return local;
}

std::string zero_pad_cik(std::string_view digits) {
  std::string only;
  for (char ch : digits) {
    if (std::isdigit(static_cast<unsigned char>(ch))) only.push_back(ch);
    else if (ch != ' ') return "";
  }
  if (only.empty() || only.size() > 10) return "";
  return std::string(10 - only.size(), '0') + only;
}

std::string escape_stray_markup(std::string_view xml) {
  std::string out;
  out.reserve(xml.size() + xml.size() / 64);
  for (std::size_t i = 0; i < xml.size(); ++i) {
    char ch = xml[i];
    if (ch == '&') {
      std::size_t j = i + 1;
      bool ref = false;
      if (j < xml.size() && xml[j] == '#') {
        ++j;
        bool hex = j < xml.size() && (xml[j] == 'x' || xml[j] == 'X');
        if (hex) ++j;
        std::size_t digits = j;
        while (j < xml.size() && (hex ? std::isxdigit(static_cast<unsigned char>(xml[j]))
                                      : std::isdigit(static_cast<unsigned char>(xml[j]))))
          ++j;
        ref = j > digits && j < xml.size() && xml[j] == ';';
      } else if (j < xml.size() && is_name_start(static_cast<unsigned char>(xml[j]))) {
        while (j < xml.size() && j - i < 40 &&
               (std::isalnum(static_cast<unsigned char>(xml[j])) || xml[j] == '_' || xml[j] == '-' ||
                xml[j] == '.'))
          ++j;
        std::string_view name = xml.substr(i + 1, j - i - 1);
        ref = j < xml.size() && xml[j] == ';' &&
              (name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos");
      }
      out += ref ? "&" : "&amp;";
      continue;
    }
    if (ch == '<') {
      unsigned char next = i + 1 < xml.size() ? static_cast<unsigned char>(xml[i + 1]) : ' ';
      // Only ASCII tag names: DART writes "<주석>"-style text that is not markup.
      bool tag_start = std::isalpha(next) || next == '_' || next == ':';
      if (!(tag_start || next == '/' || next == '!' || next == '?')) {
        out += "&lt;";
        continue;
      }
    }
    out.push_back(ch);
  }
  return out;
}

Result<XmlContent> xml_to_content(std::string_view utf8, const std::string& url) {
  XmlContent c;
  XmlDocPtr doc = parse_xml(utf8, url.c_str());
  if (!doc) {
    doc = parse_xml(escape_stray_markup(utf8), url.c_str());
    if (!doc) return make_error(ErrorCode::kInvalidInput, "not well-formed XML");
    c.warnings.push_back("stray '&' or '<' escaped before XML parsing");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return make_error(ErrorCode::kInvalidInput, "XML document has no root element");
  std::string name = local_name(root);
  if (name == "xbrl") {
    c.format = Format::kXbrl;
    render_xbrl_instance(root, c);
    return c;
  }
  if (name == "linkbase") {
    c.format = Format::kXbrl;
    render_linkbase(root, c);
    return c;
  }
  if (name == "document" && child(root, "body") != nullptr) {
    dart_document(root, c);
    return c;
  }
  if (name == "ownershipdocument") ownership_metadata(root, c);
  else if (name == "edgarsubmission") edgar_submission_metadata(root, c);
  TextBuilder out;
  render_form(root, out);
  c.text = out.finish();
  return c;
}

}  // namespace fgraph::ingest::internal
