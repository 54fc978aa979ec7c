// fgraph: turns drops of regulatory filings into a Neo4j knowledge graph.
// This file only wires the command groups together; see cli.h.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "registry/registry.h"
#include "tools/cli.h"

namespace fgraph::cli {

int exit_code_for(const Error& error) {
  if (registry::is_locked(error)) return kExitUsage;
  switch (error.code) {
    case ErrorCode::kUnavailable: return kExitUnavailable;
    case ErrorCode::kInvalidInput:
    case ErrorCode::kUnauthorized: return kExitUsage;
    default: return kExitPartial;
  }
}

namespace {

void print_json_error(const std::string& code, const std::string& message,
                      const std::string& detail, int exit_code) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", redact_urls(message)},
                                 {"detail", detail}, {"exit_code", exit_code}}}};
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

}  // namespace

int report_error(const Cli& cli, const Error& error) {
  Error shown = error;
  std::string code(to_string(error.code));
  if (registry::is_locked(error)) {
    code = "ledger_locked";
    shown.message = "the ledger in " + cli.globals.home +
                    " is locked by another process; try again when it is done (" +
                    error.message + ")";
  }
  const int rc = exit_code_for(error);
  // Messages quote paths and remote answers: printed escaped, never raw.
  std::cerr << "fgraph: " << escape_for_terminal(shown.describe()) << "\n";
  if (cli.globals.json) print_json_error(code, shown.message, shown.detail, rc);
  return rc;
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }
bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string Cli::ledger_path() const {
  std::error_code ec;
  std::filesystem::create_directories(globals.home, ec);
  return (std::filesystem::path(globals.home) / "fgraph.db").string();
}

Status Cli::lock_for_writing() {
  if (writer_lock) return ok();
  SystemClock clock;
  WriterLock::Options options;
  options.path = WriterLock::path_in(globals.home);
  options.command = globals.command_line;
  auto lock = WriterLock::acquire(options, clock);
  if (!lock) {
    Error e = lock.error();
    if (e.detail == "writer_lock_held") {
      e.message += "; one writer per home: wait for it to finish (status, runs, audit and "
                   "query work meanwhile)";
    }
    return e;
  }
  writer_lock = std::move(*lock);
  return ok();
}

}  // namespace fgraph::cli

int main(int argc, char** argv) {
  using namespace fgraph::cli;
  CLI::App app{
      "fgraph: regulatory filings into a Neo4j knowledge graph you can trust.\n"
      "Each document is extracted alone, every fact is checked against its own text,\n"
      "and every write to the graph can be undone and redone."};
  app.set_version_flag("--version", std::string("fgraph ") + FGRAPH_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  Cli cli;
  cli.globals.command_line = "fgraph";
  for (int i = 1; i < argc; ++i) cli.globals.command_line += std::string(" ") + argv[i];
  const char* env_home = std::getenv("FGRAPH_HOME");
  cli.globals.home = env_home != nullptr && *env_home != '\0' ? env_home : "./.fgraph";
  const char* env_level = std::getenv("FGRAPH_LOG_LEVEL");
  cli.globals.log_level = env_level != nullptr ? env_level : "warn";
  app.add_option("--home", cli.globals.home,
                 "Working folder holding the ledger (fgraph.db) and run files "
                 "(default: $FGRAPH_HOME, else ./.fgraph)");
  app.add_option("--log-level", cli.globals.log_level,
                 "Log level on stderr: trace, debug, info, warn, error, off "
                 "(default: $FGRAPH_LOG_LEVEL, else warn)");

  register_parse_commands(app, cli);
  register_registry_commands(app, cli);
  register_verify_commands(app, cli);
  register_run_commands(app, cli);
  register_config_commands(app, cli);
  register_eval_commands(app, cli);
  register_serve_commands(app, cli);
  register_costs_commands(app, cli);
  register_quality_commands(app, cli);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    if (rc == 0) return kExitOk;
    // The flag may not have been reached by the parser: look for it in argv.
    if (std::any_of(argv + 1, argv + argc, [](const char* a) { return std::strcmp(a, "--json") == 0; })) {
      print_json_error("usage", e.what(), "", kExitUsage);
    }
    return kExitUsage;
  }
  fgraph::init_logging({cli.globals.log_level});
  if (!cli.action) return kExitUsage;
  try {
    return cli.action();
  } catch (const std::exception& e) {
    return report_error(cli, fgraph::make_error(fgraph::ErrorCode::kInternal,
                                                std::string("internal error: ") + e.what()));
  }
}
