// fuzz_control.cpp - libFuzzer target over the control protocol without a
// socket or a daemon: io/control.h's framing (RequestReader, fed the input in
// chunks) and answer_request (JSON parse, version check, handler exceptions
// turned into answers), with core/control_request.h's parse_control_request
// as the handler: the decoding Daemon::handle runs before it acts (the acting
// needs BPF maps and is not run here). Every answer must be one line of JSON
// with a boolean "ok".
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/control_request.h"
#include "core/duration.h"
#include "io/control.h"

namespace {

using nlohmann::json;

json error_json(const std::string& m) { return {{"ok", false}, {"error", m}}; }

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The daemon's own decoding of a request (Daemon::handle acts only on what
// parse_control_request accepts); what it accepts must hold its promises.
json handle(const json& req) {
  auto r = xdpban::parse_control_request(req);
  if (!r) return error_json(r.error().message);
  if (r->duration) check(xdpban::check_duration(*r->duration, true).ok());
  check(xdpban::check_reason(r->reason).ok());
  return {{"ok", true}, {"cidrs", r->cidrs.size()}, {"jail", r->jail}, {"reason", r->reason}};
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
