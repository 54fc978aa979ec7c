// graph/internal: the Neo4j HTTP wire protocol (Query API v2 and legacy transactional
// endpoints) under GraphClient. Neo4j's wire JSON stays inside the graph stage.
//
// Threading: Neo4jHttp is immutable after construction except for the discovered API,
// which is set once under a mutex; requests may run from several threads.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/core.h"
#include "graph/graph.h"

namespace fgraph::graph::internal {

struct WireStatement {
  std::string cypher;
  nlohmann::json parameters = nlohmann::json::object();
};

struct WireResult {
  Counters counters;
  nlohmann::json rows = nlohmann::json::array();  // array of row arrays
  // The root operator of the plan of an EXPLAIN statement, in the API's own shape (see
  // plan_operators), else null.
  nlohmann::json plan;
};

// How Neo4j itself runs a transaction. kRead is the Query API's `"accessMode": "Read"` and
// the legacy API's `access-mode: READ` header: the server refuses any write, to the graph,
// its schema or the system database, with Neo.ClientError.Statement.AccessMode.
enum class AccessMode { kWrite, kRead };

// Every operator of a plan (WireResult::plan), depth first: its type ("ProcedureCall@neo4j")
// and its details text ("dbms.listConfig() :: (name :: STRING)", "" when none). The Query
// API keeps the details under `arguments`, the legacy API beside the type.
struct PlanOperator {
  std::string type;
  std::string details;
};
std::vector<PlanOperator> plan_operators(const nlohmann::json& plan);

class Neo4jHttp {
 public:
  Neo4jHttp(const Neo4jOptions& options, HttpTransport& transport);

  // GET / once (cached after the first success) and pick the API.
  Result<ServerInfo> connect();

  // One attempt at an explicit transaction: begin, run every statement, commit. Any
  // failure rolls the transaction back (DELETE, best effort) and returns the error.
  Result<std::vector<WireResult>> transaction_once(const std::vector<WireStatement>& statements);

  // One statement in an auto-commit request (POST /query/v2, or /tx/commit on the legacy
  // API): the statement is one transaction, committed whole or not at all, run in `mode`.
  Result<WireResult> auto_commit(const WireStatement& statement, AccessMode mode = AccessMode::kWrite);

 private:
  HttpRequest make_request(std::string method, std::string url, std::string body) const;
  // Sends and checks status and the body's `errors` whatever the status.
  Result<nlohmann::json> exchange(const HttpRequest& request, int* status_out = nullptr,
                                  HttpResponse* response_out = nullptr);
  Result<std::vector<WireResult>> query_v2_tx(const std::vector<WireStatement>& statements);
  Result<std::vector<WireResult>> legacy_tx(const std::vector<WireStatement>& statements);
  std::string db_url() const;

  Neo4jOptions options_;
  HttpTransport& transport_;
  std::string authorization_;
  std::mutex mu_;
  std::optional<ServerInfo> info_;
};

// Serialises JSON, refusing invalid UTF-8 with kInvalidInput (never throws).
Result<std::string> dump_json(const nlohmann::json& value);

}  // namespace fgraph::graph::internal
