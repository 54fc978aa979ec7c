#include "ingest/internal/encoding.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>

namespace fgraph::ingest::internal {
namespace {

// Length of the well-formed UTF-8 sequence at p (1..4), or 0 when ill-formed.
std::size_t valid_sequence_length(const unsigned char* p, std::size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

struct Utf8Stats {
  std::size_t valid_multibyte = 0;
  std::size_t invalid_bytes = 0;
};

Utf8Stats utf8_stats(std::string_view bytes) {
  Utf8Stats s;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  for (std::size_t i = 0; i < n;) {
    if (p[i] < 0x80) { ++i; continue; }
    std::size_t len = valid_sequence_length(p + i, n - i);
    if (len == 0) { ++s.invalid_bytes; ++i; } else { ++s.valid_multibyte; i += len; }
  }
  return s;
}

struct IconvCloser {
  void operator()(void* cd) const { iconv_close(static_cast<iconv_t>(cd)); }
};

// Converts the whole buffer from `from` to UTF-8; false on any invalid or incomplete input.
bool iconv_strict(std::string_view bytes, const std::string& from, std::string& out) {
  iconv_t raw = iconv_open("UTF-8", from.c_str());
  if (raw == reinterpret_cast<iconv_t>(-1)) return false;
  std::unique_ptr<void, IconvCloser> cd(raw);
  out.assign(bytes.size() * 2 + 16, '\0');
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  std::size_t used = 0;
  while (in_left > 0) {
    char* dst = out.data() + used;
    std::size_t dst_left = out.size() - used;
    std::size_t rc = iconv(raw, &in, &in_left, &dst, &dst_left);
    used = out.size() - dst_left;
    if (rc == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) { out.resize(out.size() * 2); continue; }
      return false;  // EILSEQ or EINVAL
    }
  }
  out.resize(used);
  return true;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_utf8_name(const std::string& e) { return e == "UTF-8" || e == "UTF8"; }
bool is_ascii_name(const std::string& e) {
  return e == "US-ASCII" || e == "ASCII" || e == "ANSI_X3.4-1968";
}
bool is_korean_name(const std::string& e) {
  return e == "EUC-KR" || e == "EUCKR" || e == "CP949" || e == "UHC" || e == "KS_C_5601-1987";
}

// Share of Hangul syllables among the non-ASCII code points of a UTF-8 string.
double hangul_share(std::string_view utf8) {
  std::size_t non_ascii = 0, hangul = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(utf8.data());
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    if (p[i] < 0x80 || (p[i] & 0xC0) == 0x80) continue;
    ++non_ascii;
    // U+AC00..U+D7A3 are EA B0 80 .. ED 9E A3.
    if (p[i] >= 0xEA && p[i] <= 0xED) ++hangul;
  }
  return non_ascii == 0 ? 0.0 : static_cast<double>(hangul) / static_cast<double>(non_ascii);
}

std::string decode_utf8_replacing(std::string_view bytes, std::size_t& replaced) {
  std::string out(bytes);
  replaced = sanitize_utf8(out);
  return out;
}

std::string decode_cp1252(std::string_view bytes, std::size_t& replaced) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0xA0) {
      char32_t cp = cp1252_c1(c);
      if (cp == 0) { ++replaced; cp = 0xFFFD; }
      append_utf8(out, cp);
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  for (std::size_t i = 0; i < n;) {
    if (p[i] < 0x80) { ++i; continue; }
    std::size_t len = valid_sequence_length(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t cp1252_c1(unsigned char byte) {
  static constexpr char32_t kTable[32] = {
      0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};
  if (byte < 0x80 || byte > 0x9F) return 0;
  return kTable[byte - 0x80];
}

std::size_t sanitize_utf8(std::string& text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size();
  std::size_t i = 0;
  // Fast path: most text is valid; only rebuild from the first bad byte on.
  for (; i < n;) {
    if (p[i] < 0x80) { ++i; continue; }
    std::size_t len = valid_sequence_length(p + i, n - i);
    if (len == 0) break;
    i += len;
  }
  if (i == n) return 0;
  std::string out(text, 0, i);
  std::size_t replaced = 0;
  while (i < n) {
    if (p[i] < 0x80) { out.push_back(static_cast<char>(p[i])); ++i; continue; }
    std::size_t len = valid_sequence_length(p + i, n - i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++replaced;
      ++i;
    } else {
      out.append(reinterpret_cast<const char*>(p + i), len);
      i += len;
    }
  }
  text = std::move(out);
  return replaced;
}

std::string declared_encoding(std::string_view bytes) {
  std::string head(bytes.substr(0, 4096));
  std::string lower = head;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto value_after = [&](std::size_t pos) -> std::string {
    while (pos < lower.size() && (lower[pos] == ' ' || lower[pos] == '=' || lower[pos] == '"' ||
                                  lower[pos] == '\''))
      ++pos;
    std::size_t end = pos;
    while (end < lower.size() &&
           (std::isalnum(static_cast<unsigned char>(lower[end])) || lower[end] == '-' ||
            lower[end] == '_' || lower[end] == '.' || lower[end] == ':'))
      ++end;
    return upper(head.substr(pos, end - pos));
  };
  std::size_t decl = lower.find("<?xml");
  if (decl != std::string::npos) {
    std::size_t close = lower.find("?>", decl);
    std::size_t enc = lower.find("encoding", decl);
    if (enc != std::string::npos && (close == std::string::npos || enc < close))
      return value_after(enc + 8);
  }
  std::size_t cs = lower.find("charset");
  if (cs != std::string::npos && lower.rfind("<meta", cs) != std::string::npos)
    return value_after(cs + 7);
  return "";
}

Decoded decode_to_utf8(std::string_view bytes, bool copy_unchanged) {
  Decoded d;
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  d.declared = declared_encoding(bytes);
  if (is_valid_utf8(bytes)) {
    if (copy_unchanged) d.utf8 = std::string(bytes); else d.unchanged = true;
    d.encoding = "UTF-8";
    return d;
  }
  const std::string& decl = d.declared;
  // A declared legacy charset is believed when the bytes decode under it.
  if (!decl.empty() && !is_utf8_name(decl) && !is_ascii_name(decl)) {
    std::string from = is_korean_name(decl) ? "CP949" : decl;
    if (from == "ISO-8859-1" || from == "LATIN1" || from == "WINDOWS-1252" || from == "CP1252") {
      d.utf8 = decode_cp1252(bytes, d.replaced);
      d.encoding = "WINDOWS-1252";
      d.transcoded = true;
      return d;
    }
    if (iconv_strict(bytes, from, d.utf8)) {
      d.encoding = from;
      d.transcoded = true;
      return d;
    }
  }
  // Declared UTF-8 (or nothing) but not UTF-8: Korean filings are the known case.
  std::string korean;
  if (iconv_strict(bytes, "CP949", korean) && hangul_share(korean) > 0.5) {
    d.utf8 = std::move(korean);
    d.encoding = "CP949";
    d.transcoded = true;
    return d;
  }
  Utf8Stats stats = utf8_stats(bytes);
  if (stats.valid_multibyte >= stats.invalid_bytes ||
      (is_utf8_name(decl) && stats.valid_multibyte > 0)) {
    d.utf8 = decode_utf8_replacing(bytes, d.replaced);
    d.encoding = "UTF-8";
    return d;
  }
  d.utf8 = decode_cp1252(bytes, d.replaced);
  d.encoding = "WINDOWS-1252";
  d.transcoded = true;
  return d;
}

}  // namespace fgraph::ingest::internal
