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
