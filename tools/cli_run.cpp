// Placeholder: the run command group lands with its stage.
#include "tools/cli.h"

namespace fgraph::cli {

void register_run_commands(CLI::App& /*app*/, Cli& /*cli*/) {}

}  // namespace fgraph::cli
