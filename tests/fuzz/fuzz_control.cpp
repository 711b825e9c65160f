// fuzz_control.cpp - libFuzzer target over the control protocol without a
// socket or a daemon: io/control.h's framing (RequestReader, fed the input in
// chunks) and answer_request (JSON parse, version check, handler exceptions
// turned into answers). The handler reads fields the way Daemon::handle and
// Daemon::import do (src/daemon/daemon.cpp; they need BPF maps, so they are not
// run here): a field of the wrong type must become an error answer, never a
// crash. Every answer must be one line of JSON with a boolean "ok".
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.h"
#include "io/control.h"

namespace {

using nlohmann::json;

json error_json(const std::string& m) { return {{"ok", false}, {"error", m}}; }

// Daemon::handle's reads of a request, field by field (values not acted on).
json handle(const json& req) {
  using namespace xdpban;
  const std::string cmd = req.value("cmd", "");
  std::vector<Cidr> cidrs;
  for (const auto& s : req.value("cidrs", std::vector<std::string>{})) {
    auto c = Cidr::parse(s);
    if (!c) return error_json(c.error().message);
    cidrs.push_back(*c);
  }
  if (cmd == "ping") return {{"ok", true}};
  if (cmd == "ban") {
    std::string jail = req.value("jail", "manual");
    std::optional<int64_t> dur;
    if (req.contains("duration") && !req["duration"].is_null()) dur = req["duration"].get<int64_t>();
    bool force = req.value("force", false);
    std::string reason = req.value("reason", "");
    return {{"ok", true}, {"jail", jail}, {"n", cidrs.size()}, {"force", force}, {"reason", reason}};
  }
  if (cmd == "unban")
    return {{"ok", true}, {"all", req.value("all", false)}, {"jail", req.value("jail", "")}};
  if (cmd == "import") {
    const std::string jail = req.value("jail", "import");
    const bool replace = req.value("replace", false), force = req.value("force", false);
    int64_t secs = req.value("duration", int64_t{-1});
    if (secs == 0 || secs < -1) return error_json("duration: " + std::to_string(secs) + " is not a duration");
    const std::string& text = req.at("entries").get_ref<const std::string&>();
    size_t line = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string_view entry(text.data() + pos, nl - pos);
      pos = nl + 1;
      ++line;
      if (entry.empty()) continue;
      auto c = Cidr::parse(std::string(entry));
      if (!c) return error_json("entry " + std::to_string(line) + ": " + c.error().message);
    }
    return {{"ok", true}, {"jail", jail}, {"replace", replace}, {"force", force}};
  }
  if (cmd == "list") {
    std::string jail = req.value("jail", "");
    if (req.contains("cidr")) {
      auto c = Cidr::parse(req.value("cidr", ""));
      if (!c) return error_json(c.error().message);
    }
    return {{"ok", true}, {"jail", jail}};
  }
  if (cmd == "status") return {{"ok", true}, {"jail", req.value("jail", "")}};
  return error_json("unknown command '" + cmd + "'");
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xdpban;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 97;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  RequestReader reader;
  size_t lines = 0;
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    check(reader.append(bytes.substr(i, chunk)));
    while (auto line = reader.next()) {
      ++lines;
      check(line->find('\n') == std::string::npos);
      std::string answer = answer_request(*line, handle);
      check(!answer.empty() && answer.back() == '\n' && answer.find('\n') == answer.size() - 1);
      auto j = json::parse(answer, nullptr, false);
      check(!j.is_discarded() && j.is_object() && j.contains("ok") && j["ok"].is_boolean());
    }
  }
  size_t newlines = 0;
  for (char c : bytes) newlines += c == '\n';
  check(lines == newlines);
  return 0;
}
