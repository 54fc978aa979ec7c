// fgraph eval: precision and recall of accepted facts against a gold list (tools/eval.h).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tools/cli.h"
#include "tools/eval.h"

namespace fgraph::cli {
namespace {

using nlohmann::json;

json score_json(const Score& s) {
  return {{"true_positives", s.true_positives}, {"false_positives", s.false_positives},
          {"false_negatives", s.false_negatives}, {"precision", s.precision()}, {"recall", s.recall()}};
}

std::string score_line(const std::string& what, const Score& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "  %-22s precision %.3f  recall %.3f  (%lld found, %lld extra, %lld missed)",
                what.c_str(), s.precision(), s.recall(), static_cast<long long>(s.true_positives),
                static_cast<long long>(s.false_positives), static_cast<long long>(s.false_negatives));
  return buf;
}

}  // namespace

void register_eval_commands(CLI::App& app, Cli& cli) {
  struct Flags {
    std::string gold, run_id, root = ".";
  };
  auto f = std::make_shared<Flags>();
  CLI::App* eval = app.add_subcommand(
      "eval",
      "Compare accepted facts with a gold list (JSON Lines: document, part, type, source, "
      "target) and print precision and recall by relation type and by extractor, with the "
      "misses and extras. With --run: the facts run RUN_ID accepted (read from the ledger); "
      "without: the form extractor's facts on the gold's documents, verified in memory "
      "(nothing written, no model).");
  eval->add_option("gold", f->gold, "Gold file (.jsonl)")->required();
  eval->add_option("--run", f->run_id, "Score the accepted facts of this run");
  eval->add_option("--root", f->root,
                   "Without --run: the folder the gold's document paths are relative to "
                   "(default: the current folder)");
  eval->add_flag("--json", cli.globals.json, "Print one JSON object");
  eval->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      std::ifstream in(f->gold, std::ios::binary);
      if (!in) return report_error(cli, make_error(ErrorCode::kInvalidInput, "cannot read " + f->gold));
      std::stringstream text;
      text << in.rdbuf();
      auto gold = parse_gold(text.str());
      if (!gold) return report_error(cli, gold.error());
      Result<std::vector<SystemFact>> facts = std::vector<SystemFact>{};
      if (f->run_id.empty()) {
        facts = form_facts(*gold, f->root);
      } else {
        auto store = registry::Store::open({cli.ledger_path()});
        if (!store) return report_error(cli, store.error());
        facts = run_facts(**store, f->run_id);
      }
      if (!facts) return report_error(cli, facts.error());
      EvalReport r = evaluate(*gold, *facts);
      if (cli.globals.json) {
        json by_type = json::object(), by_extractor = json::object(), misses = json::array(),
             extras = json::array();
        for (const auto& [k, s] : r.by_type) by_type[k] = score_json(s);
        for (const auto& [k, s] : r.by_extractor) by_extractor[k] = score_json(s);
        for (const auto& m : r.misses) {
          misses.push_back({{"document", m.document}, {"part", m.part ? json(*m.part) : json(nullptr)},
                            {"type", m.type}, {"source", m.source}, {"target", m.target}});
        }
        for (const auto& x : r.extras) {
          extras.push_back({{"document", x.source_path}, {"part", x.part}, {"type", x.type},
                            {"source", x.source}, {"target", x.target}, {"extractor", x.extractor}});
        }
        std::cout << json{{"gold", f->gold},
                          {"run_id", f->run_id.empty() ? json(nullptr) : json(f->run_id)},
                          {"overall", score_json(r.overall)}, {"by_type", by_type},
                          {"by_extractor", by_extractor}, {"misses", misses}, {"extras", extras}}
                         .dump(-1, ' ', false, json::error_handler_t::replace)
                  << "\n";
        return kExitOk;
      }
      std::cout << "Eval of " << (f->run_id.empty() ? "the form extractor" : "run " + f->run_id)
                << " against " << f->gold << " (" << gold->size() << " gold facts)\n";
      std::cout << score_line("overall", r.overall) << "\n";
      std::cout << "By relation type\n";
      for (const auto& [k, s] : r.by_type) std::cout << score_line(k, s) << "\n";
      std::cout << "By extractor\n";
      for (const auto& [k, s] : r.by_extractor) std::cout << score_line(k, s) << "\n";
      if (!r.misses.empty()) std::cout << "Misses\n";
      for (const auto& m : r.misses) {
        std::cout << "  " << m.document << (m.part ? "#" + std::to_string(*m.part) : "") << "  "
                  << escape_for_terminal(m.type + " " + m.source + " -> " + m.target) << "\n";
      }
      if (!r.extras.empty()) std::cout << "Extras\n";
      for (const auto& x : r.extras) {
        std::cout << "  " << x.source_path << "#" << x.part << "  "
                  << escape_for_terminal(x.type + " " + x.source + " -> " + x.target) << "  ["
                  << x.extractor << "]\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace fgraph::cli
