// fgraph costs: what the ledger spent, by project, lane, model, run or any tag, over a
// period. The query is the run stage's (run::Coordinator::costs); this file parses the
// flags and prints.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "run/run.h"
#include "tools/cli.h"
#include "tools/config.h"
#include "tools/json_output.h"

namespace fgraph::cli {
namespace {

// "24h", "7d", "30d" (any whole number of hours or days) -> the RFC 3339 time that long
// before `now`; "all" -> "". kInvalidInput otherwise.
Result<std::string> since_of(const std::string& period, std::chrono::system_clock::time_point now) {
  if (period == "all") return std::string();
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidInput, "--period wants 24h, 7d, 30d (Nh or Nd) or all, not \"" + period + "\"");
  };
  if (period.size() < 2 || period.size() > 6) return bad();
  const char unit = period.back();
  long n = 0;
  for (char c : period.substr(0, period.size() - 1)) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');
  }
  if (n < 1 || (unit != 'h' && unit != 'd')) return bad();
  const auto span = std::chrono::hours(unit == 'h' ? n : n * 24);
  return format_utc(now - span);
}

void print_costs(const run::CostReport& c, const std::string& period) {
  std::cout << "Costs by " << c.by << " over " << (c.since.empty() ? "all time" : "the last " + period + " (since " + c.since + ")")
            << "; every attempt, retries and the live strike included\n";
  std::printf("  %-32s %6s %9s %14s %14s %14s %12s\n", "", "runs", "attempts", "input tok", "cached tok",
              "output tok", "usd");
  auto line = [](const run::CostLine& l) {
    std::string key = escape_for_terminal(l.key);
    if (key.size() > 32) key = key.substr(0, 29) + "...";
    std::printf("  %-32s %6lld %9lld %14lld %14lld %14lld %12.6f\n", key.c_str(), static_cast<long long>(l.runs),
                static_cast<long long>(l.attempts), static_cast<long long>(l.input_tokens),
                static_cast<long long>(l.cached_input_tokens), static_cast<long long>(l.output_tokens), l.cost_usd);
  };
  for (const auto& l : c.lines) line(l);
  line(c.total);
}

}  // namespace

void register_costs_commands(CLI::App& app, Cli& cli) {
  struct Flags {
    std::string by = "project", period = "30d";
  };
  auto f = std::make_shared<Flags>();
  CLI::App* costs = app.add_subcommand(
      "costs",
      "What the ledger spent (every attempt: retries and the live strike included), grouped by "
      "project, lane, model, run or a tag, over a period");
  costs->add_option("--by", f->by,
                    "Group by project (the run tag `project`), lane, model, run or tag:KEY "
                    "(default: project); runs without the tag are \"(none)\"");
  costs->add_option("--period", f->period,
                    "Attempts recorded in the last 24h, 7d, 30d (any Nh or Nd), or all (default: 30d)");
  costs->add_flag("--json", cli.globals.json, "Print one JSON object");
  costs->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      SystemClock clock;
      auto since = since_of(f->period, clock.now());
      if (!since) return report_error(cli, since.error());
      auto config = load_config(cli.globals.home, process_env());
      if (!config) return report_error(cli, config.error());
      auto store = registry::Store::open({cli.ledger_path()});
      if (!store) return report_error(cli, store.error());
      auto transport = make_curl_transport();  // the coordinator's seam; costs sends nothing
      run::NoProgress progress;
      run::Coordinator coordinator(run_settings(*config), **store, *transport, clock, progress);
      auto report = coordinator.costs({f->by, *since});
      if (!report) return report_error(cli, report.error());
      if (cli.globals.json) {
        std::cout << to_json_text(costs_json(*report, f->period)) << "\n";
      } else {
        print_costs(*report, f->period);
      }
      return kExitOk;
    };
  });
}

}  // namespace fgraph::cli
