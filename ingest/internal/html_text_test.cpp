#include "ingest/internal/html_text.h"

#include <sys/mman.h>

#include <gtest/gtest.h>

namespace fgraph::ingest::internal {
namespace {

std::string text_of(std::string_view html) {
  auto r = html_to_text(html, "test.html");
  EXPECT_TRUE(r.has_value());
  return r.has_value() ? r->text : "";
}

TEST(HtmlTextWalkerTest, ParagraphsAndHeadingsAreSeparatedByOneBlankLine) {
  EXPECT_EQ(text_of("<html><body><h1>Title</h1><p>One  two\n three.</p><div><div>Four</div></div></body></html>"),
            "Title\n\nOne two three.\n\nFour");
}

TEST(HtmlTextWalkerTest, InlineTagsDoNotSplitWords) {
  EXPECT_EQ(text_of("<p>Regis<b>trant</b> <i>name</i><span>s</span></p>"), "Registrant names");
}

TEST(HtmlTextWalkerTest, LineBreaksAndListItems) {
  EXPECT_EQ(text_of("<p>a<br>b<br/>c</p><ul><li>x</li><li>y</li></ul>"), "a\nb\nc\n\nx\ny");
}

TEST(HtmlTextWalkerTest, TableRowsAreLinesWithCellsJoined) {
  EXPECT_EQ(text_of("<table><tr><td>Name</td><td></td><td><div>Percentage</div><div>of Voting</div></td></tr>"
                    "<tr><td>Acme&#160;Ltd</td><td>&nbsp;</td><td>100</td></tr></table><p>After</p>"),
            "Name | Percentage of Voting\nAcme Ltd | 100\n\nAfter");
}

TEST(HtmlTextWalkerTest, SplitAmountCellsAreGlued) {
  EXPECT_EQ(text_of("<table><tr><td>Total</td><td>$</td><td>391,035</td><td>(4</td><td>)%</td>"
                    "<td>3</td><td>%</td></tr></table>"),
            "Total | $391,035 | (4)% | 3%");
}

TEST(HtmlTextWalkerTest, DropsTableOfContentsBackLinks) {
  EXPECT_EQ(text_of("<p>Page one.</p><h5 align=left><a href=\"#toc\">Table of Contents</a></h5>"
                    "<p>See <a href=\"#note1\">Note 1</a>.</p><p><a href=\"http://x.com\">Site</a></p>"),
            "Page one.\n\nSee Note 1.\n\nSite");
}

TEST(HtmlTextWalkerTest, DropsScriptsStylesHeadCommentsAndHidden) {
  EXPECT_EQ(text_of("<html><head><title>file.htm</title><style>p{}</style></head><body>"
                    "<script>var x=1;</script><!-- PAGEBREAK --><p>Shown</p>"
                    "<div style=\"DISPLAY: none\">hidden</div></body></html>"),
            "Shown");
}

TEST(HtmlTextWalkerTest, DecodesEntitiesAndMapsWindows1252References) {
  EXPECT_EQ(text_of("<p>AT&amp;T&#146;s &ldquo;deal&rdquo; &#150; indi&shy;vidual &lt;b&gt;</p>"),
            "AT&T\xE2\x80\x99s \xE2\x80\x9C" "deal\xE2\x80\x9D \xE2\x80\x93 individual <b>");
}

TEST(HtmlTextWalkerTest, PreKeepsLines) {
  EXPECT_EQ(text_of("<pre>line one\n   line   two\n</pre>"), "line one\nline two");
}

TEST(HtmlTextWalkerTest, IxHeaderDroppedVisibleFactsKeptAndDeiRead) {
  std::string html =
      "<?xml version='1.0' encoding='ASCII'?><html xmlns='http://www.w3.org/1999/xhtml' "
      "xmlns:ix='http://www.xbrl.org/2013/inlineXBRL' xmlns:dei='http://xbrl.sec.gov/dei/2024'><body>"
      "<div style='display:none'><ix:header><ix:hidden>"
      "<ix:nonNumeric name='dei:EntityCentralIndexKey' contextRef='c-1'>320193</ix:nonNumeric>"
      "</ix:hidden><ix:resources><xbrli:context id='c-1'>ctx</xbrli:context></ix:resources>"
      "</ix:header></div>"
      "<p><ix:nonNumeric name='dei:DocumentType' contextRef='c-1'>10-K</ix:nonNumeric> of "
      "<ix:nonNumeric name='dei:EntityRegistrantName' contextRef='c-1'>Apple&#160;Inc.</ix:nonNumeric></p>"
      "<p>For the fiscal year ended <ix:nonNumeric name='dei:DocumentPeriodEndDate' contextRef='c-1' "
      "format='ixt:date-monthname-day-year-en'>September 28, 2024</ix:nonNumeric></p>"
      "<p>Revenue <ix:nonFraction name='us-gaap:Revenues' contextRef='c-1' scale='6'>391,035</ix:nonFraction>"
      "<ix:exclude> (excluded but visible)</ix:exclude></p></body></html>";
  auto r = html_to_text(html, "aapl.htm");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ixbrl);
  EXPECT_EQ(r->text,
            "10-K of Apple Inc.\n\nFor the fiscal year ended September 28, 2024\n\n"
            "Revenue 391,035 (excluded but visible)");
  EXPECT_EQ(r->facts.cik, "0000320193");
  EXPECT_EQ(r->facts.registrant_name, "Apple Inc.");
  EXPECT_EQ(r->facts.document_type, "10-K");
  EXPECT_EQ(r->facts.period_end, "2024-09-28");
}

TEST(HtmlTextWalkerTest, Html5HeaderIsNotMistakenForIxHeader) {
  EXPECT_EQ(text_of("<body><header><h1>Kept</h1></header><p>Body</p></body>"), "Kept\n\nBody");
}

TEST(HtmlTextWalkerTest, BufferBeyondLibxml2LimitIsAnError) {
  // libxml2 takes an int length: a 2 GiB + 1 buffer cannot be handed over. The mapping is
  // never touched (MAP_NORESERVE), so this costs no memory.
  const std::size_t size = (std::size_t{1} << 31) + 1;
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  auto r = html_to_text(std::string_view(static_cast<const char*>(p), size), "huge.html");
  ::munmap(p, size);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
}

TEST(HtmlTextWalkerTest, ParsesDisplayDates) {
  EXPECT_EQ(parse_display_date("June\xC2\xA0" "28, 2025"), "2025-06-28");  // NBSP as in aapl-10-q
  EXPECT_EQ(parse_display_date("June 28, 2025"), "2025-06-28");
  EXPECT_EQ(parse_display_date("31 October 2017"), "2017-10-31");
  EXPECT_EQ(parse_display_date("31.3.19"), "2019-03-31");
  EXPECT_EQ(parse_display_date("12/31/2024"), "2024-12-31");
  EXPECT_EQ(parse_display_date("2024-09-28"), "2024-09-28");
  EXPECT_EQ(parse_display_date("not a date"), std::nullopt);
}

TEST(HtmlTextWalkerTest, TextBuilderNeverLeavesTrailingOrDoubleSpaces) {
  TextBuilder b;
  b.append("  lead   and\ttrail  ");
  b.paragraph_break();
  b.paragraph_break();
  b.append("\xC2\xA0 next \xE2\x80\x83 word ");
  b.line_break();
  EXPECT_EQ(b.finish(), "lead and trail\n\nnext word");
}

// Old EDGAR HTML opens a <FONT> per line and never closes it: `lines` lines nest `lines`
// elements deep.
std::string unclosed_fonts(int lines) {
  std::string html = "<HTML><BODY>\n";
  for (int i = 0; i < lines; ++i) {
    html += "<FONT SIZE=2>Line " + std::to_string(i) + " of the filing<BR>\n";
  }
  html += "<FONT SIZE=2>Closing words of the report.\n</BODY></HTML>\n";
  return html;
}

TEST(HtmlTextDepthTest, UnclosedFontTagsKeepEveryLine) {
  // libxml2 stops at 256 nested elements unless told otherwise: this kept 254 lines.
  auto r = html_to_text(unclosed_fonts(400), "deep.html");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_NE(r->text.find("Line 0 of the filing\nLine 1 of the filing\n"), std::string::npos);
  EXPECT_NE(r->text.find("Line 254 of the filing"), std::string::npos);
  EXPECT_NE(r->text.find("\nLine 399 of the filing\n"), std::string::npos);
  EXPECT_TRUE(r->text.ends_with("Closing words of the report.")) << r->text.substr(r->text.size() - 80);
}

TEST(HtmlTextDepthTest, NestingFarBeyondTheStackIsWalkedWithoutRecursion) {
  // 200,000 open elements: a recursive walk of the tree would overflow the stack.
  auto r = html_to_text(unclosed_fonts(200000), "deeper.html");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_NE(r->text.find("\nLine 199999 of the filing\n"), std::string::npos);
  EXPECT_TRUE(r->text.ends_with("Closing words of the report."));
}

TEST(HtmlTextDepthTest, AParserThatStopsEarlyIsAnErrorNotAShortDocument) {
  // Without lifting libxml2's limits the parser halts at depth 256; that must surface.
  auto doc = parse_html(unclosed_fonts(400), "deep.html", /*lift_limits=*/false);
  ASSERT_FALSE(doc.has_value());
  EXPECT_EQ(doc.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(doc.error().message.find("stopped before the end"), std::string::npos);
  EXPECT_NE(doc.error().message.find("depth"), std::string::npos) << doc.error().message;
  // Shallow documents parse the same either way.
  EXPECT_TRUE(parse_html(unclosed_fonts(100), "shallow.html", false).has_value());
}

}  // namespace
}  // namespace fgraph::ingest::internal
