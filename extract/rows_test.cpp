#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "extract/extract.h"

namespace fgraph::extract {
namespace {

using nlohmann::json;

std::string completion(json message, std::string finish = "stop") {
  return json{{"object", "chat.completion"},
              {"choices", json::array({json{{"index", 0}, {"message", message}, {"finish_reason", finish}}})},
              {"usage", json{{"prompt_tokens", 120}, {"completion_tokens", 30}}}}
      .dump();
}

TEST(ClassifyChatCompletionTest, MapsEachFailureModeToItsOutcome) {
  const std::string good = R"({"entities":[],"relations":[]})";
  auto r = classify_chat_completion(completion({{"role", "assistant"}, {"content", good}}));
  EXPECT_EQ(r.outcome, Outcome::kCompleted);
  EXPECT_EQ(r.content, good);
  EXPECT_EQ(r.usage.input_tokens, 120);
  EXPECT_EQ(r.usage.output_tokens, 30);
  EXPECT_EQ(classify_chat_completion(completion({{"role", "assistant"}, {"content", nullptr}, {"refusal", "no"}})).outcome,
            Outcome::kRefused);
  EXPECT_EQ(classify_chat_completion(completion({{"role", "assistant"}, {"content", "{\"entit"}}, "length")).outcome,
            Outcome::kTruncated);
  EXPECT_EQ(classify_chat_completion(completion({{"role", "assistant"}, {"content", "not json"}})).outcome,
            Outcome::kSchemaInvalid);
  EXPECT_EQ(classify_chat_completion(completion({{"role", "assistant"}, {"content", "[1,2]"}})).outcome,
            Outcome::kSchemaInvalid);
  EXPECT_EQ(classify_chat_completion(completion({{"role", "assistant"}, {"content", R"({"entities":[]})"}})).outcome,
            Outcome::kSchemaInvalid);
  // Breaks the schema: an entity without evidence, with an extra property, or an unknown type.
  json entity{{"id", "e1"}, {"name", "Acme"}, {"type", "COMPANY"}, {"cik", nullptr}, {"ticker", nullptr},
              {"lei", nullptr}, {"jurisdiction", nullptr}, {"evidence", "Acme"}};
  auto with = [&](json e) {
    return completion({{"role", "assistant"}, {"content", json{{"entities", json::array({e})}, {"relations", json::array()}}.dump()}});
  };
  EXPECT_EQ(classify_chat_completion(with(entity)).outcome, Outcome::kCompleted);
  json no_evidence = entity;
  no_evidence.erase("evidence");
  EXPECT_EQ(classify_chat_completion(with(no_evidence)).outcome, Outcome::kSchemaInvalid);
  json extra = entity;
  extra["confidence"] = 0.9;
  EXPECT_EQ(classify_chat_completion(with(extra)).outcome, Outcome::kSchemaInvalid);
  json alien = entity;
  alien["type"] = "ALIEN";
  EXPECT_EQ(classify_chat_completion(with(alien)).outcome, Outcome::kSchemaInvalid);
  EXPECT_EQ(classify_chat_completion(completion({{"role", "assistant"}, {"content", good}}, "content_filter")).outcome,
            Outcome::kRefused);
  EXPECT_EQ(classify_chat_completion("<html>").outcome, Outcome::kTransient);
}

TEST(ClassifyAnthropicMessageTest, ReadsTheForcedToolCall) {
  json msg{{"type", "message"},
           {"stop_reason", "tool_use"},
           {"content", json::array({json{{"type", "tool_use"}, {"name", "emit_extraction"},
                                         {"input", json{{"entities", json::array()}, {"relations", json::array()}}}}})},
           {"usage", json{{"input_tokens", 10}, {"output_tokens", 5}}}};
  auto r = classify_anthropic_message(msg.dump());
  EXPECT_EQ(r.outcome, Outcome::kCompleted);
  EXPECT_EQ(json::parse(r.content)["relations"], json::array());
  EXPECT_EQ(r.usage.output_tokens, 5);
  msg["stop_reason"] = "max_tokens";
  EXPECT_EQ(classify_anthropic_message(msg.dump()).outcome, Outcome::kTruncated);
  msg["stop_reason"] = "refusal";
  EXPECT_EQ(classify_anthropic_message(msg.dump()).outcome, Outcome::kRefused);
  msg["stop_reason"] = "end_turn";
  msg["content"] = json::array({json{{"type", "text"}, {"text", "sorry"}}});
  EXPECT_EQ(classify_anthropic_message(msg.dump()).outcome, Outcome::kSchemaInvalid);
}

}  // namespace
}  // namespace fgraph::extract
