// Placeholder: the verify command group lands with its stage.
#include "tools/cli.h"

namespace fgraph::cli {

void register_verify_commands(CLI::App& /*app*/, Cli& /*cli*/) {}

}  // namespace fgraph::cli
