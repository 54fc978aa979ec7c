// Test helper: runs tests/emulator/emulator.py as a child process for the life of the
// object. Starts it with --port 0, reads "LISTENING <port>" from its stdout, and stops
// it (SIGTERM, then SIGKILL) in the destructor. Also posts emulator config and reads
// its stats through a real HTTP transport.
//
// Threading: one object per test; not shared between threads.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/core.h"

namespace fgraph::testing {

class EmulatorProcess {
 public:
  // `extra_args` are appended to the command line (e.g. {"--mode", "forward"}).
  explicit EmulatorProcess(std::vector<std::string> extra_args = {}) {
    const char* src = std::getenv("FGRAPH_SOURCE_DIR");
    std::string script = std::string(src != nullptr ? src : FGRAPH_SOURCE_DIR) + "/tests/emulator/emulator.py";
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> args = {"python3", script, "--port", "0"};
      for (auto& a : extra_args) args.push_back(a);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(out[1]);
    read_fd_ = out[0];
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("emulator did not print LISTENING within 30 s");
      }
      pollfd p{read_fd_, POLLIN, 0};
      if (::poll(&p, 1, 500) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(read_fd_, buf, sizeof buf);
      if (n <= 0) {
        stop();
        throw std::runtime_error("emulator exited before listening");
      }
      line.append(buf, static_cast<std::size_t>(n));
    }
    const std::string tag = "LISTENING ";
    auto pos = line.find(tag);
    if (pos == std::string::npos) {
      stop();
      throw std::runtime_error("unexpected emulator output: " + line);
    }
    port_ = std::stoi(line.substr(pos + tag.size()));
    transport_ = make_curl_transport();
  }

  ~EmulatorProcess() { stop(); }
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  int port() const { return port_; }
  std::string root() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string openai_base_url() const { return root() + "/v1"; }
  std::string anthropic_base_url() const { return root(); }

  // POST /_emulator/config with a JSON object; returns the HTTP status.
  int configure(const std::string& json_object) { return post("/_emulator/config", json_object); }
  // POST /_emulator/reset.
  int reset() { return post("/_emulator/reset", "{}"); }
  // GET /_emulator/stats as JSON text ("" on failure).
  std::string stats() {
    HttpRequest req;
    req.url = root() + "/_emulator/stats";
    auto r = transport_->send(req);
    return r && r->status == 200 ? r->body : std::string();
  }

  void stop() {
    if (read_fd_ >= 0) {
      close(read_fd_);
      read_fd_ = -1;
    }
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 50; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  int post(const std::string& path, const std::string& body) {
    HttpRequest req;
    req.method = "POST";
    req.url = root() + path;
    req.body = body;
    req.headers.emplace_back("Content-Type", "application/json");
    auto r = transport_->send(req);
    return r ? r->status : 0;
  }

  pid_t pid_ = -1;
  int read_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<HttpTransport> transport_;
};

}  // namespace fgraph::testing
