#include "service/internal/ledger.h"

#include "service/internal/http.h"

namespace fgraph::service {

Result<std::unique_ptr<LedgerContext>> open_ledger(const std::string& path) {
  auto c = std::make_unique<LedgerContext>();
  auto store = registry::Store::open({path});
  if (!store) return store.error();
  c->store = std::move(*store);
  c->registry = std::make_unique<registry::EntityRegistry>(*c->store);
  c->transport = make_curl_transport();
  return c;
}

HttpResponse from_error(const Error& e) {
  const std::string message = redact_urls(e.message);
  if (e.detail == "conflict") return error_response(409, "conflict", message);
  if (registry::is_locked(e)) return error_response(503, "ledger_locked", message);
  int status = 500;
  switch (e.code) {
    case ErrorCode::kInvalidInput: status = 400; break;
    case ErrorCode::kNotFound: status = 404; break;
    case ErrorCode::kTransient:
    case ErrorCode::kRateLimited:
    case ErrorCode::kUnavailable: status = 503; break;
    case ErrorCode::kUnauthorized:
    case ErrorCode::kPermanent: status = 502; break;
    case ErrorCode::kInternal: status = 500; break;
  }
  HttpResponse r = error_response(status, to_string(e.code), message);
  if (status == 503) r.headers.emplace_back("Retry-After", "5");
  return r;
}

Status LedgerPool::open() {
  auto first = open_ledger(path_);
  if (!first) return first.error();
  give_back(std::move(*first));
  return ok();
}

Result<std::unique_ptr<LedgerContext>> LedgerPool::take() {
  {
    std::lock_guard l(mu_);
    if (!pool_.empty()) {
      auto c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  return open_ledger(path_);
}

void LedgerPool::give_back(std::unique_ptr<LedgerContext> c) {
  std::lock_guard l(mu_);
  pool_.push_back(std::move(c));
}

}  // namespace fgraph::service
