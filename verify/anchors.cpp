// The per-document anchor index behind PreparedDocument::find_normalized.
#include <algorithm>
#include <string.h>  // memmem (GNU)

#include "verify/internal/anchors.h"

namespace fgraph::verify::internal {

AnchorIndex::AnchorIndex(std::string_view text) {
  if (text.size() < kGram) return;
  anchors_.reserve(text.size() / kAnchorModulus + 16);
  for (std::size_t i = 0; i + kGram <= text.size(); ++i) {
    std::uint64_t g = load_gram(text.data() + i);
    if (is_anchor(g)) anchors_.emplace_back(g, static_cast<std::uint32_t>(i));
  }
  std::sort(anchors_.begin(), anchors_.end());
}

std::optional<std::size_t> AnchorIndex::find_first(std::string_view text,
                                                   std::string_view quote) const {
  if (quote.empty() || quote.size() > text.size()) return std::nullopt;
  // The quote's rarest anchor: each of its positions in the text is one candidate start.
  using Range = std::pair<decltype(anchors_)::const_iterator, decltype(anchors_)::const_iterator>;
  std::optional<Range> best;
  std::size_t best_offset = 0;
  for (std::size_t i = 0; i + kGram <= quote.size(); ++i) {
    std::uint64_t g = load_gram(quote.data() + i);
    if (!is_anchor(g)) continue;
    auto range = std::equal_range(
        anchors_.begin(), anchors_.end(), std::make_pair(g, std::uint32_t{0}),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    if (range.first == range.second) return std::nullopt;  // the text lacks this window
    if (!best || range.second - range.first < best->second - best->first) {
      best = range;
      best_offset = i;
    }
  }
  if (!best) {  // no anchor in a short quote: plain search
    const void* hit = ::memmem(text.data(), text.size(), quote.data(), quote.size());
    if (hit == nullptr) return std::nullopt;
    return static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
  }
  // Positions are sorted, so the first confirmed candidate is the first occurrence.
  for (auto it = best->first; it != best->second; ++it) {
    if (it->second < best_offset) continue;
    std::size_t start = it->second - best_offset;
    if (start + quote.size() <= text.size() &&
        std::memcmp(text.data() + start, quote.data(), quote.size()) == 0) {
      return start;
    }
  }
  return std::nullopt;
}

}  // namespace fgraph::verify::internal
