// Progress for long work. On a terminal: one line on stderr, redrawn in place.
// Otherwise: plain log lines, one per phase change and at most one per `interval`.
// Threading: update() may be called from several threads; drawing is serialised.
#pragma once

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "core/core.h"
#include "run/run.h"

namespace fgraph::cli {

class Progress final : public run::ProgressSink {
 public:
  // `tty` chooses the redrawn line; `quiet` (e.g. --json) draws nothing.
  Progress(bool tty, bool quiet, std::chrono::seconds interval = std::chrono::seconds(5))
      : tty_(tty), quiet_(quiet), interval_(interval) {}
  ~Progress() { finish(); }

  // Reports `phase` with `done` of `total` units (`total` 0 = unknown) and a detail text.
  void update(const std::string& phase, long done, long total,
              const std::string& detail = {}) override {
    if (quiet_) return;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    bool new_phase = phase != phase_;
    std::string line = "[" + phase + "] " + std::to_string(done);
    if (total > 0) line += "/" + std::to_string(total);
    if (!detail.empty()) line += "  " + escape_for_terminal(detail);  // e.g. a drop path
    if (tty_) {
      std::string bar;
      if (total > 0) {
        int filled = static_cast<int>(20.0 * static_cast<double>(done) / static_cast<double>(total));
        bar = "[" + std::string(filled, '#') + std::string(20 - filled, '.') + "] ";
      }
      std::fprintf(stderr, "\r\033[2K%s%s", bar.c_str(), line.c_str());
      std::fflush(stderr);
      drawn_ = true;
    } else if (new_phase || now - last_ >= interval_ || (total > 0 && done == total)) {
      if (line != last_line_) std::fprintf(stderr, "%s\n", line.c_str());
      last_ = now;
      last_line_ = line;
    }
    phase_ = phase;
  }

  // Ends the redrawn line so that later output starts on a fresh line.
  void finish() {
    std::lock_guard lock(mu_);
    if (tty_ && drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  bool tty_;
  bool quiet_;
  std::chrono::seconds interval_;
  std::mutex mu_;
  std::string phase_;
  std::string last_line_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace fgraph::cli
