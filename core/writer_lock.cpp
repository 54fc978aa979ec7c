// The writer lock of a home (core.h, "The writer lock of a home").
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/core.h"

namespace fgraph {

namespace {

bool process_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

WriterLock::Holder parse_holder(std::string_view text) {
  WriterLock::Holder h;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    // A line without its newline is still being written: ignore it.
    if (nl == std::string_view::npos) break;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "pid") {
      h.pid = std::strtol(std::string(value).c_str(), nullptr, 10);
    } else if (key == "command") {
      h.command = std::string(value);
    } else if (key == "since") {
      h.since = std::string(value);
    } else if (key == "url") {
      h.url = std::string(value);
    }
  }
  return h;
}

}  // namespace

std::string WriterLock::Holder::describe() const {
  if (pid <= 0) return "a process that has not described itself yet";
  std::string out = "pid " + std::to_string(pid);
  if (!command.empty()) out += " (" + command + ")";
  if (!since.empty()) out += " since " + since;
  if (!url.empty()) out += ", serving " + url;
  return out;
}

std::string WriterLock::path_in(const std::string& home) {
  return (std::filesystem::path(home) / "writer.lock").string();
}

WriterLock::WriterLock(int fd, std::string path, Holder holder)
    : fd_(fd), path_(std::move(path)), holder_(std::move(holder)) {}

WriterLock::~WriterLock() {
  // Emptied first, so that the file never describes a holder that has gone; the lock
  // itself goes with the descriptor.
  (void)::ftruncate(fd_, 0);
  ::close(fd_);
}

Result<std::unique_ptr<WriterLock>> WriterLock::acquire(const Options& options, Clock& clock) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::kInternal,
                      "cannot open the writer lock " + options.path + ": " + std::strerror(errno));
  }
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return make_error(ErrorCode::kInternal,
                        "cannot lock " + options.path + ": " + std::strerror(err));
    }
    // The holder may have locked the file a moment ago and not written its description
    // yet (the file is then empty, or still names the previous, dead holder).
    const auto deadline = clock.steady_now() + options.describe_wait;
    Holder holder;
    while (true) {
      auto h = read_holder(options.path);
      if (h) holder = *h;
      if (process_alive(holder.pid) || clock.steady_now() >= deadline) break;
      clock.sleep_for(std::chrono::milliseconds(10));
    }
    if (!process_alive(holder.pid)) holder = Holder{};
    return make_error(ErrorCode::kInvalidInput,
                      "another writer holds " + options.path + ": " + holder.describe(),
                      "writer_lock_held");
  }
  Holder me;
  me.pid = static_cast<long>(::getpid());
  // One line of the file per field: control characters (a newline in a path) would break
  // the format and could rewrite a terminal, so they are written escaped.
  me.command = escape_for_terminal(options.command);
  me.since = format_utc(clock.now());
  std::unique_ptr<WriterLock> lock(new WriterLock(fd, options.path, std::move(me)));
  if (auto s = lock->write_description(); !s) return s.error();
  return lock;
}

Result<WriterLock::Holder> WriterLock::read_holder(const std::string& path) {
  auto text = read_file(path, 64 * 1024);
  if (!text) return text.error();
  return parse_holder(*text);
}

Status WriterLock::set_url(std::string_view url) {
  holder_.url = escape_for_terminal(url);
  return write_description();
}

Status WriterLock::write_description() {
  const std::string text = "pid=" + std::to_string(holder_.pid) + "\ncommand=" + holder_.command +
                           "\nsince=" + holder_.since + "\n" +
                           (holder_.url.empty() ? std::string() : "url=" + holder_.url + "\n");
  // Readers skip a line without its newline, so a half-written file reads as less, never
  // as something else.
  if (::ftruncate(fd_, 0) != 0) {
    return make_error(ErrorCode::kInternal, "cannot write " + path_ + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return make_error(ErrorCode::kInternal, "cannot write " + path_ + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

}  // namespace fgraph
