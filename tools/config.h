// Configuration of the fgraph binary, parsed once, here, and passed down as plain data.
//
// Precedence, lowest first: built-in defaults, $FGRAPH_HOME/config.toml or config.json,
// FGRAPH_* and provider environment variables, command-line flags (applied by callers).
// Secrets (Neo4j password, provider API keys) come only from the environment or from a
// file whose mode is 0600 (named by `*_FILE` variables or `*_file` config keys); a secret
// written into a config file that others can read is a configuration error.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/core.h"
#include "extract/extract.h"
#include "run/run.h"

namespace fgraph::cli {

struct Neo4jConfig {
  std::string url = "http://127.0.0.1:7474";  // FGRAPH_NEO4J_URL
  std::string user = "neo4j";                 // FGRAPH_NEO4J_USER
  std::string password = "fgraph-dev-password";  // FGRAPH_NEO4J_PASSWORD (secret)
  std::string database = "neo4j";             // FGRAPH_NEO4J_DATABASE
  int concurrency = 4;  // FGRAPH_NEO4J_CONCURRENCY: staging requests at once (1..64), each of many documents, each document in its own transaction
};

struct ProviderConfig {
  std::string base_url;  // OPENAI_BASE_URL / ANTHROPIC_BASE_URL / FGRAPH_LOCAL_URL
  std::string api_key;   // OPENAI_API_KEY / ANTHROPIC_API_KEY (secret); unused for local
};

// fgraph serve (service/service.h has what each limit means).
struct ServiceConfig {
  std::string token;  // FGRAPH_SERVICE_TOKEN / service.token_file (secret, a 0600 file)
  std::int64_t max_upload_bytes = 256ll << 20;  // service.max_upload_bytes: one PUT /v1/drops file
  std::int64_t idle_timeout_ms = 30000;  // service.idle_timeout_ms: a client's read of one request
  // The background carrying of open runs: batches polled with a backoff from poll_initial_s
  // doubling to poll_max_s; alerts past these thresholds; the inbox's settle time.
  std::int64_t poll_initial_s = 60;           // service.poll_initial_s
  std::int64_t poll_max_s = 300;              // service.poll_max_s
  std::int64_t alert_batch_open_hours = 20;   // service.alert_batch_open_hours
  double alert_failed_rows = 0.05;            // service.alert_failed_rows: share of submitted rows
  std::int64_t alert_neo4j_down_minutes = 10; // service.alert_neo4j_down_minutes
  std::string alert_webhook;                  // service.alert_webhook: URL each alert is POSTed to
  std::int64_t inbox_settle_s = 3;            // service.inbox_settle_s
};

struct Config {
  std::string home;                 // --home / FGRAPH_HOME / ./.fgraph
  std::string lane = "local";       // FGRAPH_LANE: openai-batch|anthropic-batch|openai-sync|local|replay
  std::string model;                // FGRAPH_MODEL; "" = the lane's default model
  std::optional<double> budget_usd; // FGRAPH_BUDGET_USD; none = no budget gate; finite, >= 0
  // FGRAPH_PRICES_FILE / prices_file: a JSON file in the format of schemas/prices.json whose
  // entries add to or replace (model by model) the built-in price table. "" = none.
  std::string prices_file;
  // The built-in price table merged with prices_file: what estimates, the budget gate and
  // recorded costs use. A paid lane refuses a model this table has no price for.
  extract::PriceTable prices = extract::PriceTable::bundled();
  int concurrency = 2;              // FGRAPH_CONCURRENCY: parallel requests on live lanes
  // FGRAPH_EXTRACT / extract / --extract: rules | model | rules+model (the cascade: form
  // facts first; the model only for documents the form extractor does not cover completely).
  std::string extract = "rules+model";
  // Spend caps over every run of this home, checked before anything is sent (issue 20):
  // budget.daily_usd / FGRAPH_BUDGET_DAILY_USD (the current UTC day), budget.monthly_usd /
  // FGRAPH_BUDGET_MONTHLY_USD (the current UTC month). None = no cap; finite, >= 0.
  std::optional<double> daily_cap_usd, monthly_cap_usd;
  // Default tags of a new run: tags.KEY = "VALUE" ([tags] in config.toml), FGRAPH_TAGS
  // ("project=filings,owner=ana"); `fgraph run --tag` wins key by key.
  std::map<std::string, std::string> tags;
  Neo4jConfig neo4j;
  ServiceConfig service;
  ProviderConfig openai{"https://api.openai.com/v1", ""};
  ProviderConfig anthropic{"https://api.anthropic.com", ""};
  ProviderConfig local{"http://127.0.0.1:8081/v1", ""};
  // Issue 20 (quality gates): on_failure (FGRAPH_ON_FAILURE) continue|halt; canary.fraction
  // (FGRAPH_CANARY, "2%" or 0.02; 0 = off), canary.min_documents, canary.min_schema_valid,
  // canary.min_grounded, canary.max_leak_alarms.
  run::FailurePolicy on_failure = run::FailurePolicy::kContinue;
  run::CanaryOptions canary;
  std::string config_file;          // the file that was read, "" if none
  // Where each non-default value came from: key -> "env FGRAPH_X" | "file ..." | "flag".
  std::vector<std::pair<std::string, std::string>> origins;
};

// Reads the environment through `getenv` (a seam for tests). kInvalidInput for a malformed
// config file, an unknown key, a bad number (NaN, an infinity, a negative or trailing
// text: every number setting, whatever its source), a secret in a file that is not 0600,
// or a prices file that cannot be read or parsed.
using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
Result<Config> load_config(const std::string& home, const GetEnv& getenv);
GetEnv process_env();

// What the run stage takes from the configuration (the lane's default model filled in).
run::Settings run_settings(const Config& config);

// The lane's default model when none is configured.
std::string default_model_for_lane(const std::string& lane);

// Key/value lines for `fgraph config`: secrets masked whole, URL credentials redacted.
std::vector<std::pair<std::string, std::string>> describe_config(const Config& config);
// "****" for any secret that is set (not one character of it shown), "(unset)" otherwise.
std::string mask_secret(const std::string& secret);

// A dollar amount of a setting named `what` (flag, environment or file): a finite number
// >= 0 with nothing after it. kInvalidInput otherwise ("nan", "inf", "-1", "1e999", "5x").
Result<double> parse_usd(const std::string& text, const std::string& what);
// parse_usd of a flag that may be absent: "" is no amount (nullopt).
Result<std::optional<double>> parse_optional_usd(const std::string& text, const std::string& what);
// A share of a setting or flag named `what`: "2%", "0.02", or "off" (0). kInvalidInput
// unless it is a finite number in 0..1 (0..100%).
Result<double> parse_share(const std::string& text, const std::string& what);

}  // namespace fgraph::cli
