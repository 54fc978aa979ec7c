// graph: the Neo4j projection of the ledger.
//
// Owns: the Neo4j HTTP client (discovery, Query API v2 explicit transactions, legacy
// transactional endpoints as a fallback), error classification by Neo4j code, the
// constraint bootstrap, per-document staging in one transaction (many documents per
// request, each still its own transaction), rollback of a run or a document, replay, and
// a canonical export used to compare graphs.
//
// Graph model (see ../shared/DESIGN.md):
//   (:Document {doc_id, accession, form_type, cik, filer, filed_at, source})
//   (:Run {run_id, lane, model, prompt_version, schema_version, started_at})
//   (:Entity:<Label> {entity_id, name, cik?, ticker?, lei?, jurisdiction?})
//   (d:Document)-[:STAGED_BY]->(r:Run)            which runs staged a document
//   (e:Entity)-[:MENTIONED_IN {run_id}]->(d)       which run saw an entity in a document
//   (a)-[:<RELATION_TYPE> {fact_id, run_id, doc_id, evidence, char_start, char_end,
//        ownership_percent?, effective_date?, role?}]->(b)
// Decisions:
// - Labels are the schema's entity type in PascalCase (COMPANY -> Company,
//   GOVERNMENT_BODY -> GovernmentBody); relationship types are the schema's relation type
//   verbatim (SUBSIDIARY_OF). Both come only from the allow-list `GraphSchema`, loaded from
//   schemas/extraction.v1.json (load_graph_schema), never from a second hand-written list.
// - A relationship is MERGEd on (fact_id, run_id): staging again (replay) changes nothing,
//   and a fact asserted by two runs is two edges, so each run's rollback is exact.
// - Node properties are set when the node is created and never overwritten by a later
//   run: a rollback then restores the graph exactly, and timestamps come from the inputs.
//
// Threading: a GraphClient may be used from several threads at once if its transport
// may; each call runs its own transactions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/core.h"

namespace fgraph::graph {

namespace internal {
class Neo4jHttp;  // graph/internal/neo4j_http.h
}

// ---------------------------------------------------------------------------------
// Typed inputs (graph defines its own so it depends on no other stage's types).

struct RunInfo {
  std::string run_id;          // unique run id
  std::string lane;            // e.g. "openai-batch"
  std::string model;           // model name
  std::string prompt_version;  // prompt template version
  std::string schema_version;  // extraction schema version
  std::string started_at;      // RFC 3339 UTC text, from the ledger
};

struct DocumentNode {
  std::string doc_id;     // content address of the document
  std::string accession;  // SEC accession number or "" when unknown
  std::string form_type;  // e.g. "10-K"
  std::string cik;        // filer CIK or ""
  std::string filer;      // filer name or ""
  std::string filed_at;   // filing date text or ""
  std::string source;     // path or URL the document came from
};

struct EntityNode {
  std::string entity_id;  // registry id (the node key)
  std::string type;       // schema entity type, e.g. "COMPANY" (checked against the allow-list)
  std::string name;       // canonical name
  std::optional<std::string> cik;
  std::optional<std::string> ticker;
  std::optional<std::string> lei;
  std::optional<std::string> jurisdiction;
};

struct RelationEdge {
  std::string fact_id;           // make_fact_id(...) of the fields below
  std::string type;              // schema relation type, e.g. "SUBSIDIARY_OF"
  std::string source_entity_id;  // an entity of the same document
  std::string target_entity_id;  // an entity of the same document
  std::string run_id;            // must equal the staged run's id
  std::string doc_id;            // must equal the staged document's id
  std::string evidence;          // verbatim quote (any valid UTF-8, any size)
  std::int64_t char_start = 0;   // offsets of the evidence in the document text
  std::int64_t char_end = 0;
  std::optional<double> ownership_percent;
  std::optional<std::string> effective_date;
  std::optional<std::string> role;
  std::string extractor = "model";  // what proposed the fact: "model" | "rules" (form extractor)
};

// fact_id = sha256 over (doc_id, type, source, target, evidence), length-prefixed fields.
std::string make_fact_id(std::string_view doc_id, std::string_view type,
                         std::string_view source_entity_id,
                         std::string_view target_entity_id, std::string_view evidence);

// ---------------------------------------------------------------------------------
// The allow-list of labels and relationship types.
struct GraphSchema {
  std::vector<std::string> entity_types;    // e.g. COMPANY, PERSON (schema spelling)
  std::vector<std::string> relation_types;  // e.g. SUBSIDIARY_OF

  bool allows_entity_type(std::string_view type) const;
  bool allows_relation_type(std::string_view type) const;
};

// Reads the enumerations of entities[].type and relations[].type from an extraction JSON
// Schema (schemas/extraction.v1.json). kNotFound if the file is missing, kInvalidInput if
// it lacks the enumerations or an entry is not [A-Z][A-Z0-9_]*.
Result<GraphSchema> load_graph_schema(const std::string& schema_path);
// The same, from the schema's text (e.g. the schema embedded in the binary); `name` is
// used in messages.
Result<GraphSchema> parse_graph_schema(std::string_view schema_text, const std::string& name);

// The node label of a schema entity type: COMPANY -> Company, GOVERNMENT_BODY -> GovernmentBody.
std::string entity_label(std::string_view entity_type);

// ---------------------------------------------------------------------------------
// Client options and results.

enum class Neo4jApi {
  kAuto,     // Query API v2 when discovery offers it, else the legacy endpoints
  kQueryV2,  // /db/{db}/query/v2/tx
  kLegacy,   // /db/{db}/tx
};

struct Neo4jOptions {
  std::string url = "http://127.0.0.1:7474";  // base URL (FGRAPH_NEO4J_URL)
  std::string user = "neo4j";                 // FGRAPH_NEO4J_USER
  std::string password;                       // FGRAPH_NEO4J_PASSWORD; never logged
  std::string database = "neo4j";             // FGRAPH_NEO4J_DATABASE
  Neo4jApi api = Neo4jApi::kAuto;             // which HTTP surface to use
  std::chrono::milliseconds request_timeout{120000};  // one HTTP request
  std::chrono::milliseconds connect_timeout{5000};    // TCP connect
  RetryPolicy retry;                           // whole-transaction retries (transient only)
  std::size_t rollback_batch_size = 2000;      // max relationships/nodes deleted per tx
  // stage_documents: documents sent in one request, each in its own transaction inside it
  // (CALL {...} IN TRANSACTIONS OF 1 ROWS, Neo4j 5.7 or newer; older servers and 1 take
  // one request per document). Default measured with bench/graph_bench (ARCHITECTURE.md).
  std::size_t documents_per_request = 50;
  // > 1: those transactions run `IN n CONCURRENT TRANSACTIONS` inside Neo4j (5.21 or
  // newer); 0 or 1: one after the other. Measured no faster, and far slower with several
  // requests in flight (ARCHITECTURE.md).
  int concurrent_transactions = 0;
};

// What discovery (GET /) reported.
struct ServerInfo {
  std::string version;     // e.g. "5.26.28"
  std::string edition;     // "community" | "enterprise"
  bool has_query_api = false;
  Neo4jApi api_in_use = Neo4jApi::kLegacy;
};

// Classification of a Neo4j status code "Neo.<Classification>.<Category>.<Title>".
enum class Neo4jErrorClass { kTransient, kClient, kDatabase, kUnknown };
Neo4jErrorClass classify_neo4j_code(std::string_view code);
// The ErrorCode a Neo4j code maps to: Neo.ClientError.Security.* (wrong credentials and
// the like) -> kUnauthorized, transient -> kTransient, other client -> kPermanent,
// database or unknown -> kInternal. The Neo4j code travels in Error::detail.
ErrorCode error_code_for_neo4j(std::string_view code);

struct Counters {
  std::int64_t nodes_created = 0;
  std::int64_t nodes_deleted = 0;
  std::int64_t relationships_created = 0;
  std::int64_t relationships_deleted = 0;
  std::int64_t properties_set = 0;
  std::int64_t labels_added = 0;
  int attempts = 0;  // transaction attempts used (1 = no retry)

  Counters& operator+=(const Counters& other);
};

// One Cypher statement with its parameters as a JSON object text ("{}" when none).
struct Statement {
  std::string cypher;
  std::string parameters_json = "{}";
};

// The result of one statement: counters and rows as JSON array texts (one per row).
struct StatementResult {
  Counters counters;
  std::vector<std::string> rows_json;
};

struct ExportOptions {
  // Only nodes whose key (entity_id, doc_id or run_id) starts with this prefix, and
  // relationships between such nodes; "" exports the whole graph.
  std::string key_prefix;
};

// ---------------------------------------------------------------------------------
// The audit: everything the graph model holds, as plain sets, so that what Neo4j holds
// (GraphClient::inventory) and what the ledger says live runs staged (built by the run
// coordinator) compare kind by kind.

// One fact-carrying relationship, keyed by (fact_id, run_id).
struct FactEdge {
  std::string type, source_entity_id, target_entity_id, doc_id, evidence;
  std::int64_t char_start = 0, char_end = 0;
  bool operator==(const FactEdge&) const = default;
};

struct GraphInventory {
  std::set<std::string> documents;                        // Document.doc_id
  std::set<std::string> runs;                             // Run.run_id
  std::map<std::string, std::string> entities;            // Entity.entity_id -> label
  std::set<std::pair<std::string, std::string>> staged_by;  // (doc_id, run_id)
  std::set<std::tuple<std::string, std::string, std::string>> mentions;  // (entity, doc, run)
  std::map<std::pair<std::string, std::string>, FactEdge> facts;  // (fact_id, run_id)
  // Outside the model (only ever found in Neo4j): nodes that are not a keyed Document,
  // Run or Entity, and relationships that are neither STAGED_BY, MENTIONED_IN nor a fact
  // with its keys; one readable line each.
  std::vector<std::string> foreign;
};

// The differences of two inventories, by kind ("document", "run", "entity", "staged_by",
// "mentioned_in", "fact", "foreign") and direction ("missing": expected, not in the graph;
// "extra": in the graph, not expected; "differs": both, with other properties).
struct InventoryDiff {
  std::map<std::string, std::map<std::string, std::int64_t>> counts;  // kind -> direction -> n
  std::vector<std::string> lines;  // readable, at most `max_lines` (counts stay complete)
  std::size_t max_lines = 200;
  bool empty() const { return counts.empty(); }
  // Counts one difference, and keeps its line while there is room. Other checks (the
  // ledger against itself) add theirs here too.
  void note(const std::string& kind, const std::string& direction, const std::string& what);
};
InventoryDiff diff_inventories(const GraphInventory& expected, const GraphInventory& actual,
                               std::size_t max_lines = 200);

// ---------------------------------------------------------------------------------
class GraphClient {
 public:
  // `transport` and `clock` must outlive the client.
  GraphClient(Neo4jOptions options, GraphSchema schema, HttpTransport& transport, Clock& clock);
  ~GraphClient();
  GraphClient(const GraphClient&) = delete;
  GraphClient& operator=(const GraphClient&) = delete;

  // GET / : reads version and offered APIs and picks the API to use. Called lazily by
  // every other call. kUnavailable when the server cannot be reached.
  Result<ServerInfo> connect();

  // options.documents_per_request: callers size their batches of stage_documents by it.
  std::size_t documents_per_request() const;

  // Creates (IF NOT EXISTS) the unique constraints on Entity.entity_id, Document.doc_id,
  // Run.run_id and a fact_id index per allowed relationship type, each in its own request.
  // Idempotent; safe to race with another client. Errors: kPermanent/kInternal with the
  // Neo4j code, kUnavailable.
  Status bootstrap_schema();

  // Stages one document in one transaction: a single Cypher statement sent in a single
  // request (auto-commit), so it commits whole or not at all. Inputs are checked first (allow-list, ids, references): kInvalidInput before
  // any request. A transient Neo4j error retries the whole transaction per the retry
  // policy; any other error rolls it back and returns the Neo4j code in Error::detail.
  // A crash halfway leaves the document absent (the server rolls back open transactions).
  Result<Counters> stage_document(const RunInfo& run, const DocumentNode& document,
                                  const std::vector<EntityNode>& entities,
                                  const std::vector<RelationEdge>& relations);

  // Stages several documents of one run, each in its own transaction as stage_document:
  // up to options.documents_per_request documents per request (one statement whose
  // `CALL {...} IN TRANSACTIONS OF 1 ROWS ON ERROR CONTINUE REPORT STATUS` commits each
  // document alone and reports which committed), `concurrency` requests at once on as many
  // threads. Returns one result per input, in input order; a failed document does not stop
  // the others. A document that did not commit inside a request (a constraint violation,
  // a deadlock with a concurrent request: Neo4j reports only a message there) is staged
  // again alone through stage_document, so its transient errors are retried per the
  // policy and a permanent one is returned with its Neo4j code. A request that fails whole
  // is retried whole when the error is retryable (the MERGEs make committed documents
  // unchanged); kUnavailable or kUnauthorized is then every document's result, any other
  // error sends each document alone. Counters of a document committed inside a shared
  // request are zero but for `attempts` (Neo4j counts per request). A crash halfway leaves
  // each document complete or absent. Needs a transport (and clock) safe to use from
  // several threads.
  struct StageInput {
    DocumentNode document;
    std::vector<EntityNode> entities;
    std::vector<RelationEdge> relations;
  };
  std::vector<Result<Counters>> stage_documents(const RunInfo& run,
                                                const std::vector<StageInput>& inputs,
                                                int concurrency);

  // Stages the same typed inputs again (from the ledger); MERGE on fact_id makes a second
  // staging change nothing. Same errors as stage_document.
  Result<Counters> replay(const RunInfo& run, const DocumentNode& document,
                          const std::vector<EntityNode>& entities,
                          const std::vector<RelationEdge>& relations);

  // Removes what run `run_id` contributed: its relationships and MENTIONED_IN/STAGED_BY
  // edges, entity and document nodes left with no provenance, and the Run node. Works in
  // transactions of at most rollback_batch_size deletions; a crash halfway leaves a
  // partial rollback that calling again completes. Unknown run: zero counters.
  Result<Counters> rollback_run(const std::string& run_id);

  // As rollback_run, for one document: of one run, or of every run when run_id is empty.
  // A Run node left without any document goes too (replay makes it again).
  Result<Counters> rollback_document(const std::string& doc_id,
                                     const std::optional<std::string>& run_id = std::nullopt);

  // Everything the graph holds, as the audit compares it (read-only; eight queries, each
  // returning all rows of one kind, sent at once on as many threads). Errors:
  // kUnavailable, or the Neo4j code.
  Result<GraphInventory> inventory();

  // A canonical, sorted text dump: one line per node ("N <labels> <key> <props>") and per
  // relationship ("R <type> <from key> <to key> <props>"), properties as sorted JSON.
  Result<std::string> export_graph(const ExportOptions& options = {});

  // Runs statements in one explicit transaction (retried whole on transient errors) and
  // commits. The low-level primitive under staging; used by benchmarks and tests.
  Result<std::vector<StatementResult>> run_transaction(const std::vector<Statement>& statements);

  // Runs one statement in an auto-commit request (no retry).
  Result<StatementResult> run_auto_commit(const Statement& statement);

  // ---- For the web console: an entity's neighbourhood, read-only (Neo4j's READ mode).
  struct Neighbourhood {
    struct Node {
      std::string entity_id, label, name;
      int hops = 0;  // 0: the entity itself, 1 or 2
    };
    struct Edge {
      std::string source_entity_id, target_entity_id, type;  // one per (source, target, type)
    };
    std::vector<Node> nodes;  // the entity first; empty when Neo4j does not hold it
    std::vector<Edge> edges;
    bool truncated = false;   // the cap cut some edges off
  };
  // The fact relationships of `entity_id` (one hop) and of its neighbours (two hops), at
  // most `max_edges` per hop. Errors: kUnavailable, or the Neo4j code.
  Result<Neighbourhood> neighbourhood(const std::string& entity_id, std::size_t max_edges = 60);

  // Runs one statement read-only, for `fgraph query`: in one auto-commit request in
  // Neo4j's READ access mode (Query API `"accessMode": "Read"`, legacy `access-mode: READ`
  // header), so that Neo4j itself refuses any write to the graph, its schema or the system
  // database. Read mode still lets through commands that read or act on the server rather
  // than the graph; the statement's plan (EXPLAIN, which runs nothing) is checked first, and
  // administration commands (Neo4j plans them on the system database: SHOW USERS, SHOW
  // DATABASES, SHOW PRIVILEGES, ...), SHOW/TERMINATE TRANSACTIONS, SHOW SETTINGS and `dbms.*`
  // procedures (dbms.killConnections, dbms.listConfig, ...) are refused. PROFILE cannot be
  // planned that way (Neo4j refuses EXPLAIN PROFILE): refused with Neo4j's ArgumentError.
  // Errors: kInvalidInput for a refused write (detail Neo.ClientError.Statement.AccessMode),
  // a refused command (no detail), or any other fault of the statement (its Neo4j code:
  // Neo.ClientError.Statement.* or Neo.ClientError.Procedure.*); kInternal when EXPLAIN
  // returns no plan (the query is not run then); otherwise as run_auto_commit. No retry;
  // nothing is written, whatever happens.
  Result<StatementResult> run_read_query(const Statement& statement);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  internal::Neo4jHttp& http();  // the one endpoint, for read_query.cpp
};

}  // namespace fgraph::graph
