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

bool type_matches(const json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_number_integer();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  return false;
}

// A structural walk of the strict-mode subset the schema uses (type, properties,
// required, additionalProperties:false, items, enum). Formats, patterns and the
// semantic checks are the verify stage's.
bool conforms(const json& v, const json& schema, const std::string& path, std::string& why) {
  if (!schema.is_object()) return true;
  if (schema.contains("type")) {
    const json& t = schema["type"];
    bool any = false;
    if (t.is_string()) {
      any = type_matches(v, t.get<std::string>());
    } else if (t.is_array()) {
      for (const json& one : t) any = any || (one.is_string() && type_matches(v, one.get<std::string>()));
    }
    if (!any) {
      why = path + ": wrong type";
      return false;
    }
  }
  if (schema.contains("enum") && schema["enum"].is_array() && !v.is_null()) {
    bool found = false;
    for (const json& e : schema["enum"]) found = found || e == v;
    if (!found) {
      why = path + ": value not in the enumeration";
      return false;
    }
  }
  if (v.is_object()) {
    const json props = schema.value("properties", json::object());
    if (schema.contains("required") && schema["required"].is_array()) {
      for (const json& k : schema["required"]) {
        if (k.is_string() && !v.contains(k.get<std::string>())) {
          why = path + ": missing \"" + k.get<std::string>() + "\"";
          return false;
        }
      }
    }
    const bool closed = schema.contains("additionalProperties") && schema["additionalProperties"] == false;
    for (const auto& [k, sub] : v.items()) {
      if (props.contains(k)) {
        if (!conforms(sub, props[k], path + "." + k, why)) return false;
      } else if (closed) {
        why = path + ": unexpected property \"" + k + "\"";
        return false;
      }
    }
  }
  if (v.is_array() && schema.contains("items")) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!conforms(v[i], schema["items"], path + "[" + std::to_string(i) + "]", why)) return false;
    }
  }
  return true;
}

// The basic shape check against the bundled schema.
bool basic_shape(const json& j, std::string& why) {
  static const json kSchema = json::parse(bundled_prompt().schema_json);
  if (!j.is_object()) {
    why = "output is not a JSON object";
    return false;
  }
  return conforms(j, kSchema, "$", why);
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
  if (body.contains("model") && body["model"].is_string()) r.answered_model = body["model"];
  if (body.contains("usage") && body["usage"].is_object()) {
    const json& u = body["usage"];
    r.usage.input_tokens = int_field(u, "prompt_tokens");  // cached tokens included
    r.usage.output_tokens = int_field(u, "completion_tokens");
    if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object()) {
      r.usage.cached_input_tokens = int_field(u["prompt_tokens_details"], "cached_tokens");
    }
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
  if (msg.contains("model") && msg["model"].is_string()) r.answered_model = msg["model"];
  if (msg.contains("usage") && msg["usage"].is_object()) {
    // Anthropic's input_tokens leaves out the tokens read from and written to the cache.
    const json& u = msg["usage"];
    r.usage.cached_input_tokens = int_field(u, "cache_read_input_tokens");
    r.usage.cache_write_tokens = int_field(u, "cache_creation_input_tokens");
    r.usage.input_tokens =
        int_field(u, "input_tokens") + r.usage.cached_input_tokens + r.usage.cache_write_tokens;
    r.usage.output_tokens = int_field(u, "output_tokens");
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
