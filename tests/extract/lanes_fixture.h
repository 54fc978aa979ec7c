// The extract lanes' test fixture: the provider emulator (tests/emulator/emulator.py), a
// real SQLite ledger, the real curl transport and a manual clock (polls take no time).
// Shared by lanes_test.cpp (the lanes) and money_test.cpp (budgets, caps, prices).
#pragma once

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "registry/registry.h"
#include "tests/support/emulator_process.h"

namespace fgraph::extract::testing_lanes {

using nlohmann::json;
using testing::EmulatorProcess;
namespace fs = std::filesystem;

const char* const kNames[] = {"Alpha", "Bravo", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor",
                              "Indigo", "Juniper", "Keystone", "Lumen", "Meridian", "Northwind", "Orchard",
                              "Pinnacle", "Quarry", "Redwood", "Summit", "Tidewater"};

inline std::string name_of(int i) {
  return std::string(kNames[i % 20]) + " " + kNames[(i / 20 + 7) % 20];
}

// A small filing-like document whose companies and officer the emulator's extractor finds.
inline ingest::Document make_doc(int i) {
  ingest::Document d;
  d.text = "ANNUAL REPORT " + std::to_string(1000 + i) + "\n\n" + name_of(i) + " Holdings Inc. acquired " +
           name_of(i + 3) + " Corp. during the year.\n\nJane " + kNames[i % 20] + ", Chief Financial Officer of " +
           name_of(i) + " Holdings Inc., signed this report.\n";
  d.doc_id = ingest::make_doc_id(d.text);
  d.source = "doc" + std::to_string(i) + ".txt";
  d.form_type = "10-K";
  return d;
}

inline std::vector<ingest::Document> make_docs(int n, int first = 0) {
  std::vector<ingest::Document> out;
  for (int i = first; i < first + n; ++i) out.push_back(make_doc(i));
  return out;
}

// A transport that loses the response of selected requests (the request reaches the
// server, the caller sees a network error): the shape of a crash right after a POST.
class LosingTransport final : public HttpTransport {
 public:
  explicit LosingTransport(HttpTransport& inner) : inner_(inner) {}
  void lose(std::string method, std::string path_contains, int count, bool send_first) {
    method_ = std::move(method);
    path_ = std::move(path_contains);
    count_ = count;
    send_first_ = send_first;
  }
  Result<HttpResponse> send(const HttpRequest& request) override {
    if (count_ > 0 && request.method == method_ && request.url.find(path_) != std::string::npos) {
      --count_;
      if (send_first_) (void)inner_.send(request);
      return make_error(ErrorCode::kUnavailable, "connection lost (injected)");
    }
    return inner_.send(request);
  }

 private:
  HttpTransport& inner_;
  std::string method_, path_;
  int count_ = 0;
  bool send_first_ = true;
};

class ExtractLanesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { emu_ = new EmulatorProcess(); }
  static void TearDownTestSuite() {
    delete emu_;
    emu_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(emu_->reset(), 200);
    auto s = registry::Store::open({":memory:"});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    store_ = std::move(*s);
    work_dir_ = fs::temp_directory_path() / ("fgraph-extract-test-" + random_hex(6));
    fs::create_directories(work_dir_);
    transport_ = make_curl_transport();
    losing_ = std::make_unique<LosingTransport>(*transport_);
  }
  void TearDown() override {
    std::error_code ec;
    if (std::getenv("FGRAPH_KEEP_TEST_DIR") == nullptr) fs::remove_all(work_dir_, ec);
  }

  ExtractorOptions options(LaneKind lane) {
    ExtractorOptions o;
    o.lane = lane;
    o.plan.model = lane == LaneKind::kAnthropicBatch ? "claude-haiku-4-5" : "gpt-4.1-mini";
    o.plan.max_output_tokens = 4096;
    o.providers.openai_base_url = emu_->openai_base_url();
    o.providers.openai_api_key = "sk-test";
    o.providers.anthropic_base_url = emu_->anthropic_base_url();
    o.providers.anthropic_api_key = "ak-test";
    o.providers.local_base_url = emu_->openai_base_url();
    o.providers.local_api_key = "local-test";
    o.work_dir = work_dir_.string();
    o.poll_initial = std::chrono::milliseconds(1000);
    o.poll_max = std::chrono::milliseconds(8000);
    o.max_wait = std::chrono::hours(1);
    o.http_retry.jitter = 0;
    return o;
  }

  json stats() { return json::parse(emu_->stats()); }

  Result<Reconciliation> run(const ExtractorOptions& o, const std::string& run_id,
                             const std::vector<ingest::Document>& docs) {
    Extractor ex(*store_, *losing_, clock_, o);
    return ex.run(run_id, docs);
  }

  // The accounting identity of a finished run.
  static void expect_accounted(const Reconciliation& r) {
    EXPECT_TRUE(r.balanced());
    EXPECT_EQ(r.in_flight, 0);
    EXPECT_EQ(r.submitted, r.completed + r.dead_lettered);
    EXPECT_TRUE(r.retries_balanced()) << "failed " << r.failed_attempts << " resubmitted " << r.resubmitted
                                      << " dead " << r.dead_lettered;
  }

  // Every completed request's stored output quotes only its own document.
  void expect_results_from_own_documents(const std::string& run_id, const std::vector<ingest::Document>& docs) {
    std::map<std::string, const ingest::Document*> by_id;
    for (const auto& d : docs) by_id[d.doc_id] = &d;
    auto reqs = run_requests(*store_, run_id);
    ASSERT_TRUE(reqs.has_value());
    for (const RunRequest& r : *reqs) {
      if (r.state != "completed") continue;
      auto content = stored_result(*store_, r.custom_id);
      ASSERT_TRUE(content.has_value()) << content.error().describe();
      json out = json::parse(*content);
      ASSERT_FALSE(out["entities"].empty()) << r.doc_id;
      for (const json& e : out["entities"]) {
        EXPECT_NE(by_id.at(r.doc_id)->text.find(e["evidence"].get<std::string>()), std::string::npos)
            << "evidence of " << r.custom_id << " is not in its own document";
      }
    }
  }

  std::int64_t count(const std::string& sql) {
    auto rows = store_->query(sql);
    EXPECT_TRUE(rows.has_value());
    return std::get<std::int64_t>((*rows)[0][0]);
  }

  inline static EmulatorProcess* emu_ = nullptr;
  std::unique_ptr<registry::Store> store_;
  fs::path work_dir_;
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<LosingTransport> losing_;
  ManualClock clock_;
};

}  // namespace fgraph::extract::testing_lanes
