// The form extractor: facts read from the structured rendering of a filing, no model.
//
// Ingest renders XML forms as "label: value" lines and HTML tables as rows of cells joined
// by " | " (ingest.h); this file reads those lines back. Every evidence quote is a verbatim
// slice of the document's text, from the first line that names the fact's ends to the line
// that states it, so the verify stage checks these facts exactly as it checks a model's.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "verify/verify.h"

namespace fgraph::extract {
namespace {

using ordered = nlohmann::ordered_json;

struct Line {
  std::size_t begin = 0, end = 0;  // byte range in the text, without the '\n'
  std::string_view text;
  std::string label;  // "label" of a "label: value" line, else ""
  std::string value;  // its value without a trailing footnote mark " [F1]"
};

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    Line l{start, nl, text.substr(start, nl - start), {}, {}};
    if (!l.text.empty()) {
      std::size_t colon = l.text.find(": ");
      bool labelled = colon != std::string_view::npos && colon > 0 &&
                      l.text.substr(0, colon).find(' ') == std::string_view::npos;
      if (labelled) {
        l.label = std::string(l.text.substr(0, colon));
        std::string v(l.text.substr(colon + 2));
        if (v.ends_with("]")) {
          if (auto b = v.rfind(" ["); b != std::string::npos) v.resize(b);
        }
        l.value = std::move(v);
      }
      out.push_back(std::move(l));
    }
    start = nl + 1;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  std::size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Names that are organisations rather than people, by their legal-form or business words.
bool looks_like_organisation(std::string_view name) {
  static const std::set<std::string> kWords = {
      "inc",   "corp",     "corporation", "co",      "company", "llc",        "lp",
      "llp",   "ltd",      "limited",     "plc",     "fund",    "trust",      "partners",
      "group", "holdings", "capital",     "management", "bank", "associates", "sa",
      "ag",    "nv",       "bv",          "gmbh",    "advisors", "investors", "lllp"};
  std::string word;
  auto flush = [&]() {
    bool hit = kWords.count(word) > 0;
    word.clear();
    return hit;
  };
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (c != '.' && !word.empty() && flush()) {
      return true;
    }
  }
  return !word.empty() && flush();
}

// The output under construction, in the extraction v1 shape.
class Output {
 public:
  explicit Output(std::string_view text) : text_(text) {}

  std::string_view slice(std::size_t begin, std::size_t end) const {
    return text_.substr(begin, end - begin);
  }

  // Adds an entity (or returns the id of the one with the same type, name and CIK).
  std::string entity(const std::string& type, const std::string& name, std::string_view evidence,
                     std::optional<std::string> cik = {}, std::optional<std::string> ticker = {},
                     std::optional<std::string> jurisdiction = {}) {
    std::string key = type + '\x1f' + name + '\x1f' + cik.value_or("");
    if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    std::string id = "e" + std::to_string(entities_.size() + 1);
    ids_.emplace(key, id);
    ordered e;
    e["id"] = id;
    e["name"] = name;
    e["type"] = type;
    e["cik"] = cik ? ordered(*cik) : ordered(nullptr);
    e["ticker"] = ticker ? ordered(*ticker) : ordered(nullptr);
    e["lei"] = nullptr;
    e["jurisdiction"] = jurisdiction ? ordered(*jurisdiction) : ordered(nullptr);
    e["evidence"] = std::string(evidence);
    entities_.push_back(std::move(e));
    return id;
  }

  void relation(const std::string& source, const std::string& target, const std::string& type,
                std::string_view evidence, std::optional<double> percent = {},
                std::optional<std::string> date = {}, std::optional<std::string> role = {}) {
    std::string key = source + '\x1f' + target + '\x1f' + type + '\x1f' + role.value_or("");
    if (!seen_.insert(key).second) return;
    ordered r;
    r["source"] = source;
    r["target"] = target;
    r["type"] = type;
    r["evidence"] = std::string(evidence);
    r["ownership_percent"] = percent ? ordered(*percent) : ordered(nullptr);
    r["effective_date"] = date ? ordered(*date) : ordered(nullptr);
    r["role"] = role ? ordered(*role) : ordered(nullptr);
    relations_.push_back(std::move(r));
  }

  FormExtraction finish(FormKind kind, Coverage coverage) {
    ordered out;
    out["entities"] = entities_;
    out["relations"] = relations_;
    FormExtraction f;
    f.kind = kind;
    f.coverage = coverage;
    f.entities = static_cast<int>(entities_.size());
    f.relations = static_cast<int>(relations_.size());
    f.output_json = out.dump();
    return f;
  }

 private:
  std::string_view text_;
  ordered entities_ = ordered::array();
  ordered relations_ = ordered::array();
  std::map<std::string, std::string> ids_;
  std::set<std::string> seen_;
};

// Whether `name`/`cik` is the document's own subject by its metadata: verify's own rule,
// under which a relation's quote need not name that end again.
bool is_subject(const ingest::Document& doc, const std::string& name, const std::string& cik) {
  return verify::is_document_subject(doc, name, cik.empty() ? std::nullopt : std::optional(cik));
}

bool truthy(std::string_view v) { return v == "1" || lower(v) == "true"; }

// ---------------------------------------------------------------------------------
// Forms 3, 4, 5 (and /A): ownershipDocument.

struct Owner {
  std::string name, cik;
  std::size_t begin = 0, name_end = 0;  // first line of the owner's block, end of its name line
  bool director = false, ten_percent = false, officer = false;
  std::size_t director_end = 0, ten_percent_end = 0, officer_end = 0;
  std::string title;
};

Result<FormExtraction> ownership_form(const ingest::Document& doc, const std::vector<Line>& lines) {
  Output out(doc.text);
  std::string issuer_name, issuer_cik, ticker, period;
  std::size_t issuer_begin = std::string::npos, issuer_end = 0, issuer_name_begin = 0;
  std::vector<Owner> owners;
  std::vector<std::pair<std::string, std::size_t>> securities;  // title, end of its line
  for (const Line& l : lines) {
    const std::string& k = l.label;
    auto issuer_line = [&]() {
      issuer_begin = std::min(issuer_begin, l.begin);
      issuer_end = std::max(issuer_end, l.end);
    };
    if (k == "periodOfReport") period = l.value;
    else if (k == "issuerCik") { issuer_cik = l.value; issuer_line(); }
    else if (k == "issuerName") { issuer_name = l.value; issuer_name_begin = l.begin; issuer_line(); }
    else if (k == "issuerTradingSymbol") { ticker = l.value; issuer_line(); }
    else if (k == "rptOwnerCik") {
      owners.emplace_back();
      owners.back().cik = l.value;
      owners.back().begin = l.begin;
    }
    else if (k == "rptOwnerName") {
      if (owners.empty() || !owners.back().name.empty()) {
        owners.emplace_back();
        owners.back().begin = l.begin;
      }
      owners.back().name = l.value;
      owners.back().name_end = l.end;
    } else if (!owners.empty() && k == "isDirector" && truthy(l.value)) {
      owners.back().director = true;
      owners.back().director_end = l.end;
    } else if (!owners.empty() && k == "isOfficer" && truthy(l.value)) {
      owners.back().officer = true;
      owners.back().officer_end = std::max(owners.back().officer_end, l.end);
    } else if (!owners.empty() && k == "officerTitle") {
      owners.back().title = l.value;
      owners.back().officer_end = l.end;
    } else if (!owners.empty() && k == "isTenPercentOwner" && truthy(l.value)) {
      owners.back().ten_percent = true;
      owners.back().ten_percent_end = l.end;
    } else if (k == "securityTitle") {
      bool known = std::any_of(securities.begin(), securities.end(),
                               [&](const auto& s) { return s.first == l.value; });
      if (!known && !l.value.empty()) securities.emplace_back(l.value, l.end);
    }
  }
  if (issuer_name.empty()) {
    return make_error(ErrorCode::kInvalidInput, "ownership form without issuerName", "malformed_form");
  }
  if (owners.empty() || owners.front().name.empty()) {
    return make_error(ErrorCode::kInvalidInput, "ownership form without a named reporting owner",
                      "malformed_form");
  }
  std::optional<std::string> date;
  if (!period.empty()) date = period;
  auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); };
  std::string issuer = out.entity("COMPANY", issuer_name, out.slice(issuer_begin, issuer_end),
                                  opt(issuer_cik), opt(ticker));
  // A relation's quote runs from its owner's block (or the issuer's name when the issuer is
  // not the document's subject) to the line that states it.
  bool issuer_subject = is_subject(doc, issuer_name, issuer_cik);
  for (const Owner& o : owners) {
    if (o.name.empty()) continue;
    std::string type = looks_like_organisation(o.name) ? "COMPANY" : "PERSON";
    std::string owner = out.entity(type, o.name, out.slice(o.begin, o.name_end), opt(o.cik));
    std::size_t from = issuer_subject ? o.begin : std::min(o.begin, issuer_name_begin);
    auto quote = [&](std::size_t to) { return out.slice(from, to); };
    if (o.officer) {
      out.relation(owner, issuer, "OFFICER_OF", quote(o.officer_end), {}, date, opt(o.title));
    }
    if (o.director) out.relation(owner, issuer, "DIRECTOR_OF", quote(o.director_end), {}, date);
    if (o.ten_percent) {
      out.relation(owner, issuer, "BENEFICIAL_OWNER_OF", quote(o.ten_percent_end), {}, date);
    }
    for (const auto& [title, end] : securities) {
      if (end > o.begin) out.relation(owner, issuer, "HOLDS", quote(end), {}, date, title);
    }
  }
  return out.finish(FormKind::kOwnership, Coverage::kComplete);
}

// ---------------------------------------------------------------------------------
// 13F-HR: the cover (primary document) and the information table.

FormExtraction thirteen_f_cover(const ingest::Document& doc, const std::vector<Line>& lines) {
  Output out(doc.text);
  std::size_t cik_begin = std::string::npos;
  std::string cik;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& l = lines[i];
    if (l.label == "cik" && cik.empty()) {
      cik = l.value;
      cik_begin = l.begin;
    }
    if (l.label != "name") continue;
    // The first "name" after the filer's credentials is the filing manager's.
    std::size_t from = cik_begin == std::string::npos ? l.begin : cik_begin;
    std::optional<std::string> id;
    if (!cik.empty()) id = cik;
    std::string manager = out.entity("COMPANY", l.value, out.slice(from, l.end), id);
    for (std::size_t j = i + 1; j < lines.size() && j < i + 4; ++j) {
      if (lines[j].label == "city" && !lines[j].value.empty()) {
        std::string city = out.entity("LOCATION", lines[j].value, lines[j].text);
        out.relation(manager, city, "HEADQUARTERED_IN", out.slice(l.begin, lines[j].end));
        break;
      }
    }
    break;
  }
  return out.finish(FormKind::kThirteenFCover, Coverage::kComplete);
}

FormExtraction thirteen_f_table(const ingest::Document& doc, const std::vector<Line>& lines) {
  Output out(doc.text);
  // The manager is the filer: an entity of its own where the table names it, else the
  // document's filer by its metadata (verify::kFilerRef: a table in its submission names
  // only the issuers). A table cut from its submission, without metadata, gives issuers.
  std::string manager;
  if (doc.company && !doc.company->empty()) {
    if (std::size_t at = doc.text.find(*doc.company); at != std::string::npos) {
      std::size_t b = doc.text.rfind('\n', at);
      b = b == std::string::npos ? 0 : b + 1;
      std::size_t e = doc.text.find('\n', at);
      if (e == std::string::npos) e = doc.text.size();
      manager = out.entity("COMPANY", *doc.company, out.slice(b, e), doc.cik);
    } else {
      manager = std::string(verify::kFilerRef);
    }
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].label != "nameOfIssuer" || lines[i].value.empty()) continue;
    std::size_t end = lines[i].end;
    std::string cusip, title;
    for (std::size_t j = i + 1; j < lines.size() && j < i + 4; ++j) {
      if (lines[j].label == "titleOfClass") title = lines[j].value;
      if (lines[j].label == "cusip") {
        cusip = lines[j].value;
        end = lines[j].end;
        break;
      }
    }
    std::string issuer = out.entity("COMPANY", lines[i].value, out.slice(lines[i].begin, end));
    if (!manager.empty()) {
      std::optional<std::string> role;
      if (!title.empty()) role = title;
      out.relation(manager, issuer, "HOLDS", out.slice(lines[i].begin, end), {}, doc.period, role);
    }
  }
  return out.finish(FormKind::kThirteenFTable, Coverage::kComplete);
}

// ---------------------------------------------------------------------------------
// EX-21: subsidiaries, one table row ("name | [percent |] jurisdiction") each.

bool numeric(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != '%') return false;
  }
  return true;
}

// "Al-Jubail Petrochemical Company (4) (5)" -> "Al-Jubail Petrochemical Company"; "Apple Inc.*"
// -> "Apple Inc.": footnote marks are not part of a name.
std::string without_footnotes(std::string s) {
  for (;;) {
    s = trim(s);
    if (s.ends_with("*")) {
      s.pop_back();
      continue;
    }
    if (s.ends_with(")")) {
      std::size_t open = s.rfind('(');
      if (open != std::string::npos && s.size() - open <= 5 && numeric(s.substr(open + 1, s.size() - open - 2))) {
        s.resize(open);
        continue;
      }
    }
    return s;
  }
}

std::vector<std::string> cells(std::string_view row) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t bar = row.find(" | ", start);
    out.push_back(trim(row.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start)));
    if (bar == std::string_view::npos) return out;
    start = bar + 3;
  }
}

bool header_cell(const std::string& c) {
  std::string l = lower(c);
  for (const char* w : {"jurisdiction", "organization", "incorporation", "percentage", "country", "name of"}) {
    if (l.find(w) != std::string::npos) return true;
  }
  return false;
}

FormExtraction ex21(const ingest::Document& doc, const std::vector<Line>& lines) {
  Output out(doc.text);
  // The parent: the name after "Subsidiaries of" (same line or the next), as written.
  std::string parent;
  std::size_t parent_begin = 0;
  for (std::size_t i = 0; i < lines.size() && i < 12 && parent.empty(); ++i) {
    std::string l = lower(lines[i].text);
    std::size_t at = l.find("subsidiaries of");
    if (at == std::string::npos) continue;
    std::string rest = trim(lines[i].text.substr(at + 15));
    const Line* where = &lines[i];
    if (rest.empty() && i + 1 < lines.size()) {
      where = &lines[i + 1];
      rest = trim(where->text);
    }
    rest = without_footnotes(rest);
    if (rest.empty() || lower(rest).starts_with("the registrant") || rest.find(" | ") != std::string::npos) break;
    const bool subject = is_subject(doc, rest, "");
    parent = out.entity("COMPANY", rest, out.slice(lines[i].begin, where->end),
                        subject ? doc.cik : std::nullopt);
    parent_begin = subject ? std::string::npos : where->begin;  // npos: the row alone suffices
  }
  // "Subsidiaries of the Registrant": the registrant is the document's filer, named by
  // its metadata when the exhibit came in its submission (verify::kFilerRef).
  if (parent.empty() && doc.company && !doc.company->empty()) {
    parent = std::string(verify::kFilerRef);
    parent_begin = std::string::npos;
  }
  int rows = 0;
  for (const Line& l : lines) {
    if (l.text.find(" | ") == std::string_view::npos) continue;
    std::vector<std::string> c = cells(l.text);
    if (c.size() < 2 || std::any_of(c.begin(), c.end(), header_cell)) continue;
    std::string name = without_footnotes(c.front());
    const std::string& place = c.back();
    if (name.empty() || numeric(name) || place.empty() || numeric(place)) continue;
    std::optional<double> percent;
    if (c.size() >= 3 && numeric(c[1])) percent = std::strtod(c[1].c_str(), nullptr);
    ++rows;
    std::string sub = out.entity("COMPANY", name, l.text, {}, {}, place);
    std::string loc = out.entity("LOCATION", place, l.text);
    out.relation(sub, loc, "INCORPORATED_IN", l.text);
    if (!parent.empty()) {
      std::size_t from = parent_begin == std::string::npos ? l.begin : parent_begin;
      out.relation(sub, parent, "SUBSIDIARY_OF", out.slice(from, l.end), percent);
    }
  }
  return out.finish(FormKind::kEx21, rows > 0 ? Coverage::kComplete : Coverage::kPartial);
}

// ---------------------------------------------------------------------------------
// Schedule 13D/13G cover pages (HTML or text, fields labelled as on the SEC form).

std::optional<double> percent_in(std::string_view s) {
  std::size_t pct = s.rfind('%');
  if (pct == std::string_view::npos) return std::nullopt;
  std::size_t b = pct;
  while (b > 0 && (std::isdigit(static_cast<unsigned char>(s[b - 1])) || s[b - 1] == '.')) --b;
  if (b == pct) return std::nullopt;
  return std::strtod(std::string(s.substr(b, pct - b)).c_str(), nullptr);
}

FormExtraction schedule_13(const ingest::Document& doc, const std::vector<Line>& lines) {
  Output out(doc.text);
  std::string issuer, issuer_name;
  std::size_t issuer_begin = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lower(lines[i].text) == "(name of issuer)") {
      issuer_name = trim(lines[i - 1].text);
      issuer_begin = lines[i - 1].begin;
      issuer = out.entity("COMPANY", issuer_name, out.slice(lines[i - 1].begin, lines[i].end),
                          is_subject(doc, issuer_name, "") ? doc.cik : std::nullopt);
      break;
    }
  }
  if (!issuer.empty()) {
    const bool subject = is_subject(doc, issuer_name, "");
    std::string person;
    std::size_t person_begin = 0;
    static constexpr std::string_view kName = "NAMES OF REPORTING PERSONS";
    static constexpr std::string_view kPercent = "PERCENT OF CLASS REPRESENTED";
    for (const Line& l : lines) {
      std::string_view t = l.text;
      if (auto at = t.find(kName); at != std::string_view::npos) {
        std::string name = trim(t.substr(at + kName.size()));
        if (name.empty()) continue;
        std::string type = looks_like_organisation(name) ? "COMPANY" : "PERSON";
        person = out.entity(type, name, t);
        person_begin = l.begin;
      } else if (!person.empty() && t.find(kPercent) != std::string_view::npos) {
        auto pct = percent_in(t);
        // A holder at 0% is reporting that it no longer owns the class.
        if (pct && *pct > 0) {
          std::size_t from = subject ? person_begin : issuer_begin;
          out.relation(person, issuer, "BENEFICIAL_OWNER_OF", out.slice(from, l.end), pct);
        }
        person.clear();
      }
    }
  }
  return out.finish(FormKind::kSchedule13, Coverage::kPartial);
}

// ---------------------------------------------------------------------------------
// The submission header (ingest's part 0): each company's CIK, state of incorporation
// and business address. Ingest renders both dialects as "KEY: value" lines ("COMPANY
// CONFORMED NAME: X" from a .txt header, "CONFORMED NAME: X" from a .nc one; sections
// as "COMPANY DATA:"). Reporting owners (people) are left to the form itself.

// `line` as (key, value), the key lower-case with '-' as ' ': "conformed name", "cik", ...
std::pair<std::string, std::string> header_field(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return {};
  std::string key = lower(line.substr(0, colon));
  std::replace(key.begin(), key.end(), '-', ' ');
  if (key == "company conformed name") key = "conformed name";
  if (key == "central index key") key = "cik";
  return {key, trim(line.substr(colon + 1))};
}

FormExtraction submission_header(const ingest::Document& doc, const std::vector<Line>& lines) {
  Output out(doc.text);
  struct Company {
    std::string name, cik, incorporated;
    std::size_t begin = 0, name_end = 0, incorporated_begin = 0, incorporated_end = 0;
    std::string city;
    std::size_t city_begin = 0, city_end = 0;
  };
  std::vector<Company> companies;
  bool in_company = false, in_business_address = false;
  for (const Line& l : lines) {
    auto [key, value] = header_field(l.text);
    if (key == "company data" || key == "owner data") {
      in_company = key == "company data";
      in_business_address = false;
      if (in_company) companies.push_back(Company{});
      continue;
    }
    if (!in_company || companies.empty()) continue;
    Company& c = companies.back();
    if (key == "business address" || key == "mail address" || key == "former company" ||
        key == "filing values") {
      in_business_address = key == "business address";
      continue;
    }
    if (key == "conformed name" && c.name.empty() && !value.empty()) {
      c.name = value;
      c.begin = l.begin;
      c.name_end = l.end;
    } else if (key == "cik" && c.cik.empty() && !value.empty()) {
      c.cik = value;
      c.name_end = std::max(c.name_end, l.end);
    } else if (key == "state of incorporation" && !value.empty()) {
      c.incorporated = value;
      c.incorporated_begin = l.begin;
      c.incorporated_end = l.end;
    } else if (in_business_address && key == "city" && c.city.empty() && !value.empty()) {
      c.city = value;
      c.city_begin = l.begin;
      c.city_end = l.end;
    }
  }
  for (const Company& c : companies) {
    if (c.name.empty()) continue;
    std::optional<std::string> cik;
    if (!c.cik.empty()) cik = c.cik;
    std::string company = out.entity("COMPANY", c.name, out.slice(c.begin, c.name_end), cik);
    if (!c.incorporated.empty()) {
      std::string place = out.entity("LOCATION", c.incorporated,
                                     out.slice(c.incorporated_begin, c.incorporated_end));
      out.relation(company, place, "INCORPORATED_IN", out.slice(c.begin, c.incorporated_end));
    }
    if (!c.city.empty()) {
      std::string city = out.entity("LOCATION", c.city, out.slice(c.city_begin, c.city_end));
      out.relation(company, city, "HEADQUARTERED_IN", out.slice(c.begin, c.city_end));
    }
  }
  return out.finish(FormKind::kSubmissionHeader, Coverage::kComplete);
}

bool has_label(const std::vector<Line>& lines, std::string_view label) {
  return std::any_of(lines.begin(), lines.end(), [&](const Line& l) { return l.label == label; });
}

}  // namespace

std::string_view to_string(FormKind k) {
  switch (k) {
    case FormKind::kNone: return "none";
    case FormKind::kOwnership: return "ownership";
    case FormKind::kThirteenFCover: return "13f-cover";
    case FormKind::kThirteenFTable: return "13f-table";
    case FormKind::kSchedule13: return "schedule-13";
    case FormKind::kEx21: return "ex-21";
    case FormKind::kSubmissionHeader: return "sec-header";
  }
  return "none";
}

std::string_view to_string(Coverage c) {
  switch (c) {
    case Coverage::kNone: return "none";
    case Coverage::kPartial: return "partial";
    case Coverage::kComplete: return "complete";
  }
  return "none";
}

std::string_view to_string(ExtractMode m) {
  switch (m) {
    case ExtractMode::kRules: return "rules";
    case ExtractMode::kModel: return "model";
    case ExtractMode::kRulesAndModel: return "rules+model";
  }
  return "rules+model";
}

std::optional<std::string> form_cusip(std::string_view evidence) {
  for (const Line& l : split_lines(evidence)) {
    if (l.label == "cusip" && !l.value.empty()) return trim(l.value);
  }
  return std::nullopt;
}

std::optional<ExtractMode> parse_extract_mode(std::string_view s) {
  if (s == "rules") return ExtractMode::kRules;
  if (s == "model") return ExtractMode::kModel;
  if (s == "rules+model") return ExtractMode::kRulesAndModel;
  return std::nullopt;
}

Result<FormExtraction> extract_form(const ingest::Document& doc) {
  std::string form = lower(doc.form_type.value_or(""));
  std::vector<Line> lines = split_lines(doc.text);
  if (doc.doc_type == ingest::kSubmissionHeader) return submission_header(doc, lines);
  if (doc.format == ingest::Format::kXml) {
    if (has_label(lines, "rptOwnerName") || has_label(lines, "issuerName")) {
      return ownership_form(doc, lines);
    }
    if (has_label(lines, "nameOfIssuer")) return thirteen_f_table(doc, lines);
    if (has_label(lines, "tableEntryTotal") || form.starts_with("13f-hr")) {
      return thirteen_f_cover(doc, lines);
    }
    return FormExtraction{};
  }
  if (doc.format == ingest::Format::kHtml || doc.format == ingest::Format::kText) {
    std::string head = lower(doc.text.substr(0, 400));
    if (form.starts_with("ex-21") ||
        (head.find("exhibit 21") != std::string::npos && head.find("subsidiaries") != std::string::npos)) {
      return ex21(doc, lines);
    }
    if (form.find("13g") != std::string::npos || form.find("13d") != std::string::npos ||
        head.find("schedule 13g") != std::string::npos || head.find("schedule 13d") != std::string::npos) {
      return schedule_13(doc, lines);
    }
  }
  return FormExtraction{};
}

}  // namespace fgraph::extract
