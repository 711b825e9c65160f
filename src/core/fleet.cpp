#include "core/fleet.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <nlohmann/json.hpp>

#include "core/ban_manager.h"

namespace xdpban {

namespace {

using Json = nlohmann::json;

// A whole number field of the record in [lo, hi]; the error names it.
Result<int64_t> get_int(const Json& j, const char* name, int64_t lo, int64_t hi) {
  auto it = j.find(name);
  if (it == j.end()) return invalid(std::string(name) + ": missing");
  if (!it->is_number_integer()) return invalid(std::string(name) + ": expected a whole number");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return invalid(std::string(name) + ": " + it->dump() + " is out of range");
  int64_t v = it->get<int64_t>();
  if (v < 0 && lo == 0) return invalid(std::string(name) + ": " + std::to_string(v) + " is negative");
  if (v < lo || v > hi)
    return invalid(std::string(name) + ": " + std::to_string(v) + " is out of range (" + std::to_string(lo) +
                   " to " + std::to_string(hi) + ")");
  return v;
}

Result<std::string> get_string(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return invalid(std::string(name) + ": missing");
  if (!it->is_string()) return invalid(std::string(name) + ": expected a string");
  return it->get<std::string>();
}

bool listed(const std::vector<std::string>& list, const std::string& jail) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& p) { return p == "*" || p == jail; });
}

}  // namespace

std::string fleet_key(const Cidr& c) {
  std::string k = c.addr.str() + "/" + std::to_string(c.prefix);
  std::replace(k.begin(), k.end(), ':', '_');
  return k;
}

Result<Cidr> parse_fleet_key(std::string_view key) {
  const std::string k(key);
  auto bad = [&](const std::string& why) { return invalid("fleet key '" + k + "': " + why); };
  if (k.find(':') != std::string::npos) return bad("':' is not allowed (IPv6 keys spell it '_')");
  if (k.find('/') == std::string::npos) return bad("no prefix length (a host is a.b.c.d/32 or x_y/128)");
  std::string text = k;
  std::replace(text.begin(), text.end(), '_', ':');
  bool host_bits = false;
  auto c = Cidr::parse(text, &host_bits);
  if (!c) return bad(c.error().message);
  if (host_bits)
    return bad("host bits set after the prefix (the key of the network is " + fleet_key(*c) + ")");
  if (fleet_key(*c) != k) return bad("not in canonical form (expected " + fleet_key(*c) + ")");
  return *c;
}

std::string encode_fleet_record(const FleetRecord& r) {
  Json j = {{"v", 1},           {"jail", r.jail},     {"origin", r.origin},
            {"start", r.start}, {"expiry", r.expiry}, {"failures", r.failures}};
  return j.dump();
}

Result<FleetRecord> decode_fleet_record(std::string_view key, std::string_view value) {
  auto c = parse_fleet_key(key);
  if (!c) return c.error();
  auto bad = [&](const Error& e) { return e.wrap("fleet record " + std::string(key)); };
  Json j = Json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad(invalid("not valid JSON"));
  if (!j.is_object()) return bad(invalid("not a JSON object"));
  auto v = get_int(j, "v", INT64_MIN, INT64_MAX);
  if (!v) return bad(v.error());
  if (*v != 1) return bad(invalid("v: version " + std::to_string(*v) + " is not known (1 is)"));
  FleetRecord r;
  r.cidr = *c;
  auto jail = get_string(j, "jail");
  if (!jail) return bad(jail.error());
  if (auto st = check_jail_name(*jail); !st) return bad(st.error().wrap("jail"));
  r.jail = *jail;
  auto origin = get_string(j, "origin");
  if (!origin) return bad(origin.error());
  if (auto st = check_node_name(*origin); !st) return bad(st.error().wrap("origin"));
  r.origin = *origin;
  auto start = get_int(j, "start", 0, INT64_MAX);
  if (!start) return bad(start.error());
  r.start = *start;
  auto expiry = get_int(j, "expiry", 0, INT64_MAX);
  if (!expiry) return bad(expiry.error());
  if (*expiry != 0 && *expiry < r.start)
    return bad(invalid("expiry: " + std::to_string(*expiry) + " is before start " + std::to_string(r.start) +
                       " (0 means permanent)"));
  r.expiry = *expiry;
  auto failures = get_int(j, "failures", 0, INT_MAX);
  if (!failures) return bad(failures.error());
  r.failures = static_cast<int>(*failures);
  return r;
}

bool fleet_record_wins(const FleetRecord& candidate, const FleetRecord& existing) {
  return outlasts(candidate.expiry, existing.expiry);
}

Status check_node_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char ch : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.');
  if (!ok)
    return invalid("'" + name + "' is not a valid node name (1-64 characters: letters, digits, - _ .)");
  return {};
}

bool FleetSettings::publishes(const std::string& jail) const { return listed(publish, jail); }
bool FleetSettings::accepts(const std::string& jail) const { return listed(accept, jail); }

}  // namespace xdpban
