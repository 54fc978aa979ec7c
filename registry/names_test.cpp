#include <gtest/gtest.h>

#include "registry/registry.h"

namespace fgraph::registry {
namespace {

struct NormCase {
  const char* raw;
  const char* normalized;
};

TEST(NormalizeNameTest, UnifiesCasePunctuationAndLegalForms) {
  const NormCase cases[] = {
      {"Apple Inc.", "apple inc"},
      {"APPLE INC", "apple inc"},
      {"Apple Incorporated", "apple inc"},
      {"  Apple\tInc  ", "apple inc"},
      {"International Business Machines Corporation", "international business machines corp"},
      {"Wells Fargo & Co.", "wells fargo co"},
      {"Wells Fargo & Company", "wells fargo co"},
      {"Apple Computer Trading (Shanghai) Co., Ltd.", "apple computer trading shanghai co ltd"},
      {"Apple Korea Limited", "apple korea ltd"},
      {"Koninklijke Philips N.V.", "koninklijke philips nv"},
      {"Apple Operations Mexico, S.A. de C.V.", "apple operations mexico sa de cv"},
      {"JPMorgan Chase Bank, N.A.", "jpmorgan chase bank na"},
      {"JPMorgan Chase Bank, National Association", "jpmorgan chase bank na"},
      {"National Association of Realtors", "national association of realtors"},
      {"The Buckle, Inc.", "buckle inc"},
      {"Esso Deutschland GmbH", "esso deutschland gmbh"},
      {"McDonald\xE2\x80\x99s Corp", "mcdonalds corp"},
      {"L.L.C. Holdings LLC", "llc holdings llc"},
      {"\xEC\x82\xBC\xEC\x84\xB1\xEC\xA0\x84\xEC\x9E\x90\xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC",  // 삼성전자주식회사
       "\xEC\x82\xBC\xEC\x84\xB1\xEC\xA0\x84\xEC\x9E\x90 \xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC"},
      {"\xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC \xEC\xB9\xB4\xEC\xB9\xB4\xEC\x98\xA4",  // 주식회사 카카오
       "\xEC\xB9\xB4\xEC\xB9\xB4\xEC\x98\xA4 \xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC"},
      {"\xE3\x88\x9C\xEC\xB9\xB4\xEC\xB9\xB4\xEC\x98\xA4",  // ㈜카카오
       "\xEC\xB9\xB4\xEC\xB9\xB4\xEC\x98\xA4 \xEC\xA3\xBC\xEC\x8B\x9D\xED\x9A\x8C\xEC\x82\xAC"},
      {"\xEF\xBC\xA1\xEF\xBD\x90\xEF\xBD\x90\xEF\xBD\x8C\xEF\xBD\x85 Inc", "apple inc"},  // fullwidth
      {"Stra\xC3\x9F" "e AG", "strasse ag"},
      {"%_%", "%_%"},
      {"'", "'"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(normalize_name(c.raw), c.normalized) << c.raw;
  }
}

TEST(NormalizeNameTest, NulAndInvalidBytesDoNotBreakIt) {
  std::string with_nul("Acme\0Corp", 9);
  EXPECT_EQ(normalize_name(with_nul), "acme corp");
  EXPECT_EQ(normalize_name("Acme\xFF Corp"), "acme corp");  // U+FFFD is a symbol
  EXPECT_EQ(normalize_name("   "), "");
}

TEST(NormalizeNameTest, InvisibleCodePointsVanishInsteadOfSplittingWords) {
  // U+200B zero-width space, U+2060 word joiner: the spoofed twin of "ZeroWidth LLC".
  EXPECT_EQ(normalize_name("Zero\xE2\x80\x8BWidth\xE2\x81\xA0 LLC"), "zerowidth llc");
  EXPECT_EQ(normalize_name("Zero\xE2\x80\x8BWidth\xE2\x81\xA0 LLC"), normalize_name("ZeroWidth LLC"));
  const NormCase cases[] = {
      {"Ac\xC2\xADme Corp", "acme corp"},                   // U+00AD soft hyphen
      {"\xEF\xBB\xBF" "Acme\xE2\x80\x8D Corp", "acme corp"},  // BOM, U+200D joiner
      {"Ac\xE2\x80\x8Fme Corp", "acme corp"},               // U+200F right-to-left mark
      {"Ac\xEF\xB8\x8Fme Corp", "acme corp"},               // U+FE0F variation selector
      {"Ac\xE2\x81\xA5me Corp", "acme corp"},               // U+2065, unassigned
      {"Ac\xF3\xA0\x81\x81me Corp", "acme corp"},          // U+E0041 tag letter A
      {"Ac\xE3\x85\xA4me Corp", "acme corp"},               // U+3164 Hangul filler
      {"\xEF\xBC\xA1\xEF\xBC\xA3\xEF\xBC\xAD\xEF\xBC\xA5 Corp", "acme corp"},  // full-width
  };
  for (const auto& c : cases) {
    EXPECT_EQ(normalize_name(c.raw), c.normalized) << c.raw;
  }
  // Nothing but invisible characters normalises to nothing (no name), not to itself.
  EXPECT_EQ(normalize_name("\xE2\x80\x8B\xE2\x81\xA0"), "");
}

TEST(CoreNameTest, DropsLegalFormsButNeverEverything) {
  EXPECT_EQ(core_name("apple asia ltd"), "apple asia");
  EXPECT_EQ(core_name("apple computer trading shanghai co ltd"), "apple computer trading shanghai");
  EXPECT_EQ(core_name("inc"), "inc");
}

TEST(TrigramSimilarityTest, IsDiceOverDistinctTrigrams) {
  EXPECT_DOUBLE_EQ(trigram_similarity("apple", "apple"), 1.0);
  // "abcd": abc bcd; "abce": abc bce -> 2*1/(2+2)
  EXPECT_DOUBLE_EQ(trigram_similarity("abcd", "abce"), 0.5);
  EXPECT_DOUBLE_EQ(trigram_similarity("abc", "xyz"), 0.0);
  EXPECT_DOUBLE_EQ(trigram_similarity("ab", "ab"), 1.0);
  EXPECT_DOUBLE_EQ(trigram_similarity("ab", "ac"), 0.0);
  EXPECT_GT(trigram_similarity("jpmorgan chase", "jpmorgan chase bank"),
            trigram_similarity("jpmorgan chase", "morgan stanley"));
}

}  // namespace
}  // namespace fgraph::registry
