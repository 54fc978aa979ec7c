// The read side of GraphClient: read-only Cypher (`fgraph query`, guarded by EXPLAIN) and an
// entity's neighbourhood (the console). Split from graph_client.cpp; both go through the
// client's one Neo4j HTTP endpoint (GraphClient::http).
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "graph/internal/neo4j_http.h"

namespace fgraph::graph {

using nlohmann::json;

namespace {

// Why a planned statement is not a query of the graph, or "" when it is one. Neo4j marks
// the administration commands it runs on the system database; the others are named.
std::string refused_command(const json& plan) {
  for (const auto& op : internal::plan_operators(plan)) {
    const std::string type = op.type.substr(0, op.type.find('@'));
    const std::string_view kSystem = "@system";
    const bool on_system = op.type.size() > kSystem.size() &&
                           op.type.compare(op.type.size() - kSystem.size(), kSystem.size(), kSystem) == 0;
    if (type == "AdministrationCommand" || on_system) return "an administration command";
    if (type == "TerminateTransactions" || type == "ShowTransactions") return "a transaction command";
    if (type == "ShowSettings") return "SHOW SETTINGS";
    if (type == "ProcedureCall") {
      std::string name = op.details.substr(0, op.details.find('('));
      name.erase(std::remove(name.begin(), name.end(), '`'), name.end());
      name.erase(0, name.find_first_not_of(' '));
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lower.rfind("dbms.", 0) == 0) return "the DBMS procedure " + name;
    }
  }
  return "";
}

// A read query's Neo4j error as the user should see it: what the statement got wrong is
// invalid input (CLI exit 2), a refused write above all.
Error read_query_error(Error e) {
  if (e.detail == "Neo.ClientError.Statement.AccessMode") {
    e.code = ErrorCode::kInvalidInput;
    e.message =
        "query refused: it tried to write, and queries are read-only (the graph is a projection "
        "of the ledger and changes only through run, rollback and replay)";
  } else if (e.detail.rfind("Neo.ClientError.Statement.", 0) == 0 ||
             e.detail.rfind("Neo.ClientError.Procedure.", 0) == 0) {
    e.code = ErrorCode::kInvalidInput;
  }
  return e;
}

}  // namespace

Result<StatementResult> GraphClient::run_read_query(const Statement& statement) {
  json p = json::parse(statement.parameters_json, nullptr, false);
  if (p.is_discarded() || !p.is_object()) {
    return make_error(ErrorCode::kInvalidInput, "parameters are not a JSON object");
  }
  using internal::AccessMode;
  // EXPLAIN runs nothing (a write is planned here; Neo4j refuses it when it runs, below).
  auto planned = http().auto_commit({"EXPLAIN " + statement.cypher, p}, AccessMode::kRead);
  if (!planned) {
    Error e = read_query_error(planned.error());
    if (e.detail == "Neo.ClientError.Statement.ArgumentError") {
      e.message += " (the query's plan is checked with EXPLAIN first, so PROFILE cannot be used)";
    }
    return e;
  }
  if (!planned->plan.is_object()) {  // the check below would pass anything: refuse instead
    return make_error(ErrorCode::kInternal, "neo4j returned no plan for EXPLAIN; query not run");
  }
  if (std::string what = refused_command(planned->plan); !what.empty()) {
    return make_error(ErrorCode::kInvalidInput,
                      "query refused: it is " + what + ", and queries only read the graph");
  }
  auto r = http().auto_commit({statement.cypher, std::move(p)}, AccessMode::kRead);
  if (!r) return read_query_error(r.error());
  StatementResult s;
  s.counters = r->counters;
  s.counters.attempts = 1;
  for (const auto& row : r->rows) s.rows_json.push_back(row.dump());
  return s;
}

Result<GraphClient::Neighbourhood> GraphClient::neighbourhood(const std::string& entity_id,
                                                              std::size_t max_edges) {
  // Entities are linked to each other only by fact relationships (MENTIONED_IN ends at a
  // Document), so (:Entity)-[r]-(:Entity) is exactly the facts.
  static const std::string kCypher =
      "MATCH (c:Entity {entity_id: $id}) "
      "RETURN 0 AS hops, c.entity_id AS a, '' AS b, '' AS t, c.entity_id AS n, c.name AS name,"
      " labels(c) AS labels "
      "UNION ALL "
      "MATCH (c:Entity {entity_id: $id})-[r]-(n:Entity) WITH r, n LIMIT $cap "
      "RETURN 1 AS hops, startNode(r).entity_id AS a, endNode(r).entity_id AS b, type(r) AS t,"
      " n.entity_id AS n, n.name AS name, labels(n) AS labels "
      "UNION ALL "
      "MATCH (c:Entity {entity_id: $id})--(m:Entity)-[r]-(n:Entity) WHERE n <> c "
      "WITH DISTINCT r, n LIMIT $cap "
      "RETURN 2 AS hops, startNode(r).entity_id AS a, endNode(r).entity_id AS b, type(r) AS t,"
      " n.entity_id AS n, n.name AS name, labels(n) AS labels";
  json params = {{"id", entity_id}, {"cap", static_cast<std::int64_t>(max_edges) + 1}};
  auto r = http().auto_commit({kCypher, params}, internal::AccessMode::kRead);
  if (!r) return r.error();
  Neighbourhood out;
  std::map<std::string, std::size_t> node_at;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  std::size_t per_hop[3] = {0, 0, 0};
  for (const auto& row : r->rows) {
    if (!row.is_array() || row.size() != 7) continue;
    const int hops = row[0].get<int>();
    auto text = [&](int i) { return row[i].is_string() ? row[i].get<std::string>() : std::string(); };
    if (hops > 0 && ++per_hop[hops] > max_edges) {
      out.truncated = true;
      continue;
    }
    const std::string node = text(4);
    if (!node_at.count(node)) {
      std::string label;
      for (const auto& l : row[6]) {
        if (l.is_string() && l.get<std::string>() != "Entity") label = l.get<std::string>();
      }
      node_at[node] = out.nodes.size();
      out.nodes.push_back({node, label, text(5), hops});
    }
    if (hops > 0 && seen.emplace(text(1), text(2), text(3)).second) {
      out.edges.push_back({text(1), text(2), text(3)});
    }
  }
  // A two-hop row names only its far end: its near end is a one-hop node, or the cap cut
  // that node off, and then the edge has nothing to hang on.
  std::erase_if(out.edges, [&](const Neighbourhood::Edge& e) {
    return !node_at.count(e.source_entity_id) || !node_at.count(e.target_entity_id);
  });
  return out;
}

}  // namespace fgraph::graph
