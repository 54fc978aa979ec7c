#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/core.h"

namespace fgraph {

Result<std::string> read_file(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kNotFound, "cannot read " + path + ": " + ec.message());
  if (size > max_bytes) {
    return make_error(ErrorCode::kInvalidInput, path + " is " + std::to_string(size) +
                                                    " bytes, over the limit of " +
                                                    std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path);
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

Status write_file_atomic(const std::string& path, std::string_view bytes) {
  std::string tmp = path + ".tmp." + random_hex(4);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kInvalidInput, "cannot write " + tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return make_error(ErrorCode::kInternal, "short write to " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_error(ErrorCode::kInternal, "cannot rename to " + path);
  }
  return ok();
}

void crash_point(std::string_view point) {
  static const std::pair<std::string, long> target = [] {
    const char* v = std::getenv("FGRAPH_TEST_CRASH_AT");
    std::string name = v != nullptr ? v : "";
    long nth = 1;
    if (auto colon = name.rfind(':'); colon != std::string::npos) {
      nth = std::strtol(name.c_str() + colon + 1, nullptr, 10);
      name.resize(colon);
    }
    return std::pair<std::string, long>(name, nth < 1 ? 1 : nth);
  }();
  static std::atomic<long> hits{0};
  if (!target.first.empty() && point == target.first && ++hits == target.second) {
    std::raise(SIGKILL);
  }
}

}  // namespace fgraph
