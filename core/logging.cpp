#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/core.h"

namespace fgraph {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;

}  // namespace

void init_logging(const LogOptions& options) {
  std::lock_guard lock(g_mutex);
  g_level = spdlog::level::from_str(options.level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

std::shared_ptr<spdlog::logger> logger(const std::string& stage) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(stage)) return existing;
  auto created = spdlog::stderr_color_mt(stage);
  created->set_level(g_level);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  return created;
}

}  // namespace fgraph
