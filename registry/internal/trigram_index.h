// An in-memory inverted index from character trigrams to entities, for the registry's
// fuzzy step (entity_registry.cpp). It answers "every entry whose Dice score against
// these trigrams is at least t" exactly, without touching SQLite.
//
// Owns: one entry per entity row (its rid and the sorted trigram ids of its core name)
// and one posting list per distinct trigram. It mirrors the `entities` table; keeping it
// in step with the database (other processes, rollbacks) is the registry's job.
//
// Threading: add and clear need one thread at a time; search and containing are const
// and may run on several threads at once, each with its own Scratch.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fgraph::registry::internal {

class TrigramIndex {
 public:
  // Searches at `prefix_threshold` or above use a prefix filter built for it (see
  // search); 0, or a threshold outside (0, 1]: never. The registry passes its fuzzy
  // floor, the threshold of every search it makes.
  explicit TrigramIndex(double prefix_threshold = 0)
      : prefix_threshold_(prefix_threshold > 0 && prefix_threshold <= 1 ? prefix_threshold : 0) {}

  // Forgets every entry.
  void clear();
  // Adds the entity `rid` with core name `core`. Rids must be added in increasing order
  // (entities.rid is creation order): returns false, and adds nothing, otherwise.
  bool add(std::int64_t rid, std::string_view core);
  // The largest rid added (0 when empty).
  std::int64_t max_rid() const { return rids_.empty() ? 0 : rids_.back(); }
  std::size_t size() const { return rids_.size(); }

  // Working memory of one searching thread (per-entry counts, trigram marks); reusable
  // across calls and indexes.
  struct Scratch {
    std::vector<std::uint16_t> counts;   // slot -> shared trigrams counted so far
    std::vector<std::uint32_t> touched;  // slots with a count, to reset them
    std::vector<std::uint8_t> marks;     // trigram id -> 1 while it is a query trigram
    // The prefix filter's: per slot, prefix trigrams shared so far (kPruned: ruled out);
    // per entry size, the shared trigrams a hit needs; the candidates to score.
    std::vector<std::uint16_t> shared;
    std::vector<std::uint32_t> needs;
    std::vector<std::array<std::uint32_t, 3>> candidates;  // slot, first trigram, size
  };

  struct Hit {
    double score = 0;  // dice(keys, trigram_keys(core)), by internal::dice_of as dice does
    std::int64_t rid = 0;
  };
  // Every entry whose Dice coefficient against the sorted distinct `keys`
  // (internal::trigram_keys) is >= threshold, in rid order. Entries sharing no trigram
  // are never returned. Empty for empty keys or more than 65535 of them (the registry
  // searches at most RegistryOptions::max_fuzzy_trigrams).
  //
  // How: an entry scoring >= t shares at least m = ceil(t*n/(2-t)) of the n query
  // trigrams, so it holds one of the n-m+1 rarest of them (pigeonhole). Those posting
  // lists are counted first; more lists are counted while they are cheap, each raising
  // the count a candidate needs; the survivors are scored exactly. Which lists are
  // counted changes only the speed, never the result.
  //
  // At prefix_threshold or above, a prefix filter (AllPairs/PPJoin, Bayardo et al. 2007,
  // Xiao et al. 2008) replaces the counting. Trigrams get a fixed global order, rarest
  // first by the posting lengths when the order was computed (trigrams new since then
  // come last). An entry of k trigrams scoring >= prefix_threshold against any query
  // shares at least a = ceil(prefix_threshold*k/(2-prefix_threshold)) of them, so it
  // shares one of its first k-a+1 in that order with the query's first n-m+1: only
  // those prefixes are indexed and scanned. A candidate's position in both orders bounds
  // the trigrams it can still share; those that cannot reach m are dropped before being
  // scored. The order is recomputed, and the prefixes rebuilt, whenever the index has
  // grown by a quarter since (that add takes about a second per 400,000 entries), so it
  // stays close to the real rarity and an add costs O(1) amortised. Registry bench
  // names, paired: 1.4-1.6x the counting's speed over 200k-430k entries. Memory: 12
  // bytes per prefix trigram, some 110 bytes per bench entry at 0.75.
  std::vector<Hit> search(const std::vector<std::uint64_t>& keys, double threshold,
                          Scratch& scratch) const;

  // The entries whose core name contains `text` (whose sorted distinct trigram keys are
  // `keys`, non-empty), in rid order, at most `limit`, each with its Dice score against
  // `keys`. What an FTS5 trigram phrase query finds, without reading every trigram's
  // doclist: the rarest trigram's entries are checked by substring search.
  std::vector<Hit> containing(std::string_view text, const std::vector<std::uint64_t>& keys,
                              std::size_t limit, Scratch& scratch) const;

 private:
  struct PrefixPosting {
    std::uint32_t slot, first;  // the entry, and offsets_[slot] (copied: scoring a
                                // candidate then costs one cache miss, not two)
    std::uint16_t pos, size;    // the trigram's place in the entry's order; its trigrams
  };
  void build_prefixes();
  void add_prefix(std::uint32_t slot);
  std::vector<Hit> search_prefixes(const std::vector<std::uint64_t>& keys, double threshold,
                                   Scratch& scratch) const;

  double prefix_threshold_;
  std::size_t prefixes_built_at_ = 0;  // entries when the order was computed; 0: never
  std::vector<std::uint32_t> rank_;    // trigram id -> place in the global order
  std::vector<std::vector<PrefixPosting>> prefixes_;  // trigram id -> entries with it in
                                                      // their prefix, ascending
  std::vector<std::uint32_t> oversized_;  // slots with more than 65535 trigrams: always scored
  std::unordered_map<std::uint64_t, std::uint32_t> ids_;  // trigram key -> trigram id
  std::vector<std::vector<std::uint32_t>> postings_;      // trigram id -> entry slots, ascending
  std::vector<std::int64_t> rids_;                        // slot -> rid, ascending
  std::vector<std::uint32_t> offsets_{0};                 // slot -> range in tids_
  std::vector<std::uint32_t> tids_;                       // each slot's trigram ids, sorted
  std::vector<std::uint32_t> text_offsets_{0};            // slot -> range in text_
  std::string text_;                                      // the core names, back to back
};

}  // namespace fgraph::registry::internal
