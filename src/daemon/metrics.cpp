#include "daemon/metrics.h"

#include "core/prometheus.h"

namespace xdpban {

void MetricsCounters::on_event(const BanEvent& e) {
  switch (e.kind) {
    case BanEvent::kBan:
      ++bans[e.ban.jail];
      break;
    case BanEvent::kProlong:
      ++prolongs[e.ban.jail];
      break;
    case BanEvent::kUnban:
      ++unbans[{e.ban.jail, e.reason.empty() ? "manual" : e.reason}];
      break;
  }
}

std::string render_metrics(const MetricsSnapshot& s) {
  using T = PromWriter::Type;
  PromWriter w;
  w.family("xdpban_build_info", T::kGauge, "xdpban's version (the value is always 1).");
  w.sample({{"version", s.version}}, uint64_t{1});
  w.family("xdpban_start_time_seconds", T::kGauge, "When xdpband started, in seconds since the epoch.");
  w.sample(static_cast<double>(s.start_time));
  w.family("xdpban_uptime_seconds", T::kGauge, "Seconds since xdpband started.");
  w.sample(static_cast<double>(s.now - s.start_time));
  w.family("xdpban_reloads_total", T::kCounter, "Configuration reloads (SIGHUP, xdpban reload) since start.");
  w.sample(s.reloads);

  uint64_t configured = 0;
  for (const auto& j : s.jails) configured += j.configured;
  w.family("xdpban_jails", T::kGauge, "Jails running.");
  w.sample(configured);
  w.family("xdpban_bans", T::kGauge, "Bans in force, by jail.");
  for (const auto& j : s.jails) w.sample({{"jail", j.name}}, j.active);
  auto by_jail = [&](const char* name, const char* help, const std::map<std::string, uint64_t>* m) {
    w.family(name, T::kCounter, help);
    for (const auto& j : s.jails) {
      uint64_t v = 0;
      if (m)
        if (auto it = m->find(j.name); it != m->end()) v = it->second;
      w.sample({{"jail", j.name}}, v);
    }
  };
  by_jail("xdpban_bans_total", "Bans made since xdpband started, by jail.",
          s.counters ? &s.counters->bans : nullptr);
  by_jail("xdpban_prolongs_total", "Bans made longer (a banned address failed again), by jail.",
          s.counters ? &s.counters->prolongs : nullptr);
  w.family("xdpban_unbans_total", T::kCounter, "Bans ended since xdpband started, by jail and reason.");
  for (const auto& j : s.jails)
    for (const char* reason : {"expired", "manual", "fleet"}) {
      uint64_t v = 0;
      if (s.counters)
        if (auto it = s.counters->unbans.find({j.name, reason}); it != s.counters->unbans.end())
          v = it->second;
      w.sample({{"jail", j.name}, {"reason", reason}}, v);
    }
  w.family("xdpban_failures_total", T::kCounter,
           "Failures (filter matches) seen, by jail; restarts at 0 when the jail is reloaded.");
  for (const auto& j : s.jails)
    if (j.configured) w.sample({{"jail", j.name}}, j.failures);
  w.family("xdpban_failing_addresses", T::kGauge, "Addresses whose failures are being counted, by jail.");
  for (const auto& j : s.jails)
    if (j.configured) w.sample({{"jail", j.name}}, j.failing);

  if (s.xdp) {
    const xdpban_stats& x = *s.xdp;
    w.family("xdpban_xdp_passed_packets_total", T::kCounter, "Packets the XDP program passed.");
    w.sample(x.passed);
    w.family("xdpban_xdp_dropped_packets_total", T::kCounter,
             "Packets dropped because their source is banned.");
    w.sample({{"family", "ipv4"}}, x.dropped_v4);
    w.sample({{"family", "ipv6"}}, x.dropped_v6);
    w.family("xdpban_xdp_allow_hits_total", T::kCounter,
             "Packets from banned sources passed by the allow list.");
    w.sample(x.allow_hits);
    w.family("xdpban_xdp_expired_hits_total", T::kCounter, "Packets that matched an expired ban (passed).");
    w.sample(x.expired_hits);
    w.family("xdpban_xdp_non_ip_packets_total", T::kCounter, "Packets neither IPv4 nor IPv6 (passed).");
    w.sample(x.non_ip);
    w.family("xdpban_xdp_malformed_packets_total", T::kCounter,
             "Packets with truncated or invalid headers (passed).");
    w.sample(x.malformed);
    w.family("xdpban_xdp_lookups_total", T::kCounter,
             "Table lookups after the in-cache prefilter said maybe, by table.");
    w.sample({{"table", "hosts"}}, x.host_probes);
    w.sample({{"table", "host_map"}}, x.host_exact);
    w.sample({{"table", "networks"}}, x.net_probes);
    w.family("xdpban_xdp_flood_packets_total", T::kCounter,
             "Packets to a flood jail's ports from sources not banned: checked against their rate, and "
             "dropped over it.");
    w.sample({{"result", "checked"}}, x.flood_checked);
    w.sample({{"result", "dropped"}}, x.flood_dropped);
    w.family("xdpban_xdp_flood_reports_total", T::kCounter,
             "Sources over their flood rate reported to the daemon, and reports lost (ring buffer full).");
    w.sample({{"result", "sent"}}, x.flood_events);
    w.sample({{"result", "lost"}}, x.flood_lost);
  }
  if (s.usage) {
    const TableUsage& u = *s.usage;
    w.family("xdpban_map_entries", T::kGauge, "Entries in the ban maps, by table and address family.");
    w.sample({{"table", "hosts"}, {"family", "ipv4"}}, static_cast<uint64_t>(u.hosts4));
    w.sample({{"table", "hosts"}, {"family", "ipv6"}}, static_cast<uint64_t>(u.hosts6));
    w.sample({{"table", "networks"}, {"family", "ipv4"}}, static_cast<uint64_t>(u.nets4));
    w.sample({{"table", "networks"}, {"family", "ipv6"}}, static_cast<uint64_t>(u.nets6));
    w.family("xdpban_map_slots", T::kGauge, "Capacity of the host maps, by address family.");
    w.sample({{"table", "hosts"}, {"family", "ipv4"}}, static_cast<uint64_t>(u.slots4));
    w.sample({{"table", "hosts"}, {"family", "ipv6"}}, static_cast<uint64_t>(u.slots6));
    w.family("xdpban_map_fill_ratio", T::kGauge, "Host map entries / capacity, by address family.");
    w.sample({{"table", "hosts"}, {"family", "ipv4"}}, u.slots4 ? double(u.hosts4) / double(u.slots4) : 0.0);
    w.sample({{"table", "hosts"}, {"family", "ipv6"}}, u.slots6 ? double(u.hosts6) / double(u.slots6) : 0.0);
  }
  w.family("xdpban_interfaces", T::kGauge, "Interfaces the XDP program is attached to by xdpband.");
  w.sample(static_cast<uint64_t>(s.interfaces));

  w.family("xdpban_commands_total", T::kCounter,
           "Commands (ban_command, unban_command, report_command) by outcome.");
  const auto& c = s.commands;
  for (auto [result, v] : {std::pair<const char*, uint64_t>{"ok", c.succeeded},
                           {"failed", c.failed},
                           {"timeout", c.timed_out},
                           {"spawn_error", c.spawn_failed},
                           {"dropped", c.dropped}})
    w.sample({{"result", result}}, v);
  w.family("xdpban_commands_running", T::kGauge, "Commands running now.");
  w.sample(static_cast<uint64_t>(s.commands_running));
  w.family("xdpban_commands_queued", T::kGauge, "Commands waiting for a free slot (command_max_running).");
  w.sample(static_cast<uint64_t>(s.commands_queued));
  if (s.fleet) {
    const auto& f = *s.fleet;
    w.family("xdpban_fleet_published_total", T::kCounter,
             "Ban changes of this node the fleet's bucket took (bans and unbans).");
    w.sample(f.published);
    w.family("xdpban_fleet_received_total", T::kCounter,
             "Bans and unbans of other nodes seen in the bucket.");
    w.sample(f.received);
    w.family("xdpban_fleet_applied_total", T::kCounter,
             "Bans and unbans of other nodes that changed a ban here.");
    w.sample(f.applied);
    w.family("xdpban_fleet_rejected_total", T::kCounter,
             "Entries of other nodes refused here: the local guard (ignoreip, ignoreself, allow), a jail not "
             "accepted, or an invalid entry.");
    w.sample(f.rejected);
    w.family("xdpban_fleet_outbox", T::kGauge, "Ban changes of this node waiting for the broker.");
    w.sample(f.outbox);
    w.family("xdpban_fleet_connected", T::kGauge, "1 while connected to a broker of the fleet.");
    w.sample(uint64_t{f.connected});
    w.family("xdpban_fleet_lag_seconds", T::kGauge,
             "Time from another node's ban reaching the broker to its arrival here, over the last 1024.");
    w.sample({{"quantile", "0.5"}}, f.lag_p50_s);
    w.sample({{"quantile", "0.99"}}, f.lag_p99_s);
  }
  return w.text();
}

}  // namespace xdpban
