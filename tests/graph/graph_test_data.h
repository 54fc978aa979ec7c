// tests/graph: builders of typed graph inputs shared by the graph integration tests.
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"

namespace fgraph::testing {

struct DocInput {
  graph::DocumentNode doc;
  std::vector<graph::EntityNode> entities;
  std::vector<graph::RelationEdge> relations;
};

inline graph::RunInfo make_run(const std::string& run_id) {
  return {run_id, "local", "smollm2-135m", "p1", "extraction.v1", "2026-11-23T21:00:00Z"};
}

inline graph::EntityNode make_entity(const std::string& id, const std::string& type,
                                     const std::string& name) {
  graph::EntityNode e;
  e.entity_id = id;
  e.type = type;
  e.name = name;
  return e;
}

inline graph::RelationEdge make_edge(const std::string& run_id, const std::string& doc_id,
                                     const std::string& type, const std::string& source,
                                     const std::string& target, const std::string& evidence) {
  graph::RelationEdge r;
  r.type = type;
  r.source_entity_id = source;
  r.target_entity_id = target;
  r.run_id = run_id;
  r.doc_id = doc_id;
  r.evidence = evidence;
  r.char_start = 10;
  r.char_end = 10 + static_cast<std::int64_t>(evidence.size());
  r.fact_id = graph::make_fact_id(doc_id, type, source, target, evidence);
  return r;
}

// A document with `n_entities` entities (companies and people, ids prefix+"e<i>") and
// `n_relations` relations among them, cycling through a few relation types.
inline DocInput make_doc(const std::string& prefix, const std::string& doc_id,
                         const std::string& run_id, int n_entities, int n_relations,
                         int entity_offset = 0) {
  DocInput in;
  in.doc = {doc_id, "0000950170-26-" + doc_id, "10-K", "320193", "Filer \"Inc\"",
            "2026-11-01", "drop/" + doc_id + ".txt"};
  for (int i = 0; i < n_entities; ++i) {
    int k = entity_offset + i;
    in.entities.push_back(make_entity(prefix + "e" + std::to_string(k),
                                      k % 2 ? "PERSON" : "COMPANY", "Name " + std::to_string(k)));
  }
  static const char* kTypes[] = {"SUBSIDIARY_OF", "OFFICER_OF", "DIRECTOR_OF", "HOLDS", "AUDITED_BY"};
  for (int j = 0; j < n_relations; ++j) {
    const auto& a = in.entities[j % n_entities].entity_id;
    const auto& b = in.entities[(j + 1) % n_entities].entity_id;
    in.relations.push_back(make_edge(run_id, doc_id, kTypes[j % 5], a, b,
                                     "evidence " + std::to_string(j) + " of " + doc_id));
  }
  return in;
}

}  // namespace fgraph::testing
