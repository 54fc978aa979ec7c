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

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fgraph::registry::internal {

class TrigramIndex {
 public:
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
  };

  struct Hit {
    double score = 0;  // dice(keys, trigram_keys(core)), exactly as internal::dice computes it
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
  std::vector<Hit> search(const std::vector<std::uint64_t>& keys, double threshold,
                          Scratch& scratch) const;

  // The entries whose core name contains `text` (whose sorted distinct trigram keys are
  // `keys`, non-empty), in rid order, at most `limit`, each with its Dice score against
  // `keys`. What an FTS5 trigram phrase query finds, without reading every trigram's
  // doclist: the rarest trigram's entries are checked by substring search.
  std::vector<Hit> containing(std::string_view text, const std::vector<std::uint64_t>& keys,
                              std::size_t limit, Scratch& scratch) const;

 private:
  std::unordered_map<std::uint64_t, std::uint32_t> ids_;  // trigram key -> trigram id
  std::vector<std::vector<std::uint32_t>> postings_;      // trigram id -> entry slots, ascending
  std::vector<std::int64_t> rids_;                        // slot -> rid, ascending
  std::vector<std::uint32_t> offsets_{0};                 // slot -> range in tids_
  std::vector<std::uint32_t> tids_;                       // each slot's trigram ids, sorted
  std::vector<std::uint32_t> text_offsets_{0};            // slot -> range in text_
  std::string text_;                                      // the core names, back to back
};

}  // namespace fgraph::registry::internal
