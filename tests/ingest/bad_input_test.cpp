// Bad input: every kind of broken file in one drop yields its own failure, and the good
// files of the same call are still parsed. Also drives the real `fgraph parse` binary.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/ingest.h"
#include "ingest/internal/drop_scan.h"
#include "ingest/internal/encoding.h"

namespace fs = std::filesystem;

namespace fgraph::ingest {
namespace {

void write(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Denies listing folders whose name is `denied`, as the kernel would for a non-root
// process on a mode-000 folder. Used only when the tests run as root, where the real
// permission check never fires; otherwise the real lister meets the real EACCES.
class DenyingLister final : public internal::DirLister {
 public:
  explicit DenyingLister(std::string denied) : denied_(std::move(denied)) {}
  int list(const std::string& dir, std::vector<std::string>& names) override {
    if (fs::path(dir).filename() == denied_) return EACCES;
    return internal::system_dir_lister().list(dir, names);
  }

 private:
  std::string denied_;
};

long peak_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class IngestBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    outside_ = fs::temp_directory_path() / ("fgraph_outside_" + std::to_string(::getpid()));
    drop_ = fs::temp_directory_path() / ("fgraph_drop_" + std::to_string(::getpid()));
    fs::remove_all(drop_);
    fs::create_directories(drop_);
    fs::create_directories(outside_);
    write(outside_ / "secret.txt", "outside the drop\n");

    write(drop_ / "a_good.html",
          "<html><body><p>Acme Corp reports <b>record</b> results.</p></body></html>");
    write(drop_ / "empty.txt", "");
    std::mt19937 rng(42);
    std::string noise(4096, '\0');
    for (auto& c : noise) c = static_cast<char>(rng() & 0xFF);
    write(drop_ / "random.bin", noise);
    fs::copy_file("/bin/true", drop_ / "program");
    // Header cut mid-line: no </SEC-HEADER>, no </DOCUMENT>.
    write(drop_ / "truncated_header.txt",
          "<SEC-DOCUMENT>0000000000-24-000001.txt : 20240101\n<SEC-HEADER>0000000000-24-000001.hdr.sgml\n"
          "ACCESSION NUMBER:\t\t0000000000-24-000001\nCONFORMED SUBMISSION TY");
    write(drop_ / "truncated_document.txt",
          "<SEC-DOCUMENT>x\n<SEC-HEADER>x\nACCESSION NUMBER:\t0000000000-24-000002\n</SEC-HEADER>\n"
          "<DOCUMENT>\n<TYPE>8-K\n<SEQUENCE>1\n<TEXT>\n<html><body><p>cut here");
    // Valid UTF-8 around two bytes that are not UTF-8.
    write(drop_ / "bad_utf8.html",
          "<html><head><meta charset=\"utf-8\"></head><body><p>Caf\xC3\xA9 one.</p>"
          "<p>Broken \xFF\xFE here.</p><p>Na\xC3\xAFve two.</p></body></html>");
    {
      std::ofstream(drop_ / "huge.txt").put('x');
      fs::resize_file(drop_ / "huge.txt", 200ull << 20);  // sparse: truncate(2)
    }
    fs::create_symlink(outside_ / "secret.txt", drop_ / "link_outside");
    fs::create_symlink(drop_ / "loop_b", drop_ / "loop_a");
    fs::create_symlink(drop_ / "loop_a", drop_ / "loop_b");
    fs::create_directories(drop_ / "locked");
    write(drop_ / "locked" / "inside.txt", "hidden text\n");
    fs::permissions(drop_ / "locked", fs::perms::none);
    fs::create_directories(drop_ / "sub");
    write(drop_ / "sub" / "z_good.txt", "Plain text filing.\nSecond line.\n");
  }
  void TearDown() override {
    fs::permissions(drop_ / "locked", fs::perms::owner_all);
    fs::remove_all(drop_);
    fs::remove_all(outside_);
  }
  fs::path drop_, outside_;
};

TEST_F(IngestBadInputTest, EachBadFileFailsAloneAndGoodFilesParse) {
  DenyingLister lister("locked");
  internal::DirLister& used = ::geteuid() == 0 ? static_cast<internal::DirLister&>(lister)
                                               : internal::system_dir_lister();
  long rss_before = peak_rss_kb();
  ParseResult r = internal::parse_paths_with({drop_.string()}, Options{}, used);
  long rss_after = peak_rss_kb();

  std::map<std::string, std::string> codes;  // file name -> reason code
  for (const auto& f : r.failures) codes[fs::path(f.source).filename().string()] = f.reason_code;
  EXPECT_EQ(codes["empty.txt"], "empty_file");
  EXPECT_EQ(codes["random.bin"], "binary_file");
  EXPECT_EQ(codes["program"], "binary_file");
  EXPECT_EQ(codes["truncated_header.txt"], "truncated_submission");
  EXPECT_EQ(codes["truncated_document.txt"], "truncated_submission");
  EXPECT_EQ(codes["huge.txt"], "too_large");
  EXPECT_EQ(codes["link_outside"], "outside_drop");
  EXPECT_EQ(codes["loop_a"], "symlink_loop");
  EXPECT_EQ(codes["loop_b"], "symlink_loop");
  EXPECT_EQ(codes["locked"], "permission_denied");
  EXPECT_EQ(r.failures.size(), 10u);
  // The size limit refuses the 200 MB file unread.
  EXPECT_LT(rss_after - rss_before, 50 * 1024);
  for (const auto& f : r.failures) {
    if (f.reason_code == "too_large") {
      EXPECT_NE(f.error.message.find("200.0 MB"), std::string::npos);
    }
    if (f.reason_code == "binary_file" && fs::path(f.source).filename() == "program") {
      EXPECT_NE(f.error.message.find("ELF"), std::string::npos);
    }
  }

  ASSERT_EQ(r.documents.size(), 3u);
  EXPECT_EQ(fs::path(r.documents[0].source).filename(), "a_good.html");
  EXPECT_EQ(r.documents[0].text, "Acme Corp reports record results.");
  EXPECT_EQ(fs::path(r.documents[1].source).filename(), "bad_utf8.html");
  const Document& bad = r.documents[1];
  EXPECT_TRUE(internal::is_valid_utf8(bad.text));
  EXPECT_EQ(bad.text, "Caf\xC3\xA9 one.\n\nBroken \xEF\xBF\xBD\xEF\xBF\xBD here.\n\nNa\xC3\xAFve two.");
  ASSERT_EQ(bad.warnings.size(), 1u);
  EXPECT_EQ(bad.warnings[0], "replaced 2 undecodable bytes");
  EXPECT_EQ(fs::path(r.documents[2].source).filename(), "z_good.txt");
  EXPECT_EQ(r.documents[2].text, "Plain text filing.\nSecond line.");
}

TEST_F(IngestBadInputTest, SymlinkInsideTheDropIsFollowed) {
  fs::create_symlink(drop_ / "a_good.html", drop_ / "b_alias.html");
  ParseResult r = parse_paths({drop_.string()});
  int count = 0;
  for (const auto& d : r.documents) count += d.text == "Acme Corp reports record results." ? 1 : 0;
  EXPECT_EQ(count, 2);
}

TEST_F(IngestBadInputTest, SymlinkToEnclosingFolderIsALoop) {
  fs::create_symlink(drop_, drop_ / "sub" / "up");
  ParseResult r = parse_paths({(drop_ / "sub").string(), drop_.string()});
  int loops = 0;
  for (const auto& f : r.failures) loops += f.source.ends_with("sub/up") && f.reason_code == "symlink_loop";
  EXPECT_GE(loops, 1);
}

TEST_F(IngestBadInputTest, MissingPathIsNotFound) {
  ParseResult r = parse_paths({(drop_ / "nope.txt").string()});
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].reason_code, "not_found");
}

TEST_F(IngestBadInputTest, FifoIsUnreadable) {
  ASSERT_EQ(::mkfifo((drop_ / "pipe").c_str(), 0600), 0);
  ParseResult r = parse_paths({drop_.string()});
  bool found = false;
  for (const auto& f : r.failures) {
    if (fs::path(f.source).filename() == "pipe") {
      found = true;
      EXPECT_EQ(f.reason_code, "unreadable");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(IngestBadInputTest, MarkupWithoutTextIsNoText) {
  write(drop_ / "blank.html", "<html><body><img src=x.jpg><div> </div></body></html>");
  ParseResult r = parse_file((drop_ / "blank.html").string());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].reason_code, "no_text");
}

TEST_F(IngestBadInputTest, UnreadableFileIsPermissionDeniedOrReadAsRoot) {
  // A mode-000 file: EACCES for a normal user; root reads it, which the test checks too.
  write(drop_ / "noread.txt", "secret words\n");
  fs::permissions(drop_ / "noread.txt", fs::perms::none);
  ParseResult r = parse_file((drop_ / "noread.txt").string());
  if (::geteuid() == 0) {
    ASSERT_EQ(r.documents.size(), 1u);
  } else {
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].reason_code, "permission_denied");
  }
}

struct CliRun {
  int exit_code = -1;
  std::string out;
};

// Runs a shell command line and captures its stdout.
CliRun capture(const std::string& cmd) {
  CliRun run;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return run;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) run.out.append(buf, n);
  int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

CliRun run_cli(const std::string& args) {
  return capture(std::string(FGRAPH_BINARY) + " " + args + " 2>/dev/null");
}

TEST_F(IngestBadInputTest, CliPrintsOneJsonLinePerDocumentOrErrorAndExitsOne) {
  CliRun run = run_cli("parse --json " + (drop_ / "a_good.html").string() + " " +
                    (drop_ / "empty.txt").string() + " " + (drop_ / "random.bin").string());
  EXPECT_EQ(run.exit_code, 1);
  std::istringstream lines(run.out);
  std::string line;
  int docs = 0, errors = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("error")) {
      ++errors;
      EXPECT_TRUE(j["error"].contains("code"));
      EXPECT_TRUE(j["error"].contains("message"));
      EXPECT_TRUE(j.contains("source"));
    } else {
      ++docs;
      for (const char* k : {"doc_id", "source", "part", "format", "form_type", "cik", "company",
                            "accession", "filed_at", "chars", "warnings"})
        EXPECT_TRUE(j.contains(k)) << k;
      EXPECT_FALSE(j.contains("text"));
      EXPECT_EQ(j["chars"], 33);
    }
  }
  EXPECT_EQ(docs, 1);
  EXPECT_EQ(errors, 2);
}

TEST_F(IngestBadInputTest, CliExitCodes) {
  CliRun good = run_cli("parse --json --text " + (drop_ / "a_good.html").string());
  EXPECT_EQ(good.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(good.out)["text"], "Acme Corp reports record results.");
  EXPECT_EQ(run_cli("parse").exit_code, 2);
  EXPECT_EQ(run_cli("parse --no-such-flag x").exit_code, 2);
}

// Issue 16, defect 5: old EDGAR HTML leaves a <FONT> open per line.
std::string unclosed_fonts(int lines) {
  std::string html = "<HTML><BODY>\n";
  for (int i = 0; i < lines; ++i) html += "<FONT SIZE=2>Line " + std::to_string(i) + " of the filing<BR>\n";
  return html + "<FONT SIZE=2>Closing words of the report.\n</BODY></HTML>\n";
}

TEST_F(IngestBadInputTest, HtmlNestedDeeperThan255LevelsIsParsedWhole) {
  write(drop_ / "deep.htm", unclosed_fonts(600));
  ParseResult r = parse_file((drop_ / "deep.htm").string());
  ASSERT_EQ(r.failures.size(), 0u) << r.failures[0].error.message;
  ASSERT_EQ(r.documents.size(), 1u);
  const std::string& text = r.documents[0].text;
  EXPECT_NE(text.find("Line 599 of the filing"), std::string::npos);
  EXPECT_TRUE(text.ends_with("Closing words of the report."));
  EXPECT_TRUE(r.documents[0].warnings.empty());

  // The same HTML as a <DOCUMENT> of a full submission.
  write(drop_ / "deep_submission.txt",
        "<SEC-DOCUMENT>0000000000-24-000009.txt : 20240101\n<SEC-HEADER>x\n"
        "ACCESSION NUMBER:\t\t0000000000-24-000009\nCONFORMED SUBMISSION TYPE:\t10-K\n"
        "</SEC-HEADER>\n<DOCUMENT>\n<TYPE>10-K\n<SEQUENCE>1\n<FILENAME>d.htm\n<TEXT>\n" +
            unclosed_fonts(600) + "</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n");
  ParseResult s = parse_file((drop_ / "deep_submission.txt").string());
  ASSERT_EQ(s.documents.size(), 2u);  // the header (part 0) and the 10-K
  EXPECT_EQ(s.documents[0].part, 0);
  EXPECT_NE(s.documents[1].text.find("Line 599 of the filing"), std::string::npos);
  EXPECT_TRUE(s.documents[1].text.ends_with("Closing words of the report."));
}

// Issue 16: a markup document's libxml2 tree takes ~10x its size; past max_markup_bytes it
// is refused with a reason (the whole file, or the one <DOCUMENT> of a submission).
TEST_F(IngestBadInputTest, MarkupOverItsLimitIsRefusedAndPlainTextIsNot) {
  Options o;
  o.max_markup_bytes = 4096;
  write(drop_ / "big.html", unclosed_fonts(200));
  write(drop_ / "big.txt", std::string(8000, 'x') + "\n");
  write(drop_ / "big_submission.txt",
        "<SEC-DOCUMENT>0000000000-24-000010.txt : 20240101\n<SEC-HEADER>x\n"
        "ACCESSION NUMBER:\t\t0000000000-24-000010\n</SEC-HEADER>\n"
        "<DOCUMENT>\n<TYPE>10-K\n<SEQUENCE>1\n<TEXT>\n" + unclosed_fonts(200) +
            "</TEXT>\n</DOCUMENT>\n<DOCUMENT>\n<TYPE>EX-99\n<SEQUENCE>2\n<TEXT>\n<p>Small exhibit.</p>\n"
            "</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n");
  ParseResult html = parse_file((drop_ / "big.html").string(), o);
  ASSERT_EQ(html.failures.size(), 1u);
  EXPECT_EQ(html.failures[0].reason_code, "too_large");
  EXPECT_NE(html.failures[0].error.message.find("limit for HTML/XML"), std::string::npos);
  EXPECT_EQ(parse_file((drop_ / "big.txt").string(), o).documents.size(), 1u);
  ParseResult sub = parse_file((drop_ / "big_submission.txt").string(), o);
  ASSERT_EQ(sub.failures.size(), 1u);
  EXPECT_EQ(sub.failures[0].reason_code, "too_large");
  EXPECT_EQ(sub.failures[0].part, 1);
  ASSERT_EQ(sub.documents.size(), 2u);  // the header (part 0, plain lines) and the exhibit
  EXPECT_EQ(sub.documents[0].part, 0);
  EXPECT_EQ(sub.documents[1].part, 2);
  EXPECT_EQ(sub.documents[1].text, "Small exhibit.");
}

// Issue 16: hidden files and the fgraph home in a drop.
TEST_F(IngestBadInputTest, HiddenEntriesArePassedOverUnlessAskedAndCounted) {
  fs::path d = drop_ / "sub";
  write(d / ".DS_Store", "Hidden junk text\n");
  fs::create_directories(d / ".git");
  write(d / ".git" / "HEAD", "ref: refs/heads/main\n");
  ParseResult r = parse_paths({d.string()});
  ASSERT_EQ(r.documents.size(), 1u);
  EXPECT_EQ(fs::path(r.documents[0].source).filename(), "z_good.txt");
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.hidden_skipped, 2u);  // .DS_Store and .git, counted once whatever it holds

  Options with_hidden;
  with_hidden.include_hidden = true;
  ParseResult all = parse_paths({d.string()}, with_hidden);
  EXPECT_EQ(all.documents.size(), 3u);
  EXPECT_EQ(all.hidden_skipped, 0u);

  // A hidden file named directly is read: the user asked for it.
  ParseResult named = parse_paths({(d / ".DS_Store").string()});
  EXPECT_EQ(named.documents.size(), 1u);
}

TEST_F(IngestBadInputTest, TheHomeInUseIsNeverEnteredEvenWithHiddenFiles) {
  fs::path d = drop_ / "sub";
  fs::path home = d / ".fgraph";
  fs::create_directories(home);
  write(home / "fgraph.db", "SQLite format 3\n ledger bytes");
  write(home / "config.toml", "lane = \"local\"\n");
  fs::create_directories(d / "visible_home");
  write(d / "visible_home" / "notes.txt", "Ledger notes\n");
  fs::create_symlink("visible_home/notes.txt", d / "link_into_home");

  Options o;
  o.include_hidden = true;
  // Named through a different spelling of the same folder: compared canonically.
  o.excluded_dirs = {(d / "x" / ".." / ".fgraph").string(), (d / "visible_home").string()};
  fs::create_directories(d / "x");
  ParseResult r = parse_paths({d.string()}, o);
  ASSERT_EQ(r.documents.size(), 1u) << r.documents[0].source;
  EXPECT_EQ(fs::path(r.documents[0].source).filename(), "z_good.txt");
  EXPECT_TRUE(r.failures.empty());

  // Without include_hidden, the hidden home is passed over but not counted as hidden.
  o.include_hidden = false;
  EXPECT_EQ(parse_paths({d.string()}, o).hidden_skipped, 0u);

  // Named directly, a path inside the home fails with a reason.
  ParseResult named = parse_paths({(home / "fgraph.db").string(), home.string()}, o);
  ASSERT_EQ(named.failures.size(), 2u);
  EXPECT_EQ(named.failures[0].reason_code, "inside_home");
  EXPECT_EQ(named.failures[1].reason_code, "inside_home");
  EXPECT_TRUE(named.documents.empty());
}

// Runs a shell command line (stdout and stderr captured together).
using CliOutput = CliRun;
CliOutput run_shell(const std::string& command) { return capture(command + " 2>&1"); }

TEST_F(IngestBadInputTest, AFifoNamedDirectlyIsRefusedWithoutBlocking) {
  // Opening a FIFO for reading blocks until a writer comes: `parse` and `run` hung here.
  fs::path fifo = drop_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  CliOutput parse = run_shell("timeout 20 " + std::string(FGRAPH_BINARY) + " parse --json " +
                              fifo.string() + " " + (drop_ / "a_good.html").string());
  EXPECT_EQ(parse.exit_code, 1) << parse.out;  // timeout(1) exits 124
  EXPECT_NE(parse.out.find("\"code\":\"unreadable\""), std::string::npos) << parse.out;
  EXPECT_NE(parse.out.find("FIFO"), std::string::npos) << parse.out;
  EXPECT_NE(parse.out.find("a_good.html"), std::string::npos) << parse.out;  // the rest goes on

  // The library refuses it unopened too, and a symlink to it inside a folder.
  ParseResult direct = parse_file(fifo.string());
  ASSERT_EQ(direct.failures.size(), 1u);
  EXPECT_EQ(direct.failures[0].reason_code, "unreadable");
  fs::create_directories(drop_ / "fifo_dir");
  ASSERT_EQ(::mkfifo((drop_ / "fifo_dir" / "pipe").c_str(), 0600), 0);
  fs::create_symlink("pipe", drop_ / "fifo_dir" / "to_pipe");
  ParseResult linked = parse_paths({(drop_ / "fifo_dir").string()});
  ASSERT_EQ(linked.failures.size(), 2u);
  EXPECT_EQ(linked.failures[0].reason_code, "unreadable");
  EXPECT_EQ(linked.failures[1].reason_code, "unreadable");
}

TEST_F(IngestBadInputTest, CliPrintsFileNamesEscaped) {
  fs::path d = drop_ / "names";
  fs::create_directories(d);
  std::string evil = "evil\x1b[31m\nforged line.html";
  write(d / evil, "<p>Escaped name filing text.</p>");
  write(d / "empty\x1b]0;title\x07.txt", "");
  CliOutput human = run_shell(std::string(FGRAPH_BINARY) + " parse " + d.string());
  EXPECT_EQ(human.exit_code, 1) << human.out;
  EXPECT_EQ(human.out.find('\x1b'), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find('\x07'), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("evil\\x1b[31m\\nforged line.html #1"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("empty\\x1b]0;title\\x07.txt: empty file"), std::string::npos) << human.out;
  // --json keeps the name exact, escaped by the JSON encoder.
  CliOutput json = run_shell(std::string(FGRAPH_BINARY) + " parse --json " + d.string() + " 2>/dev/null");
  EXPECT_EQ(json.out.find('\x1b'), std::string::npos);
  bool found = false;
  std::istringstream lines(json.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("doc_id")) found = j["source"] == (d / evil).string();
  }
  EXPECT_TRUE(found) << json.out;
}

TEST_F(IngestBadInputTest, RunFromInsideADropNeverReadsItsOwnHome) {
  // `fgraph run .` in a drop with the default home ./.fgraph read the ledger files as
  // filings ("inputs seen 4", three binary_file failures) and exited 1.
  fs::path d = drop_ / "sub";
  write(d / ".hidden_note.txt", "Not an input\n");
  std::string cmd = "cd " + d.string() + " && env -u FGRAPH_HOME " + FGRAPH_BINARY;
  // A first command creates ./.fgraph/fgraph.db (with its -wal and -shm files).
  CliOutput first = run_shell(cmd + " run . --dry-run --json");
  ASSERT_TRUE(fs::exists(d / ".fgraph" / "fgraph.db")) << first.out;
  for (bool hidden : {false, true}) {
    CliOutput again = run_shell(cmd + " run . --dry-run --json" +
                                (hidden ? " --include-hidden" : "") + " 2>/dev/null");
    EXPECT_EQ(again.exit_code, 0) << again.out;
    auto j = nlohmann::json::parse(again.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << again.out;
    EXPECT_EQ(j["documents"]["seen"], hidden ? 2 : 1) << again.out;
    EXPECT_EQ(j["documents"]["parsed"], hidden ? 2 : 1) << again.out;
    EXPECT_TRUE(j["documents"]["failed_by_reason"].empty()) << again.out;
  }
  // `parse .` passes over the home in the same way.
  CliOutput parse = run_shell(cmd + " parse . --include-hidden --json 2>/dev/null");
  EXPECT_EQ(parse.exit_code, 0) << parse.out;
  EXPECT_EQ(parse.out.find("fgraph.db"), std::string::npos) << parse.out;
}

}  // namespace
}  // namespace fgraph::ingest
