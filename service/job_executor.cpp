#include "service/service.h"

namespace fgraph::service {

JobExecutor::JobExecutor() : thread_([this] { loop(); }) {}

JobExecutor::~JobExecutor() { stop(); }

bool JobExecutor::held_locked(const std::string& key) const { return held_.count(key) > 0; }

Status JobExecutor::submit(const std::vector<std::string>& keys, Job job,
                           std::function<void()> after) {
  std::lock_guard lock(mu_);
  if (stopping_) return make_error(ErrorCode::kUnavailable, "the service is stopping");
  for (const auto& k : keys) {
    if (held_locked(k)) {
      return make_error(ErrorCode::kInvalidInput, k + " is busy with another job in progress",
                        "conflict");
    }
  }
  const std::size_t id = next_id_++;
  for (const auto& k : keys) held_[k] = id;
  queue_.push_back({id, keys, std::move(job), std::move(after)});
  cv_.notify_all();
  return ok();
}

bool JobExecutor::Context::claim(const std::string& key) {
  std::lock_guard lock(executor_.mu_);
  auto it = executor_.held_.find(key);
  if (it != executor_.held_.end()) return it->second == job_;
  executor_.held_[key] = job_;
  return true;
}

bool JobExecutor::Context::stopping() const {
  std::lock_guard lock(executor_.mu_);
  return executor_.stopping_;
}

bool JobExecutor::busy(const std::string& key) const {
  std::lock_guard lock(mu_);
  return held_locked(key);
}

std::size_t JobExecutor::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + (running_ ? 1 : 0);
}

void JobExecutor::loop() {
  for (;;) {
    Entry e;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (stopping_) return;  // stop() abandons the queue
      e = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    Context ctx(*this, e.id);
    try {
      e.job(ctx);
    } catch (const std::exception& ex) {
      logger("service")->error("job failed: {}", ex.what());
    }
    {
      std::lock_guard lock(mu_);
      running_ = false;
      std::erase_if(held_, [&](const auto& kv) { return kv.second == e.id; });
    }
    if (e.after) e.after();
  }
}

void JobExecutor::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  queue_.clear();
  held_.clear();
}

}  // namespace fgraph::service
