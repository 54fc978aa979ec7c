// The fgraph command line: shared context and the registration hooks of each command
// group. main.cpp only wires things; each cli_*.cpp owns its subcommands.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/core.h"

namespace fgraph::cli {

// Exit codes of every command (DESIGN.md).
enum ExitCode : int {
  kExitOk = 0,           // everything succeeded
  kExitPartial = 1,      // finished, but some inputs failed (each reported)
  kExitUsage = 2,        // usage or configuration error
  kExitUnavailable = 3,  // an external system was unavailable
};

// Maps an error that ended a command to its exit code: kInvalidInput and kUnauthorized
// (usage, configuration, credentials), a locked ledger (registry::is_locked) -> 2;
// kUnavailable (an external system could not be reached) -> 3; anything else -> 1.
int exit_code_for(const Error& error);

// Options every command sees, filled from global flags and the environment.
struct Globals {
  std::string home;        // --home, else $FGRAPH_HOME, else ./.fgraph
  bool json = false;       // --json: one JSON object per line on stdout
  std::string log_level;   // --log-level
  std::string command_line;  // "fgraph run drops/e": how this process was started
};

// A command's body runs after parsing; its return value is the process exit code.
using Action = std::function<int()>;

struct Cli {
  Globals globals;
  Action action;  // set by the subcommand that was chosen
  // The ledger path under home ($home/fgraph.db); creates the home folder.
  std::string ledger_path() const;
  // Takes the home's writer lock ($home/writer.lock, core.h WriterLock) for a command
  // that writes the ledger or Neo4j; it is held until the process exits. Call it before
  // opening anything. kInvalidInput (exit 2) naming the holder when another writer has
  // it; readers never call it and keep working beside a writer.
  Status lock_for_writing();
  std::unique_ptr<WriterLock> writer_lock;  // held by a writing command
};

// Each group adds its subcommands to `app` and sets cli.action in their callbacks.
void register_parse_commands(CLI::App& app, Cli& cli);     // tools/cli_parse.cpp
void register_registry_commands(CLI::App& app, Cli& cli);  // tools/cli_registry.cpp
void register_verify_commands(CLI::App& app, Cli& cli);    // tools/cli_verify.cpp
void register_run_commands(CLI::App& app, Cli& cli);       // tools/cli_run.cpp
void register_config_commands(CLI::App& app, Cli& cli);    // tools/cli_config.cpp
void register_eval_commands(CLI::App& app, Cli& cli);      // tools/cli_eval.cpp
void register_serve_commands(CLI::App& app, Cli& cli);     // tools/cli_serve.cpp
void register_costs_commands(CLI::App& app, Cli& cli);     // tools/cli_costs.cpp (issue 20)
void register_quality_commands(CLI::App& app, Cli& cli);   // tools/cli_quality.cpp (issue 20)

// Prints `error` for a human on stderr ("fgraph: <kind>: <message>") and, with --json,
// one JSON object on stdout: {"error": {"code", "message", "detail", "exit_code"}}, where
// code is the ErrorCode's name ("invalid_input", "unauthorized", "unavailable", ...) or
// "ledger_locked". URL credentials are redacted in both. Returns the exit code.
int report_error(const Cli& cli, const Error& error);

// True when stdout is a terminal (progress bars) rather than a pipe or file.
bool stdout_is_terminal();
bool stderr_is_terminal();

}  // namespace fgraph::cli
