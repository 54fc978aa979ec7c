// forms_bench: the form extractor over the whole corpus against the parse alone.
//
// Reads every file of the corpus into memory once, then for R rounds (default 20) times
// ingest::parse_bytes of every file (the baseline) and extract::extract_form of every
// document parsed. Reports documents and facts per second of the extractor, and its time
// as a share of the parse time (issue 18's target: at most 20%).
//
// Usage: forms_bench [rounds]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "extract/extract.h"
#include "ingest/ingest.h"

namespace fs = std::filesystem;
using namespace fgraph;
using WallClock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& e : fs::recursive_directory_iterator(FGRAPH_CORPUS_DIR)) {
    if (!e.is_regular_file() || e.path().filename().string().starts_with(".")) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    files.emplace_back(e.path().string(), s.str());
  }
  std::vector<ingest::Document> docs;
  double parse_s = 0, extract_s = 0;
  std::int64_t facts = 0, forms = 0;
  std::map<std::string, std::int64_t> facts_by_kind, docs_by_kind;
  for (int r = 0; r < rounds; ++r) {
    docs.clear();
    auto t0 = WallClock::now();
    for (const auto& [name, bytes] : files) {
      auto p = ingest::parse_bytes(bytes, name);
      for (auto& d : p.documents) docs.push_back(std::move(d));
    }
    auto t1 = WallClock::now();
    for (const auto& d : docs) {
      auto f = extract::extract_form(d);
      if (!f || f->kind == extract::FormKind::kNone) continue;
      if (r == 0) {
        ++forms;
        facts += f->entities + f->relations;
        facts_by_kind[std::string(to_string(f->kind))] += f->relations;
        ++docs_by_kind[std::string(to_string(f->kind))];
      }
    }
    auto t2 = WallClock::now();
    parse_s += std::chrono::duration<double>(t1 - t0).count();
    extract_s += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf("corpus: %zu files, %zu documents, %lld forms read, %lld facts (entities + relations)\n",
              files.size(), docs.size(), static_cast<long long>(forms), static_cast<long long>(facts));
  for (const auto& [k, n] : docs_by_kind) {
    std::printf("  %-12s %lld documents, %lld relations\n", k.c_str(), static_cast<long long>(n),
                static_cast<long long>(facts_by_kind[k]));
  }
  std::printf("parse (baseline): %.1f ms per corpus pass\n", 1000 * parse_s / rounds);
  std::printf("form extractor:   %.2f ms per corpus pass, %.0f documents/s, %.0f facts/s\n",
              1000 * extract_s / rounds, rounds * static_cast<double>(docs.size()) / extract_s,
              rounds * static_cast<double>(facts) / extract_s);
  std::printf("extraction / parse time: %.3f (target <= 0.20)\n", extract_s / parse_s);
  return 0;
}
