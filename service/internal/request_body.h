// The JSON bodies of the service's write routes (service.cpp): an object, its string
// fields, and POST /v1/runs as the options of `fgraph run`. Errors are kInvalidInput
// naming the field (400 through from_error).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/core.h"
#include "run/run.h"

namespace fgraph::service {

// The lanes a run may name.
const std::vector<std::string>& known_lanes();

// The request's JSON body as an object; an empty body is {} unless `required`.
Result<nlohmann::json> parse_object(const std::string& body, bool required);
// An optional string field; kInvalidInput when present but not a string.
Result<std::optional<std::string>> string_field(const nlohmann::json& j, const char* name);
// A string field that must be present and non-empty.
Result<std::string> required_string(const nlohmann::json& j, const char* name);

// POST /v1/runs: `drop` (a folder under `drops_root` that exists) and, as the options of
// `fgraph run`, optional `lane`, `model`, `budget_usd` (>= 0), `tags` ({string: string}),
// `on_failure` (continue|halt) and `canary` (a share from 0 to 1, 0 = none); absent
// fields leave the settings' values.
Result<run::RunOptions> run_options_from_body(const nlohmann::json& body,
                                              const std::filesystem::path& drops_root);

}  // namespace fgraph::service
