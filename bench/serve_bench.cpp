// serve_bench: registry `find` over HTTP (`fgraph serve`, 16 concurrent keep-alive
// clients) against two baselines measured in the same run: the same queries through one
// `fgraph registry find` process each (what a shell-out costs), and a bare server of the
// same HTTP layer (service/internal/http.h, Beast) whose handler answers a constant (the
// server's ceiling).
//
//   serve_bench [ENTITIES=200000] [SECONDS=10] [SHELL_QUERIES=300] [CLIENTS=16]
//
// Written in C++ rather than Python: the load generator must not be the bottleneck (one
// Python process tops out well below the bare handler's rate), and the ceiling is a Beast
// handler anyway. Targets (issue 17): p99 < 20 ms; >= 0.5x the bare handler's rate;
// >= 50x the process-per-query rate.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "registry/registry.h"
#include "service/internal/http.h"

extern char** environ;

using namespace fgraph;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Steady = std::chrono::steady_clock;

namespace {

const char* kToken = "serve-bench-token";

std::string make_name(std::mt19937_64& rng) {
  static const char* kWords[] = {"Capital", "Holdings", "Energy", "Group", "Partners",
                                 "Financial", "Technologies", "Systems", "Global", "Bank",
                                 "Trust", "Resources", "Industries", "Services", "Media"};
  static const char* kForms[] = {"Inc.", "Corp.", "LLC", "Ltd", "PLC", "Co.", "AG"};
  auto word = [&](int n) {
    static const char* kC = "bcdfghjklmnprstvwxz";
    static const char* kV = "aeiouy";
    std::string w;
    for (int i = 0; i < n; ++i) {
      w += kC[rng() % 19];
      w += kV[rng() % 6];
    }
    w[0] = static_cast<char>(w[0] - 'a' + 'A');
    return w;
  };
  std::string n = word(2 + static_cast<int>(rng() % 3));
  if (rng() % 2 == 0) n += " " + word(2 + static_cast<int>(rng() % 2));
  return n + " " + kWords[rng() % 15] + " " + kForms[rng() % 7];
}

struct Stats {
  double rate = 0, p50_ms = 0, p99_ms = 0;
  std::size_t requests = 0, errors = 0;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// `clients` threads, each one keep-alive connection, for `seconds`.
Stats load(std::uint16_t port, const std::vector<std::string>& queries, int clients, double seconds) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<std::size_t> errors{0};
  const auto end = Steady::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  const auto t0 = Steady::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      net::io_context ioc;
      beast::tcp_stream stream(ioc);
      stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
      beast::flat_buffer buffer;
      std::size_t i = static_cast<std::size_t>(c) * 7919;
      while (Steady::now() < end) {
        const std::string& q = queries[i++ % queries.size()];
        http::request<http::empty_body> req(http::verb::get,
                                            "/v1/registry/entities?limit=10&q=" + encode(q), 11);
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::authorization, std::string("Bearer ") + kToken);
        const auto s = Steady::now();
        http::response<http::string_body> res;
        beast::error_code ec;
        http::write(stream, req, ec);
        if (!ec) http::read(stream, buffer, res, ec);
        if (ec) {
          errors++;
          return;
        }
        if (res.result_int() != 200) errors++;
        lat[c].push_back(std::chrono::duration<double, std::milli>(Steady::now() - s).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Steady::now() - t0).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  Stats st;
  st.requests = all.size();
  st.errors = errors;
  st.rate = static_cast<double>(all.size()) / wall;
  st.p50_ms = pct(all, 0.50);
  st.p99_ms = pct(all, 0.99);
  return st;
}

// Runs argv with stdout and stderr to /dev/null (or stderr to `err_fd`); returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, int err_fd) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (err_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// The same queries, one `fgraph registry find` process each, `clients` at a time.
Stats shell_out(const std::string& home, const std::vector<std::string>& queries, int clients,
                std::size_t n) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<std::size_t> next{0}, errors{0};
  std::vector<std::thread> threads;
  const auto t0 = Steady::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (std::size_t i; (i = next++) < n;) {
        const auto s = Steady::now();
        pid_t pid = spawn({FGRAPH_BIN, "--home", home, "registry", "find", queries[i % queries.size()],
                           "--json", "--limit", "10"}, {}, -1);
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          errors++;
        }
        lat[c].push_back(std::chrono::duration<double, std::milli>(Steady::now() - s).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Steady::now() - t0).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  Stats st;
  st.requests = all.size();
  st.errors = errors;
  st.rate = static_cast<double>(all.size()) / wall;
  st.p50_ms = pct(all, 0.50);
  st.p99_ms = pct(all, 0.99);
  return st;
}

struct ConstantHandler : service::HttpHandler {
  service::BodyPlan plan(service::HttpRequest&) override { return {}; }
  void handle(service::HttpRequest, service::Reply reply) override {
    reply(service::json_response(200, R"({"candidates":[]})"));
  }
  void count(std::string_view, int) override {}
};

void print(const char* what, const Stats& s) {
  std::printf("  %-34s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (%zu requests, %zu errors)\n",
              what, s.rate, s.p50_ms, s.p99_ms, s.requests, s.errors);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n_entities = argc > 1 ? std::stoul(argv[1]) : 200000;
  const double seconds = argc > 2 ? std::stod(argv[2]) : 10;
  const std::size_t n_shell = argc > 3 ? std::stoul(argv[3]) : 300;
  const int clients = argc > 4 ? std::stoi(argv[4]) : 16;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  init_logging({"warn"});
  const auto home = std::filesystem::temp_directory_path() / ("serve_bench_" + random_hex(4));
  std::filesystem::create_directories(home);

  // ---- a registry of n_entities companies ------------------------------------------
  std::vector<std::string> names;
  {
    auto store = registry::Store::open({(home / "fgraph.db").string()});
    if (!store) {
      std::cerr << store.error().describe() << "\n";
      return 1;
    }
    registry::EntityRegistry reg(**store);
    std::mt19937_64 rng(20261206);
    std::set<std::string> seen;
    const auto t = Steady::now();
    std::vector<registry::EntityInput> batch;
    while (names.size() < n_entities) {
      std::string n = make_name(rng);
      if (!seen.insert(registry::normalize_name(n)).second) continue;
      names.push_back(n);
      registry::EntityInput in{"COMPANY", n, {}, {}, {}, {}, "seed_doc_" + std::to_string(names.size() / 100),
                               "seed", false};
      if (names.size() % 4 == 0) {
        in.cik = std::to_string(1000000 + names.size());
        in.authoritative = true;
      }
      batch.push_back(std::move(in));
      if (batch.size() == registry::kResolveGroupInputs || names.size() == n_entities) {
        if (auto r = reg.resolve_all(batch); !r) {
          std::cerr << r.error().describe() << "\n";
          return 1;
        }
        batch.clear();
      }
    }
    std::printf("registry of %zu entities built in %.1f s\n", n_entities,
                std::chrono::duration<double>(Steady::now() - t).count());
  }
  // Queries: exact names, a first word alone, a CIK.
  std::vector<std::string> queries;
  std::mt19937_64 qrng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::string& n = names[qrng() % names.size()];
    switch (i % 3) {
      case 0: queries.push_back(n); break;
      case 1: queries.push_back(n.substr(0, n.find(' '))); break;
      default: queries.push_back(std::to_string(1000000 + 4 * (1 + qrng() % (names.size() / 4 - 1)))); break;
    }
  }

  // ---- fgraph serve --------------------------------------------------------------------
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  pid_t server = spawn({FGRAPH_BIN, "--home", home.string(), "serve", "--listen", "127.0.0.1:0"},
                       {std::string("FGRAPH_SERVICE_TOKEN=") + kToken}, pipefd[1]);
  close(pipefd[1]);
  std::uint16_t port = 0;
  {
    FILE* err = fdopen(pipefd[0], "r");
    char line[4096];
    while (port == 0 && std::fgets(line, sizeof line, err) != nullptr) {
      if (const char* at = std::strstr(line, "listening on http://127.0.0.1:")) {
        port = static_cast<std::uint16_t>(std::atoi(at + std::strlen("listening on http://127.0.0.1:")));
      }
    }
    std::thread([err] {  // keep draining its log so that it never blocks on a full pipe
      char buf[4096];
      while (std::fgets(buf, sizeof buf, err) != nullptr) {
      }
      std::fclose(err);
    }).detach();
  }
  if (port == 0) {
    std::cerr << "fgraph serve did not start\n";
    return 1;
  }
  load(port, queries, clients, 1);  // warm the page cache and the connection pool
  Stats served = load(port, queries, clients, seconds);
  kill(server, SIGTERM);
  int status = 0;
  waitpid(server, &status, 0);

  // ---- the ceiling: the same HTTP layer answering a constant ---------------------------
  ConstantHandler constant;
  service::HttpServerOptions o;
  o.port = 0;
  auto bare = service::HttpServer::start(o, constant);
  if (!bare) {
    std::cerr << bare.error().describe() << "\n";
    return 1;
  }
  load((*bare)->port(), queries, clients, 1);
  Stats ceiling = load((*bare)->port(), queries, clients, seconds);
  (*bare)->stop();

  // ---- one process per query -----------------------------------------------------------
  Stats shell = shell_out(home.string(), queries, clients, n_shell);

  std::printf("registry find, %zu entities, %d concurrent clients, %.0f s each (2 HTTP threads):\n",
              n_entities, clients, seconds);
  print("fgraph serve (HTTP, keep-alive)", served);
  print("bare Beast handler (constant)", ceiling);
  print("fgraph registry find (a process each)", shell);
  std::printf("ratios: %.2fx the bare handler (target >= 0.5), %.0fx process-per-query (target >= 50); "
              "p99 %.2f ms (target < 20)\n",
              served.rate / ceiling.rate, served.rate / shell.rate, served.p99_ms);
  std::filesystem::remove_all(home);
  return served.errors + ceiling.errors + shell.errors == 0 ? 0 : 1;
}
