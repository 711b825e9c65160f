#include "core/control_request.h"

#include <array>
#include <string_view>
#include <utility>

#include "core/ban_manager.h"
#include "core/duration.h"

namespace xdpban {

namespace {

using Json = nlohmann::json;
using Cmd = ControlRequest::Cmd;

constexpr std::array<std::pair<std::string_view, Cmd>, 11> kCommands{{
    {"ping", Cmd::kPing},
    {"ban", Cmd::kBan},
    {"unban", Cmd::kUnban},
    {"import", Cmd::kImport},
    {"allow_add", Cmd::kAllowAdd},
    {"allow_del", Cmd::kAllowDel},
    {"list", Cmd::kList},
    {"status", Cmd::kStatus},
    {"stats", Cmd::kStats},
    {"reload", Cmd::kReload},
    {"fleet_status", Cmd::kFleetStatus},
}};

Error bad_field(const char* field, const std::string& why) {
  return invalid(std::string(field) + ": " + why);
}

// A field that may be absent; present, it must have the JSON type asked for.
const Json* field(const Json& req, const char* name) {
  auto it = req.find(name);
  return it == req.end() || it->is_null() ? nullptr : &*it;
}

Status get_bool(const Json& req, const char* name, bool* out) {
  if (const Json* f = field(req, name)) {
    if (!f->is_boolean()) return bad_field(name, "expected true or false");
    *out = f->get<bool>();
  }
  return {};
}

Status get_string(const Json& req, const char* name, std::string* out) {
  if (const Json* f = field(req, name)) {
    if (!f->is_string()) return bad_field(name, "expected a string");
    *out = f->get<std::string>();
  }
  return {};
}

// A length of well-formed UTF-8 starting at s[i], or 0.
size_t utf8_length(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size() || (n == 2 && c < 0xc2)) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  return n;
}

}  // namespace

Status check_reason(const std::string& reason) {
  if (reason.size() > kMaxReasonLength)
    return invalid("reason: " + std::to_string(reason.size()) + " bytes, at most " +
                   std::to_string(kMaxReasonLength));
  for (size_t i = 0; i < reason.size();) {
    auto c = static_cast<unsigned char>(reason[i]);
    if (c < 0x20 || c == 0x7f)
      return invalid("reason: control characters (newlines, tabs, escapes) are not allowed");
    size_t n = utf8_length(reason, i);
    if (n == 0) return invalid("reason: not valid UTF-8");
    i += n;
  }
  return {};
}

Result<ControlRequest> parse_control_request(const Json& req) {
  if (!req.is_object()) return invalid("request is not a JSON object");
  ControlRequest r;
  const Json* cmd = field(req, "cmd");
  if (!cmd || !cmd->is_string()) return bad_field("cmd", "missing, or not a string");
  const std::string& name = cmd->get_ref<const std::string&>();
  bool known = false;
  for (const auto& [n, c] : kCommands)
    if (n == name) {
      r.cmd = c;
      known = true;
    }
  if (!known) return invalid("unknown command '" + name.substr(0, 64) + "'");

  if (const Json* f = field(req, "cidrs")) {
    if (!f->is_array()) return bad_field("cidrs", "expected an array of addresses or networks");
    r.cidrs.reserve(f->size());
    for (const Json& e : *f) {
      if (!e.is_string()) return bad_field("cidrs", "expected strings");
      auto c = Cidr::parse(e.get_ref<const std::string&>());
      if (!c) return bad_field("cidrs", c.error().message);
      r.cidrs.push_back(*c);
    }
  }
  if (auto st = get_string(req, "jail", &r.jail); !st) return st.error();
  if (!r.jail.empty())
    if (auto st = check_jail_name(r.jail); !st) return bad_field("jail", st.error().message);
  if (const Json* f = field(req, "duration")) {
    if (!f->is_number_integer()) return bad_field("duration", "expected whole seconds (-1 for permanent)");
    if (f->is_number_unsigned() && f->get<uint64_t>() > static_cast<uint64_t>(kMaxDurationSeconds))
      return bad_field("duration", "longer than 100 years, the longest xdpban accepts (-1 means permanent)");
    int64_t d = f->get<int64_t>();
    if (auto st = check_duration(d, true); !st) return bad_field("duration", st.error().message);
    r.duration = d;
  }
  if (auto st = get_string(req, "reason", &r.reason); !st) return st.error();
  if (auto st = check_reason(r.reason); !st) return st.error();
  for (auto [n, out] : {std::pair{"force", &r.force}, {"all", &r.all}, {"replace", &r.replace}})
    if (auto st = get_bool(req, n, out); !st) return st.error();
  if (const Json* f = field(req, "cidr")) {
    if (!f->is_string()) return bad_field("cidr", "expected an address or network");
    auto c = Cidr::parse(f->get_ref<const std::string&>());
    if (!c) return bad_field("cidr", c.error().message);
    r.within = *c;
  }
  if (auto st = get_string(req, "entries", &r.entries); !st) return st.error();

  switch (r.cmd) {
    case Cmd::kBan:
    case Cmd::kAllowAdd:
    case Cmd::kAllowDel:
      if (r.cidrs.empty()) return bad_field("cidrs", "no address or network given");
      break;
    case Cmd::kUnban:
      if (r.cidrs.empty() && !r.all)
        return bad_field("cidrs", "no address or network given (or \"all\": true)");
      break;
    case Cmd::kImport:
      if (!field(req, "entries")) return bad_field("entries", "missing");
      break;
    default:
      break;
  }
  return r;
}

}  // namespace xdpban
