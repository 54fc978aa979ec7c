// Provider row bodies become outcomes.
#include <nlohmann/json.hpp>

#include "extract/extract.h"

namespace fgraph::extract {

using nlohmann::json;

namespace {

std::int64_t int_field(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) return j[key].get<std::int64_t>();
  return 0;
}

// The basic shape check: a JSON object with "entities" and "relations" arrays. Returns
// the compact text to store, or an error string.
bool basic_shape(const json& j, std::string& why) {
  if (!j.is_object()) {
    why = "output is not a JSON object";
    return false;
  }
  for (const char* key : {"entities", "relations"}) {
    if (!j.contains(key) || !j[key].is_array()) {
      why = std::string("output has no \"") + key + "\" array";
      return false;
    }
  }
  return true;
}

}  // namespace

RowResult classify_chat_completion(std::string_view body_json) {
  RowResult r;
  json body = json::parse(body_json, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    r.outcome = Outcome::kTransient;
    r.error_detail = "response body is not JSON";
    return r;
  }
  if (body.contains("usage") && body["usage"].is_object()) {
    r.usage.input_tokens = int_field(body["usage"], "prompt_tokens");
    r.usage.output_tokens = int_field(body["usage"], "completion_tokens");
  }
  if (!body.contains("choices") || !body["choices"].is_array() || body["choices"].empty() ||
      !body["choices"][0].is_object()) {
    r.outcome = Outcome::kSchemaInvalid;
    r.error_detail = "response has no choices";
    return r;
  }
  const json& choice = body["choices"][0];
  const json message = choice.value("message", json::object());
  const std::string finish =
      choice.contains("finish_reason") && choice["finish_reason"].is_string() ? choice["finish_reason"].get<std::string>() : "";
  if (message.is_object() && message.contains("refusal") && message["refusal"].is_string()) {
    r.outcome = Outcome::kRefused;
    r.error_detail = "refusal: " + message["refusal"].get<std::string>().substr(0, 200);
    return r;
  }
  if (finish == "content_filter") {
    r.outcome = Outcome::kRefused;
    r.error_detail = "finish_reason content_filter";
    return r;
  }
  if (finish == "length") {
    r.outcome = Outcome::kTruncated;
    r.error_detail = "finish_reason length (output cut off at the token limit)";
    return r;
  }
  if (!message.is_object() || !message.contains("content") || !message["content"].is_string()) {
    r.outcome = Outcome::kSchemaInvalid;
    r.error_detail = "message has no text content";
    return r;
  }
  const std::string& content = message["content"].get_ref<const std::string&>();
  json out = json::parse(content, nullptr, false);
  if (out.is_discarded()) {
    r.outcome = Outcome::kSchemaInvalid;
    r.error_detail = "content is not JSON";
    return r;
  }
  std::string why;
  if (!basic_shape(out, why)) {
    r.outcome = Outcome::kSchemaInvalid;
    r.error_detail = why;
    return r;
  }
  r.outcome = Outcome::kCompleted;
  r.content = content;
  return r;
}

RowResult classify_anthropic_message(std::string_view message_json) {
  RowResult r;
  json msg = json::parse(message_json, nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) {
    r.outcome = Outcome::kTransient;
    r.error_detail = "message is not JSON";
    return r;
  }
  if (msg.contains("usage") && msg["usage"].is_object()) {
    r.usage.input_tokens = int_field(msg["usage"], "input_tokens");
    r.usage.output_tokens = int_field(msg["usage"], "output_tokens");
  }
  const std::string stop =
      msg.contains("stop_reason") && msg["stop_reason"].is_string() ? msg["stop_reason"].get<std::string>() : "";
  if (stop == "refusal") {
    r.outcome = Outcome::kRefused;
    r.error_detail = "stop_reason refusal";
    return r;
  }
  if (stop == "max_tokens" || stop == "model_context_window_exceeded") {
    r.outcome = Outcome::kTruncated;
    r.error_detail = "stop_reason " + stop;
    return r;
  }
  const json* input = nullptr;
  if (msg.contains("content") && msg["content"].is_array()) {
    for (const json& block : msg["content"]) {
      if (block.is_object() && block.value("type", "") == "tool_use" && block.contains("input")) {
        input = &block["input"];
        break;
      }
    }
  }
  if (input == nullptr) {
    r.outcome = Outcome::kSchemaInvalid;
    r.error_detail = "no tool_use block in the message";
    return r;
  }
  // Tool input arrives as an object; a string holding JSON is tolerated.
  json out = *input;
  if (out.is_string()) out = json::parse(out.get<std::string>(), nullptr, false);
  std::string why;
  if (out.is_discarded() || !basic_shape(out, why)) {
    r.outcome = Outcome::kSchemaInvalid;
    r.error_detail = why.empty() ? "tool input is not JSON" : why;
    return r;
  }
  r.outcome = Outcome::kCompleted;
  r.content = out.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

}  // namespace fgraph::extract
