// Planning: prompt binding, prices, custom ids, chunking, rendering, isolation proof.
#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "extract/extract.h"

namespace fgraph::extract {

namespace assets {
extern const char* const kPromptExtractV1;
extern const char* const kSchemaExtractionV1;
extern const char* const kPrices;
}  // namespace assets

using nlohmann::json;

namespace {

constexpr std::string_view kOpen = "<document>\n";
constexpr std::string_view kClose = "\n</document>";
constexpr std::string_view kToolName = "emit_extraction";

std::int64_t estimate_tokens(std::size_t bytes, double chars_per_token) {
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(bytes) / chars_per_token));
}

bool is_utf8_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kCompleted: return "completed";
    case Outcome::kInvalidRequest: return "invalid_request";
    case Outcome::kTransient: return "transient";
    case Outcome::kExpired: return "expired";
    case Outcome::kRefused: return "refused";
    case Outcome::kTruncated: return "truncated";
    case Outcome::kSchemaInvalid: return "schema_invalid";
  }
  return "transient";
}

std::optional<Outcome> parse_outcome(std::string_view s) {
  for (Outcome o : {Outcome::kCompleted, Outcome::kInvalidRequest, Outcome::kTransient,
                    Outcome::kExpired, Outcome::kRefused, Outcome::kTruncated,
                    Outcome::kSchemaInvalid}) {
    if (to_string(o) == s) return o;
  }
  return std::nullopt;
}

std::string_view to_string(LaneKind k) {
  switch (k) {
    case LaneKind::kOpenAiBatch: return "openai-batch";
    case LaneKind::kAnthropicBatch: return "anthropic-batch";
    case LaneKind::kOpenAiSync: return "openai-sync";
    case LaneKind::kLocal: return "local";
    case LaneKind::kAnthropicSync: return "anthropic-sync";
  }
  return "local";
}

std::optional<LaneKind> parse_lane(std::string_view s) {
  for (LaneKind k : {LaneKind::kOpenAiBatch, LaneKind::kAnthropicBatch, LaneKind::kOpenAiSync,
                     LaneKind::kLocal, LaneKind::kAnthropicSync}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

std::string_view provider_of(LaneKind k) {
  switch (k) {
    case LaneKind::kOpenAiBatch:
    case LaneKind::kOpenAiSync: return "openai";
    case LaneKind::kAnthropicBatch:
    case LaneKind::kAnthropicSync: return "anthropic";
    case LaneKind::kLocal: return "local";
  }
  return "local";
}

bool is_batch_lane(LaneKind k) {
  return k == LaneKind::kOpenAiBatch || k == LaneKind::kAnthropicBatch;
}

LaneKind live_lane_of(LaneKind k) {
  if (k == LaneKind::kOpenAiBatch) return LaneKind::kOpenAiSync;
  if (k == LaneKind::kAnthropicBatch) return LaneKind::kAnthropicSync;
  return k;
}

const PromptBundle& bundled_prompt() {
  static const PromptBundle kBundle{"extract.v1", "extraction.v1", assets::kPromptExtractV1,
                                    assets::kSchemaExtractionV1};
  return kBundle;
}

// ---------------------------------------------------------------------------------
// Prices.

Result<PriceTable> PriceTable::parse(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("models") || !j["models"].is_object()) {
    return make_error(ErrorCode::kInvalidInput, "price table: not an object with \"models\"");
  }
  PriceTable table;
  if (j.contains("read_on") && j["read_on"].is_string()) table.read_on_ = j["read_on"];
  auto tier = [](const json& t, TokenPrice& out) {
    if (!t.is_object() || !t.contains("input") || !t.contains("output") ||
        !t["input"].is_number() || !t["output"].is_number()) {
      return false;
    }
    out.input_per_mtok = t["input"].get<double>();
    out.output_per_mtok = t["output"].get<double>();
    // Without a cache price, cached tokens cost what any input token costs.
    out.cached_input_per_mtok = out.input_per_mtok;
    out.cache_write_per_mtok = out.input_per_mtok;
    for (auto [key, field] : {std::pair{"cached_input", &out.cached_input_per_mtok},
                              std::pair{"cache_write", &out.cache_write_per_mtok}}) {
      if (!t.contains(key)) continue;
      if (!t[key].is_number()) return false;
      *field = t[key].get<double>();
    }
    return out.input_per_mtok >= 0 && out.output_per_mtok >= 0 && out.cached_input_per_mtok >= 0 &&
           out.cache_write_per_mtok >= 0;
  };
  for (const auto& [provider, models] : j["models"].items()) {
    if (!models.is_object()) {
      return make_error(ErrorCode::kInvalidInput, "price table: provider " + provider);
    }
    for (const auto& [model, p] : models.items()) {
      ModelPrice mp;
      if (!p.is_object() || !tier(p.value("sync", json()), mp.sync) ||
          !tier(p.value("batch", json()), mp.batch) ||
          (p.contains("cache_min_tokens") && !p["cache_min_tokens"].is_number_unsigned())) {
        return make_error(ErrorCode::kInvalidInput,
                          "price table: bad entry " + provider + "/" + model);
      }
      if (p.contains("cache_min_tokens")) mp.cache_min_tokens = p["cache_min_tokens"].get<std::int64_t>();
      table.prices_[provider][model] = mp;
    }
  }
  return table;
}

const PriceTable& PriceTable::bundled() {
  static const PriceTable kTable = [] {
    auto t = PriceTable::parse(assets::kPrices);
    FGRAPH_CHECK(t.has_value());
    return std::move(t).value();
  }();
  return kTable;
}

std::optional<ModelPrice> PriceTable::find(std::string_view provider,
                                           std::string_view model) const {
  auto p = prices_.find(std::string(provider));
  if (p == prices_.end()) return std::nullopt;
  if (auto m = p->second.find(std::string(model)); m != p->second.end()) return m->second;
  if (auto m = p->second.find("*"); m != p->second.end()) return m->second;
  return std::nullopt;
}

void PriceTable::merge(const PriceTable& over) {
  for (const auto& [provider, models] : over.prices_) {
    for (const auto& [model, price] : models) prices_[provider][model] = price;
  }
}

Status check_priced(LaneKind lane, std::string_view model, const PriceTable* prices) {
  if (lane == LaneKind::kLocal) return ok();
  const PriceTable& table = prices != nullptr ? *prices : PriceTable::bundled();
  if (table.find(provider_of(lane), model)) return ok();
  return make_error(ErrorCode::kInvalidInput,
                    "model " + std::string(model) + " has no price for provider " +
                        std::string(provider_of(lane)) + " (lane " + std::string(to_string(lane)) +
                        "); a paid lane refuses an unpriced model, which would cost $0 against "
                        "any budget: add its price in a prices file (setting prices_file, "
                        "FGRAPH_PRICES_FILE; the format of schemas/prices.json)",
                    "unpriced_model");
}

double PriceTable::cost_usd(const TokenPrice& p, std::int64_t input_tokens,
                            std::int64_t output_tokens) {
  return cost_usd(p, Usage{.input_tokens = input_tokens, .output_tokens = output_tokens});
}

double PriceTable::cost_usd(const TokenPrice& p, const Usage& u) {
  // A provider never reports more cached than input tokens; if one did, nothing is
  // priced below zero.
  const std::int64_t cached = std::clamp<std::int64_t>(u.cached_input_tokens, 0, u.input_tokens);
  const std::int64_t written = std::clamp<std::int64_t>(u.cache_write_tokens, 0, u.input_tokens - cached);
  const std::int64_t plain = u.input_tokens - cached - written;
  return (static_cast<double>(plain) * p.input_per_mtok +
          static_cast<double>(cached) * p.cached_input_per_mtok +
          static_cast<double>(written) * p.cache_write_per_mtok +
          static_cast<double>(u.output_tokens) * p.output_per_mtok) /
         1e6;
}

// ---------------------------------------------------------------------------------
// Ids and chunking.

std::string make_custom_id(std::string_view chunk_text, std::string_view model,
                           std::string_view prompt_version, std::string_view schema_version) {
  return "fg-" + sha256_fields({chunk_text, model, prompt_version, schema_version}).substr(0, 48);
}

std::vector<std::pair<std::int64_t, std::int64_t>> split_text(std::string_view text,
                                                              std::int64_t max_bytes) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  const auto n = static_cast<std::int64_t>(text.size());
  if (max_bytes < 16) max_bytes = 16;
  std::int64_t start = 0;
  while (start < n) {
    if (n - start <= max_bytes) {
      out.emplace_back(start, n);
      break;
    }
    std::string_view window = text.substr(start, max_bytes);
    const std::size_t min_cut = static_cast<std::size_t>(max_bytes / 2);
    std::int64_t cut = -1;
    // Prefer the latest boundary of the strongest kind in the second half of the window.
    for (std::string_view sep : {"\n\n", "\n", ". ", " "}) {
      std::size_t pos = window.rfind(sep);
      if (pos != std::string_view::npos && pos + sep.size() >= min_cut) {
        cut = start + static_cast<std::int64_t>(pos + sep.size());
        break;
      }
    }
    if (cut < 0) {
      cut = start + max_bytes;
      while (cut > start && is_utf8_continuation(static_cast<unsigned char>(text[cut]))) --cut;
      if (cut == start) cut = start + max_bytes;  // not UTF-8 at all; cut anyway
    }
    out.emplace_back(start, cut);
    start = cut;
  }
  return out;
}

Result<std::vector<ExtractionRequest>> plan_document(const ingest::Document& doc,
                                                     const PlanOptions& options) {
  const PromptBundle& prompt = options.prompt != nullptr ? *options.prompt : bundled_prompt();
  const PriceTable& prices = options.prices != nullptr ? *options.prices : PriceTable::bundled();
  if (doc.text.empty()) {
    return make_error(ErrorCode::kInvalidInput, "document " + doc.doc_id + " has no text");
  }
  if (options.max_document_tokens <= 0 || options.chars_per_token <= 0) {
    return make_error(ErrorCode::kInvalidInput, "plan options: budgets must be positive");
  }
  const auto max_bytes = static_cast<std::int64_t>(
      static_cast<double>(options.max_document_tokens) * options.chars_per_token);
  auto ranges = split_text(doc.text, max_bytes);
  if (static_cast<int>(ranges.size()) > options.max_chunks) {
    return make_error(ErrorCode::kInvalidInput,
                      "document " + doc.doc_id + " needs " + std::to_string(ranges.size()) +
                          " chunks, more than the limit of " + std::to_string(options.max_chunks));
  }
  const std::int64_t overhead_tokens =
      estimate_tokens(prompt.system_prompt.size() + prompt.schema_json.size() + 64,
                      options.chars_per_token);
  std::optional<TokenPrice> price;
  // The instructions and schema open every request byte for byte: the providers serve
  // them from their prompt cache (Anthropic through the cache_control render_body sets)
  // once they reach the model's minimum.
  std::int64_t cached_tokens = 0;
  if (auto mp = prices.find(provider_of(options.lane), options.model)) {
    price = is_batch_lane(options.lane) ? mp->batch : mp->sync;
    if (options.lane != LaneKind::kLocal && mp->cache_min_tokens && overhead_tokens >= *mp->cache_min_tokens) {
      cached_tokens = overhead_tokens;
    }
  }
  std::vector<ExtractionRequest> out;
  out.reserve(ranges.size());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    auto [b, e] = ranges[i];
    std::string_view chunk = std::string_view(doc.text).substr(b, e - b);
    ExtractionRequest r;
    r.custom_id = make_custom_id(chunk, options.model, prompt.prompt_version, prompt.schema_version);
    r.doc_id = doc.doc_id;
    r.chunk_index = static_cast<int>(i);
    r.chunk_count = static_cast<int>(ranges.size());
    r.char_start = b;
    r.char_end = e;
    r.model = options.model;
    r.prompt_version = prompt.prompt_version;
    r.schema_version = prompt.schema_version;
    const std::int64_t chunk_tokens = estimate_tokens(chunk.size(), options.chars_per_token);
    r.est_input_tokens = overhead_tokens + chunk_tokens;
    const auto expected_out = std::min<std::int64_t>(
        options.max_output_tokens,
        static_cast<std::int64_t>(std::ceil(static_cast<double>(chunk_tokens) * options.output_ratio)));
    r.est_output_tokens = static_cast<std::int64_t>(std::ceil(static_cast<double>(expected_out) * 1.25));
    r.est_cached_input_tokens = cached_tokens;
    r.est_cost_usd = price ? PriceTable::cost_usd(*price, Usage{.input_tokens = r.est_input_tokens,
                                                                .cached_input_tokens = r.est_cached_input_tokens,
                                                                .output_tokens = r.est_output_tokens})
                           : 0;
    out.push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Rendering and the isolation proof.

std::string render_body(const ExtractionRequest& request, std::string_view chunk_text,
                        const RenderOptions& options) {
  const PromptBundle& prompt = options.prompt != nullptr ? *options.prompt : bundled_prompt();
  // The schema is parsed once per process: it is sent as the same JSON every time.
  static const json kSchema = json::parse(bundled_prompt().schema_json);
  json custom;
  if (options.prompt != nullptr && options.prompt != &bundled_prompt()) {
    custom = json::parse(prompt.schema_json, nullptr, false);
  }
  const json& schema = custom.is_null() ? kSchema : custom;
  std::string user;
  user.reserve(chunk_text.size() + kOpen.size() + kClose.size());
  user.append(kOpen).append(chunk_text).append(kClose);

  json body;
  body["model"] = request.model;
  if (provider_of(options.lane) == "anthropic") {
    body["max_tokens"] = options.max_output_tokens;
    body["temperature"] = 0;
    // One cache breakpoint after the tool (the schema) and the instructions, which are the
    // same in every request: later requests read them from Anthropic's prompt cache.
    body["system"] = json::array({json{{"type", "text"},
                                       {"text", prompt.system_prompt},
                                       {"cache_control", json{{"type", "ephemeral"}}}}});
    body["messages"] = json::array({json{{"role", "user"}, {"content", std::move(user)}}});
    body["tools"] = json::array({json{{"name", kToolName},
                                      {"description", "Record the entities and relations stated in the document."},
                                      {"input_schema", schema}}});
    body["tool_choice"] = json{{"type", "tool"}, {"name", kToolName}};
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  body["messages"] = json::array({json{{"role", "system"}, {"content", prompt.system_prompt}},
                                  json{{"role", "user"}, {"content", std::move(user)}}});
  body["temperature"] = 0;
  if (options.lane == LaneKind::kLocal) {
    body["max_tokens"] = options.max_output_tokens;
    // Small local models under a grammar tend to repeat list items until the token limit
    // (every row truncated, measured with SmolLM2-135M); llama.cpp's repetition penalty
    // lets them close the JSON. Servers that do not know the field ignore it.
    body["repeat_penalty"] = 1.3;
    if (options.local_format == LocalFormat::kJsonObjectSchema) {
      body["response_format"] = json{{"type", "json_object"}, {"schema", schema}};
    } else {
      body["response_format"] =
          json{{"type", "json_schema"},
               {"json_schema", json{{"name", "extraction"}, {"strict", true}, {"schema", schema}}}};
    }
  } else {
    body["max_completion_tokens"] = options.max_output_tokens;
    body["response_format"] =
        json{{"type", "json_schema"},
             {"json_schema", json{{"name", "extraction_v1"}, {"strict", true}, {"schema", schema}}}};
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status check_isolation(std::string_view body_json, const ExtractionRequest& request,
                       std::string_view doc_text, const RenderOptions& options) {
  const PromptBundle& prompt = options.prompt != nullptr ? *options.prompt : bundled_prompt();
  auto fail = [&](const std::string& why) {
    return make_error(ErrorCode::kInternal,
                      "isolation check failed for " + request.custom_id + " (doc " +
                          request.doc_id + "): " + why);
  };
  json body = json::parse(body_json, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return fail("body is not a JSON object");
  if (!body.contains("messages") || !body["messages"].is_array()) return fail("no messages");
  const json& messages = body["messages"];
  const json* user = nullptr;
  for (const json& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") ||
        !m["content"].is_string()) {
      return fail("a message without string content");
    }
    const std::string role = m["role"];
    if (role == "system") {
      if (m["content"] != prompt.system_prompt) return fail("system message is not the prompt");
    } else if (role == "user") {
      if (user != nullptr) return fail("more than one user message");
      user = &m;
    } else {
      return fail("unexpected message role " + role);
    }
  }
  if (user == nullptr || &messages.back() != user) return fail("last message is not the user's");
  if (body.contains("system")) {
    // Anthropic: the prompt as a string, or as one text block (with its cache_control).
    const json& system = body["system"];
    const bool one_block = system.is_array() && system.size() == 1 && system[0].is_object() &&
                           system[0].value("type", "") == "text" &&
                           system[0].value("text", "") == prompt.system_prompt;
    if (system != prompt.system_prompt && !one_block) return fail("system field is not the prompt");
  }
  const std::string& content = (*user)["content"].get_ref<const std::string&>();
  if (content.size() < kOpen.size() + kClose.size() || content.compare(0, kOpen.size(), kOpen) != 0 ||
      content.compare(content.size() - kClose.size(), kClose.size(), kClose) != 0) {
    return fail("user message is not <document>...</document>");
  }
  std::string_view inner(content);
  inner = inner.substr(kOpen.size(), content.size() - kOpen.size() - kClose.size());
  if (request.char_start < 0 || request.char_end < request.char_start ||
      request.char_end > static_cast<std::int64_t>(doc_text.size())) {
    return fail("chunk range outside the document");
  }
  if (inner != doc_text.substr(request.char_start, request.char_end - request.char_start)) {
    return fail("document text is not the chunk of its own document");
  }
  return ok();
}

}  // namespace fgraph::extract
