// The writer lock of a home, on real files and real processes.
#include <csignal>
#include <filesystem>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/core.h"

namespace fgraph {
namespace {

namespace fs = std::filesystem;

class WriterLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("fgraph-lock-test-" + random_hex(6));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(home_, ec);
  }
  WriterLock::Options options(std::string command) {
    return {WriterLock::path_in(home_.string()), std::move(command), std::chrono::milliseconds(500)};
  }
  fs::path home_;
  ManualClock clock_;
};

TEST_F(WriterLockTest, SecondAcquisitionIsRefusedAndNamesTheHolder) {
  auto first = WriterLock::acquire(options("fgraph run drops/e"), clock_);
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  EXPECT_EQ((*first)->path(), (home_ / "writer.lock").string());  // the home is created

  auto second = WriterLock::acquire(options("fgraph run drops/f"), clock_);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(second.error().detail, "writer_lock_held");
  const std::string& m = second.error().message;
  EXPECT_NE(m.find("pid " + std::to_string(::getpid()) + " (fgraph run drops/e)"), std::string::npos) << m;
  EXPECT_EQ(m.find("drops/f"), std::string::npos) << m;

  auto held = WriterLock::read_holder((*first)->path());
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->pid, ::getpid());
  EXPECT_EQ(held->command, "fgraph run drops/e");
  EXPECT_EQ(held->since, format_utc(clock_.now()));
}

TEST_F(WriterLockTest, ReleasedWhenTheHolderClosesIt) {
  auto first = WriterLock::acquire(options("fgraph rollback run-1"), clock_);
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  const std::string path = (*first)->path();
  first->reset();
  // Released and emptied: the file describes nobody.
  auto after = WriterLock::read_holder(path);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->pid, 0);
  auto second = WriterLock::acquire(options("fgraph replay run-1"), clock_);
  ASSERT_TRUE(second.has_value()) << second.error().describe();
  EXPECT_EQ(WriterLock::read_holder(path)->command, "fgraph replay run-1");
}

TEST_F(WriterLockTest, ReleasedWhenTheHoldingProcessIsKilled) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto lock = WriterLock::acquire(options("fgraph run drops/child"), clock_);
    const char c = lock ? 'y' : 'n';
    (void)::write(ready[1], &c, 1);
    while (true) ::pause();  // holds the lock until killed
  }
  ::close(ready[1]);
  // Whatever happens below, the child does not outlive the test.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{child};
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');

  auto refused = WriterLock::acquire(options("fgraph run drops/parent"), clock_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("pid " + std::to_string(child) + " (fgraph run drops/child)"),
            std::string::npos)
      << refused.error().message;

  // SIGKILL: no destructor runs, the file still names the child, the kernel drops the lock.
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  reaper.pid = 0;
  EXPECT_EQ(WriterLock::read_holder(WriterLock::path_in(home_.string()))->pid, child);
  auto taken = WriterLock::acquire(options("fgraph run drops/parent"), clock_);
  ASSERT_TRUE(taken.has_value()) << taken.error().describe();
  EXPECT_EQ(WriterLock::read_holder((*taken)->path())->pid, ::getpid());
}

TEST_F(WriterLockTest, AnUndescribedHolderIsNotNamedAfterADeadOne) {
  // A holder that locked the file but has not written yet, over a dead holder's text.
  fs::create_directories(home_);
  const std::string path = WriterLock::path_in(home_.string());
  ASSERT_TRUE(write_file_atomic(path, "pid=999999999\ncommand=fgraph run old\nsince=x\n").has_value());
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto refused = WriterLock::acquire(options("fgraph run drops/e"), clock_);
  ::close(fd);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message.find("fgraph run old"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("not described itself"), std::string::npos) << refused.error().message;
  // It waited (on the clock) for a description before giving up.
  EXPECT_FALSE(clock_.sleeps().empty());
}

TEST_F(WriterLockTest, ARefusedWriterWaitsForAHolderThatIsStillDescribingItself) {
  // Two writers started together: the loser may look before the winner has written.
  fs::create_directories(home_);
  const std::string path = WriterLock::path_in(home_.string());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string text = "pid=" + std::to_string(::getpid()) + "\ncommand=fgraph run late\nsince=t\n";
    (void)::pwrite(fd, text.data(), text.size(), 0);
  });
  SystemClock clock;
  auto opts = options("fgraph run drops/e");
  opts.describe_wait = std::chrono::milliseconds(5000);
  auto refused = WriterLock::acquire(opts, clock);
  late.join();
  ::close(fd);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("(fgraph run late)"), std::string::npos) << refused.error().message;
}

TEST_F(WriterLockTest, ServiceUrlIsShownToRefusedWritersAndControlCharactersAreEscaped) {
  auto serve = WriterLock::acquire(options("fgraph serve\n--listen\x1b[2J"), clock_);
  ASSERT_TRUE(serve.has_value()) << serve.error().describe();
  ASSERT_TRUE((*serve)->set_url("http://127.0.0.1:8765").has_value());
  auto held = WriterLock::read_holder((*serve)->path());
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->command, "fgraph serve\\n--listen\\x1b[2J");
  EXPECT_EQ(held->url, "http://127.0.0.1:8765");
  auto refused = WriterLock::acquire(options("fgraph run drops/e"), clock_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("serving http://127.0.0.1:8765"), std::string::npos)
      << refused.error().message;
}

TEST_F(WriterLockTest, AnUnusablePathIsInternal) {
  home_ = "/dev/null/home";
  auto r = WriterLock::acquire(options("fgraph run x"), clock_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace fgraph
