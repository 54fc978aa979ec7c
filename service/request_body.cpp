#include "service/internal/request_body.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "service/internal/paths.h"

namespace fgraph::service {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Error bad_request(std::string message) { return make_error(ErrorCode::kInvalidInput, std::move(message)); }

// An optional number field within [lo, hi]; kInvalidInput saying it "must be <what>".
Result<std::optional<double>> number_field(const json& j, const char* name, double lo, double hi,
                                           const char* what) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number() || !(it->get<double>() >= lo && it->get<double>() <= hi)) {
    return bad_request(std::string("\"") + name + "\" must be " + what);
  }
  return std::optional<double>(it->get<double>());
}

}  // namespace

const std::vector<std::string>& known_lanes() {
  static const std::vector<std::string> kLanes = {"openai-batch", "anthropic-batch", "openai-sync",
                                                  "local"};
  return kLanes;
}

// The request's JSON body as an object; an empty body is {} unless `required`.
Result<json> parse_object(const std::string& body, bool required) {
  if (body.empty()) {
    if (required) return bad_request("a JSON object is required as the body");
    return json::object();
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    return bad_request(std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) return bad_request("the body must be a JSON object");
  return j;
}

// An optional string field; kInvalidInput when present but not a string.
Result<std::optional<std::string>> string_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return bad_request(std::string("\"") + name + "\" must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> required_string(const json& j, const char* name) {
  auto v = string_field(j, name);
  if (!v) return v.error();
  if (!*v || (*v)->empty()) return bad_request(std::string("\"") + name + "\" is required");
  return **v;
}

Result<run::RunOptions> run_options_from_body(const json& b, const fs::path& drops_root) {
  auto drop = required_string(b, "drop");
  if (!drop) return drop.error();
  auto lane = string_field(b, "lane");
  if (!lane) return lane.error();
  auto model = string_field(b, "model");
  if (!model) return model.error();
  if (*lane && std::find(known_lanes().begin(), known_lanes().end(), **lane) == known_lanes().end()) {
    return bad_request("unknown lane: " + **lane);
  }
  auto budget = number_field(b, "budget_usd", 0, std::numeric_limits<double>::max(), "a number >= 0");
  if (!budget) return budget.error();
  // Issue 20's quality gates, as `run --on-failure` and `--canary`.
  std::optional<run::FailurePolicy> on_failure;
  if (auto it = b.find("on_failure"); it != b.end() && !it->is_null()) {
    if (it->is_string()) on_failure = run::parse_failure_policy(it->get<std::string>());
    if (!on_failure) return bad_request("\"on_failure\" must be \"continue\" or \"halt\"");
  }
  auto canary = number_field(b, "canary", 0, 1, "a share from 0 to 1 (0 = none)");
  if (!canary) return canary.error();
  std::map<std::string, std::string> tags;
  if (auto it = b.find("tags"); it != b.end() && !it->is_null()) {
    if (!it->is_object()) return bad_request("\"tags\" must be an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return bad_request("each tag must be a string: " + k);
      tags[k] = v.get<std::string>();
    }
  }
  auto path = resolve_under(drops_root, *drop);
  if (!path) return path.error();
  if (!fs::exists(*path)) return bad_request("no such drop: " + *drop);
  run::RunOptions o;
  o.drop = path->string();
  o.lane = *lane;
  o.model = *model;
  o.budget_usd = *budget;
  o.tags = std::move(tags);
  o.on_failure = on_failure;
  o.canary_fraction = *canary;
  return o;
}

}  // namespace fgraph::service
