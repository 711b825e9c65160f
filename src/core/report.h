// report.h - the digest of what happened in a period: bans per jail, top
// offenders and networks (/24, /64), flood bans, XDP drops; built from the
// event log (one EventRecord per ban, prolong and unban), rendered as text
// (mail) or JSON. Pure: the caller reads the events (StateStore) and the
// counters (Blocklist) and formats times. Does not send anything.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/cidr.h"

namespace xdpban {

// One row of the event log (StateStore's ban_events table).
struct EventRecord {
  enum Kind { kBan, kProlong, kUnban } kind = kBan;
  int64_t time = 0;  // unix seconds
  std::string jail;
  Cidr cidr;
  int64_t duration = 0;  // the ban's length in seconds; -1 = permanent
  int failures = 0;
  int count = 1;       // bans of this address so far, this one included
  uint8_t flags = 0;   // XDPBAN_BAN_*
  std::string reason;  // unban: "expired" or "manual"; ban: the admin's --reason
};
const char* event_kind_name(EventRecord::Kind k);  // "ban", "prolong", "unban"

// The XDP program's counters over the period (or since the maps were made).
struct DropCounters {
  uint64_t passed = 0, dropped_v4 = 0, dropped_v6 = 0, allow_hits = 0;
  uint64_t flood_dropped = 0;  // over a flood jail's rate (the guard)
  std::string scope;           // what they cover, e.g. "since the previous report"
};

struct Report {
  int64_t since = 0, until = 0;
  std::string host;
  uint64_t bans = 0, prolongs = 0, unbans = 0, flood_bans = 0, manual_bans = 0;
  uint64_t addresses = 0;  // distinct banned cidrs
  struct Jail {
    std::string name;
    uint64_t bans = 0, prolongs = 0, unbans = 0, flood_bans = 0, addresses = 0, failures = 0;
  };
  std::vector<Jail> jails;  // most bans first
  struct Top {
    std::string key;  // a cidr, or a /24 or /64 network
    uint64_t bans = 0;
    uint64_t sources = 0;  // distinct banned cidrs inside (networks)
    std::vector<std::string> jails;
  };
  std::vector<Top> top_offenders, top_networks, top_flood;
  std::optional<DropCounters> drops;
  std::optional<uint64_t> active_bans;  // in force at `until`, if known
};

class ReportBuilder {
 public:
  // Events outside [since, until) are ignored.
  ReportBuilder(int64_t since, int64_t until, size_t top = 10) : since_(since), until_(until), top_(top) {}
  void add(const EventRecord& e);
  Report build() const;

 private:
  struct PerKey {
    uint64_t bans = 0;
    std::set<std::string> jails;
    std::set<Cidr> sources;
  };
  int64_t since_, until_;
  size_t top_;
  Report totals_;
  std::map<std::string, Report::Jail> jails_;
  std::map<std::string, std::set<Cidr>> jail_addresses_;
  std::set<Cidr> addresses_;
  std::map<Cidr, PerKey> offenders_, networks_, flood_;
};

// The /24 (IPv4) or /64 (IPv6) around a ban; a wider ban is its own network.
Cidr report_network(const Cidr& c);

// Text for people (a mail body); time_str formats unix seconds.
std::string render_report_text(const Report& r, const std::function<std::string(int64_t)>& time_str);
nlohmann::json render_report_json(const Report& r);
// One line for a mail subject: "xdpban on HOST: 12 bans (3 jails), 1 flood ban".
std::string report_subject(const Report& r);

}  // namespace xdpban
