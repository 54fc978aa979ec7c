// Content-defined anchors: 8-byte windows of normalised text chosen by their content
// alone, so a quote copied from a text contains the same anchors as the region it came
// from. Shared by the per-document quote index and the run-level leak index.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace fgraph::verify::internal {

constexpr std::size_t kGram = 8;
constexpr std::uint64_t kAnchorModulus = 16;

inline std::uint64_t load_gram(const char* p) {
  std::uint64_t g = 0;
  std::memcpy(&g, p, kGram);
  return g;
}

inline bool is_anchor(std::uint64_t gram) {
  std::uint64_t x = gram;  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x % kAnchorModulus == 0;
}

// Every anchor of one text with its byte position, sorted by gram then position.
class AnchorIndex {
 public:
  explicit AnchorIndex(std::string_view text);
  // Byte offset of the first occurrence of `quote` in `text` (the text it was built
  // from), or nullopt. Exact: candidates are confirmed by comparison.
  std::optional<std::size_t> find_first(std::string_view text, std::string_view quote) const;

 private:
  std::vector<std::pair<std::uint64_t, std::uint32_t>> anchors_;
};

}  // namespace fgraph::verify::internal
