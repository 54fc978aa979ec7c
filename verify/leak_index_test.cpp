#include <gtest/gtest.h>

#include "verify/verify.h"

namespace fgraph::verify {
namespace {

TEST(LeakIndexTest, FindsQuoteInAnotherDocumentOnly) {
  LeakIndex index;
  index.add("doc-a", "Alpha Corp acquired Beta Holdings LLC in March 2021 for cash.");
  index.add("doc-b", "Gamma Bank appointed Jane Roe as Chief Financial Officer.");
  EXPECT_EQ(index.size(), 2u);
  std::string quote = normalize("Gamma Bank appointed Jane Roe as Chief Financial Officer");
  EXPECT_EQ(index.find_elsewhere(quote, "doc-a"), std::optional<std::string>("doc-b"));
  // The quote's own document is never reported as "elsewhere".
  EXPECT_EQ(index.find_elsewhere(quote, "doc-b"), std::nullopt);
  EXPECT_EQ(index.find_elsewhere(normalize("a quote that is in no document at all"), "doc-a"),
            std::nullopt);
}

TEST(LeakIndexTest, MatchesAfterNormalisationOfBothSides) {
  LeakIndex index;
  index.add("doc-b", "the \u201CCompany\u201D\u00A0and its\n  subsidiaries");
  EXPECT_EQ(index.find_elsewhere(normalize("the \"Company\" and its subsidiaries"), "doc-a"),
            std::optional<std::string>("doc-b"));
}

TEST(LeakIndexTest, AddingTheSameDocumentTwiceKeepsOne) {
  LeakIndex index;
  index.add("doc-a", "text one");
  index.add("doc-a", "text one");
  EXPECT_EQ(index.size(), 1u);
}

TEST(LeakIndexTest, FindsEveryQuoteOfManyDocuments) {
  // Anchors are content-defined: every substring of every document must be found,
  // whichever anchors it happens to contain, and never in the wrong document.
  LeakIndex index;
  std::vector<std::string> texts;
  for (int d = 0; d < 40; ++d) {
    std::string t;
    for (int w = 0; w < 200; ++w) t += "d" + std::to_string(d) + "x" + std::to_string(w) + " ";
    texts.push_back(t);
    index.add("doc-" + std::to_string(d), t);
  }
  for (int d = 0; d < 40; ++d) {
    for (std::size_t start = 0; start + 40 < texts[d].size(); start += 37) {
      std::string quote = normalize(texts[d].substr(start, 12 + (start % 29)));
      auto found = index.find_elsewhere(quote, "none");
      ASSERT_EQ(found, std::optional<std::string>("doc-" + std::to_string(d)))
          << "quote \"" << quote << "\"";
    }
  }
}

}  // namespace
}  // namespace fgraph::verify
