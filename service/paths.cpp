#include "service/internal/paths.h"

namespace fgraph::service {

namespace fs = std::filesystem;

Result<fs::path> resolve_under(const fs::path& root, std::string_view relative) {
  auto refuse = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidInput, "path refused: " + why);
  };
  if (relative.empty()) return refuse("empty");
  if (relative.front() == '/') return refuse("absolute");
  for (unsigned char c : relative) {
    if (c < 0x20 || c == 0x7f) return refuse("a control character or NUL");
    if (c == '\\') return refuse("a backslash");
  }
  std::string_view rest = relative;
  for (;;) {
    auto slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part.empty()) return refuse("an empty component");
    if (part == "." || part == "..") return refuse("a '.' or '..' component");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return make_error(ErrorCode::kInternal, "the drops root " + root.string() + " is missing");
  const fs::path joined = real_root / fs::path(std::string(relative));
  const fs::path real = fs::weakly_canonical(joined, ec);
  if (ec) return refuse("cannot be resolved");
  auto r = real.begin();
  for (auto it = real_root.begin(); it != real_root.end(); ++it, ++r) {
    if (r == real.end() || *r != *it) return refuse("it leaves the drops root");
  }
  if (real == real_root) return refuse("it is the drops root itself");
  return real;
}

}  // namespace fgraph::service
