// Issue 20's quality gates, in-process against the real Neo4j and the provider emulator:
// the model that answered, on_failure halt and `retry`, the canary (passing with its rows
// reused, failing with nothing bulk-submitted), tracks flagging a degrading batch, and the
// drift audit finding a planted gap and finding none.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run/run.h"
#include "tests/support/run_fixture.h"

namespace fgraph::run {
namespace {

using nlohmann::json;
using QualityTest = testing::RunFixture;
using testing::write_drop;

std::int64_t sum_of(const json& counts) {
  std::int64_t n = 0;
  for (const auto& [k, v] : counts.items()) n += v.get<std::int64_t>();
  return n;
}

TEST(FailurePolicies, NamesRoundTrip) {
  EXPECT_EQ(parse_failure_policy("halt"), FailurePolicy::kHalt);
  EXPECT_EQ(parse_failure_policy(to_string(FailurePolicy::kContinue)), FailurePolicy::kContinue);
  EXPECT_FALSE(parse_failure_policy("stop").has_value());
  EXPECT_EQ(parse_run_state("canary_failed"), RunState::kCanaryFailed);
  EXPECT_EQ(parse_run_state(to_string(RunState::kHalted)), RunState::kHalted);
  EXPECT_FALSE(is_open(RunState::kHalted));        // waits for `fgraph retry`
  EXPECT_FALSE(is_open(RunState::kCanaryFailed));  // nothing to carry on
}

TEST_F(QualityTest, RecordsTheModelThatAnswered) {
  ASSERT_EQ(emu_->configure(R"({"answer_model": "gpt-4.1-mini-2026-11-30"})"), 200);
  write_drop(root_ / "drop", tag_, 2);
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  ASSERT_EQ(r->model_swaps.size(), 1u);
  EXPECT_EQ(r->model_swaps[0].requested, "gpt-4.1-mini");
  EXPECT_EQ(r->model_swaps[0].answered, "gpt-4.1-mini-2026-11-30");
  EXPECT_EQ(r->model_swaps[0].attempts, 2);

  ASSERT_EQ(emu_->configure(R"({"answer_model": null})"), 200);
  write_drop(root_ / "drop2", tag_ + "b", 1);
  o.drop = (root_ / "drop2").string();
  auto same = c.run(o);
  ASSERT_TRUE(same.has_value()) << same.error().describe();
  EXPECT_TRUE(same->model_swaps.empty());
}

TEST_F(QualityTest, HaltLeavesTheGraphUntouchedAndRetrySendsTheDeadLettersAgain) {
  // Every answer for one document fails until the cause is "fixed".
  ASSERT_EQ(emu_->configure(R"({"error_rows": [{"contains": "Zephyr)" + tag_ +
                            R"(1 ", "status_code": 400}]})"),
            200);
  write_drop(root_ / "drop", tag_, 3);
  settings_.on_failure = FailurePolicy::kHalt;
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "halted");
  EXPECT_EQ(r->on_failure, "halt");
  EXPECT_EQ(r->requests_dead_lettered, 1);
  EXPECT_EQ(r->requests_completed, 2);
  EXPECT_EQ(r->documents_staged, 0);
  EXPECT_EQ(r->facts_accepted, 0);  // nothing verified either
  EXPECT_EQ(graph_facts(r->run_id), 0);
  auto docs = c.query("MATCH (d:Document)-[:STAGED_BY]-(:Run {run_id: '" + r->run_id + "'}) RETURN count(d)");
  ASSERT_TRUE(docs.has_value()) << docs.error().describe();
  EXPECT_EQ((*docs)[0][0], "0");

  // A plain resume does not stage past the policy.
  RunOptions resume;
  resume.resume_run_id = r->run_id;
  auto refused = c.run(resume);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("fgraph retry"), std::string::npos) << refused.error().message;

  ASSERT_EQ(emu_->reset(), 200);  // the cause is fixed
  auto retried = c.retry(r->run_id, {});
  ASSERT_TRUE(retried.has_value()) << retried.error().describe();
  EXPECT_EQ(retried->state, "finished");
  EXPECT_EQ(retried->requests_dead_lettered, 0);
  EXPECT_EQ(retried->requests_completed, 3);
  EXPECT_EQ(retried->documents_staged, 3);
  EXPECT_TRUE(retried->identity_holds());
  EXPECT_GT(graph_facts(r->run_id), 0);
  // Only the dead letter was asked again (the emulator's counters were reset).
  EXPECT_EQ(sum_of(json::parse(emu_->stats())["answered_sync"]), 1);

  auto none = c.retry(r->run_id, {});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidInput);
}

TEST_F(QualityTest, ContinueStagesAFinishedRunsDeadLetterAfterRetry) {
  ASSERT_EQ(emu_->configure(R"({"error_rows": [{"contains": "Zephyr)" + tag_ +
                            R"(0 ", "status_code": 400}]})"),
            200);
  write_drop(root_ / "drop", tag_, 2);
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "finished");
  EXPECT_EQ(r->requests_dead_lettered, 1);
  const std::int64_t before = graph_facts(r->run_id);
  ASSERT_EQ(emu_->reset(), 200);
  auto retried = c.retry(r->run_id, {});
  ASSERT_TRUE(retried.has_value()) << retried.error().describe();
  EXPECT_EQ(retried->state, "finished");
  EXPECT_EQ(retried->requests_dead_lettered, 0);
  EXPECT_EQ(retried->documents_staged, 2);
  EXPECT_GT(graph_facts(r->run_id), before);
  EXPECT_EQ(graph_facts(r->run_id), retried->relations_staged);
}

TEST_F(QualityTest, CanaryThatPassesSendsTheBulkAndReusesItsRows) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 0})"), 200);
  write_drop(root_ / "drop", tag_, 6);
  settings_.lane = "openai-batch";
  settings_.canary.min_documents = 2;
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  o.canary_fraction = 0.3;  // ceil(1.8) = 2 documents
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "finished");
  ASSERT_TRUE(r->canary.has_value());
  EXPECT_TRUE(r->canary->passed);
  EXPECT_EQ(r->canary->documents, 2);
  EXPECT_EQ(r->canary->rows, 2);
  EXPECT_DOUBLE_EQ(r->canary->schema_valid_rate, 1.0);
  EXPECT_GE(r->canary->grounded_rate, 0.8);
  EXPECT_GT(r->canary->cost_usd, 0);
  EXPECT_EQ(r->documents_staged, 6);
  EXPECT_TRUE(r->identity_holds());
  EXPECT_EQ(r->requests_completed, 6);
  const json stats = json::parse(emu_->stats());
  EXPECT_EQ(sum_of(stats["answered_sync"]), 2) << stats.dump();
  EXPECT_EQ(sum_of(stats["answered"]), 4) << stats.dump();  // the bulk: the other four only
  for (const auto& [custom_id, n] : stats["answered"].items()) EXPECT_EQ(n, 1) << custom_id;
  // The scores are kept: status shows them.
  auto shown = c.report(r->run_id);
  ASSERT_TRUE(shown.has_value());
  ASSERT_TRUE(shown->canary.has_value());
  EXPECT_EQ(shown->canary->rows, 2);

  // The same drop again: the canary scores the answers the ledger already holds, free.
  ASSERT_EQ(emu_->reset(), 200);
  auto again = c.run(o);
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  EXPECT_EQ(again->state, "finished");
  ASSERT_TRUE(again->canary.has_value());
  EXPECT_TRUE(again->canary->passed) << again->canary->failures.front();
  EXPECT_EQ(again->canary->answered, 2);
  EXPECT_DOUBLE_EQ(again->canary->cost_usd, 0);
  EXPECT_EQ(json::parse(emu_->stats())["answered_total"], 0);
}

// anthropic-batch's canary goes through the live Messages API (anthropic-sync).
TEST_F(QualityTest, AnthropicCanaryUsesTheLiveMessagesApi) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 0})"), 200);
  write_drop(root_ / "drop", tag_, 3);
  settings_.lane = "anthropic-batch";
  settings_.model = "claude-haiku-4-5";
  settings_.providers.anthropic_base_url = emu_->anthropic_base_url();
  settings_.providers.anthropic_api_key = "sk-ant-test";
  settings_.canary.fraction = 0.02;
  settings_.canary.min_documents = 1;
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "finished");
  ASSERT_TRUE(r->canary.has_value());
  EXPECT_TRUE(r->canary->passed);
  EXPECT_EQ(r->canary->rows, 1);
  EXPECT_EQ(r->documents_staged, 3);
  std::map<std::string, std::int64_t> attempts_by_lane;
  for (const auto& u : r->usage) attempts_by_lane[u.lane] += u.attempts;
  EXPECT_EQ(attempts_by_lane["anthropic-sync"], 1);
  EXPECT_EQ(attempts_by_lane["anthropic-batch"], 2);
  const json stats = json::parse(emu_->stats());
  EXPECT_EQ(stats["requests"]["POST /v1/messages"], 1) << stats.dump();
  EXPECT_EQ(sum_of(stats["answered"]), 2) << stats.dump();
}

TEST_F(QualityTest, CanaryThatFailsSubmitsNoBulk) {
  ASSERT_EQ(emu_->configure(R"({"ungrounded_rows": [{"live": true}]})"), 200);
  write_drop(root_ / "drop", tag_, 4);
  settings_.lane = "openai-batch";
  settings_.canary.fraction = 0.02;
  settings_.canary.min_documents = 2;
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->state, "canary_failed");
  ASSERT_TRUE(r->canary.has_value());
  EXPECT_FALSE(r->canary->passed);
  EXPECT_EQ(r->canary->documents, 2);
  EXPECT_DOUBLE_EQ(r->canary->grounded_rate, 0.0);
  ASSERT_EQ(r->canary->failures.size(), 1u);
  EXPECT_NE(r->canary->failures[0].find("grounded 0.0% < 80.0% (80.0 points short)"), std::string::npos)
      << r->canary->failures[0];
  const json stats = json::parse(emu_->stats());
  EXPECT_EQ(stats["batches_created"]["openai"], 0) << stats.dump();
  EXPECT_EQ(stats["files_uploaded"], 0) << stats.dump();
  EXPECT_EQ(r->documents_staged, 0);
  EXPECT_EQ(graph_facts(r->run_id), 0);
  RunOptions resume;
  resume.resume_run_id = r->run_id;
  EXPECT_FALSE(c.run(resume).has_value());
}

TEST_F(QualityTest, TracksFlagTheSegmentsOfABatchThatDegrades) {
  // Batch rows from the fourth on answer with evidence the documents do not hold.
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 0, "ungrounded_rows": [{"min_index": 3}]})"), 200);
  write_drop(root_ / "drop", tag_, 6);
  settings_.lane = "openai-batch";
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  auto t = c.tracks(r->run_id, 2);
  ASSERT_TRUE(t.has_value()) << t.error().describe();
  EXPECT_EQ(t->run.completion.rows, 6);
  EXPECT_DOUBLE_EQ(t->run.completion.rate(), 1.0);  // completion is perfect ...
  ASSERT_EQ(t->batches.size(), 1u);
  ASSERT_EQ(t->segments.size(), 3u);
  EXPECT_GT(t->segments[0].quality.grounded_rate(), 0.9);  // ... quality is not
  EXPECT_EQ(t->segments[0].flag, "");
  EXPECT_NE(t->segments[1].flag.find("grounded"), std::string::npos) << t->segments[1].flag;
  EXPECT_NE(t->segments[2].flag.find("grounded 0.0% against"), std::string::npos) << t->segments[2].flag;
  EXPECT_DOUBLE_EQ(t->segments[2].quality.schema_valid_rate(), 1.0);

  auto lines = c.quality_report("");
  ASSERT_TRUE(lines.has_value()) << lines.error().describe();
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ(lines->front().run_id, r->run_id);
  EXPECT_DOUBLE_EQ(lines->front().completion_rate, 1.0);
  EXPECT_NEAR(lines->front().grounded_rate, t->run.quality.grounded_rate(), 1e-12);
  EXPECT_LT(lines->front().grounded_rate, 0.8);
}

TEST_F(QualityTest, DriftFindsNoGapThenAPlantedOne) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 0})"), 200);
  write_drop(root_ / "drop", tag_, 3);
  settings_.lane = "openai-batch";
  Coordinator c = coordinator();
  RunOptions o;
  o.drop = (root_ / "drop").string();
  auto r = c.run(o);
  ASSERT_TRUE(r.has_value()) << r.error().describe();

  auto same = c.drift(r->run_id, 200, std::nullopt);
  ASSERT_TRUE(same.has_value()) << same.error().describe();
  EXPECT_EQ(same->sampled, 3);
  EXPECT_EQ(same->compared, 3);
  EXPECT_FALSE(same->flagged());
  EXPECT_GT(same->cost_usd, 0);
  for (const auto& m : same->measures) EXPECT_DOUBLE_EQ(m.gap_points, 0) << m.name;
  EXPECT_EQ(sum_of(json::parse(emu_->stats())["answered_sync"]), 3);
  // The live calls are a run of their own, with their cost in the ledger.
  auto drift_run = c.report(same->drift_run_id);
  ASSERT_TRUE(drift_run.has_value()) << drift_run.error().describe();
  EXPECT_EQ(drift_run->lane, "openai-sync");
  EXPECT_NEAR(drift_run->cost_usd, same->cost_usd, 1e-12);
  // The audited run's own accounting is unchanged.
  auto after = c.report(r->run_id);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->attempts, r->attempts);

  ASSERT_EQ(emu_->configure(R"({"ungrounded_rows": [{"live": true}], "answer_model": "gpt-4.1-mini-next"})"), 200);
  auto planted = c.drift(r->run_id, 2, std::nullopt);
  ASSERT_TRUE(planted.has_value()) << planted.error().describe();
  EXPECT_EQ(planted->compared, 2);
  EXPECT_TRUE(planted->flagged());
  std::map<std::string, DriftMeasure> by_name;
  for (const auto& m : planted->measures) by_name[m.name] = m;
  EXPECT_TRUE(by_name["grounded"].flagged);
  EXPECT_DOUBLE_EQ(by_name["grounded"].live, 0.0);
  EXPECT_TRUE(by_name["fact_overlap"].flagged);
  EXPECT_TRUE(by_name["drop:evidence_not_found"].flagged);
  EXPECT_FALSE(by_name["schema_valid"].flagged);
  ASSERT_EQ(planted->model_swaps.size(), 1u);
  EXPECT_EQ(planted->model_swaps[0].answered, "gpt-4.1-mini-next");

  // A budget too small refuses before anything is sent.
  auto refused = c.drift(r->run_id, 2, 0.0);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().detail, "budget");
}

}  // namespace
}  // namespace fgraph::run
