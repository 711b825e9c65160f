// fleet.h - what a ban looks like in the fleet's NATS KV bucket: the key of a
// cidr, the JSON record, which of two records wins, and the [fleet] settings.
// Pure: no sockets, no NATS (src/io/fleet_link owns the broker).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.h"
#include "core/result.h"

namespace xdpban {

struct FleetRecord {
  Cidr cidr;
  std::string jail, origin;
  int64_t start = 0, expiry = 0;
  int failures = 0;
};

// Canonical CIDR text, ':' as '_', always with the prefix length: "2001_db8__/32".
std::string fleet_key(const Cidr& c);
Result<Cidr> parse_fleet_key(std::string_view key);
std::string encode_fleet_record(const FleetRecord& r);
Result<FleetRecord> decode_fleet_record(std::string_view key, std::string_view value);
// Latest expiry wins; a permanent ban (expiry 0) beats any other.
bool fleet_record_wins(const FleetRecord& candidate, const FleetRecord& existing);
Status check_node_name(const std::string& name);

struct FleetSettings {
  bool enabled = false;
  std::vector<std::string> servers;
  std::string node;
  std::string bucket = "xdpban";
  int replicas = 1;
  std::string creds;
  std::string user, password;
  std::string token;
  std::string tls_ca, tls_cert, tls_key;
  std::vector<std::string> publish = {"*"};
  std::vector<std::string> accept = {"*"};
  int64_t timeout_ms = 2000;
  bool publishes(const std::string& jail) const;
  bool accepts(const std::string& jail) const;
};

}  // namespace xdpban
