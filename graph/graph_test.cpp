// Unit tests of the graph stage that need no server: the allow-list, labels, fact ids,
// error classification, and input checks that must refuse before any request is sent.
#include <gtest/gtest.h>

#include "graph/graph.h"

namespace fgraph::graph {
namespace {

const std::string kSchemaPath = std::string(FGRAPH_SOURCE_DIR) + "/schemas/extraction.v1.json";

// Records requests and answers none: proves that refused inputs never reach the wire.
class CountingTransport final : public HttpTransport {
 public:
  Result<HttpResponse> send(const HttpRequest&) override {
    ++count;
    return make_error(ErrorCode::kUnavailable, "no server in unit tests");
  }
  int count = 0;
};

TEST(GraphSchemaTest, LoadsBothEnumerationsFromTheExtractionSchema) {
  auto schema = load_graph_schema(kSchemaPath);
  ASSERT_TRUE(schema) << schema.error().describe();
  EXPECT_EQ(schema->entity_types.size(), 8u);
  EXPECT_EQ(schema->relation_types.size(), 12u);
  EXPECT_TRUE(schema->allows_entity_type("GOVERNMENT_BODY"));
  EXPECT_TRUE(schema->allows_relation_type("BENEFICIAL_OWNER_OF"));
  EXPECT_FALSE(schema->allows_relation_type("subsidiary_of"));
  EXPECT_FALSE(schema->allows_entity_type("Company"));
}

TEST(GraphSchemaTest, MissingFileIsNotFound) {
  auto schema = load_graph_schema("/nonexistent/extraction.json");
  ASSERT_FALSE(schema);
  EXPECT_EQ(schema.error().code, ErrorCode::kNotFound);
}

TEST(GraphSchemaTest, SchemaWithoutEnumerationsOrWithUnsafeNamesIsInvalid) {
  const std::string dir = ::testing::TempDir();
  ASSERT_TRUE(write_file_atomic(dir + "/no_enum.json", R"({"properties":{}})"));
  auto a = load_graph_schema(dir + "/no_enum.json");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kInvalidInput);
  ASSERT_TRUE(write_file_atomic(
      dir + "/unsafe.json",
      R"({"properties":{"entities":{"items":{"properties":{"type":{"enum":["COMPANY"]}}}},)"
      R"("relations":{"items":{"properties":{"type":{"enum":["X`]->() DETACH DELETE n //"]}}}}}})"));
  auto b = load_graph_schema(dir + "/unsafe.json");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidInput);
}

TEST(EntityLabelTest, PascalCasesSchemaTypes) {
  EXPECT_EQ(entity_label("COMPANY"), "Company");
  EXPECT_EQ(entity_label("GOVERNMENT_BODY"), "GovernmentBody");
}

TEST(FactIdTest, DependsOnEveryFieldAndTheirBoundaries) {
  auto a = make_fact_id("d", "OFFICER_OF", "e1", "e2", "quote");
  EXPECT_EQ(a, make_fact_id("d", "OFFICER_OF", "e1", "e2", "quote"));
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, make_fact_id("d", "OFFICER_OF", "e1", "e2", "quote."));
  EXPECT_NE(a, make_fact_id("d", "DIRECTOR_OF", "e1", "e2", "quote"));
  EXPECT_NE(make_fact_id("d", "T", "e1", "e2x", "q"), make_fact_id("d", "T", "e1e", "2x", "q"));
}

TEST(Neo4jErrorTest, ClassifiesByCode) {
  EXPECT_EQ(classify_neo4j_code("Neo.TransientError.Transaction.DeadlockDetected"),
            Neo4jErrorClass::kTransient);
  EXPECT_EQ(classify_neo4j_code("Neo.ClientError.Statement.SyntaxError"), Neo4jErrorClass::kClient);
  EXPECT_EQ(classify_neo4j_code("Neo.DatabaseError.General.UnknownError"), Neo4jErrorClass::kDatabase);
  EXPECT_EQ(classify_neo4j_code("Something.Else"), Neo4jErrorClass::kUnknown);
  EXPECT_EQ(error_code_for_neo4j("Neo.TransientError.General.DatabaseUnavailable"), ErrorCode::kTransient);
  EXPECT_EQ(error_code_for_neo4j("Neo.ClientError.Security.Unauthorized"), ErrorCode::kUnauthorized);
  EXPECT_EQ(error_code_for_neo4j("Neo.ClientError.Security.CredentialsExpired"), ErrorCode::kUnauthorized);
  EXPECT_EQ(error_code_for_neo4j("Neo.ClientError.Statement.SyntaxError"), ErrorCode::kPermanent);
  EXPECT_EQ(error_code_for_neo4j("Neo.DatabaseError.General.UnknownError"), ErrorCode::kInternal);
}

class StageValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = load_graph_schema(kSchemaPath);
    ASSERT_TRUE(schema);
    client_ = std::make_unique<GraphClient>(Neo4jOptions{}, *schema, transport_, clock_);
    run_ = {"run1", "local", "m", "p1", "v1", "2026-01-01T00:00:00Z"};
    doc_ = {"doc1", "0001", "10-K", "1", "Filer", "2026-01-01", "x.txt"};
    entities_ = {{"e1", "COMPANY", "A", {}, {}, {}, {}}, {"e2", "PERSON", "B", {}, {}, {}, {}}};
    relations_ = {edge("OFFICER_OF", "e2", "e1", "B is an officer of A")};
  }
  RelationEdge edge(std::string type, std::string s, std::string t, std::string ev) {
    RelationEdge r;
    r.type = type;
    r.source_entity_id = s;
    r.target_entity_id = t;
    r.run_id = "run1";
    r.doc_id = "doc1";
    r.evidence = ev;
    r.fact_id = make_fact_id(r.doc_id, r.type, s, t, ev);
    return r;
  }
  void expect_refused() {
    auto r = client_->stage_document(run_, doc_, entities_, relations_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput) << r.error().describe();
    EXPECT_EQ(transport_.count, 0);
  }
  CountingTransport transport_;
  ManualClock clock_;
  std::unique_ptr<GraphClient> client_;
  RunInfo run_;
  DocumentNode doc_;
  std::vector<EntityNode> entities_;
  std::vector<RelationEdge> relations_;
};

TEST_F(StageValidationTest, RelationTypeOutsideAllowListIsRefusedBeforeAnyRequest) {
  relations_.push_back(edge("OWNS`]->(b) DETACH DELETE b //", "e1", "e2", "x"));
  expect_refused();
}

TEST_F(StageValidationTest, EntityTypeOutsideAllowListIsRefused) {
  entities_[0].type = "Company:Admin";
  expect_refused();
}

TEST_F(StageValidationTest, RelationToAnEntityOfNoDocumentIsRefused) {
  relations_.push_back(edge("OFFICER_OF", "e2", "e9", "x"));
  expect_refused();
}

TEST_F(StageValidationTest, ForgedFactIdIsRefused) {
  relations_[0].fact_id = std::string(64, 'a');
  expect_refused();
}

TEST_F(StageValidationTest, RelationOfAnotherRunOrDocumentIsRefused) {
  relations_[0].run_id = "run2";
  expect_refused();
  relations_[0].run_id = "run1";
  relations_[0].doc_id = "doc2";
  expect_refused();
}

TEST_F(StageValidationTest, DuplicateEntityIsRefused) {
  entities_.push_back(entities_[0]);
  expect_refused();
}

TEST_F(StageValidationTest, InvalidUtf8IsRefusedBeforeAnyRequest) {
  entities_[0].name = std::string("bad \xC3\x28 byte");
  expect_refused();
}

TEST_F(StageValidationTest, UnreachableServerIsUnavailable) {
  auto r = client_->stage_document(run_, doc_, entities_, relations_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

GraphInventory sample_inventory() {
  GraphInventory g;
  g.documents = {"d1", "d2"};
  g.runs = {"r1"};
  g.entities = {{"e1", "Company"}, {"e2", "Person"}};
  g.staged_by = {{"d1", "r1"}, {"d2", "r1"}};
  g.mentions = {{"e1", "d1", "r1"}, {"e2", "d1", "r1"}};
  g.facts[{"f1", "r1"}] = FactEdge{"OFFICER_OF", "e2", "e1", "d1", "CEO of Acme", 3, 14};
  return g;
}

TEST(InventoryDiffTest, EqualInventoriesHaveNoDifference) {
  InventoryDiff d = diff_inventories(sample_inventory(), sample_inventory());
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(d.lines.empty());
}

TEST(InventoryDiffTest, ReportsEachKindAndDirectionWithCounts) {
  GraphInventory graph = sample_inventory();
  graph.documents.erase("d2");                      // document missing
  graph.runs.insert("r9");                          // run extra
  graph.entities["e1"] = "Person";                  // entity differs
  graph.staged_by.erase({"d2", "r1"});              // staged_by missing
  graph.mentions.insert({"e1", "d2", "r9"});        // mention extra
  graph.facts[{"f1", "r1"}].char_end = 15;          // fact differs
  graph.facts[{"f2", "r1"}] = FactEdge{};           // fact extra
  graph.foreign = {"node :Pwned 4:1", "relationship :X 5:2"};
  InventoryDiff d = diff_inventories(sample_inventory(), graph);
  using Counts = std::map<std::string, std::map<std::string, std::int64_t>>;
  EXPECT_EQ(d.counts, (Counts{{"document", {{"missing", 1}}},
                              {"run", {{"extra", 1}}},
                              {"entity", {{"differs", 1}}},
                              {"staged_by", {{"missing", 1}}},
                              {"mentioned_in", {{"extra", 1}}},
                              {"fact", {{"differs", 1}, {"extra", 1}}},
                              {"foreign", {{"extra", 2}}}}));
  EXPECT_EQ(d.lines.size(), 9u);
}

TEST(InventoryDiffTest, LinesAreCappedButCountsAreComplete) {
  GraphInventory graph;
  for (int i = 0; i < 50; ++i) graph.documents.insert("d" + std::to_string(i));
  InventoryDiff d = diff_inventories(GraphInventory{}, graph, 10);
  EXPECT_EQ(d.counts["document"]["extra"], 50);
  EXPECT_EQ(d.lines.size(), 10u);
}

}  // namespace
}  // namespace fgraph::graph
