#include "ingest/internal/sgml.h"

#include <algorithm>
#include <cctype>

namespace fgraph::ingest::internal {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN PRIVACY-ENHANCED MESSAGE-----";
constexpr std::string_view kPemEnd = "-----END PRIVACY-ENHANCED MESSAGE-----";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) !=
        std::toupper(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "20241227" -> "2024-12-27"; anything else passes through unchanged.
std::string iso_date(std::string_view v) {
  v = trim(v);
  if (v.size() >= 8 && std::all_of(v.begin(), v.begin() + 8,
                                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::string(v.substr(0, 4)) + "-" + std::string(v.substr(4, 2)) + "-" +
           std::string(v.substr(6, 2));
  }
  return std::string(v);
}

// Header role block names, in both the .txt ("SUBJECT COMPANY") and .nc ("SUBJECT-COMPANY")
// spellings, mapped to our role names.
std::optional<std::string> role_for(std::string_view key) {
  std::string k;
  for (char c : key) k.push_back(c == ' ' || c == '_' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  static constexpr std::string_view kRoles[] = {
      "FILER", "SUBJECT-COMPANY", "FILED-BY", "REPORTING-OWNER", "ISSUER", "DEPOSITOR",
      "SECURITIZER", "ISSUING-ENTITY", "UNDERWRITER", "SERIAL-COMPANY"};
  for (auto r : kRoles) {
    if (k == r) return lower(k);
  }
  return std::nullopt;
}

struct Lines {
  std::string_view text;
  std::size_t pos = 0;
  bool next(std::string_view& line, std::size_t& start) {
    if (pos >= text.size()) return false;
    start = pos;
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      line = text.substr(pos);
      pos = text.size();
    } else {
      line = text.substr(pos, nl - pos);
      pos = nl + 1;
    }
    return true;
  }
};

void add_party(SubmissionHeader& h, HeaderParty p) {
  if (p.name.empty() && p.cik.empty()) return;
  for (const auto& q : h.parties) {
    if (q.role == p.role && q.cik == p.cik && (q.cik.empty() ? q.name == p.name : true)) return;
  }
  h.parties.push_back(std::move(p));
}

// "KEY:<tabs>value" header of a .txt submission.
void parse_text_header(std::string_view block, SubmissionHeader& h) {
  Lines lines{block};
  std::string_view line;
  std::size_t start;
  HeaderParty party;
  bool open = false;  // inside a role block
  auto flush = [&] {
    if (open) add_party(h, std::move(party));
    party = HeaderParty{};
    open = false;
  };
  while (lines.next(line, start)) {
    if (line.empty() || line.front() == '<') continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    bool top = line.front() != '\t' && line.front() != ' ';
    if (top) {
      if (auto role = role_for(key); role && value.empty()) {
        flush();
        party.role = *role;
        open = true;
        continue;
      }
      if (key == "GROUP MEMBERS") {
        flush();
        if (!value.empty()) add_party(h, HeaderParty{"group-member", std::string(value), ""});
        continue;
      }
      flush();
      if (key == "ACCESSION NUMBER") h.accession = std::string(value);
      else if (key == "CONFORMED SUBMISSION TYPE") h.form_type = std::string(value);
      else if (key == "FILED AS OF DATE") h.filed_at = iso_date(value);
      else if (key == "CONFORMED PERIOD OF REPORT") h.period = iso_date(value);
      continue;
    }
    if (!open) continue;
    if (key == "COMPANY CONFORMED NAME" && party.name.empty()) party.name = std::string(value);
    else if (key == "CENTRAL INDEX KEY" && party.cik.empty()) party.cik = std::string(value);
  }
  flush();
}

// Tag-per-line header of a .nc feed file.
void parse_nc_header(std::string_view block, SubmissionHeader& h) {
  Lines lines{block};
  std::string_view line;
  std::size_t start;
  std::vector<HeaderParty> stack;  // open role blocks
  while (lines.next(line, start)) {
    line = trim(line);
    if (line.size() < 3 || line.front() != '<') continue;
    std::size_t close = line.find('>');
    if (close == std::string_view::npos) continue;
    bool closing = line[1] == '/';
    std::string_view tag = line.substr(closing ? 2 : 1, close - (closing ? 2 : 1));
    std::string_view value = trim(line.substr(close + 1));
    auto role = role_for(tag);
    if (role) {
      if (closing) {
        if (!stack.empty()) {
          add_party(h, std::move(stack.back()));
          stack.pop_back();
        }
      } else if (value.empty()) {
        stack.push_back(HeaderParty{*role, "", ""});
      }
      continue;
    }
    if (closing) continue;
    if (!stack.empty()) {
      if (tag == "CONFORMED-NAME" && stack.back().name.empty()) stack.back().name = std::string(value);
      else if (tag == "CIK" && stack.back().cik.empty()) stack.back().cik = std::string(value);
      continue;
    }
    if (tag == "ACCESSION-NUMBER") h.accession = std::string(value);
    else if (tag == "TYPE") h.form_type = std::string(value);
    else if (tag == "FILING-DATE") h.filed_at = iso_date(value);
    else if (tag == "PERIOD") h.period = iso_date(value);
  }
  for (auto& p : stack) add_party(h, std::move(p));
}

// Value of a one-line "<TAG>value" metadata line, when `line` is that tag.
bool tag_value(std::string_view line, std::string_view tag, std::string& out) {
  if (line.size() < tag.size() + 2 || line[0] != '<') return false;
  if (!starts_with_ci(line.substr(1), tag) || line[tag.size() + 1] != '>') return false;
  out = std::string(trim(line.substr(tag.size() + 2)));
  return true;
}

std::string_view unwrap_payload(std::string_view payload) {
  std::string_view p = payload;
  // Leading blank lines only; the first content line may be a wrapper tag.
  while (!p.empty() && (p.front() == '\n' || p.front() == ' ' || p.front() == '\t')) p.remove_prefix(1);
  for (std::string_view tag : {std::string_view("XML"), std::string_view("XBRL")}) {
    std::string open = "<" + std::string(tag) + ">";
    std::string close = "</" + std::string(tag) + ">";
    if (starts_with_ci(p, open)) {
      p.remove_prefix(open.size());
      while (!p.empty() && std::isspace(static_cast<unsigned char>(p.front()))) p.remove_prefix(1);
      std::string_view tail = trim(p);
      if (tail.size() >= close.size() && starts_with_ci(tail.substr(tail.size() - close.size()), close)) {
        std::size_t end = p.rfind(close);
        if (end == std::string_view::npos) end = p.size() - close.size();
        p = p.substr(0, end);
      }
      break;
    }
  }
  return p;
}

std::string extension_of(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "";
  std::string ext(name.substr(dot + 1));
  for (auto& c : ext) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

std::string normalise_line_ends(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string strip_pem_envelope(std::string_view text) {
  std::size_t lead = 0;
  while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
  if (text.substr(lead, kPemBegin.size()) != kPemBegin) return std::string(text);
  std::size_t body = text.find("\n\n", lead);
  body = body == std::string_view::npos ? text.size() : body + 2;
  std::size_t end = text.find(kPemEnd, body);
  std::string_view inner = text.substr(body, end == std::string_view::npos ? std::string_view::npos : end - body);
  std::string out;
  out.reserve(inner.size());
  Lines lines{inner};
  std::string_view line;
  std::size_t start;
  while (lines.next(line, start)) {
    if (line.size() >= 2 && line[0] == '-' && line[1] == ' ') line.remove_prefix(2);
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

bool looks_like_sgml(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[i]))) ++i;
  std::string_view head = bytes.substr(i, 64);
  return head.starts_with(kPemBegin) || head.starts_with("<SEC-DOCUMENT>") ||
         head.starts_with("<SEC-HEADER>") || head.starts_with("<SUBMISSION>") ||
         head.starts_with("<IMS-DOCUMENT>") || head.starts_with("<DOCUMENT>") ||
         head.starts_with("<TYPE>");
}

Result<Submission> split_submission(std::string_view bytes) {
  Submission sub;
  sub.text = std::make_unique<const std::string>(strip_pem_envelope(normalise_line_ends(bytes)));
  const std::string& text = *sub.text;
  Lines lines{text};
  std::string_view line;
  std::size_t start;
  bool in_doc = false;
  SgmlDocument doc;
  auto truncated = [&] {
    return make_error(ErrorCode::kInvalidInput,
                      "truncated submission: document " + std::to_string(sub.documents.size() + 1) +
                          " has no closing </DOCUMENT>");
  };
  while (lines.next(line, start)) {
    std::string_view t = trim(line);
    if (!in_doc) {
      if (t.starts_with("<SEC-HEADER>")) {
        std::size_t close = text.find("</SEC-HEADER>", start);
        if (close == std::string::npos)
          return make_error(ErrorCode::kInvalidInput, "truncated submission: <SEC-HEADER> is never closed");
        sub.header.text = std::string_view(text).substr(lines.pos, close - lines.pos);
        parse_text_header(sub.header.text, sub.header);
        sub.has_header = true;
        std::size_t after = text.find('\n', close);
        lines.pos = after == std::string::npos ? text.size() : after + 1;
        continue;
      }
      if (t == "<SUBMISSION>") {
        std::size_t first_doc = text.find("<DOCUMENT>", lines.pos);
        std::size_t end = first_doc == std::string::npos ? text.size() : first_doc;
        sub.header.text = std::string_view(text).substr(lines.pos, end - lines.pos);
        parse_nc_header(sub.header.text, sub.header);
        sub.has_header = true;
        lines.pos = end;
        continue;
      }
      if (t == "<DOCUMENT>") {
        in_doc = true;
        continue;
      }
      if (t.starts_with("<TYPE>") && sub.documents.empty()) {
        in_doc = true;  // a cut-out document without its <DOCUMENT> line
      } else {
        continue;
      }
    }
    // In a document, before <TEXT>: metadata lines.
    std::string v;
    if (tag_value(t, "TYPE", v)) { if (doc.type.empty()) doc.type = v; continue; }
    if (tag_value(t, "SEQUENCE", v)) { doc.sequence = v; continue; }
    if (tag_value(t, "FILENAME", v)) { doc.filename = v; continue; }
    if (tag_value(t, "DESCRIPTION", v)) { doc.description = v; continue; }
    if (starts_with_ci(t, "<TEXT>")) {
      // The payload is skipped in bulk: jump to the closing tags.
      std::size_t text_start = start + line.find('>') + 1;
      std::size_t close = text.find("</TEXT>", text_start);
      std::size_t doc_close = text.find("</DOCUMENT>", text_start);
      if (doc_close == std::string::npos) return truncated();
      std::size_t payload_end = close != std::string::npos && close < doc_close ? close : doc_close;
      doc.payload = unwrap_payload(std::string_view(text).substr(text_start, payload_end - text_start));
      sub.documents.push_back(std::move(doc));
      doc = SgmlDocument{};
      in_doc = false;
      std::size_t after = text.find('\n', doc_close);
      lines.pos = after == std::string::npos ? text.size() : after + 1;
      continue;
    }
    if (t == "</DOCUMENT>") {
      // A document with no <TEXT>: nothing to parse, keep its position.
      sub.documents.push_back(std::move(doc));
      doc = SgmlDocument{};
      in_doc = false;
      continue;
    }
  }
  if (in_doc) return truncated();
  if (sub.documents.empty() && !sub.has_header) {
    return make_error(ErrorCode::kInvalidInput, "no <DOCUMENT> found in the SGML submission");
  }
  return sub;
}

std::optional<std::string> skip_reason(const SgmlDocument& doc) {
  std::string type = doc.type;
  for (auto& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string ext = extension_of(doc.filename);
  std::string_view p = trim(doc.payload);
  if (p.starts_with("begin ")) {
    std::size_t nl = p.find('\n');
    std::string_view first = p.substr(0, nl);
    std::size_t sp = first.rfind(' ');
    std::string name_ext = extension_of(first.substr(sp + 1));
    return "uuencoded binary attachment (" + (name_ext.empty() ? type : name_ext) + ")";
  }
  if (starts_with_ci(p, "<PDF>") || p.starts_with("%PDF")) return std::string("binary attachment (PDF)");
  if (type == "GRAPHIC" || type == "ZIP" || type == "EXCEL" || type == "PDF")
    return "binary attachment (" + type + ")";
  if (p.empty()) return std::string("empty document");
  if (type == "JSON" || ext == "JS" || ext == "CSS" || ext == "JSON")
    return "not a document (" + (ext.empty() ? type : ext) + ")";
  if (type == "XML" && !(doc.filename.size() > 8 && doc.filename.ends_with("_htm.xml")))
    return "EDGAR viewer artefact (" + doc.filename + ")";
  if (type.starts_with("EX-101.") && type != "EX-101.LAB" && type != "EX-101.INS")
    return "XBRL " + std::string(type == "EX-101.SCH" ? "taxonomy schema" : "linkbase") + " (" + type + ")";
  return std::nullopt;
}

std::string strip_ascii_markup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<') {
      std::size_t close = text.find('>', i);
      if (close != std::string_view::npos && close - i <= 10) {
        std::string tag = lower(text.substr(i + 1, close - i - 1));
        if (!tag.empty() && tag[0] == '/') tag.erase(0, 1);
        bool footnote = tag.size() >= 2 && tag[0] == 'f' &&
                        std::all_of(tag.begin() + 1, tag.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        if (tag == "page" || tag == "table" || tag == "caption" || tag == "s" || tag == "c" ||
            tag == "fn" || footnote) {
          i = close;
          continue;
        }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace fgraph::ingest::internal
