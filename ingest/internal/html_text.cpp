#include "ingest/internal/html_text.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

namespace fgraph::ingest::internal {
namespace {

enum class Kind { kInline, kSkip, kParagraph, kLine, kRow, kCell, kBreak, kPre, kRule };

Kind classify_html(std::string_view n) {
  static constexpr std::array<std::string_view, 13> kSkip = {
      "script", "style", "head", "title", "noscript", "template", "object",
      "embed",  "iframe", "meta", "link",  "select",   "xml"};
  static constexpr std::array<std::string_view, 30> kPara = {
      "p",       "div",     "h1",      "h2",     "h3",      "h4",     "h5",    "h6",
      "table",   "ul",      "ol",      "dl",     "blockquote", "center", "section",
      "article", "aside",   "footer",  "nav",    "form",    "fieldset", "address",
      "body",    "html",    "figure",  "main",   "caption", "thead",  "tbody", "tfoot"};
  static constexpr std::array<std::string_view, 4> kLine = {"li", "dt", "dd", "option"};
  for (auto s : kSkip) if (n == s) return Kind::kSkip;
  if (n == "td" || n == "th") return Kind::kCell;
  if (n == "tr") return Kind::kRow;
  if (n == "br") return Kind::kBreak;
  if (n == "hr") return Kind::kRule;
  if (n == "pre" || n == "xmp" || n == "plaintext" || n == "listing") return Kind::kPre;
  for (auto s : kPara) if (n == s) return Kind::kParagraph;
  for (auto s : kLine) if (n == s) return Kind::kLine;
  return Kind::kInline;
}

Kind classify_dart(std::string_view n) {
  if (n == "td" || n == "th" || n == "te" || n == "tu") return Kind::kCell;
  if (n == "tr") return Kind::kRow;
  if (n == "br") return Kind::kBreak;
  if (n == "img" || n == "formula-version" || n == "summary" || n == "colgroup" || n == "col")
    return Kind::kSkip;
  if (n == "span" || n == "a" || n == "u" || n == "b" || n == "i" || n == "sup" || n == "sub" ||
      n == "font")
    return Kind::kInline;
  return Kind::kParagraph;
}

// style="... display : none ..." (any case, any spacing), read without copying.
bool hidden_by_style(const xmlNode* node) {
  std::string_view style = attribute_view(node, "style");
  if (style.size() < 12) return false;
  constexpr std::string_view kWant = "display:none";
  for (std::size_t i = 0; i + 7 <= style.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(style[i])) != 'd') continue;
    std::size_t j = i, k = 0;
    while (j < style.size() && k < kWant.size()) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(style[j])));
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') { ++j; continue; }
      if (c != kWant[k]) break;
      ++j;
      ++k;
    }
    if (k == kWant.size()) return true;
  }
  return false;
}

// ix:header (2.9 names it "header", colliding with HTML5 <header>): recognised by its
// ix:hidden / ix:references / ix:resources children.
bool is_ix_header(const xmlNode* node) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string n = local_name(c);
    if (n == "hidden" || n == "references" || n == "resources") return true;
  }
  return false;
}

// A block that holds nothing but a short in-page link ("<h5><a href="#toc">Table of
// Contents</a></h5>", repeated on every page of EDGAR 10-Ks): navigation, not text.
bool is_backlink_block(const xmlNode* node) {
  const xmlNode* link = nullptr;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_COMMENT_NODE) continue;
    if (c->type == XML_TEXT_NODE) {
      for (const xmlChar* p = c->content; p != nullptr && *p != 0; ++p) {
        if (!std::isspace(*p)) return false;
      }
      continue;
    }
    if (c->type != XML_ELEMENT_NODE || link != nullptr) return false;
    link = c;
  }
  if (link == nullptr) return false;
  char buf[40];
  if (local_name_into(link, buf) != "a") return false;
  std::string_view href = attribute_view(link, "href");
  if (href.empty() || href.front() != '#') return false;
  return collapse_spaces(text_content(link)).size() <= 40;
}

void append_pre(std::string_view text, TextBuilder& out) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.append(text.substr(start));
      break;
    }
    out.append(text.substr(start, nl - start));
    out.line_break();
    start = nl + 1;
  }
}

// Renders a subtree in document order without recursion: EDGAR HTML can nest elements
// thousands deep (every <FONT> left open), which a recursive walk would run off the stack.
class Walker {
 public:
  Walker(Layout layout, TextBuilder& out) : layout_(layout), out_(out) {}

  void walk(const xmlNode* root) {
    const xmlNode* c = root->children;
    while (c != nullptr) {
      bool descend = false;
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
        if (c->content != nullptr) {
          std::string_view t(reinterpret_cast<const char*>(c->content));
          if (pre_depth_ > 0) append_pre(t, out_); else out_.append(t);
        }
      } else if (c->type == XML_ELEMENT_NODE) {  // comments, PIs, DTD nodes are skipped
        descend = enter(c);
        if (descend && c->children == nullptr) {
          leave();
          descend = false;
        }
      }
      if (descend) {
        c = c->children;
        continue;
      }
      // To the next sibling, leaving every element whose children are done.
      while (c != root && c->next == nullptr) {
        c = c->parent;
        if (c != root) leave();
      }
      c = c == root ? nullptr : c->next;
    }
  }

 private:
  // Opens an element; true when its children are to be rendered (then leave() closes it).
  bool enter(const xmlNode* c) {
    char buf[40];
    std::string_view name = local_name_into(c, buf);
    Kind kind = layout_ == Layout::kHtml ? classify_html(name) : classify_dart(name);
    if (kind == Kind::kSkip) return false;
    if (name == "header" && is_ix_header(c)) return false;
    if (layout_ == Layout::kHtml && hidden_by_style(c)) return false;
    switch (kind) {
      case Kind::kBreak: out_.line_break(); return false;
      case Kind::kRule: out_.paragraph_break(); return false;
      case Kind::kSkip: return false;
      case Kind::kInline: break;
      case Kind::kParagraph:
        if (layout_ == Layout::kHtml && is_backlink_block(c)) return false;
        out_.paragraph_break();
        break;
      case Kind::kLine: out_.line_break(); break;
      case Kind::kRow: out_.begin_row(); break;
      case Kind::kCell: out_.begin_cell(); break;
      case Kind::kPre:
        out_.paragraph_break();
        ++pre_depth_;
        break;
    }
    open_.push_back(kind);
    return true;
  }

  void leave() {
    Kind kind = open_.back();
    open_.pop_back();
    switch (kind) {
      case Kind::kParagraph: out_.paragraph_break(); break;
      case Kind::kLine: out_.line_break(); break;
      case Kind::kRow: out_.end_row(); break;
      case Kind::kCell: out_.end_cell(); break;
      case Kind::kPre:
        --pre_depth_;
        out_.paragraph_break();
        break;
      case Kind::kInline:
      case Kind::kSkip:
      case Kind::kBreak:
      case Kind::kRule: break;
    }
  }

  Layout layout_;
  TextBuilder& out_;
  std::vector<Kind> open_;  // the kinds of the elements entered, innermost last
  int pre_depth_ = 0;
};

// Visible value of an iXBRL fact: its text without ix:exclude parts.
void fact_text(const xmlNode* node, std::string& out) {
  for (const xmlNode* c = next_in_subtree(node, node, true); c != nullptr;) {
    bool descend = false;
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content != nullptr) out += reinterpret_cast<const char*>(c->content);
    } else if (c->type == XML_ELEMENT_NODE) {
      char buf[40];
      descend = local_name_into(c, buf) != "exclude";
    }
    c = next_in_subtree(c, node, descend);
  }
}

std::string pad_cik(std::string digits) {
  std::string only;
  for (char c : digits) if (std::isdigit(static_cast<unsigned char>(c))) only.push_back(c);
  if (only.empty() || only.size() > 10) return digits;
  return std::string(10 - only.size(), '0') + only;
}

struct FactCollector {
  IxbrlFacts facts;
  bool ixbrl = false;

  void set_once(std::optional<std::string>& slot, std::string value) {
    if (!slot && !value.empty()) slot = std::move(value);
  }

  void visit(const xmlNode* root) {
    for (const xmlNode* c = next_in_subtree(root, root, true); c != nullptr;
         c = next_in_subtree(c, root, c->type == XML_ELEMENT_NODE)) {
      if (c->type != XML_ELEMENT_NODE) continue;
      char buf[40];
      std::string_view n = local_name_into(c, buf);
      if (n == "nonnumeric" || n == "nonfraction") {
        ixbrl = true;
        std::string concept_name = attribute(c, "name");
        std::size_t colon = concept_name.find(':');
        std::string local = colon == std::string::npos ? concept_name : concept_name.substr(colon + 1);
        if (local == "EntityRegistrantName" || local == "EntityCentralIndexKey" ||
            local == "DocumentType" || local == "DocumentPeriodEndDate" ||
            local == "EntityCurrentLegalOrRegisteredName" ||
            local == "UKCompaniesHouseRegisteredNumber" ||
            local == "EndDateForPeriodCoveredByReport" || local == "BalanceSheetDate") {
          std::string raw;
          fact_text(c, raw);
          std::string value = collapse_spaces(raw);
          if (local == "EntityRegistrantName" || local == "EntityCurrentLegalOrRegisteredName") {
            set_once(facts.registrant_name, value);
          } else if (local == "EntityCentralIndexKey") {
            set_once(facts.cik, pad_cik(value));
          } else if (local == "DocumentType") {
            set_once(facts.document_type, value);
          } else if (local == "UKCompaniesHouseRegisteredNumber") {
            set_once(facts.uk_company_number, value);
          } else if (auto d = parse_display_date(value)) {
            set_once(facts.period_end, *d);
          }
        }
      }
    }
  }
};

int month_number(std::string m) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (auto& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (m.size() < 3) return 0;
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (m.compare(0, 3, kMonths[i]) == 0) return static_cast<int>(i) + 1;
  }
  return 0;
}

std::optional<std::string> make_date(int y, int m, int d) {
  if (y < 100) y += y < 70 ? 2000 : 1900;
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return std::string(buf);
}

}  // namespace

std::optional<std::string> parse_display_date(std::string_view display) {
  std::vector<std::string> tokens;
  std::vector<bool> numeric;
  std::string cur;
  int cur_kind = 0;  // 1 digits, 2 letters
  auto flush = [&] {
    if (!cur.empty()) { tokens.push_back(cur); numeric.push_back(cur_kind == 1); }
    cur.clear();
    cur_kind = 0;
  };
  for (char ch : display) {
    auto c = static_cast<unsigned char>(ch);
    int kind = std::isdigit(c) ? 1 : std::isalpha(c) ? 2 : 0;
    if (kind != cur_kind) flush();
    if (kind != 0) { cur.push_back(ch); cur_kind = kind; }
  }
  flush();
  if (tokens.size() == 1 && numeric[0] && tokens[0].size() == 8) {
    const std::string& t = tokens[0];
    return make_date(std::stoi(t.substr(0, 4)), std::stoi(t.substr(4, 2)), std::stoi(t.substr(6, 2)));
  }
  if (tokens.size() != 3) return std::nullopt;
  auto num = [&](std::size_t i) { return tokens[i].size() <= 4 ? std::stoi(tokens[i]) : -1; };
  if (numeric[0] && numeric[1] && numeric[2]) {
    if (tokens[0].size() == 4) return make_date(num(0), num(1), num(2));            // ISO
    bool slash = display.find('/') != std::string_view::npos;
    if (slash) return make_date(num(2), num(0), num(1));                            // US m/d/y
    return make_date(num(2), num(1), num(0));                                       // d.m.y
  }
  if (!numeric[0] && numeric[1] && numeric[2]) return make_date(num(2), month_number(tokens[0]), num(1));
  if (numeric[0] && !numeric[1] && numeric[2]) return make_date(num(2), month_number(tokens[1]), num(0));
  return std::nullopt;
}

void render_tree(const xmlNode* node, Layout layout, TextBuilder& out) {
  Walker w{layout, out};
  w.walk(node);
}

Result<HtmlText> html_to_text(std::string_view utf8, const std::string& url) {
  auto parsed = parse_html(utf8, url.c_str());
  if (!parsed) return parsed.error();
  XmlDocPtr doc = std::move(*parsed);
  HtmlText result;
  TextBuilder builder;
  render_tree(reinterpret_cast<const xmlNode*>(doc.get()), Layout::kHtml, builder);
  result.text = builder.finish();
  FactCollector facts;
  facts.visit(reinterpret_cast<const xmlNode*>(doc.get()));
  result.ixbrl = facts.ixbrl;
  result.facts = std::move(facts.facts);
  return result;
}

std::string html_fragment_to_line(std::string_view utf8) {
  auto doc = parse_html(utf8, "fragment");
  if (!doc) return collapse_spaces(utf8);  // the fragment as written, markup and all
  TextBuilder builder;
  render_tree(reinterpret_cast<const xmlNode*>(doc->get()), Layout::kHtml, builder);
  return collapse_spaces(builder.finish());
}

}  // namespace fgraph::ingest::internal
