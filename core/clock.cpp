#include <ctime>
#include <random>
#include <thread>

#include "core/core.h"

namespace fgraph {

std::chrono::system_clock::time_point SystemClock::now() const {
  return std::chrono::system_clock::now();
}
std::chrono::steady_clock::time_point SystemClock::steady_now() const {
  return std::chrono::steady_clock::now();
}
void SystemClock::sleep_for(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

ManualClock::ManualClock(std::chrono::system_clock::time_point start) : start_(start) {}
std::chrono::system_clock::time_point ManualClock::now() const { return start_ + elapsed_; }
std::chrono::steady_clock::time_point ManualClock::steady_now() const {
  return std::chrono::steady_clock::time_point{} + elapsed_;
}
void ManualClock::sleep_for(std::chrono::milliseconds d) {
  sleeps_.push_back(d);
  elapsed_ += d;
}
void ManualClock::advance(std::chrono::milliseconds d) { elapsed_ += d; }

std::string format_utc(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text) {
  std::tm tm{};
  const std::string t(text.substr(0, 19));
  const char* end = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (t.size() != 19 || end == nullptr || *end != '\0' || text.size() < 20 || text.back() != 'Z') {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::optional<std::chrono::milliseconds> RetryPolicy::next_delay(int attempt,
                                                                 const Error& error) const {
  if (!is_retryable(error.code) || attempt >= max_attempts) return std::nullopt;
  if (error.retry_after.count() > 0) {
    if (error.retry_after > max_retry_after) return std::nullopt;
    return error.retry_after;
  }
  auto base = initial_backoff * (1LL << std::min(attempt - 1, 20));
  if (base > max_backoff) base = max_backoff;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> u(0.0, jitter);
  return std::chrono::milliseconds(static_cast<long long>(base.count() * (1.0 - u(rng))));
}

}  // namespace fgraph
