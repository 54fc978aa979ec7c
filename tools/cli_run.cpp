// fgraph run | status | runs | rollback | replay | audit | query: the run coordinator's
// commands. Each opens the ledger, builds a Coordinator and prints its report.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tools/cli.h"
#include "tools/config.h"
#include "run/run.h"
#include "tools/json_output.h"
#include "tools/progress.h"

namespace fgraph::cli {
namespace {

using nlohmann::json;
using run::Coordinator;
using run::RunOptions;
using run::RunReport;

std::string join_counts(const std::map<std::string, std::int64_t>& m) {
  if (m.empty()) return "none";
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return out;
}

std::string join_tags(const std::map<std::string, std::string>& tags) {
  std::string out;
  for (const auto& [k, v] : tags) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return escape_for_terminal(out);
}

// The dry run's listing: one line per (document, chunk), then the totals. "part:chunk" is
// the document's part of its file (1 for a whole file) and its chunk of the document.
void print_plan(const RunReport& r) {
  std::cout << "Planned requests\n";
  std::printf("  %-4s %-10s %-40s %-10s %-51s %9s %9s %9s %10s\n", "#", "fate", "document", "part:chunk",
              "request id", "in tok", "cached", "out tok", "usd");
  std::size_t n = 0;
  for (const auto& p : r.plan) {
    std::string doc = escape_for_terminal(p.source.empty() ? p.doc_id : p.source);
    if (doc.size() > 40) doc = "..." + doc.substr(doc.size() - 37);
    const std::string part = std::to_string(p.part) + ":" + std::to_string(p.chunk_index + 1) + "/" +
                             std::to_string(p.chunk_count);
    std::printf("  %-4zu %-10s %-40s %-10s %-51s %9lld %9lld %9lld %10.6f\n", ++n, p.fate.c_str(), doc.c_str(),
                part.c_str(), p.custom_id.c_str(), static_cast<long long>(p.est_input_tokens),
                static_cast<long long>(p.est_cached_input_tokens), static_cast<long long>(p.est_output_tokens),
                p.est_cost_usd);
  }
  std::printf("  %-4s %-10s %-40s %-10s %-51s %9lld %9lld %9lld %10.6f\n", "", "to submit",
              (std::to_string(r.requests_to_submit) + " of " + std::to_string(r.plan.size()) + " requests").c_str(),
              "", "", static_cast<long long>(r.est_input_tokens), static_cast<long long>(r.est_cached_input_tokens),
              static_cast<long long>(r.est_output_tokens), r.est_cost_usd);
}

void print_report(const RunReport& r) {
  auto row = [](const std::string& k, const std::string& v) {
    std::cout << "  " << std::left << std::setw(34) << k << v << "\n";
  };
  auto money = [](double d) {
    std::ostringstream s;
    s << "$" << std::fixed << std::setprecision(4) << d;
    return s.str();
  };
  std::cout << (r.dry_run ? "Plan (dry run, nothing sent)" : "Reconciliation of " + r.run_id)
            << "  [lane " << r.lane << ", model " << r.model << ", state " << r.state << "]\n";
  if (!r.tags.empty()) std::cout << "  tags: " << join_tags(r.tags) << "\n";
  std::cout << "Documents\n";
  row("inputs seen", std::to_string(r.files_seen));
  row("documents parsed", std::to_string(r.documents_parsed));
  row("parts skipped (binary)", std::to_string(r.parts_skipped));
  row("files failed", join_counts(r.files_failed_by_reason));
  std::cout << "Requests\n";
  row("planned", std::to_string(r.requests_planned));
  row("deduplicated (same text twice)", std::to_string(r.requests_deduplicated));
  row("reused from ledger (no cost)", std::to_string(r.requests_reused));
  auto extractors = [&] {
    std::cout << "Extractors\n";
    row("documents by extractor", join_counts(r.documents_by_extractor));
    row("kept from the model (forms)", std::to_string(r.documents_model_skipped) + ", saving " +
                                           money(r.saved_usd));
  };
  if (r.dry_run) {
    extractors();
    row("estimated cost", money(r.est_cost_usd));
    print_plan(r);
    return;
  }
  extractors();
  row("submitted", std::to_string(r.requests_submitted));
  row("completed", std::to_string(r.requests_completed));
  row("dead-lettered", std::to_string(r.requests_dead_lettered));
  if (r.requests_in_flight > 0) row("in flight (resume later)", std::to_string(r.requests_in_flight));
  row("attempts (resubmitted)",
      std::to_string(r.attempts) + " (" + std::to_string(r.resubmitted) + ")");
  row("failed attempts by outcome", join_counts(r.failed_by_outcome));
  row("submitted = completed + dead", r.identity_holds() ? "holds" : "BROKEN");
  std::cout << "Facts\n";
  row("accepted", std::to_string(r.facts_accepted));
  row("dropped", std::to_string(r.facts_dropped));
  row("dropped by reason", join_counts(r.dropped_by_reason));
  row("accepted by extractor", join_counts(r.facts_by_extractor));
  row("cross-document leak alarms", std::to_string(r.leak_alarms.size()));
  for (const auto& l : r.leak_alarms) {
    std::cout << "    ALARM batch " << (l.batch_id.empty() ? "-" : l.batch_id) << ": evidence for "
              << l.own_doc_id.substr(0, 19) << " found only in " << l.other_doc_id.substr(0, 19)
              << "\n";
  }
  std::cout << "Graph\n";
  row("documents staged", std::to_string(r.documents_staged));
  row("documents failed to stage", std::to_string(r.documents_stage_failed));
  row("relations staged", std::to_string(r.relations_staged));
  if (r.documents_rolled_back > 0) row("documents rolled back", std::to_string(r.documents_rolled_back));
  if (r.documents_rolling_back > 0) {
    row("documents half rolled back", std::to_string(r.documents_rolling_back) +
                                          " (finish with `fgraph rollback " + r.run_id +
                                          " --doc DOC_ID`)");
  }
  if (r.state == "rolling_back") {
    std::cout << "  rollback interrupted: finish it with `fgraph rollback " << r.run_id << "`\n";
  }
  for (const auto& e : r.stage_errors) std::cout << "    " << escape_for_terminal(e) << "\n";
  std::cout << "Cost\n";
  for (const auto& u : r.usage) {
    row(u.lane + " / " + u.model, std::to_string(u.attempts) + " attempts, " +
                                      std::to_string(u.input_tokens) + " in (" +
                                      std::to_string(u.cached_input_tokens) + " cached) + " +
                                      std::to_string(u.output_tokens) + " out tokens, " +
                                      money(u.cost_usd));
  }
  row("total", money(r.cost_usd));
  row("per staged document", money(r.cost_per_staged_document()));
  // ---- issue 20 (quality gates)
  if (r.canary) {
    const auto& c = *r.canary;
    std::cout << "Canary (" << (c.passed ? "passed" : "FAILED: nothing was bulk-submitted") << ")\n";
    row("documents / rows / answered", std::to_string(c.documents) + " / " + std::to_string(c.rows) +
                                           " / " + std::to_string(c.answered));
    auto pct = [](double rate) {
      std::ostringstream s;
      s << std::fixed << std::setprecision(1) << rate * 100 << "%";
      return s.str();
    };
    row("schema-valid", std::to_string(c.schema_valid) + " (" + pct(c.schema_valid_rate) + ")");
    row("grounded (accepted / proposed)", std::to_string(c.facts_accepted) + " / " +
                                              std::to_string(c.facts_proposed) + " (" +
                                              pct(c.grounded_rate) + ")");
    row("leak alarms", std::to_string(c.leak_alarms));
    std::ostringstream secs;
    secs << std::fixed << std::setprecision(2) << c.seconds << " s";
    row("cost, time", money(c.cost_usd) + ", " + secs.str());
    for (const auto& f : c.failures) std::cout << "    BELOW THRESHOLD: " << f << "\n";
  }
  for (const auto& s : r.model_swaps) {
    std::cout << "  model answered: " << s.attempts << " attempts requested " << s.requested
              << " were answered by " << escape_for_terminal(s.answered) << "\n";
  }
  if (r.state == "halted") {
    std::cout << "  HALTED (on_failure=halt): " << r.requests_dead_lettered
              << " dead-lettered rows, nothing staged; `fgraph retry " << r.run_id << "` sends them again\n";
  }
  if (!r.dead_letters.empty()) {
    std::cout << "Dead letters\n";
    for (const auto& d : r.dead_letters) {
      std::cout << "    " << d.custom_id << " doc " << d.doc_id.substr(0, 19) << ": " << d.outcome
                << " after " << d.attempts << " attempts: " << escape_for_terminal(d.detail) << "\n";
    }
  }
}

// Everything a coordinator command needs, opened in one place.
struct Session {
  Config config;
  std::unique_ptr<registry::Store> store;
  std::unique_ptr<HttpTransport> transport;
  SystemClock clock;
  std::unique_ptr<Progress> progress;
  std::unique_ptr<Coordinator> coordinator;
};

Result<std::unique_ptr<Session>> open_session(Cli& cli, const std::string& lane,
                                              const std::string& model,
                                              std::optional<double> budget,
                                              const std::string& extract_mode = "") {
  auto s = std::make_unique<Session>();
  auto config = load_config(cli.globals.home, process_env());
  if (!config) return config.error();
  s->config = *config;
  if (!extract_mode.empty()) {
    if (!extract::parse_extract_mode(extract_mode)) {
      return make_error(ErrorCode::kInvalidInput,
                        "--extract must be rules, model or rules+model: " + extract_mode);
    }
    s->config.extract = extract_mode;
    s->config.origins.emplace_back("extract", "flag");
  }
  if (!lane.empty()) {
    s->config.lane = lane;
    s->config.origins.emplace_back("lane", "flag");
  }
  if (!model.empty()) s->config.model = model;
  if (budget) {
    s->config.budget_usd = budget;
    s->config.origins.emplace_back("budget_usd", "flag");
  }
  auto store = registry::Store::open({cli.ledger_path()});
  if (!store) return store.error();
  s->store = std::move(*store);
  s->transport = make_curl_transport();
  // Progress goes to stderr, so it stays on with --json (stdout carries the JSON).
  s->progress = std::make_unique<Progress>(stderr_is_terminal(), false);
  s->coordinator = std::make_unique<Coordinator>(run_settings(s->config), *s->store,
                                                 *s->transport, s->clock, *s->progress);
  return s;
}

int finish_report(Cli& cli, const RunReport& r) {
  if (cli.globals.json) {
    std::cout << to_json_text(report_json(r)) << "\n";
  } else {
    print_report(r);
  }
  bool failed = !r.files_failed_by_reason.empty() || r.requests_dead_lettered > 0 ||
                r.documents_stage_failed > 0 || !r.stage_errors.empty() || !r.leak_alarms.empty() ||
                (r.canary && !r.canary->passed) || r.state == "halted";  // issue 20
  if (r.canary && !r.canary->passed) {
    std::cerr << "fgraph: run " << r.run_id << " failed its canary; nothing was bulk-submitted\n";
  }
  if (!r.dry_run && !r.identity_holds()) {
    std::cerr << "fgraph: accounting identity broken for " << r.run_id << "\n";
    return kExitPartial;
  }
  return failed ? kExitPartial : kExitOk;
}

}  // namespace

void register_run_commands(CLI::App& app, Cli& cli) {
  struct Flags {
    std::string drop, lane, model, resume, run_id, doc, cypher, extract;
    std::string budget;  // --budget-usd as given; parsed by parse_usd (NaN, inf, < 0 refused)
    std::vector<std::string> tags;  // --tag KEY=VALUE, repeatable
    std::string on_failure, canary;  // issue 20: --on-failure, --canary as given
    bool dry_run = false, no_wait = false, include_hidden = false;
  };
  auto f = std::make_shared<Flags>();

  CLI::App* run = app.add_subcommand(
      "run",
      "Feed a drop of filings through ingest, extract, verify, resolve and stage, and print "
      "the reconciliation. Resumable: run it again (or with --resume) after any interruption.");
  run->add_option("drop", f->drop, "Folder or file of filings to feed");
  run->add_option("--lane", f->lane,
                  "Extraction lane: openai-batch, anthropic-batch, openai-sync, local "
                  "(default: $FGRAPH_LANE, config, else local)");
  run->add_option("--model", f->model, "Model name (default: the lane's default model)");
  run->add_option("--extract", f->extract,
                  "Extractors: rules (the form extractor alone: Forms 3/4/5, 13F, 13D/G cover "
                  "pages, EX-21; no model), model (the model alone), or rules+model (form "
                  "facts first; the model only for documents the form extractor does not cover "
                  "completely). Default: $FGRAPH_EXTRACT, config `extract`, else rules+model");
  run->add_option("--budget-usd", f->budget,
                  "Refuse to submit when the estimated cost exceeds this many dollars (a "
                  "finite number >= 0). A run refused by its budget is left budget_refused; "
                  "resume it with a new budget: --resume RUN_ID --budget-usd X. The settings "
                  "budget.daily_usd and budget.monthly_usd cap all runs of the home together");
  run->add_flag("--dry-run", f->dry_run,
                "Parse and plan, send nothing: list every planned request (document, part, request "
                "id, estimated input, cached and output tokens, dollars) with the totals");
  run->add_option("--tag", f->tags,
                  "Tag the new run KEY=VALUE (repeatable; over the settings' tags.KEY defaults): "
                  "stored with the run, sent as OpenAI batch metadata, shown by status and runs, "
                  "grouped by `fgraph costs --by tag:KEY` (project: --by project)")
      ->allow_extra_args(false);  // one KEY=VALUE per --tag: the drop is never taken for a tag
  run->add_flag("--no-wait", f->no_wait,
                "Return after submitting batches; `fgraph run --resume RUN_ID` collects later");
  run->add_option("--resume", f->resume, "Resume (finish) the run RUN_ID instead of starting one");
  run->add_flag("--include-hidden", f->include_hidden,
                "Also read files and folders whose name starts with '.' (passed over by default; "
                "the fgraph home is never read)");
  run->add_flag("--json", cli.globals.json, "Print the reconciliation as one JSON object");
  // ---- issue 20 (quality gates)
  run->add_option("--on-failure", f->on_failure,
                  "What dead-lettered rows do: continue (report them, stage the rest; default) or "
                  "halt (stop before anything is verified or staged, state halted, exit 1; "
                  "`fgraph retry RUN_ID` sends them again). Setting on_failure")
      ->check(CLI::IsMember({"continue", "halt"}));
  run->add_option("--canary", f->canary,
                  "Batch lanes: send this share of the drop (\"2%\", 0.02; at least "
                  "canary.min_documents, default 20, or all of a smaller drop) through the live "
                  "lane of the same provider and model first, verify and score it, and submit the "
                  "bulk only if schema-valid >= canary.min_schema_valid (0.95), grounded >= "
                  "canary.min_grounded (0.80) and leak alarms <= canary.max_leak_alarms (0); "
                  "else the run stops canary_failed, exit 1. \"off\" disables. Setting canary.fraction");
  run->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      if (f->drop.empty() == f->resume.empty()) {
        return report_error(cli, make_error(ErrorCode::kInvalidInput,
                                            "fgraph run: give either a DROP or --resume RUN_ID"));
      }
      // A dry run only plans: it reads the ledger and writes nothing.
      if (!f->dry_run) {
        if (auto st = cli.lock_for_writing(); !st) return report_error(cli, st.error());
      }
      auto parsed_budget = parse_optional_usd(f->budget, "--budget-usd");
      if (!parsed_budget) return report_error(cli, parsed_budget.error());
      const std::optional<double> budget = *parsed_budget;
      RunOptions o;
      for (const auto& t : f->tags) {
        const auto eq = t.find('=');
        if (eq == std::string::npos || eq == 0) {
          return report_error(cli, make_error(ErrorCode::kInvalidInput, "--tag wants KEY=VALUE, not \"" + t + "\""));
        }
        o.tags[t.substr(0, eq)] = t.substr(eq + 1);
      }
      if (!o.tags.empty() && !f->resume.empty()) {
        return report_error(cli, make_error(ErrorCode::kInvalidInput,
                                            "--tag names a new run's tags; a resumed run keeps its own"));
      }
      auto s = open_session(cli, f->lane, f->model, budget, f->extract);
      if (!s) return report_error(cli, s.error());
      o.drop = f->drop;
      o.resume_run_id = f->resume;
      o.dry_run = f->dry_run;
      o.no_wait = f->no_wait;
      o.budget_usd = budget;
      o.include_hidden = f->include_hidden;
      if (!f->on_failure.empty()) o.on_failure = run::parse_failure_policy(f->on_failure);
      if (!f->canary.empty()) {
        auto share = parse_share(f->canary, "--canary");
        if (!share) return report_error(cli, share.error());
        o.canary_fraction = *share;
      }
      auto r = (*s)->coordinator->run(o);
      (*s)->progress->finish();
      if (!r) return report_error(cli, r.error());
      if (r->requests_in_flight > 0 && !r->dry_run) {
        std::cerr << "fgraph: " << r->requests_in_flight << " requests still in flight; collect with "
                  << "`fgraph run --resume " << r->run_id << "`\n";
      }
      return finish_report(cli, *r);
    };
  });

  // ---- issue 20: fgraph retry
  CLI::App* retry = app.add_subcommand(
      "retry",
      "Send a run's dead-lettered rows again through the retry ladder (batch, batch, batch, "
      "live) once their cause is fixed, and carry the run on: a halted run is then verified "
      "and staged; a finished run stages the documents of those rows");
  retry->add_option("run_id", f->run_id, "Run id")->required();
  retry->add_option("--budget-usd", f->budget, "Refuse to submit past this estimate (dollars)");
  retry->add_flag("--json", cli.globals.json, "Print the reconciliation as one JSON object");
  retry->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      if (auto st = cli.lock_for_writing(); !st) return report_error(cli, st.error());
      auto parsed_budget = parse_optional_usd(f->budget, "--budget-usd");
      if (!parsed_budget) return report_error(cli, parsed_budget.error());
      const std::optional<double> budget = *parsed_budget;
      auto s = open_session(cli, "", "", budget);
      if (!s) return report_error(cli, s.error());
      RunOptions o;
      o.budget_usd = budget;
      auto r = (*s)->coordinator->retry(f->run_id, o);
      (*s)->progress->finish();
      if (!r) return report_error(cli, r.error());
      return finish_report(cli, *r);
    };
  });

  CLI::App* status = app.add_subcommand(
      "status", "Show a run's reconciliation and dead-letter list (default: the latest run)");
  status->add_option("run_id", f->run_id, "Run id (default: the latest run)");
  status->add_flag("--json", cli.globals.json, "Print one JSON object");
  status->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      auto s = open_session(cli, "", "", std::nullopt);
      if (!s) return report_error(cli, s.error());
      std::string id = f->run_id;
      if (id.empty()) {
        auto all = (*s)->coordinator->runs();
        if (!all) return report_error(cli, all.error());
        if (all->empty()) return report_error(cli, make_error(ErrorCode::kNotFound, "no runs yet"));
        id = all->back().run_id;
      }
      auto r = (*s)->coordinator->report(id);
      if (!r) return report_error(cli, r.error());
      if (cli.globals.json) {
        std::cout << to_json_text(report_json(*r)) << "\n";
      } else {
        print_report(*r);
      }
      return kExitOk;
    };
  });

  CLI::App* runs = app.add_subcommand("runs", "List every run with its state");
  runs->add_flag("--json", cli.globals.json, "Print one JSON object per run");
  runs->callback([&cli] {
    cli.action = [&cli]() -> int {
      auto s = open_session(cli, "", "", std::nullopt);
      if (!s) return report_error(cli, s.error());
      auto all = (*s)->coordinator->runs();
      if (!all) return report_error(cli, all.error());
      for (const auto& r : *all) {
        if (cli.globals.json) {
          std::cout << to_json_text(run_summary_json(r)) << "\n";
        } else {
          std::cout << r.run_id << "  " << run::to_string(r.state) << "  " << r.lane << "/" << r.model << "  "
                    << r.documents << " documents  started " << r.started_at
                    << (r.tags.empty() ? "" : "  tags " + join_tags(r.tags)) << "\n";
        }
      }
      return kExitOk;
    };
  });

  CLI::App* rollback = app.add_subcommand(
      "rollback",
      "Remove a run's (or one document's) contributions from Neo4j and the entity registry. "
      "Run it again to finish a rollback that was interrupted (state rolling_back)");
  rollback->add_option("run_id", f->run_id, "Run id")->required();
  rollback->add_option("--doc", f->doc,
                       "Roll back only this document (doc_id) of the run: its facts, and the "
                       "registry entities and aliases no other document taught");
  rollback->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      if (auto st = cli.lock_for_writing(); !st) return report_error(cli, st.error());
      auto s = open_session(cli, "", "", std::nullopt);
      if (!s) return report_error(cli, s.error());
      std::optional<std::string> doc;
      if (!f->doc.empty()) doc = f->doc;
      if (auto st = (*s)->coordinator->rollback(f->run_id, doc); !st) return report_error(cli, st.error());
      std::cout << "rolled back " << f->run_id << (doc ? " document " + *doc : std::string())
                << "; `fgraph replay " << f->run_id << "` stages it again without model calls\n";
      return kExitOk;
    };
  });

  CLI::App* replay = app.add_subcommand(
      "replay", "Stage a run again from the ledger, with zero model calls");
  replay->add_option("run_id", f->run_id, "Run id")->required();
  replay->add_flag("--json", cli.globals.json, "Print the reconciliation as one JSON object");
  replay->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      if (auto st = cli.lock_for_writing(); !st) return report_error(cli, st.error());
      auto s = open_session(cli, "", "", std::nullopt);
      if (!s) return report_error(cli, s.error());
      auto r = (*s)->coordinator->replay(f->run_id);
      (*s)->progress->finish();
      if (!r) return report_error(cli, r.error());
      return finish_report(cli, *r);
    };
  });

  CLI::App* audit = app.add_subcommand(
      "audit",
      "Compare everything in Neo4j (documents, runs, entities, mentions, facts and their "
      "provenance) with what the ledger says live runs staged, both ways; counts by kind, "
      "exit 1 on any difference");
  audit->add_flag("--json", cli.globals.json, "Print one JSON object");
  audit->callback([&cli] {
    cli.action = [&cli]() -> int {
      auto s = open_session(cli, "", "", std::nullopt);
      if (!s) return report_error(cli, s.error());
      auto a = (*s)->coordinator->audit();
      if (!a) return report_error(cli, a.error());
      if (cli.globals.json) {
        std::cout << to_json_text(audit_json(*a)) << "\n";
      } else {
        std::int64_t total = 0;
        for (const auto& [kind, by] : a->counts) {
          for (const auto& [direction, n] : by) total += n;
        }
        std::cout << "Neo4j facts: " << a->graph_facts << ", ledger facts: " << a->ledger_facts
                  << ", differences: " << total << "\n";
        for (const auto& [kind, by] : a->counts) {
          for (const auto& [direction, n] : by) {
            std::cout << "  " << kind << " " << direction << ": " << n << "\n";
          }
        }
        for (const auto& d : a->differences) std::cout << "  " << d << "\n";
      }
      return a->clean() ? kExitOk : kExitPartial;
    };
  });

  CLI::App* query = app.add_subcommand(
      "query",
      "Run a Cypher query against Neo4j in a read-only transaction and print the rows; a query "
      "that writes, or an administration command, is refused (exit 2)");
  query->add_option("cypher", f->cypher, "The Cypher query")->required();
  query->add_flag("--json", cli.globals.json, "Print one JSON array per row");
  query->callback([&cli, f] {
    cli.action = [&cli, f]() -> int {
      auto s = open_session(cli, "", "", std::nullopt);
      if (!s) return report_error(cli, s.error());
      auto rows = (*s)->coordinator->query(f->cypher);
      if (!rows) return report_error(cli, rows.error());
      if (!cli.globals.json) std::cout << "$ " << f->cypher << "\n";
      for (const auto& row : *rows) {
        std::string line;
        for (const auto& cell : row) line += (line.empty() ? "" : " | ") + cell;
        std::cout << (cli.globals.json ? to_json_text(row) : "  " + line) << "\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace fgraph::cli
