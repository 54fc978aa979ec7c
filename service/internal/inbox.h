// The inbox: files that appear in a folder become one drop per sweep, and a run.
//
// Layout under the inbox DIR (all in DIR/.fgraph/, which ingest never reads: hidden):
//   taken/<drop-id>/   the files of one sweep, moved there by rename: the run's drop
//   done/<run-id>/     the files of a finished run
//   failed/<name>      a file the run could not read, with <name>.reason beside it
// A file (or folder) directly in DIR is taken once its modification time is `settle` old:
// a file moved in keeps its old time and is taken at the next sweep; one still being
// written keeps getting a new time. Hidden names (starting with '.') are left alone.
//
// Crash safety: the ledger decides. A taken folder is the drop of exactly one run (the
// run whose drop path it is); a sweep first adopts every taken folder, starting a run only
// for one that has none. So a crash between taking files and starting the run, or between
// starting it and moving the files away, starts no second run (and no second paid
// submission: starting a run only records and ingests; the carrier submits).
//
// Threading: not thread-safe; the service calls sweep() from its writer thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/core.h"
#include "run/run.h"

namespace fgraph::service {

class Inbox {
 public:
  Inbox(std::filesystem::path dir, std::chrono::seconds settle);

  struct Sweep {
    std::vector<std::string> started;  // runs started for new drops (or adopted ones)
    std::vector<std::string> filed;    // finished runs whose files went to done/
    int taken = 0;                     // files and folders taken in this sweep
  };
  // Files away finished runs' drops, adopts taken folders without a run, then takes the
  // settled files as one new drop and starts its run with `defaults` (lane, budget, tags).
  // A file that cannot be moved is logged and left for the next sweep.
  Result<Sweep> sweep(run::Coordinator& coordinator, const run::RunOptions& defaults);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  Status file_away(run::Coordinator& coordinator, const run::RunSummary& run,
                   const std::filesystem::path& taken);

  std::filesystem::path dir_;
  std::chrono::seconds settle_;
};

}  // namespace fgraph::service
