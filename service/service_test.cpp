// Unit tests of the service's pure parts: routing, the OpenAPI document, path checks,
// token comparison, Prometheus text, and the job executor's conflicts.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>

#include <gtest/gtest.h>

#include "service/internal/auth.h"
#include "service/internal/http.h"
#include "service/internal/metrics.h"
#include "service/internal/paths.h"
#include "service/internal/router.h"
#include "service/service.h"

namespace fgraph::service {
namespace {

namespace fs = std::filesystem;

std::string op_of(const RouteMatch& m) {
  return m.route < 0 ? "" : std::string(routes()[m.route].operation_id);
}

TEST(RouterTest, MatchesLiteralAndParameterSegments) {
  auto m = match_route(routes(), "GET", "/v1/runs/run-1");
  EXPECT_EQ(op_of(m), "get_run");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0], "run-1");
  EXPECT_EQ(op_of(match_route(routes(), "GET", "/v1/runs")), "list_runs");
  EXPECT_EQ(op_of(match_route(routes(), "POST", "/v1/runs")), "start_run");
  EXPECT_EQ(op_of(match_route(routes(), "GET", "/v1/registry/entities/ent_1/history")),
            "entity_history");
}

TEST(RouterTest, DecodesParametersAndRefusesBadEscapes) {
  auto m = match_route(routes(), "PUT", "/v1/drops/d%201/..%2Fx");
  EXPECT_EQ(op_of(m), "upload_file");
  EXPECT_EQ(m.params, (std::vector<std::string>{"d 1", "../x"}));
  auto bad = match_route(routes(), "GET", "/v1/runs/%zz");
  EXPECT_EQ(bad.route, -1);
  EXPECT_TRUE(bad.bad_encoding);
}

TEST(RouterTest, UnknownPathIsNotFoundAndWrongMethodListsAllowed) {
  auto none = match_route(routes(), "GET", "/v1/nothing");
  EXPECT_EQ(none.route, -1);
  EXPECT_TRUE(none.allow.empty());
  auto wrong = match_route(routes(), "DELETE", "/v1/runs");
  EXPECT_EQ(wrong.route, -1);
  EXPECT_EQ(wrong.allow, (std::vector<std::string>{"GET", "POST"}));
  // An empty segment never fills a parameter.
  EXPECT_EQ(match_route(routes(), "GET", "/v1/runs/").route, -1);
  EXPECT_EQ(match_route(routes(), "GET", "/v1/runs//").route, -1);
}

TEST(OpenApiTest, DocumentsEveryRouteAndNothingElse) {
  auto doc = openapi_document(routes(), "1.2.3");
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::size_t operations = 0;
  for (const auto& [path, methods] : doc["paths"].items()) {
    for (const auto& [method, op] : methods.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(c));
      auto m = match_route(routes(), upper, path);
      ASSERT_GE(m.route, 0) << method << " " << path;
      EXPECT_EQ(op["operationId"], std::string(routes()[m.route].operation_id));
      ++operations;
    }
  }
  EXPECT_EQ(operations, routes().size());
  // Only /healthz is open.
  EXPECT_EQ(doc["paths"]["/healthz"]["get"]["security"], nlohmann::json::array());
  EXPECT_FALSE(doc["paths"]["/v1/runs"]["get"].contains("security"));
}

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("fgraph-paths-" + random_hex(4));
    root_ = base_ / "root";
    fs::create_directories(root_ / "drop");
    fs::create_directories(base_ / "outside");
    fs::create_symlink(base_ / "outside", root_ / "out");
    fs::create_symlink(root_ / "drop", root_ / "in");
  }
  void TearDown() override { fs::remove_all(base_); }
  fs::path base_, root_;
};

TEST_F(PathsTest, AcceptsPathsInsideTheRoot) {
  auto p = resolve_under(root_, "drop/a.txt");
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(*p, fs::canonical(root_) / "drop" / "a.txt");
  auto nested = resolve_under(root_, "new/deeper/file.htm");
  ASSERT_TRUE(nested);
  auto via_link = resolve_under(root_, "in/x");
  ASSERT_TRUE(via_link);
  EXPECT_EQ(*via_link, fs::canonical(root_) / "drop" / "x");
}

TEST_F(PathsTest, RefusesEveryWayOut) {
  for (const std::string& bad : std::vector<std::string>{"", "/etc/passwd", "..", "../x", "drop/../../x", "drop/./x", "drop//x",
                          "drop/", "out/x", "out", std::string("a\0b", 3), "a\nb", "a\x1b[31m",
                          "a\x7f", "a\\..\\b", "."}) {
    auto p = resolve_under(root_, bad);
    EXPECT_FALSE(p) << "accepted: " << bad;
    if (!p) {
      EXPECT_EQ(p.error().code, ErrorCode::kInvalidInput);
    }
  }
  EXPECT_FALSE(fs::exists(base_ / "x"));
}

TEST(AuthTest, ComparesTokensExactly) {
  EXPECT_TRUE(tokens_equal("abc123", "abc123"));
  EXPECT_FALSE(tokens_equal("abc123", "abc124"));
  EXPECT_FALSE(tokens_equal("abc123", "abc1234"));
  EXPECT_FALSE(tokens_equal("", "x"));
}

TEST(AuthTest, ReadsOnlyBearerTokens) {
  EXPECT_EQ(bearer_token("Bearer tok"), "tok");
  EXPECT_EQ(bearer_token("bearer  tok "), "tok");
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token(""));
}

TEST(AuthTest, CreatesAPrivateTokenFileOnceAndRefusesAReadableOne) {
  fs::path home = fs::temp_directory_path() / ("fgraph-token-" + random_hex(4));
  auto first = load_or_create_token("", home.string());
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->token.size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(first->file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = load_or_create_token("", home.string());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->token, first->token);
  ::chmod(first->file.c_str(), 0644);
  auto open = load_or_create_token("", home.string());
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().code, ErrorCode::kInvalidInput);
  auto configured = load_or_create_token("given", home.string());
  ASSERT_TRUE(configured);
  EXPECT_EQ(configured->token, "given");
  fs::remove_all(home);
}

TEST(PrometheusTest, FormatsFamiliesWithEscapedLabels) {
  std::vector<MetricFamily> f = {
      {"fgraph_x", "Things\nby kind", "gauge", {{{{"kind", "a\"b\\c\nd"}}, 3}, {{}, 0.25}}},
      {"fgraph_empty", "Nothing", "counter", {}}};
  EXPECT_EQ(format_prometheus(f),
            "# HELP fgraph_x Things\\nby kind\n"
            "# TYPE fgraph_x gauge\n"
            "fgraph_x{kind=\"a\\\"b\\\\c\\nd\"} 3\n"
            "fgraph_x 0.25\n"
            "# HELP fgraph_empty Nothing\n"
            "# TYPE fgraph_empty counter\n");
}

TEST(PrometheusTest, CountsRequestsByRouteAndStatus) {
  RequestCounter c;
  c.add("get_run", 200);
  c.add("get_run", 200);
  c.add("-", 404);
  EXPECT_EQ(format_prometheus({c.family()}),
            "# HELP fgraph_http_requests_total HTTP responses by route and status\n"
            "# TYPE fgraph_http_requests_total counter\n"
            "fgraph_http_requests_total{route=\"-\",status=\"404\"} 1\n"
            "fgraph_http_requests_total{route=\"get_run\",status=\"200\"} 2\n");
}

TEST(HttpTest, DecodesPercentEscapesAndQueries) {
  EXPECT_EQ(percent_decode("a%20b%2F"), "a b/");
  EXPECT_FALSE(percent_decode("a%2"));
  EXPECT_FALSE(percent_decode("%g0"));
  auto q = parse_query("q=Acme+Corp&type=COMPANY&limit=5&x");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["q"], "Acme Corp");
  EXPECT_EQ((*q)["limit"], "5");
  EXPECT_FALSE(parse_query("q=%zz"));
}

TEST(JobExecutorTest, RunsJobsInOrderAndRefusesConflictingKeys) {
  JobExecutor jobs;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::vector<int> order;
  std::mutex mu;
  ASSERT_TRUE(jobs.submit({"run:a"}, [&](JobExecutor::Context& ctx) {
    EXPECT_TRUE(ctx.claim("run:b"));
    gate.wait();
    std::lock_guard l(mu);
    order.push_back(1);
  }));
  auto conflict = jobs.submit({"run:a"}, [](JobExecutor::Context&) {});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().detail, "conflict");
  std::promise<void> second_done;
  ASSERT_TRUE(jobs.submit({"run:c"}, [&](JobExecutor::Context&) {
    std::lock_guard l(mu);
    order.push_back(2);
    second_done.set_value();
  }));
  // The key the running job claimed is refused too, until it ends.
  for (int i = 0; i < 100 && !jobs.busy("run:b"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(jobs.busy("run:b"));
  EXPECT_FALSE(jobs.submit({"run:b"}, [](JobExecutor::Context&) {}));
  release.set_value();
  second_done.get_future().wait();
  std::lock_guard l(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(AlertListTest, KeepsOneAlertPerKeyUntilResolved) {
  AlertList alerts;
  alerts.add({"batch:1", "batch_open_too_long", "open 21 h", "run-1", ""});
  alerts.add({"batch:1", "batch_open_too_long", "open 22 h", "run-1", ""});
  alerts.add({"leak:2", "leak_alarm", "leak", "run-2", ""});
  auto open = alerts.open();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].message, "open 22 h");
  EXPECT_FALSE(open[0].raised_at.empty());
  EXPECT_TRUE(alerts.resolve("batch:1"));
  EXPECT_FALSE(alerts.resolve("batch:1"));
  EXPECT_EQ(alerts.open().size(), 1u);
}

}  // namespace
}  // namespace fgraph::service
