// Golden cases of the verify stage: tests/golden/verify/<case>/ holds
//   case.json       {"description", "document", "part"?, "metadata"?, "siblings"?, "output"}
//                   document and siblings are paths relative to the case folder, or
//                   "corpus:<path>" for a filing of the shared corpus; metadata (company,
//                   cik, parties) is laid over what the ingest stage found;
//   <output>.json   the model output, byte for byte;
//   expected.jsonl  one line per fact as `fgraph verify --json` prints it (kind, id or
//                   index, verdict, reason, char_start, char_end), then the summary line
//                   (accepted, dropped, by_reason, leaks). Offsets left out of a line are
//                   not compared (cases on corpus files, whose text belongs to ingest).
// Every accepted fact must also hold its evidence at its offsets, whatever the case says.
// A new case is new files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ingest/ingest.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path golden_dir() { return fs::path(FGRAPH_SOURCE_DIR) / "tests" / "golden" / "verify"; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string resolve(const fs::path& dir, const std::string& ref) {
  if (ref.rfind("corpus:", 0) == 0) return std::string(FGRAPH_CORPUS_DIR) + "/" + ref.substr(7);
  return (dir / ref).string();
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(golden_dir())) {
    if (e.is_directory() && fs::exists(e.path() / "case.json")) {
      names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Code-point offset -> byte offset in UTF-8 text.
std::size_t byte_offset(const std::string& text, std::uint32_t cp) {
  std::size_t i = 0;
  for (std::uint32_t n = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (n == cp) return i;
      ++n;
    }
  }
  return text.size();
}

class GoldenVerifyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenVerifyTest, VerdictsMatchExpected) {
  const fs::path dir = golden_dir() / GetParam();
  json spec = json::parse(slurp(dir / "case.json"));

  ingest::ParseResult parsed = ingest::parse_file(resolve(dir, spec.at("document")));
  int part = spec.value("part", 1);
  auto own = std::find_if(parsed.documents.begin(), parsed.documents.end(),
                          [&](const ingest::Document& d) { return d.part == part; });
  ASSERT_NE(own, parsed.documents.end()) << "document part " << part << " not parsed";
  ingest::Document document = *own;
  if (spec.contains("metadata")) {
    const json& m = spec["metadata"];
    if (m.contains("company")) document.company = m["company"].get<std::string>();
    if (m.contains("cik")) document.cik = m["cik"].get<std::string>();
    for (const auto& p : m.value("parties", json::array())) {
      ingest::Party party{p.at("role"), p.at("name"), std::nullopt};
      if (p.contains("cik")) party.cik = p["cik"].get<std::string>();
      document.parties.push_back(std::move(party));
    }
  }
  PreparedDocument doc = prepare_document(document);
  LeakIndex run;
  run.add(doc);
  for (const auto& d : parsed.documents) run.add(d.doc_id, d.text);
  for (const auto& s : spec.value("siblings", json::array())) {
    ingest::ParseResult sp = ingest::parse_file(resolve(dir, s.get<std::string>()));
    ASSERT_FALSE(sp.documents.empty()) << s;
    for (const auto& d : sp.documents) run.add(d.doc_id, d.text);
  }

  auto verifier = Verifier::create(extraction_schema_v1());
  ASSERT_TRUE(verifier.has_value());
  const std::string output = slurp(dir / spec.at("output").get<std::string>());
  RowVerdict v = verifier->verify(doc, output, &run);

  // Actual lines keyed like the CLI prints them.
  std::map<std::string, json> actual;
  if (!v.schema_ok) {
    actual["output"] = {{"verdict", "dropped"}, {"reason", "schema_invalid"}, {"pointer", v.pointer}};
  }
  for (const auto& e : v.entities) {
    actual["entity " + e.local_id] = {{"verdict", "accepted"}, {"reason", nullptr},
                                      {"char_start", e.char_start}, {"char_end", e.char_end}};
  }
  for (const auto& r : v.relations) {
    actual["relation " + std::to_string(r.index)] = {{"verdict", "accepted"}, {"reason", nullptr},
                                                     {"char_start", r.char_start},
                                                     {"char_end", r.char_end}};
  }
  for (const auto& d : v.dropped) {
    if (d.kind == FactKind::kOutput) continue;
    std::string key = d.kind == FactKind::kEntity ? "entity " + d.local_id
                                                  : "relation " + std::to_string(d.index);
    actual[key] = {{"verdict", "dropped"}, {"reason", std::string(to_string(d.reason))},
                   {"char_start", nullptr}, {"char_end", nullptr}};
  }

  std::istringstream lines(slurp(dir / "expected.jsonl"));
  std::string line;
  std::size_t fact_lines = 0;
  bool saw_summary = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    json want = json::parse(line);
    if (want.contains("accepted")) {  // the summary
      saw_summary = true;
      EXPECT_EQ(want["accepted"].get<std::size_t>(), v.accepted_count());
      EXPECT_EQ(want["dropped"].get<std::size_t>(), v.dropped.size());
      EXPECT_EQ(want["by_reason"], json(v.dropped_by_reason()));
      if (want.contains("leaks")) {
        EXPECT_EQ(want["leaks"].get<std::size_t>(), v.leaks.size());
      }
      continue;
    }
    ++fact_lines;
    std::string kind = want.at("kind");
    std::string key = kind == "output"   ? "output"
                      : kind == "entity" ? "entity " + want.at("id").get<std::string>()
                                         : "relation " + std::to_string(want.at("index").get<int>());
    auto it = actual.find(key);
    ASSERT_NE(it, actual.end()) << "no verdict for " << key;
    for (const char* field : {"verdict", "reason", "pointer", "char_start", "char_end"}) {
      if (want.contains(field)) {
        EXPECT_EQ(it->second[field], want[field]) << key << " " << field;
      }
    }
  }
  EXPECT_TRUE(saw_summary);
  EXPECT_EQ(fact_lines, actual.size()) << "expected.jsonl must list every fact";

  // Whatever the case says: an accepted quote is at its offsets.
  const std::string& text = document.text;
  auto holds = [&](const std::string& evidence, std::uint32_t start, std::uint32_t end) {
    std::size_t b = byte_offset(text, start);
    std::size_t e = byte_offset(text, end);
    EXPECT_EQ(normalize(text.substr(b, e - b)), normalize(evidence));
  };
  for (const auto& e : v.entities) holds(e.evidence, e.char_start, e.char_end);
  for (const auto& r : v.relations) holds(r.evidence, r.char_start, r.char_end);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenVerifyTest, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace fgraph::verify
