// graph_bench: staging throughput against a real Neo4j (tools/neo4j start).
//
//   FGRAPH_NEO4J_URL=... FGRAPH_NEO4J_PASSWORD=... build/bench/graph_bench [DOCS] [NAIVE_DOCS] [CONCURRENCY] [--sweep]
//
// Stages DOCS documents (default 2000) of 8 entities and 10 relations each:
//   (d) our way: GraphClient::stage_documents with the default options, many documents
//       per request (Neo4jOptions::documents_per_request), each in its own transaction,
//       CONCURRENCY requests at once (default 4, what `fgraph run` uses);
//   (a) one transaction (one request) per document, CONCURRENCY documents at once (the
//       staging before batched requests);
//   (a1) the same one document at a time (stage_document in a loop), for reference;
//   (b) naive: one auto-commit request per fact (on NAIVE_DOCS documents, default 200:
//       the rate is per fact, and the full set would take minutes);
//   (c) upper bound: one large UNWIND per type in a single transaction.
// Every mode first stages a few warm-up documents (not timed) so that each is measured
// with its query plans compiled and the JVM warm.
// Prints facts per second and the ratios d/c, d/a, a/b and a/c, measured in the same run.
// --sweep then stages DOCS documents batched for each documents-per-request size, number
// of requests in flight and IN CONCURRENT TRANSACTIONS setting, each against (c).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/graph.h"

using namespace fgraph;
using namespace fgraph::graph;
using nlohmann::json;

namespace {

struct Doc {
  DocumentNode doc;
  std::vector<EntityNode> entities;
  std::vector<RelationEdge> relations;
};

const char* kRelTypes[] = {"SUBSIDIARY_OF", "OFFICER_OF", "DIRECTOR_OF", "HOLDS", "AUDITED_BY",
                           "ISSUER_OF", "ACQUIRED", "AGREEMENT_WITH", "LISTED_ON", "INCORPORATED_IN"};

std::vector<Doc> make_docs(const std::string& prefix, const std::string& run_id, int n) {
  std::vector<Doc> docs;
  for (int i = 0; i < n; ++i) {
    Doc d;
    std::string doc_id = prefix + "doc" + std::to_string(i);
    d.doc = {doc_id, "0000-" + std::to_string(i), "10-K", "320193", "Filer", "2026-11-01", "drop/x.txt"};
    for (int k = 0; k < 8; ++k) {
      // Entities overlap between neighbouring documents, as real filers and officers do.
      int id = (i * 6 + k);
      EntityNode e;
      e.entity_id = prefix + "e" + std::to_string(id);
      e.type = id % 3 == 0 ? "PERSON" : "COMPANY";
      e.name = "Entity " + std::to_string(id);
      d.entities.push_back(e);
    }
    for (int j = 0; j < 10; ++j) {
      RelationEdge r;
      r.type = kRelTypes[j];
      r.source_entity_id = d.entities[j % 8].entity_id;
      r.target_entity_id = d.entities[(j + 3) % 8].entity_id;
      r.run_id = run_id;
      r.doc_id = doc_id;
      r.evidence = "The evidence sentence number " + std::to_string(j) + " of document " + doc_id +
                   " states the relation plainly.";
      r.char_start = 100 * j;
      r.char_end = 100 * j + static_cast<std::int64_t>(r.evidence.size());
      r.fact_id = make_fact_id(r.doc_id, r.type, r.source_entity_id, r.target_entity_id, r.evidence);
      d.relations.push_back(r);
    }
    docs.push_back(std::move(d));
  }
  return docs;
}

json entity_row(const EntityNode& e) {
  return {{"entity_id", e.entity_id}, {"props", {{"entity_id", e.entity_id}, {"name", e.name}}}};
}
json rel_props(const RelationEdge& r) {
  return {{"fact_id", r.fact_id}, {"run_id", r.run_id}, {"doc_id", r.doc_id},
          {"evidence", r.evidence}, {"char_start", r.char_start}, {"char_end", r.char_end}};
}

void cleanup(GraphClient& client, const std::string& prefix) {
  for (;;) {
    auto r = client.run_auto_commit(
        {"MATCH (n) WHERE coalesce(n.entity_id, n.doc_id, n.run_id) STARTS WITH $p "
         "WITH n LIMIT 5000 DETACH DELETE n RETURN count(*)",
         json{{"p", prefix}}.dump()});
    if (!r || r->rows_json.empty() || json::parse(r->rows_json[0])[0].get<int>() == 0) return;
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  bool sweep = false;
  std::vector<const char*> args;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sweep") == 0) {
      sweep = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  const int n_docs = args.size() > 0 ? std::atoi(args[0]) : 2000;
  const int n_naive = args.size() > 1 ? std::atoi(args[1]) : 200;
  const int concurrency = args.size() > 2 ? std::atoi(args[2]) : 4;
  constexpr int kWarmup = 20;
  const char* url = std::getenv("FGRAPH_NEO4J_URL");
  const char* password = std::getenv("FGRAPH_NEO4J_PASSWORD");
  if (!url || !password) {
    std::fprintf(stderr, "set FGRAPH_NEO4J_URL and FGRAPH_NEO4J_PASSWORD (eval \"$(tools/neo4j env)\")\n");
    return 2;
  }
  init_logging({"warn"});
  auto schema = load_graph_schema(std::string(FGRAPH_SOURCE_DIR) + "/schemas/extraction.v1.json");
  if (!schema) return 2;
  Neo4jOptions options;
  options.url = url;
  options.password = password;
  // FGRAPH_NEO4J_API=legacy measures the legacy transactional endpoints, which carry every
  // statement of a document in the request that opens its transaction.
  if (const char* api = std::getenv("FGRAPH_NEO4J_API"); api != nullptr) {
    options.api = std::string(api) == "legacy" ? Neo4jApi::kLegacy : Neo4jApi::kQueryV2;
  }
  SystemClock clock;
  auto transport = make_curl_transport();
  GraphClient client(options, *schema, *transport, clock);
  Neo4jOptions single = options;
  single.documents_per_request = 1;
  GraphClient per_document(single, *schema, *transport, clock);
  auto info = client.connect();
  if (!info) {
    std::fprintf(stderr, "neo4j: %s\n", info.error().describe().c_str());
    return 3;
  }
  if (auto s = client.bootstrap_schema(); !s) return 3;
  const std::string tag = "bench" + random_hex(3) + "-";

  auto inputs_of = [](std::vector<Doc>& docs) {
    std::vector<GraphClient::StageInput> in;
    for (auto& d : docs) in.push_back({std::move(d.doc), std::move(d.entities), std::move(d.relations)});
    return in;
  };
  auto stage_with = [&](GraphClient& c, const RunInfo& run, const std::vector<GraphClient::StageInput>& in,
                        int conc) {
    for (auto& r : c.stage_documents(run, in, conc)) {
      if (!r) {
        std::fprintf(stderr, "stage failed: %s\n", r.error().describe().c_str());
        return false;
      }
    }
    return true;
  };
  auto stage_all = [&](const RunInfo& run, const std::vector<GraphClient::StageInput>& in, int conc) {
    return stage_with(per_document, run, in, conc);
  };
  // Stages n_docs documents batched through `c` (after warm-up documents, not timed) and
  // returns the seconds taken, or a negative number on failure.
  auto timed_batched = [&](GraphClient& c, const std::string& prefix, int conc) {
    RunInfo warm{prefix + "w-run", "local", "m", "p1", "v1", "2026-11-23T00:00:00Z"};
    auto docs_w = make_docs(prefix + "w-", warm.run_id, kWarmup);
    if (!stage_with(c, warm, inputs_of(docs_w), conc)) return -1.0;
    cleanup(client, prefix + "w-");
    RunInfo run{prefix + "run", "local", "m", "p1", "v1", "2026-11-23T00:00:00Z"};
    auto docs = make_docs(prefix, run.run_id, n_docs);
    auto in = inputs_of(docs);
    auto start = std::chrono::steady_clock::now();
    const bool ok = stage_with(c, run, in, conc);
    const double secs = seconds_since(start);
    cleanup(client, prefix);
    return ok ? secs : -1.0;
  };

  // (d) our way: the default options, CONCURRENCY requests at once.
  const double secs_d = timed_batched(client, tag + "d-", concurrency);
  if (secs_d < 0) return 1;

  // (a) one document per request, CONCURRENCY documents at once.
  const std::string pa = tag + "a-";
  RunInfo run_a{pa + "run", "local", "m", "p1", "v1", "2026-11-23T00:00:00Z"};
  RunInfo run_w{tag + "aw-run", "local", "m", "p1", "v1", "2026-11-23T00:00:00Z"};
  auto docs_w = make_docs(tag + "aw-", run_w.run_id, kWarmup);
  if (!stage_all(run_w, inputs_of(docs_w), concurrency)) return 1;
  cleanup(client, tag + "aw-");
  auto docs_a = make_docs(pa, run_a.run_id, n_docs);
  auto in_a = inputs_of(docs_a);
  auto t0 = std::chrono::steady_clock::now();
  if (!stage_all(run_a, in_a, concurrency)) return 1;
  const double secs_a = seconds_since(t0);
  const double facts_a = 10.0 * n_docs;
  cleanup(client, pa);

  // (a1) the same, one document at a time.
  const std::string pa1 = tag + "a1-";
  RunInfo run_a1{pa1 + "run", "local", "m", "p1", "v1", "2026-11-23T00:00:00Z"};
  auto docs_a1 = make_docs(pa1, run_a1.run_id, n_docs);
  auto in_a1 = inputs_of(docs_a1);
  t0 = std::chrono::steady_clock::now();
  if (!stage_all(run_a1, in_a1, 1)) return 1;
  const double secs_a1 = seconds_since(t0);
  cleanup(client, pa1);

  // (b) naive: one auto-commit request per fact.
  const std::string pb = tag + "b-";
  auto docs_b = make_docs(pb, pb + "run", n_naive + kWarmup);
  std::map<std::string, std::string> type_of;
  int seen_b = 0;
  for (const auto& d : docs_b) {
    if (seen_b++ == kWarmup) t0 = std::chrono::steady_clock::now();
    for (const auto& e : d.entities) type_of[e.entity_id] = entity_label(e.type);
    for (const auto& r : d.relations) {
      const std::string cypher =
          "MERGE (d:Document {doc_id: $doc.doc_id}) ON CREATE SET d += $doc "
          "MERGE (a:Entity {entity_id: $a}) ON CREATE SET a:`" + type_of[r.source_entity_id] +
          "`, a.name = $an MERGE (b:Entity {entity_id: $b}) ON CREATE SET b:`" +
          type_of[r.target_entity_id] + "`, b.name = $bn "
          "MERGE (a)-[:MENTIONED_IN {run_id: $run}]->(d) MERGE (b)-[:MENTIONED_IN {run_id: $run}]->(d) "
          "MERGE (a)-[x:`" + r.type + "` {fact_id: $props.fact_id, run_id: $run}]->(b) "
          "ON CREATE SET x += $props";
      json p = {{"doc", {{"doc_id", d.doc.doc_id}, {"form_type", d.doc.form_type}}},
                {"a", r.source_entity_id}, {"an", "n"}, {"b", r.target_entity_id}, {"bn", "n"},
                {"run", r.run_id}, {"props", rel_props(r)}};
      auto res = client.run_auto_commit({cypher, p.dump()});
      if (!res) {
        std::fprintf(stderr, "naive failed: %s\n", res.error().describe().c_str());
        return 1;
      }
    }
  }
  const double secs_b = seconds_since(t0);
  const double facts_b = 10.0 * n_naive;
  cleanup(client, pb);

  // (c) one large UNWIND per type in one transaction.
  const std::string pc = tag + "c-";
  auto bulk = [&](const std::string& prefix, int n) {
    auto docs_c = make_docs(prefix, prefix + "run", n);
    std::vector<Statement> st;
    json docs = json::array();
    std::map<std::string, json> by_label;
    std::map<std::string, json> by_type;
    for (const auto& d : docs_c) {
      docs.push_back({{"doc_id", d.doc.doc_id}, {"form_type", d.doc.form_type}});
      for (const auto& e : d.entities) {
        json row = entity_row(e);
        row["doc_id"] = d.doc.doc_id;
        by_label[entity_label(e.type)].push_back(row);
      }
      for (const auto& r : d.relations) {
        by_type[r.type].push_back({{"source", r.source_entity_id}, {"target", r.target_entity_id},
                                   {"fact_id", r.fact_id}, {"props", rel_props(r)}});
      }
    }
    st.push_back({"MERGE (r:Run {run_id: $run}) WITH r UNWIND $docs AS row "
                  "MERGE (d:Document {doc_id: row.doc_id}) ON CREATE SET d += row MERGE (d)-[:STAGED_BY]->(r)",
                  json{{"run", prefix + "run"}, {"docs", docs}}.dump()});
    for (const auto& [label, rows] : by_label) {
      st.push_back({"UNWIND $rows AS row MATCH (d:Document {doc_id: row.doc_id}) "
                    "MERGE (e:Entity {entity_id: row.entity_id}) ON CREATE SET e:`" + label +
                        "`, e += row.props MERGE (e)-[:MENTIONED_IN {run_id: $run}]->(d)",
                    json{{"rows", rows}, {"run", prefix + "run"}}.dump()});
    }
    for (const auto& [type, rows] : by_type) {
      st.push_back({"UNWIND $rows AS row MATCH (a:Entity {entity_id: row.source}) "
                    "MATCH (b:Entity {entity_id: row.target}) MERGE (a)-[x:`" + type +
                        "` {fact_id: row.fact_id, run_id: $run}]->(b) ON CREATE SET x += row.props",
                    json{{"rows", rows}, {"run", prefix + "run"}}.dump()});
    }
    auto r = client.run_transaction(st);
    if (!r) std::fprintf(stderr, "bulk failed: %s\n", r.error().describe().c_str());
    return static_cast<bool>(r);
  };
  if (!bulk(tag + "cw-", kWarmup)) return 1;
  cleanup(client, tag + "cw-");
  t0 = std::chrono::steady_clock::now();
  if (!bulk(pc, n_docs)) return 1;
  const double secs_c = seconds_since(t0);
  const double facts_c = 10.0 * n_docs;
  cleanup(client, pc);

  const double rate_a1 = facts_a / secs_a1;
  const double rate_d = facts_a / secs_d;
  const double rate_a = facts_a / secs_a, rate_b = facts_b / secs_b, rate_c = facts_c / secs_c;
  std::printf("neo4j %s (%s), api %s\n", info->version.c_str(), info->edition.c_str(),
              info->api_in_use == Neo4jApi::kQueryV2 ? "query/v2" : "legacy tx");
  std::printf("(d) batched requests: %6d docs %7.0f facts in %7.2f s = %8.0f facts/s (%zu docs/request, %d at once)\n",
              n_docs, facts_a, secs_d, rate_d, client.documents_per_request(), concurrency);
  std::printf("(a) per-document tx : %6d docs %7.0f facts in %7.2f s = %8.0f facts/s (%d at once)\n", n_docs, facts_a, secs_a, rate_a, concurrency);
  std::printf("(a1) one at a time  : %6d docs %7.0f facts in %7.2f s = %8.0f facts/s\n", n_docs, facts_a, secs_a1, rate_a1);
  std::printf("(b) auto-commit/fact: %6d docs %7.0f facts in %7.2f s = %8.0f facts/s\n", n_naive, facts_b, secs_b, rate_b);
  std::printf("(c) one bulk tx     : %6d docs %7.0f facts in %7.2f s = %8.0f facts/s\n", n_docs, facts_c, secs_c, rate_c);
  std::printf("a/b = %.1fx (target >= 10x), a/c = %.2f (target >= 0.5); one at a time: a1/b = %.1fx, a1/c = %.2f\n",
              rate_a / rate_b, rate_a / rate_c, rate_a1 / rate_b, rate_a1 / rate_c);
  // (c) is the upper bound of the HTTP path, so no per-document method can exceed c/b.
  std::printf("ceiling: c/b = %.1fx\n", rate_c / rate_b);
  std::printf("d/c = %.2f (target >= 0.9), d/a = %.2fx, d/b = %.1fx\n", rate_d / rate_c, rate_d / rate_a,
              rate_d / rate_b);
  std::fflush(stdout);
  if (!sweep) return 0;

  // Each setting against (c) measured again just before it, so drifting load on a shared
  // machine shows in both.
  std::printf("sweep: docs/request x requests in flight x concurrent transactions, facts/s and ratio to (c)\n");
  int round = 0;
  for (int concurrent_tx : {0, 4}) {
    for (std::size_t per_request : {10, 25, 50, 100, 200}) {
      for (int in_flight : {1, 2, 4}) {
        Neo4jOptions o = options;
        o.documents_per_request = per_request;
        o.concurrent_transactions = concurrent_tx;
        GraphClient c(o, *schema, *transport, clock);
        const std::string p = tag + "s" + std::to_string(round++) + "-";
        t0 = std::chrono::steady_clock::now();
        if (!bulk(p + "c-", n_docs)) return 1;
        const double secs_bulk = seconds_since(t0);
        cleanup(client, p + "c-");
        const double secs = timed_batched(c, p, in_flight);
        if (secs < 0) return 1;
        std::printf("  %4zu docs/request  %d in flight  %s: %8.0f facts/s  c %8.0f facts/s  ratio %.2f\n",
                    per_request, in_flight, concurrent_tx > 1 ? "IN 4 CONCURRENT" : "sequential     ",
                    facts_a / secs, facts_a / secs_bulk, secs_bulk / secs);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
