#include "ingest/internal/encoding.h"

#include <gtest/gtest.h>

namespace fgraph::ingest::internal {
namespace {

TEST(EncodingDetectorTest, ValidatesUtf8Strictly) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x80\x99 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x80"));          // cut short
}

TEST(EncodingDetectorTest, ReadsDeclarations) {
  EXPECT_EQ(declared_encoding("<?xml version=\"1.0\" encoding='euc-kr'?><a/>"), "EUC-KR");
  EXPECT_EQ(declared_encoding("<html><head><meta charset=utf-8>"), "UTF-8");
  EXPECT_EQ(declared_encoding("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">"),
            "WINDOWS-1252");
  EXPECT_EQ(declared_encoding("<html><body>no declaration</body></html>"), "");
}

TEST(EncodingDetectorTest, ValidUtf8WinsOverDeclaration) {
  Decoded d = decode_to_utf8("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xC3\xA9</a>");
  EXPECT_EQ(d.encoding, "UTF-8");
  EXPECT_FALSE(d.transcoded);
  EXPECT_EQ(d.replaced, 0u);
}

TEST(EncodingDetectorTest, MislabelledKoreanIsTranscodedFromCp949) {
  // "반기보고서" in EUC-KR under a UTF-8 declaration, as in the DART sample.
  std::string bytes = "<?xml version=\"1.0\" encoding=\"utf-8\"?><D>\xB9\xDD\xB1\xE2\xBA\xB8\xB0\xED\xBC\xAD</D>";
  Decoded d = decode_to_utf8(bytes);
  EXPECT_EQ(d.encoding, "CP949");
  EXPECT_TRUE(d.transcoded);
  EXPECT_EQ(d.declared, "UTF-8");
  EXPECT_NE(d.utf8.find("\xEB\xB0\x98\xEA\xB8\xB0\xEB\xB3\xB4\xEA\xB3\xA0\xEC\x84\x9C"), std::string::npos);
}

TEST(EncodingDetectorTest, Latin1WithoutDeclarationFallsBackToWindows1252) {
  Decoded d = decode_to_utf8("The company\x92s caf\xE9");
  EXPECT_EQ(d.encoding, "WINDOWS-1252");
  EXPECT_EQ(d.utf8, "The company\xE2\x80\x99s caf\xC3\xA9");
  EXPECT_EQ(d.replaced, 0u);
}

TEST(EncodingDetectorTest, StrayBytesInUtf8AreReplacedAndCounted) {
  Decoded d = decode_to_utf8("caf\xC3\xA9 \xFF na\xC3\xAFve \xC3\xA9t\xC3\xA9");
  EXPECT_EQ(d.encoding, "UTF-8");
  EXPECT_EQ(d.replaced, 1u);
  EXPECT_EQ(d.utf8, "caf\xC3\xA9 \xEF\xBF\xBD na\xC3\xAFve \xC3\xA9t\xC3\xA9");
  EXPECT_TRUE(is_valid_utf8(d.utf8));
}

TEST(EncodingDetectorTest, DeclaredLegacyCharsetIsUsed) {
  Decoded d = decode_to_utf8("<meta charset=\"iso-8859-1\"><p>Z\xFCrich</p>");
  EXPECT_TRUE(d.transcoded);
  EXPECT_NE(d.utf8.find("Z\xC3\xBCrich"), std::string::npos);
}

TEST(EncodingDetectorTest, StripsUtf8Bom) {
  Decoded d = decode_to_utf8("\xEF\xBB\xBFhello");
  EXPECT_EQ(d.utf8, "hello");
}

TEST(EncodingDetectorTest, SanitizeCountsEveryBadByte) {
  std::string s = "a\x80\x81" "b";
  EXPECT_EQ(sanitize_utf8(s), 2u);
  EXPECT_EQ(s, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
}

}  // namespace
}  // namespace fgraph::ingest::internal
