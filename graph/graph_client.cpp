#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "graph/internal/neo4j_http.h"

namespace fgraph::graph {
namespace {

using nlohmann::json;
using internal::WireResult;
using internal::WireStatement;

bool is_type_name(std::string_view s) {
  if (s.empty() || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Counters sum(const std::vector<WireResult>& results) {
  Counters c;
  for (const auto& r : results) c += r.counters;
  return c;
}

std::int64_t first_int(const WireResult& r) {
  if (r.rows.empty() || !r.rows[0].is_array() || r.rows[0].empty() ||
      !r.rows[0][0].is_number_integer()) {
    return 0;
  }
  return r.rows[0][0].get<std::int64_t>();
}

}  // namespace

std::string make_fact_id(std::string_view doc_id, std::string_view type,
                         std::string_view source_entity_id, std::string_view target_entity_id,
                         std::string_view evidence) {
  return sha256_fields({doc_id, type, source_entity_id, target_entity_id, evidence});
}

bool GraphSchema::allows_entity_type(std::string_view type) const {
  return contains(entity_types, type);
}
bool GraphSchema::allows_relation_type(std::string_view type) const {
  return contains(relation_types, type);
}

Result<GraphSchema> load_graph_schema(const std::string& schema_path) {
  auto text = read_file(schema_path, 16u << 20);
  if (!text) return text.error();
  return parse_graph_schema(*text, schema_path);
}

Result<GraphSchema> parse_graph_schema(std::string_view schema_text,
                                       const std::string& schema_path) {
  json doc = json::parse(schema_text, nullptr, false);
  if (doc.is_discarded()) {
    return make_error(ErrorCode::kInvalidInput, "schema is not JSON: " + schema_path);
  }
  auto read_enum = [&](const char* array_name, std::vector<std::string>& out) -> Status {
    const json::json_pointer ptr("/properties/" + std::string(array_name) + "/items/properties/type/enum");
    if (!doc.contains(ptr) || !doc.at(ptr).is_array() || doc.at(ptr).empty()) {
      return make_error(ErrorCode::kInvalidInput,
                        "schema " + schema_path + " has no enumeration of " + array_name + " types");
    }
    for (const auto& v : doc.at(ptr)) {
      if (!v.is_string() || !is_type_name(v.get<std::string>())) {
        return make_error(ErrorCode::kInvalidInput,
                          "schema " + schema_path + ": type " + v.dump() + " is not [A-Z][A-Z0-9_]*");
      }
      out.push_back(v.get<std::string>());
    }
    return ok();
  };
  GraphSchema schema;
  if (auto s = read_enum("entities", schema.entity_types); !s) return s.error();
  if (auto s = read_enum("relations", schema.relation_types); !s) return s.error();
  return schema;
}

std::string entity_label(std::string_view entity_type) {
  std::string out;
  bool upper = true;
  for (char c : entity_type) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                 : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------
struct GraphClient::Impl {
  Impl(Neo4jOptions o, GraphSchema s, HttpTransport& t, Clock& c)
      : options(std::move(o)), schema(std::move(s)), http(options, t), clock(c) {
    // The allow-list is re-checked here so that a hand-built GraphSchema cannot smuggle
    // Cypher into the statement text.
    for (const auto& t2 : schema.entity_types) FGRAPH_CHECK(is_type_name(t2));
    for (const auto& t2 : schema.relation_types) FGRAPH_CHECK(is_type_name(t2));
  }

  Neo4jOptions options;
  GraphSchema schema;
  internal::Neo4jHttp http;
  Clock& clock;
  std::shared_ptr<spdlog::logger> log = logger("graph");
  std::string stage_cypher;  // built once per server (syntax depends on the version)
  std::string batch_cypher;  // "" when the server cannot stage several documents per request
  std::once_flag cypher_once;

  // Runs `attempt` under the retry policy, logging each retryable failure as `what`, and
  // reports the attempts used.
  template <typename F>
  auto retried(const std::string& what, int* attempts, F&& attempt) {
    int n = 0;
    auto r = with_retry(options.retry, clock, [&]() {
      ++n;
      auto res = attempt();
      if (!res && is_retryable(res.error().code)) {
        log->warn("{} attempt {} failed: {}", what, n, res.error().describe());
      }
      return res;
    });
    if (attempts) *attempts = n;
    return r;
  }

  Result<std::vector<WireResult>> transaction(const std::vector<WireStatement>& statements,
                                              int* attempts) {
    return retried("transaction", attempts, [&] { return http.transaction_once(statements); });
  }

  Result<WireResult> auto_commit(std::string cypher, json params) {
    return http.auto_commit(WireStatement{std::move(cypher), std::move(params)});
  }

  // The whole document in one statement, so that staging is one request: the run and
  // document nodes, then one unit subquery per entity type and per relationship type
  // (an empty list costs nothing). Later subqueries see the entities written by earlier
  // ones: a statement reads its own writes. `v` is where the document's values are:
  // "$" (parameters of a one-document statement) or "item." (a row of a batch).
  std::string document_cypher(const std::string& v, bool scoped) const {
    const bool batch = v != "$";
    const std::string carried = batch ? "d, item" : "d";
    // CALL (d) {...} replaces the deprecated CALL { WITH d ...} from 5.23 on.
    const std::string open_d = scoped ? "CALL (" + carried + ") { " : "CALL { WITH " + carried + " ";
    std::string q =
        "MERGE (r:Run {run_id: $run.run_id}) ON CREATE SET r += $run "
        "MERGE (d:Document {doc_id: " + v + "doc.doc_id}) ON CREATE SET d += " + v + "doc "
        "MERGE (d)-[:STAGED_BY]->(r) WITH " + carried + " ";
    for (std::size_t i = 0; i < schema.entity_types.size(); ++i) {
      q += open_d + "UNWIND " + v + "e" + std::to_string(i) +
           " AS row MERGE (e:Entity {entity_id: row.entity_id}) ON CREATE SET e:`" +
           entity_label(schema.entity_types[i]) +
           "`, e += row.props MERGE (e)-[:MENTIONED_IN {run_id: $run.run_id}]->(d) } ";
    }
    for (std::size_t i = 0; i < schema.relation_types.size(); ++i) {
      q += open_d + "UNWIND " + v + "r" + std::to_string(i) +
           " AS row MATCH (a:Entity {entity_id: row.source}) MATCH (b:Entity {entity_id: row.target}) "
           "MERGE (a)-[x:`" + schema.relation_types[i] +
           "` {fact_id: row.fact_id, run_id: $run.run_id}]->(b) ON CREATE SET x += row.props } ";
    }
    return q;
  }

  void build_cypher(const ServerInfo& info) {
    int major = 0, minor = 0;
    // An unreadable version is taken for a new one (calendar versions, 2025.01, read fine).
    if (std::sscanf(info.version.c_str(), "%d.%d", &major, &minor) != 2) major = 6;
    auto at_least = [&](int m, int n) { return major > m || (major == m && minor >= n); };
    const bool scoped = at_least(5, 23);
    stage_cypher = document_cypher("$", scoped) + "RETURN count(*)";
    // Each row (document) commits alone; a failing one is reported, not fatal (5.7+).
    if (!at_least(5, 7)) return;
    const std::string in_tx = options.concurrent_transactions > 1 && at_least(5, 21)
                                  ? "IN " + std::to_string(options.concurrent_transactions) +
                                        " CONCURRENT TRANSACTIONS"
                                  : "IN TRANSACTIONS";
    batch_cypher = "UNWIND $docs AS item " + std::string(scoped ? "CALL (item) { " : "CALL { WITH item ") +
                   document_cypher("item.", scoped) + "} " + in_tx +
                   " OF 1 ROWS ON ERROR CONTINUE REPORT STATUS AS s "
                   "RETURN item.i, s.committed, s.errorMessage";
  }

  Result<ServerInfo> prepare() {
    auto info = http.connect();
    if (info) std::call_once(cypher_once, [&] { build_cypher(*info); });
    return info;
  }

  Status validate(const RunInfo& run, const DocumentNode& doc, const std::vector<EntityNode>& entities,
                  const std::vector<RelationEdge>& relations) const {
    auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidInput, std::move(m)); };
    if (run.run_id.empty()) return bad("run_id is empty");
    if (doc.doc_id.empty()) return bad("doc_id is empty");
    std::unordered_set<std::string> ids;
    for (const auto& e : entities) {
      if (e.entity_id.empty()) return bad("an entity has an empty entity_id");
      if (!schema.allows_entity_type(e.type)) return bad("entity type not in the schema: " + e.type);
      if (!ids.insert(e.entity_id).second) return bad("entity listed twice: " + e.entity_id);
    }
    for (const auto& r : relations) {
      if (!schema.allows_relation_type(r.type)) return bad("relation type not in the schema: " + r.type);
      if (r.run_id != run.run_id) return bad("relation of another run: " + r.fact_id);
      if (r.doc_id != doc.doc_id) return bad("relation of another document: " + r.fact_id);
      if (!ids.count(r.source_entity_id) || !ids.count(r.target_entity_id)) {
        return bad("relation refers to an entity not staged with the document: " + r.fact_id);
      }
      if (r.fact_id != make_fact_id(r.doc_id, r.type, r.source_entity_id, r.target_entity_id, r.evidence)) {
        return bad("fact_id does not match the relation's fields: " + r.fact_id);
      }
    }
    return ok();
  }

  static json run_props(const RunInfo& run) {
    return {{"run_id", run.run_id},          {"lane", run.lane},
            {"model", run.model},            {"prompt_version", run.prompt_version},
            {"schema_version", run.schema_version}, {"started_at", run.started_at}};
  }

  // A document's values as document_cypher reads them (doc, e<i>, r<i>), after the checks
  // of validate: kInvalidInput before any request, invalid UTF-8 included.
  Result<json> document_values(const RunInfo& run, const DocumentNode& doc,
                               const std::vector<EntityNode>& entities,
                               const std::vector<RelationEdge>& relations) const {
    if (auto v = validate(run, doc, entities, relations); !v) return v.error();
    json doc_props = {{"doc_id", doc.doc_id},   {"accession", doc.accession}, {"form_type", doc.form_type},
                      {"cik", doc.cik},         {"filer", doc.filer},         {"filed_at", doc.filed_at},
                      {"source", doc.source}};
    json p = {{"doc", std::move(doc_props)}};
    for (std::size_t i = 0; i < schema.entity_types.size(); ++i) p["e" + std::to_string(i)] = json::array();
    for (std::size_t i = 0; i < schema.relation_types.size(); ++i) p["r" + std::to_string(i)] = json::array();
    // Rows go in entity_id order, so that concurrent documents sharing entities lock them
    // in one global order (type, then id) and rarely deadlock.
    std::vector<const EntityNode*> sorted;
    for (const auto& e : entities) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(),
              [](const EntityNode* a, const EntityNode* b) { return a->entity_id < b->entity_id; });
    for (const EntityNode* e : sorted) {
      json props = {{"entity_id", e->entity_id}, {"name", e->name}};
      if (e->cik) props["cik"] = *e->cik;
      if (e->ticker) props["ticker"] = *e->ticker;
      if (e->lei) props["lei"] = *e->lei;
      if (e->jurisdiction) props["jurisdiction"] = *e->jurisdiction;
      auto idx = std::find(schema.entity_types.begin(), schema.entity_types.end(), e->type) -
                 schema.entity_types.begin();
      p["e" + std::to_string(idx)].push_back({{"entity_id", e->entity_id}, {"props", std::move(props)}});
    }
    for (const auto& r : relations) {
      json props = {{"fact_id", r.fact_id}, {"run_id", r.run_id},         {"doc_id", r.doc_id},
                    {"evidence", r.evidence}, {"char_start", r.char_start}, {"char_end", r.char_end},
                    {"extractor", r.extractor}};
      if (r.ownership_percent) props["ownership_percent"] = *r.ownership_percent;
      if (r.effective_date) props["effective_date"] = *r.effective_date;
      if (r.role) props["role"] = *r.role;
      auto idx = std::find(schema.relation_types.begin(), schema.relation_types.end(), r.type) -
                 schema.relation_types.begin();
      p["r" + std::to_string(idx)].push_back({{"fact_id", r.fact_id},
                                              {"source", r.source_entity_id},
                                              {"target", r.target_entity_id},
                                              {"props", std::move(props)}});
    }
    // Invalid UTF-8 anywhere is refused before any request.
    if (auto d = internal::dump_json(p); !d) return d.error();
    return p;
  }

  // One document in one request (`values` from document_values).
  Result<Counters> stage_one(const RunInfo& run, json values) {
    const std::string doc_id = values["doc"]["doc_id"].get<std::string>();
    auto info = prepare();
    if (!info) return info.error();
    values["run"] = run_props(run);
    // One statement is one transaction: sent in a single request, it commits whole or
    // not at all, and a transient failure retries it whole.
    int attempts = 0;
    const WireStatement statement{stage_cypher, std::move(values)};
    auto result = retried("stage doc=" + doc_id, &attempts, [&] { return http.auto_commit(statement); });
    if (!result) {
      log->error("stage doc={} run={} failed after {} attempt(s): {}", doc_id, run.run_id, attempts,
                 result.error().describe());
      return result.error();
    }
    Counters c = result->counters;
    c.attempts = attempts;
    log->debug("staged doc={} run={} nodes+{} rels+{}", doc_id, run.run_id, c.nodes_created,
               c.relationships_created);
    return c;
  }

  Result<Counters> stage(const RunInfo& run, const DocumentNode& doc,
                         const std::vector<EntityNode>& entities,
                         const std::vector<RelationEdge>& relations) {
    auto values = document_values(run, doc, entities, relations);
    if (!values) return values.error();
    return stage_one(run, std::move(*values));
  }

  // Several documents in one request, each in its own transaction (batch_cypher); what
  // did not commit there goes alone through stage_one. `values[k]` belongs to results[at[k]].
  void stage_batch(const RunInfo& run, std::vector<json> values, const std::vector<std::size_t>& at,
                   std::vector<Result<Counters>>& results) {
    if (values.size() == 1 || batch_cypher.empty()) {
      for (std::size_t k = 0; k < values.size(); ++k) results[at[k]] = stage_one(run, std::move(values[k]));
      return;
    }
    const std::size_t n = values.size();
    const std::string first = values.front()["doc"]["doc_id"].get<std::string>();
    WireStatement statement{batch_cypher, {{"run", run_props(run)}, {"docs", json::array()}}};
    json& docs = statement.parameters["docs"];
    for (std::size_t k = 0; k < n; ++k) {
      values[k]["i"] = static_cast<std::int64_t>(k);
      docs.push_back(std::move(values[k]));
    }
    // docs[k] without its index, for stage_one.
    auto alone = [&](std::size_t k) {
      json v = std::move(docs[k]);
      v.erase("i");
      return v;
    };
    int attempts = 0;
    auto result = retried("stage batch of " + std::to_string(n) + " docs from doc=" + first,
                          &attempts, [&] { return http.auto_commit(statement); });
    std::vector<std::string> failed(n, "no status returned");
    if (result) {
      for (const auto& row : result->rows) {
        if (!row.is_array() || row.size() < 3 || !row[0].is_number_integer()) continue;
        const auto k = row[0].get<std::size_t>();
        if (k >= n) continue;
        if (row[1].is_boolean() && row[1].get<bool>()) {
          failed[k].clear();
        } else {
          failed[k] = row[2].is_string() ? row[2].get<std::string>() : "not committed";
        }
      }
    } else if (result.error().code == ErrorCode::kUnavailable ||
               result.error().code == ErrorCode::kUnauthorized) {
      // Not the documents' fault, and sending each alone would only wait as long again.
      log->error("stage batch of {} docs from doc={} run={} failed after {} attempt(s): {}", n, first,
                 run.run_id, attempts, result.error().describe());
      for (std::size_t k = 0; k < n; ++k) results[at[k]] = result.error();
      return;
    } else {
      log->warn("stage batch of {} docs from doc={} run={} failed: {}; staging each alone", n, first,
                run.run_id, result.error().describe());
      std::fill(failed.begin(), failed.end(), result.error().describe());
    }
    for (std::size_t k = 0; k < n; ++k) {
      if (failed[k].empty()) {
        Counters c;
        c.attempts = attempts;
        results[at[k]] = c;
        continue;
      }
      json v = alone(k);
      if (result) {
        log->warn("stage doc={} run={} did not commit in its batch ({}); staging it alone",
                  v["doc"]["doc_id"].get<std::string>(), run.run_id, failed[k]);
      }
      results[at[k]] = stage_one(run, std::move(v));
    }
  }

  // Repeats a bounded delete statement (returning count) until it deletes nothing.
  Status delete_in_batches(const std::string& cypher, const json& params, Counters& total) {
    for (;;) {
      json p = params;
      p["batch"] = static_cast<std::int64_t>(options.rollback_batch_size);
      auto r = transaction({WireStatement{cypher, std::move(p)}}, nullptr);
      if (!r) return r.error();
      total += sum(*r);
      if (first_int((*r)[0]) == 0) return ok();
    }
  }

  Status rollback_pair(const std::string& doc_id, const std::string& run_id, Counters& total) {
    const json p = {{"doc_id", doc_id}, {"run_id", run_id}};
    // 1. The run's facts drawn from this document.
    if (auto s = delete_in_batches(
            "MATCH (:Document {doc_id: $doc_id})<-[:MENTIONED_IN {run_id: $run_id}]-(e:Entity) "
            "MATCH (e)-[x]->() WHERE x.doc_id = $doc_id AND x.run_id = $run_id "
            "WITH DISTINCT x LIMIT $batch DELETE x RETURN count(*)",
            p, total);
        !s) {
      return s;
    }
    // 2. Its mentions; entities left with no relationship at all go with them.
    if (auto s = delete_in_batches(
            "MATCH (:Document {doc_id: $doc_id})<-[m:MENTIONED_IN {run_id: $run_id}]-(e:Entity) "
            "WITH m, e LIMIT $batch DELETE m "
            "WITH collect(DISTINCT e) AS es, count(*) AS n "
            "FOREACH (x IN [y IN es WHERE NOT EXISTS { (y)--() }] | DELETE x) "
            "RETURN n",
            p, total);
        !s) {
      return s;
    }
    // 3. The staging record, and the document once no run holds it.
    auto r = transaction(
        {WireStatement{"MATCH (d:Document {doc_id: $doc_id})-[s:STAGED_BY]->(:Run {run_id: $run_id}) "
                       "DELETE s WITH DISTINCT d WHERE NOT EXISTS { (d)--() } DELETE d",
                       p}},
        nullptr);
    if (!r) return r.error();
    total += sum(*r);
    return ok();
  }

  Result<std::vector<std::string>> strings(const std::string& cypher, json params) {
    auto r = auto_commit(cypher, std::move(params));
    if (!r) return r.error();
    std::vector<std::string> out;
    for (const auto& row : r->rows) {
      if (row.is_array() && !row.empty() && row[0].is_string()) out.push_back(row[0].get<std::string>());
    }
    return out;
  }
};

GraphClient::GraphClient(Neo4jOptions options, GraphSchema schema, HttpTransport& transport, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(schema), transport, clock)) {}
GraphClient::~GraphClient() = default;

Result<ServerInfo> GraphClient::connect() { return impl_->http.connect(); }

Status GraphClient::bootstrap_schema() {
  std::vector<std::string> ddl = {
      "CREATE CONSTRAINT fgraph_entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.entity_id IS UNIQUE",
      "CREATE CONSTRAINT fgraph_doc_id IF NOT EXISTS FOR (n:Document) REQUIRE n.doc_id IS UNIQUE",
      "CREATE CONSTRAINT fgraph_run_id IF NOT EXISTS FOR (n:Run) REQUIRE n.run_id IS UNIQUE",
  };
  for (const auto& t : impl_->schema.relation_types) {
    std::string lower = t;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    ddl.push_back("CREATE INDEX fgraph_fact_" + lower + " IF NOT EXISTS FOR ()-[r:`" + t +
                  "`]-() ON (r.fact_id)");
  }
  for (const auto& stmt : ddl) {
    auto r = with_retry(impl_->options.retry, impl_->clock,
                        [&] { return impl_->auto_commit(stmt, json::object()); });
    if (!r) {
      // Another client created the same rule between our check and our write.
      const std::string& code = r.error().detail;
      if (code == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" ||
          code == "Neo.ClientError.Schema.ConstraintAlreadyExists" ||
          code == "Neo.ClientError.Schema.IndexAlreadyExists") {
        continue;
      }
      impl_->log->error("schema bootstrap failed: {}", r.error().describe());
      return r.error();
    }
  }
  return ok();
}

Result<Counters> GraphClient::stage_document(const RunInfo& run, const DocumentNode& document,
                                             const std::vector<EntityNode>& entities,
                                             const std::vector<RelationEdge>& relations) {
  return impl_->stage(run, document, entities, relations);
}

std::vector<Result<Counters>> GraphClient::stage_documents(const RunInfo& run,
                                                           const std::vector<StageInput>& inputs,
                                                           int concurrency) {
  std::vector<Result<Counters>> results(inputs.size(), make_error(ErrorCode::kInternal, "not staged"));
  std::vector<json> values;
  std::vector<std::size_t> at;  // values[k] is inputs[at[k]]
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto v = impl_->document_values(run, inputs[i].document, inputs[i].entities, inputs[i].relations);
    if (!v) {
      results[i] = v.error();
      continue;
    }
    values.push_back(std::move(*v));
    at.push_back(i);
  }
  if (values.empty()) return results;
  if (auto info = impl_->prepare(); !info) {
    for (std::size_t i : at) results[i] = info.error();
    return results;
  }
  const std::size_t per_request =
      impl_->batch_cypher.empty() ? 1 : std::max<std::size_t>(1, impl_->options.documents_per_request);
  const std::size_t requests = (values.size() + per_request - 1) / per_request;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t r = next++; r < requests; r = next++) {
      const std::size_t from = r * per_request, to = std::min(values.size(), from + per_request);
      std::vector<json> mine(std::make_move_iterator(values.begin() + from),
                             std::make_move_iterator(values.begin() + to));
      impl_->stage_batch(run, std::move(mine), std::vector<std::size_t>(at.begin() + from, at.begin() + to),
                         results);
    }
  };
  const auto threads = std::min<std::size_t>(static_cast<std::size_t>(std::max(concurrency, 1)), requests);
  {
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
  }
  return results;
}

std::size_t GraphClient::documents_per_request() const { return impl_->options.documents_per_request; }

Result<Counters> GraphClient::replay(const RunInfo& run, const DocumentNode& document,
                                     const std::vector<EntityNode>& entities,
                                     const std::vector<RelationEdge>& relations) {
  return impl_->stage(run, document, entities, relations);
}

Result<Counters> GraphClient::rollback_document(const std::string& doc_id,
                                                const std::optional<std::string>& run_id) {
  std::vector<std::string> runs;
  if (run_id && !run_id->empty()) {
    runs.push_back(*run_id);
  } else {
    auto r = impl_->strings("MATCH (:Document {doc_id: $doc_id})-[:STAGED_BY]->(r:Run) RETURN r.run_id",
                            {{"doc_id", doc_id}});
    if (!r) return r.error();
    runs = std::move(*r);
  }
  Counters total;
  for (const auto& run : runs) {
    if (auto s = impl_->rollback_pair(doc_id, run, total); !s) return s.error();
    // A Run node left with no document says nothing; a replay makes it again.
    auto r = impl_->transaction(
        {WireStatement{"MATCH (r:Run {run_id: $run_id}) WHERE NOT EXISTS { (r)--() } DELETE r",
                       {{"run_id", run}}}},
        nullptr);
    if (!r) return r.error();
    total += sum(*r);
  }
  impl_->log->info("rolled back doc={} runs={} rels-{} nodes-{}", doc_id, runs.size(),
                   total.relationships_deleted, total.nodes_deleted);
  return total;
}

Result<Counters> GraphClient::rollback_run(const std::string& run_id) {
  auto docs = impl_->strings("MATCH (d:Document)-[:STAGED_BY]->(:Run {run_id: $run_id}) RETURN d.doc_id",
                             {{"run_id", run_id}});
  if (!docs) return docs.error();
  Counters total;
  for (const auto& doc : *docs) {
    if (auto s = impl_->rollback_pair(doc, run_id, total); !s) return s.error();
  }
  auto r = impl_->transaction(
      {WireStatement{"MATCH (r:Run {run_id: $run_id}) WHERE NOT EXISTS { (r)--() } DELETE r", {{"run_id", run_id}}}},
      nullptr);
  if (!r) return r.error();
  total += sum(*r);
  impl_->log->info("rolled back run={} docs={} rels-{} nodes-{}", run_id, docs->size(),
                   total.relationships_deleted, total.nodes_deleted);
  return total;
}

Result<GraphInventory> GraphClient::inventory() {
  // One query per kind, all sent at once: the audit's time is Neo4j's answers, and they
  // do not depend on each other.
  static const char* const kQueries[] = {
      "MATCH (d:Document) RETURN d.doc_id",
      "MATCH (r:Run) RETURN r.run_id",
      "MATCH (e:Entity) RETURN e.entity_id, [l IN labels(e) WHERE l <> 'Entity']",
      // Keyed nodes of the model; a node of a model label without its key is foreign.
      "MATCH (n) WHERE NOT ((n:Document AND n.doc_id IS NOT NULL) OR (n:Run AND n.run_id IS NOT NULL)"
      " OR (n:Entity AND n.entity_id IS NOT NULL)) RETURN labels(n), elementId(n) LIMIT 10000",
      "MATCH (d:Document)-[:STAGED_BY]->(r:Run) RETURN d.doc_id, r.run_id",
      // Grouped by document and run: a row per staging, not per mention.
      "MATCH (e:Entity)-[m:MENTIONED_IN]->(d:Document) RETURN d.doc_id, m.run_id, collect(e.entity_id)",
      "MATCH (a:Entity)-[x]->(b:Entity) WHERE x.fact_id IS NOT NULL AND x.run_id IS NOT NULL"
      " RETURN x.fact_id, x.run_id, type(x), a.entity_id, b.entity_id, x.doc_id, x.evidence,"
      " x.char_start, x.char_end",
      // Relationships outside the model: not STAGED_BY from a Document to a Run, not
      // MENTIONED_IN with a run id, and not a keyed fact between two entities.
      "MATCH (a)-[x]->(b) WHERE NOT ("
      " (type(x) = 'STAGED_BY' AND a:Document AND b:Run) OR"
      " (type(x) = 'MENTIONED_IN' AND a:Entity AND b:Document AND x.run_id IS NOT NULL) OR"
      " (a:Entity AND b:Entity AND x.fact_id IS NOT NULL AND x.run_id IS NOT NULL))"
      " RETURN type(x), elementId(x) LIMIT 10000",
  };
  constexpr std::size_t kCount = sizeof(kQueries) / sizeof(kQueries[0]);
  std::vector<std::future<Result<WireResult>>> answers;
  for (const char* q : kQueries) {
    answers.push_back(std::async(std::launch::async,
                                 [this, q] { return impl_->auto_commit(q, json::object()); }));
  }
  std::vector<json> rows(kCount);
  std::optional<Error> failed;
  for (std::size_t i = 0; i < kCount; ++i) {
    auto r = answers[i].get();
    if (!r && !failed) failed = r.error();
    if (r) rows[i] = std::move(r->rows);
  }
  if (failed) return *failed;

  GraphInventory inv;
  auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); };
  for (const auto& row : rows[0]) {
    if (row[0].is_string()) inv.documents.insert(text(row[0]));
  }
  for (const auto& row : rows[1]) {
    if (row[0].is_string()) inv.runs.insert(text(row[0]));
  }
  for (const auto& row : rows[2]) {
    if (!row[0].is_string()) continue;
    std::string label;
    for (const auto& l : row[1]) label += (label.empty() ? "" : ":") + text(l);
    inv.entities[text(row[0])] = label;
  }
  for (const auto& row : rows[3]) {
    std::string labels;
    for (const auto& l : row[0]) labels += ":" + text(l);
    inv.foreign.push_back("node " + (labels.empty() ? std::string("(no label)") : labels) + " " +
                          text(row[1]));
  }
  for (const auto& row : rows[4]) inv.staged_by.emplace(text(row[0]), text(row[1]));
  for (const auto& row : rows[5]) {
    for (const auto& e : row[2]) inv.mentions.emplace(text(e), text(row[0]), text(row[1]));
  }
  for (const auto& row : rows[6]) {
    FactEdge e{text(row[2]), text(row[3]), text(row[4]), text(row[5]), text(row[6]),
               row[7].is_number_integer() ? row[7].get<std::int64_t>() : -1,
               row[8].is_number_integer() ? row[8].get<std::int64_t>() : -1};
    inv.facts[{text(row[0]), text(row[1])}] = std::move(e);
  }
  for (const auto& row : rows[7]) {
    inv.foreign.push_back("relationship :" + text(row[0]) + " " + text(row[1]));
  }
  return inv;
}

Result<std::string> GraphClient::export_graph(const ExportOptions& options) {
  const json p = {{"prefix", options.key_prefix}};
  auto nodes = impl_->auto_commit(
      "MATCH (n) WITH n, coalesce(n.entity_id, n.doc_id, n.run_id, elementId(n)) AS k "
      "WHERE k STARTS WITH $prefix RETURN labels(n), k, properties(n)",
      p);
  if (!nodes) return nodes.error();
  auto rels = impl_->auto_commit(
      "MATCH (a)-[r]->(b) "
      "WITH a, r, b, coalesce(a.entity_id, a.doc_id, a.run_id, elementId(a)) AS ka, "
      "coalesce(b.entity_id, b.doc_id, b.run_id, elementId(b)) AS kb "
      "WHERE ka STARTS WITH $prefix AND kb STARTS WITH $prefix "
      "RETURN type(r), ka, kb, properties(r)",
      p);
  if (!rels) return rels.error();
  std::vector<std::string> lines;
  auto text = [](const json& v) -> Result<std::string> { return internal::dump_json(v); };
  for (const auto& row : nodes->rows) {
    std::vector<std::string> labels = row[0].get<std::vector<std::string>>();
    std::sort(labels.begin(), labels.end());
    std::string joined;
    for (const auto& l : labels) joined += ":" + l;
    auto key = text(row[1]);
    auto props = text(row[2]);  // nlohmann objects are key-sorted: canonical
    if (!key || !props) return make_error(ErrorCode::kInternal, "export: unreadable node");
    lines.push_back("N " + joined + " " + *key + " " + *props);
  }
  for (const auto& row : rels->rows) {
    auto a = text(row[1]);
    auto b = text(row[2]);
    auto props = text(row[3]);
    if (!a || !b || !props) return make_error(ErrorCode::kInternal, "export: unreadable relationship");
    lines.push_back("R " + row[0].get<std::string>() + " " + *a + " " + *b + " " + *props);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

Result<std::vector<StatementResult>> GraphClient::run_transaction(const std::vector<Statement>& statements) {
  std::vector<WireStatement> wire;
  for (const auto& s : statements) {
    json p = json::parse(s.parameters_json, nullptr, false);
    if (p.is_discarded() || !p.is_object()) {
      return make_error(ErrorCode::kInvalidInput, "parameters are not a JSON object");
    }
    wire.push_back({s.cypher, std::move(p)});
  }
  int attempts = 0;
  auto r = impl_->transaction(wire, &attempts);
  if (!r) return r.error();
  std::vector<StatementResult> out;
  for (const auto& w : *r) {
    StatementResult s;
    s.counters = w.counters;
    s.counters.attempts = attempts;
    for (const auto& row : w.rows) s.rows_json.push_back(row.dump());
    out.push_back(std::move(s));
  }
  return out;
}

Result<StatementResult> GraphClient::run_auto_commit(const Statement& statement) {
  json p = json::parse(statement.parameters_json, nullptr, false);
  if (p.is_discarded() || !p.is_object()) {
    return make_error(ErrorCode::kInvalidInput, "parameters are not a JSON object");
  }
  auto r = impl_->auto_commit(statement.cypher, std::move(p));
  if (!r) return r.error();
  StatementResult s;
  s.counters = r->counters;
  s.counters.attempts = 1;
  for (const auto& row : r->rows) s.rows_json.push_back(row.dump());
  return s;
}

internal::Neo4jHttp& GraphClient::http() { return impl_->http; }

}  // namespace fgraph::graph
