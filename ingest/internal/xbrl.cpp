// XBRL instances and linkbases: one line per fact or label, never the raw XML.
#include <map>
#include <string>
#include <vector>

#include "ingest/internal/html_text.h"
#include "ingest/internal/text_builder.h"
#include "ingest/internal/xml_forms.h"

namespace fgraph::ingest::internal {
namespace {

constexpr std::size_t kMaxFactValueBytes = 1000;  // text blocks are cut here

struct Context {
  std::string period;  // "2023-10-01..2024-09-28", "2024-09-28" or "forever"
  std::string entity;  // "CIK 0000320193", "DART 00126380" or the raw identifier
  std::string scheme_id;  // identifier value
  std::string scheme;
  std::vector<std::string> dims;  // "axis=member"
};

const xmlNode* first_child(const xmlNode* node, std::string_view name) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && local_name(c) == name) return c;
  }
  return nullptr;
}

std::string text_of(const xmlNode* node) { return node ? collapse_spaces(text_content(node)) : ""; }

void collect_dims(const xmlNode* holder, std::vector<std::string>& dims) {
  if (holder == nullptr) return;
  for (const xmlNode* m = holder->children; m != nullptr; m = m->next) {
    if (m->type != XML_ELEMENT_NODE) continue;
    std::string n = local_name(m);
    std::string dim = attribute(m, "dimension");
    if (n == "explicitmember") dims.push_back(dim + "=" + text_of(m));
    else if (n == "typedmember") dims.push_back(dim + "=" + text_of(m));
  }
}

Context read_context(const xmlNode* ctx) {
  Context c;
  if (const xmlNode* entity = first_child(ctx, "entity")) {
    if (const xmlNode* id = first_child(entity, "identifier")) {
      c.scheme = attribute(id, "scheme");
      c.scheme_id = text_of(id);
      if (c.scheme.find("sec.gov") != std::string::npos) c.entity = "CIK " + c.scheme_id;
      else if (c.scheme.find("dart") != std::string::npos) c.entity = "DART " + c.scheme_id;
      else c.entity = c.scheme_id;
    }
    collect_dims(first_child(entity, "segment"), c.dims);
  }
  collect_dims(first_child(ctx, "scenario"), c.dims);
  if (const xmlNode* period = first_child(ctx, "period")) {
    if (const xmlNode* instant = first_child(period, "instant")) c.period = text_of(instant);
    else if (first_child(period, "forever")) c.period = "forever";
    else c.period = text_of(first_child(period, "startdate")) + ".." + text_of(first_child(period, "enddate"));
  }
  return c;
}

std::string read_unit(const xmlNode* unit) {
  if (const xmlNode* divide = first_child(unit, "divide")) {
    const xmlNode* num = first_child(divide, "unitnumerator");
    const xmlNode* den = first_child(divide, "unitdenominator");
    auto measure = [](const xmlNode* n) {
      const xmlNode* m = n ? first_child(n, "measure") : nullptr;
      std::string v = text_of(m);
      std::size_t colon = v.find(':');
      return colon == std::string::npos ? v : v.substr(colon + 1);
    };
    return measure(num) + "/" + measure(den);
  }
  std::string v = text_of(first_child(unit, "measure"));
  std::size_t colon = v.find(':');
  return colon == std::string::npos ? v : v.substr(colon + 1);
}

void truncate_utf8(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  s += " …";
}

bool is_dei_namespace(const xmlNode* node) {
  if (node->ns == nullptr || node->ns->href == nullptr) return false;
  std::string_view href(reinterpret_cast<const char*>(node->ns->href));
  return href.find("/dei/") != std::string_view::npos || href.find("gcd") != std::string_view::npos;
}

}  // namespace

void render_xbrl_instance(const xmlNode* root, XmlContent& out) {
  std::map<std::string, Context> contexts;
  std::map<std::string, std::string> units;
  for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string n = local_name(c);
    if (n == "context") contexts.emplace(attribute(c, "id"), read_context(c));
    else if (n == "unit") units.emplace(attribute(c, "id"), read_unit(c));
  }
  std::vector<std::string> plain_lines, dimensional_lines;
  std::optional<std::string> name_en, name_any;
  for (const xmlNode* f = root->children; f != nullptr; f = f->next) {
    if (f->type != XML_ELEMENT_NODE) continue;
    std::string context_ref = attribute(f, "contextRef");
    if (context_ref.empty()) continue;
    std::string value;
    if (attribute(f, "nil") == "true") {
      value = "(nil)";
    } else {
      std::string raw = text_content(f);
      value = raw.find('<') != std::string::npos && raw.find('>') != std::string::npos
                  ? html_fragment_to_line(raw)
                  : collapse_spaces(raw);
      truncate_utf8(value, kMaxFactValueBytes);
    }
    std::string qname = qualified_name(f);
    std::string line = qname + " = " + value;
    std::string unit_ref = attribute(f, "unitRef");
    if (!unit_ref.empty()) {
      auto u = units.find(unit_ref);
      line += " " + (u == units.end() ? unit_ref : u->second);
    }
    std::string decimals = attribute(f, "decimals");
    if (!decimals.empty()) line += " (decimals " + decimals + ")";
    std::string lang = attribute(f, "lang");
    if (!lang.empty()) line += " (lang " + lang + ")";
    auto ctx = contexts.find(context_ref);
    bool dimensional = false;
    if (ctx != contexts.end()) {
      line += " | " + ctx->second.period + " | " + ctx->second.entity;
      for (const auto& d : ctx->second.dims) line += " | " + d;
      dimensional = !ctx->second.dims.empty();
      if (!dimensional && ctx->second.scheme.find("sec.gov") != std::string::npos && !out.cik)
        out.cik = zero_pad_cik(ctx->second.scheme_id);
      if (ctx->second.scheme.find("dart") != std::string::npos && !out.registry_id)
        out.registry_id = "dart:" + ctx->second.scheme_id;
    } else {
      line += " | context " + context_ref;
    }
    (dimensional ? dimensional_lines : plain_lines).push_back(std::move(line));
    if (!dimensional && is_dei_namespace(f) && value != "(nil)") {
      std::string local = original_local_name(f);
      if (local == "EntityRegistrantName") {
        if (lang == "en" && !name_en) name_en = value;
        if (!name_any) name_any = value;
      } else if (local == "EntityCentralIndexKey" && !out.cik && !out.registry_id) {
        std::string padded = zero_pad_cik(value);
        if (!padded.empty()) out.cik = padded;
      } else if (local == "DocumentType" && !out.form_type) {
        out.form_type = value;
      } else if (local == "DocumentPeriodEndDate" && !out.period) {
        if (auto d = parse_display_date(value)) out.period = *d;
      }
    }
  }
  if (out.cik && out.cik->empty()) out.cik.reset();
  out.company = name_en ? name_en : name_any;
  if (out.company || out.cik) out.parties.push_back(Party{"filer", out.company.value_or(""), out.cik});
  std::string text;
  std::size_t total = 0;
  for (const auto& l : plain_lines) total += l.size() + 1;
  for (const auto& l : dimensional_lines) total += l.size() + 1;
  text.reserve(total);
  TextBuilder builder;
  for (const auto* lines : {&plain_lines, &dimensional_lines}) {
    for (const auto& l : *lines) {
      builder.append(l);
      builder.line_break();
    }
  }
  out.text = builder.finish();
}

void render_linkbase(const xmlNode* root, XmlContent& out) {
  TextBuilder builder;
  for (const xmlNode* link = root->children; link != nullptr; link = link->next) {
    if (link->type != XML_ELEMENT_NODE) continue;
    std::map<std::string, std::string> loc_concept;  // xlink:label -> concept
    struct Label { std::string role, lang, text; };
    std::map<std::string, std::vector<Label>> labels;  // xlink:label -> resources
    std::vector<std::pair<std::string, std::string>> arcs;
    for (const xmlNode* c = link->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      std::string n = local_name(c);
      if (n == "loc") {
        std::string href = attribute(c, "href");
        std::size_t hash = href.find('#');
        loc_concept[attribute(c, "label")] = hash == std::string::npos ? href : href.substr(hash + 1);
      } else if (n == "label") {
        std::string role = attribute(c, "role");
        std::size_t slash = role.rfind('/');
        labels[attribute(c, "label")].push_back(
            {slash == std::string::npos ? role : role.substr(slash + 1), attribute(c, "lang"),
             collapse_spaces(text_content(c))});
      } else if (n.size() > 3 && n.ends_with("arc")) {
        arcs.emplace_back(attribute(c, "from"), attribute(c, "to"));
      }
    }
    for (const auto& [from, to] : arcs) {
      auto concept_it = loc_concept.find(from);
      std::string concept_name = concept_it == loc_concept.end() ? from : concept_it->second;
      auto label_it = labels.find(to);
      if (label_it != labels.end()) {
        for (const auto& l : label_it->second) {
          if (l.text.empty()) continue;
          builder.append(concept_name + " [" + l.role + (l.lang.empty() ? "" : ", " + l.lang) + "]: " + l.text);
          builder.line_break();
        }
      } else {
        auto to_it = loc_concept.find(to);
        builder.append(concept_name + " -> " + (to_it == loc_concept.end() ? to : to_it->second));
        builder.line_break();
      }
    }
  }
  out.text = builder.finish();
}

}  // namespace fgraph::ingest::internal
