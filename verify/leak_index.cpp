// The run-level leak index: normalised texts of a run's documents and an anchor index.
//
// An anchor is an 8-byte window of normalised text whose mixed value is 0 modulo
// kAnchorModulus: the choice depends on content only, so a quote copied from a document
// contains the same anchors as the region it came from. Looking up the quote's rarest
// anchor gives the few documents worth a full substring search.
#include <algorithm>
#include <cstring>
#include <string.h>  // memmem (GNU)
#include <unordered_map>
#include <unordered_set>

#include "verify/internal/anchors.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

using internal::is_anchor;
using internal::kGram;
using internal::load_gram;

}  // namespace

struct LeakIndex::Impl {
  std::vector<std::string> doc_ids;
  std::vector<std::string> texts;
  std::unordered_set<std::string> known;
  // anchor gram -> documents holding it, in order of addition, without repeats
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> anchors;

  void add(std::string_view doc_id, std::string text) {
    if (!known.emplace(doc_id).second) return;
    auto doc = static_cast<std::uint32_t>(texts.size());
    if (text.size() >= kGram) {
      for (std::size_t i = 0; i + kGram <= text.size(); ++i) {
        std::uint64_t g = load_gram(text.data() + i);
        if (!is_anchor(g)) continue;
        auto& docs = anchors[g];
        if (docs.empty() || docs.back() != doc) docs.push_back(doc);
      }
    }
    doc_ids.emplace_back(doc_id);
    texts.push_back(std::move(text));
  }

  bool contains(std::uint32_t doc, std::string_view quote) const {
    const std::string& t = texts[doc];
    return quote.size() <= t.size() &&
           ::memmem(t.data(), t.size(), quote.data(), quote.size()) != nullptr;
  }
};

LeakIndex::LeakIndex() : impl_(std::make_unique<Impl>()) {}
LeakIndex::~LeakIndex() = default;
LeakIndex::LeakIndex(LeakIndex&&) noexcept = default;
LeakIndex& LeakIndex::operator=(LeakIndex&&) noexcept = default;

void LeakIndex::add(std::string_view doc_id, std::string_view text) {
  impl_->add(doc_id, normalize(text));
}

void LeakIndex::add(const PreparedDocument& document) {
  impl_->add(document.doc_id, document.normalized.text);
}

std::size_t LeakIndex::size() const { return impl_->texts.size(); }

std::optional<std::string> LeakIndex::find_elsewhere(std::string_view normalized_quote,
                                                     std::string_view own_doc_id) const {
  if (normalized_quote.empty()) return std::nullopt;
  // The quote's rarest anchor bounds the candidates; every candidate is confirmed.
  const std::vector<std::uint32_t>* best = nullptr;
  bool anchored = false;
  for (std::size_t i = 0; i + kGram <= normalized_quote.size(); ++i) {
    std::uint64_t g = load_gram(normalized_quote.data() + i);
    if (!is_anchor(g)) continue;
    anchored = true;
    auto it = impl_->anchors.find(g);
    if (it == impl_->anchors.end()) return std::nullopt;  // in no document at all
    if (best == nullptr || it->second.size() < best->size()) best = &it->second;
  }
  auto try_doc = [&](std::uint32_t doc) -> bool {
    return impl_->doc_ids[doc] != own_doc_id && impl_->contains(doc, normalized_quote);
  };
  if (anchored) {
    for (std::uint32_t doc : *best) {
      if (try_doc(doc)) return impl_->doc_ids[doc];
    }
    return std::nullopt;
  }
  for (std::uint32_t doc = 0; doc < impl_->texts.size(); ++doc) {
    if (try_doc(doc)) return impl_->doc_ids[doc];
  }
  return std::nullopt;
}

}  // namespace fgraph::verify
