// The extract ledger (migration 0200) on a real in-memory SQLite store.
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
  auto open = ledger_->open_remotes("openai-batch");
  ASSERT_TRUE(open.has_value());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].rows, 1);
  obj.remote_id = "batch_1";
  obj.state = "in_progress";
  ASSERT_TRUE(ledger_->update_remote(obj).has_value());
  EXPECT_EQ((*ledger_->open_remotes("openai-batch"))[0].remote_id, "batch_1");
  auto rows = ledger_->batch_rows("fgb-1");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].request.custom_id, a.custom_id);
  RowResult r = row(a, Outcome::kCompleted, 1);
  r.batch_key = "fgb-1";
  ASSERT_TRUE(ledger_->record_rows("run-1", {r}, "fgb-1").has_value());
  EXPECT_TRUE(ledger_->open_remotes("openai-batch")->empty());
  // A second batch with the same key is refused by the ledger (never recorded twice).
  EXPECT_FALSE(ledger_->create_remote(obj, {p}).has_value());
}

}  // namespace
}  // namespace fgraph::extract::internal
