#include "core/report.h"

#include <algorithm>
#include <cstdio>

#include "core/duration.h"
#include "xdpban/abi.h"

namespace xdpban {

const char* event_kind_name(EventRecord::Kind k) {
  switch (k) {
    case EventRecord::kBan:
      return "ban";
    case EventRecord::kProlong:
      return "prolong";
    case EventRecord::kUnban:
      return "unban";
  }
  return "?";
}

Cidr report_network(const Cidr& c) {
  int p = c.addr.family == Family::V4 ? 24 : 64;
  if (c.prefix <= p) return c;
  return Cidr::network_of(c.addr, p);
}

void ReportBuilder::add(const EventRecord& e) {
  if (e.time < since_ || e.time >= until_) return;
  Report::Jail& j = jails_[e.jail];
  j.name = e.jail;
  switch (e.kind) {
    case EventRecord::kBan: {
      ++totals_.bans;
      ++j.bans;
      j.failures += static_cast<uint64_t>(std::max(0, e.failures));
      addresses_.insert(e.cidr);
      jail_addresses_[e.jail].insert(e.cidr);
      PerKey& o = offenders_[e.cidr];
      ++o.bans;
      o.jails.insert(e.jail);
      PerKey& n = networks_[report_network(e.cidr)];
      ++n.bans;
      n.jails.insert(e.jail);
      n.sources.insert(e.cidr);
      if (e.flags & XDPBAN_BAN_FLOOD) {
        ++totals_.flood_bans;
        ++j.flood_bans;
        PerKey& f = flood_[e.cidr];
        ++f.bans;
        f.jails.insert(e.jail);
      }
      if (e.flags & XDPBAN_BAN_MANUAL) ++totals_.manual_bans;
      break;
    }
    case EventRecord::kProlong:
      ++totals_.prolongs;
      ++j.prolongs;
      j.failures += static_cast<uint64_t>(std::max(0, e.failures));
      break;
    case EventRecord::kUnban:
      ++totals_.unbans;
      ++j.unbans;
      break;
  }
}

Report ReportBuilder::build() const {
  Report r = totals_;
  r.since = since_;
  r.until = until_;
  r.addresses = addresses_.size();
  for (const auto& [name, j] : jails_) {
    Report::Jail row = j;
    auto it = jail_addresses_.find(name);
    row.addresses = it == jail_addresses_.end() ? 0 : it->second.size();
    r.jails.push_back(row);
  }
  std::stable_sort(r.jails.begin(), r.jails.end(),
                   [](const Report::Jail& a, const Report::Jail& b) { return a.bans > b.bans; });
  auto top = [&](const std::map<Cidr, PerKey>& m) {
    std::vector<std::pair<const Cidr*, const PerKey*>> v;
    v.reserve(m.size());
    for (const auto& [c, k] : m) v.push_back({&c, &k});
    // Most bans, then most sources, then cidr order (the map's): a stable,
    // exact order for equal counts.
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      if (a.second->bans != b.second->bans) return a.second->bans > b.second->bans;
      return a.second->sources.size() > b.second->sources.size();
    });
    std::vector<Report::Top> out;
    for (size_t i = 0; i < v.size() && i < top_; ++i)
      out.push_back({v[i].first->str(), v[i].second->bans, v[i].second->sources.size(),
                     std::vector<std::string>(v[i].second->jails.begin(), v[i].second->jails.end())});
    return out;
  };
  r.top_offenders = top(offenders_);
  r.top_networks = top(networks_);
  r.top_flood = top(flood_);
  return r;
}

std::string report_subject(const Report& r) {
  size_t jails = 0;
  for (const auto& j : r.jails) jails += j.bans > 0;
  std::string s = "xdpban on " + (r.host.empty() ? std::string("this host") : r.host) + ": " +
                  std::to_string(r.bans) + (r.bans == 1 ? " ban" : " bans");
  if (r.bans) s += " (" + std::to_string(jails) + (jails == 1 ? " jail)" : " jails)");
  if (r.flood_bans)
    s += ", " + std::to_string(r.flood_bans) + (r.flood_bans == 1 ? " flood ban" : " flood bans");
  return s + " in " + format_duration(r.until - r.since);
}

std::string render_report_text(const Report& r, const std::function<std::string(int64_t)>& time_str) {
  std::string out;
  char line[256];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  out += "xdpban report" + (r.host.empty() ? std::string() : " for " + r.host) + ": " + time_str(r.since) +
         " to " + time_str(r.until) + " (" + format_duration(r.until - r.since) + ")\n\n";
  add("Bans:      %llu (%llu addresses or networks; %llu manual, %llu flood)\n",
      static_cast<unsigned long long>(r.bans), static_cast<unsigned long long>(r.addresses),
      static_cast<unsigned long long>(r.manual_bans), static_cast<unsigned long long>(r.flood_bans));
  add("Prolonged: %llu\nUnbanned:  %llu\n", static_cast<unsigned long long>(r.prolongs),
      static_cast<unsigned long long>(r.unbans));
  if (r.active_bans) add("In force:  %llu\n", static_cast<unsigned long long>(*r.active_bans));
  if (r.drops)
    add("Dropped:   %llu IPv4 and %llu IPv6 packets of banned sources, %llu over a flood rate; %llu passed, "
        "%llu allow-list hits (%s)\n",
        static_cast<unsigned long long>(r.drops->dropped_v4),
        static_cast<unsigned long long>(r.drops->dropped_v6),
        static_cast<unsigned long long>(r.drops->flood_dropped),
        static_cast<unsigned long long>(r.drops->passed),
        static_cast<unsigned long long>(r.drops->allow_hits), r.drops->scope.c_str());
  if (!r.jails.empty()) {
    add("\n%-20s %8s %9s %8s %9s %9s %6s\n", "JAIL", "BANS", "PROLONGED", "UNBANNED", "ADDRESSES", "FAILURES",
        "FLOOD");
    for (const auto& j : r.jails)
      add("%-20s %8llu %9llu %8llu %9llu %9llu %6llu\n", j.name.c_str(),
          static_cast<unsigned long long>(j.bans), static_cast<unsigned long long>(j.prolongs),
          static_cast<unsigned long long>(j.unbans), static_cast<unsigned long long>(j.addresses),
          static_cast<unsigned long long>(j.failures), static_cast<unsigned long long>(j.flood_bans));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  auto section = [&](const char* title, const std::vector<Report::Top>& v, bool sources) {
    if (v.empty()) return;
    out += std::string("\n") + title + "\n";
    for (const auto& t : v) {
      if (sources)
        add("  %-43s %6llu bans from %llu sources  %s\n", t.key.c_str(),
            static_cast<unsigned long long>(t.bans), static_cast<unsigned long long>(t.sources),
            join(t.jails).c_str());
      else
        add("  %-43s %6llu bans  %s\n", t.key.c_str(), static_cast<unsigned long long>(t.bans),
            join(t.jails).c_str());
    }
  };
  section("Top offenders:", r.top_offenders, false);
  section("Top networks (/24, /64):", r.top_networks, true);
  section("Flood bans:", r.top_flood, false);
  if (r.bans == 0 && r.prolongs == 0 && r.unbans == 0) out += "\nNothing was banned or unbanned.\n";
  return out;
}

nlohmann::json render_report_json(const Report& r) {
  auto tops = [](const std::vector<Report::Top>& v, const char* key, bool sources) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& t : v) {
      nlohmann::json e = {{key, t.key}, {"bans", t.bans}, {"jails", t.jails}};
      if (sources) e["sources"] = t.sources;
      a.push_back(e);
    }
    return a;
  };
  nlohmann::json jails = nlohmann::json::array();
  for (const auto& j : r.jails)
    jails.push_back({{"jail", j.name},
                     {"bans", j.bans},
                     {"prolongs", j.prolongs},
                     {"unbans", j.unbans},
                     {"addresses", j.addresses},
                     {"failures", j.failures},
                     {"flood_bans", j.flood_bans}});
  nlohmann::json out = {
      {"since", r.since},
      {"until", r.until},
      {"host", r.host},
      {"totals",
       {{"bans", r.bans},
        {"prolongs", r.prolongs},
        {"unbans", r.unbans},
        {"flood_bans", r.flood_bans},
        {"manual_bans", r.manual_bans},
        {"addresses", r.addresses}}},
      {"jails", jails},
      {"top_offenders", tops(r.top_offenders, "cidr", false)},
      {"top_networks", tops(r.top_networks, "network", true)},
      {"top_flood", tops(r.top_flood, "cidr", false)},
      {"active_bans", r.active_bans ? nlohmann::json(*r.active_bans) : nlohmann::json(nullptr)}};
  if (r.drops)
    out["drops"] = {{"passed", r.drops->passed},
                    {"dropped_v4", r.drops->dropped_v4},
                    {"dropped_v6", r.drops->dropped_v6},
                    {"allow_hits", r.drops->allow_hits},
                    {"flood_dropped", r.drops->flood_dropped},
                    {"scope", r.drops->scope}};
  else
    out["drops"] = nullptr;
  return out;
}

}  // namespace xdpban
