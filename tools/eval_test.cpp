#include "tools/eval.h"

#include <gtest/gtest.h>

namespace fgraph::cli {
namespace {

TEST(EvalTest, PlantedMissesAndExtrasAreCountedAndListed) {
  auto gold = parse_gold(
      R"({"document":"sec/ex21.html","type":"SUBSIDIARY_OF","source":"Child A LLC","target":"Parent Inc."})" "\n"
      R"({"document":"sec/ex21.html","type":"SUBSIDIARY_OF","source":"Child B LLC","target":"Parent Inc."})" "\n"
      "\n"
      R"({"document":"sec/f4.xml","part":1,"type":"OFFICER_OF","source":"Jane Roe","target":"Acme Corp"})" "\n");
  ASSERT_TRUE(gold.has_value()) << gold.error().message;
  ASSERT_EQ(gold->size(), 3u);
  std::vector<SystemFact> system = {
      // found, spelled differently
      {"/drops/x/sec/ex21.html", 1, "SUBSIDIARY_OF", "CHILD A LLC", "PARENT INC", "rules"},
      // planted extra
      {"/drops/x/sec/ex21.html", 1, "SUBSIDIARY_OF", "Child C LLC", "Parent Inc.", "rules"},
      // found by the model
      {"/drops/x/sec/f4.xml", 1, "OFFICER_OF", "Jane Roe", "Acme Corp", "model"},
      // planted extra of the model
      {"/drops/x/sec/f4.xml", 1, "DIRECTOR_OF", "Jane Roe", "Acme Corp", "model"},
      // another part of the same file: a document the gold does not name, ignored
      {"/drops/x/sec/f4.xml", 2, "HOLDS", "Jane Roe", "Acme Corp", "model"},
      // a document the gold does not name: ignored
      {"/drops/x/sec/other.html", 1, "HOLDS", "A", "B", "model"},
      // a path that only ends like the gold's is another document: ignored
      {"/drops/x/notsec/ex21.html", 1, "SUBSIDIARY_OF", "Child B LLC", "Parent Inc.", "rules"},
  };
  EvalReport r = evaluate(*gold, system);
  EXPECT_EQ(r.overall.true_positives, 2);
  EXPECT_EQ(r.overall.false_positives, 2);
  EXPECT_EQ(r.overall.false_negatives, 1);
  EXPECT_DOUBLE_EQ(r.overall.precision(), 0.5);
  EXPECT_NEAR(r.overall.recall(), 2.0 / 3.0, 1e-12);
  ASSERT_EQ(r.misses.size(), 1u);
  EXPECT_EQ(r.misses[0].source, "Child B LLC");
  ASSERT_EQ(r.extras.size(), 2u);
  EXPECT_EQ(r.by_type["SUBSIDIARY_OF"].true_positives, 1);
  EXPECT_EQ(r.by_type["SUBSIDIARY_OF"].false_negatives, 1);
  EXPECT_EQ(r.by_type["DIRECTOR_OF"].false_positives, 1);
  EXPECT_EQ(r.by_type["OFFICER_OF"].true_positives, 1);
  EXPECT_EQ(r.by_extractor["rules"].true_positives, 1);
  EXPECT_EQ(r.by_extractor["rules"].false_positives, 1);
  EXPECT_EQ(r.by_extractor["rules"].false_negatives, 2);  // recall over the whole gold
  EXPECT_EQ(r.by_extractor["model"].true_positives, 1);
}

TEST(EvalTest, MalformedGoldNamesTheLine) {
  auto g = parse_gold("{\"document\":\"a\",\"type\":\"HOLDS\",\"source\":\"x\",\"target\":\"y\"}\n{\"document\":\"a\"}\n");
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().message.find("line 2"), std::string::npos);
  EXPECT_FALSE(parse_gold("not json\n").has_value());
}

TEST(EvalTest, FormFactsOfTheCorpusMeetTheirGold) {
  auto gold = parse_gold(
      R"({"document":"sec/0001127602-25-001055.txt","part":1,"type":"OFFICER_OF","source":"Garascia Jessica A.","target":"AAR CORP"})" "\n"
      R"({"document":"sec/0001127602-25-001055.txt","part":1,"type":"HOLDS","source":"Garascia Jessica A.","target":"AAR CORP"})" "\n");
  ASSERT_TRUE(gold.has_value());
  auto facts = form_facts(*gold, FGRAPH_CORPUS_DIR);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EvalReport r = evaluate(*gold, *facts);
  EXPECT_EQ(r.overall.true_positives, 2);
  EXPECT_EQ(r.overall.false_negatives, 0);
  EXPECT_EQ(r.overall.false_positives, 0);
}

}  // namespace
}  // namespace fgraph::cli
