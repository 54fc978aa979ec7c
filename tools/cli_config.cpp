// fgraph config: prints the effective configuration, secrets masked.
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/cli.h"
#include "tools/config.h"

namespace fgraph::cli {

void register_config_commands(CLI::App& app, Cli& cli) {
  CLI::App* cmd = app.add_subcommand(
      "config",
      "Print the effective configuration (defaults < $FGRAPH_HOME/config.toml|json < "
      "environment < flags) and where each value came from; secrets are masked.");
  cmd->add_flag("--json", cli.globals.json, "Print one JSON object");
  cmd->callback([&cli] {
    cli.action = [&cli]() -> int {
      auto config = load_config(cli.globals.home, process_env());
      if (!config) return report_error(cli, config.error());
      auto lines = describe_config(*config);
      if (cli.globals.json) {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& [k, v] : lines) j[k] = v;
        std::cout << j.dump() << "\n";
      } else {
        for (const auto& [k, v] : lines) std::cout << k << " = " << v << "\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace fgraph::cli
