// The control socket: its framing and answers without a socket, the request
// checks (core/control_request.h) and the server with real sockets: hostile
// requests get an answer and never kill the daemon; a client that does not
// read its answers never holds the loop.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/control_request.h"
#include "core/duration.h"
#include "io/control.h"

namespace xdpban {
namespace {

using nlohmann::json;
using Json = nlohmann::json;

json answer(std::string_view line, const ControlHandler& h) {
  std::string a = answer_request(line, h);
  EXPECT_EQ(a.find('\n'), a.size() - 1) << a;
  return json::parse(a);
}

json echo(const json& req) { return {{"ok", true}, {"cmd", req.value("cmd", "")}}; }

TEST(ControlProtocol, VersionOfAnyTypeIsAnErrorAnswer) {
  // {"v":"1"} made the version check itself throw, outside the handler's
  // try: the exception left the event loop and took xdpband down.
  for (const char* line : {R"({"v":"1","cmd":"ping"})", R"({"v":null})", R"({"v":[1]})", R"({"v":1.5})",
                           R"({"cmd":"ping"})", R"({"v":2,"cmd":"ping"})"}) {
    json a = answer(line, echo);
    EXPECT_EQ(a["ok"], false) << line;
    EXPECT_NE(a["error"].get<std::string>().find("protocol version"), std::string::npos) << line << a;
  }
  EXPECT_EQ(answer(R"({"v":1,"cmd":"ping"})", echo)["cmd"], "ping");
  EXPECT_EQ(answer("[1]", echo)["error"], "request is not a JSON object");
  EXPECT_EQ(answer("{", echo)["error"], "request is not a JSON object");
}

TEST(ControlProtocol, HandlerExceptionsAndBrokenTextBecomeAnswers) {
  auto typed = [](const json& req) -> json { return {{"ok", true}, {"n", req.at("n").get<int64_t>()}}; };
  json a = answer(R"({"v":1,"n":"seven"})", typed);
  EXPECT_EQ(a["ok"], false);
  EXPECT_EQ(a["error"].get<std::string>().rfind("bad request: ", 0), 0u) << a;
  // A message cut in the middle of a UTF-8 character must not make dump() throw.
  auto cut = [](const json&) -> json { return {{"ok", false}, {"error", std::string("caf\xc3")}}; };
  a = answer(R"({"v":1})", cut);
  EXPECT_EQ(a["ok"], false);
  EXPECT_EQ(a["error"], "caf\xef\xbf\xbd");
}

// Found by tests/fuzz/fuzz_control: {"duration": 3.6e61} read with
// get<int64_t>() is a float-to-integer conversion out of range (UBSan).
TEST(ControlProtocol, FloatNumbersAreRefused) {
  int calls = 0;
  auto h = [&calls](const json&) -> json {
    ++calls;
    return {{"ok", true}};
  };
  for (const char* line : {R"({"v":1,"cmd":"ban","duration":3.6e61})", R"({"v":1.0,"cmd":"ping"})",
                           R"({"v":1,"cmd":"ban","cidrs":[1.5]})"}) {
    json a = answer(line, h);
    EXPECT_EQ(a["ok"], false) << line;
  }
  EXPECT_EQ(answer(R"({"v":1,"cmd":"ban","duration":3600})", h)["ok"], true);
  EXPECT_EQ(calls, 1);
}

TEST(ControlProtocol, ReaderCutsLinesAcrossChunks) {
  RequestReader r;
  std::string stream = "{\"a\":1}\n\n{\"b\":2}\n{\"c\"";
  std::vector<std::string> got;
  for (char ch : stream) {
    ASSERT_TRUE(r.append(std::string_view(&ch, 1)));
    while (auto line = r.next()) got.push_back(*line);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "", "{\"b\":2}"}));
  ASSERT_TRUE(r.append(":3}\n"));
  EXPECT_EQ(r.next(), "{\"c\":3}");
  EXPECT_EQ(r.next(), std::nullopt);
}

TEST(ControlProtocol, ReaderRefusesOversizedRequest) {
  RequestReader r(100);
  EXPECT_TRUE(r.append(std::string(60, 'x') + "\n"));
  EXPECT_TRUE(r.append(std::string(39, 'y')));  // 100 unanswered bytes: the bound
  EXPECT_EQ(r.next(), std::string(60, 'x'));
  EXPECT_TRUE(r.append(std::string(61, 'y')));  // the answered line no longer counts
  EXPECT_FALSE(r.append("y"));
}

Result<ControlRequest> parse(const char* text) { return parse_control_request(Json::parse(text)); }

TEST(ControlRequest, AcceptsWhatTheCliSends) {
  auto r = parse(R"({"v":1,"cmd":"ban","cidrs":["192.0.2.1","2001:db8::/64"],"jail":"manual",
                     "force":false,"duration":600,"reason":"scanner from ticket #12"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->cmd, ControlRequest::Cmd::kBan);
  EXPECT_EQ(r->cidrs.size(), 2u);
  EXPECT_EQ(*r->duration, 600);
  EXPECT_TRUE(parse(R"({"cmd":"status","jail":""})").ok()) << "an empty jail means every jail";
  EXPECT_TRUE(parse(R"({"cmd":"unban","all":true})").ok());
  EXPECT_TRUE(parse(R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":-1})").ok());
  EXPECT_TRUE(parse(R"({"cmd":"list","cidr":"192.0.2.0/24"})").ok());
  EXPECT_TRUE(parse(R"({"cmd":"ban","cidrs":["192.0.2.1"],"reason":"café ☕"})").ok()) << "UTF-8 is text";
  auto fleet = parse(R"({"cmd":"fleet_status"})");
  ASSERT_TRUE(fleet.ok()) << fleet.error().message;
  EXPECT_EQ(fleet->cmd, ControlRequest::Cmd::kFleetStatus);
  EXPECT_FALSE(parse(R"({"cmd":"fleet-status"})").ok());
}

TEST(ControlRequest, RejectsWhatTheCliWouldReject) {
  struct Case {
    const char* request;
    const char* error;
  } cases[] = {
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":0})", "duration"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":-5})", "duration"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":4611686018427387904})", "100 years"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":18446744073709551615})", "100 years"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":1.5})", "whole seconds"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"duration":"600"})", "whole seconds"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"reason":"x\n[sshd] Unban 192.0.2.1"})", "control characters"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"reason":"\u001b[31m"})", "control characters"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"jail":"a b"})", "jail"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"jail":7})", "jail: expected a string"},
      {R"({"cmd":"ban","cidrs":["not-an-address"]})", "cidrs"},
      {R"({"cmd":"ban","cidrs":"192.0.2.1"})", "cidrs"},
      {R"({"cmd":"ban","cidrs":[1]})", "cidrs"},
      {R"({"cmd":"ban"})", "no address"},
      {R"({"cmd":"ban","cidrs":["192.0.2.1"],"force":"yes"})", "force"},
      {R"({"cmd":"unban"})", "no address"},
      {R"({"cmd":"import"})", "entries"},
      {R"({"cmd":"list","cidr":5})", "cidr"},
      {R"({"cmd":7})", "cmd"},
      {R"({"cmd":"shutdown"})", "unknown command"},
      {R"([1,2])", "not a JSON object"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.request);
    ASSERT_FALSE(r.ok()) << c.request;
    EXPECT_NE(r.error().message.find(c.error), std::string::npos) << c.request << " -> " << r.error().message;
  }
  std::string long_reason(kMaxReasonLength + 1, 'x');
  EXPECT_FALSE(check_reason(long_reason).ok());
  EXPECT_FALSE(check_reason("\xff\xfe").ok()) << "not UTF-8";
  EXPECT_FALSE(check_reason("\xc0\xaf").ok()) << "overlong UTF-8";
}

// A server on a private socket and raw clients, driven by hand (no daemon).
class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xdpban-ctl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/s.sock";
    auto s = ControlServer::listen(path_, [this](const Json& req) -> Json {
      ++handled_;
      if (req.value("cmd", "") == "big") return {{"ok", true}, {"blob", std::string(2 << 20, 'x')}};
      if (req.value("cmd", "") == "throw") return req.at("missing").get<int>();
      return {{"ok", true}};
    });
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
  }
  void TearDown() override {
    server_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  int connect_client() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  }
  // Accepts and serves whatever is pending, as one round of the event loop.
  void pump() {
    for (int fd : server_->accept_all()) clients_.push_back(fd);
    for (int fd : clients_) server_->serve(fd);
  }
  std::string read_line(int fd) {
    std::string in;
    char buf[65536];
    while (in.find('\n') == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    return in;
  }
  std::string dir_, path_;
  std::unique_ptr<ControlServer> server_;
  std::vector<int> clients_;
  int handled_ = 0;
};

TEST_F(ControlServerTest, MalformedVersionIsAnsweredNotFatal) {
  int c = connect_client();
  for (const char* req : {R"({"v":"1","cmd":"ping"})", R"({"v":1.5,"cmd":"ping"})", R"({"v":null})",
                          R"({"cmd":"ping"})", R"({"v":[1]})", "\xff\xfe{", R"({"v":1,"cmd":"throw"})"}) {
    std::string line = std::string(req) + "\n";
    ASSERT_EQ(::send(c, line.data(), line.size(), 0), static_cast<ssize_t>(line.size()));
    pump();
    std::string answer = read_line(c);
    EXPECT_NE(answer.find("\"ok\":false"), std::string::npos) << req << " -> " << answer;
  }
  std::string ping = R"({"v":1,"cmd":"ping"})"
                     "\n";
  ::send(c, ping.data(), ping.size(), 0);
  pump();
  EXPECT_NE(read_line(c).find("\"ok\":true"), std::string::npos);
  ::close(c);
}

TEST_F(ControlServerTest, ClientsThatDoNotReadNeverBlock) {
  std::vector<int> hogs;
  std::string big = R"({"v":1,"cmd":"big"})"
                    "\n";
  for (int i = 0; i < 4; ++i) {
    int h = connect_client();
    // Two requests each: the second waits until the first answer is read.
    ASSERT_GT(::send(h, (big + big).data(), 2 * big.size(), 0), 0);
    hogs.push_back(h);
  }
  auto t0 = std::chrono::steady_clock::now();
  pump();
  pump();
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 2000) << "serving 4 clients that never read took " << ms << " ms";
  EXPECT_EQ(handled_, 4) << "one answer in flight per client";
  EXPECT_EQ(server_->stalled(std::chrono::milliseconds(0)).size(), 4u);

  // A polite client is still served at once.
  int c = connect_client();
  std::string ping = R"({"v":1,"cmd":"ping"})"
                     "\n";
  ::send(c, ping.data(), ping.size(), 0);
  pump();
  EXPECT_NE(read_line(c).find("\"ok\":true"), std::string::npos);

  // A hog that starts reading gets both answers whole.
  int h = hogs[0];
  size_t got = 0, lines = 0;
  char buf[1 << 16];
  while (lines < 2) {
    pump();
    pollfd p{h, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 2000), 0);
    ssize_t n = ::recv(h, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got += static_cast<size_t>(n);
    lines += static_cast<size_t>(std::count(buf, buf + n, '\n'));
  }
  EXPECT_GT(got, size_t{4} << 20);
  EXPECT_EQ(handled_, 6);  // 4 + the ping + the hog's second request
  for (int fd : hogs) ::close(fd);
  ::close(c);
}

}  // namespace
}  // namespace xdpban
