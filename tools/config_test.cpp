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

TEST_F(ConfigTest, DescribeMasksSecrets) {
  env_["OPENAI_API_KEY"] = "sk-proj-abcdefghijklmnop1234";
  auto c = load_config(home_.string(), env());
  ASSERT_TRUE(c.has_value());
  std::string all;
  for (const auto& [k, v] : describe_config(*c)) all += k + "=" + v + "\n";
  EXPECT_EQ(all.find("abcdefghijklmnop"), std::string::npos);
  EXPECT_NE(all.find("****1234"), std::string::npos);
  EXPECT_NE(all.find("env OPENAI_API_KEY"), std::string::npos);
}

}  // namespace
}  // namespace fgraph::cli
