// registry_bench: entity resolution and find against a baseline that scans every entity
// with the same similarity measure (Dice over core-name trigrams), in the same run.
//
//   registry_bench [ENTITIES=200000] [RESOLUTIONS=1000000] [DB_PATH]
//
// Builds a registry of generated companies (a quarter with a CIK and a second spelling
// taught as an alias), then resolves a mix of exact variants, aliases, one-letter typos
// and new names in documents of 100, kResolveGroupInputs names per transaction as the
// run coordinator groups documents, and times `find`.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "registry/registry.h"

using namespace fgraph;
using namespace fgraph::registry;
using Steady = std::chrono::steady_clock;

namespace {

const char* kSyllables[] = {"ab", "ac", "al", "an", "ar", "ber", "bo", "ca", "cor", "da", "del",
                            "en", "er", "fa", "gen", "ha", "in", "ka", "kor", "la", "lin", "ma",
                            "mer", "na", "nor", "ob", "or", "pa", "per", "qua", "ra", "ri", "sa",
                            "sen", "ta", "tor", "ul", "va", "ver", "wa", "xi", "yo", "za", "zen"};
const char* kWords[] = {"Capital", "Holdings", "Energy", "Group", "Partners", "Financial",
                        "Technologies", "Systems", "International", "Global", "Pharmaceuticals",
                        "Bank", "Trust", "Resources", "Industries", "Services", "Management",
                        "Investment", "Realty", "Media"};
const char* kForms[] = {"Inc.", "Corp.", "LLC", "Ltd", "L.P.", "PLC", "Co.", "S.A.", "AG", "GmbH"};

struct Gen {
  std::mt19937_64 rng{20240601};
  template <typename T, size_t N>
  const char* pick(T (&a)[N]) { return a[rng() % N]; }
  std::string word(int lo, int hi) {
    static const char* kConsonants = "bcdfghjklmnprstvwxz";
    static const char* kVowels = "aeiouy";
    std::string w;
    int n = lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1));
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) {
        w += pick(kSyllables);
      } else {
        w += kConsonants[rng() % 19];
        w += kVowels[rng() % 6];
      }
    }
    w[0] = static_cast<char>(w[0] - 'a' + 'A');
    return w;
  }
  std::string name() {
    std::string n = word(2, 4);
    if (rng() % 2 == 0) n += " " + word(2, 3);
    n += std::string(" ") + pick(kWords);
    if (rng() % 5 < 2) n += std::string(" ") + pick(kWords);
    return n + " " + pick(kForms);
  }
  // One letter of the first word replaced: a typo the fuzzy step should absorb.
  std::string typo(const std::string& name) {
    std::string t = name;
    size_t end = t.find(' ');
    size_t pos = 2 + rng() % std::max<size_t>(1, end - 3);
    t[pos] = t[pos] == 'x' ? 'q' : 'x';
    return t;
  }
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

double seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// The baseline: every entity's core-name trigrams in memory, scanned per query.
struct Scan {
  std::vector<std::string> ids;
  std::vector<std::string> cores;
  std::string best(const std::string& name, double* score) const {
    std::string core = core_name(normalize_name(name));
    double top = -1;
    size_t at = 0;
    for (size_t i = 0; i < cores.size(); ++i) {
      double s = trigram_similarity(core, cores[i]);
      if (s > top) {
        top = s;
        at = i;
      }
    }
    *score = top;
    return ids[at];
  }
};

}  // namespace

int main(int argc, char** argv) {
  const size_t n_entities = argc > 1 ? std::stoul(argv[1]) : 200000;
  const size_t n_resolve = argc > 2 ? std::stoul(argv[2]) : 1000000;
  std::string path = argc > 3 ? argv[3]
                              : (std::filesystem::temp_directory_path() /
                                 ("registry_bench_" + random_hex(4) + ".db"))
                                    .string();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  init_logging({"warn"});
  auto opened = Store::open({path});
  if (!opened) {
    std::cerr << opened.error().describe() << "\n";
    return 1;
  }
  Store& store = **opened;
  EntityRegistry reg(store);
  Gen gen;

  // ---- build ----------------------------------------------------------------
  std::vector<std::string> names;
  std::set<std::string> seen_norm;
  while (names.size() < n_entities) {
    std::string n = gen.name();
    if (seen_norm.insert(normalize_name(n)).second) names.push_back(n);
  }
  std::vector<std::string> ids(n_entities);
  std::vector<std::string> alias_of(n_entities);  // "" when none
  auto t_build = Steady::now();
  const size_t kBatch = 1000;
  size_t built_fuzzy = 0;
  for (size_t i = 0; i < n_entities; i += kBatch) {
    std::vector<EntityInput> batch;
    for (size_t j = i; j < std::min(n_entities, i + kBatch); ++j) {
      EntityInput in{"COMPANY", names[j], {}, {}, {}, {}, "seed_doc_" + std::to_string(j / 100),
                     "seed", false};
      if (j % 4 == 0) {
        in.cik = std::to_string(1000000 + j);
        in.authoritative = true;
      }
      batch.push_back(std::move(in));
    }
    auto r = reg.resolve_all(batch);
    if (!r) {
      std::cerr << r.error().describe() << "\n";
      return 1;
    }
    for (size_t j = 0; j < r->size(); ++j) {
      ids[i + j] = (*r)[j].entity_id;
      if (!(*r)[j].created) ++built_fuzzy;
    }
  }
  // Teach a second spelling to every entity with a CIK: "<Word> <Word> Brands Inc".
  {
    std::vector<EntityInput> batch;
    for (size_t j = 0; j < n_entities; j += 4) {
      std::string alias = gen.word(3, 4) + " " + gen.word(2, 3) + " Brands Inc";
      alias_of[j] = alias;
      batch.push_back({"COMPANY", alias, std::to_string(1000000 + j), {}, {}, {},
                       "alias_doc_" + std::to_string(j / 100), "seed", false});
      if (batch.size() == kBatch || j + 4 >= n_entities) {
        auto r = reg.resolve_all(batch);
        if (!r) {
          std::cerr << r.error().describe() << "\n";
          return 1;
        }
        batch.clear();
      }
    }
  }
  double build_s = seconds(Steady::now() - t_build);
  // The baseline scans the registry as built, before the resolutions below add to it (so
  // that a typo is not compared with the entity it created itself).
  auto built_max = store.query("SELECT coalesce(max(rid), 0) FROM entities");
  const std::int64_t built_max_rid = std::get<std::int64_t>((*built_max)[0][0]);
  auto count = store.query("SELECT count(*) FROM entities");
  auto n_alias = store.query("SELECT count(*) FROM entity_aliases");
  std::printf("build: %zu entities (%lld rows, %zu matched existing), %lld aliases in %.1f s\n",
              n_entities, static_cast<long long>(std::get<std::int64_t>((*count)[0][0])),
              built_fuzzy, static_cast<long long>(std::get<std::int64_t>((*n_alias)[0][0])),
              build_s);

  // ---- the query mix ----------------------------------------------------------
  enum Kind { kExact, kAlias, kFuzzy, kNew };
  struct Query {
    std::string name;
    Kind kind;
    size_t target;
  };
  std::vector<Query> queries;
  queries.reserve(n_resolve);
  std::mt19937_64 rng(7);
  for (size_t q = 0; q < n_resolve; ++q) {
    unsigned roll = static_cast<unsigned>(rng() % 100);
    size_t t = rng() % n_entities;
    if (roll < 40) {
      queries.push_back({rng() % 2 ? upper(names[t]) : names[t] + ",", kExact, t});
    } else if (roll < 65) {
      t -= t % 4;
      queries.push_back({upper(alias_of[t]), kAlias, t});
    } else if (roll < 85) {
      queries.push_back({gen.typo(names[t]), kFuzzy, t});
    } else {
      queries.push_back({gen.name() + " Newco", kNew, 0});
    }
  }

  // A copy of the registry as built, for the write floor below (not timed).
  const std::string floor_path = path + ".floor";
  std::filesystem::remove(floor_path);
  if (auto v = store.execute("VACUUM INTO ?", {floor_path}); !v) {
    std::cerr << v.error().describe() << "\n";
    return 1;
  }
  auto max_key = [&](const char* sql) {
    auto r = store.query(sql);
    return r ? std::get<std::int64_t>((*r)[0][0]) : 0;
  };
  const std::int64_t built_alias = max_key("SELECT coalesce(max(alias_id), 0) FROM entity_aliases");
  const std::int64_t built_seq = max_key("SELECT coalesce(max(seq), 0) FROM registry_journal");

  // ---- resolve ----------------------------------------------------------------
  const char* kKindName[] = {"exact", "alias", "fuzzy", "new"};
  std::unordered_map<std::string, size_t> methods;
  size_t correct[4] = {0, 0, 0, 0}, total[4] = {0, 0, 0, 0};
  auto t0 = Steady::now();
  std::clock_t cpu0 = std::clock();
  // Documents of 100 names, grouped into transactions as the run coordinator groups them.
  const size_t kDoc = 100;
  for (size_t i = 0; i < queries.size(); i += kResolveGroupInputs) {
    std::vector<EntityInput> batch;
    for (size_t j = i; j < std::min(queries.size(), i + kResolveGroupInputs); ++j) {
      batch.push_back({"COMPANY", queries[j].name, {}, {}, {}, {},
                       "doc_" + std::to_string(j / kDoc), "bench", false});
    }
    auto r = reg.resolve_all(batch);
    if (!r) {
      std::cerr << r.error().describe() << "\n";
      return 1;
    }
    for (size_t j = 0; j < r->size(); ++j) {
      const Query& q = queries[i + j];
      const Resolution& res = (*r)[j];
      ++methods[res.method];
      ++total[q.kind];
      bool ok = q.kind == kNew ? res.created : res.entity_id == ids[q.target];
      if (ok) ++correct[q.kind];
    }
  }
  double resolve_s = seconds(Steady::now() - t0);
  double resolve_cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  double rate = static_cast<double>(queries.size()) / resolve_s;
  std::printf("resolve: %zu names in %.1f s wall (%.1f s CPU) = %.0f resolutions/s wall, %.0f/s CPU\n",
              queries.size(), resolve_s, resolve_cpu_s, rate,
              static_cast<double>(queries.size()) / resolve_cpu_s);
  for (int k = 0; k < 4; ++k) {
    std::printf("  %-5s %7zu queries, %6.2f%% resolved as intended\n", kKindName[k], total[k],
                total[k] ? 100.0 * static_cast<double>(correct[k]) / static_cast<double>(total[k]) : 0.0);
  }
  std::printf("  methods:");
  for (const char* m : {"cik", "exact", "alias", "fuzzy", "new", "new_possible_duplicate"}) {
    std::printf(" %s=%zu", m, methods[m]);
  }
  std::printf("\n");

  // ---- find -------------------------------------------------------------------
  std::vector<double> find_ms;
  std::vector<std::string> find_texts;
  for (size_t i = 0; i < 2000; ++i) {
    size_t t = rng() % n_entities;
    switch (i % 3) {
      case 0: find_texts.push_back(names[t]); break;
      case 1: find_texts.push_back(gen.typo(names[t])); break;
      default: find_texts.push_back(names[t].substr(0, names[t].find(' '))); break;
    }
  }
  for (const auto& text : find_texts) {
    auto s = Steady::now();
    auto r = reg.find(text);
    find_ms.push_back(seconds(Steady::now() - s) * 1000);
    if (!r) {
      std::cerr << r.error().describe() << "\n";
      return 1;
    }
  }
  double p50 = percentile(find_ms, 0.5), p99 = percentile(find_ms, 0.99);
  std::printf("find: %zu queries, p50 %.2f ms, p99 %.2f ms\n", find_ms.size(), p50, p99);

  // ---- baseline: scan every entity ---------------------------------------------
  Scan scan;
  {
    auto rows = store.query("SELECT entity_id, core_name FROM entities WHERE rid <= ? ORDER BY rid",
                            {built_max_rid});
    for (auto& row : *rows) {
      scan.ids.push_back(std::get<std::string>(row[0]));
      scan.cores.push_back(std::get<std::string>(row[1]));
    }
  }
  const size_t kBaseline = 100;
  size_t agree = 0, fuzzy_n = 0;
  auto tb = Steady::now();
  for (size_t i = 0; i < kBaseline; ++i) {
    double score = 0;
    std::string best = scan.best(queries[i * 97 % queries.size()].name, &score);
    (void)best;
  }
  double scan_rate = static_cast<double>(kBaseline) / seconds(Steady::now() - tb);
  // Agreement on fuzzy queries: the registry's fuzzy pick equals the scan's best.
  for (size_t i = 0; i < queries.size() && fuzzy_n < 50; ++i) {
    if (queries[i].kind != kFuzzy) continue;
    double score = 0;
    std::string best = scan.best(queries[i].name, &score);
    if (best == ids[queries[i].target]) ++agree;
    ++fuzzy_n;
  }
  std::vector<double> scan_ms;
  for (size_t i = 0; i < 100; ++i) {
    double score = 0;
    auto s = Steady::now();
    (void)scan.best(find_texts[i], &score);
    scan_ms.push_back(seconds(Steady::now() - s) * 1000);
  }
  std::printf("baseline scan over %zu entities: %.1f resolutions/s; find p50 %.2f ms, p99 %.2f ms\n",
              scan.ids.size(), scan_rate, percentile(scan_ms, 0.5), percentile(scan_ms, 0.99));
  std::printf("  scan best (over the built registry) == intended entity on %zu/%zu fuzzy queries\n",
              agree, fuzzy_n);
  std::printf("ratio: resolve %.0fx the scan; find p99 %.0fx faster\n", rate / scan_rate,
              percentile(scan_ms, 0.99) / p99);

  auto pages = store.query("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
  double size_mib = pages ? static_cast<double>(std::get<std::int64_t>((*pages)[0][0])) / (1 << 20) : -1;

  // ---- the write floor ---------------------------------------------------------
  // The rows the resolutions above wrote (entities with their FTS rows, aliases, journal
  // entries, mentions), inserted with INSERT ... SELECT into the copy of the registry as
  // built, through the same indexes and in as many transactions: what this data model
  // costs in SQLite on this machine before anything is looked up, normalised or scored.
  double floor_rate = 0;
  {
    auto floor = Store::open({floor_path});
    if (!floor) {
      std::cerr << floor.error().describe() << "\n";
      return 1;
    }
    Store& f = **floor;
    (void)store.execute("DROP TABLE IF EXISTS bench_mentions");
    auto prep = store.execute(
        "CREATE TABLE bench_mentions AS SELECT row_number() OVER (ORDER BY"
        " CAST(substr(doc_id, 5) AS INTEGER), entity_id) AS n, * FROM entity_mentions"
        " WHERE run_id = 'bench'");
    auto attach = f.execute("ATTACH DATABASE ? AS src", {path});
    if (!prep || !attach) {
      std::cerr << "write floor: " << (!prep ? prep.error() : attach.error()).describe() << "\n";
      return 1;
    }
    const std::int64_t n_mentions = max_key("SELECT count(*) FROM bench_mentions");
    const std::int64_t end_rid = max_key("SELECT coalesce(max(rid), 0) FROM entities");
    const std::int64_t end_alias = max_key("SELECT coalesce(max(alias_id), 0) FROM entity_aliases");
    const std::int64_t end_seq = max_key("SELECT coalesce(max(seq), 0) FROM registry_journal");
    const std::int64_t groups =
        static_cast<std::int64_t>((queries.size() + kResolveGroupInputs - 1) / kResolveGroupInputs);
    auto cut = [&](std::int64_t from, std::int64_t to, std::int64_t g) {
      return from + (to - from) * g / groups;  // group g covers (cut(g), cut(g + 1)]
    };
    struct Part {
      const char* sql;  // inserts the rows whose key is in a group's share of (from, to]
      std::int64_t from, to;
    };
    const Part parts[] = {
        {"INSERT INTO entities SELECT * FROM src.entities WHERE rid > ? AND rid <= ?",
         built_max_rid, end_rid},
        {"INSERT INTO entity_fts(rowid, core_name) SELECT rid, core_name FROM src.entities"
         " WHERE rid > ? AND rid <= ?",
         built_max_rid, end_rid},
        {"INSERT INTO entity_aliases SELECT * FROM src.entity_aliases"
         " WHERE alias_id > ? AND alias_id <= ?",
         built_alias, end_alias},
        {"INSERT INTO registry_journal SELECT * FROM src.registry_journal"
         " WHERE seq > ? AND seq <= ?",
         built_seq, end_seq},
        {"INSERT INTO entity_mentions SELECT entity_id, doc_id, run_id FROM"
         " src.bench_mentions WHERE n > ? AND n <= ?",
         0, n_mentions},
    };
    auto tf = Steady::now();
    for (std::int64_t g = 0; g < groups; ++g) {
      Status st = f.transaction([&]() -> Status {
        for (const Part& p : parts) {
          if (auto e = f.execute(p.sql, {cut(p.from, p.to, g), cut(p.from, p.to, g + 1)}); !e) {
            return e;
          }
        }
        return ok();
      });
      if (!st) {
        std::cerr << "write floor: " << st.error().describe() << "\n";
        return 1;
      }
    }
    floor_rate = static_cast<double>(queries.size()) / seconds(Steady::now() - tf);
    for (const char* table :
         {"entities", "entity_aliases", "registry_journal", "entity_mentions"}) {
      auto both = f.query(std::string("SELECT (SELECT count(*) FROM main.") + table +
                          "), (SELECT count(*) FROM src." + table + ")");
      if (!both || (*both)[0][0] != (*both)[0][1]) {
        std::cerr << "write floor: " << table << " differs from the registry's\n";
        return 1;
      }
    }
    std::printf("write floor: the same rows written in %lld transactions without resolving:"
                " %.0f resolutions/s; the registry reaches %.0f%% of it\n",
                static_cast<long long>(groups), floor_rate, 100.0 * rate / floor_rate);
  }
  std::filesystem::remove(floor_path);
  std::filesystem::remove(floor_path + "-wal");
  std::filesystem::remove(floor_path + "-shm");

  std::printf("database: %s, %.1f MiB\n", path.c_str(), size_mib);
  std::printf("target: >= 20000 resolutions/s (%s), find p99 < 20 ms (%s)\n",
              rate >= 20000 ? "met" : "MISSED", p99 < 20 ? "met" : "MISSED");
  if (argc <= 3) {
    opened->reset();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
  return 0;
}
