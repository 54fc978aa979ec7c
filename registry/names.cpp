// Name normalisation (normalize_name, core_name) and trigram similarity.
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <unordered_map>

#include "registry/internal/names.h"
#include "registry/registry.h"

namespace fgraph::registry {
namespace internal {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // invalid byte: replace it and resynchronise on the next one
      out.push_back(0xFFFD);
      p += 1;
      left -= 1;
      continue;
    }
    out.push_back(static_cast<char32_t>(cp));
    p += n;
    left -= n;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

bool is_clean_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp == 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

std::vector<std::uint64_t> trigram_keys(std::string_view text) {
  std::u32string cps = decode_utf8(text);
  std::vector<std::uint64_t> keys;
  if (cps.size() < 3) return keys;
  keys.reserve(cps.size() - 2);
  for (size_t i = 0; i + 2 < cps.size(); ++i) {
    keys.push_back((std::uint64_t{cps[i]} << 42) | (std::uint64_t{cps[i + 1]} << 21) |
                   std::uint64_t{cps[i + 2]});
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::string trigram_text(std::uint64_t key) {
  std::string out;
  append_utf8(out, static_cast<char32_t>((key >> 42) & 0x1FFFFF));
  append_utf8(out, static_cast<char32_t>((key >> 21) & 0x1FFFFF));
  append_utf8(out, static_cast<char32_t>(key & 0x1FFFFF));
  return out;
}

double dice(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return dice_of(common, a.size() + b.size());
}

namespace {

const std::string kKoreanStockCompany = "\xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC";  // 주식회사
const std::string kKoreanJu = "\xEC\xA3\xBC";  // 주, what "(주)" and "㈜" leave

// Spelling -> canonical legal-form token (after folding and punctuation removal).
const std::unordered_map<std::string, std::string>& legal_forms() {
  static const std::unordered_map<std::string, std::string> kForms = {
      {"inc", "inc"},       {"incorporated", "inc"}, {"corp", "corp"},
      {"corporation", "corp"}, {"co", "co"},         {"company", "co"},
      {"ltd", "ltd"},       {"limited", "ltd"},      {"llc", "llc"},
      {"lp", "lp"},         {"llp", "llp"},          {"lllp", "lllp"},
      {"plc", "plc"},       {"nv", "nv"},            {"bv", "bv"},
      {"sa", "sa"},         {"ag", "ag"},            {"gmbh", "gmbh"},
      {"se", "se"},         {"na", "na"},            {"kk", "kk"},
      {"pte", "pte"},       {"pty", "pty"},          {"sarl", "sarl"},
      {"spa", "spa"},       {"kg", "kg"},            {kKoreanStockCompany, kKoreanStockCompany},
      {kKoreanJu, kKoreanStockCompany},
  };
  return kForms;
}

bool is_legal_token(const std::string& t) {
  const auto& forms = legal_forms();
  auto it = forms.find(t);
  return it != forms.end() && it->second == t;
}

std::vector<std::string> split_tokens(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) {
    if (!out.empty()) out += ' ';
    out += t;
  }
  return out;
}

// NFKC + case fold, without the invisible code points (core's nfkc_visible): a name
// that differs only in zero-width characters or compatibility forms is the same name.
std::string fold(std::string_view name) { return nfkc_visible(name, /*casefold=*/true); }

}  // namespace

std::string legal_form(std::string_view normalized) {
  std::vector<std::string> legal;
  for (auto& t : split_tokens(normalized)) {
    if (is_legal_token(t)) legal.push_back(std::move(t));
  }
  return join_tokens(legal);
}

}  // namespace internal

std::string normalize_name(std::string_view name) {
  using namespace internal;
  std::string folded = fold(name);
  std::string cleaned;
  cleaned.reserve(folded.size());
  for (char32_t cp : decode_utf8(folded)) {
    if (cp == U'.' || cp == U'\'' || cp == U'\u2019' || cp == U'\u02BC') continue;
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    bool keep = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO);  // L*, M*, N*
    if (keep) {
      append_utf8(cleaned, cp);
    } else {
      cleaned += ' ';
    }
  }
  std::vector<std::string> tokens;
  std::vector<std::string> trailing;  // Korean legal forms move to the end
  const auto& forms = legal_forms();
  std::vector<std::string> raw = split_tokens(cleaned);
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string t = raw[i];
    if (t == "national" && i + 2 == raw.size() && raw[i + 1] == "association") {
      tokens.emplace_back("na");
      ++i;
      continue;
    }
    // 삼성전자주식회사 / 주식회사카카오: split the Korean legal form off the word.
    const std::string& k = kKoreanStockCompany;
    if (t.size() > k.size() && t.compare(t.size() - k.size(), k.size(), k) == 0) {
      tokens.push_back(t.substr(0, t.size() - k.size()));
      trailing.push_back(k);
      continue;
    }
    if (t.size() > k.size() && t.compare(0, k.size(), k) == 0) {
      tokens.push_back(t.substr(k.size()));
      trailing.push_back(k);
      continue;
    }
    auto it = forms.find(t);
    if (it != forms.end()) {
      if (it->second == k) {
        trailing.push_back(k);
      } else {
        tokens.push_back(it->second);
      }
      continue;
    }
    tokens.push_back(std::move(t));
  }
  for (auto& t : trailing) tokens.push_back(std::move(t));
  if (tokens.size() > 1 && tokens.front() == "the") tokens.erase(tokens.begin());
  std::string out = join_tokens(tokens);
  if (!out.empty()) return out;
  // Nothing but punctuation: keep it (folded, whitespace collapsed) so it stays findable.
  std::string collapsed;
  for (char32_t cp : decode_utf8(folded)) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    bool space = cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
                 cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC;
    if (space) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
    } else {
      append_utf8(collapsed, cp);
    }
  }
  while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
  return collapsed;
}

std::string core_name(std::string_view normalized) {
  std::vector<std::string> core;
  for (auto& t : internal::split_tokens(normalized)) {
    if (!internal::is_legal_token(t)) core.push_back(std::move(t));
  }
  if (core.empty()) return std::string(normalized);
  return internal::join_tokens(core);
}

double trigram_similarity(std::string_view a, std::string_view b) {
  auto ka = internal::trigram_keys(a);
  auto kb = internal::trigram_keys(b);
  if (ka.empty() || kb.empty()) return a == b ? 1.0 : 0.0;
  return internal::dice(ka, kb);
}

}  // namespace fgraph::registry
