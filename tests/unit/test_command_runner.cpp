// Real processes: the argv_dump helper writes what it was given, so these
// tests see exactly which argv reached execve, and that no shell ran.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "core/command_template.h"
#include "io/command_runner.h"
#include "io/spawn.h"

namespace xdpban {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The daemon's loop in miniature: epoll over watched fds.
class TestLoop {
 public:
  TestLoop() : ep_(epoll_create1(EPOLL_CLOEXEC)) {}
  LoopHooks hooks() {
    return {[this](int fd, std::function<void()> fn) -> Status {
              epoll_event ev{};
              ev.events = EPOLLIN;
              ev.data.fd = fd;
              if (epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return make_error(errno, "epoll_ctl");
              fns_[fd] = std::move(fn);
              return {};
            },
            [this](int fd) {
              epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
              fns_.erase(fd);
            }};
  }
  // Runs until done() or the time is up; false on timeout.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto end = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > end) return false;
      epoll_event evs[16];
      int n = epoll_wait(ep_.get(), evs, 16, 50);
      for (int i = 0; i < n; ++i) {
        auto it = fns_.find(evs[i].data.fd);
        if (it == fns_.end()) continue;
        auto fn = it->second;
        fn();
      }
    }
    return true;
  }
  size_t watched() const { return fns_.size(); }

 private:
  Fd ep_;
  std::unordered_map<int, std::function<void()>> fns_;
};

class Runner : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("xdpban-runner-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    auto r = CommandRunner::create(loop_.hooks());
    ASSERT_TRUE(r.ok()) << r.error().message;
    runner_ = std::move(*r);
    runner_->on_done([this](const CommandResult& res) { done_.push_back(res); });
  }
  void TearDown() override {
    runner_.reset();
    fs::remove_all(dir_);
  }
  std::vector<std::string> argv_written(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i] == '\0') {
        out.push_back(all.substr(start, i - start));
        start = i + 1;
      }
    return out;
  }
  std::string out(const std::string& name) { return (dir_ / name).string(); }

  TestLoop loop_;
  fs::path dir_;
  std::unique_ptr<CommandRunner> runner_;
  std::vector<CommandResult> done_;
};

TEST_F(Runner, HostileJailNamesAndTextStayOneArgumentAndNoShellRuns) {
  std::string marker = out("pwned");
  const std::vector<std::string> hostile = {
      "x; touch " + marker,
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "a\ntouch " + marker,
      "two words",
      "' ; touch " + marker + " ; '",
      "\" ; touch " + marker,
      "| touch " + marker,
      "&& touch " + marker,
      "--output=" + marker,
      "<ip>",
      "\\",
  };
  auto t = CommandTemplate::parse(std::string(ARGV_DUMP) +
                                      " <cidr> <jail> '[<jail>] banned <ip> for <bantime>s' --ip=<ip> "
                                      "'$(touch " +
                                      marker + ")'",
                                  kBanPlaceholders);
  ASSERT_TRUE(t.ok()) << t.error().message;
  for (size_t i = 0; i < hostile.size(); ++i) {
    std::string file = out("argv" + std::to_string(i));
    const std::string& h = hostile[i];
    auto argv = t->expand({{"cidr", file}, {"jail", h}, {"ip", "192.0.2.7"}, {"bantime", "600"}});
    runner_->submit({"hostile " + std::to_string(i), argv, std::nullopt, false});
  }
  ASSERT_TRUE(loop_.run_until([&] { return done_.size() == hostile.size(); }));
  for (const auto& r : done_) EXPECT_TRUE(r.ok()) << r.label << ": " << r.error << " " << r.status;
  for (size_t i = 0; i < hostile.size(); ++i) {
    std::string file = out("argv" + std::to_string(i));
    const std::string& h = hostile[i];
    EXPECT_EQ(argv_written(file),
              (std::vector<std::string>{ARGV_DUMP, file, h, "[" + h + "] banned 192.0.2.7 for 600s",
                                        "--ip=192.0.2.7", "$(touch " + marker + ")"}))
        << "value " << i << ": " << h;
  }
  EXPECT_FALSE(fs::exists(marker)) << "a shell ran: " << marker << " exists";
}

TEST_F(Runner, ChildGetsCleanSignalsAndOnlyStdioDescriptors) {
  // What the daemon does to itself: signals blocked for its signalfd, SIGPIPE ignored.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  std::string file = out("sig");
  runner_->submit({"signals", {ARGV_DUMP, file}, std::nullopt, false});
  bool finished = loop_.run_until([&] { return done_.size() == 1; });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  signal(SIGPIPE, old_pipe);
  ASSERT_TRUE(finished);
  std::ifstream in(file + ".sig");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Bit n-1 stands for signal n. No standard signal (1-31) is blocked or
  // ignored; glibc's own real-time signals (32, 33) are not ours to reset.
  auto mask = [&](const char* key) {
    auto at = all.find(key);
    EXPECT_NE(at, std::string::npos) << all;
    return at == std::string::npos ? ~0ull : std::stoull(all.substr(at + std::strlen(key)), nullptr, 16);
  };
  EXPECT_EQ(mask("SigBlk:") & 0x7fffffffull, 0u) << all;
  EXPECT_EQ(mask("SigIgn:") & 0x7fffffffull, 0u) << all;
}

TEST_F(Runner, CapturesOutputAndReportsExitStatus) {
  runner_->submit({"say", {ARGV_DUMP, out("a"), "--say"}, std::nullopt, false});
  runner_->submit({"fail", {ARGV_DUMP, out("b"), "--exit=3"}, std::nullopt, false});
  runner_->submit({"stdin", {ARGV_DUMP, out("c"), "--cat"}, std::string("To: root\n\nreport body\n"), false});
  runner_->submit({"missing", {"/nonexistent/xdpban-no-such-program"}, std::nullopt, false});
  runner_->submit({"not in path", {"xdpban-no-such-program"}, std::nullopt, false});
  ASSERT_TRUE(loop_.run_until([&] { return done_.size() == 5; }));
  std::map<std::string, CommandResult> by;
  for (const auto& r : done_) by[r.label] = r;
  EXPECT_TRUE(by["say"].ok());
  EXPECT_EQ(by["say"].output, "hello on stdout\nhello on stderr\n");
  EXPECT_EQ(by["fail"].kind, CommandResult::kExited);
  EXPECT_EQ(by["fail"].status, 3);
  EXPECT_EQ(by["stdin"].output, "To: root\n\nreport body\n");
  EXPECT_EQ(by["missing"].kind, CommandResult::kSpawnFailed);
  EXPECT_NE(by["missing"].error.find("No such file"), std::string::npos) << by["missing"].error;
  EXPECT_EQ(by["not in path"].kind, CommandResult::kSpawnFailed);
  EXPECT_NE(by["not in path"].error.find("is not in /usr/local/sbin"), std::string::npos);
  EXPECT_EQ(runner_->counters().succeeded, 2u);
  EXPECT_EQ(runner_->counters().failed, 1u);
  EXPECT_EQ(runner_->counters().spawn_failed, 2u);
  // Everything the runner watched for those children is unwatched again.
  EXPECT_EQ(loop_.watched(), 1u);  // its timer
}

TEST_F(Runner, SlowCommandIsKilledWithItsGroupAtTheTimeout) {
  runner_->set_limits({std::chrono::milliseconds(500), 4, 100});
  std::string pidfile = out("grandchild.pid");
  auto t0 = Clock::now();
  // A child that starts a grandchild: the timeout kills both (its process group).
  runner_->submit(
      {"slow", {"/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; wait", "sh", pidfile}, std::nullopt, false});
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(200)) << "submit must not wait for the command";
  ASSERT_TRUE(loop_.run_until([&] { return done_.size() == 1; }));
  auto took = Clock::now() - t0;
  EXPECT_EQ(done_[0].kind, CommandResult::kTimedOut);
  EXPECT_GE(took, std::chrono::milliseconds(450));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  std::ifstream in(pidfile);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  // Killed; reaped by init once we no longer are its ancestor, so allow a moment.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream st("/proc/" + std::to_string(grandchild) + "/stat");
    std::string s((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
    gone = s.empty() || s.find(") Z") != std::string::npos;
    if (!gone) usleep(20000);
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " outlived the timeout";
  EXPECT_EQ(runner_->counters().timed_out, 1u);
}

TEST_F(Runner, BoundedConcurrencyQueuesThenDrops) {
  runner_->set_limits({std::chrono::seconds(10), 2, 3});
  size_t max_seen = 0;
  runner_->on_started(
      [&](const CommandJob&, pid_t) { max_seen = std::max(max_seen, runner_->running() + 1); });
  for (int i = 0; i < 7; ++i)
    runner_->submit({"job" + std::to_string(i), {"/bin/sleep", "0.2"}, std::nullopt, false});
  EXPECT_EQ(runner_->running(), 2u);
  EXPECT_EQ(runner_->queued(), 3u);
  EXPECT_EQ(runner_->counters().dropped, 2u);  // jobs 5 and 6
  // never_drop (reports) goes past the queue limit.
  EXPECT_TRUE(runner_->submit({"report", {"/bin/true"}, std::nullopt, true}));
  EXPECT_EQ(runner_->queued(), 4u);
  ASSERT_TRUE(loop_.run_until([&] { return done_.size() == 8; }));
  EXPECT_EQ(max_seen, 2u);
  EXPECT_EQ(runner_->counters().succeeded, 6u);
  EXPECT_EQ(runner_->counters().dropped, 2u);
}

TEST_F(Runner, DestructorKillsWhatStillRuns) {
  runner_->submit({"long", {"/bin/sleep", "30"}, std::nullopt, false});
  ASSERT_EQ(runner_->running(), 1u);
  auto t0 = Clock::now();
  runner_.reset();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(loop_.watched(), 0u);
}

TEST(ResolveProgram, LooksInTheFixedPathOnly) {
  auto sh = resolve_program("sh");
  ASSERT_TRUE(sh.ok()) << sh.error().message;
  EXPECT_EQ(sh->front(), '/');
  EXPECT_EQ(*resolve_program("./relative/x"), "./relative/x");
  EXPECT_FALSE(resolve_program("").ok());
}

}  // namespace
}  // namespace xdpban
