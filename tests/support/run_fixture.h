// tests/support: a run stage fixture for in-process tests: a home in a temporary folder,
// a Store, the provider emulator (one per suite) for the OpenAI lanes, the real Neo4j of
// the `neo4j` fixture, and a FaultTransport in front of the real transport.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run/run.h"
#include "tests/support/emulator_process.h"
#include "tests/support/fault_transport.h"
#include "tests/support/neo4j_test_env.h"

namespace fgraph::testing {

namespace fs = std::filesystem;

// Documents whose companies and officer the emulator's extractor finds, each under a
// name no other test uses (the shared Neo4j keeps other tests' data).
inline void write_drop(const fs::path& dir, const std::string& tag, int n) {
  fs::create_directories(dir);
  for (int i = 0; i < n; ++i) {
    const std::string who = "Zephyr" + tag + std::to_string(i);
    std::ofstream(dir / ("doc" + std::to_string(i) + ".txt"))
        << "ANNUAL REPORT " << tag << i << "\n\n" << who << " Holdings Inc. acquired " << who
        << " Marine Corp. during the year.\n\nJane Quill" << i << ", Chief Financial Officer of "
        << who << " Holdings Inc., signed this report.\n";
  }
}

class RunFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { emu_ = new EmulatorProcess(); }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(emu_->reset(), 200);
    tag_ = random_hex(4);
    root_ = fs::temp_directory_path() / ("fgraph-run-test-" + tag_);
    home_ = root_ / "home";  // the home is never ingested: drops live beside it
    fs::create_directories(home_);
    auto s = registry::Store::open({(home_ / "fgraph.db").string()});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    store_ = std::move(*s);
    transport_ = make_curl_transport();
    faults_ = std::make_unique<FaultTransport>(*transport_);
    const auto env = neo4j_test_env();
    settings_.home = home_.string();
    settings_.lane = "openai-sync";
    settings_.model = "gpt-4.1-mini";
    settings_.providers.openai_base_url = emu_->openai_base_url();
    settings_.providers.openai_api_key = "sk-test";
    settings_.neo4j.url = env.url;
    settings_.neo4j.user = env.user;
    settings_.neo4j.password = env.password;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  run::Coordinator coordinator() { return run::Coordinator(settings_, *store_, *faults_, clock_, progress_); }

  // How many relationships of `run_id` Neo4j holds.
  std::int64_t graph_facts(const std::string& run_id) {
    run::Coordinator c = coordinator();
    auto rows = c.query("MATCH ()-[f]->() WHERE f.run_id = '" + run_id + "' AND f.fact_id IS NOT NULL"
                        " RETURN count(f)");
    EXPECT_TRUE(rows.has_value()) << rows.error().describe();
    return rows && rows->size() == 1 ? std::stoll((*rows)[0][0]) : -1;
  }

  static std::int64_t answered() {
    std::int64_t n = 0;
    for (const auto& [id, count] : nlohmann::json::parse(emu_->stats())["answered"].items()) n += count.get<std::int64_t>();
    return n;
  }

  static inline EmulatorProcess* emu_ = nullptr;
  std::string tag_;
  fs::path root_, home_;
  std::unique_ptr<registry::Store> store_;
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<FaultTransport> faults_;
  SystemClock clock_;
  run::NoProgress progress_;
  run::Settings settings_;
};

}  // namespace fgraph::testing
