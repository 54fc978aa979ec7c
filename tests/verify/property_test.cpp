// Property: a quote cut from a corpus document (whole characters, starting and ending on a
// visible ASCII character) is always found, at the offsets it came from whenever it is
// the only occurrence, and the reported span always holds the same normalised text.
#include <gtest/gtest.h>

#include <random>

#include "ingest/ingest.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

// Byte offset of every code point, plus the end.
std::vector<std::size_t> code_point_offsets(const std::string& text) {
  std::vector<std::size_t> off;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) off.push_back(i);
  }
  off.push_back(text.size());
  return off;
}

bool visible_ascii(unsigned char c) { return c >= 0x21 && c <= 0x7E; }

class EvidencePropertyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EvidencePropertyTest, RandomSubstringsAreFoundWhereTheyCameFrom) {
  std::string path = std::string(FGRAPH_CORPUS_DIR) + "/" + GetParam();
  ingest::ParseResult parsed = ingest::parse_file(path);
  ASSERT_FALSE(parsed.documents.empty()) << path;
  std::mt19937 rng(20240601);
  int checked = 0;
  int unique = 0;
  for (const auto& document : parsed.documents) {
    const std::string& text = document.text;
    std::vector<std::size_t> off = code_point_offsets(text);
    const std::size_t n = off.size() - 1;
    if (n < 40) continue;
    PreparedDocument doc = prepare_document(document);
    ASSERT_EQ(doc.normalized.text, normalize(text));
    auto byte_at = [&](std::size_t cp) { return static_cast<unsigned char>(text[off[cp]]); };
    std::uniform_int_distribution<std::size_t> pick_start(0, n - 13);
    std::uniform_int_distribution<std::size_t> pick_len(12, 400);
    for (int trial = 0; trial < 400; ++trial) {
      std::size_t s = pick_start(rng);
      std::size_t e = std::min(n, s + pick_len(rng));
      // Snap to whole characters with a visible ASCII character at each end.
      while (s < e && !visible_ascii(byte_at(s))) ++s;
      while (e > s && (!visible_ascii(byte_at(e - 1)) || (e < n && byte_at(e) >= 0x80))) --e;
      if (e <= s) continue;
      std::string quote = text.substr(off[s], off[e] - off[s]);
      std::string nq = normalize(quote);
      auto span = doc.find(quote);
      ASSERT_TRUE(span.has_value()) << "quote at " << s << " not found: " << quote;
      EXPECT_LE(span->char_start, s);
      std::string at_span =
          text.substr(off[span->char_start], off[span->char_end] - off[span->char_start]);
      EXPECT_EQ(normalize(at_span), nq);
      const std::string& nd = doc.normalized.text;
      if (nd.find(nq) == nd.rfind(nq)) {
        ++unique;
        EXPECT_EQ(span->char_start, s) << quote;
        EXPECT_EQ(span->char_end, e) << quote;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
  EXPECT_GT(unique, checked / 4);
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, EvidencePropertyTest,
    ::testing::Values("sec/ex21_aapl.html", "sec/ex21_xom.html", "sec/0000943374-24-000509.txt",
                      "sec/0001193125-10-073212.html", "sec/form.13FHR.xml",
                      "uk-ixbrl/account_1.html", "dart/lab_00126380-ko_2011-04-30.xml",
                      "sec/0000929638-25-000114.nc"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name;
      for (char c : info.param) name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
      return name;
    });

}  // namespace
}  // namespace fgraph::verify
