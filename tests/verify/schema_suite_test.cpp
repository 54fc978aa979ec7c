// The validator (valijson with the nlohmann adapter, as the verifier uses it) against the
// official JSON-Schema-Test-Suite (Debian package json-schema-test-suite), for every
// keyword that schemas/extraction.v1.json uses. Draft 7 is the newest draft of the suite
// valijson implements; these keywords mean the same in draft 2020-12.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "verify/internal/schema_validator.h"

namespace fgraph::verify {
namespace {

using nlohmann::json;

class SchemaSuiteTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SchemaSuiteTest, ValidatorAgreesWithEveryCase) {
  std::filesystem::path file =
      std::filesystem::path(FGRAPH_SCHEMA_SUITE_DIR) / "draft7" / (GetParam() + ".json");
  std::ifstream in(file);
  ASSERT_TRUE(in.good()) << "missing " << file;
  std::stringstream ss;
  ss << in.rdbuf();
  json groups = json::parse(ss.str());
  int cases = 0;
  for (const auto& group : groups) {
    auto validator = internal::SchemaValidator::compile(group.at("schema").dump());
    ASSERT_TRUE(validator.has_value()) << group.at("description");
    for (const auto& t : group.at("tests")) {
      internal::SchemaCheck c = (*validator)->validate(t.at("data"));
      EXPECT_EQ(c.ok, t.at("valid").get<bool>())
          << GetParam() << ": " << group.at("description").get<std::string>() << " / "
          << t.at("description").get<std::string>();
      ++cases;
    }
  }
  EXPECT_GT(cases, 5);
}

// The keywords of schemas/extraction.v1.json.
INSTANTIATE_TEST_SUITE_P(ExtractionKeywords, SchemaSuiteTest,
                         ::testing::Values("type", "enum", "required", "properties",
                                           "additionalProperties", "items"));

TEST(SchemaSuiteTest, InstanceTextThatIsNotJsonIsReported) {
  auto validator = internal::SchemaValidator::compile(R"({"type": "object"})");
  ASSERT_TRUE(validator.has_value());
  internal::SchemaCheck c = (*validator)->validate_text("{\"a\": ");
  EXPECT_FALSE(c.ok);
  EXPECT_FALSE(c.parsed);
  internal::SchemaCheck d = (*validator)->validate_text("[1]");
  EXPECT_FALSE(d.ok);
  EXPECT_TRUE(d.parsed);
  EXPECT_EQ(d.pointer, "");
}

TEST(SchemaSuiteTest, PointerEscapesAndDistinguishesKeysFromIndexes) {
  auto validator = internal::SchemaValidator::compile(
      R"({"type": "object", "properties": {"a/b": {"type": "array", "items": {"type": "object",
          "properties": {"0": {"type": "string"}}}}}})");
  ASSERT_TRUE(validator.has_value());
  internal::SchemaCheck c = (*validator)->validate_text(R"({"a/b": [{"0": "x"}, {"0": 5}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.pointer, "/a~1b/1/0");
}

}  // namespace
}  // namespace fgraph::verify
