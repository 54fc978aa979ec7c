// Neo4j killed (SIGKILL) while a document is being staged: the client reports the server
// unavailable, and after a restart the document is absent (or, if its commit won the race,
// complete; never partial) while an earlier, committed document is complete. Runs a Neo4j of its own (tools/neo4j, own FGRAPH_HOME), never the
// shared fixture server.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "graph/graph.h"
#include "tests/graph/graph_test_data.h"
#include "tests/support/fault_transport.h"
#include "tests/support/neo4j_test_env.h"

namespace fgraph::graph {
namespace {

using fgraph::testing::FaultTransport;

class OwnNeo4j {
 public:
  OwnNeo4j() {
    std::string env_file = FGRAPH_NEO4J_TEST_ENV;
    home_ = env_file.substr(0, env_file.rfind('/')) + "-crash";
    prefix_cmd_ = "FGRAPH_HOME='" + home_ + "' FGRAPH_NEO4J_PORT=0 FGRAPH_NEO4J_BOLT_PORT=0 FGRAPH_NEO4J_START_TIMEOUT=600 " +
                  "FGRAPH_NEO4J_PASSWORD=fgraph-crash-password '" + FGRAPH_SOURCE_DIR + "/tools/neo4j' ";
  }
  ~OwnNeo4j() { (void)std::system((prefix_cmd_ + "stop >/dev/null 2>&1").c_str()); }

  // Starts (or restarts) the server; returns false when it does not come up.
  bool start() {
    if (std::system((prefix_cmd_ + "start >/dev/null").c_str()) != 0) return false;
    const std::string file = home_ + "/crash.env";
    if (std::system((prefix_cmd_ + "env > '" + file + "'").c_str()) != 0) return false;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) kv_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return !kv_["FGRAPH_NEO4J_URL"].empty();
  }
  void wipe() { (void)std::system(("rm -rf '" + home_ + "/neo4j'").c_str()); }
  void kill_hard() { ::kill(std::stoi(kv_["FGRAPH_NEO4J_PID"]), SIGKILL); }
  Neo4jOptions options() {
    Neo4jOptions o;
    o.url = kv_["FGRAPH_NEO4J_URL"];
    o.password = kv_["FGRAPH_NEO4J_PASSWORD"];
    o.connect_timeout = std::chrono::milliseconds(2000);
    return o;
  }

 private:
  std::string home_;
  std::string prefix_cmd_;
  std::map<std::string, std::string> kv_;
};

TEST(GraphCrashTest, KilledMidDocumentLeavesItAbsentAndEarlierDocumentsComplete) {
  auto schema = load_graph_schema(std::string(FGRAPH_SOURCE_DIR) + "/schemas/extraction.v1.json");
  ASSERT_TRUE(schema);
  OwnNeo4j server;
  server.wipe();
  ASSERT_TRUE(server.start()) << "could not start a Neo4j of our own";

  auto real = make_curl_transport();
  FaultTransport fault(*real);
  ManualClock clock;
  const auto run = fgraph::testing::make_run("crash-run");
  const auto d1 = fgraph::testing::make_doc("c-", "crash-doc1", run.run_id, 8, 10);
  const auto d2 = fgraph::testing::make_doc("c-", "crash-doc2", run.run_id, 4000, 6000, 50);
  std::string committed_export;
  {
    GraphClient client(server.options(), *schema, fault, clock);
    ASSERT_TRUE(client.bootstrap_schema());
    ASSERT_TRUE(client.stage_document(run, d1.doc, d1.entities, d1.relations));
    auto e = client.export_graph();
    ASSERT_TRUE(e);
    committed_export = *e;

    // A document large enough that the server is still executing its one statement when
    // it is killed, 300 ms after the request went out.
    std::jthread killer;
    fault.set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
      if (!killer.joinable() && req.body.find("crash-doc2") != std::string::npos) {
        killer = std::jthread([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          server.kill_hard();
        });
      }
      return std::nullopt;
    });
    auto r = client.stage_document(run, d2.doc, d2.entities, d2.relations);
    ASSERT_TRUE(killer.joinable());
    killer.join();
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().describe();
    }
  }

  ASSERT_TRUE(server.start()) << "could not restart Neo4j on the same data";
  GraphClient after(server.options(), *schema, *real, clock);
  auto e = after.export_graph();
  ASSERT_TRUE(e) << e.error().describe();
  // doc1 complete; doc2 absent, or complete if the commit won the race, never partial.
  if (e->find("crash-doc2") == std::string::npos) {
    EXPECT_EQ(*e, committed_export);
    ::testing::Test::RecordProperty("doc2", "absent");
  } else {
    GraphClient probe(server.options(), *schema, *real, clock);
    auto n = probe.run_auto_commit(
        {"MATCH ()-[x]->() WHERE x.doc_id = 'crash-doc2' RETURN count(x)", "{}"});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->rows_json.at(0), "[" + std::to_string(d2.relations.size()) + "]");
    auto m = probe.run_auto_commit(
        {"MATCH (:Entity)-[m:MENTIONED_IN]->(:Document {doc_id: 'crash-doc2'}) RETURN count(m)", "{}"});
    ASSERT_TRUE(m);
    EXPECT_EQ(m->rows_json.at(0), "[" + std::to_string(d2.entities.size()) + "]");
    ::testing::Test::RecordProperty("doc2", "complete");
  }
}

}  // namespace
}  // namespace fgraph::graph
