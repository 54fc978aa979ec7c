#include <gtest/gtest.h>

#include "verify/verify.h"

namespace fgraph::verify {
namespace {

TEST(NormalizeTest, CollapsesWhitespaceRunsAndTrimsEnds) {
  EXPECT_EQ(normalize("  Apple\t\n  Inc.\r\n "), "Apple Inc.");
}

TEST(NormalizeTest, FoldsNonBreakingAndOtherUnicodeSpaces) {
  EXPECT_EQ(normalize("Apple\u00A0Inc.\u2003and\u3000Co\u202Fthen"), "Apple Inc. and Co then");
}

TEST(NormalizeTest, FoldsTypographicQuotesAndDashes) {
  EXPECT_EQ(normalize("\u201CApple\u201D \u2018s\u2019 2019\u20132024 \u2014 \u2212 5"),
            "\"Apple\" 's' 2019-2024 - - 5");
}

TEST(NormalizeTest, RemovesSoftHyphensAndZeroWidthCharacters) {
  EXPECT_EQ(normalize("sub\u00ADsidiary\u200B of"), "subsidiary of");
}

TEST(NormalizeTest, AppliesNfkc) {
  // Ligature, full-width letters, decomposed e + combining acute.
  EXPECT_EQ(normalize("\uFB01nance \uFF21\uFF22\uFF23 Cafe\u0301"), "finance ABC Caf\u00E9");
}

TEST(NormalizeTest, KeepsCase) { EXPECT_EQ(normalize("APPLE apple"), "APPLE apple"); }

TEST(NormalizeTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(normalize(std::string("a\xFF" "b")), "a\uFFFDb");
}

TEST(NormalizeTest, OffsetMapPointsAtSourceCodePoints) {
  // "é" is two code points (e + U+0301) in the source, one in the normalised text.
  std::string source = "  Cafe\u0301\u00A0\u00A0de \u201CParis\u201D";
  NormalizedText t = normalize_with_offsets(source);
  ASSERT_EQ(t.text, "Caf\u00E9 de \"Paris\"");
  ASSERT_EQ(t.char_begin.size(), t.text.size());
  ASSERT_EQ(t.char_end.size(), t.text.size());
  EXPECT_EQ(t.char_begin[0], 2u);  // 'C' after two leading spaces
  // é (2 bytes in UTF-8) comes from code points 5..7 of the source.
  EXPECT_EQ(t.char_begin[3], 5u);
  EXPECT_EQ(t.char_end[4], 7u);
  // The collapsed space stands for the two no-break spaces.
  EXPECT_EQ(t.char_begin[5], 7u);
  EXPECT_EQ(t.char_end[5], 9u);
}

TEST(NormalizeTest, CountsCodePoints) {
  EXPECT_EQ(count_code_points("Caf\u00E9 \u4E2D"), 6u);
}

ingest::Document make_doc(std::string text) {
  ingest::Document d;
  d.text = std::move(text);
  d.doc_id = ingest::make_doc_id(d.text);
  return d;
}

TEST(PreparedDocumentTest, FindsQuoteAcrossLineBreaksAndCurlyQuotes) {
  std::string text = "Header\n\nThe \u201CCompany\u201D owns\n   Apple Operations\u00A0Limited.";
  PreparedDocument doc = prepare_document(make_doc(text));
  auto span = doc.find("The \"Company\" owns Apple Operations Limited");
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->char_start, 8u);
  // The source span holds 46 code points: the line break and indent (4) stand for one
  // space of the quote, the no-break space for another; the period is not part of it.
  EXPECT_EQ(span->char_end, 8u + 46u);
}

TEST(PreparedDocumentTest, DoesNotFindFabricatedQuote) {
  PreparedDocument doc = prepare_document(make_doc("Apple Inc. owns Braeburn Capital, Inc."));
  EXPECT_FALSE(doc.find("Apple Inc. owns Beats Electronics").has_value());
  EXPECT_FALSE(doc.find("").has_value());
  EXPECT_FALSE(doc.find("APPLE INC. owns").has_value());  // case is not folded
}

TEST(PreparedDocumentTest, SubjectComesFromCompanyAndSubjectParties) {
  ingest::Document d = make_doc("text");
  d.company = "EXXON MOBIL CORP";
  d.cik = "0000034088";
  d.parties.push_back({"filer", "Exxon Mobil Corporation", std::string("0000034088")});
  d.parties.push_back({"reporting-owner", "Jane Doe", std::nullopt});
  PreparedDocument p = prepare_document(d);
  ASSERT_EQ(p.subject_keys.size(), 1u);
  EXPECT_EQ(p.subject_keys[0], "exxonmobil");
  EXPECT_EQ(p.subject_ciks[0], "34088");
}

TEST(SubjectKeyTest, IgnoresCasePunctuationAndLegalForm) {
  EXPECT_EQ(subject_key("Apple Inc."), subject_key("APPLE INC"));
  EXPECT_EQ(subject_key("The Buckle, Inc."), "buckle");
  EXPECT_NE(subject_key("Apple Operations Limited"), subject_key("Apple Inc."));
}

}  // namespace
}  // namespace fgraph::verify
