// Evidence normalisation with an offset map back to source code points (see verify.h).
#include <algorithm>
#include <cstring>
#include <string.h>  // memmem (GNU)

#include <utf8proc.h>

#include "verify/internal/anchors.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

constexpr std::int32_t kReplacement = 0xFFFD;
constexpr utf8proc_option_t kNfkc =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);

bool is_space(std::int32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  if (c == 0x85 || c == 0xA0) return true;
  if (c < 0x1680) return false;
  utf8proc_category_t cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
         cat == UTF8PROC_CATEGORY_ZP;
}

bool is_removed(std::int32_t c) {
  return c == 0x00AD || c == 0x200B || c == 0x200C || c == 0x200D || c == 0x2060 ||
         c == 0xFEFF;
}

std::int32_t fold(std::int32_t c) {
  switch (c) {
    case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x02BC:
    case 0xFF07:
      return '\'';
    case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: case 0xFF02:
      return '"';
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
    case 0x2212: case 0xFE58: case 0xFE63: case 0xFF0D:
      return '-';
    default:
      return c;
  }
}

// Collects the normalised text; with `map` set, also the source span of every byte.
// Whitespace is held back until a visible character follows, so that runs collapse and
// the ends are trimmed.
class Builder {
 public:
  Builder(std::string& out, NormalizedText* map) : out_(out), map_(map) {}

  void space(std::uint32_t begin, std::uint32_t end) {
    if (!pending_) {
      pending_ = true;
      space_begin_ = begin;
    }
    space_end_ = end;
  }

  void ascii(char c, std::uint32_t begin, std::uint32_t end) {
    flush_space();
    out_.push_back(c);
    if (map_ != nullptr) {
      map_->char_begin.push_back(begin);
      map_->char_end.push_back(end);
    }
  }

  // `len` visible ASCII characters, the first being source code point `first`.
  void ascii_run(const char* p, std::size_t len, std::uint32_t first) {
    flush_space();
    out_.append(p, len);
    if (map_ != nullptr) {
      std::size_t old = map_->char_begin.size();
      map_->char_begin.resize(old + len);
      map_->char_end.resize(old + len);
      for (std::size_t k = 0; k < len; ++k) {
        map_->char_begin[old + k] = first + static_cast<std::uint32_t>(k);
        map_->char_end[old + k] = first + static_cast<std::uint32_t>(k) + 1;
      }
    }
  }

  void code_point(std::int32_t c, std::uint32_t begin, std::uint32_t end) {
    if (c < 0x80) return ascii(static_cast<char>(c), begin, end);
    flush_space();
    utf8proc_uint8_t buf[4];
    auto n = utf8proc_encode_char(c, buf);
    out_.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
    if (map_ != nullptr) {
      map_->char_begin.insert(map_->char_begin.end(), static_cast<std::size_t>(n), begin);
      map_->char_end.insert(map_->char_end.end(), static_cast<std::size_t>(n), end);
    }
  }

 private:
  void flush_space() {
    if (!pending_) return;
    pending_ = false;
    if (out_.empty()) return;  // leading whitespace is dropped
    out_.push_back(' ');
    if (map_ != nullptr) {
      map_->char_begin.push_back(space_begin_);
      map_->char_end.push_back(space_end_);
    }
  }

  std::string& out_;
  NormalizedText* map_;
  bool pending_ = false;
  std::uint32_t space_begin_ = 0;
  std::uint32_t space_end_ = 0;
};

// Decodes one code point at s[i]; invalid bytes decode as U+FFFD of length 1.
std::int32_t decode(const utf8proc_uint8_t* s, std::size_t n, std::size_t i,
                    std::size_t* length) {
  std::int32_t cp = 0;
  auto len = utf8proc_iterate(s + i, static_cast<utf8proc_ssize_t>(n - i), &cp);
  if (len <= 0 || cp < 0) {
    *length = 1;
    return kReplacement;
  }
  *length = static_cast<std::size_t>(len);
  return cp;
}

void run(std::string_view input, std::string& out, NormalizedText* map) {
  const auto* s = reinterpret_cast<const utf8proc_uint8_t*>(input.data());
  const std::size_t n = input.size();
  out.reserve(n);
  if (map != nullptr) {
    map->char_begin.reserve(n);
    map->char_end.reserve(n);
  }
  Builder b(out, map);
  std::vector<utf8proc_int32_t> buf(64);
  std::size_t i = 0;
  std::uint32_t cp_index = 0;
  while (i < n) {
    const utf8proc_uint8_t c = s[i];
    // ASCII followed by ASCII is its own cluster and already NFKC: the common case.
    if (c < 0x80 && (i + 1 == n || s[i + 1] < 0x80)) {
      if (is_space(c)) {
        b.space(cp_index, cp_index + 1);
        ++i;
        ++cp_index;
        continue;
      }
      // A run of such characters; one followed by a non-ASCII byte is left to the
      // cluster path below, since a combining mark may follow it.
      std::size_t j = i + 1;
      while (j < n && s[j] < 0x80 && !is_space(s[j]) && (j + 1 == n || s[j + 1] < 0x80)) ++j;
      b.ascii_run(reinterpret_cast<const char*>(s + i), j - i, cp_index);
      cp_index += static_cast<std::uint32_t>(j - i);
      i = j;
      continue;
    }
    // One extended grapheme cluster, normalised on its own so that offsets stay exact.
    const std::size_t start = i;
    const std::uint32_t cluster_begin = cp_index;
    std::size_t len = 0;
    std::int32_t prev = decode(s, n, i, &len);
    bool valid = prev != kReplacement || len > 1;
    i += len;
    ++cp_index;
    if (valid) {
      std::int32_t state = 0;
      while (i < n) {
        std::size_t next_len = 0;
        std::int32_t next = decode(s, n, i, &next_len);
        if (next == kReplacement && next_len == 1) break;  // invalid byte: own cluster
        if (utf8proc_grapheme_break_stateful(prev, next, &state)) break;
        prev = next;
        i += next_len;
        ++cp_index;
      }
    }
    if (!valid) {
      b.code_point(kReplacement, cluster_begin, cp_index);
      continue;
    }
    utf8proc_ssize_t count = 0;
    for (;;) {
      count = utf8proc_decompose(s + start, static_cast<utf8proc_ssize_t>(i - start),
                                 buf.data(), static_cast<utf8proc_ssize_t>(buf.size()), kNfkc);
      if (count < 0 || static_cast<std::size_t>(count) <= buf.size()) break;
      buf.resize(static_cast<std::size_t>(count));
    }
    if (count < 0) {  // cannot happen for valid UTF-8; keep the text visible anyway
      b.code_point(kReplacement, cluster_begin, cp_index);
      continue;
    }
    count = utf8proc_normalize_utf32(buf.data(), count, kNfkc);
    for (utf8proc_ssize_t k = 0; k < count; ++k) {
      std::int32_t f = fold(buf[static_cast<std::size_t>(k)]);
      if (is_space(f)) {
        b.space(cluster_begin, cp_index);
      } else if (!is_removed(f)) {
        b.code_point(f, cluster_begin, cp_index);
      }
    }
  }
}

}  // namespace

NormalizedText normalize_with_offsets(std::string_view utf8) {
  NormalizedText t;
  run(utf8, t.text, &t);
  return t;
}

std::string normalize(std::string_view utf8) {
  std::string out;
  run(utf8, out, nullptr);
  return out;
}

std::size_t count_code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::optional<CharSpan> PreparedDocument::find_normalized(
    std::string_view normalized_quote) const {
  if (normalized_quote.empty() || normalized_quote.size() > normalized.text.size()) {
    return std::nullopt;
  }
  std::size_t begin = 0;
  if (index != nullptr) {
    auto at = index->find_first(normalized.text, normalized_quote);
    if (!at) return std::nullopt;
    begin = *at;
  } else {
    const void* hit = ::memmem(normalized.text.data(), normalized.text.size(),
                               normalized_quote.data(), normalized_quote.size());
    if (hit == nullptr) return std::nullopt;
    begin = static_cast<std::size_t>(static_cast<const char*>(hit) - normalized.text.data());
  }
  std::size_t last = begin + normalized_quote.size() - 1;
  return CharSpan{normalized.char_begin[begin], normalized.char_end[last]};
}

std::optional<CharSpan> PreparedDocument::find(std::string_view quote) const {
  return find_normalized(normalize(quote));
}

std::string subject_key(std::string_view name) {
  // The registry's fold of names (core): NFKC, case-folded, invisible code points removed.
  const std::string text = nfkc_visible(name, /*casefold=*/true);
  // Words: runs of letters and digits.
  std::vector<std::string> words;
  std::string word;
  const auto* s = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t l = 0;
    std::int32_t cp = decode(s, text.size(), i, &l);
    utf8proc_category_t cat = utf8proc_category(cp);
    bool alnum = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                 cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_MN ||
                 cat == UTF8PROC_CATEGORY_MC;
    if (alnum) {
      word.append(text, i, l);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
    i += l;
  }
  if (!word.empty()) words.push_back(std::move(word));
  static const char* const kLegalForms[] = {
      "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited",
      "llc", "plc", "lp", "llp", "sa", "nv", "ag", "se", "the"};
  auto is_legal_form = [](const std::string& w) {
    for (const char* f : kLegalForms) {
      if (w == f) return true;
    }
    return false;
  };
  while (!words.empty() && is_legal_form(words.back())) words.pop_back();
  std::size_t first = (!words.empty() && words.front() == "the") ? 1 : 0;
  std::string key;
  for (std::size_t k = first; k < words.size(); ++k) key += words[k];
  return key;
}

std::vector<std::string> default_subject_roles() {
  return {"filer", "subject-company", "issuer"};
}

namespace {

// The document's own subject by its metadata: the company, and the parties whose role is
// in `subject_roles`, as subject_key()s and CIK digits without leading zeros.
struct Subject {
  std::vector<std::string> keys, ciks;
};

std::string cik_key(std::string_view cik) {
  std::string digits;
  for (char c : cik) {
    if (c >= '0' && c <= '9' && !(digits.empty() && c == '0')) digits.push_back(c);
  }
  return digits;
}

Subject subject_of(const ingest::Document& document, const std::vector<std::string>& subject_roles) {
  Subject s;
  auto add_key = [&s](const std::string& name) {
    std::string k = subject_key(name);
    if (k.empty() || std::find(s.keys.begin(), s.keys.end(), k) != s.keys.end()) return;
    s.keys.push_back(std::move(k));
  };
  auto add_cik = [&s](const std::string& cik) {
    if (std::string digits = cik_key(cik); !digits.empty()) s.ciks.push_back(std::move(digits));
  };
  if (document.company) add_key(*document.company);
  if (document.cik) add_cik(*document.cik);
  for (const auto& party : document.parties) {
    if (std::find(subject_roles.begin(), subject_roles.end(), party.role) == subject_roles.end()) continue;
    add_key(party.name);
    if (party.cik) add_cik(*party.cik);
  }
  return s;
}

}  // namespace

PreparedDocument prepare_document(const ingest::Document& document,
                                  const std::vector<std::string>& subject_roles) {
  PreparedDocument p;
  p.doc_id = document.doc_id;
  p.normalized = normalize_with_offsets(document.text);
  p.index = std::make_shared<const internal::AnchorIndex>(p.normalized.text);
  if (document.company && !document.company->empty()) p.filer = document.company;
  Subject s = subject_of(document, subject_roles);
  p.subject_keys = std::move(s.keys);
  p.subject_ciks = std::move(s.ciks);
  return p;
}

bool is_document_subject(const ingest::Document& document, std::string_view name,
                         const std::optional<std::string>& cik,
                         const std::vector<std::string>& subject_roles) {
  const Subject s = subject_of(document, subject_roles);
  if (cik) {
    const std::string digits = cik_key(*cik);
    if (!digits.empty() && std::find(s.ciks.begin(), s.ciks.end(), digits) != s.ciks.end()) return true;
  }
  const std::string key = subject_key(name);
  return !key.empty() && std::find(s.keys.begin(), s.keys.end(), key) != s.keys.end();
}

}  // namespace fgraph::verify
