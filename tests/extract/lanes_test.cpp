// The extract lanes against the provider emulator (tests/emulator/emulator.py), with a
// real SQLite ledger, the real curl transport and a manual clock (polls take no time).
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "registry/registry.h"
#include "tests/support/emulator_process.h"

namespace fgraph::extract {
namespace {

using nlohmann::json;
using testing::EmulatorProcess;
namespace fs = std::filesystem;

const char* const kNames[] = {"Alpha", "Bravo", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor",
                              "Indigo", "Juniper", "Keystone", "Lumen", "Meridian", "Northwind", "Orchard",
                              "Pinnacle", "Quarry", "Redwood", "Summit", "Tidewater"};

std::string name_of(int i) {
  return std::string(kNames[i % 20]) + " " + kNames[(i / 20 + 7) % 20];
}

// A small filing-like document whose companies and officer the emulator's extractor finds.
ingest::Document make_doc(int i) {
  ingest::Document d;
  d.text = "ANNUAL REPORT " + std::to_string(1000 + i) + "\n\n" + name_of(i) + " Holdings Inc. acquired " +
           name_of(i + 3) + " Corp. during the year.\n\nJane " + kNames[i % 20] + ", Chief Financial Officer of " +
           name_of(i) + " Holdings Inc., signed this report.\n";
  d.doc_id = ingest::make_doc_id(d.text);
  d.source = "doc" + std::to_string(i) + ".txt";
  d.form_type = "10-K";
  return d;
}

std::vector<ingest::Document> make_docs(int n, int first = 0) {
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

  static EmulatorProcess* emu_;
  std::unique_ptr<registry::Store> store_;
  fs::path work_dir_;
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<LosingTransport> losing_;
  ManualClock clock_;
};

EmulatorProcess* ExtractLanesTest::emu_ = nullptr;

TEST_F(ExtractLanesTest, OpenAiBatchCompletesEveryRowAndASecondRunSubmitsNothing) {
  auto docs = make_docs(6);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-1", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->requests, 6);
  EXPECT_EQ(r->submitted, 6);
  EXPECT_EQ(r->completed, 6);
  EXPECT_EQ(r->attempts, 6);
  expect_accounted(*r);
  ASSERT_EQ(r->usage.size(), 1u);
  EXPECT_EQ(r->usage[0].lane, "openai-batch");
  EXPECT_GT(r->usage[0].input_tokens, 0);
  EXPECT_GT(r->cost_usd, 0);
  expect_results_from_own_documents("run-1", docs);
  json s = stats();
  EXPECT_EQ(s["batches_created"]["openai"], 1);
  EXPECT_EQ(s["answered_max"], 1);

  // Same drop, same model/prompt/schema: nothing is sent, nothing is paid.
  auto again = run(options(LaneKind::kOpenAiBatch), "run-2", docs);
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  EXPECT_EQ(again->requests, 6);
  EXPECT_EQ(again->reused, 6);
  EXPECT_EQ(again->submitted, 0);
  EXPECT_EQ(again->cost_usd, 0);
  json s2 = stats();
  EXPECT_EQ(s2["batches_created"]["openai"], 1);
  EXPECT_EQ(s2["files_uploaded"], s["files_uploaded"]);
}

TEST_F(ExtractLanesTest, MapsShuffledRowsByCustomIdAndIgnoresUnknownAndDuplicateRows) {
  ASSERT_EQ(emu_->configure(R"({"shuffle_output":true,"seed":7,"unknown_custom_id_row":true,"duplicate_row":true})"), 200);
  auto docs = make_docs(12);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-shuffle", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 12);
  EXPECT_EQ(r->attempts, 12);  // the duplicate and the unknown row are not attempts
  expect_accounted(*r);
  expect_results_from_own_documents("run-shuffle", docs);
  EXPECT_EQ(count("SELECT COUNT(*) FROM results"), 12);
}

TEST_F(ExtractLanesTest, RetriesOnlyFailedRowsAndEachFaultGetsItsOutcome) {
  // First time each selected row is processed it fails in its own way; the retry succeeds.
  auto docs = make_docs(10);
  auto sel = [&](int i) { return json{{"contains", docs[i].text.substr(0, 20)}, {"attempts", json::array({0})}}; };
  json cfg{{"error_rows", json::array({json{{"contains", docs[0].text.substr(0, 20)}, {"attempts", json::array({0})}, {"status_code", 500}},
                                       json{{"contains", docs[1].text.substr(0, 20)}, {"attempts", json::array({0})}, {"status_code", 429}}})},
           {"expire_rows", json::array({sel(2)})},
           {"truncated_rows", json::array({sel(3)})},
           {"refusal_rows", json::array({sel(4)})},
           {"non_json_rows", json::array({sel(5)})},
           {"invalid_schema_rows", json::array({sel(6)})}};
  ASSERT_EQ(emu_->configure(cfg.dump()), 200);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-faults", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 10);
  EXPECT_EQ(r->dead_lettered, 0);
  EXPECT_EQ(r->attempts, 17);
  EXPECT_EQ(r->resubmitted, 7);
  expect_accounted(*r);
  EXPECT_EQ(r->failed_by_outcome["transient"], 2);
  EXPECT_EQ(r->failed_by_outcome["expired"], 1);
  EXPECT_EQ(r->failed_by_outcome["truncated"], 1);
  EXPECT_EQ(r->failed_by_outcome["refused"], 1);
  EXPECT_EQ(r->failed_by_outcome["schema_invalid"], 2);
  // The second batch carried exactly the 7 failed rows: rows that completed the first time
  // were answered once.
  json s = stats();
  EXPECT_EQ(s["batches_created"]["openai"], 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM batch_rows WHERE attempt = 2"), 7);
  EXPECT_EQ(count("SELECT COUNT(*) FROM batch_rows b JOIN attempts a ON a.custom_id=b.custom_id "
                  "AND a.attempt=1 AND a.outcome='completed' WHERE b.attempt=2"),
            0);
  expect_results_from_own_documents("run-faults", docs);
}

TEST_F(ExtractLanesTest, PersistentFailureGoesBatchThreeTimesThenSyncThenDeadLetter) {
  auto docs = make_docs(4);
  json cfg{{"error_rows", json::array({json{{"contains", docs[2].text.substr(0, 20)}, {"status_code", 500}}})}};
  ASSERT_EQ(emu_->configure(cfg.dump()), 200);
  auto o = options(LaneKind::kOpenAiBatch);
  o.http_retry.max_attempts = 1;  // the sync strike answers 500 once, no in-call retry
  auto r = run(o, "run-dead", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 3);
  EXPECT_EQ(r->dead_lettered, 1);
  expect_accounted(*r);
  auto dead = dead_letters(*store_, "run-dead");
  ASSERT_TRUE(dead.has_value());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].doc_id, docs[2].doc_id);
  EXPECT_EQ((*dead)[0].attempts, 4);
  EXPECT_EQ((*dead)[0].outcome, "transient");
  auto lanes = store_->query("SELECT lane FROM attempts WHERE custom_id=? ORDER BY attempt", {(*dead)[0].custom_id});
  ASSERT_TRUE(lanes.has_value());
  std::vector<std::string> seq;
  for (auto& row : *lanes) seq.push_back(std::get<std::string>(row[0]));
  EXPECT_EQ(seq, (std::vector<std::string>{"openai-batch", "openai-batch", "openai-batch", "openai-sync"}));
  EXPECT_EQ(stats()["batches_created"]["openai"], 3);

  // A later run of the same drop does not resubmit the dead letter (nor anything else).
  auto again = run(o, "run-dead-2", docs);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->submitted, 0);
  EXPECT_EQ(stats()["batches_created"]["openai"], 3);
}

TEST_F(ExtractLanesTest, HonoursRetryAfterOn429WithoutWallTime) {
  ASSERT_EQ(emu_->configure(R"({"http_429":{"count":2,"retry_after":3,"paths":["/v1/files","/v1/batches"]}})"), 200);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-429", make_docs(3));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 3);
  const auto& sleeps = clock_.sleeps();
  EXPECT_EQ(std::count(sleeps.begin(), sleeps.end(), std::chrono::milliseconds(3000)), 2);
  EXPECT_EQ(stats()["faults_injected"]["429"], 2);
}

TEST_F(ExtractLanesTest, RetriesServerErrorsOnUploadAndCreate) {
  ASSERT_EQ(emu_->configure(R"({"http_500":{"count":2,"paths":["/v1/files","/v1/batches"],"methods":["POST"]}})"), 200);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-500", make_docs(2));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 2);
  EXPECT_EQ(stats()["faults_injected"]["500"], 2);
  EXPECT_EQ(stats()["batches_created"]["openai"], 1);
}

TEST_F(ExtractLanesTest, SlowValidatingAndFinalisingArePolledWithCappedBackoff) {
  ASSERT_EQ(emu_->configure(R"({"validating_polls":2,"polls_to_complete":2,"finalizing_polls":3})"), 200);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-slow", make_docs(2));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 2);
  using std::chrono::milliseconds;
  std::vector<milliseconds> expected = {milliseconds(1000), milliseconds(2000), milliseconds(4000),
                                        milliseconds(8000), milliseconds(8000), milliseconds(8000),
                                        milliseconds(8000), milliseconds(8000)};
  // One wait after creation, then one after each of the 7 polls before 'completed'
  // (2 validating, 2 in progress, 3 finalizing): doubling from poll_initial, capped.
  EXPECT_EQ(clock_.sleeps(), expected);
}

TEST_F(ExtractLanesTest, ConcatenatingProviderLeavesEvidenceOutsideItsOwnDocument) {
  // The provider that merged documents: row i is answered from row i+1's document. The
  // extract stage records each row under its own custom_id and document, which is what
  // the verify stage's leak check needs to flag it (evidence absent from its own
  // document, present in a sibling's).
  ASSERT_EQ(emu_->configure(R"({"mode":"concatenating"})"), 200);
  auto docs = make_docs(4);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-concat", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  auto reqs = run_requests(*store_, "run-concat");
  ASSERT_TRUE(reqs.has_value());
  int leaked = 0;
  for (const RunRequest& q : *reqs) {
    auto content = stored_result(*store_, q.custom_id);
    ASSERT_TRUE(content.has_value());
    const auto& own = std::find_if(docs.begin(), docs.end(), [&](auto& d) { return d.doc_id == q.doc_id; })->text;
    const json out = json::parse(*content);
    for (const json& e : out["entities"]) {
      const std::string ev = e["evidence"];
      if (own.find(ev) != std::string::npos) continue;
      bool in_sibling = false;
      for (const auto& d : docs) in_sibling = in_sibling || (d.doc_id != q.doc_id && d.text.find(ev) != std::string::npos);
      EXPECT_TRUE(in_sibling);
      ++leaked;

    }
  }
  EXPECT_GT(leaked, 0);
}

TEST_F(ExtractLanesTest, ResumesPollingAfterACrashWithoutSubmittingTwice) {
  auto docs = make_docs(5);
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete":3})"), 200);
  // The process "dies" while polling: the first poll never returns.
  losing_->lose("GET", "/v1/batches/batch", 1, false);
  auto o = options(LaneKind::kOpenAiBatch);
  o.http_retry.max_attempts = 1;
  auto first = run(o, "run-crash", docs);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(count("SELECT COUNT(*) FROM requests WHERE state='submitted'"), 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM remote_objects WHERE remote_id IS NOT NULL"), 1);

  // The next command (no documents in memory: texts come from nowhere, polling needs none).
  auto second = run(o, "run-crash", {});
  ASSERT_TRUE(second.has_value()) << second.error().describe();
  EXPECT_EQ(second->completed, 5);
  expect_accounted(*second);
  EXPECT_EQ(stats()["batches_created"]["openai"], 1);
  EXPECT_EQ(stats()["answered_max"], 1);
}

TEST_F(ExtractLanesTest, FindsABatchWhoseCreationWasNotConfirmedByItsMetadataKey) {
  auto docs = make_docs(4);
  // POST /v1/batches reaches the emulator, the answer is lost: the ledger says 'creating'.
  losing_->lose("POST", "/v1/batches", 1, true);
  auto o = options(LaneKind::kOpenAiBatch);
  o.http_retry.max_attempts = 1;
  auto first = run(o, "run-lost", docs);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM remote_objects WHERE state='creating'"), 1);
  EXPECT_EQ(stats()["batches_created"]["openai"], 1);

  auto second = run(o, "run-lost", docs);
  ASSERT_TRUE(second.has_value()) << second.error().describe();
  EXPECT_EQ(second->completed, 4);
  expect_accounted(*second);
  EXPECT_EQ(stats()["batches_created"]["openai"], 1);  // found by fgraph_key, not re-created
  EXPECT_EQ(stats()["answered_max"], 1);
}

TEST_F(ExtractLanesTest, BudgetGateRefusesBeforeAnythingIsSent) {
  auto o = options(LaneKind::kOpenAiBatch);
  o.budget_usd = 1e-9;
  auto r = run(o, "run-budget", make_docs(3));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(r.error().detail, "budget");
  EXPECT_EQ(stats()["files_uploaded"], 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM requests"), 0);

  // The dry-run plan shows the estimate and sends nothing.
  Extractor ex(*store_, *losing_, clock_, options(LaneKind::kOpenAiBatch));
  auto plan = ex.plan(make_docs(3));
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->requests_to_submit, 3);
  EXPECT_GT(plan->est_cost_usd, 1e-9);
  EXPECT_EQ(stats()["files_uploaded"], 0);
}

TEST_F(ExtractLanesTest, SplitsBatchFilesAtTheLineLimit) {
  auto o = options(LaneKind::kOpenAiBatch);
  o.max_lines_per_file = 3;
  auto r = run(o, "run-split", make_docs(7));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 7);
  EXPECT_EQ(stats()["batches_created"]["openai"], 3);
  EXPECT_EQ(count("SELECT MAX(rows) FROM remote_objects"), 3);
}

TEST_F(ExtractLanesTest, CancelledBatchRowsAreRetriedInANewBatch) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete":50})"), 200);
  auto o = options(LaneKind::kOpenAiBatch);
  o.max_wait = std::chrono::milliseconds(3000);  // give up polling quickly (manual time)
  auto docs = make_docs(3);
  auto first = run(o, "run-cancel", docs);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::kTransient);
  Extractor ex(*store_, *losing_, clock_, o);
  ASSERT_TRUE(ex.cancel_open_batches("run-cancel").has_value());
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete":1})"), 200);
  auto second = run(options(LaneKind::kOpenAiBatch), "run-cancel", docs);
  ASSERT_TRUE(second.has_value()) << second.error().describe();
  EXPECT_EQ(second->completed, 3);
  EXPECT_EQ(second->failed_by_outcome["transient"], 3);  // batch_cancelled rows
  expect_accounted(*second);
  EXPECT_EQ(stats()["batches_created"]["openai"], 2);
}

// Issue 16: two runs on one ledger. A lane resumed the open batches of every run, so a
// second process created, polled and collected another run's batch too (paying twice).
TEST_F(ExtractLanesTest, ALaneAdvancesOnlyItsOwnRunsBatches) {
  auto docs = make_docs(4);
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete":50})"), 200);
  auto slow = options(LaneKind::kOpenAiBatch);
  slow.max_wait = std::chrono::milliseconds(3000);  // gives up polling (manual time)
  auto a = run(slow, "run-a", {docs[0], docs[1]});
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, ErrorCode::kTransient);
  const std::string open_a =
      "SELECT COUNT(*) FROM remote_objects WHERE run_id='run-a' AND state NOT IN ('collected','abandoned')";
  ASSERT_EQ(count(open_a), 1);

  // Run B, other documents: finishes its own batch and leaves run A's alone.
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete":1})"), 200);
  auto b = run(options(LaneKind::kOpenAiBatch), "run-b", {docs[2], docs[3]});
  ASSERT_TRUE(b.has_value()) << b.error().describe();
  EXPECT_EQ(b->completed, 2);
  expect_accounted(*b);
  EXPECT_EQ(count(open_a), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE run_id='run-a' OR custom_id IN "
                  "(SELECT custom_id FROM run_requests WHERE run_id='run-a')"),
            0);

  // Run C shares a document with run A: it does not send that row again, and it does not
  // collect run A's batch either; it names the run to resume first.
  auto c = run(options(LaneKind::kOpenAiBatch), "run-c", {docs[1], docs[2]});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kTransient);
  EXPECT_EQ(c.error().detail, "held_by_other_run");
  EXPECT_NE(c.error().message.find("fgraph run --resume run-a"), std::string::npos) << c.error().message;
  EXPECT_EQ(count(open_a), 1);

  auto a2 = run(options(LaneKind::kOpenAiBatch), "run-a", {});
  ASSERT_TRUE(a2.has_value()) << a2.error().describe();
  EXPECT_EQ(a2->completed, 2);
  auto c2 = run(options(LaneKind::kOpenAiBatch), "run-c", {});
  ASSERT_TRUE(c2.has_value()) << c2.error().describe();
  EXPECT_EQ(c2->in_flight, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM run_requests m JOIN requests r ON r.custom_id = m.custom_id "
                  "WHERE m.run_id='run-c' AND r.state='completed'"),
            2);
  EXPECT_EQ(stats()["batches_created"]["openai"], 2);
  EXPECT_EQ(stats()["answered_max"], 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 4);
}

TEST_F(ExtractLanesTest, LongDocumentIsSentAsChunksEachAlone) {
  ingest::Document d = make_doc(1);
  for (int i = 2; i < 12; ++i) d.text += "\n\n" + make_doc(i).text;
  d.doc_id = ingest::make_doc_id(d.text);
  auto o = options(LaneKind::kOpenAiBatch);
  o.plan.max_document_tokens = 60;
  auto r = run(o, "run-chunks", {d});
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_GT(r->requests, 3);
  EXPECT_EQ(r->completed, r->requests);
  auto reqs = run_requests(*store_, "run-chunks");
  ASSERT_TRUE(reqs.has_value());
  for (const RunRequest& q : *reqs) {
    json out = json::parse(*stored_result(*store_, q.custom_id));
    for (const json& e : out["entities"]) {
      auto pos = d.text.find(e["evidence"].get<std::string>(), static_cast<std::size_t>(q.char_start));
      EXPECT_TRUE(pos != std::string::npos && static_cast<std::int64_t>(pos) < q.char_end)
          << "evidence outside its own chunk";
    }
  }
}

TEST_F(ExtractLanesTest, AnthropicBatchCompletesRetriesAndDeadLetters) {
  auto docs = make_docs(6);
  json cfg{{"error_rows", json::array({json{{"contains", docs[0].text.substr(0, 20)}, {"attempts", json::array({0})}, {"status_code", 500}},
                                       json{{"contains", docs[5].text.substr(0, 20)}, {"status_code", 529}}})},
           {"expire_rows", json::array({json{{"contains", docs[1].text.substr(0, 20)}, {"attempts", json::array({0})}}})},
           {"shuffle_output", true}};
  ASSERT_EQ(emu_->configure(cfg.dump()), 200);
  auto r = run(options(LaneKind::kAnthropicBatch), "run-anthropic", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 5);
  EXPECT_EQ(r->dead_lettered, 1);  // no sync fallback behind anthropic-batch: 3 strikes
  EXPECT_EQ(r->failed_by_outcome["expired"], 1);
  EXPECT_EQ(r->failed_by_outcome["transient"], 4);
  expect_accounted(*r);
  expect_results_from_own_documents("run-anthropic", docs);
  EXPECT_EQ(stats()["batches_created"]["anthropic"], 3);
  ASSERT_EQ(r->usage.size(), 1u);
  EXPECT_EQ(r->usage[0].lane, "anthropic-batch");
  EXPECT_GT(r->usage[0].output_tokens, 0);
}

TEST_F(ExtractLanesTest, AnthropicBatchWhoseCreationWasLostIsFoundAgain) {
  auto docs = make_docs(3);
  losing_->lose("POST", "/v1/messages/batches", 1, true);
  auto o = options(LaneKind::kAnthropicBatch);
  o.http_retry.max_attempts = 1;
  ASSERT_FALSE(run(o, "run-anth-lost", docs).has_value());
  EXPECT_EQ(stats()["batches_created"]["anthropic"], 1);
  auto again = run(o, "run-anth-lost", docs);
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  EXPECT_EQ(again->completed, 3);
  expect_accounted(*again);
  EXPECT_EQ(stats()["batches_created"]["anthropic"], 1);
  EXPECT_EQ(stats()["answered_max"], 1);
}

TEST_F(ExtractLanesTest, AnthropicInvalidRequestRowsAreInvalidRequest) {
  auto docs = make_docs(2);
  json cfg{{"error_rows", json::array({json{{"contains", docs[0].text.substr(0, 20)}, {"status_code", 400}}})}};
  ASSERT_EQ(emu_->configure(cfg.dump()), 200);
  auto r = run(options(LaneKind::kAnthropicBatch), "run-anth-400", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->failed_by_outcome["invalid_request"], 3);
  EXPECT_EQ(r->dead_by_outcome["invalid_request"], 1);
  expect_accounted(*r);
}

TEST_F(ExtractLanesTest, OpenAiSyncHonoursRetryAfterAndRunsConcurrently) {
  ASSERT_EQ(emu_->configure(R"({"http_429":{"count":2,"retry_after":2,"paths":["/v1/chat/completions"]}})"), 200);
  auto o = options(LaneKind::kOpenAiSync);
  o.sync_concurrency = 3;
  auto docs = make_docs(8);
  auto r = run(o, "run-sync", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 8);
  EXPECT_EQ(r->attempts, 8);  // 429s are retried inside the call, not as row attempts
  expect_accounted(*r);
  const auto& sleeps = clock_.sleeps();
  EXPECT_EQ(std::count(sleeps.begin(), sleeps.end(), std::chrono::milliseconds(2000)), 2);
  expect_results_from_own_documents("run-sync", docs);
  ASSERT_EQ(r->usage.size(), 1u);
  EXPECT_EQ(r->usage[0].lane, "openai-sync");
}

TEST_F(ExtractLanesTest, SyncLaneStopsWhenTheServerCannotBeReached) {
  auto o = options(LaneKind::kOpenAiSync);
  o.providers.openai_base_url = "http://127.0.0.1:1/v1";
  o.http_retry.max_attempts = 2;
  auto r = run(o, "run-down", make_docs(2));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 0);  // no row burned a strike
}

TEST_F(ExtractLanesTest, LocalLaneAgainstAnOpenAiCompatibleServer) {
  auto o = options(LaneKind::kLocal);
  auto docs = make_docs(3);
  auto r = run(o, "run-local-emu", docs);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 3);
  EXPECT_EQ(r->cost_usd, 0);
  expect_accounted(*r);
  expect_results_from_own_documents("run-local-emu", docs);
}

TEST_F(ExtractLanesTest, RejectedCredentialsAreUnauthorizedAndLeaveRowsPending) {
  ASSERT_EQ(emu_->configure(R"({"http_401":{"count":null,"paths":["/v1/files"]}})"), 200);
  auto r = run(options(LaneKind::kOpenAiBatch), "run-401", make_docs(2));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(stats()["batches_created"]["openai"], 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 0);  // no row burned a strike
  // The batch stays recorded as 'uploading'; once credentials work, the next run resumes it.
  ASSERT_EQ(emu_->configure(R"({"http_401":null})"), 200);
  auto again = run(options(LaneKind::kOpenAiBatch), "run-401", make_docs(2));
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  EXPECT_EQ(again->completed, 2);
  EXPECT_EQ(stats()["batches_created"]["openai"], 1);
}

TEST_F(ExtractLanesTest, PaidLanesRefuseAnUnpricedModelBeforeAnythingIsSent) {
  for (LaneKind lane : {LaneKind::kOpenAiBatch, LaneKind::kAnthropicBatch, LaneKind::kOpenAiSync}) {
    SCOPED_TRACE(std::string(to_string(lane)));
    auto o = options(lane);
    o.plan.model = "gpt-5.4-mini";  // not in schemas/prices.json
    o.budget_usd = 0.0001;
    auto r = run(o, "run-unpriced", make_docs(3));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(r.error().detail, "unpriced_model");
    EXPECT_NE(r.error().message.find("gpt-5.4-mini"), std::string::npos) << r.error().message;
    // The dry-run plan refuses too, rather than estimating $0.
    Extractor ex(*store_, *losing_, clock_, o);
    auto plan = ex.plan(make_docs(3));
    ASSERT_FALSE(plan.has_value());
    EXPECT_EQ(plan.error().detail, "unpriced_model");
  }
  EXPECT_EQ(stats()["files_uploaded"], 0);
  EXPECT_EQ(stats()["batches_created"]["openai"], 0);
  EXPECT_EQ(stats()["batches_created"]["anthropic"], 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM requests"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 0);

  // The local lane costs nothing whatever the model.
  auto local = options(LaneKind::kLocal);
  local.plan.model = "gpt-5.4-mini";
  EXPECT_TRUE(check_priced(LaneKind::kLocal, "gpt-5.4-mini", nullptr));
  Extractor ex(*store_, *losing_, clock_, local);
  auto plan = ex.plan(make_docs(1));
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();
  EXPECT_EQ(plan->est_cost_usd, 0);
}

TEST_F(ExtractLanesTest, AnAddedPriceEstimatesAndCostsEveryRow) {
  auto added = PriceTable::parse(R"({"models": {"openai": {"gpt-5.4-mini":
      {"sync": {"input": 4.0, "output": 16.0}, "batch": {"input": 2.0, "output": 8.0}}}}})");
  ASSERT_TRUE(added.has_value()) << added.error().describe();
  PriceTable prices = PriceTable::bundled();
  prices.merge(*added);
  ASSERT_TRUE(prices.find("openai", "gpt-4.1-mini"));  // the built-in entries stay
  auto o = options(LaneKind::kOpenAiBatch);
  o.plan.model = "gpt-5.4-mini";
  o.plan.prices = &prices;
  Extractor ex(*store_, *losing_, clock_, o);
  auto plan = ex.plan(make_docs(3));
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();
  EXPECT_GT(plan->est_cost_usd, 0);
  o.budget_usd = plan->est_cost_usd / 2;  // now the gate holds
  auto refused = run(o, "run-priced", make_docs(3));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().detail, "budget");
  EXPECT_EQ(stats()["files_uploaded"], 0);
  o.budget_usd = plan->est_cost_usd;
  auto r = run(o, "run-priced", make_docs(3));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 3);
  std::int64_t in = 0, out = 0;
  for (const auto& u : r->usage) in += u.input_tokens, out += u.output_tokens;
  EXPECT_NEAR(r->cost_usd, (static_cast<double>(in) * 2.0 + static_cast<double>(out) * 8.0) / 1e6, 1e-12);
  EXPECT_GT(r->cost_usd, 0);
}

TEST_F(ExtractLanesTest, ABudgetThatIsNotAFiniteNonNegativeNumberIsRefused) {
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -1.0}) {
    auto o = options(LaneKind::kOpenAiBatch);
    o.budget_usd = bad;
    auto r = run(o, "run-nan", make_docs(2));
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  }
  EXPECT_EQ(stats()["files_uploaded"], 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM requests"), 0);
}

TEST_F(ExtractLanesTest, ASyncLaneStopsOnRejectedCredentials) {
  ASSERT_EQ(emu_->configure(R"({"api_keys":["sk-the-right-key"]})"), 200);
  auto r = run(options(LaneKind::kOpenAiSync), "run-sync-401", make_docs(2));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized) << r.error().describe();
  EXPECT_EQ(r.error().detail, "invalid_api_key");
  EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 0);  // no row is blamed for it
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 0);
}

TEST_F(ExtractLanesTest, MissingKeysAreAConfigurationError) {
  auto o = options(LaneKind::kOpenAiBatch);
  o.providers.openai_api_key.clear();
  auto r = run(o, "run-nokey", make_docs(1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
}

// ---------------------------------------------------------------- money (issue 20)

// The instructions and schema are the same in every request: after the first, both
// providers serve them from the prompt cache, and the ledger prices them at the cached price.
TEST_F(ExtractLanesTest, CachedPromptTokensAreRecordedAndPricedAtTheCachedPrice) {
  for (LaneKind lane : {LaneKind::kOpenAiBatch, LaneKind::kAnthropicBatch}) {
    SCOPED_TRACE(std::string(to_string(lane)));
    ASSERT_EQ(emu_->reset(), 200);
    auto o = options(lane);
    const std::string run_id = "run-cache-" + std::string(to_string(lane));
    auto r = run(o, run_id, make_docs(4, lane == LaneKind::kOpenAiBatch ? 0 : 10));
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    EXPECT_EQ(r->completed, 4);
    EXPECT_EQ(stats()["prompt_cache"]["write"], 1);  // the first request
    EXPECT_EQ(stats()["prompt_cache"]["read"], 3);   // every later one
    ASSERT_EQ(r->usage.size(), 1u);
    EXPECT_GT(r->usage[0].cached_input_tokens, 0);
    const TokenPrice price = PriceTable::bundled().find(provider_of(lane), o.plan.model)->batch;
    ASSERT_LT(price.cached_input_per_mtok, price.input_per_mtok);
    auto rows = store_->query(
        "SELECT input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost_usd FROM attempts "
        "WHERE run_id = ?", {run_id});
    ASSERT_TRUE(rows.has_value());
    ASSERT_EQ(rows->size(), 4u);
    double expected = 0, uncached = 0;
    std::int64_t written = 0;
    for (const auto& row : *rows) {
      const auto in = registry::int_of(row[0]), cached = registry::int_of(row[1]),
                 write = registry::int_of(row[2]), out = registry::int_of(row[3]);
      const double cost = (static_cast<double>(in - cached - write) * price.input_per_mtok +
                           static_cast<double>(cached) * price.cached_input_per_mtok +
                           static_cast<double>(write) * price.cache_write_per_mtok +
                           static_cast<double>(out) * price.output_per_mtok) / 1e6;
      EXPECT_NEAR(std::get<double>(row[4]), cost, 1e-12);
      expected += cost;
      uncached += (static_cast<double>(in) * price.input_per_mtok + static_cast<double>(out) * price.output_per_mtok) / 1e6;
      written += write;
    }
    EXPECT_NEAR(r->cost_usd, expected, 1e-12);
    EXPECT_LT(r->cost_usd, uncached);
    // Anthropic bills the first request's write to the cache; OpenAI does not.
    if (lane == LaneKind::kAnthropicBatch) {
      EXPECT_GT(written, 0);
    } else {
      EXPECT_EQ(written, 0);
    }
  }
}

TEST_F(ExtractLanesTest, SpendCapsRefuseBeforeAnythingIsSentAndSayWhatIsLeft) {
  auto o = options(LaneKind::kOpenAiBatch);
  auto first = run(o, "run-spent", make_docs(3));
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  auto spent = spent_since(*store_, "");
  ASSERT_TRUE(spent.has_value());
  EXPECT_NEAR(spent->recorded_usd, first->cost_usd, 1e-12);
  EXPECT_EQ(spent->in_open_batches_usd, 0);
  Extractor planner(*store_, *losing_, clock_, o);
  const double estimate = planner.plan(make_docs(3, 3))->est_cost_usd;
  ASSERT_GT(estimate, 0);
  ASSERT_EQ(emu_->reset(), 200);  // from here the emulator must see nothing
  for (const char* which : {"budget.daily_usd", "budget.monthly_usd"}) {
    auto capped = o;
    const double cap = first->cost_usd + estimate / 2;
    (std::string(which) == "budget.daily_usd" ? capped.daily_cap_usd : capped.monthly_cap_usd) = cap;
    auto r = run(capped, "run-capped", make_docs(3, 3));
    ASSERT_FALSE(r.has_value()) << which;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(r.error().detail, "spend_cap");
    EXPECT_NE(r.error().message.find(which), std::string::npos) << r.error().message;
    char left[32];
    std::snprintf(left, sizeof left, "$%.4f left", cap - first->cost_usd);
    EXPECT_NE(r.error().message.find(left), std::string::npos) << r.error().message;
  }
  for (const auto& [route, n] : stats()["requests"].items()) {  // only the test's own control calls
    EXPECT_NE(route.find("/_emulator/"), std::string::npos) << route;
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE run_id = 'run-capped'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM run_requests WHERE run_id = 'run-capped'"), 0);
  // Yesterday's spend is outside today's cap, not this month's.
  clock_.advance(std::chrono::hours(48));
  auto monthly = o;
  monthly.monthly_cap_usd = first->cost_usd + estimate / 2;
  EXPECT_EQ(run(monthly, "run-capped", make_docs(3, 3)).error().detail, "spend_cap");
  auto daily = o;
  daily.daily_cap_usd = estimate * 1.01;
  auto r = run(daily, "run-capped", make_docs(3, 3));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->completed, 3);
}

TEST_F(ExtractLanesTest, TagsTravelAsOpenAiBatchMetadata) {
  auto o = options(LaneKind::kOpenAiBatch);
  o.batch_metadata = {{"project", "filings"}, {"owner", "ana"}, {"fgraph_key", "not-this"}};
  auto r = run(o, "run-tags", make_docs(2));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  HttpRequest q;
  q.url = emu_->openai_base_url() + "/batches?limit=10";
  q.headers = {{"Authorization", "Bearer sk-test"}};
  auto listed = transport_->send(q);
  ASSERT_TRUE(listed.has_value());
  auto batches = json::parse(listed->body)["data"];
  ASSERT_EQ(batches.size(), 1u);
  const json& meta = batches[0]["metadata"];
  EXPECT_EQ(meta["project"], "filings");
  EXPECT_EQ(meta["owner"], "ana");
  EXPECT_EQ(meta["fgraph_run"], "run-tags");
  EXPECT_NE(meta["fgraph_key"], "not-this");  // fgraph's own keys win
}

TEST_F(ExtractLanesTest, ThePlanListsEveryChunkWithWhatTheRunWouldDoWithIt) {
  auto o = options(LaneKind::kOpenAiBatch);
  ASSERT_TRUE(run(o, "run-before", make_docs(2)).has_value());
  auto docs = make_docs(3);
  docs.push_back(docs[2]);  // the same text again: one request serves both
  Extractor ex(*store_, *losing_, clock_, o);
  auto plan = ex.plan(docs);
  ASSERT_TRUE(plan.has_value()) << plan.error().describe();
  ASSERT_EQ(plan->lines.size(), 4u);
  std::vector<std::string> fates;
  double submitted = 0;
  for (const auto& l : plan->lines) {
    fates.push_back(l.fate);
    EXPECT_GT(l.request.est_cost_usd, 0);
    if (l.fate == "submit") submitted += l.request.est_cost_usd;
  }
  EXPECT_EQ(fates, (std::vector<std::string>{"reused", "reused", "submit", "duplicate"}));
  EXPECT_EQ(plan->lines[3].request.custom_id, plan->lines[2].request.custom_id);
  EXPECT_EQ(plan->requests_to_submit, 1);
  EXPECT_DOUBLE_EQ(plan->est_cost_usd, submitted);
}

}  // namespace
}  // namespace fgraph::extract
