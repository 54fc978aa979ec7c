#include "tools/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

namespace fgraph::cli {
namespace {

namespace fs = std::filesystem;

// A flat view of a config file: "section.key" -> string value.
using Flat = std::vector<std::pair<std::string, std::string>>;

Result<Flat> flatten_json(const std::string& text, const std::string& path) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kInvalidInput, path + ": not a JSON object");
  }
  Flat out;
  for (auto& [k, v] : j.items()) {
    if (v.is_object()) {
      for (auto& [k2, v2] : v.items()) {
        out.emplace_back(k + "." + k2, v2.is_string() ? v2.get<std::string>() : v2.dump());
      }
    } else {
      out.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  return out;
}

std::string toml_scalar(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  if (auto i = n.value<int64_t>()) return std::to_string(*i);
  if (auto d = n.value<double>()) return std::to_string(*d);
  if (auto b = n.value<bool>()) return *b ? "true" : "false";
  return "";
}

Result<Flat> flatten_toml(const std::string& text, const std::string& path) {
  toml::parse_result parsed = toml::parse(text, path);
  if (!parsed) {
    const auto& err = parsed.error();
    return make_error(ErrorCode::kInvalidInput,
                      path + ":" + std::to_string(err.source().begin.line) + ": " +
                          std::string(err.description()));
  }
  Flat out;
  for (auto& [k, v] : parsed.table()) {
    if (const toml::table* t = v.as_table()) {
      for (auto& [k2, v2] : *t) out.emplace_back(std::string(k.str()) + "." + std::string(k2.str()), toml_scalar(v2));
    } else {
      out.emplace_back(std::string(k.str()), toml_scalar(v));
    }
  }
  return out;
}

bool mode_is_private(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return (st.st_mode & 077) == 0;
}

Result<std::string> read_secret_file(const std::string& path, const std::string& what) {
  if (!fs::exists(path)) {
    return make_error(ErrorCode::kInvalidInput, what + " file " + path + " does not exist");
  }
  if (!mode_is_private(path)) {
    return make_error(ErrorCode::kInvalidInput,
                      what + " file " + path + " must have mode 0600 (chmod 600 " + path + ")");
  }
  auto data = read_file(path, 1 << 16);
  if (!data) return data.error();
  std::string s = *data;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Setter {
  std::string key;
  bool secret;
  std::function<Status(Config&, const std::string&)> set;
};

Status parse_double(const std::string& v, std::optional<double>& out, const std::string& key) {
  auto d = parse_usd(v, key);
  if (!d) return d.error();
  out = *d;
  return ok();
}

// A whole number in 1..64 (atoi would take "4x" as 4).
Status parse_count(const std::string& v, int& out, const std::string& key) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || end == nullptr || *end != '\0' || n < 1 || n > 64) {
    return make_error(ErrorCode::kInvalidInput, key + " must be a whole number in 1..64: " + v);
  }
  out = static_cast<int>(n);
  return ok();
}

// A whole number >= 1 with nothing after it.
Status parse_positive(const std::string& v, std::int64_t& out, const std::string& key) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || end == nullptr || *end != '\0' || errno != 0 || n < 1) {
    return make_error(ErrorCode::kInvalidInput, key + " must be a whole number >= 1: " + v);
  }
  out = n;
  return ok();
}

const std::vector<Setter>& setters() {
  static const std::vector<Setter> kSetters = {
      {"lane", false, [](Config& c, const std::string& v) -> Status {
         static const std::vector<std::string> kLanes = {"openai-batch", "anthropic-batch", "anthropic-sync",
                                                         "openai-sync", "local", "replay"};
         if (std::find(kLanes.begin(), kLanes.end(), v) == kLanes.end()) {
           return make_error(ErrorCode::kInvalidInput, "unknown lane: " + v);
         }
         c.lane = v;
         return ok();
       }},
      {"model", false, [](Config& c, const std::string& v) { c.model = v; return ok(); }},
      {"extract", false, [](Config& c, const std::string& v) -> Status {
         if (!extract::parse_extract_mode(v)) {
           return make_error(ErrorCode::kInvalidInput,
                             "extract must be rules, model or rules+model: " + v);
         }
         c.extract = v;
         return ok();
       }},
      {"budget_usd", false, [](Config& c, const std::string& v) {
         return parse_double(v, c.budget_usd, "budget_usd");
       }},
      {"concurrency", false, [](Config& c, const std::string& v) {
         return parse_count(v, c.concurrency, "concurrency");
       }},
      {"budget.daily_usd", false, [](Config& c, const std::string& v) {
         return parse_double(v, c.daily_cap_usd, "budget.daily_usd");
       }},
      {"budget.monthly_usd", false, [](Config& c, const std::string& v) {
         return parse_double(v, c.monthly_cap_usd, "budget.monthly_usd");
       }},
      {"tags", false, [](Config& c, const std::string& v) -> Status {  // FGRAPH_TAGS: k=v,k=v
         for (std::size_t at = 0; at <= v.size();) {
           std::size_t end = v.find(',', at);
           if (end == std::string::npos) end = v.size();
           const std::string item = v.substr(at, end - at);
           const std::size_t eq = item.find('=');
           if (eq == std::string::npos || eq == 0) {
             return make_error(ErrorCode::kInvalidInput, "tags wants KEY=VALUE[,KEY=VALUE...], not \"" + v + "\"");
           }
           c.tags[item.substr(0, eq)] = item.substr(eq + 1);
           at = end + 1;
         }
         return ok();
       }},
      {"prices_file", false, [](Config& c, const std::string& v) -> Status {
         auto text = read_file(v, 1 << 20);
         if (!text) {
           return make_error(ErrorCode::kInvalidInput,
                             "prices_file " + v + " cannot be read: " + text.error().message);
         }
         auto table = extract::PriceTable::parse(*text);
         if (!table) {
           return make_error(ErrorCode::kInvalidInput,
                             "prices_file " + v + ": " + table.error().message);
         }
         c.prices = extract::PriceTable::bundled();
         c.prices.merge(*table);
         c.prices_file = v;
         return ok();
       }},
      {"neo4j.url", false, [](Config& c, const std::string& v) { c.neo4j.url = v; return ok(); }},
      {"neo4j.user", false, [](Config& c, const std::string& v) { c.neo4j.user = v; return ok(); }},
      {"neo4j.database", false, [](Config& c, const std::string& v) { c.neo4j.database = v; return ok(); }},
      {"neo4j.concurrency", false, [](Config& c, const std::string& v) {
         return parse_count(v, c.neo4j.concurrency, "neo4j.concurrency");
       }},
      {"neo4j.password", true, [](Config& c, const std::string& v) { c.neo4j.password = v; return ok(); }},
      {"openai.base_url", false, [](Config& c, const std::string& v) { c.openai.base_url = v; return ok(); }},
      {"openai.api_key", true, [](Config& c, const std::string& v) { c.openai.api_key = v; return ok(); }},
      {"anthropic.base_url", false, [](Config& c, const std::string& v) { c.anthropic.base_url = v; return ok(); }},
      {"service.token", true, [](Config& c, const std::string& v) -> Status {
         if (v.empty()) return make_error(ErrorCode::kInvalidInput, "service.token is empty");
         c.service.token = v;
         return ok();
       }},
      {"service.max_upload_bytes", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.max_upload_bytes, "service.max_upload_bytes");
       }},
      {"service.idle_timeout_ms", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.idle_timeout_ms, "service.idle_timeout_ms");
       }},
      {"service.poll_initial_s", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.poll_initial_s, "service.poll_initial_s");
       }},
      {"service.poll_max_s", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.poll_max_s, "service.poll_max_s");
       }},
      {"service.alert_batch_open_hours", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.alert_batch_open_hours, "service.alert_batch_open_hours");
       }},
      {"service.alert_neo4j_down_minutes", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.alert_neo4j_down_minutes, "service.alert_neo4j_down_minutes");
       }},
      {"service.inbox_settle_s", false, [](Config& c, const std::string& v) {
         return parse_positive(v, c.service.inbox_settle_s, "service.inbox_settle_s");
       }},
      {"service.alert_failed_rows", false, [](Config& c, const std::string& v) -> Status {
         auto d = parse_usd(v, "service.alert_failed_rows");
         if (!d) return d.error();
         if (*d > 1) return make_error(ErrorCode::kInvalidInput, "service.alert_failed_rows is a share in 0..1: " + v);
         c.service.alert_failed_rows = *d;
         return ok();
       }},
      {"service.alert_webhook", false, [](Config& c, const std::string& v) { c.service.alert_webhook = v; return ok(); }},
      {"anthropic.api_key", true, [](Config& c, const std::string& v) { c.anthropic.api_key = v; return ok(); }},
      {"local.base_url", false, [](Config& c, const std::string& v) { c.local.base_url = v; return ok(); }},
      // ---- issue 20 (quality gates)
      {"on_failure", false, [](Config& c, const std::string& v) -> Status {
         auto p = run::parse_failure_policy(v);
         if (!p) return make_error(ErrorCode::kInvalidInput, "on_failure must be continue or halt: " + v);
         c.on_failure = *p;
         return ok();
       }},
      {"canary.fraction", false, [](Config& c, const std::string& v) -> Status {
         auto d = parse_share(v, "canary.fraction");
         if (!d) return d.error();
         c.canary.fraction = *d;
         return ok();
       }},
      {"canary.min_documents", false, [](Config& c, const std::string& v) -> Status {
         std::int64_t n = 0;
         if (auto s = parse_positive(v, n, "canary.min_documents"); !s) return s;
         c.canary.min_documents = static_cast<int>(std::min<std::int64_t>(n, 1 << 30));
         return ok();
       }},
      {"canary.min_schema_valid", false, [](Config& c, const std::string& v) -> Status {
         auto d = parse_share(v, "canary.min_schema_valid");
         if (!d) return d.error();
         c.canary.min_schema_valid = *d;
         return ok();
       }},
      {"canary.min_grounded", false, [](Config& c, const std::string& v) -> Status {
         auto d = parse_share(v, "canary.min_grounded");
         if (!d) return d.error();
         c.canary.min_grounded = *d;
         return ok();
       }},
      {"canary.max_leak_alarms", false, [](Config& c, const std::string& v) -> Status {
         if (v == "0") {
           c.canary.max_leak_alarms = 0;
           return ok();
         }
         std::int64_t n = 0;
         if (auto s = parse_positive(v, n, "canary.max_leak_alarms"); !s) return s;
         c.canary.max_leak_alarms = static_cast<int>(std::min<std::int64_t>(n, 1 << 30));
         return ok();
       }},
  };
  return kSetters;
}

const Setter* find_setter(const std::string& key) {
  for (const auto& s : setters()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

// Environment variable -> config key.
const std::vector<std::pair<std::string, std::string>>& env_keys() {
  static const std::vector<std::pair<std::string, std::string>> kEnv = {
      {"FGRAPH_LANE", "lane"},
      {"FGRAPH_MODEL", "model"},
      {"FGRAPH_EXTRACT", "extract"},
      {"FGRAPH_BUDGET_USD", "budget_usd"},
      {"FGRAPH_BUDGET_DAILY_USD", "budget.daily_usd"},
      {"FGRAPH_BUDGET_MONTHLY_USD", "budget.monthly_usd"},
      {"FGRAPH_TAGS", "tags"},
      {"FGRAPH_CONCURRENCY", "concurrency"},
      {"FGRAPH_PRICES_FILE", "prices_file"},
      {"FGRAPH_NEO4J_URL", "neo4j.url"},
      {"FGRAPH_NEO4J_USER", "neo4j.user"},
      {"FGRAPH_NEO4J_DATABASE", "neo4j.database"},
      {"FGRAPH_NEO4J_CONCURRENCY", "neo4j.concurrency"},
      {"FGRAPH_NEO4J_PASSWORD", "neo4j.password"},
      {"FGRAPH_SERVICE_TOKEN", "service.token"},
      {"OPENAI_BASE_URL", "openai.base_url"},
      {"OPENAI_API_KEY", "openai.api_key"},
      {"ANTHROPIC_BASE_URL", "anthropic.base_url"},
      {"ANTHROPIC_API_KEY", "anthropic.api_key"},
      {"FGRAPH_LOCAL_URL", "local.base_url"},
      {"FGRAPH_ON_FAILURE", "on_failure"},
      {"FGRAPH_CANARY", "canary.fraction"},
  };
  return kEnv;
}

Status apply(Config& c, const std::string& key, const std::string& value,
             const std::string& origin) {
  if (key.starts_with("tags.") && key.size() > 5) {  // [tags] of a config file: one tag each
    c.tags[key.substr(5)] = value;
    c.origins.emplace_back("tags", origin);
    return ok();
  }
  const Setter* s = find_setter(key);
  if (s == nullptr) return make_error(ErrorCode::kInvalidInput, origin + ": unknown key " + key);
  if (auto st = s->set(c, value); !st) return st;
  c.origins.emplace_back(key, origin);
  return ok();
}

}  // namespace

GetEnv process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<Config> load_config(const std::string& home, const GetEnv& getenv) {
  Config c;
  c.home = home;
  for (const char* name : {"config.toml", "config.json"}) {
    std::string path = (fs::path(home) / name).string();
    if (!fs::exists(path)) continue;
    auto text = read_file(path, 1 << 20);
    if (!text) return text.error();
    bool is_toml = std::string(name).ends_with(".toml");
    auto flat = is_toml ? flatten_toml(*text, path) : flatten_json(*text, path);
    if (!flat) return flat.error();
    bool private_file = mode_is_private(path);
    for (const auto& [key, value] : *flat) {
      std::string k = key;
      if (k.ends_with("_file") && find_setter(k) == nullptr) {  // e.g. openai.api_key_file
        std::string target = k.substr(0, k.size() - 5);
        const Setter* s = find_setter(target);
        if (s == nullptr || !s->secret) {
          return make_error(ErrorCode::kInvalidInput, path + ": unknown key " + k);
        }
        auto secret = read_secret_file(value, target);
        if (!secret) return secret.error();
        if (auto st = apply(c, target, *secret, "file " + value); !st) return st.error();
        continue;
      }
      const Setter* s = find_setter(k);
      if (s != nullptr && s->secret && !private_file) {
        return make_error(ErrorCode::kInvalidInput,
                          path + " holds the secret " + k +
                              " but is readable by others: move it to the environment or "
                              "chmod 600 " + path);
      }
      if (auto st = apply(c, k, value, "file " + path); !st) return st.error();
    }
    c.config_file = path;
    break;
  }
  for (const auto& [var, key] : env_keys()) {
    if (auto v = getenv(var)) {
      if (auto st = apply(c, key, *v, "env " + var); !st) return st.error();
    }
    if (find_setter(key)->secret) {
      if (auto file = getenv(var + "_FILE")) {
        auto secret = read_secret_file(*file, var);
        if (!secret) return secret.error();
        if (auto st = apply(c, key, *secret, "env " + var + "_FILE"); !st) return st.error();
      }
    }
  }
  return c;
}

std::string default_model_for_lane(const std::string& lane) {
  if (lane == "anthropic-batch" || lane == "anthropic-sync") return "claude-haiku-4-5";
  if (lane == "openai-batch" || lane == "openai-sync") return "gpt-4.1-mini";
  return "smollm2-135m-instruct";
}

std::string mask_secret(const std::string& secret) {
  // Not even a suffix: the last characters of a key narrow a search and tie logs together.
  return secret.empty() ? "(unset)" : "****";
}

Result<std::optional<double>> parse_optional_usd(const std::string& text, const std::string& what) {
  if (text.empty()) return std::optional<double>();
  auto d = parse_usd(text, what);
  if (!d) return d.error();
  return std::optional<double>(*d);
}

Result<double> parse_usd(const std::string& text, const std::string& what) {
  const std::string shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
  auto bad = [&](const std::string& why) -> Result<double> {
    return make_error(ErrorCode::kInvalidInput,
                      what + " must be a finite number of dollars >= 0, not \"" + shown + "\"" +
                          (why.empty() ? "" : " (" + why + ")"));
  };
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || end == text.c_str()) return bad("");
  if (std::isnan(d)) return bad("NaN would turn the check off");
  if (std::isinf(d) || errno == ERANGE) return bad("out of range");
  if (d < 0 || std::signbit(d)) return bad("negative");
  return d;
}

Result<double> parse_share(const std::string& text, const std::string& what) {
  if (text == "off") return 0.0;
  const bool percent = !text.empty() && text.back() == '%';
  auto d = parse_usd(percent ? text.substr(0, text.size() - 1) : text, what);
  const double share = d ? (percent ? *d / 100 : *d) : -1;
  if (!d || share > 1) {
    return make_error(ErrorCode::kInvalidInput,
                      what + " must be a share: \"2%\", 0.02 or off, not \"" + text.substr(0, 40) + "\"");
  }
  return share;
}

std::vector<std::pair<std::string, std::string>> describe_config(const Config& c) {
  auto origin = [&](const std::string& key) {
    std::string o = "default";
    for (const auto& [k, v] : c.origins) {
      if (k == key) o = v;  // the last writer wins
    }
    return o;
  };
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& key, const std::string& value) {
    out.emplace_back(key, value + "  (" + origin(key) + ")");
  };
  out.emplace_back("home", c.home);
  out.emplace_back("config_file", c.config_file.empty() ? "(none)" : c.config_file);
  add("lane", c.lane);
  add("model", c.model.empty() ? default_model_for_lane(c.lane) : c.model);
  add("extract", c.extract);
  add("budget_usd", c.budget_usd ? std::to_string(*c.budget_usd) : "(none)");
  add("concurrency", std::to_string(c.concurrency));
  add("budget.daily_usd", c.daily_cap_usd ? std::to_string(*c.daily_cap_usd) : "(none)");
  add("budget.monthly_usd", c.monthly_cap_usd ? std::to_string(*c.monthly_cap_usd) : "(none)");
  std::string tags;
  for (const auto& [k, v] : c.tags) tags += (tags.empty() ? "" : ",") + k + "=" + v;
  add("tags", tags.empty() ? "(none)" : tags);
  add("on_failure", std::string(run::to_string(c.on_failure)));
  add("canary.fraction", c.canary.fraction > 0 ? std::to_string(c.canary.fraction) : "off");
  add("prices_file", c.prices_file.empty() ? "(none)" : c.prices_file);
  add("neo4j.url", redact_urls(c.neo4j.url));
  add("neo4j.user", c.neo4j.user);
  add("neo4j.database", c.neo4j.database);
  add("neo4j.concurrency", std::to_string(c.neo4j.concurrency));
  add("neo4j.password", mask_secret(c.neo4j.password));
  add("openai.base_url", redact_urls(c.openai.base_url));
  add("openai.api_key", mask_secret(c.openai.api_key));
  add("anthropic.base_url", redact_urls(c.anthropic.base_url));
  add("anthropic.api_key", mask_secret(c.anthropic.api_key));
  add("local.base_url", redact_urls(c.local.base_url));
  add("service.token", mask_secret(c.service.token));
  add("service.max_upload_bytes", std::to_string(c.service.max_upload_bytes));
  add("service.idle_timeout_ms", std::to_string(c.service.idle_timeout_ms));
  add("service.poll_initial_s", std::to_string(c.service.poll_initial_s));
  add("service.poll_max_s", std::to_string(c.service.poll_max_s));
  add("service.alert_batch_open_hours", std::to_string(c.service.alert_batch_open_hours));
  add("service.alert_failed_rows", std::to_string(c.service.alert_failed_rows));
  add("service.alert_neo4j_down_minutes", std::to_string(c.service.alert_neo4j_down_minutes));
  add("service.alert_webhook", redact_urls(c.service.alert_webhook));
  add("service.inbox_settle_s", std::to_string(c.service.inbox_settle_s));
  return out;
}

run::Settings run_settings(const Config& c) {
  run::Settings s;
  s.home = c.home;
  s.lane = c.lane;
  s.model = c.model;
  for (const char* lane : {"openai-batch", "anthropic-batch", "openai-sync", "local", "anthropic-sync"}) {
    s.lane_models[lane] = default_model_for_lane(lane);
  }
  s.budget_usd = c.budget_usd;
  s.daily_cap_usd = c.daily_cap_usd;
  s.monthly_cap_usd = c.monthly_cap_usd;
  s.tags = c.tags;
  s.prices = c.prices;
  s.concurrency = c.concurrency;
  s.extract = extract::parse_extract_mode(c.extract).value_or(extract::ExtractMode::kRulesAndModel);
  s.providers.openai_base_url = c.openai.base_url;
  s.providers.openai_api_key = c.openai.api_key;
  s.providers.anthropic_base_url = c.anthropic.base_url;
  s.providers.anthropic_api_key = c.anthropic.api_key;
  s.providers.local_base_url = c.local.base_url;
  s.neo4j.url = c.neo4j.url;
  s.neo4j.user = c.neo4j.user;
  s.neo4j.password = c.neo4j.password;
  s.neo4j.database = c.neo4j.database;
  s.neo4j_concurrency = c.neo4j.concurrency;
  s.on_failure = c.on_failure;
  s.canary = c.canary;
  return s;
}

}  // namespace fgraph::cli
