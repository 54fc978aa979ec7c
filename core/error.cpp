#include <cctype>
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
    case ErrorCode::kUnauthorized: return "unauthorized";
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
  // The sources redact their URLs; this keeps a message built elsewhere from leaking one.
  return redact_urls(out);
}

std::string redact_urls(std::string_view text) {
  auto is_scheme_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  // Where an authority ends (RFC 3986), and where a URL in running text ends.
  auto ends_authority = [](char c) {
    return c == '/' || c == '?' || c == '#' || std::isspace(static_cast<unsigned char>(c)) ||
           c == '"' || c == '\'' || c == '<' || c == '>' || c == '`';
  };
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  for (std::size_t at = text.find("://"); at != std::string_view::npos;
       at = text.find("://", at + 3)) {
    if (at == 0 || !is_scheme_char(text[at - 1])) continue;
    const std::size_t start = at + 3;
    std::size_t end = start;
    while (end < text.size() && !ends_authority(text[end])) ++end;
    const std::size_t last_at = text.substr(start, end - start).rfind('@');
    if (last_at == std::string_view::npos) continue;
    out.append(text.substr(copied, start - copied));
    out += "****";
    copied = start + last_at;  // from the '@' on
  }
  out.append(text.substr(copied));
  return out;
}

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "fgraph: internal check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace fgraph
