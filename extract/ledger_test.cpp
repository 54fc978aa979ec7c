// The extract ledger (migrations 0200, 0201) on a real SQLite store.
#include <filesystem>

#include <gtest/gtest.h>

#include "extract/extract.h"
#include "extract/internal/ledger.h"
#include "registry/registry.h"

namespace fgraph::extract::internal {
namespace {

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = registry::Store::open({":memory:"});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    store_ = std::move(*s);
    ledger_ = std::make_unique<Ledger>(*store_, clock_);
  }
  ExtractionRequest request(const std::string& text, const std::string& doc_id, int chunk = 0) {
    ExtractionRequest r;
    r.custom_id = make_custom_id(text, "m", "extract.v1", "extraction.v1");
    r.doc_id = doc_id;
    r.chunk_index = chunk;
    r.char_end = static_cast<std::int64_t>(text.size());
    r.model = "m";
    r.prompt_version = "extract.v1";
    r.schema_version = "extraction.v1";
    return r;
  }
  RowResult row(const ExtractionRequest& r, Outcome o, int attempt) {
    RowResult x;
    x.custom_id = r.custom_id;
    x.outcome = o;
    x.content = o == Outcome::kCompleted ? R"({"entities":[],"relations":[]})" : "";
    x.lane = "openai-batch";
    x.model = "m";
    x.attempt = attempt;
    x.usage = {100, 10};
    x.cost_usd = 0.5;
    return x;
  }
  ManualClock clock_;
  std::unique_ptr<registry::Store> store_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, RecordsPlanOnceAndMapsDuplicateChunksToOneRequest) {
  auto a = request("same text", "doc-a");
  auto b = request("same text", "doc-b");  // another document, identical chunk text
  ASSERT_EQ(a.custom_id, b.custom_id);
  ASSERT_TRUE(ledger_->record_plan("run-1", {a}, {a, b}, {}, false).has_value());
  ASSERT_TRUE(ledger_->record_plan("run-1", {a}, {a, b}, {}, false).has_value());  // idempotent
  auto reqs = run_requests(*store_, "run-1");
  ASSERT_TRUE(reqs.has_value());
  ASSERT_EQ(reqs->size(), 2u);
  EXPECT_EQ((*reqs)[0].custom_id, (*reqs)[1].custom_id);
  auto pending = ledger_->pending("run-1");
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].attempt, 1);
}

TEST_F(LedgerTest, FailedRowsArePendingWithTheirNextAttemptAndCompletedRowsAreNot) {
  auto a = request("alpha", "doc-a");
  auto b = request("beta", "doc-b");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a, b}, {a, b}, {}, false).has_value());
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kCompleted, 1), row(b, Outcome::kExpired, 1)}).has_value());
  auto pending = ledger_->pending("run-1");
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].request.custom_id, b.custom_id);
  EXPECT_EQ((*pending)[0].attempt, 2);
  EXPECT_EQ((*pending)[0].last_outcome, "expired");
  EXPECT_EQ(*stored_result(*store_, a.custom_id), R"({"entities":[],"relations":[]})");
  EXPECT_EQ(stored_result(*store_, b.custom_id).error().code, ErrorCode::kNotFound);

  // A late failure of an already completed row (a duplicate answer) cannot undo it.
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kTransient, 2)}).has_value());
  auto again = ledger_->find_request(a.custom_id);
  ASSERT_TRUE(again.has_value() && again->has_value());
  EXPECT_EQ((*again)->state, "completed");
}

TEST_F(LedgerTest, DeadLetterAndReconciliationCountEachRowOnce) {
  auto a = request("alpha", "doc-a");
  auto b = request("beta", "doc-b");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a, b}, {a, b}, {}, false).has_value());
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kCompleted, 1), row(b, Outcome::kRefused, 1)}).has_value());
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(b, Outcome::kRefused, 2)}).has_value());
  auto pending = ledger_->pending("run-1");
  ASSERT_TRUE(pending.has_value());
  ASSERT_EQ(pending->size(), 1u);
  ASSERT_TRUE(ledger_->dead_letter("run-1", (*pending)[0]).has_value());
  auto rec = reconcile(*store_, "run-1");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->requests, 2);
  EXPECT_EQ(rec->submitted, 2);
  EXPECT_EQ(rec->completed, 1);
  EXPECT_EQ(rec->dead_lettered, 1);
  EXPECT_EQ(rec->attempts, 3);
  EXPECT_EQ(rec->resubmitted, 1);
  EXPECT_EQ(rec->failed_attempts, 2);
  EXPECT_TRUE(rec->balanced());
  EXPECT_TRUE(rec->retries_balanced());
  EXPECT_EQ(rec->failed_by_outcome.at("refused"), 2);
  EXPECT_EQ(rec->dead_by_outcome.at("refused"), 1);
  ASSERT_EQ(rec->usage.size(), 1u);
  EXPECT_EQ(rec->usage[0].input_tokens, 300);
  EXPECT_DOUBLE_EQ(rec->cost_usd, 1.5);
  auto dead = dead_letters(*store_, "");
  ASSERT_TRUE(dead.has_value());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].attempts, 2);
  EXPECT_EQ(ledger_->pending("run-1")->size(), 0u);
}

TEST_F(LedgerTest, RemoteObjectsAreOpenUntilCollected) {
  auto a = request("alpha", "doc-a");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a}, {a}, {}, false).has_value());
  RemoteObject obj;
  obj.key = "fgb-1";
  obj.provider = "openai";
  obj.lane = "openai-batch";
  obj.model = "m";
  obj.run_id = "run-1";
  obj.state = "uploading";
  PendingRow p;
  p.request = a;
  p.attempt = 1;
  ASSERT_TRUE(ledger_->create_remote(obj, {p}).has_value());
  EXPECT_EQ(ledger_->pending("run-1")->size(), 0u);  // in a batch: not pending
  auto open = ledger_->open_remotes("openai-batch", "run-1");
  ASSERT_TRUE(open.has_value());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].rows, 1);
  obj.remote_id = "batch_1";
  obj.state = "in_progress";
  ASSERT_TRUE(ledger_->update_remote(obj).has_value());
  EXPECT_EQ((*ledger_->open_remotes("openai-batch", "run-1"))[0].remote_id, "batch_1");
  auto rows = ledger_->batch_rows("fgb-1");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].request.custom_id, a.custom_id);
  RowResult r = row(a, Outcome::kCompleted, 1);
  r.batch_key = "fgb-1";
  ASSERT_TRUE(ledger_->record_rows("run-1", {r}, "fgb-1").has_value());
  EXPECT_TRUE(ledger_->open_remotes("openai-batch", "run-1")->empty());
  // A second batch with the same key is refused by the ledger (never recorded twice).
  EXPECT_FALSE(ledger_->create_remote(obj, {p}).has_value());
}

RemoteObject batch(const std::string& key, const std::string& run_id) {
  RemoteObject obj;
  obj.key = key;
  obj.provider = "openai";
  obj.lane = "openai-batch";
  obj.model = "m";
  obj.run_id = run_id;
  obj.state = "uploading";
  return obj;
}

TEST_F(LedgerTest, OpenRemotesAreThoseOfOneRun) {
  auto a = request("alpha", "doc-a");
  auto b = request("beta", "doc-b");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a}, {a}, {}, false).has_value());
  ASSERT_TRUE(ledger_->record_plan("run-2", {b}, {b}, {}, false).has_value());
  ASSERT_EQ(ledger_->create_remote(batch("fgb-1", "run-1"), *ledger_->pending("run-1"))->size(), 1u);
  ASSERT_EQ(ledger_->create_remote(batch("fgb-2", "run-2"), *ledger_->pending("run-2"))->size(), 1u);
  auto one = ledger_->open_remotes("openai-batch", "run-1");
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].key, "fgb-1");
  auto two = ledger_->open_remotes("openai-batch", "run-2");
  ASSERT_EQ(two->size(), 1u);
  EXPECT_EQ((*two)[0].key, "fgb-2");
  EXPECT_TRUE(ledger_->open_remotes("anthropic-batch", "run-1")->empty());
  EXPECT_TRUE(ledger_->held_by_other_runs("run-1")->empty());
}

TEST_F(LedgerTest, AnAttemptIsClaimedByOneBatchOnly) {
  // Two runs plan one request before either sends it: both see attempt 1 pending.
  auto a = request("alpha", "doc-a");
  auto b = request("beta", "doc-b");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a, b}, {a, b}, {}, false).has_value());
  ASSERT_TRUE(ledger_->record_plan("run-2", {}, {a}, {}, false).has_value());
  auto first = *ledger_->pending("run-1");
  auto second = *ledger_->pending("run-2");
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt, 1);

  auto claimed = ledger_->create_remote(batch("fgb-1", "run-1"), first);
  ASSERT_TRUE(claimed.has_value()) << claimed.error().describe();
  EXPECT_EQ(claimed->size(), 2u);
  // The second batch claims nothing, so nothing of it is recorded.
  auto none = ledger_->create_remote(batch("fgb-2", "run-2"), second);
  ASSERT_TRUE(none.has_value()) << none.error().describe();
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(ledger_->open_remotes("openai-batch", "run-2")->empty());
  EXPECT_EQ(std::get<std::int64_t>(store_->query("SELECT COUNT(*) FROM batch_rows")->at(0)[0]), 2);
  // run-2 waits for run-1's batch, which only run-1 advances.
  auto held = ledger_->held_by_other_runs("run-2");
  ASSERT_TRUE(held.has_value());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0], std::make_pair(std::string("run-1"), std::int64_t{1}));

  // A batch of a stale plan (the attempt was answered meanwhile) claims only what waits.
  RowResult failed = row(b, Outcome::kTransient, 1);
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kCompleted, 1), failed}, "fgb-1").has_value());
  auto retry = *ledger_->pending("run-1");
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].attempt, 2);
  PendingRow stale = first[0].request.custom_id == a.custom_id ? first[0] : first[1];
  auto part = ledger_->create_remote(batch("fgb-3", "run-1"), {stale, retry[0]});
  ASSERT_TRUE(part.has_value());
  ASSERT_EQ(part->size(), 1u);
  EXPECT_EQ((*part)[0].request.custom_id, b.custom_id);
  EXPECT_EQ((*ledger_->open_remotes("openai-batch", "run-1"))[0].rows, 1);
}

TEST_F(LedgerTest, AnAttemptIsRecordedOnceAndARepeatedAnswerIsCountedOnIt) {
  auto a = request("alpha", "doc-a");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a}, {a}, {}, false).has_value());
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kTransient, 1)}).has_value());
  // The same attempt answered again (failed): one row, both answers' tokens and dollars,
  // and the request is not failed twice.
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kTransient, 1)}).has_value());
  auto rows = store_->query("SELECT COUNT(*), SUM(input_tokens), SUM(cost_usd) FROM attempts");
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]), 1);
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][1]), 200);
  EXPECT_DOUBLE_EQ(std::get<double>((*rows)[0][2]), 1.0);
  EXPECT_EQ((*ledger_->pending("run-1"))[0].attempt, 2);
  // A repeated answer that completes the attempt completes the request.
  ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kCompleted, 1)}).has_value());
  EXPECT_EQ((*ledger_->find_request(a.custom_id))->state, "completed");
  auto one = store_->query("SELECT COUNT(*), outcome FROM attempts");
  EXPECT_EQ(std::get<std::int64_t>((*one)[0][0]), 1);
  EXPECT_EQ(std::get<std::string>((*one)[0][1]), "completed");
  auto rec = reconcile(*store_, "run-1");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->attempts, 1);
  EXPECT_DOUBLE_EQ(rec->cost_usd, 1.5);
  // The ledger itself refuses a second row for one attempt.
  EXPECT_FALSE(store_->execute("INSERT INTO attempts (custom_id, attempt, run_id, lane, model, outcome, "
                               "created_at) VALUES (?, 1, 'run-x', 'openai-batch', 'm', 'completed', 'now')",
                               {a.custom_id})
                   .has_value());
}

TEST_F(LedgerTest, ADeadLetterSentAgainGoesOnNumberingItsAttempts) {
  auto a = request("alpha", "doc-a");
  ASSERT_TRUE(ledger_->record_plan("run-1", {a}, {a}, {}, false).has_value());
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(ledger_->record_rows("run-1", {row(a, Outcome::kTransient, i)}).has_value());
  }
  auto p = *ledger_->pending("run-1");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].step, 5);
  ASSERT_TRUE(ledger_->dead_letter("run-1", p[0]).has_value());
  ASSERT_TRUE(ledger_->record_plan("run-2", {a}, {a}, {}, true).has_value());
  auto again = *ledger_->pending("run-2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 5);  // numbers go on
  EXPECT_EQ(again[0].step, 1);     // the ladder starts again
  ASSERT_TRUE(ledger_->record_rows("run-2", {row(a, Outcome::kCompleted, again[0].attempt)}).has_value());
  EXPECT_EQ(std::get<std::int64_t>(store_->query("SELECT COUNT(*) FROM attempts")->at(0)[0]), 5);
}

// A ledger written before migration 0201 that holds one attempt twice (the same row
// answered twice, and a dead letter retried from attempt 1): nothing is deleted, the
// repeats get the next free numbers, and the retry ladder keeps its step.
TEST(LedgerMigrationTest, RepeatedAttemptsOfAnOldLedgerAreRenumberedNotDeleted) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("fgraph-ledger-0201-" + random_hex(6) + ".db")).string();
  {
    auto s = registry::Store::open({path});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    registry::Store& st = **s;
    // Back to the shape before 0201, with the rows an old fgraph could write.
    ASSERT_TRUE(st.exec("DROP INDEX attempts_request_attempt; ALTER TABLE requests DROP COLUMN ladder_base;"
                        "DELETE FROM schema_migrations WHERE version = 201;"
                        "INSERT INTO requests (custom_id, doc_id, run_id, chunk_index, chunk_count, char_start,"
                        " char_end, model, prompt_version, schema_version, est_input_tokens, est_output_tokens,"
                        " est_cost_usd, state, attempts, created_at, updated_at) VALUES"
                        " ('twice', 'd', 'run-f', 0, 1, 0, 1, 'm', 'p', 's', 1, 1, 0, 'completed', 1, 't', 't'),"
                        " ('retried', 'd', 'run-f', 0, 1, 0, 1, 'm', 'p', 's', 1, 1, 0, 'failed', 1, 't', 't');"
                        "INSERT INTO attempts (custom_id, attempt, run_id, lane, model, outcome, cost_usd, created_at)"
                        " VALUES ('twice', 1, 'run-f', 'openai-batch', 'm', 'completed', 0.25, 't'),"
                        " ('twice', 1, 'run-f', 'openai-batch', 'm', 'completed', 0.25, 't'),"
                        " ('retried', 1, 'run-f', 'openai-batch', 'm', 'expired', 0.5, 't'),"
                        " ('retried', 2, 'run-f', 'openai-batch', 'm', 'expired', 0.5, 't'),"
                        " ('retried', 1, 'run-g', 'openai-batch', 'm', 'expired', 0.5, 't');")
                    .has_value());
  }
  auto s = registry::Store::open({path});
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  registry::Store& st = **s;
  auto rows = st.query("SELECT custom_id, attempt, run_id FROM attempts ORDER BY custom_id, attempt");
  ASSERT_TRUE(rows.has_value());
  std::vector<std::string> got;
  for (const auto& r : *rows) {
    got.push_back(std::get<std::string>(r[0]) + " " + std::to_string(std::get<std::int64_t>(r[1])) + " " +
                  std::get<std::string>(r[2]));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"retried 1 run-f", "retried 2 run-f", "retried 3 run-g",
                                           "twice 1 run-f", "twice 2 run-f"}));
  auto money = st.query("SELECT SUM(cost_usd) FROM attempts");
  EXPECT_DOUBLE_EQ(std::get<double>((*money)[0][0]), 2.0);
  auto req = st.query("SELECT custom_id, attempts, ladder_base FROM requests ORDER BY custom_id");
  ASSERT_EQ(req->size(), 2u);
  // 'retried' was at step 1 of a new ladder: attempt 4 is next, still its step 2.
  EXPECT_EQ(std::get<std::int64_t>((*req)[0][1]), 3);
  EXPECT_EQ(std::get<std::int64_t>((*req)[0][2]), 2);
  EXPECT_EQ(std::get<std::int64_t>((*req)[1][1]), 2);
  ManualClock clock;
  Ledger ledger(st, clock);
  ASSERT_TRUE(st.execute("INSERT INTO run_requests (run_id, doc_id, chunk_index, custom_id, char_start, "
                         "char_end) VALUES ('run-g', 'd', 0, 'retried', 0, 1)")
                  .has_value());
  auto pending = ledger.pending("run-g");
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].attempt, 4);
  EXPECT_EQ((*pending)[0].step, 2);
  s->reset();
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
}

}  // namespace
}  // namespace fgraph::extract::internal
