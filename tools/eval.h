// fgraph eval: the accepted facts of a run (or of the form extractor alone) against a gold
// list, with precision and recall by relation type and by extractor (issue 18).
//
// A gold file is JSON Lines, one relation per line:
//   {"document": "sec/ex21_aapl.html", "part": 1, "type": "SUBSIDIARY_OF",
//    "source": "Braeburn Capital, Inc.", "target": "Apple Inc.",
//    "source_cik": null, "target_cik": null}
// `document` is a path relative to the drop (matched as a suffix of the document's
// source path); `part` (optional) the <DOCUMENT> of a submission. A fact matches a gold
// fact when document, part, type and both names agree after case folding and removing
// everything but letters and digits ("Apple Inc." = "APPLE INC"). Only the documents the
// gold names are scored. Identifiers in the gold are informative; names decide.
// Threading: plain functions over values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "registry/registry.h"

namespace fgraph::cli {

struct GoldFact {
  std::string document;
  std::optional<int> part;
  std::string type, source, target;
  std::optional<std::string> source_cik, target_cik;
};

// A relation a run accepted (or the form extractor proposed and verify accepted).
struct SystemFact {
  std::string source_path;  // the document's source, as the drop gave it
  int part = 1;
  std::string type, source, target;
  std::string extractor;  // "model" | "rules"
};

struct Score {
  std::int64_t true_positives = 0, false_positives = 0, false_negatives = 0;
  double precision() const;  // 1 when nothing was proposed
  double recall() const;     // 1 when the gold is empty
};

struct EvalReport {
  Score overall;
  std::map<std::string, Score> by_type;
  // By extractor: its true and false positives; its false negatives are the gold facts
  // it did not find (so recall is of the whole gold).
  std::map<std::string, Score> by_extractor;
  std::vector<GoldFact> misses;
  std::vector<SystemFact> extras;
};

// Parses a gold file's text. kInvalidInput naming the line on any malformed line.
Result<std::vector<GoldFact>> parse_gold(std::string_view jsonl);

// Scores `system` against `gold` (system facts of documents the gold does not name are
// ignored).
EvalReport evaluate(const std::vector<GoldFact>& gold, const std::vector<SystemFact>& system);

// The relations of run `run_id` that verify accepted, with their extractor, from the
// ledger (extract's run_requests, verify's recorded_facts). kNotFound for a run without
// requests.
Result<std::vector<SystemFact>> run_facts(registry::Store& store, const std::string& run_id);

// Without a run: parses `root`/document of each gold document, runs the form extractor and
// verify on it in memory (no ledger, no model) and returns the accepted relations.
// Documents that cannot be parsed are kInvalidInput.
Result<std::vector<SystemFact>> form_facts(const std::vector<GoldFact>& gold, const std::string& root);

}  // namespace fgraph::cli
