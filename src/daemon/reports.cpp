#include "daemon/reports.h"

#include <spdlog/spdlog.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/duration.h"
#include "io/local_time.h"

namespace xdpban {

namespace {

constexpr const char* kLastKey = "report_last";          // unix time the last report ended
constexpr const char* kCountersKey = "report_counters";  // XDP counters then

std::string hostname() {
  char h[256] = {};
  if (gethostname(h, sizeof h - 1) != 0) return "localhost";
  return h;
}

std::string rfc5322_date(int64_t t) {
  // The daemon runs in the C locale: English day and month names, as mail wants.
  return local_time_format(t, "%a, %d %b %Y %H:%M:%S %z");
}

// "passed dropped_v4 dropped_v6 allow_hits [flood_dropped]" (the fifth came
// with the flood guard; a stored four-value line reads as flood_dropped 0).
std::optional<xdpban_stats> parse_counters(const std::string& s) {
  xdpban_stats c{};
  std::istringstream in(s);
  unsigned long long v[5] = {};
  for (int i = 0; i < 4; ++i)
    if (!(in >> v[i])) return std::nullopt;
  in >> v[4];
  c.passed = v[0];
  c.dropped_v4 = v[1];
  c.dropped_v6 = v[2];
  c.allow_hits = v[3];
  c.flood_dropped = v[4];
  return c;
}

}  // namespace

DropCounters drops_between(const std::optional<xdpban_stats>& before, const xdpban_stats& now) {
  DropCounters d;
  // A counter that went down means the maps were made again since: count from zero.
  bool reset = before && (now.passed < before->passed || now.dropped_v4 < before->dropped_v4 ||
                          now.dropped_v6 < before->dropped_v6 || now.allow_hits < before->allow_hits ||
                          now.flood_dropped < before->flood_dropped);
  if (before && !reset) {
    d.passed = now.passed - before->passed;
    d.dropped_v4 = now.dropped_v4 - before->dropped_v4;
    d.dropped_v6 = now.dropped_v6 - before->dropped_v6;
    d.allow_hits = now.allow_hits - before->allow_hits;
    d.flood_dropped = now.flood_dropped - before->flood_dropped;
    d.scope = "since the previous report";
  } else {
    d.passed = now.passed;
    d.dropped_v4 = now.dropped_v4;
    d.dropped_v6 = now.dropped_v6;
    d.allow_hits = now.allow_hits;
    d.flood_dropped = now.flood_dropped;
    d.scope = reset ? "since the maps were made again" : "since the maps were made";
  }
  return d;
}

std::string compose_report(const Report& r, const OpsConfig& ops, int64_t now) {
  std::string body = render_report_text(r, local_time_str);
  if (ops.report_mailto.empty()) return body;
  std::string h = "To: " + ops.report_mailto + "\n";
  if (!ops.report_mailfrom.empty()) h += "From: " + ops.report_mailfrom + "\n";
  h += "Subject: " + report_subject(r) + "\n";
  h += "Date: " + rfc5322_date(now) + "\n";
  h += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n";
  h += "Auto-Submitted: auto-generated\n\n";
  return h + body;
}

Result<std::unique_ptr<Reporter>> Reporter::create(const DaemonConfig& cfg, StateStore& store,
                                                   Blocklist& maps, CommandRunner& runner, LoopHooks loop) {
  std::unique_ptr<Reporter> r(new Reporter(cfg, store, maps, runner, std::move(loop)));
  // Wall-clock time: a daily report stays daily across a suspend.
  r->timer_.reset(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!r->timer_.valid()) return make_error(errno, std::string("timerfd_create: ") + std::strerror(errno));
  Reporter* self = r.get();
  if (auto st = r->loop_.watch(r->timer_.get(), [self] { self->on_timer(); }); !st) return st.error();
  r->configure();
  return r;
}

Reporter::~Reporter() {
  if (timer_.valid()) loop_.unwatch(timer_.get());
}

int64_t Reporter::last_report(int64_t now) {
  auto last = store_.load_meta(kLastKey);
  if (last && *last) return std::strtoll((*last)->c_str(), nullptr, 10);
  // Reports were just turned on: the first covers one period from now.
  (void)store_.save_meta(kLastKey, std::to_string(now));
  return now;
}

void Reporter::configure() {
  int64_t interval = cfg_.ops.report_interval;
  if (interval <= 0) {
    arm(0);
    return;
  }
  int64_t now = time(nullptr);
  int64_t due = last_report(now) + interval;
  spdlog::info("reports every {} through {}: next at {}", format_duration(interval),
               cfg_.ops.report_command.text(), local_time_str(std::max(due, now)));
  arm(due);
}

void Reporter::arm(int64_t due) {
  itimerspec t{};
  if (due > 0) t.it_value.tv_sec = static_cast<time_t>(due);  // absolute; in the past: at once
  timerfd_settime(timer_.get(), due > 0 ? TFD_TIMER_ABSTIME : 0, &t, nullptr);
}

void Reporter::on_timer() {
  uint64_t expirations;
  (void)!::read(timer_.get(), &expirations, sizeof expirations);
  int64_t interval = cfg_.ops.report_interval;
  if (interval <= 0) return;
  int64_t now = time(nullptr);
  int64_t due = last_report(now) + interval;
  if (now < due) {
    arm(due);  // the clock was set back
    return;
  }
  send(now);
  arm(now + interval);
}

void Reporter::send(int64_t now) {
  int64_t since = last_report(now);
  auto r = store_.report(since, now, cfg_.ops.report_top);
  if (!r) {
    spdlog::error("report: {}", r.error().message);
    return;
  }
  r->host = hostname();
  std::optional<xdpban_stats> before;
  if (auto c = store_.load_meta(kCountersKey); c && *c) before = parse_counters(**c);
  auto stats = maps_.stats();
  if (stats) {
    r->drops = drops_between(before, *stats);
    (void)store_.save_meta(
        kCountersKey, std::to_string(stats->passed) + " " + std::to_string(stats->dropped_v4) + " " +
                          std::to_string(stats->dropped_v6) + " " + std::to_string(stats->allow_hits) + " " +
                          std::to_string(stats->flood_dropped));
  }
  CommandJob job;
  job.label = "report_command";
  job.argv = cfg_.ops.report_command.expand({{"subject", report_subject(*r)}, {"hostname", r->host}});
  job.input = compose_report(*r, cfg_.ops, now);
  job.never_drop = true;
  (void)store_.save_meta(kLastKey, std::to_string(now));
  spdlog::info("report for {} to {}: {} bans, {} unbans; sending through {}", local_time_str(since),
               local_time_str(now), r->bans, r->unbans, job.argv.empty() ? "" : job.argv[0]);
  runner_.submit(std::move(job));
}

}  // namespace xdpban
