// Unicode text shared by the stages that compare names (utf8proc).
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/core.h"

namespace fgraph {

bool is_default_ignorable(char32_t cp) {
  // DerivedCoreProperties.txt, Default_Ignorable_Code_Point (stable since Unicode 5.2, the
  // reserved ranges included). utf8proc's own flag (UTF8PROC_IGNORE) leaves out the
  // unassigned ones (U+2065, U+FFF0-U+FFF8, most tags), which render just as invisibly.
  struct Range {
    char32_t first, last;
  };
  static constexpr Range kRanges[] = {
      {0x00AD, 0x00AD},   {0x034F, 0x034F},   {0x061C, 0x061C},   {0x115F, 0x1160},
      {0x17B4, 0x17B5},   {0x180B, 0x180F},   {0x200B, 0x200F},   {0x202A, 0x202E},
      {0x2060, 0x206F},   {0x3164, 0x3164},   {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},
      {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFF8},   {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
      {0xE0000, 0xE0FFF},
  };
  if (cp < 0xAD) return false;
  for (const auto& r : kRanges) {
    if (cp < r.first) return false;
    if (cp <= r.last) return true;
  }
  return false;
}

namespace {

// Calls f(cp, bytes) for each code point of `utf8`; an invalid byte comes alone, as -1.
template <typename F>
void each_code_point(std::string_view utf8, F&& f) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  auto left = static_cast<utf8proc_ssize_t>(utf8.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // resynchronise on the next byte
      cp = -1;
      n = 1;
    }
    f(cp, std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)));
    p += n;
    left -= n;
  }
}

}  // namespace

std::string nfkc_visible(std::string_view utf8, bool casefold) {
  // Valid UTF-8 first (utf8proc_map refuses anything else: invalid bytes become U+FFFD,
  // NUL a space), without the invisible code points: removed before NFKC so that they
  // cannot block a composition either.
  std::string valid;
  valid.reserve(utf8.size());
  each_code_point(utf8, [&](utf8proc_int32_t cp, std::string_view) {
    if (cp < 0) cp = 0xFFFD;
    if (cp == 0) cp = ' ';
    if (is_default_ignorable(static_cast<char32_t>(cp))) return;
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t len = utf8proc_encode_char(cp, buf);
    valid.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
  });
  int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (casefold) options |= UTF8PROC_CASEFOLD;
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                    static_cast<utf8proc_ssize_t>(valid.size()), &out,
                                    static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(out, &std::free);
  if (n < 0) return valid;  // only on allocation failure: keep the text rather than fail
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string without_default_ignorables(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  each_code_point(utf8, [&](utf8proc_int32_t cp, std::string_view bytes) {
    // An invalid byte is kept as it is.
    if (cp < 0 || !is_default_ignorable(static_cast<char32_t>(cp))) out.append(bytes);
  });
  return out;
}

}  // namespace fgraph
