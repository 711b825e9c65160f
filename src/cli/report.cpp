#include "cli/report.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "bpf/blocklist.h"
#include "core/duration.h"
#include "core/report.h"
#include "io/local_time.h"
#include "io/state_store.h"

namespace xdpban {

void add_report_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string since = "24h";
    std::string db = "/var/lib/xdpban/xdpban.db";
    bool json = false;
    size_t top = 10;
  };
  static Options o;
  auto* cmd = app.add_subcommand(
      "report",
      "What happened: bans per jail, top offenders and networks, flood bans, XDP drops (from the "
      "state database; works with the daemon running or not)");
  cmd->add_option("--since", o.since, "How far back (1h, 24h, 7d, ...)")->capture_default_str();
  cmd->add_option("--db", o.db, "xdpband's state database (xdpban.conf: database)")->capture_default_str();
  cmd->add_option("--top", o.top, "Entries in each top list")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--json", o.json, "One JSON object");
  cmd->callback([&g] {
    auto span = parse_duration(o.since);
    if (!span || *span <= 0) {
      std::fprintf(stderr, "xdpban: --since: '%s' is not a duration such as 24h or 7d\n", o.since.c_str());
      g.exit_code = kExitUsage;
      return;
    }
    auto store = StateStore::open_readonly(o.db);
    if (!store) {
      std::fprintf(stderr, "xdpban: %s\n", store.error().message.c_str());
      g.exit_code = kExitFailed;
      return;
    }
    int64_t now = time(nullptr);
    auto r = (*store)->report(now - *span, now + 1, o.top);
    if (!r) {
      std::fprintf(stderr, "xdpban: %s\n", r.error().message.c_str());
      g.exit_code = kExitFailed;
      return;
    }
    r->until = now;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) r->host = host;
    // The XDP counters, when the maps are here to read (they count since the
    // maps were made, not over --since).
    if (auto maps = Blocklist::open(g.pin_dir, Blocklist::Access::kRead); maps)
      if (auto s = (*maps)->stats(); s)
        r->drops = DropCounters{s->passed,     s->dropped_v4,    s->dropped_v6,
                                s->allow_hits, s->flood_dropped, "since the maps were made"};
    if (o.json)
      std::printf("%s\n", render_report_json(*r).dump(2).c_str());
    else
      std::fputs(render_report_text(*r, local_time_str).c_str(), stdout);
  });
}

}  // namespace xdpban
