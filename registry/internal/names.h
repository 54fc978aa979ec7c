// Name normalisation and trigram similarity shared inside the registry stage
// (entity_registry.cpp, the bench's baseline through the public wrappers).
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fgraph::registry::internal {

// Code points of UTF-8 text; invalid bytes become U+FFFD.
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cp);

// Sorted distinct trigram keys (three 21-bit code points packed in 63 bits), over the
// text's code points without padding, as FTS5's trigram tokenizer sees them.
std::vector<std::uint64_t> trigram_keys(std::string_view text);
// The UTF-8 text of one trigram key.
std::string trigram_text(std::uint64_t key);
// Dice coefficient of two sorted key sets; 1 when both are empty.
double dice(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b);
// Dice of sets of `sizes` keys in all sharing `common`: the one expression every score
// and bound uses, so that the trigram index's scores compare equal to dice().
inline double dice_of(std::size_t common, std::size_t sizes) {
  return 2.0 * static_cast<double>(common) / static_cast<double>(sizes);
}

// The legal-form tokens of a normalised name, in order, joined by spaces ("" if none).
std::string legal_form(std::string_view normalized);

// True when the text is valid UTF-8 without NUL bytes.
bool is_clean_utf8(std::string_view text);

}  // namespace fgraph::registry::internal
