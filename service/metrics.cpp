#include "service/internal/metrics.h"

#include <cmath>
#include <cstdio>

namespace fgraph::service {

namespace {

std::string escape(std::string_view s, bool quotes) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quotes) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

}  // namespace

std::string format_prometheus(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) {
    out += "# HELP " + f.name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out += "{";
        for (std::size_t i = 0; i < s.labels.size(); ++i) {
          if (i > 0) out += ",";
          out += s.labels[i].first + "=\"" + escape(s.labels[i].second, true) + "\"";
        }
        out += "}";
      }
      out += " " + number(s.value) + "\n";
    }
  }
  return out;
}

void RequestCounter::add(std::string_view route, int status) {
  std::lock_guard lock(mu_);
  counts_[{std::string(route), status}] += 1;
}

MetricFamily RequestCounter::family() const {
  MetricFamily f{"fgraph_http_requests_total", "HTTP responses by route and status", "counter", {}};
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : counts_) {
    f.samples.push_back({{{"route", key.first}, {"status", std::to_string(key.second)}}, n});
  }
  return f;
}

}  // namespace fgraph::service
