// The service's background work in-process (service/internal/carrier.h, inbox.h): the real
// Neo4j, the provider emulator, the real run stage.
#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "service/internal/carrier.h"
#include "service/internal/inbox.h"
#include "tests/support/run_fixture.h"

namespace fgraph::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

class BackgroundTest : public testing::RunFixture {
 protected:
  // Ticks until no run is open (or `max` passes); returns the alerts raised.
  std::vector<Alert> carry(Carrier& carrier, run::Coordinator& c, int max = 40) {
    std::vector<Alert> alerts;
    for (int i = 0; i < max; ++i) {
      Carrier::Pass pass = carrier.tick(c, *store_);
      alerts.insert(alerts.end(), pass.raised.begin(), pass.raised.end());
      auto runs = c.runs();
      EXPECT_TRUE(runs.has_value());
      bool open = false;
      for (const auto& r : *runs) open = open || run::is_open(r.state);
      if (!open) break;
    }
    return alerts;
  }
  static CarrierSettings quick() {
    CarrierSettings s;
    s.poll_initial = seconds(0);  // every tick looks again
    s.poll_max = seconds(0);
    return s;
  }
};

TEST_F(BackgroundTest, CarrierFinishesARunLeftOpenWithoutSubmittingTwice) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 4})"), 200);
  settings_.lane = "openai-batch";
  testing::write_drop(root_ / "drop", tag_, 2);
  run::Coordinator c = coordinator();
  run::RunOptions o;
  o.drop = (root_ / "drop").string();
  o.no_wait = true;
  auto first = c.run(o);  // `fgraph run --no-wait`: submitted, not collected
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  ASSERT_GT(first->requests_in_flight, 0);

  Carrier carrier(quick(), clock_);
  auto alerts = carry(carrier, c);
  EXPECT_TRUE(alerts.empty()) << alerts.front().kind;
  auto done = c.report(first->run_id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, "finished");
  EXPECT_EQ(done->documents_staged, 2);
  const json stats = json::parse(emu_->stats());
  EXPECT_EQ(stats["batches_created"]["openai"], 1) << stats.dump();
  for (const auto& [custom_id, n] : stats["answered"].items()) EXPECT_EQ(n, 1) << custom_id;
}

// The carrier's own clock, moved by hand: real wall time, steady time as the test says.
class HandClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point steady_now() const override { return at; }
  void sleep_for(std::chrono::milliseconds d) override { at += d; }
  std::chrono::steady_clock::time_point at{};
};

TEST_F(BackgroundTest, BackoffDoublesToItsCap) {
  ASSERT_EQ(emu_->configure(R"({"polls_to_complete": 50})"), 200);
  settings_.lane = "openai-batch";
  testing::write_drop(root_ / "drop", tag_, 1);
  run::Coordinator c = coordinator();
  run::RunOptions o;
  o.drop = (root_ / "drop").string();
  ASSERT_TRUE(c.start(o).has_value());
  CarrierSettings s;
  s.poll_initial = seconds(60);
  s.poll_max = seconds(300);
  HandClock hand;
  Carrier carrier(s, hand);
  auto pass = carrier.tick(c, *store_);  // a new run is looked at at once
  EXPECT_EQ(pass.looked, 1);
  EXPECT_EQ(pass.next_in, seconds(60));
  hand.at += seconds(59);
  EXPECT_EQ(carrier.tick(c, *store_).looked, 0);  // not due yet
  for (int wait : {120, 240, 300, 300}) {
    hand.at += seconds(1);
    pass = carrier.tick(c, *store_);
    EXPECT_EQ(pass.looked, 1);
    EXPECT_EQ(pass.next_in, seconds(wait));
    hand.at += seconds(wait - 1);
  }
  EXPECT_EQ(json::parse(emu_->stats())["batches_created"]["openai"], 1);
}

TEST_F(BackgroundTest, LeakAlarmBecomesAnAlert) {
  ASSERT_EQ(emu_->configure(R"({"mode": "concatenating"})"), 200);
  settings_.lane = "openai-batch";
  testing::write_drop(root_ / "drop", tag_, 3);
  run::Coordinator c = coordinator();
  run::RunOptions o;
  o.drop = (root_ / "drop").string();
  auto id = c.start(o);
  ASSERT_TRUE(id.has_value()) << id.error().describe();
  Carrier carrier(quick(), clock_);
  auto alerts = carry(carrier, c);
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts[0].kind, "leak_alarm");
  EXPECT_EQ(alerts[0].run_id, *id);
}

TEST_F(BackgroundTest, BudgetRefusalBecomesAnAlertOnce) {
  settings_.lane = "openai-batch";
  testing::write_drop(root_ / "drop", tag_, 1);
  run::Coordinator c = coordinator();
  run::RunOptions o;
  o.drop = (root_ / "drop").string();
  o.budget_usd = 0.0000001;
  auto refused = c.run(o);
  ASSERT_FALSE(refused.has_value());
  Carrier carrier(quick(), clock_);
  auto first = carrier.tick(c, *store_);
  ASSERT_EQ(first.raised.size(), 1u);
  EXPECT_EQ(first.raised[0].kind, "budget_refused");
  EXPECT_TRUE(carrier.tick(c, *store_).raised.empty());  // raised once
}

TEST_F(BackgroundTest, HaltedAndCanaryFailedRunsBecomeAlertsOnce) {
  // One document's rows fail for good, and the policy is halt.
  ASSERT_EQ(emu_->configure(R"({"error_rows": [{"contains": "Zephyr)" + tag_ +
                            R"(1 ", "status_code": 400}]})"),
            200);
  testing::write_drop(root_ / "halt", tag_, 3);
  settings_.on_failure = run::FailurePolicy::kHalt;
  run::Coordinator c = coordinator();
  run::RunOptions o;
  o.drop = (root_ / "halt").string();
  auto halted = c.run(o);
  ASSERT_TRUE(halted.has_value()) << halted.error().describe();
  ASSERT_EQ(halted->state, "halted");
  Carrier carrier(quick(), clock_);
  auto first = carrier.tick(c, *store_);
  ASSERT_EQ(first.raised.size(), 1u);
  EXPECT_EQ(first.raised[0].kind, "run_halted");
  EXPECT_EQ(first.raised[0].run_id, halted->run_id);
  EXPECT_NE(first.raised[0].message.find("fgraph retry " + halted->run_id), std::string::npos);
  EXPECT_TRUE(carrier.tick(c, *store_).raised.empty());  // raised once

  // A batch run whose canary's live answers are ungrounded.
  ASSERT_EQ(emu_->configure(R"({"error_rows": [], "ungrounded_rows": [{"live": true}]})"), 200);
  testing::write_drop(root_ / "canary", tag_ + "c", 4);
  settings_.on_failure = run::FailurePolicy::kContinue;
  settings_.lane = "openai-batch";
  settings_.canary.fraction = 0.02;
  settings_.canary.min_documents = 2;
  run::Coordinator c2 = coordinator();
  o.drop = (root_ / "canary").string();
  auto failed = c2.run(o);
  ASSERT_TRUE(failed.has_value()) << failed.error().describe();
  ASSERT_EQ(failed->state, "canary_failed");
  auto second = carrier.tick(c2, *store_);
  ASSERT_EQ(second.raised.size(), 1u);
  EXPECT_EQ(second.raised[0].kind, "canary_failed");
  EXPECT_EQ(second.raised[0].run_id, failed->run_id);
}

TEST_F(BackgroundTest, NeoDownIsRetriedAndAlertedAfterItsThreshold) {
  testing::write_drop(root_ / "drop", tag_, 1);
  const std::string neo4j = settings_.neo4j.url;
  faults_->set_before([neo4j](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    if (req.url.rfind(neo4j, 0) == 0) return Result<HttpResponse>(make_error(ErrorCode::kUnavailable, "down (injected)"));
    return std::nullopt;
  });
  run::Coordinator c = coordinator();
  run::RunOptions o;
  o.drop = (root_ / "drop").string();
  ASSERT_TRUE(c.start(o).has_value());
  CarrierSettings s = quick();
  s.neo4j_down_alert = seconds(0);
  Carrier carrier(s, clock_);
  auto first = carrier.tick(c, *store_);  // extracts, verifies, cannot stage
  EXPECT_TRUE(carrier.neo4j_down());
  auto second = carrier.tick(c, *store_);
  ASSERT_EQ(second.raised.size(), 1u);
  EXPECT_EQ(second.raised[0].kind, "neo4j_unreachable");
  faults_->set_before(nullptr);
  auto third = carrier.tick(c, *store_);
  EXPECT_EQ(third.finished.size(), 1u);
  EXPECT_FALSE(carrier.neo4j_down());
}

TEST_F(BackgroundTest, InboxTakesSettledFilesRunsThemAndFilesThemAway) {
  const fs::path inbox = root_ / "inbox";
  testing::write_drop(inbox, tag_, 2);
  std::ofstream(inbox / "empty.txt").flush();  // unreadable as a filing: failed with a reason
  std::ofstream(inbox / ".partial").flush();   // hidden: left alone
  Inbox box(inbox, seconds(0));
  run::Coordinator c = coordinator();
  auto sweep = box.sweep(c, {});
  ASSERT_TRUE(sweep.has_value()) << sweep.error().describe();
  ASSERT_EQ(sweep->started.size(), 1u);
  EXPECT_EQ(sweep->taken, 3);
  EXPECT_TRUE(fs::exists(inbox / ".partial"));
  EXPECT_FALSE(fs::exists(inbox / "doc0.txt"));
  const std::string run_id = sweep->started[0];

  auto again = box.sweep(c, {});  // nothing new, the run not finished: nothing happens
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->started.empty());

  Carrier carrier(quick(), clock_);
  carry(carrier, c);
  auto filed = box.sweep(c, {});
  ASSERT_TRUE(filed.has_value()) << filed.error().describe();
  ASSERT_EQ(filed->filed, std::vector<std::string>{run_id});
  const fs::path done = inbox / ".fgraph" / "done" / run_id;
  EXPECT_TRUE(fs::exists(done / "doc0.txt"));
  EXPECT_TRUE(fs::exists(done / "doc1.txt"));
  EXPECT_FALSE(fs::exists(done / "empty.txt"));
  EXPECT_TRUE(fs::exists(inbox / ".fgraph" / "failed" / "empty.txt"));
  std::ifstream reason(inbox / ".fgraph" / "failed" / "empty.txt.reason");
  std::string why((std::istreambuf_iterator<char>(reason)), std::istreambuf_iterator<char>());
  EXPECT_NE(why.find("empty_file"), std::string::npos) << why;
  auto report = c.report(run_id);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->documents_staged, 2);
}

// A crash after the files were taken and before (or after) the run was recorded: the
// next sweep adopts the taken folder; it never starts a second run for it.
TEST_F(BackgroundTest, InboxAdoptsATakenFolderOnceAfterACrash) {
  const fs::path inbox = root_ / "inbox";
  const fs::path taken = inbox / ".fgraph" / "taken" / "drop-crashed";
  testing::write_drop(taken, tag_, 1);
  Inbox box(inbox, seconds(0));
  run::Coordinator c = coordinator();
  auto first = box.sweep(c, {});
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  ASSERT_EQ(first->started.size(), 1u);
  auto second = box.sweep(c, {});
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->started.empty());
  auto runs = c.runs();
  ASSERT_TRUE(runs.has_value());
  EXPECT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().drop, taken.string());
}

}  // namespace
}  // namespace fgraph::service
