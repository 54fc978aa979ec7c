#include "tools/config.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

namespace fgraph::cli {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("fgraph_cfg_" + random_hex(4));
    fs::create_directories(home_);
  }
  void TearDown() override { fs::remove_all(home_); }
  GetEnv env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  void write(const std::string& name, const std::string& text, mode_t mode) {
    auto p = home_ / name;
    ASSERT_TRUE(write_file_atomic(p.string(), text).has_value());
    ::chmod(p.c_str(), mode);
  }
  fs::path home_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsWithoutFileOrEnvironment) {
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value()) << c.error().describe();
  EXPECT_EQ(c->lane, "local");
  EXPECT_EQ(c->neo4j.url, "http://127.0.0.1:7474");
  EXPECT_FALSE(c->budget_usd.has_value());
}

TEST_F(ConfigTest, EnvironmentOverridesTomlFile) {
  write("config.toml", "lane = \"openai-batch\"\nbudget_usd = 12.5\n[neo4j]\nurl = \"http://db:7474\"\n",
        0644);
  env_["FGRAPH_NEO4J_URL"] = "http://other:7474";
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value()) << c.error().describe();
  EXPECT_EQ(c->lane, "openai-batch");
  EXPECT_DOUBLE_EQ(*c->budget_usd, 12.5);
  EXPECT_EQ(c->neo4j.url, "http://other:7474");
}

TEST_F(ConfigTest, ReadsJsonFile) {
  write("config.json", R"({"lane": "anthropic-batch", "anthropic": {"base_url": "http://x"}})", 0644);
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value()) << c.error().describe();
  EXPECT_EQ(c->lane, "anthropic-batch");
  EXPECT_EQ(c->anthropic.base_url, "http://x");
}

TEST_F(ConfigTest, RefusesSecretInReadableFile) {
  write("config.toml", "[openai]\napi_key = \"sk-very-secret-value\"\n", 0644);
  auto c = load_config(home_.string(), env());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(c.error().message.find("sk-very-secret-value"), std::string::npos);
}

TEST_F(ConfigTest, AcceptsSecretFileOnlyWithMode0600) {
  write("neo4j.pw", "s3cret-password\n", 0644);
  env_["FGRAPH_NEO4J_PASSWORD_FILE"] = (home_ / "neo4j.pw").string();
  auto bad = load_config(home_.string(), env());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("0600"), std::string::npos);
  ::chmod((home_ / "neo4j.pw").c_str(), 0600);
  auto good = load_config(home_.string(), env());
  ASSERT_TRUE(good.has_value()) << good.error().describe();
  EXPECT_EQ(good->neo4j.password, "s3cret-password");
}

TEST_F(ConfigTest, RejectsUnknownKeysAndLanes) {
  write("config.toml", "colour = \"blue\"\n", 0644);
  EXPECT_FALSE(load_config(home_.string(), env()).has_value());
  fs::remove(home_ / "config.toml");
  env_["FGRAPH_LANE"] = "carrier-pigeon";
  auto c = load_config(home_.string(), env());
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("carrier-pigeon"), std::string::npos);
}

TEST_F(ConfigTest, StagingConcurrencyFromFileAndEnvironmentIsAWholeNumberIn1To64) {
  auto d = load_config(home_.string(), env());
  ASSERT_TRUE(d.has_value()) << d.error().describe();
  EXPECT_EQ(d->neo4j.concurrency, 4);
  write("config.toml", "[neo4j]\nconcurrency = 3\n", 0644);
  auto f = load_config(home_.string(), env());
  ASSERT_TRUE(f.has_value()) << f.error().describe();
  EXPECT_EQ(f->neo4j.concurrency, 3);
  env_["FGRAPH_NEO4J_CONCURRENCY"] = "8";
  auto e = load_config(home_.string(), env());
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  EXPECT_EQ(e->neo4j.concurrency, 8);
  for (const char* bad : {"0", "65", "4x", ""}) {
    env_["FGRAPH_NEO4J_CONCURRENCY"] = bad;
    auto c = load_config(home_.string(), env());
    ASSERT_FALSE(c.has_value()) << bad;
    EXPECT_NE(c.error().message.find("neo4j.concurrency"), std::string::npos) << c.error().message;
  }
}

TEST_F(ConfigTest, DescribeMasksWholeSecretsAndUrlCredentials) {
  env_["OPENAI_API_KEY"] = "sk-proj-abcdefghijklmnop1234";
  env_["ANTHROPIC_API_KEY"] = "short";
  env_["FGRAPH_NEO4J_URL"] = "https://neo4j:hunter2-pw@db.example.com:7473";
  env_["OPENAI_BASE_URL"] = "https://user:tok3n@proxy.example.com/v1";
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->neo4j.url, "https://neo4j:hunter2-pw@db.example.com:7473");  // used as given
  std::string all;
  for (const auto& [k, v] : describe_config(*c)) all += k + "=" + v + "\n";
  for (const char* secret : {"abcdefghijklmnop", "1234", "short", "hunter2-pw", "tok3n", "neo4j:"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " in\n" << all;
  }
  EXPECT_NE(all.find("openai.api_key=****  (env OPENAI_API_KEY)"), std::string::npos) << all;
  EXPECT_NE(all.find("neo4j.url=https://****@db.example.com:7473"), std::string::npos) << all;
  EXPECT_NE(all.find("openai.base_url=https://****@proxy.example.com/v1"), std::string::npos) << all;
  EXPECT_EQ(mask_secret(""), "(unset)");
  EXPECT_EQ(mask_secret("x"), "****");
}

TEST_F(ConfigTest, BudgetRefusesNanInfinitiesAndNegativesFromEverySource) {
  for (const char* bad : {"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1", "-0",
                          "0.5x", "", " "}) {
    env_["FGRAPH_BUDGET_USD"] = bad;
    auto c = load_config(home_.string(), env());
    ASSERT_FALSE(c.has_value()) << "accepted FGRAPH_BUDGET_USD=" << bad;
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(c.error().message.find("budget_usd must be a finite number"), std::string::npos)
        << c.error().message;
    auto flag = parse_usd(bad, "--budget-usd");
    ASSERT_FALSE(flag.has_value()) << "accepted --budget-usd " << bad;
    EXPECT_NE(flag.error().message.find("--budget-usd"), std::string::npos);
  }
  env_.erase("FGRAPH_BUDGET_USD");
  for (const char* toml : {"budget_usd = nan\n", "budget_usd = inf\n", "budget_usd = -inf\n",
                           "budget_usd = -2.5\n"}) {
    write("config.toml", toml, 0644);
    auto c = load_config(home_.string(), env());
    ASSERT_FALSE(c.has_value()) << "accepted " << toml;
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidInput);
  }
  fs::remove(home_ / "config.toml");
  write("config.json", R"({"budget_usd": 1e999})", 0644);  // parses as infinity
  EXPECT_FALSE(load_config(home_.string(), env()).has_value());
  fs::remove(home_ / "config.json");
  for (const char* good : {"0", "0.0001", "12.5", "1e3"}) {
    env_["FGRAPH_BUDGET_USD"] = good;
    auto c = load_config(home_.string(), env());
    ASSERT_TRUE(c.has_value()) << good << ": " << c.error().describe();
    EXPECT_DOUBLE_EQ(*c->budget_usd, std::stod(good));
  }
}

TEST_F(ConfigTest, APricesFileAddsAndReplacesPrices) {
  auto bundled = extract::PriceTable::bundled();
  ASSERT_FALSE(bundled.find("openai", "gpt-5.4-mini"));
  write("prices.json", R"({"models": {"openai": {
      "gpt-5.4-mini": {"sync": {"input": 0.3, "output": 2.4}, "batch": {"input": 0.15, "output": 1.2}},
      "gpt-4.1-mini": {"sync": {"input": 9, "output": 9}, "batch": {"input": 9, "output": 9}}}}})",
        0644);
  env_["FGRAPH_PRICES_FILE"] = (home_ / "prices.json").string();
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value()) << c.error().describe();
  auto added = c->prices.find("openai", "gpt-5.4-mini");
  ASSERT_TRUE(added);
  EXPECT_DOUBLE_EQ(added->batch.output_per_mtok, 1.2);
  EXPECT_DOUBLE_EQ(c->prices.find("openai", "gpt-4.1-mini")->sync.input_per_mtok, 9);
  EXPECT_TRUE(c->prices.find("anthropic", "claude-haiku-4-5"));  // the rest stays
  EXPECT_EQ(c->prices_file, (home_ / "prices.json").string());

  // The config file key works the same; a broken or missing file is a configuration error.
  env_.erase("FGRAPH_PRICES_FILE");
  write("config.toml", "prices_file = \"" + (home_ / "prices.json").string() + "\"\n", 0644);
  auto f = load_config(home_.string(), env());
  ASSERT_TRUE(f.has_value()) << f.error().describe();
  EXPECT_TRUE(f->prices.find("openai", "gpt-5.4-mini"));
  write("bad.json", R"({"models": {"openai": {"x": {"sync": {"input": -1, "output": 1}}}}})", 0644);
  env_["FGRAPH_PRICES_FILE"] = (home_ / "bad.json").string();
  auto bad = load_config(home_.string(), env());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  env_["FGRAPH_PRICES_FILE"] = (home_ / "missing.json").string();
  EXPECT_FALSE(load_config(home_.string(), env()).has_value());
}

// ---------------------------------------------------------------- money (issue 20)

TEST_F(ConfigTest, SpendCapsAndDefaultTagsFromFileAndEnvironment) {
  write("config.toml",
        "[budget]\ndaily_usd = 5\nmonthly_usd = 120.5\n[tags]\nproject = \"filings\"\nowner = \"ana\"\n", 0644);
  env_["FGRAPH_TAGS"] = "owner=bo,cycle=2026Q4";
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value()) << c.error().describe();
  EXPECT_DOUBLE_EQ(*c->daily_cap_usd, 5);
  EXPECT_DOUBLE_EQ(*c->monthly_cap_usd, 120.5);
  EXPECT_EQ(c->tags, (std::map<std::string, std::string>{{"project", "filings"}, {"owner", "bo"}, {"cycle", "2026Q4"}}));
  auto s = run_settings(*c);
  EXPECT_DOUBLE_EQ(*s.daily_cap_usd, 5);
  EXPECT_EQ(s.tags.at("owner"), "bo");
  for (const auto& bad : {std::pair{"FGRAPH_BUDGET_DAILY_USD", "nan"}, std::pair{"FGRAPH_BUDGET_MONTHLY_USD", "-3"},
                          std::pair{"FGRAPH_TAGS", "project"}, std::pair{"FGRAPH_TAGS", "=x"}}) {
    env_ = {{bad.first, bad.second}};
    auto refused = load_config(home_.string(), env());
    ASSERT_FALSE(refused.has_value()) << bad.first << "=" << bad.second;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidInput);
  }
}

}  // namespace
}  // namespace fgraph::cli
