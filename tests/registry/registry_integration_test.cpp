// Integration tests of the entity registry: names from the corpus, two processes
// resolving at once against one file, and the fgraph registry commands.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "registry/registry.h"

namespace fgraph::registry {
namespace {

namespace fs = std::filesystem;

std::string corpus_text(const std::string& rel) {
  auto t = read_file(std::string(FGRAPH_CORPUS_DIR) + "/" + rel);
  EXPECT_TRUE(t.has_value()) << rel;
  return t.value_or("");
}

// The first column of every table row of an EX-21 exhibit, tags and entities stripped.
std::vector<std::string> ex21_names(const std::string& rel) {
  std::string html = corpus_text(rel);
  std::vector<std::string> names;
  std::regex row("<tr[^>]*>([\\s\\S]*?)</tr>", std::regex::icase);
  std::regex cell("<td[^>]*>([\\s\\S]*?)</td>", std::regex::icase);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), row); it != std::sregex_iterator(); ++it) {
    std::string r = (*it)[1];
    std::smatch c;
    if (!std::regex_search(r, c, cell)) continue;
    std::string text = std::regex_replace(std::string(c[1]), std::regex("<[^>]*>"), " ");
    text = std::regex_replace(text, std::regex("&nbsp;|&#160;|&#xa0;"), " ");
    text = std::regex_replace(text, std::regex("&amp;"), "&");
    text = std::regex_replace(text, std::regex("&#8217;|&rsquo;"), "'");
    text = std::regex_replace(text, std::regex("\\([0-9]\\)"), " ");
    text = std::regex_replace(text, std::regex("\\s+"), " ");
    text = std::regex_replace(text, std::regex("^ | $"), "");
    if (text.size() < 4 || text.find("Jurisdiction") != std::string::npos ||
        text.find("Percentage") != std::string::npos || text.find("Subsidiar") != std::string::npos ||
        text.find("Name") == 0) {
      continue;
    }
    names.push_back(text);
  }
  return names;
}

EntityInput company(std::string name, std::string doc, std::string run) {
  EntityInput in;
  in.type = "COMPANY";
  in.name = std::move(name);
  in.doc_id = std::move(doc);
  in.run_id = std::move(run);
  return in;
}

TEST(RegistryCorpusTest, AppleSpellingsFromTheCorpusAreOneEntity) {
  // Each spelling occurs in the corpus; the filer identity seeds the registry.
  ASSERT_NE(corpus_text("sec/ex21_aapl.html").find("Apple Inc."), std::string::npos);
  ASSERT_NE(corpus_text("sec/AAPL-Xbrl.2013.xml").find("0000320193"), std::string::npos);
  auto store = Store::open({":memory:"});
  ASSERT_TRUE(store.has_value());
  EntityRegistry reg(**store);
  DocumentRecord doc;
  doc.doc_id = "sha256:aapl10k";
  doc.company = "Apple Inc.";
  doc.cik = "0000320193";
  auto seed = filer_input(doc.doc_id, doc.company, doc.cik, "run1");
  ASSERT_TRUE(seed.has_value());
  auto a = reg.resolve(*seed);
  ASSERT_TRUE(a.has_value());
  for (const char* spelling : {"APPLE INC", "Apple Inc", "Apple Inc."}) {
    auto r = reg.resolve(company(spelling, "sha256:ex21", "run1"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->entity_id, a->entity_id) << spelling;
  }
}

TEST(RegistryCorpusTest, Ex21SubsidiariesStayDistinctAndResolveStably) {
  auto store = Store::open({":memory:"});
  ASSERT_TRUE(store.has_value());
  EntityRegistry reg(**store);
  for (const char* file : {"sec/ex21_aapl.html", "sec/ex21_xom.html"}) {
    std::vector<std::string> names = ex21_names(file);
    ASSERT_GE(names.size(), 15u) << file;
    std::set<std::string> distinct_norm;
    for (const auto& n : names) distinct_norm.insert(normalize_name(n));
    std::vector<EntityInput> inputs;
    for (const auto& n : names) inputs.push_back(company(n, file, "run_ex21"));
    auto first = reg.resolve_all(inputs);
    ASSERT_TRUE(first.has_value()) << first.error().describe();
    std::set<std::string> ids;
    for (size_t i = 0; i < names.size(); ++i) {
      ids.insert((*first)[i].entity_id);
      EXPECT_NE((*first)[i].method, "fuzzy") << names[i] << " was merged into another subsidiary";
    }
    // Subsidiaries are different companies: one entity per distinct normalised name.
    EXPECT_EQ(ids.size(), distinct_norm.size()) << file;
    auto second = reg.resolve_all(inputs);
    ASSERT_TRUE(second.has_value());
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ((*second)[i].entity_id, (*first)[i].entity_id) << names[i];
      EXPECT_FALSE((*second)[i].created) << names[i];
    }
  }
  // Look-alikes that must stay apart.
  auto bank = reg.resolve(company("JPMorgan Chase Bank, N.A.", "d", "r"));
  auto parent = reg.resolve(company("JPMorgan Chase & Co.", "d", "r"));
  ASSERT_TRUE(bank.has_value() && parent.has_value());
  EXPECT_NE(bank->entity_id, parent->entity_id);
  auto asia_ltd = reg.resolve(company("Apple Asia Limited", "d", "r"));
  auto asia_llc = reg.resolve(company("Apple Asia LLC", "d", "r"));
  EXPECT_NE(asia_ltd->entity_id, asia_llc->entity_id);
}

// Child process body: resolves the names in order (each with its CIK), one transaction per
// 10 names.
int resolve_in_child(const std::string& path, const std::vector<std::string>& names,
                     const std::string& run) {
  auto store = Store::open({path});
  if (!store) return 10;
  RegistryOptions options;
  options.retry.max_attempts = 20;
  options.retry.initial_backoff = std::chrono::milliseconds(5);
  EntityRegistry reg(**store, options);
  for (size_t i = 0; i < names.size(); i += 10) {
    std::vector<EntityInput> batch;
    for (size_t j = i; j < std::min(names.size(), i + 10); ++j) {
      EntityInput in = company(names[j], "doc_" + std::to_string(j / 10), run);
      in.cik = std::to_string(1000 + j % 300);  // names i and 300 + i are one company
      batch.push_back(std::move(in));
    }
    if (auto r = reg.resolve_all(batch); !r) {
      std::fprintf(stderr, "%s: %s\n", run.c_str(), r.error().describe().c_str());
      return 11;
    }
  }
  return 0;
}

TEST(RegistryConcurrencyTest, TwoProcessesCreateNoDuplicatesAndLoseNoJournal) {
  fs::path path = fs::temp_directory_path() / ("fgraph_reg2p_" + random_hex(4) + ".db");
  {
    auto s = Store::open({path.string()});  // migrate once before the children race
    ASSERT_TRUE(s.has_value());
  }
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("Concurrent Company " + std::to_string(i * 37) + " Inc");
  // A second name per company, found by its CIK: an alias for whichever run gets there first.
  for (int i = 0; i < 300; ++i) names.push_back("Concurrent Holdings " + std::to_string(i * 37));
  std::vector<pid_t> children;
  for (const char* run : {"run_a", "run_b"}) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(resolve_in_child(path.string(), names, run));
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto store = Store::open({path.string()});
  ASSERT_TRUE(store.has_value());
  auto q = [&](const std::string& sql) {
    auto r = (*store)->query(sql);
    EXPECT_TRUE(r.has_value());
    return std::get<std::int64_t>((*r)[0][0]);
  };
  EXPECT_EQ(q("SELECT count(*) FROM entities"), 300);
  EXPECT_EQ(q("SELECT count(DISTINCT norm_name) FROM entities"), 300);
  // One insert and one alias per entity, whichever run got there first; no more, no less.
  EXPECT_EQ(q("SELECT count(*) FROM registry_journal WHERE op = 'insert'"), 300);
  EXPECT_EQ(q("SELECT count(*) FROM registry_journal WHERE op = 'alias'"), 300);
  EXPECT_EQ(q("SELECT count(*) FROM entity_aliases"), 300);
  EXPECT_EQ(q("SELECT count(*) FROM entity_mentions"), 1200);
  EXPECT_EQ(q("SELECT count(*) FROM registry_journal j JOIN entities e ON e.rid = j.ref"
              " WHERE j.op = 'insert' AND j.entity_id = e.entity_id"), 300);
  store->reset();
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
}

// ---- the CLI ----------------------------------------------------------------------
struct CliRun {
  int exit_code;
  std::string out;
};

CliRun run_fgraph(const std::string& home, const std::string& args) {
  std::string cmd = std::string(FGRAPH_BINARY) + " --home '" + home + "' " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

TEST(RegistryCliTest, FindShowMergeUnmergeHistory) {
  fs::path home = fs::temp_directory_path() / ("fgraph_cli_reg_" + random_hex(4));
  fs::create_directories(home);
  std::string a_id, b_id;
  {
    auto store = Store::open({(home / "fgraph.db").string()});
    ASSERT_TRUE(store.has_value());
    EntityRegistry reg(**store);
    EntityInput a = company("Apple Inc.", "sha256:d1", "run1");
    a.cik = "320193";
    a.authoritative = true;
    a_id = reg.resolve(a)->entity_id;
    b_id = reg.resolve(company("Apple Computer, Inc.", "sha256:d2", "run1"))->entity_id;
  }
  CliRun find = run_fgraph(home.string(), "registry find 'APPLE INC' --json");
  EXPECT_EQ(find.exit_code, 0);
  std::istringstream lines(find.out);
  std::string first;
  std::getline(lines, first);
  EXPECT_NE(first.find("\"entity_id\":\"" + a_id + "\""), std::string::npos) << find.out;
  EXPECT_NE(first.find("\"method\":\"exact\""), std::string::npos) << first;
  CliRun by_cik = run_fgraph(home.string(), "registry find 320193 --json");
  EXPECT_NE(by_cik.out.find("\"method\":\"cik\""), std::string::npos) << by_cik.out;
  CliRun show = run_fgraph(home.string(), "registry show " + a_id + " --json");
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("\"cik\":\"0000320193\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("sha256:d1"), std::string::npos);
  EXPECT_EQ(std::count(show.out.begin(), show.out.end(), '\n'), 1);
  CliRun merge = run_fgraph(home.string(), "registry merge " + a_id + " " + b_id + " --json");
  EXPECT_EQ(merge.exit_code, 0);
  EXPECT_NE(merge.out.find("\"merge_id\":\"mrg_1\""), std::string::npos) << merge.out;
  CliRun again = run_fgraph(home.string(), "registry merge " + a_id + " " + b_id);
  EXPECT_EQ(again.exit_code, 2);  // kInvalidInput: already merged
  CliRun unmerge = run_fgraph(home.string(), "registry unmerge mrg_1");
  EXPECT_EQ(unmerge.exit_code, 0);
  CliRun history = run_fgraph(home.string(), "registry history " + b_id + " --json");
  EXPECT_EQ(history.exit_code, 0);
  EXPECT_NE(history.out.find("\"op\":\"merge\""), std::string::npos);
  EXPECT_NE(history.out.find("\"op\":\"unmerge\""), std::string::npos);
  EXPECT_EQ(run_fgraph(home.string(), "registry show ent_nope").exit_code, 1);    // kNotFound
  EXPECT_EQ(run_fgraph(home.string(), "registry unmerge mrg_9").exit_code, 1);   // kNotFound
  EXPECT_EQ(run_fgraph(home.string(), "registry find").exit_code, 2);            // usage
  CliRun help = run_fgraph(home.string(), "registry find --help");
  EXPECT_NE(help.out.find("--type"), std::string::npos);
  fs::remove_all(home);
}

}  // namespace
}  // namespace fgraph::registry
