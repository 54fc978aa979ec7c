// extract_bench: planning throughput and the openai-batch lane end to end.
//
// Part 1 plans N synthetic filings (default 50,000), generated one at a time, into
// OpenAI batch JSONL files (rotated at 50,000 lines / 200 MB) with the same calls the
// lane makes per row: plan_document, render_body, check_isolation. It reports requests
// per second, the ratio against a baseline measured in the same run (writing each
// document's text as one JSON line, no planning), and the peak RSS.
//
// Part 2 pushes M documents (default 10,000) through Extractor with the openai-batch lane
// against the provider emulator with 5% injected row failures (fail_fraction 0.05), and
// reports rows failed, rows resubmitted (must be equal), and the wall time spent outside
// the emulator (total minus time inside HTTP calls).
//
// Usage: extract_bench [plan_docs] [lane_docs]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "registry/registry.h"
#include "tests/support/emulator_process.h"

namespace fs = std::filesystem;
using namespace fgraph;
using WallClock = std::chrono::steady_clock;

namespace {

double seconds_since(WallClock::time_point t) {
  return std::chrono::duration<double>(WallClock::now() - t).count();
}

long peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

const char* const kWords[] = {"Alpha", "Bravo", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor",
                              "Indigo", "Juniper", "Keystone", "Lumen", "Meridian", "Northwind", "Orchard",
                              "Pinnacle", "Quarry", "Redwood", "Summit", "Tidewater"};

// A filing-like document of about 2 KB, unique per index.
ingest::Document make_doc(int i) {
  std::string a = std::string(kWords[i % 20]) + " " + kWords[(i / 20) % 20] + " " + std::to_string(i);
  std::string b = std::string(kWords[(i + 7) % 20]) + " " + kWords[(i / 400) % 20];
  ingest::Document d;
  d.text = "FORM 8-K CURRENT REPORT No. " + std::to_string(i) + "\n\n" + a + " Holdings Inc. acquired " + b +
           " Corp. on the closing date.\n\nJane " + kWords[i % 20] + ", Chief Financial Officer of " + a +
           " Holdings Inc., signed this report.\n\n";
  for (int p = 0; p < 12; ++p) {
    d.text += "Item " + std::to_string(p + 1) +
              ". The registrant entered into an agreement described in the exhibits; the terms are "
              "customary for transactions of this kind.\n\n";
  }
  d.doc_id = ingest::make_doc_id(d.text);
  d.source = "bench/" + std::to_string(i) + ".txt";
  return d;
}

// Part 1 ------------------------------------------------------------------------
struct PlanFigures {
  double seconds = 0;
  std::int64_t requests = 0;
  std::int64_t files = 0;
  std::uint64_t bytes = 0;
};

PlanFigures plan_into_files(int n, const fs::path& dir, bool baseline) {
  using extract::LaneKind;
  extract::PlanOptions po;
  po.model = "gpt-4.1-mini";
  extract::RenderOptions ro;
  ro.lane = LaneKind::kOpenAiBatch;
  PlanFigures f;
  std::ofstream out;
  std::size_t lines = 0;
  std::uint64_t file_bytes = 0;
  auto rotate = [&]() {
    out.close();
    out.open(dir / ((baseline ? "base-" : "plan-") + std::to_string(f.files++) + ".jsonl"),
             std::ios::binary | std::ios::trunc);
    lines = 0;
    file_bytes = 0;
  };
  rotate();
  const auto t0 = WallClock::now();
  for (int i = 0; i < n; ++i) {
    ingest::Document doc = make_doc(i);
    std::vector<std::string> bodies;
    if (baseline) {
      bodies.push_back(nlohmann::json{{"custom_id", doc.doc_id}, {"text", doc.text}}.dump());
      ++f.requests;
    } else {
      auto reqs = extract::plan_document(doc, po);
      if (!reqs) continue;
      for (const auto& r : *reqs) {
        std::string_view chunk = std::string_view(doc.text).substr(r.char_start, r.char_end - r.char_start);
        std::string body = extract::render_body(r, chunk, ro);
        if (!extract::check_isolation(body, r, doc.text, ro)) std::abort();
        bodies.push_back("{\"custom_id\":\"" + r.custom_id +
                         "\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":" + body + "}");
        ++f.requests;
      }
    }
    for (auto& line : bodies) {
      line += '\n';
      if (lines >= 50000 || file_bytes + line.size() > (200ull << 20)) rotate();
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
      ++lines;
      file_bytes += line.size();
      f.bytes += line.size();
    }
  }
  out.close();
  f.seconds = seconds_since(t0);
  return f;
}

// Part 2 ------------------------------------------------------------------------
// Sums the wall time spent inside HTTP calls (the emulator's share).
class TimingTransport final : public HttpTransport {
 public:
  explicit TimingTransport(HttpTransport& inner) : inner_(inner) {}
  Result<HttpResponse> send(const HttpRequest& request) override {
    const auto t = WallClock::now();
    auto r = inner_.send(request);
    std::lock_guard lock(mu_);
    inside_ += seconds_since(t);
    return r;
  }
  double inside_seconds() const { return inside_; }

 private:
  HttpTransport& inner_;
  std::mutex mu_;
  double inside_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const int plan_docs = argc > 1 ? std::atoi(argv[1]) : 50000;
  const int lane_docs = argc > 2 ? std::atoi(argv[2]) : 10000;
  fgraph::init_logging({"warn"});
  const fs::path dir = fs::temp_directory_path() / ("fgraph-extract-bench-" + random_hex(4));
  fs::create_directories(dir);

  // Part 1: baseline first, then the planner, same documents.
  PlanFigures base = plan_into_files(plan_docs, dir, true);
  for (auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  PlanFigures plan = plan_into_files(plan_docs, dir, false);
  std::printf("plan: %d documents -> %lld requests in %lld files (%.1f MB) in %.2f s: %.0f requests/s\n",
              plan_docs, static_cast<long long>(plan.requests), static_cast<long long>(plan.files),
              static_cast<double>(plan.bytes) / 1e6, plan.seconds, static_cast<double>(plan.requests) / plan.seconds);
  std::printf("baseline (document text as one JSON line, no planning): %.0f docs/s; planning costs %.1fx the baseline time\n",
              static_cast<double>(base.requests) / base.seconds, plan.seconds / base.seconds);
  std::printf("peak RSS after planning: %ld MB (target < 200 MB)\n", peak_rss_mb());
  for (auto& e : fs::directory_iterator(dir)) fs::remove(e.path());

  if (lane_docs <= 0) return 0;
  // Part 2: the openai-batch lane against the emulator with 5% row failures.
  testing::EmulatorProcess emu;
  emu.configure(R"({"fail_fraction":0.05,"seed":11})");
  auto store = registry::Store::open({(dir / "bench.db").string()});
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().describe().c_str());
    return 1;
  }
  std::vector<ingest::Document> docs;
  docs.reserve(static_cast<std::size_t>(lane_docs));
  for (int i = 0; i < lane_docs; ++i) docs.push_back(make_doc(i));
  auto curl = make_curl_transport();
  TimingTransport timing(*curl);
  ManualClock clock;
  extract::ExtractorOptions o;
  o.lane = extract::LaneKind::kOpenAiBatch;
  o.plan.model = "gpt-4.1-mini";
  o.providers.openai_base_url = emu.openai_base_url();
  o.providers.openai_api_key = "sk-bench";
  o.work_dir = dir.string();
  extract::Extractor ex(**store, timing, clock, o);
  const auto t0 = WallClock::now();
  auto rec = ex.run("bench-run", docs);
  const double total = seconds_since(t0);
  if (!rec) {
    std::fprintf(stderr, "run failed: %s\n", rec.error().describe().c_str());
    return 1;
  }
  std::int64_t failed = rec->failed_attempts;
  std::printf("lane: %d documents through openai-batch (emulator, fail_fraction 0.05): completed %lld, dead %lld, "
              "attempts %lld\n",
              lane_docs, static_cast<long long>(rec->completed), static_cast<long long>(rec->dead_lettered),
              static_cast<long long>(rec->attempts));
  std::printf("rows failed %lld, rows resubmitted %lld (%s), accounting %s\n", static_cast<long long>(failed),
              static_cast<long long>(rec->resubmitted), failed == rec->resubmitted + rec->dead_lettered ? "equal" : "MISMATCH",
              rec->balanced() && rec->in_flight == 0 ? "balanced" : "UNBALANCED");
  std::printf("wall time %.2f s: inside the emulator (HTTP) %.2f s, outside %.2f s (%.0f%%; %.1f us per row)\n", total,
              timing.inside_seconds(), total - timing.inside_seconds(),
              100.0 * (total - timing.inside_seconds()) / total,
              1e6 * (total - timing.inside_seconds()) / static_cast<double>(rec->attempts));
  std::printf("peak RSS: %ld MB\n", peak_rss_mb());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return failed == rec->resubmitted + rec->dead_lettered ? 0 : 1;
}
