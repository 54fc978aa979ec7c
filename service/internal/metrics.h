// Prometheus text exposition (format 0.0.4) and the service's request counters.
// Threading: format_prometheus is pure; RequestCounter is safe from several threads.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fgraph::service {

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;  // name -> value, in order
  double value = 0;
};

struct MetricFamily {
  std::string name;  // fgraph_..., [a-zA-Z_:][a-zA-Z0-9_:]*
  std::string help;
  std::string type;  // "gauge" | "counter"
  std::vector<MetricSample> samples;
};

// "# HELP", "# TYPE" and one line per sample; label values escaped (\\, \", \n), help
// escaped (\\, \n); integral values without a decimal point. A family without samples
// is written with its HELP and TYPE only.
std::string format_prometheus(const std::vector<MetricFamily>& families);

// HTTP responses by route and status, for fgraph_http_requests_total.
class RequestCounter {
 public:
  void add(std::string_view route, int status);
  MetricFamily family() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, double> counts_;
};

}  // namespace fgraph::service
