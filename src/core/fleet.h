// fleet.h - what nodes of a fleet share through the NATS KV bucket: the key of
// a banned cidr, the JSON record of a ban, which of two records of a cidr wins
// (the latest expiry), node names and the [fleet] settings of xdpban.conf.
// Pure logic; the broker connection is io/fleet_link's, what a record does to
// the local bans is BanManager::apply_remote's and the daemon's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.h"
#include "core/result.h"

namespace xdpban {

// One ban as published in the bucket (the value of the key fleet_key(cidr)).
struct FleetRecord {
  Cidr cidr;
  std::string jail, origin;  // origin: the publishing node's name
  int64_t start = 0;         // unix seconds
  int64_t expiry = 0;        // unix seconds; 0 = permanent
  int failures = 0;
};

// The bucket key of a cidr: its canonical text with the prefix length always
// given and ':' (not allowed in NATS keys) replaced by '_':
// "203.0.113.7/32", "2001_db8__/32".
std::string fleet_key(const Cidr& c);
// The inverse; only canonical keys are accepted (no host bits, no ':', the
// prefix given, the address in its shortest form), the error says why not.
Result<Cidr> parse_fleet_key(std::string_view key);

// {"v":1,"jail":..,"origin":..,"start":..,"expiry":..,"failures":..}
std::string encode_fleet_record(const FleetRecord& r);
// The record of `key` (which must parse) from `value`; every field is checked
// and the error names the field; fields it does not know are ignored.
Result<FleetRecord> decode_fleet_record(std::string_view key, std::string_view value);

// Whether `candidate` should replace `existing` (same cidr): the latest expiry
// wins, a permanent ban over any timed one, never over a permanent one.
bool fleet_record_wins(const FleetRecord& candidate, const FleetRecord& existing);

// A node name: 1-64 characters of letters, digits, '.', '_' and '-'.
Status check_node_name(const std::string& name);

struct FleetSettings {                       // [fleet] in xdpban.conf
  bool enabled = false;                      // enabled = true|false
  std::vector<std::string> servers;          // servers = nats://host:4222, ... (required when enabled)
  std::string node;                          // node = (default: the host name)
  std::string bucket = "xdpban";             // bucket = ([A-Za-z0-9_-]+)
  int replicas = 1;                          // replicas = 1..5 (only when creating the bucket)
  std::string creds;                         // creds = /path/user.creds (NATS decentralized auth)
  std::string user, password;                // user = / password =
  std::string token;                         // token =
  std::string tls_ca, tls_cert, tls_key;     // tls_ca = / tls_cert = / tls_key = (cert and key together)
  std::vector<std::string> publish = {"*"};  // jails whose bans are shared; "*" all, empty none
  std::vector<std::string> accept = {"*"};   // remote jails applied here; "*" all, empty none
  int64_t timeout_ms = 2000;                 // timeout = 2s, per broker request

  bool publishes(const std::string& jail) const;
  bool accepts(const std::string& jail) const;
  bool operator==(const FleetSettings&) const = default;
};

}  // namespace xdpban
