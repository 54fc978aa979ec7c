// The service's ledger connections: what a handler reads the ledger through, and the pool
// the HTTP threads share (service.cpp's API handlers and the web console alike).
// Threading: a LedgerContext is used by one thread at a time; LedgerPool is safe from any
// thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/core.h"
#include "registry/registry.h"
#include "run/run.h"

namespace fgraph::service {

// One SQLite connection and what sits on it.
struct LedgerContext {
  std::unique_ptr<registry::Store> store;
  std::unique_ptr<registry::EntityRegistry> registry;
  std::unique_ptr<HttpTransport> transport;
  SystemClock clock;
  run::NoProgress progress;  // the service logs, it draws no progress
};

Result<std::unique_ptr<LedgerContext>> open_ledger(const std::string& path);

struct HttpResponse;
// An error of a stage as an HTTP answer: 400 invalid input, 404, 409 conflict, 503 with
// Retry-After for a locked ledger or an unreachable system, 502 refused remotely, 500.
HttpResponse from_error(const Error& e);

class LedgerPool {
 public:
  explicit LedgerPool(std::string path) : path_(std::move(path)) {}
  // Opens the first connection (applying migrations before anyone reads).
  Status open();
  // Runs `body(LedgerContext&)` on a pooled connection and returns what it returns (a
  // Result); the connection's cached statements are released after it, so that the next
  // request reads the ledger as it is then.
  template <typename F>
  auto with(F&& body) -> decltype(body(std::declval<LedgerContext&>())) {
    auto c = take();
    if (!c) return c.error();
    auto r = body(**c);
    (*c)->store->release_cached();
    give_back(std::move(*c));
    return r;
  }
  const std::string& path() const { return path_; }

 private:
  Result<std::unique_ptr<LedgerContext>> take();
  void give_back(std::unique_ptr<LedgerContext> c);

  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<LedgerContext>> pool_;
};

}  // namespace fgraph::service
