#include <cstdio>
#include <cstdlib>

#include "core/core.h"

namespace fgraph {

std::string_view to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidInput: return "invalid_input";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kTransient: return "transient";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kPermanent: return "permanent";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

std::string Error::describe() const {
  std::string out(to_string(code));
  out += ": ";
  out += message;
  if (!detail.empty()) {
    out += " [";
    out += detail;
    out += "]";
  }
  return out;
}

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "fgraph: internal check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace fgraph
