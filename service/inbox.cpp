#include "service/internal/inbox.h"

#include <map>
#include <system_error>

#include "core/core.h"

namespace fgraph::service {

namespace fs = std::filesystem;

Inbox::Inbox(fs::path dir, std::chrono::seconds settle) : dir_(std::move(dir)), settle_(settle) {}

namespace {

// `from` renamed to `to` (its folder created); false with a logged reason otherwise.
bool move_to(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::rename(from, to, ec);
  if (ec) {
    logger("service")->warn("inbox: cannot move {} to {}: {}", escape_for_terminal(from.string()),
                            escape_for_terminal(to.string()), ec.message());
    return false;
  }
  return true;
}

}  // namespace

// The run's unreadable inputs go to failed/ with a .reason file; the rest of the taken
// folder becomes done/RUN_ID.
Status Inbox::file_away(run::Coordinator& coordinator, const run::RunSummary& run,
                        const fs::path& taken) {
  auto inputs = coordinator.inputs(run.run_id);
  if (!inputs) return inputs.error();
  std::map<std::string, std::string> failed;  // file -> reason
  for (const auto& in : *inputs) {
    if (in.outcome == "failed" && in.part == 0) failed[in.source] = in.reason_code + ": " + in.message;
  }
  const fs::path failed_dir = dir_ / ".fgraph" / "failed";
  for (const auto& [source, reason] : failed) {
    const fs::path file(source);
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    // A second file of the same name in failed/ is kept apart by the run id.
    fs::path target = failed_dir / file.filename();
    if (fs::exists(target, ec)) target = failed_dir / (run.run_id + "-" + file.filename().string());
    if (!move_to(file, target)) continue;
    if (auto s = write_file_atomic(target.string() + ".reason", reason + "\n"); !s) return s;
  }
  const fs::path done = dir_ / ".fgraph" / "done" / run.run_id;
  if (!move_to(taken, done)) {
    return make_error(ErrorCode::kInternal, "inbox: cannot move " + taken.string() + " to " + done.string());
  }
  logger("service")->info("inbox: run={} filed under {}", run.run_id, escape_for_terminal(done.string()));
  return ok();
}

Result<Inbox::Sweep> Inbox::sweep(run::Coordinator& coordinator, const run::RunOptions& defaults) {
  Sweep out;
  const fs::path taken_root = dir_ / ".fgraph" / "taken";
  std::error_code ec;
  fs::create_directories(taken_root, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "inbox " + dir_.string() + ": " + ec.message());

  auto runs = coordinator.runs();
  if (!runs) return runs.error();
  std::map<std::string, const run::RunSummary*> run_of_drop;
  for (const auto& r : *runs) run_of_drop[r.drop] = &r;

  // Taken folders: filed away when their run finished, adopted when they have none.
  for (const auto& entry : fs::directory_iterator(taken_root, ec)) {
    const fs::path taken = entry.path();
    auto it = run_of_drop.find(taken.string());
    if (it == run_of_drop.end()) {
      run::RunOptions o = defaults;
      o.drop = taken.string();
      auto id = coordinator.start(o);
      if (!id) return id.error();
      logger("service")->info("inbox: run={} started for {}", *id, escape_for_terminal(taken.string()));
      out.started.push_back(*id);
      continue;
    }
    if (it->second->state == run::RunState::kFinished) {
      if (auto s = file_away(coordinator, *it->second, taken); !s) return s.error();
      out.filed.push_back(it->second->run_id);
    }
  }

  // New settled files: one drop.
  const auto now = fs::file_time_type::clock::now();
  std::vector<fs::path> ready;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    auto mtime = fs::last_write_time(entry.path(), ec);
    if (ec || now - mtime < settle_) continue;
    ready.push_back(entry.path());
  }
  if (ready.empty()) return out;
  std::string id = "drop-" + format_utc(std::chrono::system_clock::now()) + "-" + random_hex(3);
  for (char& c : id) {
    if (c == ':') c = '-';
  }
  const fs::path drop = taken_root / id;
  for (const auto& p : ready) {
    if (move_to(p, drop / p.filename())) ++out.taken;
  }
  if (out.taken == 0) return out;
  crash_point("inbox_taken");
  run::RunOptions o = defaults;
  o.drop = drop.string();
  auto run_id = coordinator.start(o);
  if (!run_id) return run_id.error();
  logger("service")->info("inbox: run={} started for {} file(s)", *run_id, out.taken);
  out.started.push_back(*run_id);
  return out;
}

}  // namespace fgraph::service
