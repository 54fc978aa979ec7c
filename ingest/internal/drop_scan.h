// ingest/internal: drop scanning.
//
// Owns: expanding the files and folders of a drop into the files to parse, in byte-wise
// sorted path order, with every path confined to its folder: symlinks whose target
// leaves the folder are refused (outside_drop), loops are reported (symlink_loop),
// unreadable folders are reported (permission_denied) and the walk goes on. Hidden
// entries (name starting with '.') are passed over unless Options::include_hidden, and
// Options::excluded_dirs (the fgraph home) are never entered; FIFOs, sockets and devices
// are refused by their stat, never opened.
// The folder listing goes through DirLister, the seam tests use to inject failures the
// kernel will not produce for them (a root process is never denied a folder).
// Threading: reentrant; a DirLister must be safe for the caller's use.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ingest/ingest.h"

namespace fgraph::ingest::internal {

class DirLister {
 public:
  virtual ~DirLister() = default;
  // Fills `names` with the entries of `dir` (without "." and ".."); returns 0 or an errno.
  virtual int list(const std::string& dir, std::vector<std::string>& names) = 0;
};

// opendir/readdir.
DirLister& system_dir_lister();

struct ScanEntry {
  std::string path;                // as found in the drop (root + relative path)
  std::optional<Failure> failure;  // set when this entry cannot be parsed
};

std::vector<ScanEntry> scan_paths(const std::vector<std::string>& paths, const Options& options,
                                  DirLister& lister);
// The same, adding the number of hidden entries passed over to `*hidden_skipped`.
std::vector<ScanEntry> scan_paths(const std::vector<std::string>& paths, const Options& options,
                                  DirLister& lister, std::size_t* hidden_skipped);

// The "unreadable" Failure of a path that is not a regular file or folder (st_mode).
Failure not_regular_file(const std::string& path, unsigned mode);

// parse_paths with an injected folder lister (ingest.cpp).
ParseResult parse_paths_with(const std::vector<std::string>& paths, const Options& options,
                             DirLister& lister);

// A Failure for `path` from an errno of open/stat/opendir.
Failure failure_from_errno(const std::string& path, int err, const std::string& what);

}  // namespace fgraph::ingest::internal
