// parse_bench: parses the whole corpus with fgraph's ingest stage and, in the same run,
// times libxml2 alone parsing the same HTML files (htmlReadMemory + xmlFreeDoc, no text
// extraction) as the baseline. Prints MB/s, the ratio full/bare on the HTML files (target
// <= 2x), and peak RSS (VmHWM; target < 200 MB).
//
//   build/bench/parse_bench [iterations=5] [corpus dir]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "ingest/ingest.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct File {
  std::string path;
  std::string bytes;
  bool html = false;  // parsed as html/ixbrl by the ingest stage
};

long vm_hwm_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

void silent(void*, const char*, ...) {}

double best_seconds(int iterations, const std::function<void()>& fn) {
  double best = 1e30;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  fs::path corpus = argc > 2 ? fs::path(argv[2]) : fs::path(FGRAPH_CORPUS_DIR);
  if (!fs::exists(corpus)) corpus = "/work/shared/corpus";
  xmlInitParser();
  xmlSetGenericErrorFunc(nullptr, silent);

  std::vector<File> files;
  for (const auto& e : fs::recursive_directory_iterator(corpus)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    if (name == "MANIFEST.md" || name == "SHA256SUMS") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files.push_back({e.path().string(), ss.str(), false});
  }
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.path < b.path; });

  std::size_t all_bytes = 0, html_bytes = 0, docs = 0, chars = 0;
  for (auto& f : files) {
    auto r = fgraph::ingest::parse_bytes(f.bytes, f.path);
    f.html = r.documents.size() == 1 && r.skipped.empty() &&
             (r.documents[0].format == fgraph::ingest::Format::kHtml ||
              r.documents[0].format == fgraph::ingest::Format::kIxbrl);
    all_bytes += f.bytes.size();
    if (f.html) html_bytes += f.bytes.size();
    docs += r.documents.size();
    for (const auto& d : r.documents) chars += d.text.size();
  }

  const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                   HTML_PARSE_NONET | HTML_PARSE_COMPACT;
  double bare_html = best_seconds(iterations, [&] {
    for (const auto& f : files) {
      if (!f.html) continue;
      xmlDocPtr doc = htmlReadMemory(f.bytes.data(), static_cast<int>(f.bytes.size()), f.path.c_str(),
                                     "UTF-8", opts);
      xmlFreeDoc(doc);
    }
  });
  double full_html = best_seconds(iterations, [&] {
    for (const auto& f : files) {
      if (f.html) (void)fgraph::ingest::parse_bytes(f.bytes, f.path);
    }
  });
  double full_all = best_seconds(iterations, [&] {
    for (const auto& f : files) (void)fgraph::ingest::parse_bytes(f.bytes, f.path);
  });

  auto mbps = [](std::size_t bytes, double s) { return static_cast<double>(bytes) / (1024.0 * 1024.0) / s; };
  std::printf("corpus: %zu files, %.1f MB -> %zu documents, %.1f MB of text (best of %d runs)\n",
              files.size(), all_bytes / 1048576.0, docs, chars / 1048576.0, iterations);
  std::printf("full parse, whole corpus     : %8.1f ms  %7.1f MB/s\n", full_all * 1e3, mbps(all_bytes, full_all));
  std::printf("HTML files (%zu, %.1f MB):\n",
              static_cast<std::size_t>(std::count_if(files.begin(), files.end(), [](const File& f) { return f.html; })),
              html_bytes / 1048576.0);
  std::printf("  libxml2 htmlReadMemory only: %8.1f ms  %7.1f MB/s  (baseline)\n", bare_html * 1e3,
              mbps(html_bytes, bare_html));
  std::printf("  fgraph full parse          : %8.1f ms  %7.1f MB/s\n", full_html * 1e3, mbps(html_bytes, full_html));
  std::printf("  ratio full / bare          : %8.2fx  (target <= 2.00x)\n", full_html / bare_html);
  long hwm = vm_hwm_kb();
  std::printf("peak RSS (VmHWM)             : %8.1f MB  (target < 200 MB)\n", hwm / 1024.0);
  return 0;
}
