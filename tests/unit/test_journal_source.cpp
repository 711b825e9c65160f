// JournalSource on real journal files: systemd-journal-remote writes them from
// journal export format (as journald would), sd-journal reads them back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/journal_source.h"

extern char** environ;

namespace xdpban {
namespace {

namespace fs = std::filesystem;
using Fields = std::vector<std::pair<std::string, std::string>>;
using V = std::vector<std::string>;

// XDPBAN_JOURNAL_REMOTE overrides where systemd-journal-remote is looked for.
std::string remote_binary() {
  if (const char* env = std::getenv("XDPBAN_JOURNAL_REMOTE")) return ::access(env, X_OK) == 0 ? env : "";
  for (const char* p : {"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

uint64_t now_usec() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// One entry in journal export format; values with a newline use the binary form.
std::string export_entry(uint64_t realtime_usec, const Fields& fields, uint64_t monotonic_usec = 0) {
  static uint64_t next_monotonic = 1000000;
  next_monotonic += 1000;
  uint64_t monotonic = monotonic_usec ? monotonic_usec : next_monotonic;
  std::string s = "__REALTIME_TIMESTAMP=" + std::to_string(realtime_usec) + "\n";
  s += "__MONOTONIC_TIMESTAMP=" + std::to_string(monotonic) + "\n";
  s += "_BOOT_ID=0123456789abcdef0123456789abcdef\n";
  for (const auto& [k, v] : fields) {
    if (v.find('\n') == std::string::npos) {
      s += k + "=" + v + "\n";
      continue;
    }
    s += k + "\n";
    uint64_t n = v.size();
    for (int i = 0; i < 8; ++i) s += static_cast<char>((n >> (8 * i)) & 0xff);  // little-endian
    s += v + "\n";
  }
  return s + "\n";
}

// A running `systemd-journal-remote --output=PATH -` fed through a pipe.
class RemoteWriter {
 public:
  RemoteWriter(const std::string& bin, const std::string& path) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], 0);
    std::string out = "--output=" + path;
    std::vector<char*> argv = {const_cast<char*>(bin.c_str()), const_cast<char*>(out.c_str()),
                               const_cast<char*>("-"), nullptr};
    if (posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[0]);
    in_ = p[1];
  }
  ~RemoteWriter() { finish(); }
  bool running() const { return pid_ > 0; }
  bool write(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(in_, s.data() + off, s.size() - off);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Closes its input and returns its exit status (0: every entry written).
  int finish() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
    if (pid_ <= 0) return -1;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
};

struct Got {
  std::string line;
  double time;
};

class Journal : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    bin_ = remote_binary();
    if (bin_.empty()) {
      const char* ci = std::getenv("CI");
      if (ci && std::string(ci) == "true")
        FAIL() << "systemd-journal-remote is missing (tools/deps.txt; run tools/setup.sh)";
      GTEST_SKIP() << "systemd-journal-remote is not installed (apt-get install systemd-journal-remote)";
    }
    char tmpl[] = "/tmp/xdpban-journal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    file_ = dir_ + "/x.journal";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Appends entries with a separate systemd-journal-remote run.
  void write(const std::vector<std::string>& entries, const std::string& path = "") {
    RemoteWriter w(bin_, path.empty() ? file_ : path);
    ASSERT_TRUE(w.running());
    std::string all;
    for (const auto& e : entries) all += e;
    ASSERT_TRUE(w.write(all));
    ASSERT_EQ(w.finish(), 0);
  }
  // An entry of sshd with MESSAGE=msg at `t` (default: now).
  static std::string sshd(const std::string& msg, uint64_t t = 0, Fields extra = {}) {
    Fields f = {{"_HOSTNAME", "web1"},
                {"SYSLOG_IDENTIFIER", "sshd"},
                {"_PID", "4242"},
                {"_COMM", "sshd"},
                {"_SYSTEMD_UNIT", "sshd.service"}};
    f.insert(f.end(), extra.begin(), extra.end());
    f.emplace_back("MESSAGE", msg);
    return export_entry(t ? t : now_usec(), f);
  }

  std::unique_ptr<JournalSource> open(JournalOptions o) {
    if (o.files.empty() && o.directory.empty()) o.files = {file_};
    auto s = JournalSource::open(o);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }
  static JournalOptions from_head(std::vector<std::string> match = {}) {
    JournalOptions o;
    o.match = std::move(match);
    o.start_age = int64_t{100} * 365 * 86400;
    return o;
  }
  // Every entry available now, in as many polls as needed.
  static std::vector<Got> drain(JournalSource& s, size_t batch = JournalSource::kBatch) {
    std::vector<Got> got;
    for (;;) {
      auto r = s.poll([&](std::string_view l, double t) { got.push_back({std::string(l), t}); }, batch);
      EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
      if (!r.ok() || !r->more) break;
    }
    return got;
  }
  static V lines(const std::vector<Got>& g) {
    V v;
    for (const auto& x : g) v.push_back(x.line);
    return v;
  }
  // The last word of each line (the tests' messages are single words).
  static V messages(const std::vector<Got>& g) {
    V v;
    for (const auto& x : g) v.push_back(x.line.substr(x.line.rfind(' ') + 1));
    return v;
  }
  // Waits on fd() (and timeout_ms()) like the event loop, until `n` entries came.
  static V follow(JournalSource& s, size_t n, int max_ms = 5000) {
    std::vector<Got> got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (got.size() < n) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
              .count();
      if (left <= 0) break;
      int t = s.timeout_ms();
      pollfd p{s.fd(), POLLIN, 0};
      ::poll(&p, 1, t < 0 ? static_cast<int>(left) : std::min<int>(t, static_cast<int>(left)));
      auto more = drain(s);
      got.insert(got.end(), more.begin(), more.end());
    }
    return messages(got);
  }
  std::vector<Got> read_all(std::vector<std::string> match = {}) {
    auto s = open(from_head(std::move(match)));
    return s ? drain(*s) : std::vector<Got>{};
  }

  std::string bin_, dir_, file_;
};

// The expected lines are what fail2ban 1.0.2's FilterSystemd.formatJournalEntry
// returns for the same entries (with python-systemd's field converters), but for
// a PID that is no number, which python shows as its bytes repr.
TEST_F(Journal, FormatsEntriesLikeFail2ban) {
  uint64_t t = now_usec() - 60'000'000;
  auto e = [&](Fields f) { return export_entry(t += 1000, f); };
  write({
      e({{"_HOSTNAME", "web1"},
         {"SYSLOG_IDENTIFIER", "sshd"},
         {"_PID", "4242"},
         {"_COMM", "sshd"},
         {"MESSAGE", "Failed password for root from 192.0.2.7 port 22 ssh2"}}),
      e({{"_HOSTNAME", "web1"}, {"_COMM", "dovecot"}, {"_PID", "7"}, {"MESSAGE", "auth failed"}}),
      e({{"_HOSTNAME", "web1"},
         {"SYSLOG_IDENTIFIER", "postfix/smtpd"},
         {"SYSLOG_PID", "99"},
         {"_PID", "1"},
         {"MESSAGE", "warning: SASL LOGIN authentication failed"}}),
      e({{"SYSLOG_IDENTIFIER", "app"}, {"MESSAGE", "no pid, no host"}}),
      e({{"_HOSTNAME", "web1"},
         {"SYSLOG_IDENTIFIER", "kernel"},
         {"_SOURCE_MONOTONIC_TIMESTAMP", "12345678"},
         {"MESSAGE", "IN=eth0 SRC=198.51.100.1"}}),
      e({{"_HOSTNAME", "web1"},
         {"SYSLOG_IDENTIFIER", "sshd"},
         {"_PID", "5"},
         {"MESSAGE", "line one\nline two"}}),
      e({{"MESSAGE", "only a message"}}),
      e({{"_HOSTNAME", "web1"},
         {"SYSLOG_IDENTIFIER", "sshd"},
         {"SYSLOG_PID", "0"},
         {"_PID", "77"},
         {"MESSAGE", "x"}}),
      e({{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "sshd"}, {"_PID", "12"}}),
      e({{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "app"}, {"SYSLOG_PID", "007"}, {"MESSAGE", "padded"}}),
      e({{"_HOSTNAME", "web1"},
         {"SYSLOG_IDENTIFIER", "app"},
         {"SYSLOG_PID", "worker"},
         {"MESSAGE", "named"}}),
      export_entry(t += 1000, {{"_HOSTNAME", "web1"}, {"SYSLOG_IDENTIFIER", "kernel"}, {"MESSAGE", "mono"}},
                   5000),
      e({{"MESSAGE", "part one"}, {"MESSAGE", "part two"}}),
  });
  EXPECT_EQ(lines(read_all()), (V{
                                   "web1 sshd[4242]: Failed password for root from 192.0.2.7 port 22 ssh2",
                                   "web1 dovecot[7]: auth failed",
                                   "web1 postfix/smtpd[99]: warning: SASL LOGIN authentication failed",
                                   "app: no pid, no host",
                                   "web1 kernel: [   12.345678] IN=eth0 SRC=198.51.100.1",
                                   "web1 sshd[5]: line one\\nline two",
                                   "only a message",
                                   "web1 sshd[77]: x",
                                   "web1 sshd[12]: ",
                                   "web1 app[7]: padded",
                                   "web1 app[worker]: named",  // python: "[b'worker']"
                                   "web1 kernel: [    0.005000] mono",
                                   "part one part two",
                               }));
}

TEST_F(Journal, RealtimeTimestampsComeThrough) {
  uint64_t t1 = 1795317810008726, t2 = 1795317811000001, source = 1795317800123456;
  write({sshd("first", t1), sshd("second", t2),
         sshd("relayed", t2 + 1, {{"_SOURCE_REALTIME_TIMESTAMP", "1795317800123456"}})});
  auto got = read_all();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_NEAR(got[0].time, static_cast<double>(t1) / 1e6, 1e-6);
  EXPECT_NEAR(got[1].time, static_cast<double>(t2) / 1e6, 1e-6);
  // As fail2ban: the time the source gave (_SOURCE_REALTIME_TIMESTAMP) wins.
  EXPECT_NEAR(got[2].time, static_cast<double>(source) / 1e6, 1e-6);
}

TEST_F(Journal, MatchesAndOrGroups) {
  uint64_t t = now_usec() - 60'000'000;
  auto e = [&](Fields f) { return export_entry(t += 1000, f); };
  write({
      e({{"_SYSTEMD_UNIT", "sshd.service"}, {"_COMM", "sshd"}, {"PRIORITY", "5"}, {"MESSAGE", "e1"}}),
      e({{"_SYSTEMD_UNIT", "sshd.service"}, {"_COMM", "sshd"}, {"PRIORITY", "6"}, {"MESSAGE", "e2"}}),
      e({{"_SYSTEMD_UNIT", "other.service"}, {"_COMM", "sshd"}, {"PRIORITY", "5"}, {"MESSAGE", "e3"}}),
      e({{"_SYSTEMD_UNIT", "nginx.service"}, {"_COMM", "nginx"}, {"MESSAGE", "e4"}}),
      e({{"_SYSTEMD_UNIT", "postfix.service"}, {"SYSLOG_IDENTIFIER", "postfix/smtpd"}, {"MESSAGE", "e5"}}),
  });
  EXPECT_EQ(messages(read_all()), (V{"e1", "e2", "e3", "e4", "e5"}));
  // Terms on different fields are ANDed.
  EXPECT_EQ(messages(read_all({"_SYSTEMD_UNIT=sshd.service PRIORITY=5"})), (V{"e1"}));
  // `+` starts an ORed group (sshd.conf's journalmatch).
  EXPECT_EQ(messages(read_all({"_SYSTEMD_UNIT=sshd.service + _COMM=sshd"})), (V{"e1", "e2", "e3"}));
  EXPECT_EQ(messages(read_all({"_SYSTEMD_UNIT=nginx.service _COMM=nginx + SYSLOG_IDENTIFIER=postfix/smtpd"})),
            (V{"e4", "e5"}));
  EXPECT_EQ(messages(read_all({"PRIORITY=5 _COMM=sshd + _COMM=nginx"})), (V{"e1", "e3", "e4"}));
  // Several journalmatch lines are ORed, as fail2ban's addjournalmatch calls.
  EXPECT_EQ(messages(read_all({"_SYSTEMD_UNIT=nginx.service", "_SYSTEMD_UNIT=postfix.service"})),
            (V{"e4", "e5"}));
  // Terms on the same field are ORed (journalctl's rule).
  EXPECT_EQ(messages(read_all({"_SYSTEMD_UNIT=sshd.service _SYSTEMD_UNIT=nginx.service"})),
            (V{"e1", "e2", "e4"}));
  // Words are split like a shell, as fail2ban's shlex.split.
  EXPECT_EQ(messages(read_all({"'_SYSTEMD_UNIT=other.service'"})), (V{"e3"}));
  EXPECT_TRUE(read_all({"_COMM=nobody"}).empty());
}

TEST(JournalMatch, ParsesFail2banSyntax) {
  auto g = parse_journalmatch({"_SYSTEMD_UNIT=sshd.service + _COMM=sshd", "A=1 \"B=two words\" + + C=x\\ y"});
  ASSERT_TRUE(g.ok()) << g.error().message;
  using G = std::vector<std::vector<std::string>>;
  EXPECT_EQ(*g, (G{{"_SYSTEMD_UNIT=sshd.service"}, {"_COMM=sshd"}, {"A=1", "B=two words"}, {"C=x y"}}));
  EXPECT_TRUE(parse_journalmatch({}).value().empty());
}

TEST(JournalMatch, BadTermsAreErrorsNamingThem) {
  auto a = parse_journalmatch({"_SYSTEMD_UNIT sshd.service"});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("'_SYSTEMD_UNIT' is not FIELD=value"), std::string::npos)
      << a.error().message;
  auto b = parse_journalmatch({"unit=sshd"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("'unit=sshd'"), std::string::npos) << b.error().message;
  auto c = parse_journalmatch({"_COMM=\"sshd"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("no closing quotation"), std::string::npos) << c.error().message;
}

TEST_F(Journal, OpenErrorsNameTheInput) {
  JournalOptions o;
  o.files = {dir_ + "/missing.journal"};
  auto r = JournalSource::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(dir_ + "/missing.journal"), std::string::npos) << r.error().message;

  write({sshd("one")});
  o.files = {file_};
  o.match = {"_COMM"};
  r = JournalSource::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'_COMM'"), std::string::npos) << r.error().message;

  o.match = {};
  o.cursor = "not a cursor";
  r = JournalSource::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cursor 'not a cursor'"), std::string::npos) << r.error().message;

  o.cursor.reset();
  o.directory = dir_;
  r = JournalSource::open(o);
  ASSERT_FALSE(r.ok());
}

TEST_F(Journal, SavedCursorResumesWithoutRereadingOrSkipping) {
  uint64_t t = now_usec() - 60'000'000;
  std::vector<std::string> entries;
  for (int i = 1; i <= 6; ++i) entries.push_back(sshd("m" + std::to_string(i), t += 1000));
  write(entries);

  std::string cursor;
  {
    auto s = open(from_head());
    std::vector<Got> got;
    auto fn = [&](std::string_view l, double tm) { got.push_back({std::string(l), tm}); };
    auto r = s->poll(fn, 2);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->entries, 2u);
    EXPECT_TRUE(r->more);
    EXPECT_EQ(s->timeout_ms(), 0);  // a backlog is left: do not wait for the fd
    ASSERT_TRUE(s->poll(fn, 2).ok());
    EXPECT_EQ(messages(got), (V{"m1", "m2", "m3", "m4"}));
    cursor = s->cursor();
    EXPECT_FALSE(cursor.empty());
  }
  {
    JournalOptions o;
    o.cursor = cursor;
    auto s = open(o);
    EXPECT_EQ(messages(drain(*s)), (V{"m5", "m6"}));
    cursor = s->cursor();
  }
  // At the end: nothing again, then only what was appended.
  JournalOptions o;
  o.cursor = cursor;
  auto s = open(o);
  EXPECT_TRUE(drain(*s).empty());
  EXPECT_EQ(s->cursor(), cursor);
  write({sshd("m7")});
  EXPECT_EQ(follow(*s, 1), (V{"m7"}));

  // With a match, the cursor of the last matching entry resumes after it.
  write({sshd("m8", 0, {{"PRIORITY", "3"}}), sshd("m9"), sshd("m10", 0, {{"PRIORITY", "3"}})});
  auto m = open(from_head({"PRIORITY=3"}));
  auto got = drain(*m, 1);
  EXPECT_EQ(messages(got), (V{"m8", "m10"}));
  JournalOptions again;
  again.match = {"PRIORITY=3"};
  again.cursor = m->cursor();
  auto m2 = open(again);
  EXPECT_TRUE(drain(*m2).empty());
  write({sshd("m11", 0, {{"PRIORITY", "3"}})});
  EXPECT_EQ(follow(*m2, 1), (V{"m11"}));
}

TEST_F(Journal, BoundedWorkPerPoll) {
  uint64_t t = now_usec() - 60'000'000;
  std::string big;
  for (int i = 0; i < 1200; ++i) big += sshd("b" + std::to_string(i), t += 10);
  write({big});
  auto s = open(from_head());
  size_t n = 0;
  auto fn = [&](std::string_view, double) { ++n; };
  auto r = s->poll(fn);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, JournalSource::kBatch);
  EXPECT_TRUE(r->more);
  r = s->poll(fn);
  EXPECT_TRUE(r->more);
  r = s->poll(fn);
  EXPECT_EQ(r->entries, 1200 - 2 * JournalSource::kBatch);
  EXPECT_FALSE(r->more);
  EXPECT_EQ(n, 1200u);
}

TEST_F(Journal, StartsAtTheTailByDefault) {
  write({sshd("old1"), sshd("old2")});
  auto s = open(JournalOptions{});
  EXPECT_TRUE(drain(*s).empty());
  EXPECT_FALSE(s->cursor().empty());  // the last old entry: a restart would not re-read it
  write({sshd("new1")});
  EXPECT_EQ(follow(*s, 1), (V{"new1"}));
}

TEST_F(Journal, TailWithNoMatchingEntryYet) {
  write({sshd("other")});
  JournalOptions o;
  o.match = {"_SYSTEMD_UNIT=nginx.service"};
  auto s = open(o);
  EXPECT_TRUE(drain(*s).empty());
  EXPECT_TRUE(s->cursor().empty());
  write({sshd("still-other"),
         export_entry(now_usec(), {{"_SYSTEMD_UNIT", "nginx.service"}, {"MESSAGE", "n1"}})});
  EXPECT_EQ(follow(*s, 1), (V{"n1"}));
}

TEST_F(Journal, StartsAtNowMinusAge) {
  uint64_t now = now_usec();
  write(
      {sshd("hour-ago", now - 3600'000'000ull), sshd("minute-ago", now - 60'000'000), sshd("just-now", now)});
  JournalOptions o;
  o.start_age = 600;
  auto s = open(o);
  EXPECT_EQ(s->timeout_ms(), 0);  // the first entry is waiting
  EXPECT_EQ(messages(drain(*s)), (V{"minute-ago", "just-now"}));
  // Nothing that recent: positioned behind the last entry, new ones still come.
  o.start_age = 0;
  auto later = open(o);
  write({export_entry(now_usec() + 5'000'000, {{"MESSAGE", "future"}})});
  EXPECT_EQ(follow(*later, 1), (V{"future"}));
}

TEST_F(Journal, FollowsAWriterThatKeepsAppending) {
  write({sshd("before")});
  auto s = open(JournalOptions{});
  RemoteWriter w(bin_, file_);
  ASSERT_TRUE(w.running());
  for (int i = 0; i < 5; ++i) {
    std::string msg = "live" + std::to_string(i);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(w.write(sshd(msg)));
    EXPECT_EQ(follow(*s, 1), (V{msg}));
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start)
                  .count() /
              1000.0;
    RecordProperty("latency_ms_" + std::to_string(i), std::to_string(ms));
  }
  EXPECT_EQ(w.finish(), 0);
  EXPECT_TRUE(drain(*s).empty());
}

TEST_F(Journal, DirectorySeesNewJournalFiles) {
  write({sshd("a1")}, dir_ + "/a.journal");
  JournalOptions o;
  o.directory = dir_;
  auto s = open(o);
  EXPECT_TRUE(drain(*s).empty());
  write({sshd("b1", now_usec() + 1000)}, dir_ + "/b.journal");
  EXPECT_EQ(follow(*s, 1), (V{"b1"}));
  write({sshd("a2", now_usec() + 2000)}, dir_ + "/a.journal");
  EXPECT_EQ(follow(*s, 1), (V{"a2"}));
  // A file removed (vacuumed) while followed: the others go on.
  fs::remove(dir_ + "/a.journal");
  write({sshd("b2", now_usec() + 3000)}, dir_ + "/b.journal");
  EXPECT_EQ(follow(*s, 1), (V{"b2"}));
}

}  // namespace
}  // namespace xdpban
