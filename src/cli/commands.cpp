#include "cli/commands.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "bpf/blocklist.h"
#include "bpf/datapath.h"
#include "core/cidr.h"
#include "core/control_request.h"
#include "core/duration.h"
#include "io/control.h"
#include "io/local_addresses.h"
#include "io/local_time.h"

namespace xdpban {

namespace {

void say(const char* fmt, const std::string& a) { std::fprintf(stderr, fmt, a.c_str()); }

int fail(const Error& e) {
  std::fprintf(stderr, "xdpban: %s\n", e.message.c_str());
  return kExitFailed;
}

int usage(const std::string& msg) {
  std::fprintf(stderr, "xdpban: %s\n", msg.c_str());
  return kExitUsage;
}

// Parses every argument first, so a typo in the third changes nothing.
Result<std::vector<Cidr>> parse_all(const std::vector<std::string>& args, bool warn_host_bits) {
  std::vector<Cidr> out;
  for (const auto& a : args) {
    bool host_bits = false;
    auto c = Cidr::parse(a, &host_bits);
    if (!c) return c.error();
    if (host_bits && warn_host_bits)
      std::fprintf(stderr, "xdpban: warning: %s has host bits set; using %s\n", a.c_str(), c->str().c_str());
    out.push_back(*c);
  }
  return out;
}

std::vector<std::string> strs(const std::vector<Cidr>& cidrs) {
  std::vector<std::string> out;
  for (const auto& c : cidrs) out.push_back(c.str());
  return out;
}

Result<std::unique_ptr<Blocklist>> open_for_write(const GlobalOptions& g) {
  DatapathOptions o;
  o.pin_dir = g.pin_dir;
  if (auto st = ensure_maps(o); !st) return st.error();
  return Blocklist::open(g.pin_dir, Blocklist::Access::kWrite);
}

std::string flags_str(uint8_t f) {
  std::string s;
  if (f & XDPBAN_BAN_MANUAL) s += "manual,";
  if (f & XDPBAN_BAN_FLOOD) s += "flood,";
  if (f & XDPBAN_BAN_IMPORT) s += "import,";
  if (f & XDPBAN_BAN_FLEET) s += "fleet,";
  if (!s.empty()) s.pop_back();
  return s.empty() ? "-" : s;
}

// Remaining seconds of a ban; nullopt = permanent.
std::optional<int64_t> remaining_s(uint64_t expires_ns, uint64_t now_ns) {
  if (!expires_ns) return std::nullopt;
  return expires_ns > now_ns ? static_cast<int64_t>((expires_ns - now_ns) / 1000000000ull) : 0;
}

void warn_not_attached() {
  if (attachments().empty())
    std::fprintf(stderr,
                 "xdpban: note: the XDP program is not attached to any interface, so bans are stored but not "
                 "enforced; run 'xdpban attach IFACE'\n");
}

// ---- attach / detach ----

void add_attach(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand("attach",
                                 "Attach the XDP program to interfaces (creates the pinned maps if needed)");
  static std::vector<std::string> ifaces;
  static std::string mode = "auto";
  static uint32_t capacity = 1u << 20;
  cmd->add_option("IFACE", ifaces, "Interfaces")->required();
  cmd->add_option("--mode", mode,
                  "native: in the driver (fastest); skb: generic, works on any interface; "
                  "auto: native if the driver supports it, else skb")
      ->check(CLI::IsMember({"native", "skb", "auto"}))
      ->capture_default_str();
  cmd->add_option("--capacity", capacity,
                  "Host bans per address family the tables hold (only when first created)")
      ->check(CLI::Range(1024u, 1u << 26))
      ->capture_default_str();
  cmd->callback([&g] {
    DatapathOptions o;
    o.pin_dir = g.pin_dir;
    o.capacity = capacity;
    auto m = parse_attach_mode(mode);
    for (const auto& i : ifaces) {
      auto a = attach(o, i, *m);
      if (!a) {
        g.exit_code = fail(a.error());
        return;
      }
      std::string what = a->foreign_maps ? "replaced an xdpban program that read maps no longer pinned in " +
                                               g.pin_dir + " on"
                         : a->replaced       ? "replaced an older xdpban program (bans kept) on"
                         : a->newly_attached ? "attached to"
                                             : "already attached to";
      std::printf("%s %s: %s mode, %s (prog id %u)\n", what.c_str(), a->ifname.c_str(), a->mode.c_str(),
                  a->dispatcher ? "libxdp dispatcher (shares the interface with other XDP programs)"
                                : "program alone (libxdp dispatcher unavailable on this kernel)",
                  a->prog_id);
    }
  });
}

void add_detach(CLI::App& app, GlobalOptions& g) {
  auto* cmd =
      app.add_subcommand("detach", "Detach the XDP program from interfaces (bans stay in the pinned maps)");
  static std::vector<std::string> ifaces;
  cmd->add_option("IFACE", ifaces, "Interfaces")->required();
  cmd->callback([&g] {
    for (const auto& i : ifaces) {
      auto r = detach(i);
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      std::printf(*r ? "detached from %s\n" : "not attached to %s: nothing to do\n", i.c_str());
    }
  });
}

// ---- ban / unban ----

void add_ban(CLI::App& app, GlobalOptions& g) {
  auto* cmd =
      app.add_subcommand("ban", "Ban addresses or networks (IPv4/IPv6, e.g. 203.0.113.7, 198.51.100.0/24)");
  static std::vector<std::string> args;
  static std::string for_text, jail = "manual", reason;
  static bool permanent = false, force = false;
  cmd->add_option("CIDR", args, "Addresses or networks to ban")->required();
  auto* f = cmd->add_option("--for", for_text, "How long (600, 10m, 1h30m, 2d, 1w); default: permanent");
  cmd->add_flag("--permanent", permanent, "Until unbanned (the default)")->excludes(f);
  cmd->add_option("--jail", jail, "Jail the ban is listed under")->capture_default_str();
  cmd->add_option("--reason", reason, "Free text, shown in the daemon's log");
  cmd->add_flag("--force", force, "Ban even this host's own addresses or allow-listed ones");
  cmd->callback([&g] {
    auto cidrs = parse_all(args, true);
    if (!cidrs) {
      g.exit_code = usage(cidrs.error().message);
      return;
    }
    if (auto st = check_reason(reason); !st) {
      g.exit_code = usage("--" + st.error().message);
      return;
    }
    uint64_t ttl_ns = 0;
    if (!for_text.empty()) {
      auto d = parse_duration(for_text);
      if (!d) {
        g.exit_code = usage("--for: " + d.error().message);
        return;
      }
      if (*d <= 0) {
        g.exit_code = usage("--for: '" + for_text + "' must be longer than 0s");
        return;
      }
      ttl_ns = static_cast<uint64_t>(*d) * 1000000000ull;
    }
    if (daemon_up(g)) {
      if (!force) {
        auto ro = Blocklist::open(g.pin_dir, Blocklist::Access::kRead);
        if (!ro) {
          g.exit_code = fail(ro.error());
          return;
        }
        auto guard = load_guard(**ro);
        if (!guard) {
          g.exit_code = fail(guard.error());
          return;
        }
        for (const auto& c : *cidrs)
          if (auto why = guard->refuse(c)) {
            g.exit_code = usage(*why);
            return;
          }
      }
      nlohmann::json req{{"cmd", "ban"}, {"cidrs", strs(*cidrs)}, {"jail", jail}, {"force", force}};
      req["duration"] = ttl_ns ? static_cast<int64_t>(ttl_ns / 1000000000ull) : -1;
      if (!reason.empty()) req["reason"] = reason;
      auto r = daemon_call(g, req);
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      for (const auto& res : (*r)["results"]) {
        std::string cidr = res.value("cidr", ""), outcome = res.value("outcome", "");
        if (outcome == "ignored") {
          std::fprintf(stderr, "xdpban: %s not banned: %s\n", cidr.c_str(), res.value("reason", "").c_str());
          g.exit_code = kExitUsage;
          continue;
        }
        int64_t left = res["remaining_s"].is_null() ? -1 : res["remaining_s"].get<int64_t>();
        std::printf("[%s] %s %s%s\n", res.value("jail", jail).c_str(),
                    outcome == "already" ? "Already banned" : "Ban", cidr.c_str(),
                    left < 0 ? " permanently" : (" for " + format_duration(left)).c_str());
      }
      return;
    }
    auto bl = open_for_write(g);
    if (!bl) {
      g.exit_code = fail(bl.error());
      return;
    }
    if (!force) {
      auto guard = load_guard(**bl);
      if (!guard) {
        g.exit_code = fail(guard.error());
        return;
      }
      for (const auto& c : *cidrs)
        if (auto why = guard->refuse(c)) {
          g.exit_code = usage(*why);
          return;
        }
    }
    auto jid = (*bl)->jail_id(jail);
    if (!jid) {
      g.exit_code = usage("--jail: " + jid.error().message);
      return;
    }
    uint64_t now = boottime_ns();
    for (const auto& c : *cidrs) {
      BanInfo b{c, ttl_ns ? now + ttl_ns : 0, *jid, XDPBAN_BAN_MANUAL};
      if (auto st = (*bl)->ban(b); !st) {
        g.exit_code = fail(st.error());
        return;
      }
      std::printf("[%s] Ban %s%s%s\n", jail.c_str(), c.str().c_str(),
                  ttl_ns ? (" for " + format_duration(static_cast<int64_t>(ttl_ns / 1000000000ull))).c_str()
                         : " permanently",
                  reason.empty() ? "" : (" (" + reason + ")").c_str());
    }
    note_direct_write();
    warn_not_attached();
  });
}

void add_unban(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand("unban", "Remove bans (exactly the named entries)");
  static std::vector<std::string> args;
  static bool all = false;
  static std::string jail;
  auto* pos = cmd->add_option("CIDR", args, "Addresses or networks to unban");
  auto* a = cmd->add_flag("--all", all, "Remove every ban (or every ban of --jail)");
  cmd->add_option("--jail", jail, "With --all: only this jail's bans")->needs(a);
  a->excludes(pos);
  cmd->callback([&g] {
    if (!all && args.empty()) {
      g.exit_code = usage("unban: name addresses or networks, or --all");
      return;
    }
    auto cidrs = parse_all(args, true);
    if (!cidrs) {
      g.exit_code = usage(cidrs.error().message);
      return;
    }
    if (daemon_up(g)) {
      nlohmann::json req{{"cmd", "unban"}, {"cidrs", strs(*cidrs)}, {"all", all}};
      if (!jail.empty()) req["jail"] = jail;
      auto r = daemon_call(g, req);
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      if (all) {
        std::printf("removed %zu bans\n", (*r)["removed"].size());
        return;
      }
      for (const auto& x : (*r)["removed"])
        std::printf("[%s] Unban %s\n", x.value("jail", "").c_str(), x.value("cidr", "").c_str());
      for (const auto& m : (*r)["missing"]) {
        say("xdpban: %s was not banned\n", m.get<std::string>());
        g.exit_code = kExitNotFound;
      }
      return;
    }
    auto bl = Blocklist::open(g.pin_dir, Blocklist::Access::kWrite);
    if (!bl) {
      g.exit_code = fail(bl.error());
      return;
    }
    if (all) {
      size_t n = 0;
      if (jail.empty()) {
        auto r = (*bl)->unban_all();
        if (!r) {
          g.exit_code = fail(r.error());
          return;
        }
        n = *r;
      } else {
        auto list = (*bl)->list();
        if (!list) {
          g.exit_code = fail(list.error());
          return;
        }
        for (const auto& b : *list)
          if ((*bl)->jail_name(b.jail) == jail) {
            auto r = (*bl)->unban(b.cidr);
            if (!r) {
              g.exit_code = fail(r.error());
              return;
            }
            n += *r;
          }
      }
      (void)(*bl)->maintain(true);
      std::printf("removed %zu bans\n", n);
      note_direct_write();
      return;
    }
    for (const auto& c : *cidrs) {
      auto existing = (*bl)->find(c);
      auto r = (*bl)->unban(c);
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      if (*r) {
        std::string j = existing.ok() && *existing ? (*bl)->jail_name((*existing)->jail) : "manual";
        std::printf("[%s] Unban %s\n", j.c_str(), c.str().c_str());
      } else {
        say("xdpban: %s was not banned\n", c.str());
        g.exit_code = kExitNotFound;
      }
    }
    (void)(*bl)->maintain(false);
    note_direct_write();
  });
}

// ---- allow ----

void add_allow(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand("allow", "The allow list: sources never dropped, whatever is banned");
  cmd->require_subcommand(1);
  static std::vector<std::string> add_args, del_args;
  static bool json = false;
  auto* add = cmd->add_subcommand("add", "Add addresses or networks to the allow list");
  add->add_option("CIDR", add_args)->required();
  auto* del = cmd->add_subcommand("del", "Remove entries from the allow list");
  del->add_option("CIDR", del_args)->required();
  auto* lst = cmd->add_subcommand("list", "Show the allow list");
  lst->add_flag("--json", json, "JSON array of CIDR strings");
  add->callback([&g] {
    auto cidrs = parse_all(add_args, true);
    if (!cidrs) {
      g.exit_code = usage(cidrs.error().message);
      return;
    }
    if (daemon_up(g)) {
      auto r = daemon_call(g, {{"cmd", "allow_add"}, {"cidrs", strs(*cidrs)}});
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      for (const auto& c : *cidrs) std::printf("allowed %s\n", c.str().c_str());
      return;
    }
    auto bl = open_for_write(g);
    if (!bl) {
      g.exit_code = fail(bl.error());
      return;
    }
    for (const auto& c : *cidrs) {
      if (auto st = (*bl)->allow_add(c); !st) {
        g.exit_code = fail(st.error());
        return;
      }
      std::printf("allowed %s\n", c.str().c_str());
    }
    note_direct_write();
  });
  del->callback([&g] {
    auto cidrs = parse_all(del_args, true);
    if (!cidrs) {
      g.exit_code = usage(cidrs.error().message);
      return;
    }
    if (daemon_up(g)) {
      auto r = daemon_call(g, {{"cmd", "allow_del"}, {"cidrs", strs(*cidrs)}});
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      std::set<std::string> missing;
      for (const auto& m : (*r)["missing"]) missing.insert(m.get<std::string>());
      for (const auto& c : *cidrs) {
        if (!missing.count(c.str())) {
          std::printf("removed %s from the allow list\n", c.str().c_str());
        } else {
          say("xdpban: %s was not on the allow list\n", c.str());
          g.exit_code = kExitNotFound;
        }
      }
      return;
    }
    auto bl = Blocklist::open(g.pin_dir, Blocklist::Access::kWrite);
    if (!bl) {
      g.exit_code = fail(bl.error());
      return;
    }
    for (const auto& c : *cidrs) {
      auto r = (*bl)->allow_del(c);
      if (!r) {
        g.exit_code = fail(r.error());
        return;
      }
      if (*r) {
        std::printf("removed %s from the allow list\n", c.str().c_str());
      } else {
        say("xdpban: %s was not on the allow list\n", c.str());
        g.exit_code = kExitNotFound;
      }
    }
    note_direct_write();
  });
  lst->callback([&g] {
    auto bl = Blocklist::open(g.pin_dir, Blocklist::Access::kRead);
    if (!bl) {
      g.exit_code = fail(bl.error());
      return;
    }
    auto l = (*bl)->allow_list();
    if (!l) {
      g.exit_code = fail(l.error());
      return;
    }
    if (json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& c : *l) j.push_back(c.str());
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    for (const auto& c : *l) std::printf("%s\n", c.str().c_str());
  });
}

// ---- list ----

// One row of 'xdpban list', from the daemon (which knows when and why) or
// from the maps (which know only what and until when).
struct ListRow {
  std::string cidr, jail, flags;
  std::string origin;  // "" = this node; else the fleet node ("fleet" when only the flag says so)
  std::optional<int64_t> remaining_s;  // nullopt: permanent
  std::optional<int64_t> since;        // unix seconds; daemon only
  std::optional<int> failures, count;  // daemon only
};

Result<std::vector<ListRow>> rows_from_daemon(const GlobalOptions& g, const std::string& jail,
                                              const std::string& within) {
  nlohmann::json req{{"cmd", "list"}};
  if (!jail.empty()) req["jail"] = jail;
  if (!within.empty()) req["cidr"] = within;
  auto r = daemon_call(g, req, 120000);
  if (!r) return r.error();
  std::vector<ListRow> out;
  for (const auto& b : (*r)["bans"]) {
    ListRow row{b.value("cidr", ""), b.value("jail", ""), flags_str(b.value("flags", uint8_t{0})),
                b.value("origin", "")};
    if (!b["remaining_s"].is_null()) row.remaining_s = b["remaining_s"].get<int64_t>();
    row.since = b.value("start", int64_t{0});
    row.failures = b.value("failures", 0);
    row.count = b.value("count", 1);
    out.push_back(std::move(row));
  }
  return out;
}

Result<std::vector<ListRow>> rows_from_maps(const GlobalOptions& g, const std::string& jail,
                                            const std::optional<Cidr>& within, bool expired) {
  auto bl = Blocklist::open(g.pin_dir, Blocklist::Access::kRead);
  if (!bl) return bl.error();
  auto l = (*bl)->list();
  if (!l) return l.error();
  uint64_t now = boottime_ns();
  std::vector<ListRow> out;
  for (const auto& b : *l) {
    std::string jname = (*bl)->jail_name(b.jail);
    if (!jail.empty() && jname != jail) continue;
    if (within && !within->contains(b.cidr)) continue;
    auto rem = remaining_s(b.expires_ns, now);
    if (rem && b.expires_ns <= now && !expired) continue;
    // The maps know only that a ban came from the fleet, not from which node.
    std::string origin = (b.flags & XDPBAN_BAN_FLEET) ? "fleet" : "";
    out.push_back(
        {b.cidr.str(), jname, flags_str(b.flags), origin, rem, std::nullopt, std::nullopt, std::nullopt});
  }
  return out;
}

void add_list(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand(
      "list",
      "List active bans: address, jail, since, remaining time, failures that led to it, flags "
      "(manual, flood, import, fleet) and origin (local, or the fleet node that published it). Since and "
      "failures come from xdpband; with the daemon down the pinned maps are read: they show as -, and a "
      "fleet ban's origin as 'fleet'");
  static std::string jail, within;
  static bool json = false, expired = false;
  cmd->add_option("--jail", jail, "Only this jail's bans");
  cmd->add_option("--cidr", within, "Only bans inside this network (e.g. 203.0.113.0/24)");
  cmd->add_flag(
      "--json", json,
      "One JSON array of objects: cidr, jail, flags, origin (\"\" for this node), permanent, remaining_s, "
      "since, failures, count (null where unknown)");
  cmd->add_flag("--expired", expired, "Also show expired entries not yet removed (read from the maps)");
  cmd->callback([&g] {
    std::optional<Cidr> filter;
    if (!within.empty()) {
      auto c = Cidr::parse(within);
      if (!c) {
        g.exit_code = usage("--cidr: " + c.error().message);
        return;
      }
      filter = *c;
    }
    auto rows = !expired && daemon_up(g) ? rows_from_daemon(g, jail, filter ? filter->str() : "")
                                         : rows_from_maps(g, jail, filter, expired);
    if (!rows) {
      g.exit_code = fail(rows.error());
      return;
    }
    auto or_null = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    nlohmann::json out = nlohmann::json::array();
    if (!json)
      std::printf("%-40s %-16s %-19s %-12s %-8s %-14s %s\n", "ADDRESS", "JAIL", "SINCE", "REMAINING",
                  "FAILURES", "FLAGS", "ORIGIN");
    for (const auto& r : *rows) {
      if (json) {
        out.push_back({{"cidr", r.cidr},
                       {"jail", r.jail},
                       {"flags", r.flags},
                       {"origin", r.origin},
                       {"permanent", !r.remaining_s.has_value()},
                       {"remaining_s", or_null(r.remaining_s)},
                       {"since", or_null(r.since)},
                       {"failures", or_null(r.failures)},
                       {"count", or_null(r.count)}});
        continue;
      }
      std::printf("%-40s %-16s %-19s %-12s %-8s %-14s %s\n", r.cidr.c_str(), r.jail.c_str(),
                  r.since ? local_time_format(*r.since, "%Y-%m-%d %H:%M:%S").c_str() : "-",
                  r.remaining_s ? format_duration(*r.remaining_s).c_str() : "permanent",
                  r.failures ? std::to_string(*r.failures).c_str() : "-", r.flags.c_str(),
                  r.origin.empty() ? "local" : r.origin.c_str());
    }
    if (json) std::printf("%s\n", out.dump().c_str());
  });
}

// ---- stats ----

using CounterList = std::vector<std::pair<const char*, uint64_t>>;

CounterList counters_of(const xdpban_stats& s) {
  return {{"passed", s.passed},
          {"dropped_v4", s.dropped_v4},
          {"dropped_v6", s.dropped_v6},
          {"allow_hits", s.allow_hits},
          {"expired_hits", s.expired_hits},
          {"non_ip", s.non_ip},
          {"malformed", s.malformed},
          {"host_probes", s.host_probes},
          {"host_exact", s.host_exact},
          {"net_probes", s.net_probes},
          {"flood_checked", s.flood_checked},
          {"flood_dropped", s.flood_dropped},
          {"flood_events", s.flood_events},
          {"flood_lost", s.flood_lost}};
}

volatile sig_atomic_t g_stop_watch = 0;
void on_watch_signal(int) { g_stop_watch = 1; }

// Redraws the counters with per-second rates every interval until Ctrl-C (or
// `count` refreshes): a screen on a terminal, one line (or JSON object) per
// interval otherwise, so it can be logged or piped.
int watch_stats(Blocklist& bl, double interval, unsigned count, bool json) {
  struct sigaction sa {};
  sa.sa_handler = on_watch_signal;  // no SA_RESTART: the sleep ends at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  bool tty = !json && isatty(STDOUT_FILENO);
  std::string ifaces;
  for (const auto& a : attachments()) ifaces += (ifaces.empty() ? "" : ", ") + a.ifname + " (" + a.mode + ")";
  auto prev = bl.stats();
  if (!prev) return fail(prev.error());
  auto t_prev = std::chrono::steady_clock::now();
  if (!tty && !json)
    std::printf("%-8s %12s %12s %12s %12s %14s %14s %14s\n", "TIME", "PASSED/S", "DROPPED4/S", "DROPPED6/S",
                "ALLOW/S", "PASSED", "DROPPED4", "DROPPED6");
  for (unsigned n = 0; !g_stop_watch && (count == 0 || n < count); ++n) {
    auto ns = static_cast<long>(interval * 1e9);
    timespec ts{ns / 1000000000L, ns % 1000000000L};
    if (nanosleep(&ts, nullptr) != 0 && g_stop_watch) break;
    auto cur = bl.stats();
    if (!cur) return fail(cur.error());
    auto t = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(t - t_prev).count();
    auto now_c = counters_of(*cur), prev_c = counters_of(*prev);
    // A counter that went down means the maps were recreated: no rate then.
    auto rate = [&](size_t i) {
      return now_c[i].second >= prev_c[i].second ? double(now_c[i].second - prev_c[i].second) / dt : 0.0;
    };
    time_t wall = time(nullptr);
    char hms[16];
    strftime(hms, sizeof hms, "%H:%M:%S", localtime(&wall));
    if (json) {
      nlohmann::json j{{"time", static_cast<int64_t>(wall)}, {"interval_s", dt}};
      for (size_t i = 0; i < now_c.size(); ++i) {
        j["counters"][now_c[i].first] = now_c[i].second;
        j["rates"][now_c[i].first] = rate(i);
      }
      std::printf("%s\n", j.dump().c_str());
    } else if (tty) {
      std::printf("\033[H\033[2Jxdpban stats   %s   every %gs, Ctrl-C to stop\n\n%-14s %16s %14s\n", hms,
                  interval, "COUNTER", "TOTAL", "PER SECOND");
      for (size_t i = 0; i < now_c.size(); ++i)
        std::printf("%-14s %16llu %14.1f\n", now_c[i].first, static_cast<unsigned long long>(now_c[i].second),
                    rate(i));
      if (auto u = bl.usage(); u)
        std::printf("\nhosts          %zu IPv4, %zu IPv6; networks %zu IPv4, %zu IPv6\n", u->hosts4,
                    u->hosts6, u->nets4, u->nets6);
      std::printf("interfaces     %s\n",
                  ifaces.empty() ? "none (run 'xdpban attach IFACE')" : ifaces.c_str());
    } else {
      std::printf("%-8s %12.1f %12.1f %12.1f %12.1f %14llu %14llu %14llu\n", hms, rate(0), rate(1), rate(2),
                  rate(3), static_cast<unsigned long long>(cur->passed),
                  static_cast<unsigned long long>(cur->dropped_v4),
                  static_cast<unsigned long long>(cur->dropped_v6));
    }
    std::fflush(stdout);
    prev = cur;
    t_prev = t;
  }
  return kExitOk;
}

void add_stats(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand("stats", "XDP counters, table usage and attached interfaces");
  static bool json = false, watch = false;
  static double interval = 1.0;
  static unsigned count = 0;
  cmd->add_flag("--json", json, "One JSON object (with --watch: one per interval, with rates)");
  auto* w = cmd->add_flag("--watch", watch,
                          "Refresh every --interval seconds with packets per second, until Ctrl-C "
                          "(plain lines when output is not a terminal)");
  cmd->add_option("--interval", interval, "Seconds between refreshes with --watch")
      ->check(CLI::Range(0.1, 3600.0))
      ->needs(w)
      ->capture_default_str();
  cmd->add_option("--count", count, "With --watch: stop after this many refreshes (0: until Ctrl-C)")
      ->needs(w);
  cmd->callback([&g] {
    auto bl = Blocklist::open(g.pin_dir, Blocklist::Access::kRead);
    if (!bl) {
      g.exit_code = fail(bl.error());
      return;
    }
    if (watch) {
      g.exit_code = watch_stats(**bl, interval, count, json);
      return;
    }
    auto s = (*bl)->stats();
    auto u = (*bl)->usage();
    if (!s || !u) {
      g.exit_code = fail(!s ? s.error() : u.error());
      return;
    }
    auto c = counters_of(*s);
    auto att = attachments();
    if (json) {
      nlohmann::json j;
      for (auto& [k, v] : c) j["counters"][k] = v;
      j["tables"] = {{"hosts4", u->hosts4},    {"hosts6", u->hosts6}, {"slots4", u->slots4},
                     {"slots6", u->slots6},    {"nets4", u->nets4},   {"nets6", u->nets6},
                     {"spilled4", u->spilled4}};
      j["interfaces"] = nlohmann::json::array();
      for (const auto& a : att)
        j["interfaces"].push_back({{"ifname", a.ifname}, {"mode", a.mode}, {"dispatcher", a.dispatcher}});
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    for (auto& [k, v] : c) std::printf("%-14s %llu\n", k, static_cast<unsigned long long>(v));
    std::printf("hosts          %zu IPv4 (capacity %zu), %zu IPv6 (capacity %zu)\n", u->hosts4, u->slots4,
                u->hosts6, u->slots6);
    if (u->spilled4)
      std::printf("               %zu IPv4 hosts outside the index (their lines were full)\n", u->spilled4);
    std::printf("networks       %zu IPv4, %zu IPv6\n", u->nets4, u->nets6);
    if (att.empty()) std::printf("interfaces     none (run 'xdpban attach IFACE')\n");
    for (const auto& a : att)
      std::printf("interface      %s: %s mode, %s\n", a.ifname.c_str(), a.mode.c_str(),
                  a.dispatcher ? "libxdp dispatcher" : "program alone");
  });
}

}  // namespace

bool daemon_up(const GlobalOptions& g) {
  auto r = control_call(g.socket, {{"cmd", "ping"}}, 2000);
  return r.ok() && r->value("ok", false);
}

void note_direct_write() {
  std::fprintf(
      stderr,
      "xdpban: xdpband is not running: writing the pinned maps directly (it adopts these entries when "
      "it starts)\n");
}

Result<nlohmann::json> daemon_call(const GlobalOptions& g, const nlohmann::json& req, int timeout_ms) {
  auto r = control_call(g.socket, req, timeout_ms);
  if (!r) return r.error();
  if (!r->value("ok", false))
    return make_error(EINVAL, "xdpband: " + r->value("error", std::string("failed")));
  return r;
}

std::optional<std::string> missing_privileges(const std::string& command) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return std::nullopt;  // let the kernel say
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  bool maps = has(CAP_SYS_ADMIN) || has(CAP_BPF);
  bool attach = (command != "attach" && command != "detach") || has(CAP_NET_ADMIN);
  if (maps && attach) return std::nullopt;
  return "'xdpban " + command + "' works on the pinned BPF maps and needs root (CAP_BPF" +
         (attach ? "" : " and CAP_NET_ADMIN") + "): run it with sudo";
}

Result<BanGuard> load_guard(const Blocklist& bl) {
  auto allow = bl.allow_list();
  if (!allow) return allow.error();
  return BanGuard(local_addresses(), std::move(*allow));
}

// ---- status ----

// The daemon's answer on its socket, or the clear error when it does not answer.
Result<nlohmann::json> status_call(const GlobalOptions& g, const nlohmann::json& req) {
  auto r = control_call(g.socket, req);
  if (!r)
    return r.error().code == EACCES
               ? Error{EACCES, "permission denied on " + g.socket + ": run it with sudo"}
               : Error{r.error().code, "xdpband is not running (no answer on " + g.socket +
                                           "); start it: systemctl start xdpband"};
  return r;
}

// "3 ms", "0.4 ms", or "-" while there is no measurement (null).
std::string millis(const nlohmann::json& v) {
  if (!v.is_number()) return "-";
  double ms = v.get<double>();
  char buf[48];
  std::snprintf(buf, sizeof buf, std::trunc(ms) == ms ? "%.0f ms" : "%.1f ms", ms);
  return buf;
}

// `xdpban fleet status`: the daemon's fleet_status answer, readably.
void print_fleet_status(const nlohmann::json& r) {
  auto str = [&](const char* k) {
    auto it = r.find(k);
    return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) {
    auto it = r.find(k);
    return it != r.end() && it->is_number() ? it->dump() : std::string("-");
  };
  bool connected = r.value("connected", false);
  std::string server = str("server");
  std::printf("node: %s\n", str("node").c_str());
  std::printf("bucket: %s\n", str("bucket").c_str());
  std::printf("server: %s (%s)\n", server.empty() ? "-" : server.c_str(),
              connected ? "connected" : "not connected");
  if (!str("last_error").empty()) std::printf("last error: %s\n", str("last_error").c_str());
  std::printf("snapshot: %s\n", r.value("snapshot_done", false) ? "done" : "not yet read");
  std::printf("outbox: %s\n", num("outbox").c_str());
  const nlohmann::json lag = r.contains("lag_ms") ? r["lag_ms"] : nlohmann::json::object();
  auto lag_of = [&](const char* k) { return millis(lag.is_object() && lag.contains(k) ? lag[k] : nullptr); };
  std::printf("lag: last %s, p50 %s, p99 %s\n", lag_of("last").c_str(), lag_of("p50").c_str(),
              lag_of("p99").c_str());
  std::printf("published/received/applied/rejected: %s/%s/%s/%s\n", num("published").c_str(),
              num("received").c_str(), num("applied").c_str(), num("rejected").c_str());
}

void add_fleet(CLI::App& app, GlobalOptions& g) {
  auto* fleet = app.add_subcommand(
      "fleet", "Bans shared with other nodes over NATS JetStream ([fleet] in xdpban.conf; needs xdpband)");
  fleet->require_subcommand(1);
  auto* cmd = fleet->add_subcommand(
      "status",
      "This node's fleet link: node name, bucket, the server it is connected to (or the last error), the "
      "outbox of bans not yet published, the lag from another node's ban to its application here (last, "
      "p50, p99), and counts of bans published, received, applied and rejected (by the guard or the accept "
      "list). Needs a running xdpband");
  static bool json = false;
  cmd->add_flag("--json", json, "The daemon's answer as JSON");
  cmd->callback([&g] {
    auto r = status_call(g, {{"cmd", "fleet_status"}});
    if (!r) {
      g.exit_code = fail(r.error());
      return;
    }
    if (!r->value("ok", false)) {
      g.exit_code = fail(Error{EINVAL, "xdpband: " + r->value("error", std::string("fleet status failed"))});
      return;
    }
    if (json) {
      std::printf("%s\n", r->dump().c_str());
      return;
    }
    if (!r->value("enabled", false)) {
      std::printf("fleet: not configured ([fleet] enabled = false)\n");
      return;
    }
    print_fleet_status(*r);
  });
}

void add_status(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand("status", "The daemon's jails, like fail2ban-client status (needs xdpband)");
  static std::string jail;
  static bool json = false;
  cmd->add_option("JAIL", jail, "One jail in detail");
  cmd->add_flag("--json", json, "The daemon's answer as JSON");
  cmd->callback([&g] {
    auto r = status_call(g, {{"cmd", "status"}, {"jail", jail}});
    if (!r) {
      g.exit_code = fail(r.error());
      return;
    }
    if (!r->value("ok", false)) {
      g.exit_code = usage(r->value("error", std::string("status failed")));
      return;
    }
    if (json) {
      std::printf("%s\n", r->dump().c_str());
      return;
    }
    const auto& jails = (*r)["jails"];
    if (jail.empty()) {
      std::string names;
      for (const auto& j : jails) names += (names.empty() ? "" : ", ") + j.value("name", "");
      std::printf("Status\n|- Number of jail:\t%zu\n|- Active bans:\t%zu\n`- Jail list:\t%s\n", jails.size(),
                  r->value("bans", size_t{0}), names.c_str());
      return;
    }
    const auto& j = jails.at(0);
    std::string files, banned;
    auto l = control_call(g.socket, {{"cmd", "list"}, {"jail", jail}});
    if (l.ok() && l->value("ok", false))
      for (const auto& b : (*l)["bans"]) banned += (banned.empty() ? "" : " ") + b.value("cidr", "");
    if (j.contains("flood")) {
      const auto& f = j["flood"];
      std::string ports;
      for (const auto& p : f["ports"]) ports += (ports.empty() ? "" : " ") + p.get<std::string>();
      std::printf(
          "Status for the jail: %s\n|- Flood guard\n|  |- Ports:\t%s\n|  |- Rate:\t%g/s per source, burst "
          "%u, "
          "ban after %u over\n|  |- Packets checked:\t%llu\n|  |- Packets dropped:\t%llu\n"
          "|  `- Sources reported:\t%llu\n`- Actions\n   |- Currently banned:\t%llu\n"
          "   |- Total banned:\t%llu\n   `- Banned IP list:\t%s\n",
          jail.c_str(), ports.c_str(), f.value("rate", 0.0), f.value("burst", 0u), f.value("drops", 0u),
          f.value("checked", 0ull), f.value("dropped", 0ull), f.value("reported", 0ull),
          j.value("currently_banned", 0ull), j.value("total_banned", 0ull), banned.c_str());
      return;
    }
    for (const auto& f : j["files"]) files += (files.empty() ? "" : " ") + f.get<std::string>();
    std::printf(
        "Status for the jail: %s\n|- Filter\n|  |- Currently failed:\t%llu\n|  |- Total failed:\t%llu\n"
        "|  `- File list:\t%s\n`- Actions\n   |- Currently banned:\t%llu\n   |- Total banned:\t%llu\n"
        "   `- Banned IP list:\t%s\n",
        jail.c_str(), j.value("currently_failed", 0ull), j.value("total_failed", 0ull), files.c_str(),
        j.value("currently_banned", 0ull), j.value("total_banned", 0ull), banned.c_str());
  });
}

void add_datapath_commands(CLI::App& app, GlobalOptions& g) {
  add_attach(app, g);
  add_detach(app, g);
  add_ban(app, g);
  add_unban(app, g);
  add_allow(app, g);
  add_list(app, g);
  add_status(app, g);
  add_fleet(app, g);
  add_stats(app, g);
}

}  // namespace xdpban
