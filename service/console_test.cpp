// Unit tests of the web console's pure parts: the one escaping function, links, and the
// marking of evidence spans in a document's text.
#include <cstring>

#include <gtest/gtest.h>

#include "service/internal/console_pages.h"
#include "service/internal/html.h"

namespace fgraph::service {
namespace {

TEST(HtmlEscapeTest, HostileMarkupBecomesText) {
  EXPECT_EQ(html::escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html::escape("<img src=x onerror=\"alert(1)\">"),
            "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  EXPECT_EQ(html::escape("<a href='javascript:alert(1)'>x</a>"),
            "&lt;a href=&#39;javascript:alert(1)&#39;&gt;x&lt;/a&gt;");
  EXPECT_EQ(html::escape("AT&T"), "AT&amp;T");
  EXPECT_EQ(html::escape(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(html::escape("Société Générale — 株式会社"), "Société Générale — 株式会社");
}

TEST(HtmlEscapeTest, LongNameKeepsEveryCharacterAndNoMarkup) {
  std::string name;
  while (name.size() < 10 * 1024) name += "<b>ACME</b> & \"Co\" ";
  const std::string out = html::escape(name);
  EXPECT_EQ(out.find('<'), std::string::npos);
  EXPECT_EQ(out.find('"'), std::string::npos);
  std::string back = out;  // undo the five entities: the text is unchanged otherwise
  for (auto [entity, ch] : {std::pair{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
    for (std::size_t at; (at = back.find(entity)) != std::string::npos;) back.replace(at, std::strlen(entity), ch);
  }
  EXPECT_EQ(back, name);
}

TEST(HtmlUrlTest, EncodesEverythingButUnreserved) {
  EXPECT_EQ(html::url_encode("sha256:ab/c d?e&f#g"), "sha256%3Aab%2Fc%20d%3Fe%26f%23g");
  EXPECT_EQ(html::url_encode("javascript:alert(1)"), "javascript%3Aalert%281%29");
  EXPECT_EQ(html::url_encode("run-1_a.b~"), "run-1_a.b~");
}

TEST(HtmlClipTest, CutsAtCodePointsAndMarksTheCut) {
  EXPECT_EQ(html::clipped("Société", 4), "Soci\u2026");
  EXPECT_EQ(html::clipped("株式会社", 2), "株式\u2026");
  EXPECT_EQ(html::clipped("short", 5), "short");
  EXPECT_EQ(html::clipped(std::string(10240, 'Q')).size(), 160u + 3u);
}

TEST(HtmlPageTest, FrameEscapesTitleAndSearchAndLoadsOnlyOwnAssets) {
  const std::string page = html::page({"<script>t</script>", "tok", "\"><script>x</script>"}, "<p>b</p>");
  EXPECT_EQ(page.find("<script>t"), std::string::npos);
  EXPECT_EQ(page.find("<script>x"), std::string::npos);
  EXPECT_NE(page.find("<script src=\"/ui/static/console.js\" defer></script>"), std::string::npos);
  EXPECT_NE(page.find("name=\"csrf\" value=\"tok\""), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos);  // nothing from another origin
}

TEST(MarkedTextTest, MarksSpansAtCodePointOffsets) {
  // "é" is two bytes but one code point; the span [2, 5) is "c<d".
  const std::string out = pages::marked_text("ébc<de", {{2, 5, "f1", "T: x"}});
  EXPECT_EQ(out, "éb<mark data-fact-id=\"f1\" title=\"T: x\">c&lt;d</mark>e");
}

TEST(MarkedTextTest, OverlappingSpansNestSoEachIdCoversExactlyItsSpan) {
  // a: [0, 4) "abcd", b: [2, 6) "cdef".
  const std::string out = pages::marked_text("abcdefg", {{2, 6, "b", ""}, {0, 4, "a", ""}});
  EXPECT_EQ(out,
            "<mark data-fact-id=\"a\" title=\"\">ab</mark>"
            "<mark data-fact-id=\"a\" title=\"\"><mark data-fact-id=\"b\" title=\"\">cd</mark></mark>"
            "<mark data-fact-id=\"b\" title=\"\">ef</mark>g");
}

TEST(MarkedTextTest, FoundQuoteAndHostileTitles) {
  const std::string out =
      pages::marked_text("x<script>y", {{1, 9, "", ""}, {0, 1, "\"><img", "<script>"}});
  EXPECT_EQ(out,
            "<mark data-fact-id=\"&quot;&gt;&lt;img\" title=\"&lt;script&gt;\">x</mark>"
            "<mark class=\"found\" id=\"found\">&lt;script&gt;</mark>y");
}

TEST(MarkedTextTest, SpansPastTheEndOrEmptyAreHarmless) {
  EXPECT_EQ(pages::marked_text("abc", {{1, 1, "e", ""}}), "abc");
  EXPECT_EQ(pages::marked_text("abc", {{2, 9, "p", ""}}), "ab<mark data-fact-id=\"p\" title=\"\">c</mark>");
}

}  // namespace
}  // namespace fgraph::service
