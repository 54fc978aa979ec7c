// The run stage (run/run.h) driven in-process: the real Neo4j of the `neo4j` fixture, the
// provider emulator for the OpenAI lanes, and a fault-injecting transport for Neo4j being
// down. The e2e tests (test_e2e*.py) drive the same code through the binary.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run/run.h"
#include "tests/support/run_fixture.h"

namespace fgraph::run {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using CoordinatorTest = testing::RunFixture;
using testing::write_drop;

TEST(RunStates, NamesRoundTrip) {
  for (auto s : {RunState::kStarted, RunState::kSubmitted, RunState::kBudgetRefused,
                 RunState::kExtracted, RunState::kVerified, RunState::kStaged, RunState::kFinished,
                 RunState::kRollingBack, RunState::kRolledBack}) {
    EXPECT_EQ(parse_run_state(to_string(s)), s) << to_string(s);
  }
  for (auto s : {DocState::kParsed, DocState::kVerified, DocState::kStaged, DocState::kFailed,
                 DocState::kRollingBack, DocState::kRolledBack}) {
    EXPECT_EQ(parse_doc_state(to_string(s)), s) << to_string(s);
  }
  EXPECT_FALSE(parse_run_state("Finished").has_value());
  EXPECT_TRUE(is_open(RunState::kSubmitted));
  EXPECT_TRUE(is_open(RunState::kVerified));
  EXPECT_FALSE(is_open(RunState::kFinished));
  EXPECT_FALSE(is_open(RunState::kBudgetRefused));  // waits for a person with a new budget
  EXPECT_FALSE(is_open(RunState::kRolledBack));
}

TEST_F(CoordinatorTest, RunStagesEveryDocumentAndReconciles) {
  write_drop(root_ / "drop", tag_, 3);
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  o.tags = {{"project", "filings-" + tag_}};
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "finished");
  EXPECT_EQ(r->documents_parsed, 3);
  EXPECT_EQ(r->documents_staged, 3);
  EXPECT_TRUE(r->identity_holds());
  EXPECT_EQ(r->requests_in_flight, 0);
  EXPECT_GT(r->facts_accepted, 0);
  EXPECT_GT(r->relations_staged, 0);
  EXPECT_EQ(graph_facts(r->run_id), r->relations_staged);

  auto all = c.runs();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().state, RunState::kFinished);
  EXPECT_EQ(all->front().tags.at("project"), "filings-" + tag_);
  EXPECT_EQ(all->front().documents, 3);

  // The same drop again: a second run of the same model costs nothing and writes nothing
  // of its own (it is staged via the first).
  const std::int64_t before = answered();
  auto again = c.run(o);
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  EXPECT_EQ(answered(), before);
  EXPECT_EQ(again->documents_staged, 3);
  EXPECT_EQ(graph_facts(again->run_id), 0);
}

TEST_F(CoordinatorTest, NeoDownLeavesTheRunVerifiedAndResumeStagesWithoutModelCalls) {
  write_drop(root_ / "drop", tag_, 2);
  const std::string neo4j = settings_.neo4j.url;
  faults_->set_before([neo4j](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    if (req.url.rfind(neo4j, 0) == 0) return Result<HttpResponse>(make_error(ErrorCode::kUnavailable, "down (injected)"));
    return std::nullopt;
  });
  RunOptions o;
  o.drop = (root_ / "drop").string();
  std::string run_id;
  {
    Coordinator c = coordinator();
    auto r = c.run(o);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    auto all = c.runs();
    ASSERT_TRUE(all.has_value() && all->size() == 1);
    EXPECT_EQ(all->front().state, RunState::kVerified);
    EXPECT_TRUE(is_open(all->front().state));
    run_id = all->front().run_id;
  }
  const std::int64_t calls = answered();
  faults_->set_before(nullptr);
  Coordinator c = coordinator();
  RunOptions resume;
  resume.resume_run_id = run_id;
  auto r = c.run(resume);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "finished");
  EXPECT_EQ(r->documents_staged, 2);
  EXPECT_EQ(answered(), calls);  // nothing was asked of the model again
  EXPECT_EQ(graph_facts(run_id), r->relations_staged);
}

// What the service does for a batch that takes a day: start a run, then look at it with
// no_wait until it is finished, and never submit anything twice.
TEST_F(CoordinatorTest, StartThenNoWaitResumesCarryABatchToTheEnd) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 3})"), 200);
  settings_.lane = "openai-batch";
  write_drop(root_ / "drop", tag_, 2);
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto id = c.start(o);
  ASSERT_TRUE(id.has_value()) << id.error().describe();
  auto started = c.report(*id);
  ASSERT_TRUE(started.has_value());
  EXPECT_EQ(started->state, "started");
  EXPECT_EQ(started->documents_parsed, 2);
  EXPECT_EQ(started->requests_submitted, 0);

  RunOptions look;
  look.resume_run_id = *id;
  look.no_wait = true;
  std::string state;
  int looks = 0;
  for (; looks < 20 && state != "finished"; ++looks) {
    auto r = c.run(look);
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    EXPECT_TRUE(r->identity_holds());
    state = r->state;
  }
  EXPECT_EQ(state, "finished");
  EXPECT_GT(looks, 1);  // the batch was open at the first look
  auto done = c.report(*id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->documents_staged, 2);
  const json stats = json::parse(emu_->stats());
  EXPECT_EQ(stats["batches_created"]["openai"], 1) << stats.dump();
  for (const auto& [custom_id, n] : stats["answered"].items()) EXPECT_EQ(n, 1) << custom_id;
}

}  // namespace
}  // namespace fgraph::run
