// The control protocol's framing and answers, without a socket (io/control.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/control.h"

namespace xdpban {
namespace {

using nlohmann::json;

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

}  // namespace
}  // namespace xdpban
