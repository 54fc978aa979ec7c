// verify_bench: the largest 10-K of the corpus with 500 facts (half true quotes, half
// near-misses with one character changed), verified the way the run does it (document
// normalised once, leak index over the run's other 10-Ks) against a naive baseline in the
// same run that normalises the whole document again for every fact.
//
// Usage: verify_bench [DOC_PATH] [--facts N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ingest/ingest.h"
#include "verify/verify.h"

namespace {

using fgraph::verify::normalize;

// Thread CPU time: the machine is shared, and wall time would measure the neighbours.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
};

double ms_since(double t0) { return Clock::now() - t0; }

std::vector<std::size_t> code_point_offsets(const std::string& text) {
  std::vector<std::size_t> off;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) off.push_back(i);
  }
  off.push_back(text.size());
  return off;
}

bool is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

int main(int argc, char** argv) {
  const std::string corpus = FGRAPH_CORPUS_DIR;
  std::string path = corpus + "/sec/0001193125-10-073212.html";  // the largest 10-K
  int n_facts = 500;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--facts") == 0 && i + 1 < argc) {
      n_facts = std::atoi(argv[++i]);
    } else {
      path = argv[i];
    }
  }
  fgraph::ingest::ParseResult parsed = fgraph::ingest::parse_file(path);
  if (parsed.documents.empty()) {
    std::fprintf(stderr, "verify_bench: cannot parse %s\n", path.c_str());
    return 1;
  }
  const fgraph::ingest::Document& document = parsed.documents.front();
  const std::string& text = document.text;
  std::vector<std::size_t> off = code_point_offsets(text);
  const std::size_t n_cp = off.size() - 1;

  // Facts: entities whose evidence is a 40-200 character quote of the document and whose
  // name is the quote's first word; every other one is a near-miss (one letter changed).
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick_start(0, n_cp - 201);
  std::uniform_int_distribution<std::size_t> pick_len(40, 200);
  nlohmann::json entities = nlohmann::json::array();
  std::vector<std::string> quotes;
  while (static_cast<int>(quotes.size()) < n_facts) {
    std::size_t s = pick_start(rng);
    std::size_t e = s + pick_len(rng);
    while (s < e && !is_letter(static_cast<unsigned char>(text[off[s]]))) ++s;
    while (e > s && !is_letter(static_cast<unsigned char>(text[off[e - 1]]))) --e;
    if (e - s < 30) continue;
    std::string quote = text.substr(off[s], off[e] - off[s]);
    std::string name = quote.substr(0, quote.find_first_of(" \t\r\n<>"));
    if (name.size() < 2) continue;
    if (quotes.size() % 2 == 1) {
      std::size_t mid = quote.size() / 2;
      while (mid < quote.size() && !is_letter(static_cast<unsigned char>(quote[mid]))) ++mid;
      if (mid == quote.size()) continue;
      quote[mid] = quote[mid] == 'q' ? 'x' : 'q';
    }
    entities.push_back({{"id", "e" + std::to_string(quotes.size())}, {"name", name},
                        {"type", "COMPANY"}, {"cik", nullptr}, {"ticker", nullptr},
                        {"lei", nullptr}, {"jurisdiction", nullptr}, {"evidence", quote}});
    quotes.push_back(quote);
  }
  const std::string output =
      nlohmann::json({{"entities", entities}, {"relations", nlohmann::json::array()}}).dump();

  auto verifier = fgraph::verify::Verifier::create(fgraph::verify::extraction_schema_v1());
  if (!verifier) return 1;

  // The run: this 10-K and the corpus's other large 10-Ks (near-misses are searched there).
  fgraph::verify::LeakIndex run;
  auto t_run = Clock::now();
  std::size_t run_bytes = 0;
  for (const char* other : {"/sec/aapl-10-k-2024-11-01.html", "/sec/ibm-10-k-2025-02-25.html",
                            "/sec/wfc-10-k-2025-02-25.html"}) {
    for (const auto& d : fgraph::ingest::parse_file(corpus + other).documents) {
      run.add(d.doc_id, d.text);
      run_bytes += d.text.size();
    }
  }
  double run_index_ms = ms_since(t_run);

  // Fast path, as the run coordinator does it: prepare once, verify the row.
  const int kReps = 7;
  std::vector<double> prepare_ms, verify_ms;
  fgraph::verify::RowVerdict verdict;
  for (int r = 0; r < kReps; ++r) {
    auto t0 = Clock::now();
    fgraph::verify::PreparedDocument doc = fgraph::verify::prepare_document(document);
    prepare_ms.push_back(ms_since(t0));
    if (r == 0) run.add(doc);
    auto t1 = Clock::now();
    verdict = verifier->verify(doc, output, &run);
    verify_ms.push_back(ms_since(t1));
  }
  std::sort(prepare_ms.begin(), prepare_ms.end());
  std::sort(verify_ms.begin(), verify_ms.end());
  double fast_ms = prepare_ms[kReps / 2] + verify_ms[kReps / 2];

  // Naive baseline: normalise the whole document again for every fact.
  auto t2 = Clock::now();
  std::size_t naive_found = 0;
  for (const auto& q : quotes) {
    fgraph::verify::NormalizedText t = fgraph::verify::normalize_with_offsets(text);
    std::string nq = normalize(q);
    if (t.text.find(nq) != std::string::npos) ++naive_found;
  }
  double naive_ms = ms_since(t2);

  std::printf("document: %s (%zu bytes of text, %zu code points)\n", path.c_str(), text.size(),
              n_cp);
  std::printf("facts: %d (%zu accepted, %zu dropped; naive baseline found %zu)\n", n_facts,
              verdict.accepted_count(), verdict.dropped.size(), naive_found);
  std::printf("run leak index: %zu other documents, %zu bytes, built in %.1f ms\n",
              run.size() - 1, run_bytes, run_index_ms);
  std::printf("(thread CPU time)\nfast: %.2f ms per document (normalise once %.2f ms + verify %.2f ms), "
              "%.0f facts/s\n",
              fast_ms, prepare_ms[kReps / 2], verify_ms[kReps / 2], n_facts / fast_ms * 1000.0);
  std::printf("naive: %.1f ms per document, %.0f facts/s\n", naive_ms,
              n_facts / naive_ms * 1000.0);
  std::printf("speedup: %.1fx the naive baseline (target >= 20x); target < 50 ms per "
              "document: %s\n",
              naive_ms / fast_ms, fast_ms < 50.0 ? "met" : "NOT met");
  return 0;
}
