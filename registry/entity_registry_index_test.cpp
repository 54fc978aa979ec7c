// The fuzzy step's in-memory trigram index, seen through EntityRegistry: it must find
// what a scan of every entity finds, and follow other connections' writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "registry/registry.h"

namespace fgraph::registry {
namespace {

EntityInput company(std::string name, std::string run = "run1") {
  EntityInput in;
  in.type = "COMPANY";
  in.name = std::move(name);
  in.doc_id = "doc1";
  in.run_id = std::move(run);
  return in;
}

// Names from a small alphabet plus common words, so that many share trigrams and the
// index's choice of posting lists matters.
std::string generated_name(std::mt19937_64& rng) {
  const char* words[] = {"Capital", "Holdings", "Group", "Energy", "Bank", "Trust"};
  const char* forms[] = {"Inc.", "Corp.", "LLC", "Ltd", ""};
  std::string name;
  int parts = 1 + static_cast<int>(rng() % 2);
  for (int p = 0; p < parts; ++p) {
    if (p > 0) name += ' ';
    int len = 4 + static_cast<int>(rng() % 6);
    for (int c = 0; c < len; ++c) name += "abdeiklmnorst"[rng() % 13];
  }
  name += std::string(" ") + words[rng() % 6];
  return name + " " + forms[rng() % 5];
}

std::string typo(std::string s, std::mt19937_64& rng) {
  std::size_t pos = rng() % s.find(' ');
  switch (rng() % 3) {
    case 0: s[pos] = s[pos] == 'x' ? 'q' : 'x'; break;
    case 1: s.erase(pos, 1); break;
    default: s.insert(pos, 1, 'e'); break;
  }
  return s;
}

TEST(EntityRegistryIndexTest, FuzzyCandidatesAreExactlyWhatAScanOfEveryEntityFinds) {
  auto store = Store::open({":memory:"});
  ASSERT_TRUE(store.has_value());
  EntityRegistry reg(**store);
  std::mt19937_64 rng(3);
  std::vector<std::string> names;
  std::vector<EntityInput> batch;
  for (int i = 0; i < 1500; ++i) {
    names.push_back(generated_name(rng));
    batch.push_back(company(names.back()));
  }
  ASSERT_TRUE(reg.resolve_all(batch).has_value());
  auto rows = (*store)->query("SELECT entity_id, core_name FROM entities ORDER BY rid");
  ASSERT_TRUE(rows.has_value());
  ASSERT_GT(rows->size(), 1000u);

  const double floor = 0.75;  // min(fuzzy_review, fuzzy_accept - fuzzy_margin)
  std::size_t with_candidates = 0, typos = 0;
  for (int q = 0; q < 300; ++q) {
    std::string text = typo(names[rng() % names.size()], rng);
    std::string core = core_name(normalize_name(text));
    auto found = reg.find(text, std::string("COMPANY"), 100000);
    ASSERT_TRUE(found.has_value()) << found.error().describe();
    std::map<std::string, double> got;
    for (const auto& c : *found) got[c.entity_id] = c.score;
    for (const auto& row : *rows) {
      double s = trigram_similarity(core, std::get<std::string>(row[1]));
      if (s < floor) continue;
      const auto& id = std::get<std::string>(row[0]);
      ASSERT_TRUE(got.count(id)) << "'" << text << "' misses " << std::get<std::string>(row[1])
                                 << " (scan score " << s << ")";
      EXPECT_GE(got[id], s) << text;
      ++with_candidates;
    }
    ++typos;
  }
  EXPECT_EQ(typos, 300u);
  EXPECT_GT(with_candidates, 250u);  // not vacuous: most typos have scan candidates

  // Resolution agrees with the scan: a typo whose best scan score reaches the review
  // score is matched or flagged, never silently new.
  std::size_t decided = 0;
  for (int q = 0; q < 200; ++q) {
    std::string text = typo(names[rng() % names.size()], rng);
    std::string core = core_name(normalize_name(text));
    auto now = (*store)->query("SELECT core_name FROM entities");
    ASSERT_TRUE(now.has_value());
    double best = 0;
    for (const auto& row : *now) {
      best = std::max(best, trigram_similarity(core, std::get<std::string>(row[0])));
    }
    auto r = reg.resolve(company(text, "run2"));
    ASSERT_TRUE(r.has_value());
    if (r->method == "exact" || r->method == "alias") continue;
    if (best >= 0.75) {
      EXPECT_TRUE(r->method == "fuzzy" || r->method == "new_possible_duplicate")
          << text << " scored " << best << " but resolved " << r->method;
      ++decided;
    } else {
      EXPECT_EQ(r->method, "new") << text << " scored " << best;
    }
  }
  EXPECT_GT(decided, 100u);
}

class TempDb {
 public:
  TempDb() {
    path_ = (std::filesystem::temp_directory_path() / ("fgraph_index_" + random_hex(6) + ".db"))
                .string();
  }
  ~TempDb() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(EntityRegistryIndexTest, FollowsInsertsAndRollbacksOfAnotherConnection) {
  TempDb db;
  auto a = Store::open({db.path()});
  auto b = Store::open({db.path()});
  ASSERT_TRUE(a.has_value() && b.has_value());
  EntityRegistry reg_a(**a), reg_b(**b);
  ASSERT_TRUE(reg_a.resolve(company("Zentrix Holdings Inc", "r1")).has_value());  // index built

  auto quorvani = reg_b.resolve(company("Quorvani Zentrabex Capital Group Inc", "r2"));
  ASSERT_TRUE(quorvani.has_value());
  auto typo_a = reg_a.resolve(company("Quorvani Zentrabex Capitol Group Inc", "r9"));
  ASSERT_TRUE(typo_a.has_value());
  EXPECT_EQ(typo_a->method, "fuzzy");  // B's insert reached A's index
  EXPECT_EQ(typo_a->entity_id, quorvani->entity_id);
  ASSERT_TRUE(reg_a.rollback_run("r9").has_value());

  // B removes its entity and creates another, which takes the freed rid.
  ASSERT_TRUE(reg_b.rollback_run("r2").has_value());
  auto other = reg_b.resolve(company("Plinthor Ostravek Mining Corp", "r3"));
  ASSERT_TRUE(other.has_value());
  auto again = reg_a.resolve(company("Quorvani Zentrabex Capitol Group Inc", "r4"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->method, "new");
  EXPECT_NE(again->entity_id, other->entity_id);
  EXPECT_TRUE(again->created);

  // A delete through any code path on A's own connection is seen as well.
  ASSERT_TRUE((*a)->execute("DELETE FROM entities WHERE entity_id = ?", {again->entity_id}).has_value());
  ASSERT_TRUE((*a)->execute("INSERT INTO entities(rid, entity_id, type, name, norm_name,"
                            " core_name) SELECT max(rid) + 1, 'ent_manual', 'COMPANY', 'Manual',"
                            " 'manual', 'manual' FROM entities")
                  .has_value());
  auto third = reg_a.find("Quorvani Zentrabex Capitol Group", std::string("COMPANY"));
  ASSERT_TRUE(third.has_value());
  for (const auto& c : *third) EXPECT_NE(c.entity_id, "ent_manual") << c.method;
}

// resolve_all searches fuzzy candidates ahead on a second thread (FuzzyPrefetch in
// entity_registry.cpp). Whatever that thread finds or misses, the resolutions and the
// registry must be exactly those of resolving on one thread, including typos of entities
// created earlier in the same group (which the frozen index does not hold yet).
TEST(EntityRegistryIndexTest, PrefetchedFuzzyCandidatesResolveAsOneThreadDoes) {
  std::mt19937_64 rng(41);
  std::vector<std::string> names;
  for (int i = 0; i < 400; ++i) names.push_back(generated_name(rng));
  // Group 1: new names, each followed later in the group by a typo or a spelling of an
  // earlier one. Group 2: typos, spellings and new names against group 1's entities.
  std::vector<std::vector<EntityInput>> groups(2);
  for (int i = 0; i < 400; ++i) {
    groups[0].push_back(company(names[i]));
    if (i % 3 == 2) groups[0].push_back(company(typo(names[i - 1], rng)));
    if (i % 5 == 4) groups[0].push_back(company(names[i - 2] + ","));
  }
  for (int i = 0; i < 600; ++i) {
    const std::string& n = names[rng() % names.size()];
    switch (i % 3) {
      case 0: groups[1].push_back(company(typo(n, rng), "run2")); break;
      case 1: groups[1].push_back(company(n + " ", "run2")); break;
      default: groups[1].push_back(company(generated_name(rng), "run2")); break;
    }
  }
  auto resolve_groups = [&](std::size_t prefetch_min_inputs, std::vector<Resolution>& out,
                            std::string& dump) {
    auto path = std::filesystem::temp_directory_path() / ("fgraph_pf_" + random_hex(4) + ".db");
    {
      auto store = Store::open({path.string()});
      ASSERT_TRUE(store.has_value()) << store.error().describe();
      RegistryOptions options;
      options.prefetch_min_inputs = prefetch_min_inputs;
      EntityRegistry reg(**store, options);
      for (const auto& g : groups) {
        auto r = reg.resolve_all(g);
        ASSERT_TRUE(r.has_value()) << r.error().describe();
        out.insert(out.end(), r->begin(), r->end());
      }
      auto d = reg.dump();
      ASSERT_TRUE(d.has_value());
      dump = *d;
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  };
  std::vector<Resolution> one, two;
  std::string one_dump, two_dump;
  resolve_groups(0, one, one_dump);
  resolve_groups(1, two, two_dump);
  ASSERT_EQ(one.size(), two.size());
  std::map<std::string, int> methods;
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].entity_id, two[i].entity_id) << i;
    EXPECT_EQ(one[i].method, two[i].method) << i;
    EXPECT_EQ(one[i].score, two[i].score) << i;
    EXPECT_EQ(one[i].possible_duplicate_of, two[i].possible_duplicate_of) << i;
    ++methods[one[i].method];
  }
  EXPECT_EQ(one_dump, two_dump);
  // Not vacuous: every step of the cascade that the prefetch touches was taken.
  EXPECT_GT(methods["fuzzy"], 50);
  EXPECT_GT(methods["new_possible_duplicate"], 10);
  EXPECT_GT(methods["exact"], 100);
  EXPECT_GT(methods["new"], 300);
}

// The prefetch thread skips the inputs whose name the registry knows, by hashes synced
// before each group. After another connection removes an alias (which rebuilds the
// hashes, migration 0104, or would leave a stale one), the input must get its fuzzy
// candidates again, from whichever thread searches them.
TEST(EntityRegistryIndexTest, AnAliasRemovedByAnotherConnectionGetsFuzzyCandidatesAgain) {
  auto path = std::filesystem::temp_directory_path() / ("fgraph_hint_" + random_hex(4) + ".db");
  {
    auto store = Store::open({path.string()});
    auto other = Store::open({path.string()});
    ASSERT_TRUE(store.has_value() && other.has_value());
    RegistryOptions options;
    options.prefetch_min_inputs = 1;
    EntityRegistry reg(**store, options);
    auto created = reg.resolve_all({company("Acme Widgets Corp")});
    ASSERT_TRUE(created.has_value());
    auto taught = reg.resolve_all({company("Acme Widgetz Corp", "run2")});
    ASSERT_TRUE(taught.has_value());
    ASSERT_EQ((*taught)[0].method, "fuzzy");
    ASSERT_TRUE(reg.resolve_all({company("Acme Widgets Corp", "run3")}).has_value());  // syncs
    ASSERT_TRUE(EntityRegistry(**other).rollback_run("run2").has_value());  // the alias goes
    // Known names first, which keep the resolving thread busy while the other one
    // searches the last input (its first; else the resolving thread could get there first).
    std::vector<EntityInput> group(500, company("ACME WIDGETS CORP", "run4"));
    group.push_back(company("Acme Widgetz Corp", "run4"));
    auto again = reg.resolve_all(group);
    ASSERT_TRUE(again.has_value()) << again.error().describe();
    EXPECT_EQ(again->back().method, "fuzzy");
    EXPECT_EQ(again->back().entity_id, (*created)[0].entity_id);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

// The exact and alias steps are skipped for a name no entity or alias has, by hashes kept
// in memory (Impl::entity_names). Every way another connection can give a name to an
// entity must reach them, or that name would resolve to a new entity.
TEST(EntityRegistryIndexTest, NamesGivenByAnotherConnectionAreFound) {
  struct Case {
    const char* what;
    const char* sql;  // run on the other connection; ?1 = the entity, ?2 = its rid
    const char* probe;
    const char* method;
  };
  const Case cases[] = {
      {"an alias restored under an id below the largest (an unmerge undone)",
       "INSERT INTO entity_aliases(alias_id, entity_id, raw, norm, method)"
       " VALUES(1, ?1, 'Zeta Holdings', 'zeta holdings', 'merge')",
       "Zeta Holdings", "alias"},
      {"an alias's normalised name rewritten",
       "UPDATE entity_aliases SET norm = 'zeta holdings' WHERE alias_id = 3", "Zeta Holdings",
       "alias"},
      {"an entity's normalised name rewritten",
       "UPDATE entities SET norm_name = 'zeta holdings' WHERE rid = ?2 AND entity_id = ?1",
       "Zeta Holdings", "exact"},
      {"an entity's type rewritten",
       "UPDATE entities SET type = 'COMPANY' WHERE entity_id = ?1", "Acme Widgets Corp",
       "exact"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto path =
        std::filesystem::temp_directory_path() / ("fgraph_names_" + random_hex(4) + ".db");
    {
      auto store = Store::open({path.string()});
      auto other = Store::open({path.string()});
      ASSERT_TRUE(store.has_value() && other.has_value());
      EntityRegistry reg(**store);
      // Aliases 1..3 by CIK, then alias 1 deleted (as an unmerge does); the target entity
      // is a PERSON in the type case.
      EntityInput first = company("Acme Widgets Corp");
      first.cik = "1";
      if (std::string(c.what).find("type") != std::string::npos) first.type = "PERSON";
      auto created = reg.resolve(first);
      ASSERT_TRUE(created.has_value());
      for (const char* name : {"Acme One", "Acme Two", "Acme Three"}) {
        EntityInput in = first;
        in.name = name;
        ASSERT_EQ(reg.resolve(in)->method, "cik");
      }
      ASSERT_TRUE((*other)->execute("DELETE FROM entity_aliases WHERE alias_id = 1").has_value());
      ASSERT_EQ(reg.resolve(company("Unrelated Name Ltd"))->method, "new");  // syncs
      auto rid = (*other)->query("SELECT rid FROM entities WHERE entity_id = ?",
                                 {created->entity_id});
      ASSERT_TRUE(rid.has_value() && !rid->empty());
      ASSERT_TRUE((*other)->execute(c.sql, {created->entity_id, (*rid)[0][0]}).has_value());
      auto probe = reg.resolve(company(c.probe, "run2"));
      ASSERT_TRUE(probe.has_value()) << probe.error().describe();
      EXPECT_EQ(probe->method, c.method);
      EXPECT_EQ(probe->entity_id, created->entity_id);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path.string() + suffix);
    }
  }
}

}  // namespace
}  // namespace fgraph::registry
