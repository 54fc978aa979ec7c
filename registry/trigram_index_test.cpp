#include "registry/internal/trigram_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "registry/internal/names.h"
#include "registry/registry.h"

namespace fgraph::registry::internal {
namespace {

// Names built from a small alphabet so that many share trigrams (the hard case for the
// rarest-lists selection), plus a few common words.
std::vector<std::string> generated_names(std::size_t n, std::mt19937_64& rng) {
  const char* words[] = {"capital", "holdings", "group", "energy", "bank", "trust"};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string name;
    int parts = 1 + static_cast<int>(rng() % 3);
    for (int p = 0; p < parts; ++p) {
      if (p > 0) name += ' ';
      int len = 3 + static_cast<int>(rng() % 6);
      for (int c = 0; c < len; ++c) name += "abdeiklmnorst"[rng() % 13];
    }
    if (rng() % 2 == 0) name += std::string(" ") + words[rng() % 6];
    out.push_back(std::move(name));
  }
  return out;
}

std::string typo(std::string s, std::mt19937_64& rng) {
  std::size_t pos = rng() % s.size();
  switch (rng() % 3) {
    case 0: s[pos] = s[pos] == 'x' ? 'q' : 'x'; break;
    case 1: s.erase(pos, 1); break;
    default: s.insert(pos, 1, 'a'); break;
  }
  return s;
}

// Adds names[i] under rid i * stride + 1 (a stride above 1 leaves gaps, as deletes do).
void add_all(TrigramIndex& index, const std::vector<std::string>& names, std::int64_t stride) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(index.add(static_cast<std::int64_t>(i) * stride + 1, names[i]));
  }
}

// Once per way of searching: counting only (0, and 2, which the index refuses as a
// filter threshold); the filter for the registry's fuzzy floor (so 0.3 and 0.5 count,
// the rest filter); for every threshold here; for 1.0 only.
// 3000 entries: the filter is built at 1024 and 2048 and follows the adds in between and
// after, which bring trigrams the order has not seen (typos add 'x' and 'q').
class TrigramIndexSearchTest : public testing::TestWithParam<double> {};

TEST_P(TrigramIndexSearchTest, FindsExactlyTheEntriesAScanFindsAtEveryThreshold) {
  std::mt19937_64 rng(11);
  auto names = generated_names(3000, rng);
  for (std::size_t i = 2500; i < names.size(); i += 7) names[i] = typo(names[i], rng);
  TrigramIndex index(GetParam());
  TrigramIndex::Scratch scratch;
  add_all(index, names, 3);
  std::size_t compared = 0, nonempty = 0;
  for (double threshold : {0.3, 0.5, 0.75, 0.8, 0.85, 1.0}) {
    for (int q = 0; q < 150; ++q) {
      std::string query = q % 5 == 4 ? generated_names(1, rng)[0]
                                     : typo(names[rng() % names.size()], rng);
      auto keys = trigram_keys(query);
      std::vector<TrigramIndex::Hit> expected;
      for (std::size_t i = 0; i < names.size(); ++i) {
        double s = dice(keys, trigram_keys(names[i]));
        if (s >= threshold && s > 0) expected.push_back({s, static_cast<std::int64_t>(i * 3 + 1)});
      }
      auto got = index.search(keys, threshold, scratch);
      ASSERT_EQ(got.size(), expected.size()) << "query '" << query << "' at " << threshold;
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].rid, expected[i].rid) << query;
        EXPECT_EQ(got[i].score, expected[i].score) << query;  // bit-identical to dice()
      }
      ++compared;
      if (!expected.empty()) ++nonempty;
    }
  }
  EXPECT_EQ(compared, 900u);
  EXPECT_GT(nonempty, 300u);  // the comparison is not vacuous
}

INSTANTIATE_TEST_SUITE_P(CountingAndPrefixFilter, TrigramIndexSearchTest,
                         testing::Values(0.0, 0.75, 0.3, 1.0, 2.0));  // 2: no filter

TEST(TrigramIndexTest, ContainingFindsEverySubstringMatchInRidOrder) {
  std::mt19937_64 rng(5);
  auto names = generated_names(3000, rng);
  TrigramIndex index;
  TrigramIndex::Scratch scratch;
  add_all(index, names, 1);
  std::size_t nonempty = 0;
  for (int q = 0; q < 300; ++q) {
    const std::string& name = names[rng() % names.size()];
    std::size_t len = 3 + rng() % 5, at = rng() % name.size();
    std::string text = name.substr(at, len);
    auto keys = trigram_keys(text);
    if (keys.empty()) continue;
    std::vector<TrigramIndex::Hit> expected;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i].find(text) != std::string::npos) {
        expected.push_back({dice(keys, trigram_keys(names[i])), static_cast<std::int64_t>(i + 1)});
      }
    }
    auto got = index.containing(text, keys, 1000000, scratch);
    ASSERT_EQ(got.size(), expected.size()) << "'" << text << "'";
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].rid, expected[i].rid) << text;
      EXPECT_EQ(got[i].score, expected[i].score) << text;
    }
    auto capped = index.containing(text, keys, 2, scratch);
    EXPECT_EQ(capped.size(), std::min<std::size_t>(2, expected.size()));
    if (!expected.empty()) ++nonempty;
  }
  EXPECT_GT(nonempty, 200u);
  auto keys = trigram_keys("zzzz");
  EXPECT_TRUE(index.containing("zzzz", keys, 10, scratch).empty());
}

TEST(TrigramIndexTest, RejectsRidsOutOfOrderAndForgetsOnClear) {
  TrigramIndex index;
  TrigramIndex::Scratch scratch;
  EXPECT_TRUE(index.add(5, "acme widgets"));
  EXPECT_FALSE(index.add(5, "acme widgetz"));
  EXPECT_FALSE(index.add(4, "acme widgetz"));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.max_rid(), 5);
  auto hits = index.search(trigram_keys("acme widgetz"), 0.75, scratch);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].rid, 5);
  index.clear();
  EXPECT_EQ(index.max_rid(), 0);
  EXPECT_TRUE(index.search(trigram_keys("acme widgets"), 0.5, scratch).empty());
  EXPECT_TRUE(index.add(1, "acme widgets"));
}

TEST(TrigramIndexTest, ShortAndNonAsciiNames) {
  TrigramIndex index;
  TrigramIndex::Scratch scratch;
  ASSERT_TRUE(index.add(1, "ab"));  // no trigram: never found
  ASSERT_TRUE(index.add(2, "삼성전자"));
  ASSERT_TRUE(index.add(3, "삼성전기"));
  EXPECT_TRUE(index.search(trigram_keys("ab"), 0.1, scratch).empty());
  auto hits = index.search(trigram_keys("삼성전자"), 0.4, scratch);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].rid, 2);
  EXPECT_EQ(hits[0].score, 1.0);
  EXPECT_EQ(hits[1].rid, 3);
  EXPECT_EQ(hits[1].score, 0.5);
}

// Searches are const: threads with their own Scratch search one index at once and find
// what one thread finds (the registry's prefetch thread relies on it).
TEST(TrigramIndexTest, ConcurrentSearchesWithTheirOwnScratchAgree) {
  std::mt19937_64 rng(23);
  auto names = generated_names(5000, rng);
  TrigramIndex index(0.75);  // searched through the prefix filter
  add_all(index, names, 1);
  std::vector<std::vector<std::uint64_t>> queries;
  for (int q = 0; q < 400; ++q) {
    queries.push_back(trigram_keys(typo(names[rng() % names.size()], rng)));
  }
  using Hits = std::vector<std::vector<TrigramIndex::Hit>>;
  auto run = [&](std::size_t from, std::size_t step, Hits& out) {
    TrigramIndex::Scratch scratch;
    for (std::size_t q = from; q < queries.size(); q += step) {
      out[q] = index.search(queries[q], 0.75, scratch);
    }
  };
  Hits alone(queries.size()), together(queries.size());
  run(0, 1, alone);
  {
    std::jthread a([&] { run(0, 2, together); });
    std::jthread b([&] { run(1, 2, together); });
  }
  std::size_t found = 0;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    ASSERT_EQ(alone[q].size(), together[q].size()) << q;
    for (std::size_t i = 0; i < alone[q].size(); ++i) {
      EXPECT_EQ(alone[q][i].rid, together[q][i].rid);
      EXPECT_EQ(alone[q][i].score, together[q][i].score);
    }
    found += alone[q].size();
  }
  EXPECT_GT(found, 200u);
}

}  // namespace
}  // namespace fgraph::registry::internal
