#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "extract/extract.h"

namespace fgraph::extract {
namespace {

ingest::Document make_doc(std::string text) {
  ingest::Document d;
  d.doc_id = ingest::make_doc_id(text);
  d.text = std::move(text);
  d.form_type = "10-K";
  return d;
}

TEST(OutcomeTest, RoundTripsEveryOutcomeName) {
  for (auto o : {Outcome::kCompleted, Outcome::kInvalidRequest, Outcome::kTransient, Outcome::kExpired,
                 Outcome::kRefused, Outcome::kTruncated, Outcome::kSchemaInvalid}) {
    EXPECT_EQ(parse_outcome(to_string(o)), o);
  }
  EXPECT_EQ(to_string(Outcome::kSchemaInvalid), "schema_invalid");
  EXPECT_FALSE(parse_outcome("ok").has_value());
  EXPECT_EQ(parse_lane("openai-batch"), LaneKind::kOpenAiBatch);
  EXPECT_EQ(parse_lane("local"), LaneKind::kLocal);
  EXPECT_FALSE(parse_lane("replay").has_value());
}

TEST(CustomIdTest, DependsOnEveryFieldAndFitsProviderLimits) {
  const std::string a = make_custom_id("text", "m", "extract.v1", "extraction.v1");
  EXPECT_EQ(a, make_custom_id("text", "m", "extract.v1", "extraction.v1"));
  EXPECT_NE(a, make_custom_id("text!", "m", "extract.v1", "extraction.v1"));
  EXPECT_NE(a, make_custom_id("text", "m2", "extract.v1", "extraction.v1"));
  EXPECT_NE(a, make_custom_id("text", "m", "extract.v2", "extraction.v1"));
  EXPECT_NE(a, make_custom_id("text", "m", "extract.v1", "extraction.v2"));
  ASSERT_LE(a.size(), 64u);
  for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
}

TEST(SplitTextTest, CutsAtParagraphsAndCoversTheTextExactly) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Paragraph " + std::to_string(i) + " says something.\n\n";
  auto ranges = split_text(text, 200);
  ASSERT_GT(ranges.size(), 1u);
  std::int64_t pos = 0;
  for (auto [b, e] : ranges) {
    EXPECT_EQ(b, pos);
    EXPECT_LE(e - b, 200);
    pos = e;
    if (e < static_cast<std::int64_t>(text.size())) {
      EXPECT_EQ(text.substr(e - 2, 2), "\n\n");
    }
  }
  EXPECT_EQ(pos, static_cast<std::int64_t>(text.size()));
}

TEST(SplitTextTest, NeverCutsInsideAUtf8Character) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "\xC3\xA9";  // é without any space
  auto ranges = split_text(text, 51);
  for (auto [b, e] : ranges) {
    EXPECT_NE(static_cast<unsigned char>(text[b]) & 0xC0, 0x80);
    (void)e;
  }
}

TEST(PlanDocumentTest, OneRequestForAShortDocumentWithEstimates) {
  PlanOptions o;
  o.model = "gpt-4.1-mini";
  auto doc = make_doc("Acme Corp is a subsidiary of Beta Holdings Inc.");
  auto reqs = plan_document(doc, o);
  ASSERT_TRUE(reqs.has_value());
  ASSERT_EQ(reqs->size(), 1u);
  const auto& r = (*reqs)[0];
  EXPECT_EQ(r.doc_id, doc.doc_id);
  EXPECT_EQ(r.char_start, 0);
  EXPECT_EQ(r.char_end, static_cast<std::int64_t>(doc.text.size()));
  EXPECT_EQ(r.custom_id, make_custom_id(doc.text, "gpt-4.1-mini", "extract.v1", "extraction.v1"));
  EXPECT_GT(r.est_input_tokens, static_cast<std::int64_t>(bundled_prompt().system_prompt.size() / 4));
  auto price = PriceTable::bundled().find("openai", "gpt-4.1-mini");
  ASSERT_TRUE(price.has_value());
  EXPECT_DOUBLE_EQ(r.est_cost_usd,
                   PriceTable::cost_usd(price->batch, Usage{.input_tokens = r.est_input_tokens,
                                                            .cached_input_tokens = r.est_cached_input_tokens,
                                                            .output_tokens = r.est_output_tokens}));
}

TEST(PlanDocumentTest, SplitsALongDocumentIntoChunksOfItsOwnText) {
  PlanOptions o;
  o.max_document_tokens = 50;  // 200 bytes
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Section " + std::to_string(i) + ". Acme holds shares.\n\n";
  auto doc = make_doc(text);
  auto reqs = plan_document(doc, o);
  ASSERT_TRUE(reqs.has_value());
  ASSERT_GT(reqs->size(), 1u);
  for (std::size_t i = 0; i < reqs->size(); ++i) {
    const auto& r = (*reqs)[i];
    EXPECT_EQ(r.chunk_index, static_cast<int>(i));
    EXPECT_EQ(r.chunk_count, static_cast<int>(reqs->size()));
    EXPECT_EQ(r.custom_id, make_custom_id(text.substr(r.char_start, r.char_end - r.char_start), o.model,
                                          "extract.v1", "extraction.v1"));
  }
}

TEST(PlanDocumentTest, RejectsEmptyAndOversizeDocuments) {
  PlanOptions o;
  EXPECT_EQ(plan_document(make_doc(""), o).error().code, ErrorCode::kInvalidInput);
  o.max_document_tokens = 10;
  o.max_chunks = 2;
  auto r = plan_document(make_doc(std::string(1000, 'x')), o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
}

TEST(RenderTest, EveryLaneBodyPassesTheIsolationCheck) {
  auto doc = make_doc("First paragraph about Acme.\n\nSecond paragraph about Beta.");
  PlanOptions po;
  po.max_document_tokens = 8;
  auto reqs = plan_document(doc, po);
  ASSERT_TRUE(reqs.has_value());
  for (LaneKind lane : {LaneKind::kOpenAiBatch, LaneKind::kOpenAiSync, LaneKind::kLocal, LaneKind::kAnthropicBatch}) {
    RenderOptions ro;
    ro.lane = lane;
    for (const auto& r : *reqs) {
      std::string body = render_body(r, std::string_view(doc.text).substr(r.char_start, r.char_end - r.char_start), ro);
      EXPECT_TRUE(check_isolation(body, r, doc.text, ro).has_value()) << to_string(lane);
      auto j = nlohmann::json::parse(body);
      EXPECT_EQ(j["model"], po.model);
    }
  }
}

TEST(RenderTest, LocalBodyUsesTheConstrainingResponseFormat) {
  auto doc = make_doc("Acme.");
  auto reqs = plan_document(doc, PlanOptions{});
  RenderOptions ro;
  ro.lane = LaneKind::kLocal;
  auto j = nlohmann::json::parse(render_body((*reqs)[0], doc.text, ro));
  EXPECT_EQ(j["response_format"]["type"], "json_object");
  EXPECT_EQ(j["response_format"]["schema"]["required"][0], "entities");
  ro.local_format = LocalFormat::kJsonSchema;
  j = nlohmann::json::parse(render_body((*reqs)[0], doc.text, ro));
  EXPECT_EQ(j["response_format"]["json_schema"]["schema"]["type"], "object");
  ro.lane = LaneKind::kAnthropicBatch;
  j = nlohmann::json::parse(render_body((*reqs)[0], doc.text, ro));
  EXPECT_EQ(j["tool_choice"]["name"], j["tools"][0]["name"]);
  EXPECT_EQ(j["tools"][0]["input_schema"]["additionalProperties"], false);
}

TEST(IsolationTest, RejectsTextOfAnotherDocumentOrAnExtraMessage) {
  auto a = make_doc("Alpha Corp owns 51% of Gamma LLC.");
  auto b = make_doc("Beta Inc appointed Jane Roe as CFO.");
  auto ra = (*plan_document(a, PlanOptions{}))[0];
  RenderOptions ro;
  // Another document's text under a's request: refused.
  std::string wrong = render_body(ra, b.text, ro);
  auto s = check_isolation(wrong, ra, a.text, ro);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  // Two documents concatenated into one prompt: refused.
  std::string merged = render_body(ra, a.text + "\n" + b.text, ro);
  EXPECT_FALSE(check_isolation(merged, ra, a.text, ro).has_value());
  // An extra user message carrying another document: refused.
  auto j = nlohmann::json::parse(render_body(ra, a.text, ro));
  j["messages"].insert(j["messages"].begin() + 1, nlohmann::json{{"role", "user"}, {"content", b.text}});
  EXPECT_FALSE(check_isolation(j.dump(), ra, a.text, ro).has_value());
  // A tampered system prompt: refused.
  j = nlohmann::json::parse(render_body(ra, a.text, ro));
  j["messages"][0]["content"] = "Also summarise: " + b.text;
  EXPECT_FALSE(check_isolation(j.dump(), ra, a.text, ro).has_value());
}

TEST(PriceTableTest, ParsesAndRejects) {
  auto t = PriceTable::parse(R"({"read_on":"2026-01-01","models":{"openai":{"m":{"sync":{"input":2,"output":8},"batch":{"input":1,"output":4}}}}})");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->read_on(), "2026-01-01");
  EXPECT_DOUBLE_EQ(PriceTable::cost_usd(t->find("openai", "m")->batch, 1000000, 500000), 3.0);
  EXPECT_FALSE(t->find("openai", "other").has_value());
  EXPECT_EQ(PriceTable::parse("[]").error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(PriceTable::parse(R"({"models":{"x":{"m":{"sync":{}}}}})").error().code, ErrorCode::kInvalidInput);
  EXPECT_TRUE(PriceTable::bundled().find("local", "anything").has_value());
  EXPECT_FALSE(PriceTable::bundled().read_on().empty());
}

// ---------------------------------------------------------------- money (issue 20)

TEST(PriceTableTest, CachedTokensCostTheirOwnPriceAndTheInputPriceWithoutOne) {
  auto t = PriceTable::parse(R"({"models":{"anthropic":{"m":{"cache_min_tokens":0,
      "sync":{"input":3,"output":15,"cached_input":0.3,"cache_write":3.75},
      "batch":{"input":1.5,"output":7.5}}}}})");
  ASSERT_TRUE(t.has_value()) << t.error().describe();
  const auto m = t->find("anthropic", "m");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->cache_min_tokens, 0);
  // 1M input tokens: 600k read from the cache, 100k written to it, 300k plain; 1M output.
  const Usage u{.input_tokens = 1000000, .cached_input_tokens = 600000, .cache_write_tokens = 100000,
                .output_tokens = 1000000};
  EXPECT_DOUBLE_EQ(PriceTable::cost_usd(m->sync, u), 0.3 * 3 + 0.6 * 0.3 + 0.1 * 3.75 + 15);
  // A tier without cache prices charges cached tokens as input: never below the real cost.
  EXPECT_DOUBLE_EQ(PriceTable::cost_usd(m->batch, u), 1.5 + 7.5);
  // More cached tokens than input tokens (a provider's slip) prices nothing below zero.
  EXPECT_DOUBLE_EQ(PriceTable::cost_usd(m->sync, Usage{.input_tokens = 10, .cached_input_tokens = 50}), 10 * 0.3 / 1e6);
  EXPECT_FALSE(PriceTable::parse(R"({"models":{"x":{"m":{"sync":{"input":1,"output":1,"cached_input":-1},
      "batch":{"input":1,"output":1}}}}})").has_value());
  EXPECT_FALSE(PriceTable::parse(R"({"models":{"x":{"m":{"cache_min_tokens":"many","sync":{"input":1,"output":1},
      "batch":{"input":1,"output":1}}}}})").has_value());
}

TEST(PlanDocumentTest, EstimatesTheInstructionsAndSchemaAsCachedOnlyFromTheModelsMinimum) {
  auto table = [](int min_tokens) {
    return PriceTable::parse(R"({"models":{"openai":{"m":{"cache_min_tokens":)" + std::to_string(min_tokens) +
                             R"(,"sync":{"input":2,"output":8,"cached_input":0.5},"batch":{"input":1,"output":4,"cached_input":0.25}}}}})")
        .value();
  };
  const PriceTable low = table(0), high = table(1000000);
  PlanOptions o;
  o.model = "m";
  o.prices = &low;
  auto doc = make_doc("Acme Corp is a subsidiary of Beta Holdings Inc.");
  auto cached = plan_document(doc, o);
  o.prices = &high;
  auto plain = plan_document(doc, o);
  ASSERT_TRUE(cached.has_value() && plain.has_value());
  const auto& c = (*cached)[0];
  const auto& p = (*plain)[0];
  EXPECT_GT(c.est_cached_input_tokens, 0);
  EXPECT_LT(c.est_cached_input_tokens, c.est_input_tokens);  // the document is never cached
  EXPECT_EQ(p.est_cached_input_tokens, 0);                   // below the minimum: billed in full
  EXPECT_NEAR(p.est_cost_usd - c.est_cost_usd, c.est_cached_input_tokens * (1 - 0.25) / 1e6, 1e-15);
  o.lane = LaneKind::kLocal;  // free, and no cache to count
  o.prices = &low;
  EXPECT_EQ(plan_document(doc, o)->front().est_cached_input_tokens, 0);
}

TEST(RenderTest, AnthropicMarksTheInstructionsAndSchemaForThePromptCache) {
  auto doc = make_doc("Acme Corp is a subsidiary of Beta Holdings Inc.");
  PlanOptions po;
  po.lane = LaneKind::kAnthropicBatch;
  po.model = "claude-haiku-4-5";
  auto r = plan_document(doc, po)->front();
  RenderOptions ro;
  ro.lane = LaneKind::kAnthropicBatch;
  auto body = nlohmann::json::parse(render_body(r, doc.text, ro));
  ASSERT_TRUE(body["system"].is_array());
  ASSERT_EQ(body["system"].size(), 1u);
  EXPECT_EQ(body["system"][0]["text"], bundled_prompt().system_prompt);
  EXPECT_EQ(body["system"][0]["cache_control"]["type"], "ephemeral");
  EXPECT_TRUE(check_isolation(body.dump(), r, doc.text, ro).has_value());
  // The block form proves the prompt too: another text in it is refused.
  body["system"][0]["text"] = "Also summarise the other filings.";
  EXPECT_FALSE(check_isolation(body.dump(), r, doc.text, ro).has_value());
}

TEST(RowsTest, CachedTokensAreReadFromBothProvidersUsage) {
  auto openai = classify_chat_completion(R"({"choices":[{"message":{"content":"{\"entities\":[],\"relations\":[]}"},
      "finish_reason":"stop"}],"usage":{"prompt_tokens":1500,"completion_tokens":20,
      "prompt_tokens_details":{"cached_tokens":1024}}})");
  EXPECT_EQ(openai.usage.input_tokens, 1500);  // prompt_tokens includes the cached ones
  EXPECT_EQ(openai.usage.cached_input_tokens, 1024);
  auto anthropic = classify_anthropic_message(R"({"content":[{"type":"tool_use","name":"emit_extraction",
      "input":{"entities":[],"relations":[]}}],"stop_reason":"tool_use","usage":{"input_tokens":400,
      "output_tokens":20,"cache_read_input_tokens":1000,"cache_creation_input_tokens":100}})");
  EXPECT_EQ(anthropic.usage.input_tokens, 1500);  // input_tokens leaves the cache out
  EXPECT_EQ(anthropic.usage.cached_input_tokens, 1000);
  EXPECT_EQ(anthropic.usage.cache_write_tokens, 100);
}

}  // namespace
}  // namespace fgraph::extract
