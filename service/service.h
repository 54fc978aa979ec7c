// service: `fgraph serve`, fgraph as a long-running HTTP service (issue 17).
//
// Owns: the HTTP API (Boost.Beast over Boost.Asio; every Boost type stays in
// http_server.cpp), its authentication (a bearer token), limits and error answers, the
// route table and the OpenAPI document written from it, /metrics, the open alerts, the
// job executor that runs every write, and the web console under /ui/ (issue 19,
// service/console*.cpp: server-rendered pages over the same typed calls, with a session
// cookie from a login form that takes the token).
//
// Threading:
//  - HTTP: one io_context served by ServiceOptions::http_threads threads (default 2);
//    each connection on its own strand. Reads (runs, reports, registry, audit, metrics)
//    run on these threads, each with a ledger connection of its own (a small pool).
//  - Writes (start a run, rollback, replay, merge, unmerge) never run on an HTTP thread:
//    they go to the JobExecutor, ONE writer thread with a queue, so they are serialised
//    with each other; the HTTP thread returns at once and the answer is written when the
//    job replies. A write that conflicts with one queued or running (the same drop, run,
//    entity or merge) is refused with 409 at once.
//  - The home's WriterLock is held by the caller (tools/cli_serve.cpp) for the service's
//    whole life; the service records its URL in it, so a CLI writer beside it exits 2
//    naming the service.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/core.h"
#include "run/run.h"

namespace fgraph::service {

struct Limits {
  std::uint64_t max_json_body_bytes = 1 << 20;   // a JSON body; beyond: 413
  std::uint64_t max_upload_bytes = 256ull << 20; // one uploaded file; beyond: 413
  std::uint32_t max_header_bytes = 16 * 1024;    // request line and headers; beyond: 431
  // The head and JSON body of a request must arrive within this, and a keep-alive
  // connection idle this long is closed (slow clients cannot hold a thread).
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds upload_timeout{600000};  // an upload's body must arrive within
};

// The background carrying of open runs (service/internal/carrier.h) and its alerts.
struct CarrierSettings {
  std::chrono::seconds poll_initial{60};             // service.poll_initial_s
  std::chrono::seconds poll_max{300};                // service.poll_max_s
  std::chrono::seconds batch_open_alert{20 * 3600};  // service.alert_batch_open_hours
  double failed_rows_alert = 0.05;                   // service.alert_failed_rows (a share)
  std::chrono::seconds neo4j_down_alert{600};        // service.alert_neo4j_down_minutes
};

struct ServiceOptions {
  std::string listen = "127.0.0.1:8765";  // IPv4 "host:port" or "[v6]:port"; port 0: any
  bool allow_remote = false;  // required for an address that is not loopback
  std::string home;           // $FGRAPH_HOME: the ledger and the generated token file
  // Drops live here (POST /v1/runs, PUT /v1/drops); never inside the home, which runs
  // do not read. Default: the home's path + "-drops" (./.fgraph-drops).
  std::string drops_root;
  std::string inbox;          // --inbox DIR: new files there become drops and runs ("" = none)
  std::chrono::seconds inbox_settle{3};  // service.inbox_settle_s: a file this old is complete
  std::string token;          // FGRAPH_SERVICE_TOKEN / service.token_file; "" = generated
  std::string alert_webhook;  // service.alert_webhook: each new alert is POSTed there as JSON
  run::Settings run;          // what runs are made of (lane, model, budget, Neo4j, providers)
  CarrierSettings carrier;
  int http_threads = 2;
  Limits limits;
  std::string version = "0";  // shown in the OpenAPI document
};

// One open alert (a batch open too long, a failing run, a leak alarm, Neo4j
// unreachable, a budget refusal).
struct Alert {
  std::string key;       // identity: a second add() with the same key updates the alert
  std::string kind;      // "batch_open_too_long", "leak_alarm", ...
  std::string message;
  std::string run_id;    // "" when it concerns no run
  std::string raised_at; // RFC 3339 UTC, set by add() when empty
};

// The alerts the service lists at GET /v1/alerts. Threading: safe from any thread.
class AlertList {
 public:
  // Opens (or updates) the alert with `alert.key`; logged at warning level when new.
  void add(Alert alert);
  // Closes the alert with `key`; false when none was open.
  bool resolve(const std::string& key);
  // The open alerts, oldest first.
  std::vector<Alert> open() const;

 private:
  mutable std::mutex mu_;
  std::vector<Alert> alerts_;
};

// One writer thread with a queue: every write of the service runs here, one at a time.
// A job holds keys ("drop:PATH", "run:ID", "entity:ID", "merge:ID") from its submission
// to its end; a submission naming a key that a queued or running job holds is refused.
// Threading: submit() from any thread; jobs run on the executor's thread.
class JobExecutor {
 public:
  class Context {
   public:
    // Adds a key to the running job (e.g. "run:ID" once a new run has its id); false
    // when another job holds it already.
    bool claim(const std::string& key);
    // True once stop() was called: a job that can stop at a safe point should.
    bool stopping() const;

   private:
    friend class JobExecutor;
    Context(JobExecutor& executor, std::size_t job) : executor_(executor), job_(job) {}
    JobExecutor& executor_;
    std::size_t job_;
  };
  using Job = std::function<void(Context&)>;

  JobExecutor();
  ~JobExecutor();  // stop()
  JobExecutor(const JobExecutor&) = delete;
  JobExecutor& operator=(const JobExecutor&) = delete;

  // Queues `job` under `keys`; `after`, when given, runs on the executor's thread once
  // the job has returned and its keys are released. kInvalidInput with detail "conflict"
  // (409) naming the key when a queued or running job holds one of them; kUnavailable
  // after stop().
  Status submit(const std::vector<std::string>& keys, Job job, std::function<void()> after = {});
  // Jobs queued or running.
  std::size_t pending() const;
  // True when a queued or running job holds `key`.
  bool busy(const std::string& key) const;
  // Refuses new jobs, lets the running one finish, drops the queued ones (their HTTP
  // clients see the connection close) and joins the thread. Idempotent.
  void stop();

 private:
  struct Entry {
    std::size_t id;
    std::vector<std::string> keys;
    Job job;
    std::function<void()> after;
  };
  bool held_locked(const std::string& key) const;
  void loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  std::map<std::string, std::size_t> held_;  // key -> job id
  std::size_t next_id_ = 1;
  bool stopping_ = false;
  bool running_ = false;
  std::thread thread_;
};

// The running service.
class Service {
 public:
  // Checks the options, loads or creates the token (see internal/auth.h), creates the
  // drops root, opens the ledger and starts listening; then records the URL in `lock`.
  // kInvalidInput for a bad --listen, a non-loopback address without allow_remote, a bad
  // token file; kUnavailable when the address cannot be bound. `lock` must outlive the
  // service.
  static Result<std::unique_ptr<Service>> start(const ServiceOptions& options, WriterLock& lock);
  ~Service();

  std::string url() const;  // "http://127.0.0.1:8765"
  AlertList& alerts();
  JobExecutor& jobs();
  // Stops accepting and serving, finishes the running job, joins every thread.
  void stop();

  struct Impl;

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs the service until SIGTERM or SIGINT, then stops it. Errors as Service::start.
Status serve(const ServiceOptions& options, WriterLock& lock);

}  // namespace fgraph::service
