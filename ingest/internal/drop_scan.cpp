#include "ingest/internal/drop_scan.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>

namespace fgraph::ingest::internal {
namespace {

class SystemDirLister final : public DirLister {
 public:
  int list(const std::string& dir, std::vector<std::string>& names) override {
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
    if (!d) return errno;
    errno = 0;
    while (dirent* e = readdir(d.get())) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    return errno;
  }
};

std::optional<std::string> real_path(const std::string& p, int& err) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr) {
    err = errno;
    return std::nullopt;
  }
  return std::string(buf);
}

bool within(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

std::string join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Failure make_failure(const std::string& path, std::string reason_code, std::string message) {
  return Failure{path, make_error(ErrorCode::kInvalidInput, std::move(message)), std::move(reason_code)};
}

bool within_any(const std::string& real, const std::vector<std::string>& roots) {
  for (const auto& r : roots) {
    if (within(real, r)) return true;
  }
  return false;
}

struct Walker {
  const Options& options;
  DirLister& lister;
  std::string root_real;
  const std::vector<std::string>& excluded_real;  // canonical Options::excluded_dirs
  std::size_t& hidden_skipped;
  std::set<std::string> visited;  // real paths of folders walked
  std::vector<ScanEntry>& out;

  bool excluded(const std::string& path) const {
    if (excluded_real.empty()) return false;
    int err = 0;
    auto real = real_path(path, err);
    return real && within_any(*real, excluded_real);
  }

  void walk(const std::string& dir, const std::string& dir_real) {
    if (!visited.insert(dir_real).second) return;
    std::vector<std::string> names;
    int err = lister.list(dir, names);
    if (err != 0) {
      out.push_back({dir, failure_from_errno(dir, err, "cannot list folder")});
      return;
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string path = join(dir, name);
      if (!options.include_hidden && name.front() == '.') {
        // The home is passed over without being counted: it is not the user's file.
        if (!excluded(path)) ++hidden_skipped;
        continue;
      }
      visit(path, dir_real);
    }
  }

  void visit(const std::string& path, const std::string& parent_real) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      out.push_back({path, failure_from_errno(path, errno, "cannot stat")});
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      int err = 0;
      auto target = real_path(path, err);
      if (!target) {
        out.push_back({path, err == ELOOP ? make_failure(path, "symlink_loop", "symlink loop")
                                          : failure_from_errno(path, err, "broken symlink")});
        return;
      }
      if (within_any(*target, excluded_real)) return;  // into the fgraph home
      if (!within(*target, root_real)) {
        out.push_back({path, make_failure(path, "outside_drop",
                                          "symlink points outside the drop folder (to " + *target + "); refused")});
        return;
      }
      if (!options.follow_symlinks_within_root) {
        out.push_back({path, make_failure(path, "outside_drop", "symlinks are not followed (option)")});
        return;
      }
      struct stat tst {};
      if (::stat(path.c_str(), &tst) != 0) {
        out.push_back({path, failure_from_errno(path, errno, "cannot stat symlink target")});
        return;
      }
      if (S_ISDIR(tst.st_mode)) {
        if (within(parent_real, *target)) {
          out.push_back({path, make_failure(path, "symlink_loop",
                                            "symlink loops back to an enclosing folder (" + *target + ")")});
          return;
        }
        walk(path, *target);
        return;
      }
      if (!S_ISREG(tst.st_mode)) {
        out.push_back({path, not_regular_file(path, tst.st_mode)});
        return;
      }
      out.push_back({path, std::nullopt});
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      int err = 0;
      auto real = real_path(path, err);
      if (real && within_any(*real, excluded_real)) return;  // the fgraph home
      walk(path, real.value_or(path));
      return;
    }
    if (S_ISREG(st.st_mode)) {
      out.push_back({path, std::nullopt});
      return;
    }
    out.push_back({path, not_regular_file(path, st.st_mode)});
  }
};

}  // namespace

Failure not_regular_file(const std::string& path, unsigned mode) {
  const char* kind = "not a regular file";
  if (S_ISFIFO(mode)) kind = "a FIFO (named pipe)";
  else if (S_ISSOCK(mode)) kind = "a socket";
  else if (S_ISCHR(mode)) kind = "a character device";
  else if (S_ISBLK(mode)) kind = "a block device";
  return make_failure(path, "unreadable",
                      std::string(kind) + ", not a regular file or folder; not opened");
}

DirLister& system_dir_lister() {
  static SystemDirLister lister;
  return lister;
}

Failure failure_from_errno(const std::string& path, int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case EACCES:
    case EPERM: return make_failure(path, "permission_denied", msg);
    case ELOOP: return make_failure(path, "symlink_loop", msg);
    case ENOENT:
    case ENOTDIR:
      return Failure{path, make_error(ErrorCode::kNotFound, msg), "not_found"};
    default: return make_failure(path, "unreadable", msg);
  }
}

std::vector<ScanEntry> scan_paths(const std::vector<std::string>& paths, const Options& options,
                                  DirLister& lister) {
  return scan_paths(paths, options, lister, nullptr);
}

std::vector<ScanEntry> scan_paths(const std::vector<std::string>& paths, const Options& options,
                                  DirLister& lister, std::size_t* hidden_skipped) {
  std::vector<std::string> excluded_real;
  for (const auto& d : options.excluded_dirs) {
    int err = 0;
    if (auto real = real_path(d, err)) excluded_real.push_back(std::move(*real));
  }
  std::size_t hidden = 0;
  std::vector<ScanEntry> all;
  for (const auto& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      all.push_back({p, failure_from_errno(p, errno, "cannot open")});
      continue;
    }
    int err = 0;
    auto real = real_path(p, err);
    if (real && within_any(*real, excluded_real)) {
      all.push_back({p, make_failure(p, "inside_home",
                                     "inside the fgraph home in use (" + *real +
                                         "); its ledger is not a filing; not read")});
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      all.push_back({p, std::nullopt});  // a file named directly: parse_file reports its problems
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      all.push_back({p, not_regular_file(p, st.st_mode)});
      continue;
    }
    if (!real) {
      all.push_back({p, failure_from_errno(p, err, "cannot resolve folder")});
      continue;
    }
    std::vector<ScanEntry> entries;
    Walker w{options, lister, *real, excluded_real, hidden, {}, entries};
    w.walk(p, *real);
    std::stable_sort(entries.begin(), entries.end(),
                     [](const ScanEntry& a, const ScanEntry& b) { return a.path < b.path; });
    for (auto& e : entries) all.push_back(std::move(e));
  }
  if (hidden_skipped != nullptr) *hidden_skipped += hidden;
  return all;
}

}  // namespace fgraph::ingest::internal
