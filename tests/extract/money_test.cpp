// What the extract lanes spend: the budget gate, prices (unpriced models, added prices,
// cached prompt tokens), the spend caps, batch metadata tags and the plan's listing
// (fixture: lanes_fixture.h).
#include "tests/extract/lanes_fixture.h"

namespace fgraph::extract {
namespace {

using namespace testing_lanes;
using nlohmann::json;
namespace fs = std::filesystem;

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

TEST_F(ExtractLanesTest, SpendCapsHoldOnRetriesAndTheHeldRowsWaitForAResume) {
  // A model whose live price is far above its batch price: the live strike that follows a
  // failed batch row is what would break the cap, though the plan fits under it.
  auto added = PriceTable::parse(R"({"models": {"openai": {"gpt-5.4-mini":
      {"sync": {"input": 2000.0, "output": 8000.0}, "batch": {"input": 2.0, "output": 8.0}}}}})");
  ASSERT_TRUE(added.has_value()) << added.error().describe();
  PriceTable prices = PriceTable::bundled();
  prices.merge(*added);
  auto docs = make_docs(3);
  json cfg{{"error_rows", json::array({json{{"contains", docs[1].text.substr(0, 20)}, {"status_code", 500}}})}};
  ASSERT_EQ(emu_->configure(cfg.dump()), 200);
  auto o = options(LaneKind::kOpenAiBatch);
  o.plan.model = "gpt-5.4-mini";
  o.plan.prices = &prices;
  o.primary_attempts = 1;  // one batch attempt, then the live strike
  o.http_retry.max_attempts = 1;
  Extractor planner(*store_, *losing_, clock_, o);
  const double estimate = planner.plan(docs)->est_cost_usd;
  ASSERT_GT(estimate, 0);
  o.daily_cap_usd = estimate * 2;
  auto r = run(o, "run-retry-cap", docs);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail, "spend_cap");
  EXPECT_NE(r.error().message.find("budget.daily_usd"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not sent again"), std::string::npos) << r.error().message;
  // The batch went out and two rows completed; the failed row went nowhere else, and is
  // not a dead letter.
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE run_id = 'run-retry-cap' AND lane = 'openai-sync'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE run_id = 'run-retry-cap' AND outcome = 'completed'"), 2);
  auto dead = dead_letters(*store_, "run-retry-cap");
  ASSERT_TRUE(dead.has_value());
  EXPECT_TRUE(dead->empty());
  // Still counted: the held row is submitted and neither completed nor dead (in flight).
  auto held = reconcile(*store_, "run-retry-cap");
  ASSERT_TRUE(held.has_value()) << held.error().describe();
  EXPECT_EQ(held->submitted, 3);
  EXPECT_EQ(held->in_flight, 1);
  EXPECT_EQ(held->failed_by_outcome["transient"], 1);
  // Once the cap allows (here: lifted), the same run sends it on its next step.
  ASSERT_EQ(emu_->reset(), 200);
  o.daily_cap_usd.reset();
  auto resumed = run(o, "run-retry-cap", docs);
  ASSERT_TRUE(resumed.has_value()) << resumed.error().describe();
  EXPECT_EQ(resumed->dead_lettered, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE run_id = 'run-retry-cap' AND lane = 'openai-sync'"
                  " AND outcome = 'completed'"), 1);
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
