// tests/support: an HttpTransport wrapper that injects faults around a real transport.
//
// A hook sees every request (and may rewrite it) before it is sent; returning a value
// answers the request without sending it. After-hooks see each real response. The
// wrapper records "METHOD URL" of every request. Not thread-safe: one test thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/core.h"

namespace fgraph::testing {

class FaultTransport final : public HttpTransport {
 public:
  // Called before sending request number `index` (0-based); may modify the request.
  using BeforeHook = std::function<std::optional<Result<HttpResponse>>(HttpRequest&, int index)>;
  // Called after request `index` was answered by the real transport.
  using AfterHook = std::function<void(const HttpRequest&, const Result<HttpResponse>&, int index)>;

  explicit FaultTransport(HttpTransport& inner) : inner_(inner) {}

  void set_before(BeforeHook hook) { before_ = std::move(hook); }
  void set_after(AfterHook hook) { after_ = std::move(hook); }

  Result<HttpResponse> send(const HttpRequest& request) override {
    const int index = static_cast<int>(log_.size());
    log_.push_back(request.method + " " + request.url);
    HttpRequest copy = request;
    if (before_) {
      if (auto injected = before_(copy, index)) return *injected;
    }
    auto r = inner_.send(copy);
    if (after_) after_(copy, r, index);
    return r;
  }

  const std::vector<std::string>& requests() const { return log_; }
  std::size_t count() const { return log_.size(); }

  // A Neo4j-style error answer: {"errors":[{"code":code,"message":...}]}.
  static HttpResponse neo4j_error(int status, const std::string& code) {
    HttpResponse r;
    r.status = status;
    r.headers = {{"content-type", "application/json"}};
    r.body = R"({"errors":[{"code":")" + code + R"(","message":"injected by FaultTransport"}]})";
    return r;
  }

 private:
  HttpTransport& inner_;
  BeforeHook before_;
  AfterHook after_;
  std::vector<std::string> log_;
};

}  // namespace fgraph::testing
