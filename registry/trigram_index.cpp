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

// The prefix filter is built once the index holds this many entries (below, counting is
// fast anyway), and rebuilt each time the index has grown by a quarter since: entries
// added meanwhile keep an order that drifts from the real rarity (registry bench, paired
// over 200k-430k entries: 1.42-1.58x the counting's speed, against 1.31-1.46x when
// rebuilt at each doubling; adds cost 2.3 us instead of 1.3).
constexpr std::size_t kMinPrefixEntries = 1024;

// Scratch::shared of an entry the prefix filter has ruled out.
constexpr std::uint16_t kPruned = 0xFFFF;

}  // namespace

void TrigramIndex::clear() {
  prefixes_built_at_ = 0;
  rank_.clear();
  prefixes_.clear();
  oversized_.clear();
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
  if (prefix_threshold_ > 0 &&
      rids_.size() >= std::max(kMinPrefixEntries, prefixes_built_at_ + prefixes_built_at_ / 4)) {
    build_prefixes();
  } else if (prefixes_built_at_ > 0) {
    add_prefix(slot);
  }
  return true;
}

void TrigramIndex::build_prefixes() {
  // Rarest first; ties by id, so that the order is a function of the entries.
  std::vector<std::uint32_t> order(postings_.size());
  for (std::uint32_t t = 0; t < order.size(); ++t) order[t] = t;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return postings_[a].size() != postings_[b].size() ? postings_[a].size() < postings_[b].size()
                                                      : a < b;
  });
  rank_.assign(postings_.size(), 0);
  for (std::uint32_t r = 0; r < order.size(); ++r) rank_[order[r]] = r;
  prefixes_.assign(postings_.size(), {});
  oversized_.clear();
  prefixes_built_at_ = rids_.size();
  for (std::uint32_t slot = 0; slot < rids_.size(); ++slot) add_prefix(slot);
}

void TrigramIndex::add_prefix(std::uint32_t slot) {
  while (rank_.size() < postings_.size()) {  // trigrams new since the order: last
    rank_.push_back(static_cast<std::uint32_t>(rank_.size()));
    prefixes_.emplace_back();
  }
  const std::uint32_t first = offsets_[slot], size = offsets_[slot + 1] - first;
  if (size == 0) return;  // shares nothing: never a hit
  if (size > 0xFFFF) {
    oversized_.push_back(slot);
    return;
  }
  std::vector<std::uint32_t> ordered(tids_.begin() + first, tids_.begin() + first + size);
  std::sort(ordered.begin(), ordered.end(),
            [&](std::uint32_t a, std::uint32_t b) { return rank_[a] < rank_[b]; });
  // The fewest trigrams a hit at prefix_threshold_ shares with this entry (rounded down
  // when within 1e-9 of an integer: a longer prefix only costs a little speed).
  const double t = prefix_threshold_;
  const auto least = static_cast<std::uint32_t>(
      std::max(1.0, std::ceil(t * static_cast<double>(size) / (2.0 - t) - 1e-9)));
  const std::uint32_t length = size - std::min(least, size) + 1;
  for (std::uint32_t pos = 0; pos < length; ++pos) {
    prefixes_[ordered[pos]].push_back({slot, first, static_cast<std::uint16_t>(pos),
                                       static_cast<std::uint16_t>(size)});
  }
}

std::vector<TrigramIndex::Hit> TrigramIndex::search(const std::vector<std::uint64_t>& keys,
                                                    double threshold, Scratch& scratch) const {
  std::vector<Hit> hits;
  const std::size_t n = keys.size();
  if (n == 0 || n > kMaxSearchKeys || rids_.empty()) return hits;
  // (Below kPruned query trigrams, a shared count never reaches it.)
  if (prefixes_built_at_ > 0 && threshold >= prefix_threshold_ && n < kPruned) {
    return search_prefixes(keys, threshold, scratch);
  }
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
    const std::size_t sizes = n + (last - first);
    // Division is monotonic, so an upper bound below the threshold rules it out.
    if (dice_of(count + uncounted, sizes) < threshold) continue;
    std::size_t common = count;
    if (uncounted > 0) {
      for (std::uint32_t k = first; k < last; ++k) common += marks[tids_[k]];
    }
    double score = dice_of(common, sizes);
    if (score >= threshold && common > 0) hits.push_back({score, rids_[slot]});
  }
  for (std::size_t i = counted; i < present; ++i) marks[lists[i].second] = 0;
  touched.clear();
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.rid < b.rid; });
  return hits;
}

std::vector<TrigramIndex::Hit> TrigramIndex::search_prefixes(
    const std::vector<std::uint64_t>& keys, double threshold, Scratch& scratch) const {
  std::vector<Hit> hits;
  const std::size_t n = keys.size();
  // needs[k]: the fewest shared trigrams for which an entry of k trigrams scores >=
  // threshold, by the very expression that scores it; 0 when more than it or the query
  // have (no entry of that size can score). Sizes above (2-t)n/t never can.
  auto& needs = scratch.needs;
  const double largest =
      (2.0 - threshold) * static_cast<double>(n) / threshold + 2.0;  // threshold > 0 here
  needs.assign(static_cast<std::size_t>(std::min(65536.0, largest)), 0);
  std::uint32_t least = 0;  // the fewest any entry needs
  for (std::size_t k = 1; k < needs.size(); ++k) {
    const double size = static_cast<double>(n + k);
    auto c = static_cast<std::size_t>(std::max(0.0, std::floor(threshold * size / 2.0) - 1.0));
    while (dice_of(c, n + k) < threshold) ++c;
    c = std::max<std::size_t>(c, 1);
    if (c > std::min(n, k)) continue;
    needs[k] = static_cast<std::uint32_t>(c);
    least = least == 0 ? needs[k] : std::min(least, needs[k]);
  }
  auto& marks = scratch.marks;
  if (marks.size() < postings_.size()) marks.resize(postings_.size(), 0);
  auto score = [&](std::uint32_t slot, std::uint32_t first, std::uint32_t size) {
    std::size_t common = 0;
    for (std::uint32_t k = first; k < first + size; ++k) common += marks[tids_[k]];
    const double s = dice_of(common, n + size);
    if (s >= threshold && common > 0) hits.push_back({s, rids_[slot]});
  };
  // The query's trigrams in the global order; those no entry has (unknown) go first: no
  // entry shares them, so the prefix they fill has fewer trigrams to scan.
  std::vector<std::uint32_t> query;
  query.reserve(n);
  for (std::uint64_t key : keys) {
    auto it = ids_.find(key);
    if (it != ids_.end()) query.push_back(it->second);
  }
  const std::size_t unknown = n - query.size();
  for (std::uint32_t t : query) marks[t] = 1;
  for (std::uint32_t slot : oversized_) {
    score(slot, offsets_[slot], offsets_[slot + 1] - offsets_[slot]);
  }
  const std::size_t prefix = least == 0 ? 0 : n - least + 1;
  if (prefix > unknown) {
    std::sort(query.begin(), query.end(),
              [&](std::uint32_t a, std::uint32_t b) { return rank_[a] < rank_[b]; });
    auto& shared = scratch.shared;
    auto& candidates = scratch.candidates;
    auto& pruned = scratch.touched;
    if (shared.size() < rids_.size()) shared.resize(rids_.size(), 0);
    candidates.clear();
    pruned.clear();
    const std::size_t scanned = std::min(prefix - unknown, query.size());
    for (std::size_t q = 0; q < scanned; ++q) {
      const auto after = static_cast<std::uint32_t>(n - (unknown + q) - 1);  // query trigrams
                                                                            // later in order
      for (const PrefixPosting& p : prefixes_[query[q]]) {
        const std::uint32_t need = p.size < needs.size() ? needs[p.size] : 0;
        if (need == 0) continue;
        std::uint16_t& c = shared[p.slot];
        if (c == kPruned) continue;
        // Shared so far, this one, and at most the fewer of the trigrams after it.
        const std::uint32_t bound = c + 1u + std::min<std::uint32_t>(after, p.size - p.pos - 1u);
        if (bound < need) {
          if (c == 0) pruned.push_back(p.slot);
          c = kPruned;
          continue;
        }
        if (c == 0) candidates.push_back({p.slot, p.first, p.size});
        ++c;
      }
    }
    constexpr std::size_t kAhead = 8;  // candidates are scattered: fetch ahead
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (i + kAhead < candidates.size()) __builtin_prefetch(&tids_[candidates[i + kAhead][1]]);
      const auto [slot, first, size] = candidates[i];
      const bool live = shared[slot] != kPruned;
      shared[slot] = 0;
      if (live) score(slot, first, size);
    }
    for (std::uint32_t slot : pruned) shared[slot] = 0;
    pruned.clear();
  }
  for (std::uint32_t t : query) marks[t] = 0;
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
    hits.push_back({dice_of(common, keys.size() + (offsets_[slot + 1] - offsets_[slot])),
                    rids_[slot]});
  }
  for (std::uint32_t t : query) marks[t] = 0;
  return hits;
}

}  // namespace fgraph::registry::internal
