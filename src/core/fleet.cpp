#include "core/fleet.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/ban_manager.h"

namespace xdpban {

namespace {

bool listed(const std::vector<std::string>& list, const std::string& jail) {
  for (const auto& j : list)
    if (j == "*" || j == jail) return true;
  return false;
}

}  // namespace

std::string fleet_key(const Cidr& c) {
  std::string k = c.addr.str() + "/" + std::to_string(c.prefix);
  std::replace(k.begin(), k.end(), ':', '_');
  return k;
}

Result<Cidr> parse_fleet_key(std::string_view key) {
  std::string text(key);
  if (text.find('/') == std::string::npos) return invalid("fleet key '" + text + "' has no prefix length");
  std::replace(text.begin(), text.end(), '_', ':');
  bool host_bits = false;
  auto c = Cidr::parse(text, &host_bits);
  if (!c) return c.error().wrap("fleet key '" + std::string(key) + "'");
  if (host_bits || fleet_key(*c) != key)
    return invalid("fleet key '" + std::string(key) + "' is not canonical");
  return c;
}

std::string encode_fleet_record(const FleetRecord& r) {
  nlohmann::json j = {{"v", 1},           {"jail", r.jail},     {"origin", r.origin},
                      {"start", r.start}, {"expiry", r.expiry}, {"failures", r.failures}};
  return j.dump();
}

Result<FleetRecord> decode_fleet_record(std::string_view key, std::string_view value) {
  auto cidr = parse_fleet_key(key);
  if (!cidr) return cidr.error();
  auto j = nlohmann::json::parse(value, nullptr, false);
  const std::string where = "fleet record '" + std::string(key) + "'";
  if (!j.is_object()) return invalid(where + ": not a JSON object");
  auto int_field = [&](const char* name, int64_t& out) -> Status {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) return invalid(where + ": " + name + " is not an integer");
    out = it->get<int64_t>();
    return {};
  };
  auto str_field = [&](const char* name, std::string& out) -> Status {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return invalid(where + ": " + name + " is not a string");
    out = it->get<std::string>();
    return {};
  };
  FleetRecord r;
  r.cidr = *cidr;
  int64_t v = 0, failures = 0;
  for (auto st :
       {int_field("v", v), str_field("jail", r.jail), str_field("origin", r.origin),
        int_field("start", r.start), int_field("expiry", r.expiry), int_field("failures", failures)})
    if (!st) return st.error();
  if (v != 1) return invalid(where + ": unknown version " + std::to_string(v));
  if (auto st = check_jail_name(r.jail); !st) return st.error().wrap(where);
  if (auto st = check_node_name(r.origin); !st) return st.error().wrap(where);
  if (r.start < 0) return invalid(where + ": negative start");
  if (r.expiry != 0 && r.expiry < r.start) return invalid(where + ": expiry before start");
  if (failures < 0 || failures > INT32_MAX) return invalid(where + ": failures out of range");
  r.failures = static_cast<int>(failures);
  return r;
}

bool fleet_record_wins(const FleetRecord& candidate, const FleetRecord& existing) {
  if (existing.expiry == 0) return false;
  if (candidate.expiry == 0) return true;
  return candidate.expiry > existing.expiry;
}

Status check_node_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok)
    return invalid("'" + name + "' is not a valid node name (1-64 characters: letters, digits, - _ .)");
  return {};
}

bool FleetSettings::publishes(const std::string& jail) const { return listed(publish, jail); }
bool FleetSettings::accepts(const std::string& jail) const { return listed(accept, jail); }

}  // namespace xdpban
