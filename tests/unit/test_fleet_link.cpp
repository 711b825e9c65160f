// FleetLink against a real nats-server with JetStream, started (and killed) by
// each test on a free loopback port with a store directory of its own.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/fleet_link.h"

namespace xdpban {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Event = FleetLink::Event;
using Op = FleetLink::Op;

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::abort();
  ::close(s);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

// One nats-server child process; killed by the destructor, so a failing test
// never leaves one behind.
class NatsServer {
 public:
  NatsServer(int port, fs::path dir, std::vector<std::string> extra)
      : port_(port), dir_(std::move(dir)), extra_(std::move(extra)) {}
  ~NatsServer() { kill(SIGTERM); }

  bool start() {
    std::vector<std::string> args = {"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port_)};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = (dir_ / "server.log").string();
    // The child dies with this process even when a test crashes (no teardown).
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp("nats-server", argv.data());
      ::_exit(127);
    }
    for (auto end = Clock::now() + std::chrono::seconds(10); Clock::now() < end;) {
      if (port_open(port_)) return true;
      ::usleep(20000);
    }
    return false;
  }
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int st;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  int port_;
  fs::path dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

bool have_nats_server() { return std::system("command -v nats-server >/dev/null 2>&1") == 0; }

class FleetLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_nats_server()) {
      // CI installs it (tools/deps.txt): there a missing broker is a failure, not a skip.
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
        FAIL() << "nats-server is not installed (tools/deps.txt) and CI=true";
      GTEST_SKIP() << "nats-server is not installed (tools/deps.txt)";
    }
    char tmpl[] = "/tmp/xdpban-fleet-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    port_ = free_port();
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void start_server(std::vector<std::string> extra = {"-js"}) {
    if (std::find(extra.begin(), extra.end(), "-js") != extra.end()) {
      extra.push_back("-sd");
      extra.push_back((dir_ / "store").string());
    }
    server_ = std::make_unique<NatsServer>(port_, dir_, std::move(extra));
    ASSERT_TRUE(server_->start()) << "nats-server did not start";
  }

  FleetSettings settings(const std::string& node) const {
    FleetSettings s;
    s.enabled = true;
    s.servers = {"nats://127.0.0.1:" + std::to_string(port_)};
    s.node = node;
    return s;
  }

  std::unique_ptr<FleetLink> link(const FleetSettings& s) {
    auto l = FleetLink::start(s);
    EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message);
    return l.ok() ? std::move(*l) : nullptr;
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<NatsServer> server_;
};

// Collects a link's events until `done` says so or the time is up.
struct Events {
  std::vector<Event> all;

  bool wait(FleetLink& l, const std::function<bool(const std::vector<Event>&)>& done,
            int timeout_ms = 15000) {
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (done(all)) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{l.event_fd(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100))) > 0)
        for (auto& e : l.take()) all.push_back(std::move(e));
    }
  }
  size_t count(Event::Kind k) const {
    return std::count_if(all.begin(), all.end(), [&](const Event& e) { return e.kind == k; });
  }
  const Event* done(uint64_t seq) const {
    for (const auto& e : all)
      if (e.kind == Event::kDone && e.seq == seq) return &e;
    return nullptr;
  }
  // The latest entry seen for key.
  const Event* entry(const std::string& key) const {
    const Event* found = nullptr;
    for (const auto& e : all)
      if (e.kind == Event::kEntry && e.key == key) found = &e;
    return found;
  }
  bool snapshot_done(uint64_t watch) const {
    for (const auto& e : all)
      if (e.kind == Event::kSnapshotDone && e.watch == watch) return true;
    return false;
  }
};

auto has_done(uint64_t seq) {
  return [seq](const std::vector<Event>& all) {
    return std::any_of(all.begin(), all.end(),
                       [&](const Event& e) { return e.kind == Event::kDone && e.seq == seq; });
  };
}

std::string record(const std::string& cidr, const std::string& origin, int64_t start, int64_t expiry) {
  FleetRecord r;
  r.cidr = *Cidr::parse(cidr);
  r.jail = "sshd";
  r.origin = origin;
  r.start = start;
  r.expiry = expiry;
  r.failures = 5;
  return encode_fleet_record(r);
}

Op put(const std::string& cidr, const std::string& value, uint64_t seq) {
  return Op{.kind = Op::kPut, .key = fleet_key(*Cidr::parse(cidr)), .value = value, .seq = seq};
}

int64_t now() { return ::time(nullptr); }

TEST_F(FleetLinkTest, PutOnOneLinkIsWatchedByAnotherSnapshotThenLive) {
  start_server();
  auto a = link(settings("edge-a"));
  ASSERT_TRUE(a);
  const std::string v1 = record("203.0.113.7", "edge-a", now(), now() + 600);
  a->send(put("203.0.113.7", v1, 1));
  Events ea;
  ASSERT_TRUE(ea.wait(*a, has_done(1)));
  EXPECT_FALSE(ea.done(1)->beaten);
  EXPECT_EQ(ea.count(Event::kConnected), 1u);
  EXPECT_EQ(ea.all.front().kind, Event::kConnected);
  EXPECT_EQ(ea.all.front().text, server_->url());

  auto b = link(settings("edge-b"));
  ASSERT_TRUE(b);
  Events eb;
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.snapshot_done(1); }));
  const Event* e = eb.entry("203.0.113.7/32");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, v1);
  EXPECT_FALSE(e->deleted);
  EXPECT_EQ(e->watch, 1u);
  EXPECT_GT(e->revision, 0u);
  EXPECT_NEAR(static_cast<double>(e->created_ns) / 1e9, static_cast<double>(now()), 30.0);
  auto st = b->status();
  EXPECT_TRUE(st.connected);
  EXPECT_EQ(st.server, server_->url());
  EXPECT_EQ(st.watch, 1u);
  EXPECT_TRUE(st.snapshot_done);
  EXPECT_EQ(st.last_error, "");

  // Live: a put after the snapshot, IPv6 key form.
  const std::string v2 = record("2001:db8::/32", "edge-a", now(), 0);
  a->send(put("2001:db8::/32", v2, 2));
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.entry("2001_db8__/32") != nullptr; }));
  EXPECT_EQ(eb.entry("2001_db8__/32")->value, v2);
  EXPECT_EQ(eb.entry("2001_db8__/32")->watch, 1u);
  EXPECT_EQ(eb.count(Event::kSnapshotDone), 1u);

  // Drained: the eventfd is clear.
  (void)b->take();
  pollfd p{b->event_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  EXPECT_EQ(b->status().queued, 0u);
}

TEST_F(FleetLinkTest, LatestExpiryWinsWhenPutting) {
  start_server();
  auto a = link(settings("edge-a"));
  auto b = link(settings("edge-b"));
  ASSERT_TRUE(a && b);
  Events ea, eb;
  // b watches before the first write, or its watch starts at a later value.
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.snapshot_done(1); }));
  const int64_t t = now();
  const std::string first = record("198.51.100.0/24", "edge-a", t, t + 1000);
  a->send(put("198.51.100.0/24", first, 1));
  ASSERT_TRUE(ea.wait(*a, has_done(1)));

  // An earlier expiry loses: nothing written.
  b->send(put("198.51.100.0/24", record("198.51.100.0/24", "edge-b", t, t + 500), 1));
  ASSERT_TRUE(eb.wait(*b, has_done(1)));
  EXPECT_TRUE(eb.done(1)->beaten);
  // A later one replaces it.
  const std::string later = record("198.51.100.0/24", "edge-b", t, t + 2000);
  b->send(put("198.51.100.0/24", later, 2));
  ASSERT_TRUE(eb.wait(*b, has_done(2)));
  EXPECT_FALSE(eb.done(2)->beaten);
  // A permanent ban beats any expiry; a timed one then loses to it.
  const std::string perm = record("198.51.100.0/24", "edge-a", t, 0);
  a->send(put("198.51.100.0/24", perm, 2));
  a->send(put("198.51.100.0/24", record("198.51.100.0/24", "edge-a", t, t + 99999), 3));
  ASSERT_TRUE(ea.wait(*a, has_done(3)));
  EXPECT_FALSE(ea.done(2)->beaten);
  EXPECT_TRUE(ea.done(3)->beaten);

  // Both watchers saw the written values in order and end on the permanent one.
  ASSERT_TRUE(eb.wait(
      *b, [&](auto&) { return eb.entry("198.51.100.0/24") && eb.entry("198.51.100.0/24")->value == perm; }));
  std::vector<std::string> seen;
  for (const auto& e : eb.all)
    if (e.kind == Event::kEntry) seen.push_back(e.value);
  EXPECT_EQ(seen, (std::vector<std::string>{first, later, perm}));
}

TEST_F(FleetLinkTest, ExpireDeletesOnlyAnExpiredRecord) {
  start_server();
  auto a = link(settings("edge-a"));
  auto b = link(settings("edge-b"));
  ASSERT_TRUE(a && b);
  const int64_t t = now();
  // a's ban ran out; b then banned the same cidr for longer.
  const std::string mine = record("192.0.2.1", "edge-a", t - 100, t - 1);
  a->send(put("192.0.2.1", mine, 1));
  Events ea, eb;
  ASSERT_TRUE(ea.wait(*a, has_done(1)));
  const std::string longer = record("192.0.2.1", "edge-b", t, t + 3600);
  b->send(put("192.0.2.1", longer, 1));
  ASSERT_TRUE(eb.wait(*b, has_done(1)));
  EXPECT_FALSE(eb.done(1)->beaten);
  a->send(Op{.kind = Op::kExpire, .key = "192.0.2.1/32", .value = mine, .seq = 2});
  // An expired record alone is deleted.
  const std::string gone = record("192.0.2.2", "edge-a", t - 100, t - 1);
  a->send(put("192.0.2.2", gone, 3));
  a->send(Op{.kind = Op::kExpire, .key = "192.0.2.2/32", .value = gone, .seq = 4});
  // An expire of a key that is not there is simply done.
  a->send(Op{.kind = Op::kExpire, .key = "192.0.2.3/32", .value = gone, .seq = 5});
  ASSERT_TRUE(ea.wait(*a, has_done(5)));
  ASSERT_TRUE(
      eb.wait(*b, [&](auto&) { return eb.entry("192.0.2.2/32") && eb.entry("192.0.2.2/32")->deleted; }));
  EXPECT_EQ(eb.entry("192.0.2.1/32")->value, longer);
  EXPECT_FALSE(eb.entry("192.0.2.1/32")->deleted);

  // A new watcher's snapshot agrees.
  auto c = link(settings("edge-c"));
  Events ec;
  ASSERT_TRUE(ec.wait(*c, [&](auto&) { return ec.snapshot_done(1); }));
  ASSERT_NE(ec.entry("192.0.2.1/32"), nullptr);
  EXPECT_EQ(ec.entry("192.0.2.1/32")->value, longer);
  const Event* d = ec.entry("192.0.2.2/32");
  EXPECT_TRUE(d == nullptr || d->deleted);
}

TEST_F(FleetLinkTest, DeleteIsSeenAsADeletedEntry) {
  start_server();
  auto a = link(settings("edge-a"));
  auto b = link(settings("edge-b"));
  ASSERT_TRUE(a && b);
  Events ea, eb;
  const std::string v = record("203.0.113.9", "edge-a", now(), now() + 60);
  a->send(put("203.0.113.9", v, 1));
  a->send(Op{.kind = Op::kDelete, .key = "203.0.113.9/32", .seq = 2});
  ASSERT_TRUE(ea.wait(*a, has_done(2)));
  ASSERT_TRUE(
      eb.wait(*b, [&](auto&) { return eb.entry("203.0.113.9/32") && eb.entry("203.0.113.9/32")->deleted; }));
  EXPECT_EQ(eb.entry("203.0.113.9/32")->value, "");
  // A put after the delete creates the key again.
  a->send(put("203.0.113.9", v, 3));
  ASSERT_TRUE(ea.wait(*a, has_done(3)));
  EXPECT_FALSE(ea.done(3)->beaten);
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return !eb.entry("203.0.113.9/32")->deleted; }));
  EXPECT_EQ(eb.entry("203.0.113.9/32")->value, v);
}

TEST_F(FleetLinkTest, OpsWaitWhileTheBrokerIsDownAndTheWatchStartsOver) {
  start_server();
  auto a = link(settings("edge-a"));
  auto b = link(settings("edge-b"));
  ASSERT_TRUE(a && b);
  Events ea, eb;
  a->send(put("203.0.113.1", record("203.0.113.1", "edge-a", now(), now() + 600), 1));
  ASSERT_TRUE(ea.wait(*a, has_done(1)));
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.snapshot_done(1) && eb.entry("203.0.113.1/32"); }));

  server_->kill(SIGKILL);
  ASSERT_TRUE(ea.wait(*a, [&](auto&) { return ea.count(Event::kDisconnected) == 1; }));
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.count(Event::kDisconnected) == 1; }));
  EXPECT_FALSE(a->status().connected);
  for (uint64_t seq = 2; seq <= 11; ++seq) {
    std::string cidr = "203.0.113." + std::to_string(seq);
    a->send(put(cidr, record(cidr, "edge-a", now(), now() + 600), seq));
  }
  a->send(Op{.kind = Op::kDelete, .key = "203.0.113.1/32", .seq = 12});
  ::usleep(500000);
  EXPECT_EQ(a->status().queued, 11u);
  EXPECT_EQ(ea.done(2), nullptr);

  start_server();
  ASSERT_TRUE(ea.wait(*a, has_done(12), 30000));
  for (uint64_t seq = 2; seq <= 12; ++seq) {
    ASSERT_NE(ea.done(seq), nullptr) << seq;
    EXPECT_FALSE(ea.done(seq)->beaten);
  }
  // In order: every done after the one before it.
  uint64_t last = 0;
  for (const auto& e : ea.all)
    if (e.kind == Event::kDone) {
      EXPECT_EQ(e.seq, last + 1);
      last = e.seq;
    }
  EXPECT_EQ(a->status().queued, 0u);
  EXPECT_TRUE(a->status().connected);

  // b: a new watch with its own snapshot that holds what a wrote while down.
  ASSERT_TRUE(eb.wait(
      *b,
      [&](auto&) {
        const Event* d = eb.entry("203.0.113.1/32");
        return eb.entry("203.0.113.11/32") && d && d->deleted && eb.count(Event::kSnapshotDone) >= 2;
      },
      30000));
  EXPECT_GE(eb.count(Event::kConnected), 2u);
  uint64_t w = b->status().watch;
  EXPECT_GE(w, 2u);
  EXPECT_TRUE(eb.snapshot_done(w) || b->status().snapshot_done);
  EXPECT_GE(eb.entry("203.0.113.11/32")->watch, 2u);
}

TEST_F(FleetLinkTest, ABrokerDownAtStartIsRetried) {
  auto a = link(settings("edge-a"));
  ASSERT_TRUE(a);
  Events ea;
  a->send(put("203.0.113.5", record("203.0.113.5", "edge-a", now(), now() + 60), 1));
  ASSERT_TRUE(ea.wait(*a, [&](auto&) { return ea.count(Event::kError) >= 1; }));
  const Event* err = nullptr;
  for (const auto& e : ea.all)
    if (e.kind == Event::kError) err = &e;
  EXPECT_NE(err->text.find("fleet: nats://127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << err->text;
  EXPECT_FALSE(a->status().connected);
  EXPECT_EQ(a->status().last_error, err->text);
  EXPECT_EQ(a->status().queued, 1u);
  // Retries do not repeat the same error.
  ::usleep(1500000);
  (void)ea.wait(
      *a, [](auto&) { return false; }, 100);
  EXPECT_EQ(ea.count(Event::kError), 1u);

  start_server();
  ASSERT_TRUE(ea.wait(*a, has_done(1), 20000));
  EXPECT_TRUE(a->status().connected);
  EXPECT_EQ(a->status().last_error, "");
  ASSERT_TRUE(ea.wait(*a, [&](auto&) { return ea.snapshot_done(1) && ea.entry("203.0.113.5/32"); }));
}

TEST_F(FleetLinkTest, AWrongPasswordIsAClearErrorAndTheLinkKeepsTrying) {
  start_server({"-js", "--user", "xdp", "--pass", "right"});
  auto s = settings("edge-a");
  s.user = "xdp";
  s.password = "wrong";
  auto a = link(s);
  ASSERT_TRUE(a);
  Events ea;
  ASSERT_TRUE(ea.wait(*a, [&](auto&) { return ea.count(Event::kError) >= 1; }));
  const Event& err =
      *std::find_if(ea.all.begin(), ea.all.end(), [](auto& e) { return e.kind == Event::kError; });
  EXPECT_EQ(err.text, "fleet: " + server_->url() + ": authorization violation");
  ::usleep(1500000);
  (void)ea.wait(
      *a, [](auto&) { return false; }, 100);
  EXPECT_EQ(ea.count(Event::kError), 1u);
  EXPECT_EQ(ea.count(Event::kConnected), 0u);
  EXPECT_FALSE(a->status().connected);

  s.password = "right";
  auto b = link(s);
  Events eb;
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.snapshot_done(1); }));
  EXPECT_EQ(eb.count(Event::kError), 0u);
}

TEST_F(FleetLinkTest, NoJetStreamIsAClearError) {
  start_server({});
  auto a = link(settings("edge-a"));
  ASSERT_TRUE(a);
  Events ea;
  ASSERT_TRUE(ea.wait(*a, [&](auto&) { return ea.count(Event::kError) >= 1; }));
  const Event& err =
      *std::find_if(ea.all.begin(), ea.all.end(), [](auto& e) { return e.kind == Event::kError; });
  EXPECT_NE(err.text.find("JetStream is not enabled"), std::string::npos) << err.text;
  EXPECT_TRUE(a->status().connected);
}

TEST_F(FleetLinkTest, SettingsItCannotUseFailTheStart) {
  FleetSettings s;
  EXPECT_FALSE(FleetLink::start(s).ok());
  s = settings("edge-a");
  s.creds = (dir_ / "missing.creds").string();
  auto r = FleetLink::start(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("missing.creds"), std::string::npos);
  s = settings("edge-a");
  s.tls_ca = (dir_ / "missing-ca.pem").string();
  EXPECT_FALSE(FleetLink::start(s).ok());
}

TEST_F(FleetLinkTest, StopsPromptlyWhenTheBrokerIsDownOrGone) {
  auto a = link(settings("edge-a"));
  a->send(put("203.0.113.5", record("203.0.113.5", "edge-a", now(), now() + 60), 1));
  ::usleep(300000);
  auto t0 = Clock::now();
  a.reset();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(1000));

  start_server();
  auto b = link(settings("edge-b"));
  Events eb;
  ASSERT_TRUE(eb.wait(*b, [&](auto&) { return eb.snapshot_done(1); }));
  server_->kill(SIGKILL);
  b->send(put("203.0.113.5", record("203.0.113.5", "edge-b", now(), now() + 60), 1));
  ::usleep(300000);
  t0 = Clock::now();
  b.reset();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(1000));
}

// Fills the bucket straight through JetStream (async publishes on the KV
// subjects), then times a new link's snapshot and a link's puts.
TEST_F(FleetLinkTest, SnapshotAndPutRates) {
  start_server();
  const char* env = std::getenv("XDPBAN_FLEET_KEYS");
  const int n = env ? std::atoi(env) : 100000;
  {
    auto a = link(settings("edge-a"));
    Events ea;
    ASSERT_TRUE(ea.wait(*a, [&](auto&) { return ea.snapshot_done(1); }));  // the bucket exists
  }
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, server_->url().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 4096;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, &jo), NATS_OK);
  const int64_t t = now();
  auto fill0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    Address addr =
        Address::v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    std::string cidr = addr.str();
    std::string key = fleet_key(Cidr::host(addr));
    std::string v = record(cidr, "edge-z", t, t + 86400);
    ASSERT_EQ(
        js_PublishAsync(js, ("$KV.xdpban." + key).c_str(), v.data(), static_cast<int>(v.size()), nullptr),
        NATS_OK);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  ASSERT_EQ(js_PublishAsyncComplete(js, &po), NATS_OK);
  double fill_s = std::chrono::duration<double>(Clock::now() - fill0).count();
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  auto t0 = Clock::now();
  auto b = link(settings("edge-b"));
  Events eb;
  size_t entries = 0;  // of the current watch
  uint64_t watch = 0;
  bool done = false;
  std::vector<std::string> errors;
  auto end = t0 + std::chrono::seconds(120);
  while (!done && Clock::now() < end) {
    pollfd p{b->event_fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    for (auto& e : b->take()) {
      if (e.kind == Event::kEntry) {
        if (e.watch != watch) entries = 0;
        watch = e.watch;
        ++entries;
      }
      if (e.kind == Event::kSnapshotDone) done = true;
      if (e.kind == Event::kError || e.kind == Event::kDisconnected) errors.push_back(e.text);
    }
  }
  double snap_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& e : errors) ADD_FAILURE() << e;
  ASSERT_TRUE(done) << entries << " entries in watch " << watch << " after " << snap_s << " s";
  EXPECT_EQ(watch, 1u);
  EXPECT_EQ(entries, static_cast<size_t>(n));
  std::printf(
      "fleet_link: filled %d keys in %.2f s; snapshot of %zu keys through a new link in %.2f s = %.0f "
      "keys/s\n",
      n, fill_s, entries, snap_s, static_cast<double>(entries) / snap_s);

  const int puts = 2000;
  t0 = Clock::now();
  for (int i = 0; i < puts; ++i) {
    Address addr = Address::v4(172, 16, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    b->send(put(addr.str(), record(addr.str(), "edge-b", t, t + 600), static_cast<uint64_t>(i + 1)));
  }
  ASSERT_TRUE(eb.wait(*b, has_done(puts), 120000));
  double put_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("fleet_link: %d puts (get + create each) in %.2f s = %.0f puts/s\n", puts, put_s, puts / put_s);
}

}  // namespace
}  // namespace xdpban
