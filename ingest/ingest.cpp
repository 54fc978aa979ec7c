// Entry points of the ingest stage: reading files, sniffing their format, and assembling
// Documents from the internal parsers.
#include "ingest/ingest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ingest/internal/drop_scan.h"
#include "ingest/internal/encoding.h"
#include "ingest/internal/html_text.h"
#include "ingest/internal/sgml.h"
#include "ingest/internal/text_builder.h"
#include "ingest/internal/xml_forms.h"

namespace fgraph::ingest {
namespace {

using internal::Decoded;

Failure failure(const std::string& source, std::string code, std::string message,
                ErrorCode error_code = ErrorCode::kInvalidInput) {
  return Failure{source, make_error(error_code, std::move(message)), std::move(code)};
}

std::string megabytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// What a non-text file is, or nullopt when the bytes look like text.
std::optional<std::string> binary_kind(std::string_view b) {
  auto starts = [&](std::string_view magic) { return b.substr(0, magic.size()) == magic; };
  if (starts("\x7f" "ELF")) return "ELF executable";
  if (starts("%PDF")) return "PDF document";
  if (starts("PK\x03\x04")) return "zip archive (or xlsx/docx)";
  if (starts("\x89PNG")) return "PNG image";
  if (starts("\xFF\xD8\xFF")) return "JPEG image";
  if (starts("GIF8")) return "GIF image";
  if (starts("\x1F\x8B")) return "gzip data";
  std::string_view head = b.substr(0, 8192);
  std::size_t control = 0;
  for (unsigned char c : head) {
    if (c == 0) return "binary data (NUL bytes)";
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B) ++control;
  }
  if (!head.empty() && control * 20 > head.size()) return "binary data (control bytes)";
  return std::nullopt;
}

bool blank(std::string_view b) {
  for (unsigned char c : b) {
    if (!std::isspace(c)) return false;
  }
  return true;
}

// The parsed content of one payload, before it becomes a Document.
struct Content {
  Format format = Format::kText;
  std::string text;
  std::optional<std::string> form_type, cik, company, period, registry_id;
  std::vector<Party> parties;
  std::vector<std::string> warnings;
};

std::string first_tag(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size() || s[i] != '<') return "";
    if (s.substr(i, 4) == "<!--") {
      std::size_t e = s.find("-->", i);
      if (e == std::string_view::npos) return "";
      i = e + 3;
      continue;
    }
    if (s.substr(i, 2) == "<?" || s.substr(i, 2) == "<!") {
      std::string lower;
      for (char c : s.substr(i, 14)) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      if (lower.starts_with("<!doctype html")) return "html";
      std::size_t e = s.find('>', i);
      if (e == std::string_view::npos) return "";
      i = e + 1;
      continue;
    }
    std::size_t j = i + 1;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '>' && s[j] != '/') ++j;
    std::string name(s.substr(i + 1, j - i - 1));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  return "";
}

bool html_tag(const std::string& t) {
  static constexpr std::string_view kTags[] = {"html", "head", "body", "div", "p", "table", "font",
                                                "center", "title", "meta", "br", "b", "h1", "h2",
                                                "h3", "span", "pre", "hr", "style", "link"};
  for (auto k : kTags) if (t == k) return true;
  return false;
}

Content from_html(internal::HtmlText h) {
  Content c;
  c.format = h.ixbrl ? Format::kIxbrl : Format::kHtml;
  c.text = std::move(h.text);
  c.form_type = h.facts.document_type;
  c.cik = h.facts.cik;
  c.company = h.facts.registrant_name;
  c.period = h.facts.period_end;
  if (h.facts.uk_company_number) c.registry_id = "companies-house:" + *h.facts.uk_company_number;
  if (c.company || c.cik) c.parties.push_back(Party{"registrant", c.company.value_or(""), c.cik});
  return c;
}

Content plain_text(std::string_view utf8) {
  Content c;
  std::string text = internal::strip_ascii_markup(internal::normalise_line_ends(utf8));
  internal::TextBuilder b;
  b.reserve(text.size());  // the text only shrinks; growing it by doubling held it twice
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + start, nl - start);
    if (blank(line)) {
      b.paragraph_break();
    } else {
      b.append(line);
      b.line_break();
    }
    start = nl + 1;
  }
  c.text = b.finish();
  return c;
}

// Decodes and parses one payload (a whole file, or one <DOCUMENT>'s <TEXT>).
Result<Content> parse_content(std::string_view bytes, const std::string& name,
                              const Options& options) {
  Decoded d = internal::decode_to_utf8(bytes, /*copy_unchanged=*/false);
  std::string_view utf8 = d.utf8;
  if (d.unchanged) utf8 = bytes.substr(bytes.starts_with("\xEF\xBB\xBF") ? 3 : 0);
  std::vector<std::string> warnings;
  if (d.transcoded) {
    warnings.push_back("transcoded from " + d.encoding +
                       (d.declared.empty() ? std::string(" (no declared encoding)")
                                           : " (declared " + d.declared + ")"));
  }
  if (d.replaced > 0) warnings.push_back("replaced " + std::to_string(d.replaced) + " undecodable bytes");
  Content c;
  std::string tag = first_tag(utf8);
  // EDGAR ASCII documents open with "<PAGE>" and similar markers, not markup.
  std::size_t lead = utf8.find_first_not_of(" \t\r\n");
  bool markup = lead != std::string::npos && utf8[lead] == '<';
  bool plain = !markup || tag == "page" || tag == "s" || tag == "c" || tag == "caption" || tag == "fn";
  if (!plain && utf8.size() > options.max_markup_bytes) {
    // libxml2's tree of a markup document takes about ten times its size (ARCHITECTURE.md,
    // "Memory"); past this limit the document is refused rather than the machine swamped.
    return make_error(ErrorCode::kInvalidInput,
                      "markup document is " + megabytes(utf8.size()) + ", over the " +
                          megabytes(options.max_markup_bytes) + " limit for HTML/XML",
                      "too_large");
  }
  if (plain) {
    c = plain_text(utf8);
  } else if (html_tag(tag)) {
    auto h = internal::html_to_text(utf8, name);
    if (!h) return h.error();
    c = from_html(std::move(*h));
  } else {
    auto x = internal::xml_to_content(utf8, name);
    if (x) {
      c.format = x->format;
      c.text = std::move(x->text);
      c.form_type = x->form_type;
      c.cik = x->cik;
      c.company = x->company;
      c.period = x->period;
      c.registry_id = x->registry_id;
      c.parties = std::move(x->parties);
      for (auto& w : x->warnings) warnings.push_back(std::move(w));
    } else {
      auto h = internal::html_to_text(utf8, name);
      if (!h) return h.error();
      c = from_html(std::move(*h));
      warnings.push_back("not well-formed XML; read with the HTML parser");
    }
  }
  std::size_t bad = internal::sanitize_utf8(c.text);
  if (bad > 0) warnings.push_back("replaced " + std::to_string(bad) + " invalid bytes in text");
  for (auto& w : warnings) c.warnings.push_back(std::move(w));
  return c;
}

Document make_document(const std::string& source, int part, Content c) {
  Document d;
  d.source = source;
  d.part = part;
  d.format = c.format;
  d.form_type = std::move(c.form_type);
  d.cik = std::move(c.cik);
  d.company = std::move(c.company);
  d.period = std::move(c.period);
  d.registry_id = std::move(c.registry_id);
  d.parties = std::move(c.parties);
  d.text = std::move(c.text);
  d.warnings = std::move(c.warnings);
  d.doc_id = make_doc_id(d.text);
  return d;
}

std::optional<std::string> non_empty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// The party whose CIK and name describe the filing: the issuer of ownership forms, else
// the (first) filer, else the subject company, else whoever comes first.
const internal::HeaderParty* primary_party(const internal::SubmissionHeader& h) {
  for (const char* role : {"issuer", "filer", "subject-company", "filed-by"}) {
    for (const auto& p : h.parties) if (p.role == role) return &p;
  }
  return h.parties.empty() ? nullptr : &h.parties.front();
}

// The header as plain "KEY: value" lines, the same in both dialects: a .txt header's
// lines are kept (trimmed, runs of blanks made one space, blank lines dropped); an SGML
// tag line "<CONFORMED-NAME>X" (all of a .nc header, and <ACCEPTANCE-DATETIME> in a
// .txt one) becomes "CONFORMED NAME: X", "<COMPANY-DATA>" becomes "COMPANY DATA:" and
// closing tags are dropped, so the text carries no markup. Empty when there was no header.
std::string header_text(std::string_view block) {
  std::string out;
  std::size_t at = 0;
  while (at < block.size()) {
    std::size_t end = block.find('\n', at);
    if (end == std::string_view::npos) end = block.size();
    std::string line;
    for (char ch : block.substr(at, end - at)) {
      const bool space = ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
      if (!space) line.push_back(ch);
      else if (!line.empty() && line.back() != ' ') line.push_back(' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    at = end + 1;
    if (line.starts_with("</")) continue;
    if (std::size_t close = line.find('>'); line.starts_with('<') && close != std::string::npos) {
      std::string key = line.substr(1, close - 1);
      std::replace(key.begin(), key.end(), '-', ' ');
      std::string value = line.substr(close + 1);
      if (!value.empty() && value.front() == ' ') value.erase(0, 1);
      line = value.empty() ? key + ':' : key + ": " + value;
    }
    if (!line.empty()) out += line + '\n';
  }
  if (!out.empty()) out.pop_back();
  return out;
}

// `owner`, when given, holds `bytes` and is released once the submission is split (its
// documents view the split copy): the file is then not held twice while its documents
// are parsed. `bytes` is not used after that.
ParseResult parse_submission(std::string_view bytes, std::string* owner, const std::string& source,
                             const Options& options) {
  ParseResult r;
  auto sub = internal::split_submission(bytes);
  if (!sub) {
    r.failures.push_back(Failure{source, sub.error(), "truncated_submission"});
    return r;
  }
  if (owner != nullptr) std::string().swap(*owner);
  const auto& h = sub->header;
  std::vector<Party> header_parties;
  for (const auto& p : h.parties) {
    std::string cik = internal::zero_pad_cik(p.cik);
    header_parties.push_back(Party{p.role, p.name, non_empty(cik)});
  }
  const internal::HeaderParty* primary = primary_party(h);
  // Part 0: the header itself, so that what only the header states (the filer's CIK,
  // state of incorporation, business address) can be quoted from a document's own text.
  if (std::string header = header_text(h.text); !header.empty()) {
    Content c;
    c.text = std::move(header);
    c.parties = header_parties;
    c.form_type = h.form_type;
    if (primary != nullptr) {
      c.company = non_empty(primary->name);
      c.cik = non_empty(internal::zero_pad_cik(primary->cik));
    }
    c.period = h.period;
    Document d = make_document(source, 0, std::move(c));
    d.accession = h.accession;
    d.filed_at = h.filed_at;
    d.doc_type = std::string(kSubmissionHeader);
    r.documents.push_back(std::move(d));
  }
  int part = 0;
  for (const auto& doc : sub->documents) {
    ++part;
    if (auto why = internal::skip_reason(doc)) {
      r.skipped.push_back(Skipped{source, part, *why});
      continue;
    }
    auto content = parse_content(doc.payload, source + "#" + std::to_string(part), options);
    if (!content) {
      // A document that could not be read whole fails: its text is not passed on cut short.
      Error e = content.error();
      bool large = e.detail == "too_large";
      e.message = "document " + std::to_string(part) + ": " + e.message;
      r.failures.push_back(Failure{source, std::move(e), large ? "too_large" : "parse_error", part});
      continue;
    }
    if (content->text.empty()) {
      r.skipped.push_back(Skipped{source, part, "no text content"});
      continue;
    }
    Content c = std::move(*content);
    std::vector<Party> parties = header_parties;
    for (auto& p : c.parties) {
      bool dup = false;
      for (const auto& q : parties) {
        if ((p.cik && q.cik == p.cik) || (!p.cik && q.name == p.name)) dup = true;
      }
      if (!dup) parties.push_back(std::move(p));
    }
    c.parties = std::move(parties);
    if (!doc.type.empty()) c.form_type = doc.type;
    else if (h.form_type) c.form_type = h.form_type;
    if (primary != nullptr) {
      c.company = non_empty(primary->name);
      if (auto cik = non_empty(internal::zero_pad_cik(primary->cik))) c.cik = cik;
    }
    if (h.period) c.period = h.period;
    Document d = make_document(source, part, std::move(c));
    d.accession = h.accession;
    d.filed_at = h.filed_at;
    d.doc_type = non_empty(doc.type);
    d.sequence = non_empty(doc.sequence);
    d.filename = non_empty(doc.filename);
    d.description = non_empty(doc.description);
    r.documents.push_back(std::move(d));
  }
  if (r.documents.empty() && r.skipped.empty() && r.failures.empty()) {
    r.failures.push_back(failure(source, "no_text", "the submission holds no document"));
  }
  return r;
}

void merge(ParseResult& into, ParseResult&& from) {
  for (auto& d : from.documents) into.documents.push_back(std::move(d));
  for (auto& s : from.skipped) into.skipped.push_back(std::move(s));
  for (auto& f : from.failures) into.failures.push_back(std::move(f));
}

}  // namespace

std::string_view to_string(Format f) {
  switch (f) {
    case Format::kSecSubmission: return "sec-submission";
    case Format::kHtml: return "html";
    case Format::kIxbrl: return "ixbrl";
    case Format::kXml: return "xml";
    case Format::kXbrl: return "xbrl";
    case Format::kText: return "text";
  }
  return "text";
}

std::string make_doc_id(std::string_view text) { return "sha256:" + sha256_hex(text); }

namespace {

// parse_bytes; `owner` as for parse_submission.
ParseResult parse_buffer(std::string_view bytes, std::string* owner, const std::string& name,
                         const Options& options) {
  ParseResult r;
  if (bytes.size() > options.max_file_bytes) {
    r.failures.push_back(failure(name, "too_large",
                                 "file is " + megabytes(bytes.size()) + ", over the " +
                                     megabytes(options.max_file_bytes) + " limit"));
    return r;
  }
  if (blank(bytes)) {
    r.failures.push_back(failure(name, "empty_file", bytes.empty() ? "empty file" : "file holds only whitespace"));
    return r;
  }
  if (auto kind = binary_kind(bytes)) {
    r.failures.push_back(failure(name, "binary_file", "not a text filing: " + *kind));
    return r;
  }
  if (internal::looks_like_sgml(bytes)) return parse_submission(bytes, owner, name, options);
  auto content = parse_content(bytes, name, options);
  if (!content) {
    bool large = content.error().detail == "too_large";
    r.failures.push_back(Failure{name, content.error(), large ? "too_large" : "parse_error"});
    return r;
  }
  if (content->text.empty()) {
    r.failures.push_back(failure(name, "no_text", "parsed, but the file holds no text"));
    return r;
  }
  r.documents.push_back(make_document(name, 1, std::move(*content)));
  return r;
}

}  // namespace

ParseResult parse_bytes(std::string_view bytes, const std::string& name, const Options& options) {
  return parse_buffer(bytes, nullptr, name, options);
}

ParseResult parse_file(const std::string& path, const Options& options) {
  ParseResult r;
  // A FIFO blocks open(2) until a writer comes, and opening a device can act on it: only
  // a regular file is opened. O_NONBLOCK covers a swap between stat and open (it changes
  // nothing for a regular file), and fstat below checks what was opened.
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) {
    r.failures.push_back(internal::failure_from_errno(path, errno, "cannot open"));
    return r;
  }
  if (!S_ISREG(before.st_mode)) {
    r.failures.push_back(internal::not_regular_file(path, before.st_mode));
    return r;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    r.failures.push_back(internal::failure_from_errno(path, errno, "cannot open"));
    return r;
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    r.failures.push_back(internal::failure_from_errno(path, errno, "cannot stat"));
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    r.failures.push_back(internal::not_regular_file(path, st.st_mode));
    return r;
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > options.max_file_bytes) {
    // Refused from its size alone: nothing is read.
    r.failures.push_back(failure(path, "too_large",
                                 "file is " + megabytes(size) + ", over the " +
                                     megabytes(options.max_file_bytes) + " limit; not read"));
    return r;
  }
  std::string bytes(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, bytes.data() + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.failures.push_back(internal::failure_from_errno(path, errno, "read failed"));
      return r;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return parse_buffer(bytes, &bytes, path, options);
}

ParseResult parse_paths(const std::vector<std::string>& paths, const Options& options) {
  return internal::parse_paths_with(paths, options, internal::system_dir_lister());
}

namespace internal {

ParseResult parse_paths_with(const std::vector<std::string>& paths, const Options& options,
                             DirLister& lister) {
  ParseResult all;
  for (auto& entry : scan_paths(paths, options, lister, &all.hidden_skipped)) {
    if (entry.failure) {
      all.failures.push_back(std::move(*entry.failure));
      continue;
    }
    merge(all, parse_file(entry.path, options));
  }
  return all;
}

}  // namespace internal
}  // namespace fgraph::ingest
