// fgraph registry find|show|merge|unmerge|history: the entity registry's commands.
#include <algorithm>
#include <cctype>
#include <iostream>

#include <nlohmann/json.hpp>

#include "registry/registry.h"
#include "tools/cli.h"
#include "tools/json_output.h"

namespace fgraph::cli {
namespace {

using nlohmann::json;

// Opens the ledger and runs `body` with a registry; store errors become exit codes.
// A command with Access::kWrite takes the home's writer lock first.
enum class Access { kRead, kWrite };
template <typename F>
int with_registry(Cli& cli, Access access, F&& body) {
  if (access == Access::kWrite) {
    if (auto s = cli.lock_for_writing(); !s) return report_error(cli, s.error());
  }
  auto store = registry::Store::open({cli.ledger_path()});
  if (!store) return report_error(cli, store.error());
  registry::EntityRegistry reg(**store);
  return body(reg);
}

}  // namespace

void register_registry_commands(CLI::App& app, Cli& cli) {
  CLI::App* group = app.add_subcommand(
      "registry", "Inspect and curate the entity registry (canonical ids of entities)");
  group->require_subcommand(1);

  struct FindFlags {
    std::string text;
    std::string type;
    std::size_t limit = 10;
  };
  auto find = std::make_shared<FindFlags>();
  CLI::App* find_cmd = group->add_subcommand(
      "find", "Ranked candidates for a name, CIK, LEI or ticker, with the score and the "
              "method that matched (cik, lei, ticker, exact, alias, substring, fuzzy)");
  find_cmd->add_option("text", find->text, "A name, CIK, LEI or ticker")->required();
  find_cmd->add_option("--type", find->type,
                       "Only entities of this type (COMPANY, PERSON, FUND, ...)");
  find_cmd->add_option("--limit", find->limit, "At most this many candidates (default 10)")
      ->check([](const std::string& v) -> std::string {
        // Checked as text: a size_t option would take "-3" as a huge number.
        const bool digits = !v.empty() && v.size() <= 9 &&
                            std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); });
        return digits ? std::string() : "--limit must be a whole number >= 0, not " + v;
      });
  find_cmd->add_flag("--json", cli.globals.json, "Print one JSON object per candidate");
  find_cmd->callback([&cli, find] {
    cli.action = [&cli, find]() -> int {
      return with_registry(cli, Access::kRead, [&](registry::EntityRegistry& reg) {
        std::optional<std::string> type;
        if (!find->type.empty()) type = find->type;
        auto r = reg.find(find->text, type, find->limit);
        if (!r) return report_error(cli, r.error());
        for (const auto& c : *r) {
          if (cli.globals.json) {
            std::cout << to_json_text(candidate_json(c)) << "\n";
          } else {
            std::printf("%-24s %.3f  %-9s %-10s %s\n", c.entity_id.c_str(), c.score,
                        c.method.c_str(), c.type.c_str(), c.name.c_str());
          }
        }
        if (!cli.globals.json && r->empty()) std::cerr << "no candidates\n";
        return static_cast<int>(kExitOk);
      });
    };
  });

  auto show_id = std::make_shared<std::string>();
  CLI::App* show_cmd = group->add_subcommand(
      "show", "An entity's identifiers, aliases with the documents and runs that taught them, "
              "the documents and runs that mention it, and its merge history");
  show_cmd->add_option("entity_id", *show_id, "The entity id (ent_...)")->required();
  show_cmd->add_flag("--json", cli.globals.json, "Print the entity as one JSON object");
  show_cmd->callback([&cli, show_id] {
    cli.action = [&cli, show_id]() -> int {
      return with_registry(cli, Access::kRead, [&](registry::EntityRegistry& reg) {
        auto r = reg.show(*show_id);
        if (!r) return report_error(cli, r.error());
        const auto& d = *r;
        if (cli.globals.json) {
          std::cout << to_json_text(entity_json(d)) << "\n";
          return static_cast<int>(kExitOk);
        }
        std::cout << d.entity_id << "  " << d.type << "  " << d.name << "\n";
        std::cout << "  cik " << d.cik.value_or("-") << "  ticker " << d.ticker.value_or("-")
                  << "  lei " << d.lei.value_or("-") << "  cusip " << d.cusip.value_or("-")
                  << "  jurisdiction "
                  << d.jurisdiction.value_or("-") << (d.authoritative ? "  (authoritative)" : "")
                  << "\n";
        if (d.possible_duplicate_of) std::cout << "  possible duplicate of " << *d.possible_duplicate_of << "\n";
        if (d.merged_into) std::cout << "  merged into " << *d.merged_into << "\n";
        std::cout << "  aliases:\n";
        for (const auto& a : d.aliases) {
          std::cout << "    " << a.raw << "  [" << a.method << "; doc " << a.doc_id.value_or("-")
                    << "; run " << a.run_id.value_or("-") << "]\n";
        }
        std::cout << "  mentioned in:\n";
        for (const auto& m : d.mentions) std::cout << "    " << m.doc_id << "  run " << m.run_id << "\n";
        std::cout << "  merges:\n";
        for (const auto& m : d.merges) {
          std::cout << "    " << m.merge_id << "  " << m.merged_id << " -> " << m.survivor_id << "  "
                    << m.state << "  " << m.merged_at << "\n";
        }
        return static_cast<int>(kExitOk);
      });
    };
  });

  struct MergeFlags {
    std::string a, b;
  };
  auto merge = std::make_shared<MergeFlags>();
  CLI::App* merge_cmd = group->add_subcommand(
      "merge", "Merge entity B into A: B becomes an alias of A (recorded, reversible with unmerge)");
  merge_cmd->add_option("A", merge->a, "The entity that survives")->required();
  merge_cmd->add_option("B", merge->b, "The entity merged into A")->required();
  merge_cmd->add_flag("--json", cli.globals.json, "Print the merge record as one JSON object");
  merge_cmd->callback([&cli, merge] {
    cli.action = [&cli, merge]() -> int {
      return with_registry(cli, Access::kWrite, [&](registry::EntityRegistry& reg) {
        auto r = reg.merge(merge->a, merge->b);
        if (!r) return report_error(cli, r.error());
        if (cli.globals.json) {
          std::cout << to_json_text(merge_json(*r)) << "\n";
        } else {
          std::cout << r->merge_id << ": " << r->merged_id << " merged into " << r->survivor_id << "\n";
        }
        return static_cast<int>(kExitOk);
      });
    };
  });

  auto merge_id = std::make_shared<std::string>();
  CLI::App* unmerge_cmd = group->add_subcommand("unmerge", "Undo a merge exactly (by its merge id)");
  unmerge_cmd->add_option("merge_id", *merge_id, "The merge id (mrg_...)")->required();
  unmerge_cmd->add_flag("--json", cli.globals.json, "Print the result as one JSON object");
  unmerge_cmd->callback([&cli, merge_id] {
    cli.action = [&cli, merge_id]() -> int {
      return with_registry(cli, Access::kWrite, [&](registry::EntityRegistry& reg) {
        auto r = reg.unmerge(*merge_id);
        if (!r) return report_error(cli, r.error());
        if (cli.globals.json) {
          std::cout << to_json_text(unmerge_json(*merge_id)) << "\n";
        } else {
          std::cout << *merge_id << " undone\n";
        }
        return static_cast<int>(kExitOk);
      });
    };
  });

  auto history_id = std::make_shared<std::string>();
  CLI::App* history_cmd = group->add_subcommand(
      "history", "Every journal entry that concerns an entity (insert, update, alias, merge, "
                 "unmerge), oldest first, with its run");
  history_cmd->add_option("entity_id", *history_id, "The entity id (ent_...)")->required();
  history_cmd->add_flag("--json", cli.globals.json, "Print one JSON object per journal entry");
  history_cmd->callback([&cli, history_id] {
    cli.action = [&cli, history_id]() -> int {
      return with_registry(cli, Access::kRead, [&](registry::EntityRegistry& reg) {
        auto r = reg.history(*history_id);
        if (!r) return report_error(cli, r.error());
        for (const auto& e : *r) {
          if (cli.globals.json) {
            std::cout << to_json_text(journal_json(e)) << "\n";
          } else {
            std::cout << e.seq << "  " << e.at << "  " << e.op << "  " << e.entity_id
                      << (e.target ? " -> " + *e.target : "") << "  run "
                      << e.run_id.value_or("-") << (e.undone ? "  (rolled back)" : "") << "\n";
          }
        }
        return static_cast<int>(kExitOk);
      });
    };
  });
}

}  // namespace fgraph::cli
