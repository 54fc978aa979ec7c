// Graph stage against the real Neo4j of the `neo4j` fixture, through both HTTP surfaces
// (Query API v2 and the legacy transactional endpoints). Every test works under its own
// id prefix, so tests may run in parallel on the shared server.
#include <gtest/gtest.h>

#include <tuple>

#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "tests/graph/graph_test_data.h"
#include "tests/support/fault_transport.h"
#include "tests/support/neo4j_test_env.h"

namespace fgraph::graph {
namespace {

using fgraph::testing::DocInput;
using fgraph::testing::FaultTransport;
using fgraph::testing::make_doc;
using fgraph::testing::make_edge;
using fgraph::testing::make_entity;
using fgraph::testing::make_run;
using nlohmann::json;

// The request that stages a document (its one statement opens with the Run MERGE).
bool is_staging_request(const HttpRequest& req) {
  return req.body.find("MERGE (r:Run {run_id: $run.run_id})") != std::string::npos;
}
// The request that stages several documents, each in its own transaction.
bool is_batch_request(const HttpRequest& req) {
  return is_staging_request(req) && req.body.find(" TRANSACTIONS OF 1 ROWS") != std::string::npos;
}
// Makes the real server fail, at run time and after the document's first writes, the
// transaction of the batch's document number `index` (division by zero).
void fail_in_batch(HttpRequest& req, int index) {
  const std::string needle = "MERGE (d)-[:STAGED_BY]->(r) WITH d, item ";
  if (auto at = req.body.find(needle); at != std::string::npos) {
    req.body.insert(at + needle.size(), "WHERE 1 / (item.i - " + std::to_string(index) +
                                            ") IS NOT NULL WITH d, item ");
  }
}

class GraphIntegrationTest : public ::testing::TestWithParam<Neo4jApi> {
 protected:
  void SetUp() override {
    env_ = fgraph::testing::neo4j_test_env();
    auto schema = load_graph_schema(std::string(FGRAPH_SOURCE_DIR) + "/schemas/extraction.v1.json");
    ASSERT_TRUE(schema) << schema.error().describe();
    schema_ = *schema;
    real_ = make_curl_transport();
    fault_ = std::make_unique<FaultTransport>(*real_);
    client_ = make_client(*fault_);
    ASSERT_TRUE(client_->bootstrap_schema());
    prefix_ = fgraph::testing::unique_test_prefix();
  }
  void TearDown() override {
    // Leave the shared server as we found it.
    if (client_ && !prefix_.empty()) {
      fault_->set_before(nullptr);
      (void)client_->run_auto_commit(
          {"MATCH (n) WHERE coalesce(n.entity_id, n.doc_id, n.run_id) STARTS WITH $p DETACH DELETE n",
           json{{"p", prefix_}}.dump()});
    }
  }
  Neo4jOptions options() const {
    Neo4jOptions o;
    o.url = env_.url;
    o.user = env_.user;
    o.password = env_.password;
    o.api = GetParam();
    o.retry.initial_backoff = std::chrono::milliseconds(100);
    o.rollback_batch_size = 3;  // several bounded transactions even for small tests
    return o;
  }
  std::unique_ptr<GraphClient> make_client(HttpTransport& t) {
    return std::make_unique<GraphClient>(options(), schema_, t, clock_);
  }
  // A client of the fault transport staging `per_request` documents per request.
  std::unique_ptr<GraphClient> batching_client(std::size_t per_request) {
    Neo4jOptions o = options();
    o.documents_per_request = per_request;
    return std::make_unique<GraphClient>(o, schema_, *fault_, clock_);
  }
  // `n` small documents whose entities do not overlap.
  std::vector<GraphClient::StageInput> small_docs(const RunInfo& run, int n) {
    std::vector<GraphClient::StageInput> inputs;
    for (int i = 0; i < n; ++i) {
      auto d = make_doc(prefix_, prefix_ + "doc" + std::to_string(i), run.run_id, 3, 4, i * 10);
      inputs.push_back({d.doc, d.entities, d.relations});
    }
    return inputs;
  }
  // The export of `inputs` staged one document per request (then rolled back again).
  std::string staged_one_at_a_time(const RunInfo& run, const std::vector<GraphClient::StageInput>& inputs) {
    for (const auto& in : inputs) {
      auto r = client_->stage_document(run, in.document, in.entities, in.relations);
      EXPECT_TRUE(r) << r.error().describe();
    }
    std::string e = exported();
    EXPECT_TRUE(client_->rollback_run(run.run_id));
    EXPECT_EQ(exported(), "");
    return e;
  }
  std::string exported() {
    auto e = client_->export_graph({prefix_});
    EXPECT_TRUE(e) << e.error().describe();
    return e ? *e : std::string();
  }
  std::int64_t count(const std::string& cypher) {
    auto r = client_->run_auto_commit({cypher, json{{"p", prefix_}}.dump()});
    EXPECT_TRUE(r) << r.error().describe();
    if (!r || r->rows_json.empty()) return -1;
    return json::parse(r->rows_json[0])[0].get<std::int64_t>();
  }
  std::int64_t count_relations() {
    return count("MATCH (a)-[r]->() WHERE a.entity_id STARTS WITH $p AND r.fact_id IS NOT NULL RETURN count(r)");
  }
  Result<Counters> stage(const RunInfo& run, const DocInput& d) {
    return client_->stage_document(run, d.doc, d.entities, d.relations);
  }

  fgraph::testing::Neo4jTestEnv env_;
  GraphSchema schema_;
  ManualClock clock_;
  std::unique_ptr<HttpTransport> real_;
  std::unique_ptr<FaultTransport> fault_;
  std::unique_ptr<GraphClient> client_;
  std::string prefix_;
};

TEST_P(GraphIntegrationTest, DiscoveryReportsTheServerAndTheChosenApi) {
  auto info = client_->connect();
  ASSERT_TRUE(info) << info.error().describe();
  EXPECT_EQ(info->version.rfind("5.", 0), 0u) << info->version;
  EXPECT_TRUE(info->has_query_api);
  EXPECT_EQ(info->api_in_use, GetParam() == Neo4jApi::kLegacy ? Neo4jApi::kLegacy : Neo4jApi::kQueryV2);
}

TEST_P(GraphIntegrationTest, StageReadBackStageAgainCountsUnchanged) {
  const auto run = make_run(prefix_ + "run1");
  const auto d = make_doc(prefix_, prefix_ + "doc1", run.run_id, 8, 10);
  auto first = stage(run, d);
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->attempts, 1);
  // 8 entities + Document + Run; 10 facts + 8 MENTIONED_IN + 1 STAGED_BY.
  EXPECT_EQ(first->nodes_created, 10);
  EXPECT_EQ(first->relationships_created, 19);
  EXPECT_EQ(count_relations(), 10);
  EXPECT_EQ(count("MATCH (e:Entity)-[:MENTIONED_IN]->(d:Document) WHERE e.entity_id STARTS WITH $p "
                  "RETURN count(*)"), 8);
  EXPECT_EQ(count("MATCH (e:Entity:Company) WHERE e.entity_id STARTS WITH $p RETURN count(e)"), 4);
  // Provenance on every fact.
  EXPECT_EQ(count("MATCH (a)-[r]->() WHERE a.entity_id STARTS WITH $p AND r.fact_id IS NOT NULL "
                  "AND r.run_id IS NOT NULL AND r.doc_id IS NOT NULL AND r.evidence IS NOT NULL "
                  "RETURN count(r)"), 10);
  const std::string before = exported();

  auto second = client_->replay(run, d.doc, d.entities, d.relations);
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(second->nodes_created, 0);
  EXPECT_EQ(second->relationships_created, 0);
  EXPECT_EQ(count_relations(), 10);
  EXPECT_EQ(exported(), before);
}

TEST_P(GraphIntegrationTest, RollbackRunRestoresTheGraphAndKeepsEarlierRunsFacts) {
  const auto run_a = make_run(prefix_ + "runA");
  const auto run_b = make_run(prefix_ + "runB");
  const auto a = make_doc(prefix_, prefix_ + "docA", run_a.run_id, 4, 5);
  ASSERT_TRUE(stage(run_a, a));
  const std::string after_a = exported();

  // Run B: a document sharing entities e0..e3 with run A, adding e4..e7, and a second
  // document of its own; plus run B re-staging run A's document (same facts, new run).
  DocInput b = make_doc(prefix_, prefix_ + "docB", run_b.run_id, 8, 10);
  DocInput b2 = make_doc(prefix_, prefix_ + "docB2", run_b.run_id, 3, 4, 20);
  DocInput a_again = make_doc(prefix_, prefix_ + "docA", run_b.run_id, 4, 5);
  ASSERT_TRUE(stage(run_b, b));
  ASSERT_TRUE(stage(run_b, b2));
  ASSERT_TRUE(stage(run_b, a_again));
  const std::string after_b = exported();
  ASSERT_NE(after_b, after_a);
  EXPECT_EQ(count_relations(), 5 + 10 + 4 + 5);

  auto rolled = client_->rollback_run(run_b.run_id);
  ASSERT_TRUE(rolled) << rolled.error().describe();
  EXPECT_GT(rolled->relationships_deleted, 0);
  EXPECT_EQ(exported(), after_a);  // byte-identical
  EXPECT_EQ(count_relations(), 5);
  EXPECT_EQ(count("MATCH (r:Run) WHERE r.run_id STARTS WITH $p RETURN count(r)"), 1);

  // Replay of run B from the same inputs gives back the same graph.
  ASSERT_TRUE(stage(run_b, b));
  ASSERT_TRUE(stage(run_b, b2));
  ASSERT_TRUE(stage(run_b, a_again));
  EXPECT_EQ(exported(), after_b);

  // Rolling back run A now keeps every entity that run B still mentions.
  ASSERT_TRUE(client_->rollback_run(run_a.run_id));
  EXPECT_EQ(count_relations(), 10 + 4 + 5);
  EXPECT_EQ(count("MATCH (e:Entity) WHERE e.entity_id STARTS WITH $p RETURN count(e)"), 8 + 3);
  // Rolling back an unknown run changes nothing.
  auto unknown = client_->rollback_run(prefix_ + "no-such-run");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->relationships_deleted + unknown->nodes_deleted, 0);
}

TEST_P(GraphIntegrationTest, RollbackDocumentRemovesOnlyThatDocument) {
  const auto run = make_run(prefix_ + "run1");
  const auto d1 = make_doc(prefix_, prefix_ + "doc1", run.run_id, 4, 6);
  const auto d2 = make_doc(prefix_, prefix_ + "doc2", run.run_id, 6, 7);  // shares e0..e3
  ASSERT_TRUE(stage(run, d1));
  const std::string after_d1 = exported();
  ASSERT_TRUE(stage(run, d2));
  auto rolled = client_->rollback_document(d2.doc.doc_id);
  ASSERT_TRUE(rolled) << rolled.error().describe();
  EXPECT_EQ(rolled->relationships_deleted, 7 + 6 + 1);  // facts, mentions, STAGED_BY
  EXPECT_EQ(rolled->nodes_deleted, 3);                  // e4, e5 and the document
  EXPECT_EQ(exported(), after_d1);
}

TEST_P(GraphIntegrationTest, FailingStatementMidTransactionLeavesNoneOfTheDocument) {
  const auto run = make_run(prefix_ + "run1");
  const auto d = make_doc(prefix_, prefix_ + "doc1", run.run_id, 6, 10);
  // The relations statement runs after the document and its entities were written in the
  // same transaction; make the real server fail it at run time (division by zero).
  fault_->set_before([](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    const std::string needle = "UNWIND $r0 AS row";
    if (auto at = req.body.find(needle); at != std::string::npos) {
      req.body.replace(at, needle.size(), "UNWIND $r0 AS row WITH row WHERE 1 / size($r0[5..]) = 0");
    }
    return std::nullopt;
  });
  auto r = stage(run, d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermanent) << r.error().describe();
  EXPECT_EQ(r.error().detail, "Neo.ClientError.Statement.ArithmeticError");
  EXPECT_EQ(exported(), "");  // no document, no run, no entity, no edge
  EXPECT_TRUE(clock_.sleeps().empty());  // a client error is not retried
}

TEST_P(GraphIntegrationTest, DeadlockTwiceThenTheDocumentCommitsOnce) {
  const auto run = make_run(prefix_ + "run1");
  const auto d = make_doc(prefix_, prefix_ + "doc1", run.run_id, 8, 10);
  int injected = 0, staging = 0;
  fault_->set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    staging += is_staging_request(req);
    if (is_staging_request(req) && injected < 2) {
      ++injected;
      return Result<HttpResponse>(FaultTransport::neo4j_error(
          GetParam() == Neo4jApi::kLegacy ? 200 : 400, "Neo.TransientError.Transaction.DeadlockDetected"));
    }
    return std::nullopt;
  });
  auto r = stage(run, d);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(injected, 2);
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(clock_.sleeps().size(), 2u);
  EXPECT_EQ(r->relationships_created, 10 + 8 + 1);
  EXPECT_EQ(count_relations(), 10);
  EXPECT_EQ(count("MATCH (d:Document) WHERE d.doc_id STARTS WITH $p RETURN count(d)"), 1);
  // Each attempt was the whole document in one request; nothing was left open.
  int deletes = 0;
  for (const auto& line : fault_->requests()) deletes += line.rfind("DELETE ", 0) == 0;
  EXPECT_EQ(staging, 3);
  EXPECT_EQ(deletes, 0);
}

TEST_P(GraphIntegrationTest, TransientErrorsBeyondThePolicyAreReturned) {
  const auto run = make_run(prefix_ + "run1");
  const auto d = make_doc(prefix_, prefix_ + "doc1", run.run_id, 2, 1);
  fault_->set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    if (is_staging_request(req)) {
      return Result<HttpResponse>(
          FaultTransport::neo4j_error(400, "Neo.TransientError.Transaction.LockAcquisitionTimeout"));
    }
    return std::nullopt;
  });
  auto r = stage(run, d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTransient);
  EXPECT_EQ(r.error().detail, "Neo.TransientError.Transaction.LockAcquisitionTimeout");
  EXPECT_EQ(clock_.sleeps().size(), 2u);  // three attempts in all
  EXPECT_EQ(exported(), "");
}

TEST_P(GraphIntegrationTest, ConcurrentStagingOfDocumentsSharingEntitiesEqualsOneAtATime) {
  // 24 documents whose entities overlap their neighbours', staged one at a time and then,
  // after a rollback, 6 at once on a thread-safe transport and a real clock (deadlock
  // retries sleep for real). The graphs must be identical.
  const auto run = make_run(prefix_ + "run1");
  std::vector<GraphClient::StageInput> inputs;
  for (int i = 0; i < 24; ++i) {
    auto d = make_doc(prefix_, prefix_ + "doc" + std::to_string(i), run.run_id, 6, 8, i * 3);
    inputs.push_back({d.doc, d.entities, d.relations});
  }
  for (const auto& in : inputs) {
    ASSERT_TRUE(client_->stage_document(run, in.document, in.entities, in.relations));
  }
  const std::string one_at_a_time = exported();
  ASSERT_EQ(count_relations(), 24 * 8);
  ASSERT_TRUE(client_->rollback_run(run.run_id));
  ASSERT_EQ(exported(), "");

  // One document per request, six at once; then batched requests of five documents, three
  // at once, their transactions one after the other and then concurrently inside Neo4j.
  SystemClock real_clock;
  using Setting = std::tuple<int, int, int>;  // documents per request, in flight, concurrent tx
  for (auto [per_request, in_flight, concurrent_tx] : {Setting{1, 6, 0}, Setting{5, 3, 0}, Setting{5, 3, 3}}) {
    SCOPED_TRACE(std::to_string(per_request) + " per request, " + std::to_string(concurrent_tx) +
                 " concurrent transactions");
    Neo4jOptions o = options();
    o.retry.max_attempts = 8;
    o.documents_per_request = static_cast<std::size_t>(per_request);
    o.concurrent_transactions = concurrent_tx;
    GraphClient concurrent(o, schema_, *real_, real_clock);
    auto results = concurrent.stage_documents(run, inputs, in_flight);
    ASSERT_EQ(results.size(), inputs.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      ASSERT_TRUE(results[i]) << "document " << i << ": " << results[i].error().describe();
    }
    EXPECT_EQ(exported(), one_at_a_time);
    ASSERT_TRUE(client_->rollback_run(run.run_id));
  }
}

TEST_P(GraphIntegrationTest, BatchWithAConstraintViolationCommitsEveryOtherDocument) {
  // A uniqueness rule of the user's own (on Company.lei) that document 4 breaks against
  // document 1, which commits first in the same request.
  const auto run = make_run(prefix_ + "run1");
  auto inputs = small_docs(run, 6);
  inputs[1].entities[0].lei = prefix_ + "LEI";
  inputs[4].entities[0].lei = prefix_ + "LEI";
  ASSERT_EQ(inputs[4].entities[0].type, "COMPANY");
  auto others = inputs;
  others.erase(others.begin() + 4);
  const std::string expected = staged_one_at_a_time(run, others);

  ASSERT_TRUE(client_->run_auto_commit(
      {"CREATE CONSTRAINT fgraph_test_company_lei IF NOT EXISTS FOR (n:Company) REQUIRE n.lei IS UNIQUE", "{}"}));
  int batches = 0, alone = 0;
  fault_->set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    batches += is_batch_request(req);
    alone += is_staging_request(req) && !is_batch_request(req);
    return std::nullopt;
  });
  auto results = batching_client(6)->stage_documents(run, inputs, 1);
  fault_->set_before(nullptr);
  ASSERT_TRUE(client_->run_auto_commit({"DROP CONSTRAINT fgraph_test_company_lei IF EXISTS", "{}"}));
  ASSERT_EQ(results.size(), 6u);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i == 4) continue;
    EXPECT_TRUE(results[i]) << "document " << i << ": " << results[i].error().describe();
  }
  ASSERT_FALSE(results[4]);
  EXPECT_EQ(results[4].error().code, ErrorCode::kPermanent) << results[4].error().describe();
  EXPECT_EQ(results[4].error().detail, "Neo.ClientError.Schema.ConstraintValidationFailed");
  EXPECT_EQ(batches, 1);
  EXPECT_EQ(alone, 1);  // the violating document, sent alone for its Neo4j code
  EXPECT_TRUE(clock_.sleeps().empty());  // a client error is not retried
  EXPECT_EQ(exported(), expected);  // document 4 absent, every other complete
}

TEST_P(GraphIntegrationTest, DeadlockInsideABatchRetriesThatDocumentAloneUntilItCommits) {
  const auto run = make_run(prefix_ + "run1");
  const auto inputs = small_docs(run, 5);
  const std::string expected = staged_one_at_a_time(run, inputs);
  int batches = 0, injected = 0;
  fault_->set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    if (is_batch_request(req)) {
      ++batches;
      fail_in_batch(req, 2);  // document 2 fails after writing its Run, Document and STAGED_BY
    } else if (is_staging_request(req) && injected < 2) {
      ++injected;
      return Result<HttpResponse>(FaultTransport::neo4j_error(
          GetParam() == Neo4jApi::kLegacy ? 200 : 400, "Neo.TransientError.Transaction.DeadlockDetected"));
    }
    return std::nullopt;
  });
  auto results = batching_client(5)->stage_documents(run, inputs, 1);
  ASSERT_EQ(results.size(), 5u);
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i]) << "document " << i << ": " << results[i].error().describe();
  }
  EXPECT_EQ(batches, 1);
  EXPECT_EQ(results[0]->attempts, 1);
  EXPECT_EQ(results[2]->attempts, 3);  // alone: two deadlocks, then committed
  EXPECT_EQ(results[2]->relationships_created, 4 + 3 + 1);
  EXPECT_EQ(clock_.sleeps().size(), 2u);
  EXPECT_EQ(exported(), expected);
}

TEST_P(GraphIntegrationTest, TransientFailuresOfBatchesAndOfOneDocumentFollowThePolicy) {
  // The whole request fails transiently twice (retried whole), then document 1 fails
  // inside it and, alone, keeps failing transiently: it is returned with its Neo4j code.
  const auto run = make_run(prefix_ + "run1");
  auto inputs = small_docs(run, 4);
  const std::string expected = staged_one_at_a_time(run, {inputs[0], inputs[2], inputs[3]});
  int batches = 0, alone = 0;
  const int status = GetParam() == Neo4jApi::kLegacy ? 200 : 400;
  fault_->set_before([&](HttpRequest& req, int) -> std::optional<Result<HttpResponse>> {
    if (is_batch_request(req)) {
      if (++batches <= 2) {
        return Result<HttpResponse>(FaultTransport::neo4j_error(status, "Neo.TransientError.General.DatabaseUnavailable"));
      }
      fail_in_batch(req, 1);
    } else if (is_staging_request(req)) {
      ++alone;
      return Result<HttpResponse>(
          FaultTransport::neo4j_error(status, "Neo.TransientError.Transaction.LockAcquisitionTimeout"));
    }
    return std::nullopt;
  });
  auto results = batching_client(4)->stage_documents(run, inputs, 1);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(alone, 3);
  ASSERT_FALSE(results[1]);
  EXPECT_EQ(results[1].error().code, ErrorCode::kTransient);
  EXPECT_EQ(results[1].error().detail, "Neo.TransientError.Transaction.LockAcquisitionTimeout");
  for (std::size_t i : {0u, 2u, 3u}) {
    ASSERT_TRUE(results[i]) << "document " << i << ": " << results[i].error().describe();
    EXPECT_EQ(results[i]->attempts, 3);
  }
  EXPECT_EQ(clock_.sleeps().size(), 4u);  // two for the request, two for document 1
  EXPECT_EQ(exported(), expected);
}

TEST_P(GraphIntegrationTest, BatchToAnUnreachableServerIsUnavailableForEveryDocument) {
  Neo4jOptions o = options();
  o.url = "http://127.0.0.1:1";
  GraphClient gone(o, schema_, *real_, clock_);
  const auto run = make_run(prefix_ + "run1");
  auto inputs = small_docs(run, 3);
  inputs[2].relations[0].run_id = "another-run";  // refused before any request
  auto results = gone.stage_documents(run, inputs, 2);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(results[1].error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(results[2].error().code, ErrorCode::kInvalidInput);
}

TEST_P(GraphIntegrationTest, HostileValuesAreStoredVerbatimAndHarmNothing) {
  const auto run = make_run(prefix_ + "run1");
  // A bystander that a Cypher injection would delete.
  auto bystander = make_doc(prefix_, prefix_ + "bystander", run.run_id, 2, 1, 100);
  ASSERT_TRUE(stage(run, bystander));

  const std::string doc_id = prefix_ + "doc'\"`}) DETACH DELETE n //";
  const std::string nasty = std::string("O'Brien \"Q\" `tick` }) DETACH DELETE n // \\ ") +
                            std::string("nul\0byte", 8) + " emoji 😀🏦 rtl שלום עליכם مرحبا";
  std::string evidence = nasty;
  while (evidence.size() < (1u << 20)) evidence += " filler text of a long exhibit quote ";
  DocInput d;
  d.doc = {doc_id, nasty, "10-K", "0", nasty, "2026-11-01", nasty};
  d.entities = {make_entity(prefix_ + "x`}) DETACH DELETE n //", "COMPANY", nasty),
                make_entity(prefix_ + "p", "PERSON", "ʿAbd al-Raḥmān ‏")};
  d.entities[0].lei = nasty;
  d.relations = {make_edge(run.run_id, doc_id, "OFFICER_OF", d.entities[1].entity_id,
                           d.entities[0].entity_id, evidence)};
  d.relations[0].role = nasty;
  d.relations[0].ownership_percent = 12.5;
  d.relations[0].extractor = "rules";
  auto r = stage(run, d);
  ASSERT_TRUE(r) << r.error().describe();

  auto back = client_->run_auto_commit(
      {"MATCH (a:Entity {entity_id: $a})-[r:OFFICER_OF]->(b:Entity {entity_id: $b}) "
       "MATCH (doc:Document {doc_id: $d}) RETURN r.evidence, b.name, b.lei, r.role, doc.filer, "
       "r.ownership_percent, a.name, r.extractor",
       json{{"a", d.entities[1].entity_id}, {"b", d.entities[0].entity_id}, {"d", doc_id}}.dump()});
  ASSERT_TRUE(back) << back.error().describe();
  ASSERT_EQ(back->rows_json.size(), 1u);
  json row = json::parse(back->rows_json[0]);
  EXPECT_EQ(row[0].get<std::string>(), evidence);
  EXPECT_EQ(row[1].get<std::string>(), nasty);
  EXPECT_EQ(row[2].get<std::string>(), nasty);
  EXPECT_EQ(row[3].get<std::string>(), nasty);
  EXPECT_EQ(row[4].get<std::string>(), nasty);
  EXPECT_DOUBLE_EQ(row[5].get<double>(), 12.5);
  EXPECT_EQ(row[6].get<std::string>(), "ʿAbd al-Raḥmān ‏");
  EXPECT_EQ(row[7].get<std::string>(), "rules");  // who proposed the fact (issue 18)
  // The bystander survived, and nothing but the new document's nodes appeared.
  EXPECT_EQ(count("MATCH (d:Document) WHERE d.doc_id STARTS WITH $p RETURN count(d)"), 2);
  EXPECT_EQ(count("MATCH (e:Entity) WHERE e.entity_id STARTS WITH $p RETURN count(e)"), 4);
  // And it rolls back as cleanly.
  ASSERT_TRUE(client_->rollback_document(doc_id));
  EXPECT_EQ(count("MATCH (e:Entity) WHERE e.entity_id STARTS WITH $p RETURN count(e)"), 2);

  // A relationship type outside the allow-list never reaches the server.
  const std::size_t sent = fault_->count();
  d.relations.push_back(make_edge(run.run_id, doc_id, "OWNS]->(x) DETACH DELETE x //",
                                  d.entities[0].entity_id, d.entities[1].entity_id, "q"));
  auto refused = stage(run, d);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(fault_->count(), sent);
}

TEST_P(GraphIntegrationTest, ConstraintsAreInPlaceAndEnforced) {
  auto shown = client_->run_auto_commit({"SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name", "{}"});
  ASSERT_TRUE(shown) << shown.error().describe();
  std::string all;
  for (const auto& r : shown->rows_json) all += r;
  EXPECT_NE(all.find("fgraph_entity_id"), std::string::npos);
  EXPECT_NE(all.find("fgraph_doc_id"), std::string::npos);
  EXPECT_NE(all.find("fgraph_run_id"), std::string::npos);
  auto idx = client_->run_auto_commit(
      {"SHOW INDEXES YIELD name WHERE name STARTS WITH 'fgraph_fact_' RETURN count(*)", "{}"});
  ASSERT_TRUE(idx);
  EXPECT_EQ(json::parse(idx->rows_json[0])[0].get<int>(), 12);
  // A second bootstrap is a no-op.
  EXPECT_TRUE(client_->bootstrap_schema());
  auto dup = client_->run_transaction(
      {{"CREATE (:Entity {entity_id: $id}) CREATE (:Entity {entity_id: $id})",
        json{{"id", prefix_ + "dup"}}.dump()}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kPermanent);
  EXPECT_EQ(dup.error().detail, "Neo.ClientError.Schema.ConstraintValidationFailed");
}

TEST_P(GraphIntegrationTest, ClientErrorsCarryTheirNeo4jCode) {
  auto syntax = client_->run_auto_commit({"MATCH (n RETURN n", "{}"});
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code, ErrorCode::kPermanent);
  EXPECT_EQ(syntax.error().detail, "Neo.ClientError.Statement.SyntaxError");

  auto missing = client_->run_transaction({{"RETURN $nope", "{}"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().detail, "Neo.ClientError.Statement.ParameterMissing");

  Neo4jOptions bad = options();
  bad.password = "definitely-wrong-password";
  GraphClient wrong(bad, schema_, *real_, clock_);
  auto denied = wrong.bootstrap_schema();
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kUnauthorized);  // CLI exit 2, not retried
  EXPECT_EQ(denied.error().detail, "Neo.ClientError.Security.Unauthorized");
}

TEST_P(GraphIntegrationTest, ReadQueryRefusesEveryWriteAndLeavesTheGraphUnchanged) {
  const auto run = make_run(prefix_ + "run1");
  const auto d = make_doc(prefix_, prefix_ + "doc1", run.run_id, 4, 5);
  ASSERT_TRUE(stage(run, d));
  const std::string before = exported();
  const std::string params = json{{"p", prefix_}}.dump();
  const std::vector<std::string> writes = {
      "CREATE (x:Entity:Pwned {entity_id: $p + 'pwned'}) RETURN x",
      "MATCH (n) WHERE coalesce(n.entity_id, n.doc_id, n.run_id) STARTS WITH $p DETACH DELETE n",
      "MATCH (e:Entity) WHERE e.entity_id STARTS WITH $p SET e.name = 'pwned' RETURN count(e)",
      "MERGE (x:Entity {entity_id: $p + 'merged'}) RETURN x",
      "MATCH (a)-[r]->() WHERE a.entity_id STARTS WITH $p DELETE r",
      "MATCH (e:Entity) WHERE e.entity_id STARTS WITH $p REMOVE e:Company",
      "CREATE INDEX fgraph_test_pwned IF NOT EXISTS FOR (n:Pwned) ON (n.entity_id)",
      "CALL db.createLabel('Pwned')",
  };
  for (const auto& cypher : writes) {
    auto r = client_->run_read_query({cypher, params});
    ASSERT_FALSE(r) << cypher;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput) << cypher;
    EXPECT_EQ(r.error().detail, "Neo.ClientError.Statement.AccessMode") << cypher;
    EXPECT_NE(r.error().message.find("tried to write, and queries are read-only"), std::string::npos)
        << r.error().describe();
  }
  EXPECT_EQ(exported(), before);
  // The same client still writes where it must (staging is not read-only).
  EXPECT_EQ(count("MATCH (e:Entity) WHERE e.entity_id STARTS WITH $p AND e.name = 'pwned' RETURN count(e)"), 0);

  // A read query still answers, with its parameters.
  auto read = client_->run_read_query(
      {"MATCH (e:Entity)-[:MENTIONED_IN]->(d:Document) WHERE e.entity_id STARTS WITH $p "
       "RETURN count(e), collect(DISTINCT d.doc_id)",
       params});
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_EQ(read->rows_json.size(), 1u);
  EXPECT_EQ(json::parse(read->rows_json[0]), json::parse("[4, [\"" + d.doc.doc_id + "\"]]"));
  auto labels = client_->run_read_query({"CALL db.labels() YIELD label RETURN label ORDER BY label", "{}"});
  ASSERT_TRUE(labels) << labels.error().describe();
  EXPECT_FALSE(labels->rows_json.empty());
}

TEST_P(GraphIntegrationTest, ReadQueryRefusesAdministrationCommandsThatReadModeLetsThrough) {
  // Neo4j's READ mode runs these; they read or act on the server, not the graph.
  const std::vector<std::string> commands = {
      "SHOW USERS",
      "SHOW DATABASES",
      "SHOW CURRENT USER",
      "SHOW TRANSACTIONS",
      "TERMINATE TRANSACTIONS 'neo4j-transaction-0'",
      "SHOW SETTINGS",
      "CALL dbms.listConfig() YIELD name RETURN name",
      "CALL dbms.killConnections([])",
      "MATCH (n) CALL { CALL dbms.listConfig() YIELD name RETURN name } RETURN n, name LIMIT 1",
  };
  for (const auto& cypher : commands) {
    auto r = client_->run_read_query({cypher, "{}"});
    ASSERT_FALSE(r) << cypher;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput) << cypher;
    EXPECT_NE(r.error().message.find("query refused: it is "), std::string::npos) << r.error().describe();
  }
  // A user or database change is an administration command too (and a write to the system
  // database, which read mode would refuse in any case).
  auto user = client_->run_read_query({"CREATE USER fgraph_pwned SET PASSWORD 'pwned-password'", "{}"});
  ASSERT_FALSE(user);
  EXPECT_EQ(user.error().code, ErrorCode::kInvalidInput);
  auto users = client_->run_auto_commit({"SHOW USERS YIELD user WHERE user = 'fgraph_pwned' RETURN count(*)", "{}"});
  ASSERT_TRUE(users) << users.error().describe();
  EXPECT_EQ(users->rows_json, std::vector<std::string>{"[0]"});

  // What describes the graph's own database still answers; EXPLAIN too (PROFILE does not).
  for (const std::string cypher : {"SHOW INDEXES YIELD name RETURN count(*)", "SHOW PROCEDURES",
                                   "EXPLAIN MATCH (n) RETURN n", "CYPHER 5 MATCH (n) RETURN count(n)"}) {
    auto r = client_->run_read_query({cypher, "{}"});
    EXPECT_TRUE(r) << cypher << ": " << r.error().describe();
  }
  auto profile = client_->run_read_query({"PROFILE MATCH (n) RETURN count(n)", "{}"});
  ASSERT_FALSE(profile);
  EXPECT_EQ(profile.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(profile.error().message.find("PROFILE cannot be used"), std::string::npos) << profile.error().describe();
  // A broken query is the caller's fault, with Neo4j's code.
  auto syntax = client_->run_read_query({"MATCH (n RETURN n", "{}"});
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(syntax.error().detail, "Neo.ClientError.Statement.SyntaxError");
}

TEST_P(GraphIntegrationTest, UnreachableServerIsUnavailable) {
  Neo4jOptions o = options();
  o.url = "http://127.0.0.1:1";  // nothing listens on port 1
  GraphClient gone(o, schema_, *real_, clock_);
  const auto run = make_run(prefix_ + "run1");
  const auto d = make_doc(prefix_, prefix_ + "doc1", run.run_id, 2, 1);
  auto r = gone.stage_document(run, d.doc, d.entities, d.relations);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Apis, GraphIntegrationTest,
                         ::testing::Values(Neo4jApi::kQueryV2, Neo4jApi::kLegacy),
                         [](const auto& info) {
                           return info.param == Neo4jApi::kLegacy ? std::string("Legacy")
                                                                  : std::string("QueryV2");
                         });

}  // namespace
}  // namespace fgraph::graph
