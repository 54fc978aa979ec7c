// fgraph report | drift: the quality side of issue 20 (the canary and --on-failure are
// flags of `fgraph run`, `fgraph retry` sits beside it in cli_run.cpp). Each opens the
// ledger, builds a Coordinator and prints what it answers.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "run/run.h"
#include "tools/cli.h"
#include "tools/config.h"
#include "tools/json_output.h"
#include "tools/progress.h"

namespace fgraph::cli {
namespace {

struct Session {
  std::unique_ptr<registry::Store> store;
  std::unique_ptr<HttpTransport> transport;
  SystemClock clock;
  Progress progress{stderr_is_terminal(), false};
  std::unique_ptr<run::Coordinator> coordinator;
};

Result<std::unique_ptr<Session>> open_session(Cli& cli) {
  auto config = load_config(cli.globals.home, process_env());
  if (!config) return config.error();
  auto s = std::make_unique<Session>();
  auto store = registry::Store::open({cli.ledger_path()});
  if (!store) return store.error();
  s->store = std::move(*store);
  s->transport = make_curl_transport();
  s->coordinator = std::make_unique<run::Coordinator>(run_settings(*config), *s->store, *s->transport,
                                                      s->clock, s->progress);
  return s;
}

// "30d", "24h", "90m" before now, "all", or an RFC 3339 time, as the RFC 3339 lower bound.
Result<std::string> since_of(const std::string& text, Clock& clock) {
  if (text == "all") return std::string();
  if (parse_utc(text)) return text;
  char* end = nullptr;
  const long n = std::strtol(text.c_str(), &end, 10);
  const std::string unit = end != nullptr ? std::string(end) : "";
  std::chrono::minutes back{0};
  if (n > 0 && unit == "d") back = std::chrono::hours(24 * n);
  if (n > 0 && unit == "h") back = std::chrono::hours(n);
  if (n > 0 && unit == "m") back = std::chrono::minutes(n);
  if (back.count() == 0) {
    return make_error(ErrorCode::kInvalidInput,
                      "--since must be like 30d, 24h, 90m, all, or a time like 2026-01-31T00:00:00Z, not " + text);
  }
  return format_utc(clock.now() - back);
}

std::string pct(double rate) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%5.1f%%", rate * 100);
  return buf;
}

void print_track(const run::Track& t) {
  const auto& c = t.completion;
  const auto& q = t.quality;
  std::printf("  %-30s rows %6lld  completed %6lld  dead %4lld  in flight %4lld  completion %s | "
              "answered %6lld  schema-valid %s  facts %lld/%lld  grounded %s  leaks %lld%s%s\n",
              escape_for_terminal(t.label).c_str(), static_cast<long long>(c.rows),
              static_cast<long long>(c.completed), static_cast<long long>(c.dead_lettered),
              static_cast<long long>(c.in_flight), pct(c.rate()).c_str(),
              static_cast<long long>(q.answered), pct(q.schema_valid_rate()).c_str(),
              static_cast<long long>(q.accepted), static_cast<long long>(q.proposed),
              pct(q.grounded_rate()).c_str(), static_cast<long long>(q.leak_alarms),
              t.flag.empty() ? "" : "\n    FLAGGED: ", t.flag.c_str());
}

}  // namespace

void register_quality_commands(CLI::App& app, Cli& cli) {
  struct Flags {
    std::string since = "30d", tracks, run_id, budget;
    int sample = 200;
  };
  auto f = std::make_shared<Flags>();

  CLI::App* report = app.add_subcommand(
      "report",
      "One line per run: completion rate (rows completed / submitted), schema-valid rate "
      "(answered rows whose first answer was schema-valid), grounded rate (facts accepted / "
      "proposed on completed rows), leak alarms and cost per staged document. With --tracks "
      "RUN_ID: that run's completion and quality tracks per batch and per segment of 1,000 "
      "rows in submission order; a segment more than 5 points below the first is flagged (exit 1)");
  report->add_option("--since", f->since, "Runs started since: 30d (default), 24h, 90m, all, or a time");
  report->add_option("--tracks", f->tracks, "Show the tracks of this run instead");
  report->add_flag("--json", cli.globals.json, "One JSON object per line");
  report->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      auto s = open_session(cli);
      if (!s) return report_error(cli, s.error());
      run::Coordinator& c = *(*s)->coordinator;
      if (!f->tracks.empty()) {
        auto t = c.tracks(f->tracks);
        if (!t) return report_error(cli, t.error());
        bool flagged = false;
        for (const auto& seg : t->segments) flagged = flagged || !seg.flag.empty();
        if (cli.globals.json) {
          std::cout << to_json_text(tracks_json(*t)) << "\n";
        } else {
          std::cout << "Tracks of " << t->run_id << " (completion | quality)\n";
          print_track(t->run);
          std::cout << "Batches\n";
          for (const auto& b : t->batches) print_track(b);
          std::cout << "Segments of " << run::QualityTracks::kSegmentRows << " rows\n";
          for (const auto& seg : t->segments) print_track(seg);
        }
        return flagged ? kExitPartial : kExitOk;
      }
      auto since = since_of(f->since, (*s)->clock);
      if (!since) return report_error(cli, since.error());
      auto lines = c.quality_report(*since);
      if (!lines) return report_error(cli, lines.error());
      if (!cli.globals.json) {
        std::printf("%-34s %-16s %-13s %10s %12s %9s %5s %12s\n", "run", "lane", "state", "completion",
                    "schema-valid", "grounded", "leaks", "$/staged doc");
      }
      for (const auto& l : *lines) {
        if (cli.globals.json) {
          std::cout << to_json_text(quality_line_json(l)) << "\n";
          continue;
        }
        std::printf("%-34s %-16s %-13s %10s %12s %9s %5lld %12.6f%s\n", l.run_id.c_str(), l.lane.c_str(),
                    l.state.c_str(), pct(l.completion_rate).c_str(), pct(l.schema_valid_rate).c_str(),
                    pct(l.grounded_rate).c_str(), static_cast<long long>(l.leak_alarms),
                    l.cost_per_staged_document,
                    !l.canary_passed ? "" : (*l.canary_passed ? "  canary ok" : "  CANARY FAILED"));
      }
      return kExitOk;
    };
  });

  CLI::App* drift = app.add_subcommand(
      "drift",
      "Drift audit: send a deterministic sample of a batch run's completed rows through the "
      "live lane of the same model (a run of its own, with its cost in the ledger), verify "
      "both answers and compare them pairwise: schema validity, facts accepted, grounded "
      "rate, overlap of the accepted facts (type, source, target) and drop reasons. Gaps "
      "above 2 points are flagged (exit 1)");
  drift->add_option("run_id", f->run_id, "The batch run to audit")->required();
  drift->add_option("--sample", f->sample, "Rows to send again (default 200)")->check(CLI::PositiveNumber);
  drift->add_option("--budget-usd", f->budget, "Refuse to send past this estimate (dollars)");
  drift->add_flag("--json", cli.globals.json, "Print one JSON object");
  drift->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      if (auto st = cli.lock_for_writing(); !st) return report_error(cli, st.error());
      auto parsed_budget = parse_optional_usd(f->budget, "--budget-usd");
      if (!parsed_budget) return report_error(cli, parsed_budget.error());
      const std::optional<double> budget = *parsed_budget;
      auto s = open_session(cli);
      if (!s) return report_error(cli, s.error());
      auto d = (*s)->coordinator->drift(f->run_id, f->sample, budget);
      (*s)->progress.finish();
      if (!d) return report_error(cli, d.error());
      if (cli.globals.json) {
        std::cout << to_json_text(drift_json(*d)) << "\n";
      } else {
        std::printf("Drift of %s (%s) against %s, model %s: %lld rows sampled, %lld compared, $%.4f (run %s)\n",
                    d->run_id.c_str(), d->lane.c_str(), d->live_lane.c_str(), d->model.c_str(),
                    static_cast<long long>(d->sampled), static_cast<long long>(d->compared), d->cost_usd,
                    d->drift_run_id.c_str());
        for (const auto& m : d->measures) {
          std::printf("  %-28s batch %10.4f  live %10.4f  gap %6.2f points%s\n", m.name.c_str(), m.batch,
                      m.live, m.gap_points, m.flagged ? "  FLAGGED" : "");
        }
        for (const auto& sw : d->model_swaps) {
          std::printf("  model answered: %lld live calls requested %s were answered by %s\n",
                      static_cast<long long>(sw.attempts), sw.requested.c_str(),
                      escape_for_terminal(sw.answered).c_str());
        }
      }
      return d->flagged() ? kExitPartial : kExitOk;
    };
  });
}

}  // namespace fgraph::cli
