// The local lane against the real local model (fixture local_llm: tools/local-llm start).
// Two small real filings from the corpus go through the lane, one isolated request each,
// decoding constrained by the schema (response_format json_object + schema, the shape
// llama-cpp-python turns into a grammar). The model is tiny: the point is that the lane,
// the constrained decoding and the isolation are real.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "registry/registry.h"

namespace fgraph::extract {
namespace {

using nlohmann::json;

TEST(ExtractLocalModelTest, ExtractsTwoRealFilingsWithSchemaValidOutput) {
  const char* url = std::getenv("FGRAPH_LOCAL_URL");
  ASSERT_NE(url, nullptr) << "FGRAPH_LOCAL_URL is set by the local_llm ctest fixture";
  std::vector<ingest::Document> docs;
  for (const char* name : {"sec/metlife.13F-HR.primarydoc.xml", "sec/374WaterForm4.xml"}) {
    auto parsed = ingest::parse_file(std::string(FGRAPH_CORPUS_DIR) + "/" + name);
    ASSERT_FALSE(parsed.documents.empty()) << name;
    docs.push_back(parsed.documents.front());
  }
  auto store = registry::Store::open({":memory:"});
  ASSERT_TRUE(store.has_value());
  auto transport = make_curl_transport();
  SystemClock clock;
  ExtractorOptions o;
  o.lane = LaneKind::kLocal;
  o.plan.model = "smollm2";
  o.plan.max_document_tokens = 6000;  // both filings fit one request each
  o.plan.max_output_tokens = 2048;  // room for a tiny model that lists at length
  o.providers.local_base_url = url;
  o.sync_concurrency = 1;             // llama-cpp-python serves one request at a time
  o.primary_attempts = 1;             // a CPU model: no retries, bounded test time
  o.request_timeout = std::chrono::minutes(40);
  Extractor ex(**store, *transport, clock, o);
  auto rec = ex.run("run-local", docs);
  ASSERT_TRUE(rec.has_value()) << rec.error().describe();
  EXPECT_EQ(rec->requests, 2);
  EXPECT_EQ(rec->submitted, 2);
  EXPECT_TRUE(rec->balanced());
  EXPECT_EQ(rec->in_flight, 0);
  EXPECT_EQ(rec->cost_usd, 0);
  ASSERT_EQ(rec->usage.size(), 1u);
  EXPECT_EQ(rec->usage[0].lane, "local");
  EXPECT_GT(rec->usage[0].input_tokens, 0);
  EXPECT_GT(rec->usage[0].output_tokens, 0);
  auto outcomes = (*store)->query("SELECT custom_id, outcome, COALESCE(error,'') FROM attempts");
  ASSERT_TRUE(outcomes.has_value());
  for (const auto& row : *outcomes) {
    EXPECT_EQ(std::get<std::string>(row[1]), "completed") << std::get<std::string>(row[2]);
  }
  EXPECT_EQ(rec->completed, 2);
  auto reqs = run_requests(**store, "run-local");
  ASSERT_TRUE(reqs.has_value());
  for (const RunRequest& q : *reqs) {
    auto content = stored_result(**store, q.custom_id);
    ASSERT_TRUE(content.has_value());
    const json out = json::parse(*content);  // the structural schema check passed at collection
    EXPECT_TRUE(out["entities"].is_array());
    EXPECT_TRUE(out["relations"].is_array());
    std::printf("%s: %zu entities, %zu relations\n", q.doc_id.c_str(), out["entities"].size(),
                out["relations"].size());
  }
}

}  // namespace
}  // namespace fgraph::extract
