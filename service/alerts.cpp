#include "service/service.h"

namespace fgraph::service {

void AlertList::add(Alert alert) {
  if (alert.raised_at.empty()) alert.raised_at = format_utc(std::chrono::system_clock::now());
  std::lock_guard lock(mu_);
  for (auto& a : alerts_) {
    if (a.key == alert.key) {
      alert.raised_at = a.raised_at;  // still the same alert, raised when it first was
      a = std::move(alert);
      return;
    }
  }
  logger("service")->warn("alert {}: {}{}", alert.kind, alert.message,
                          alert.run_id.empty() ? "" : " run=" + alert.run_id);
  alerts_.push_back(std::move(alert));
}

bool AlertList::resolve(const std::string& key) {
  std::lock_guard lock(mu_);
  return std::erase_if(alerts_, [&](const Alert& a) { return a.key == key; }) > 0;
}

std::vector<Alert> AlertList::open() const {
  std::lock_guard lock(mu_);
  return alerts_;
}

}  // namespace fgraph::service
