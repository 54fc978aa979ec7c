// Neo4j killed (SIGKILL) while a document is being staged alone and, at the same time, a
// batch of documents in one request (each its own transaction), after the batch's first
// document committed: the client reports the
// server unavailable, and after a restart the lone document is absent (or, if its commit
// won the race, complete; never partial), each document of the batch is complete or
// absent, and an earlier, committed document is complete. Runs a Neo4j of its own
// (tools/neo4j, own FGRAPH_HOME), never the shared fixture server; one kill and one
// restart cover both paths.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

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

TEST(GraphCrashTest, KilledMidRequestLeavesEachDocumentCompleteOrAbsent) {
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
  // The batch: its own run and entities, so that rolling it back leaves the rest as it was.
  const auto batch_run = fgraph::testing::make_run("batch-run");
  constexpr int kBatchDocs = 30, kEntities = 100, kRelations = 150;
  std::vector<GraphClient::StageInput> batch;
  nlohmann::json batch_ids = nlohmann::json::array();
  for (int i = 0; i < kBatchDocs; ++i) {
    auto d = fgraph::testing::make_doc("b-", "batch-doc" + std::to_string(i), batch_run.run_id, kEntities,
                                       kRelations, i * 50);
    batch.push_back({d.doc, d.entities, d.relations});
    batch_ids.push_back(d.doc.doc_id);
  }
  std::string committed_export;
  std::vector<Result<Counters>> batch_results;
  {
    GraphClient client(server.options(), *schema, fault, clock);
    ASSERT_TRUE(client.bootstrap_schema());
    ASSERT_TRUE(client.stage_document(run, d1.doc, d1.entities, d1.relations));
    auto e = client.export_graph();
    ASSERT_TRUE(e);
    committed_export = *e;

    // A document, and a batch, large enough that the server is still executing them when
    // it is killed: once both requests went out and the batch's first document committed
    // (visible to another reader), so that the kill lands between documents of the batch.
    FaultTransport batch_fault(*real);  // one FaultTransport per thread
    Neo4jOptions batched = server.options();
    batched.documents_per_request = kBatchDocs;
    GraphClient batch_client(batched, *schema, batch_fault, clock);
    GraphClient watcher(server.options(), *schema, *real, clock);
    ASSERT_TRUE(batch_client.connect());
    ASSERT_TRUE(watcher.connect());
    std::atomic<int> sent{0};
    std::jthread killer;
    auto arm = [&](const HttpRequest& req, const char* marker) {
      if (req.body.find(marker) != std::string::npos && ++sent == 2) {
        killer = std::jthread([&] {
          for (int i = 0; i < 1000; ++i) {
            auto n = watcher.run_auto_commit({"MATCH (d:Document) WHERE d.doc_id STARTS WITH 'batch-doc' "
                                              "RETURN count(d)", "{}"});
            if (!n || n->rows_json.at(0) != "[0]") break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
          server.kill_hard();
        });
      }
    };
    fault.set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
      arm(req, "crash-doc2");
      return std::nullopt;
    });
    batch_fault.set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
      arm(req, "batch-doc0");
      return std::nullopt;
    });
    std::jthread batch_thread([&] { batch_results = batch_client.stage_documents(batch_run, batch, 1); });
    auto r = client.stage_document(run, d2.doc, d2.entities, d2.relations);
    batch_thread.join();
    ASSERT_TRUE(killer.joinable());
    killer.join();
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().describe();
    }
    int reported = 0;
    for (const auto& b : batch_results) {
      if (b) {
        ++reported;
      } else {
        EXPECT_EQ(b.error().code, ErrorCode::kUnavailable) << b.error().describe();
      }
    }
    ::testing::Test::RecordProperty("batch_reported_committed", reported);
  }

  ASSERT_TRUE(server.start()) << "could not restart Neo4j on the same data";
  {
    // Each document of the batch: all its facts, mentions and staging record, or nothing.
    GraphClient probe(server.options(), *schema, *real, clock);
    auto counts = probe.run_auto_commit(
        {"UNWIND $ids AS id RETURN id, "
         "COUNT { MATCH (:Entity)-[x]->(:Entity) WHERE x.doc_id = id }, "
         "COUNT { MATCH (:Entity)-[:MENTIONED_IN]->(:Document {doc_id: id}) }, "
         "COUNT { MATCH (:Document {doc_id: id})-[:STAGED_BY]->(:Run) }",
         nlohmann::json{{"ids", batch_ids}}.dump()});
    ASSERT_TRUE(counts) << counts.error().describe();
    ASSERT_EQ(counts->rows_json.size(), static_cast<std::size_t>(kBatchDocs));
    int complete = 0;
    for (std::size_t i = 0; i < counts->rows_json.size(); ++i) {
      const std::string& text = counts->rows_json[i];
      auto row = nlohmann::json::parse(text);
      const bool whole = row[1] == kRelations && row[2] == kEntities && row[3] == 1;
      const bool absent = row[1] == 0 && row[2] == 0 && row[3] == 0;
      EXPECT_TRUE(whole || absent) << "partial document: " << text;
      // What the client reported committed survived the kill.
      if (i < batch_results.size() && batch_results[i]) {
        EXPECT_TRUE(whole) << text;
      }
      complete += whole;
    }
    ::testing::Test::RecordProperty("batch_complete_after_restart", complete);
    EXPECT_GE(complete, 1);  // the one seen committed before the kill
    ASSERT_TRUE(probe.rollback_run(batch_run.run_id));
  }
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
