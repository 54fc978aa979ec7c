// diff_inventories: what the audit reports, kind by kind, both ways.
#include <string>

#include "graph/graph.h"

namespace fgraph::graph {
namespace {

class Differ {
 public:
  explicit Differ(InventoryDiff& out) : out_(out) {}

  // Sets: what one side has and the other lacks.
  template <typename Set, typename Show>
  void sets(const std::string& kind, const Set& expected, const Set& actual, Show show) {
    for (const auto& k : expected) {
      if (!actual.count(k)) out_.note(kind, "missing", show(k));
    }
    for (const auto& k : actual) {
      if (!expected.count(k)) out_.note(kind, "extra", show(k));
    }
  }

  // Maps: as sets by key, and values that differ.
  template <typename Map, typename Show, typename Describe>
  void maps(const std::string& kind, const Map& expected, const Map& actual, Show show,
            Describe describe) {
    for (const auto& [k, v] : expected) {
      auto it = actual.find(k);
      if (it == actual.end()) {
        out_.note(kind, "missing", show(k));
      } else if (!(it->second == v)) {
        out_.note(kind, "differs",
                  show(k) + ": ledger " + describe(v) + ", Neo4j " + describe(it->second));
      }
    }
    for (const auto& [k, v] : actual) {
      if (!expected.count(k)) out_.note(kind, "extra", show(k));
    }
  }

 private:
  InventoryDiff& out_;
};

std::string same(const std::string& s) { return s; }

}  // namespace

void InventoryDiff::note(const std::string& kind, const std::string& direction,
                         const std::string& what) {
  ++counts[kind][direction];
  if (lines.size() < max_lines) lines.push_back(kind + " " + direction + ": " + what);
}

InventoryDiff diff_inventories(const GraphInventory& expected, const GraphInventory& actual,
                               std::size_t max_lines) {
  InventoryDiff out;
  out.max_lines = max_lines;
  Differ d(out);
  d.sets("document", expected.documents, actual.documents, same);
  d.sets("run", expected.runs, actual.runs, same);
  d.maps("entity", expected.entities, actual.entities, same,
         [](const std::string& label) { return "label " + label; });
  d.sets("staged_by", expected.staged_by, actual.staged_by,
         [](const auto& k) { return "document " + k.first + " run " + k.second; });
  d.sets("mentioned_in", expected.mentions, actual.mentions, [](const auto& k) {
    return "entity " + std::get<0>(k) + " document " + std::get<1>(k) + " run " + std::get<2>(k);
  });
  d.maps(
      "fact", expected.facts, actual.facts,
      [](const auto& k) { return k.first + " run " + k.second; },
      [](const FactEdge& e) {
        return e.type + " " + e.source_entity_id + "->" + e.target_entity_id + " doc " + e.doc_id +
               " [" + std::to_string(e.char_start) + "," + std::to_string(e.char_end) + ") \"" +
               e.evidence.substr(0, 80) + "\"";
      });
  // Foreign things are never expected: each is extra.
  for (const auto& f : actual.foreign) out.note("foreign", "extra", f);
  return out;
}

}  // namespace fgraph::graph
