// metrics.h - what xdpband exposes to Prometheus (metrics = ADDRESS:PORT):
// bans per jail (in force, made, ended), failures, the XDP counters, map fill
// levels, commands run, uptime and version, rendered in the text exposition
// format. The daemon fills a MetricsSnapshot per scrape; MetricsCounters
// counts ban events between scrapes. Does not serve HTTP (io/http_endpoint.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpf/blocklist.h"
#include "daemon/daemon.h"
#include "io/command_runner.h"

namespace xdpban {

// Counts ban events since the daemon started (a BanListener).
struct MetricsCounters {
  std::map<std::string, uint64_t> bans, prolongs;                  // by jail
  std::map<std::pair<std::string, std::string>, uint64_t> unbans;  // by (jail, reason)
  void on_event(const BanEvent& e);
};

struct MetricsSnapshot {
  std::string version;
  int64_t start_time = 0, now = 0;  // unix seconds
  struct Jail {
    std::string name;
    bool configured = false;  // a jail section (else: manual, flood, imported bans)
    uint64_t active = 0;      // bans in force
    uint64_t failing = 0;     // addresses with failures being counted
    uint64_t failures = 0;    // failures seen since the jail was (re)loaded
  };
  std::vector<Jail> jails;  // sorted by name
  const MetricsCounters* counters = nullptr;
  std::optional<xdpban_stats> xdp;
  std::optional<TableUsage> usage;
  size_t interfaces = 0;
  CommandRunner::Counters commands;
  size_t commands_running = 0, commands_queued = 0;
  uint64_t reloads = 0;
  struct Fleet {
    uint64_t published = 0, received = 0, applied = 0, rejected = 0;
    uint64_t outbox = 0;
    bool connected = false;
    double lag_p50_s = 0, lag_p99_s = 0;  // live entries, from their put on the broker to here
  };
  std::optional<Fleet> fleet;  // [fleet] enabled
};

std::string render_metrics(const MetricsSnapshot& s);

}  // namespace xdpban
