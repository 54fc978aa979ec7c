// fgraph: turns drops of regulatory filings into a Neo4j knowledge graph.
// This file only wires the command groups together; see cli.h.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "tools/cli.h"

namespace fgraph::cli {

int exit_code_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::kUnavailable: return kExitUnavailable;
    case ErrorCode::kInvalidInput: return kExitUsage;
    default: return kExitPartial;
  }
}

int report_error(const Error& error) {
  // Messages quote paths and remote answers: printed escaped, never raw.
  std::cerr << "fgraph: " << escape_for_terminal(error.describe()) << "\n";
  return exit_code_for(error);
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }
bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string Cli::ledger_path() const {
  std::error_code ec;
  std::filesystem::create_directories(globals.home, ec);
  return (std::filesystem::path(globals.home) / "fgraph.db").string();
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  fgraph::init_logging({cli.globals.log_level});
  if (!cli.action) return kExitUsage;
  try {
    return cli.action();
  } catch (const std::exception& e) {
    std::cerr << "fgraph: internal error: " << e.what() << "\n";
    return kExitPartial;
  }
}
