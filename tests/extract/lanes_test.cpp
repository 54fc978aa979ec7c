// The extract lanes against the provider emulator: completion, retries, faults, crashes
// and resumption, chunks, isolation, credentials (fixture: lanes_fixture.h).
#include "tests/extract/lanes_fixture.h"

namespace fgraph::extract {
namespace {

using namespace testing_lanes;
using nlohmann::json;
namespace fs = std::filesystem;

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

}  // namespace
}  // namespace fgraph::extract
