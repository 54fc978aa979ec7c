// The fuzzy step's in-memory trigram index (registry/internal/trigram_index.h).
#include "registry/internal/trigram_index.h"

#include <algorithm>
#include <cmath>

#include "registry/internal/names.h"

namespace fgraph::registry::internal {
namespace {

// Counts are 16 bits (half the cache footprint of 32: 15% faster at 200,000 entries).
constexpr std::size_t kMaxSearchKeys = 65535;

// A later posting list is counted while it is no longer than this many times the
// number of candidates: counting costs a nanosecond or two per posting, and every list
// counted raises the count a candidate needs, so fewer are scored (measured on the
// registry bench and 200,000 bench names: 1 is best; 0.5 and 4 cost 1.5 times as much).
constexpr double kCountRatio = 1;

}  // namespace

void TrigramIndex::clear() {
  ids_.clear();
  postings_.clear();
  rids_.clear();
  offsets_.assign(1, 0);
  tids_.clear();
  text_offsets_.assign(1, 0);
  text_.clear();
}

bool TrigramIndex::add(std::int64_t rid, std::string_view core) {
  if (!rids_.empty() && rid <= rids_.back()) return false;
  const auto slot = static_cast<std::uint32_t>(rids_.size());
  std::size_t first = tids_.size();
  for (std::uint64_t key : trigram_keys(core)) {
    auto [it, inserted] = ids_.try_emplace(key, static_cast<std::uint32_t>(postings_.size()));
    if (inserted) postings_.emplace_back();
    postings_[it->second].push_back(slot);
    tids_.push_back(it->second);
  }
  std::sort(tids_.begin() + static_cast<std::ptrdiff_t>(first), tids_.end());
  offsets_.push_back(static_cast<std::uint32_t>(tids_.size()));
  text_.append(core);
  text_offsets_.push_back(static_cast<std::uint32_t>(text_.size()));
  rids_.push_back(rid);
  return true;
}

std::vector<TrigramIndex::Hit> TrigramIndex::search(const std::vector<std::uint64_t>& keys,
                                                    double threshold, Scratch& scratch) const {
  std::vector<Hit> hits;
  const std::size_t n = keys.size();
  if (n == 0 || n > kMaxSearchKeys || rids_.empty()) return hits;
  // Dice >= t against an entry of any size needs shared >= t*n/(2-t).
  auto need_total =
      static_cast<std::size_t>(std::max(0.0, std::ceil(threshold * static_cast<double>(n) /
                                                           (2.0 - threshold) - 1e-9)));
  need_total = std::clamp<std::size_t>(need_total, 1, n);

  // The query's trigrams known to the index, rarest first (ties by id: deterministic).
  std::vector<std::pair<std::size_t, std::uint32_t>> lists;  // (length, trigram id)
  for (std::uint64_t key : keys) {
    auto it = ids_.find(key);
    if (it == ids_.end()) continue;
    lists.emplace_back(postings_[it->second].size(), it->second);
  }
  const std::size_t present = lists.size();
  if (present < need_total) return hits;  // no entry can share enough
  std::sort(lists.begin(), lists.end());
  auto& counts = scratch.counts;
  auto& touched = scratch.touched;
  auto& marks = scratch.marks;
  if (counts.size() < rids_.size()) counts.resize(rids_.size(), 0);

  // Every qualifying entry is in one of the first `mandatory` lists.
  const std::size_t mandatory = present - need_total + 1;
  std::size_t postings = 0;
  for (std::size_t i = 0; i < mandatory; ++i) postings += lists[i].first;
  touched.resize(postings);
  std::size_t n_touched = 0;
  for (std::size_t i = 0; i < mandatory; ++i) {
    for (std::uint32_t slot : postings_[lists[i].second]) {
      touched[n_touched] = slot;  // kept only when first seen: no branch to mispredict
      n_touched += counts[slot]++ == 0 ? 1 : 0;
    }
  }
  touched.resize(n_touched);
  // Later lists only raise the counts of entries already found; each one counted raises
  // the count a candidate needs by one.
  std::size_t counted = mandatory;
  while (counted < present && static_cast<double>(lists[counted].first) <=
                                    kCountRatio * static_cast<double>(touched.size())) {
    for (std::uint32_t slot : postings_[lists[counted].second]) {
      counts[slot] += counts[slot] != 0 ? 1 : 0;
    }
    ++counted;
  }
  const std::size_t need = need_total - (present - counted);

  // A candidate's shared count is its count so far plus the uncounted lists it is in:
  // mark those trigrams, then add up the marks over the candidate's trigrams.
  const std::size_t uncounted = present - counted;
  if (marks.size() < postings_.size()) marks.resize(postings_.size(), 0);
  for (std::size_t i = counted; i < present; ++i) marks[lists[i].second] = 1;
  for (std::uint32_t slot : touched) {
    const std::uint32_t count = counts[slot];
    counts[slot] = 0;
    if (count < need) continue;
    const std::uint32_t first = offsets_[slot], last = offsets_[slot + 1];
    const double size = static_cast<double>(n + (last - first));
    // The same expression as internal::dice, so scores compare equal to it; division is
    // monotonic, so an upper bound below the threshold rules the candidate out.
    if (2.0 * static_cast<double>(count + uncounted) / size < threshold) continue;
    std::size_t common = count;
    if (uncounted > 0) {
      for (std::uint32_t k = first; k < last; ++k) common += marks[tids_[k]];
    }
    double score = 2.0 * static_cast<double>(common) / size;
    if (score >= threshold && common > 0) hits.push_back({score, rids_[slot]});
  }
  for (std::size_t i = counted; i < present; ++i) marks[lists[i].second] = 0;
  touched.clear();
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.rid < b.rid; });
  return hits;
}

std::vector<TrigramIndex::Hit> TrigramIndex::containing(std::string_view text,
                                                        const std::vector<std::uint64_t>& keys,
                                                        std::size_t limit,
                                                        Scratch& scratch) const {
  std::vector<Hit> hits;
  if (keys.empty() || text.empty()) return hits;
  std::vector<std::uint32_t> query;
  const std::vector<std::uint32_t>* rarest = nullptr;
  for (std::uint64_t key : keys) {
    auto it = ids_.find(key);
    if (it == ids_.end()) return hits;  // a trigram no name has
    query.push_back(it->second);
    const auto& list = postings_[it->second];
    if (rarest == nullptr || list.size() < rarest->size()) rarest = &list;
  }
  auto& marks = scratch.marks;
  if (marks.size() < postings_.size()) marks.resize(postings_.size(), 0);
  for (std::uint32_t t : query) marks[t] = 1;
  for (std::uint32_t slot : *rarest) {
    if (hits.size() >= limit) break;
    std::string_view core(text_.data() + text_offsets_[slot],
                          text_offsets_[slot + 1] - text_offsets_[slot]);
    if (core.find(text) == std::string_view::npos) continue;
    std::size_t common = 0;
    for (std::uint32_t k = offsets_[slot]; k < offsets_[slot + 1]; ++k) common += marks[tids_[k]];
    const double size = static_cast<double>(keys.size() + (offsets_[slot + 1] - offsets_[slot]));
    hits.push_back({2.0 * static_cast<double>(common) / size, rids_[slot]});
  }
  for (std::uint32_t t : query) marks[t] = 0;
  return hits;
}

}  // namespace fgraph::registry::internal
