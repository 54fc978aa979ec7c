// ingest/internal: encoding detection and transcoding to UTF-8.
//
// Owns: deciding which encoding a byte buffer is really in (declared and actual are both
// considered) and turning it into valid UTF-8, replacing and counting undecodable bytes.
// Threading: pure functions, reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fgraph::ingest::internal {

struct Decoded {
  std::string utf8;              // always valid UTF-8, BOM removed
  std::string encoding;          // what the bytes were read as: "UTF-8", "CP949", "WINDOWS-1252", ...
  std::string declared;          // the encoding the bytes declared (xml decl / meta), "" if none
  std::size_t replaced = 0;      // undecodable bytes replaced by U+FFFD
  bool transcoded = false;       // true when the bytes were not read as UTF-8
  // The input (after a BOM) was valid UTF-8 and, as asked, not copied: `utf8` is empty
  // and the caller reads its own bytes (a 64 MB file is not held twice).
  bool unchanged = false;
};

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// The charset named by an `<?xml ... encoding="..."?>` declaration or an HTML
// `<meta charset>` / `content="...; charset=..."` in the first few KiB, upper-cased; "" if none.
std::string declared_encoding(std::string_view bytes);

// Decodes `bytes` into UTF-8. Order: valid UTF-8 wins whatever is declared; otherwise a
// declared non-UTF-8 charset (through iconv); otherwise CP949 when the whole buffer
// decodes and yields Hangul; otherwise UTF-8 with replacement when most non-ASCII
// sequences are valid UTF-8; otherwise Windows-1252.
// With `copy_unchanged` false, valid UTF-8 is not copied (see Decoded::unchanged).
Decoded decode_to_utf8(std::string_view bytes, bool copy_unchanged = true);

// Replaces every ill-formed sequence by U+FFFD; returns how many bytes were replaced.
std::size_t sanitize_utf8(std::string& text);

// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

// The Unicode code point Windows-1252 assigns to byte 0x80..0x9F, or 0 when undefined.
char32_t cp1252_c1(unsigned char byte);

}  // namespace fgraph::ingest::internal
