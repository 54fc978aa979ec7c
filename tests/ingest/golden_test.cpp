// Golden tests over every file of the corpus. Each case is a folder
// tests/golden/ingest/<case>/ holding expect.json:
//   {"file": "sec/x.html",                       path under the corpus
//    "documents": [{"part", "format", "form_type", "cik", "company", "accession",
//                   "filed_at", "period", "registry_id", "parties": [{role,name,cik}],
//                   "phrases": [...must occur...], "absent": [...must not...]}],
//    "skipped": [{"part", "reason"}], "error": "reason_code" (optional)}
// A new case is a new folder; every corpus file must have one.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/ingest.h"
#include "ingest/internal/encoding.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace fgraph::ingest {
namespace {

fs::path golden_root() { return fs::path(FGRAPH_SOURCE_DIR) / "tests/golden/ingest"; }
fs::path corpus_root() { return fs::path(FGRAPH_CORPUS_DIR); }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(golden_root())) {
    if (fs::exists(e.path() / "expect.json")) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

json load(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// The text invariants every document keeps, whatever its format.
void expect_clean_text(const Document& d) {
  SCOPED_TRACE(d.source + " part " + std::to_string(d.part));
  EXPECT_FALSE(d.text.empty());
  EXPECT_TRUE(internal::is_valid_utf8(d.text));
  EXPECT_EQ(d.doc_id, make_doc_id(d.text));
  static const std::regex kTag(R"(</?[A-Za-z][A-Za-z0-9:_-]*(\s+[A-Za-z:_-]+\s*=\s*["'][^"']*["'])*\s*/?>)");
  static const std::regex kEntity(R"(&(amp|lt|gt|quot|apos|nbsp|#[0-9]+|#[xX][0-9a-fA-F]+);)");
  std::smatch m;
  if (std::regex_search(d.text, m, kTag)) ADD_FAILURE() << "markup left: " << m.str();
  if (std::regex_search(d.text, m, kEntity)) ADD_FAILURE() << "entity left: " << m.str();
  EXPECT_EQ(d.text.find("\n\n\n"), std::string::npos) << "more than one blank line";
  EXPECT_EQ(d.text.find(" \n"), std::string::npos) << "trailing space";
  EXPECT_EQ(d.text.find("\n "), std::string::npos) << "leading space";
  EXPECT_EQ(d.text.find("  "), std::string::npos) << "uncollapsed spaces";
  EXPECT_EQ(d.text.find('\t'), std::string::npos);
  EXPECT_EQ(d.text.find('\r'), std::string::npos);
  EXPECT_EQ(d.text.find("\xC2\xA0"), std::string::npos) << "NBSP left";
}

class IngestGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(IngestGoldenTest, MatchesExpectation) {
  json expect = load(golden_root() / GetParam() / "expect.json");
  fs::path file = corpus_root() / expect.at("file").get<std::string>();
  ASSERT_TRUE(fs::exists(file)) << file;
  ParseResult r = parse_file(file.string());
  if (expect.contains("error")) {
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].reason_code, expect["error"].get<std::string>());
    return;
  }
  ASSERT_TRUE(r.failures.empty()) << r.failures[0].error.message;
  const json& docs = expect.at("documents");
  ASSERT_EQ(r.documents.size(), docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const Document& d = r.documents[i];
    const json& e = docs[i];
    SCOPED_TRACE("part " + std::to_string(d.part));
    EXPECT_EQ(d.source, file.string());
    EXPECT_EQ(d.part, e.at("part").get<int>());
    EXPECT_EQ(std::string(to_string(d.format)), e.at("format").get<std::string>());
    EXPECT_EQ(optional_json(d.form_type), e.at("form_type"));
    EXPECT_EQ(optional_json(d.cik), e.at("cik"));
    EXPECT_EQ(optional_json(d.company), e.at("company"));
    EXPECT_EQ(optional_json(d.accession), e.at("accession"));
    EXPECT_EQ(optional_json(d.filed_at), e.at("filed_at"));
    EXPECT_EQ(optional_json(d.period), e.at("period"));
    EXPECT_EQ(optional_json(d.registry_id), e.at("registry_id"));
    json parties = json::array();
    for (const auto& p : d.parties) {
      parties.push_back({{"role", p.role}, {"name", p.name}, {"cik", optional_json(p.cik)}});
    }
    EXPECT_EQ(parties, e.at("parties"));
    for (const auto& phrase : e.at("phrases")) {
      EXPECT_NE(d.text.find(phrase.get<std::string>()), std::string::npos)
          << "missing phrase: " << phrase;
    }
    if (e.contains("absent")) {
      for (const auto& phrase : e["absent"]) {
        EXPECT_EQ(d.text.find(phrase.get<std::string>()), std::string::npos)
            << "unexpected: " << phrase;
      }
    }
    expect_clean_text(d);
  }
  const json& skipped = expect.at("skipped");
  ASSERT_EQ(r.skipped.size(), skipped.size());
  for (std::size_t i = 0; i < skipped.size(); ++i) {
    EXPECT_EQ(r.skipped[i].part, skipped[i].at("part").get<int>());
    EXPECT_EQ(r.skipped[i].reason, skipped[i].at("reason").get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, IngestGoldenTest, ::testing::ValuesIn(case_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(IngestGoldenCoverageTest, EveryCorpusFileHasACase) {
  std::set<std::string> covered;
  for (const auto& name : case_names()) {
    covered.insert(load(golden_root() / name / "expect.json").at("file").get<std::string>());
  }
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(corpus_root())) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), corpus_root()).string();
    if (rel == "MANIFEST.md" || rel == "SHA256SUMS") continue;
    ++files;
    EXPECT_TRUE(covered.count(rel)) << "no golden case for " << rel;
  }
  EXPECT_GE(files, 40u);
}

TEST(IngestGoldenTest, DocIdIsStableAcrossRuns) {
  fs::path file = corpus_root() / "sec/0001213900-25-032135.txt";
  ParseResult a = parse_file(file.string());
  ParseResult b = parse_file(file.string());
  ASSERT_EQ(a.documents.size(), b.documents.size());
  for (std::size_t i = 0; i < a.documents.size(); ++i) {
    EXPECT_EQ(a.documents[i].doc_id, b.documents[i].doc_id);
    EXPECT_EQ(a.documents[i].text, b.documents[i].text);
  }
}

}  // namespace
}  // namespace fgraph::ingest
