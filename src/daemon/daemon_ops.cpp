// daemon_ops.cpp - the Daemon's production add-ons, registered on its event
// loop and its BanEvent listeners: the event log (for reports), actions
// (ban_command / unban_command), periodic reports and the metrics endpoint.
// Kept out of daemon.cpp so they hook in with a call each.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/actions.h"
#include "daemon/daemon.h"
#include "daemon/fleet.h"
#include "daemon/metrics.h"
#include "daemon/reports.h"
#include "io/command_runner.h"
#include "io/http_endpoint.h"
#include "io/spawn.h"

#ifndef XDPBAN_VERSION
#define XDPBAN_VERSION "unknown"
#endif

namespace xdpban {

namespace {

CommandLimits limits_of(const OpsConfig& o) {
  CommandLimits l;
  l.timeout = std::chrono::seconds(o.command_timeout);
  l.max_running = o.command_max_running;
  l.max_queued = o.command_max_queued;
  return l;
}

std::string quoted_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`;|&<>(){}*?[]#~") == std::string::npos;
    std::string q = a;
    if (!plain) {
      q = "'";
      for (char c : a)
        q += c == '\'' ? std::string("'\\''") : c == '\n' ? std::string("\\n") : std::string(1, c);
      q += "'";
    }
    out += (out.empty() ? "" : " ") + q;
  }
  return out;
}

// Logs a finished command: output at debug level, a failure as a warning.
void log_result(const CommandResult& r, const CommandLimits& limits) {
  auto lines = [&](spdlog::level::level_enum lvl) {
    size_t start = 0;
    while (start < r.output.size()) {
      size_t nl = r.output.find('\n', start);
      std::string line = r.output.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!line.empty()) spdlog::log(lvl, "{} (pid {}): {}", r.label, r.pid, line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    if (r.output_truncated)
      spdlog::log(lvl, "{} (pid {}): [output cut at {} bytes]", r.label, r.pid, CommandRunner::kMaxOutput);
  };
  std::string last;
  if (!r.output.empty()) {
    std::string o = r.output;
    while (!o.empty() && o.back() == '\n') o.pop_back();
    auto nl = o.rfind('\n');
    last = nl == std::string::npos ? o : o.substr(nl + 1);
    if (last.size() > 200) last = last.substr(0, 200) + "...";
  }
  std::string tail = last.empty() ? "" : ": " + last;
  switch (r.kind) {
    case CommandResult::kExited:
      lines(spdlog::level::debug);
      if (r.status == 0)
        spdlog::debug("{}: pid {} exited 0 after {:.3f} s", r.label, r.pid, r.seconds);
      else
        spdlog::warn("{}: pid {} exited with status {} after {:.3f} s{}", r.label, r.pid, r.status, r.seconds,
                     tail);
      break;
    case CommandResult::kSignaled:
      lines(spdlog::level::debug);
      spdlog::warn("{}: pid {} killed by signal {} after {:.3f} s{}", r.label, r.pid, r.status, r.seconds,
                   tail);
      break;
    case CommandResult::kTimedOut:
      lines(spdlog::level::debug);
      spdlog::warn("{}: pid {} killed after {} s (command_timeout){}", r.label, r.pid,
                   std::chrono::duration_cast<std::chrono::seconds>(limits.timeout).count(), tail);
      break;
    case CommandResult::kSpawnFailed:
      spdlog::warn("{}: cannot run {}: {}", r.label, r.argv.empty() ? "" : r.argv[0], r.error);
      break;
    case CommandResult::kDropped:
      break;  // counted and summarised by the caller
  }
}

// A command whose program is not there fails at every ban: say so at start.
void warn_missing_programs(const LoadedConfig& cfg) {
  auto check = [](const std::string& who, const CommandTemplate& t) {
    if (t.empty()) return;
    auto argv = t.expand({});
    if (auto p = resolve_program(argv[0]); !p)
      spdlog::warn("{}: {}: {}", who, t.text(), p.error().message);
    else if (::access(p->c_str(), X_OK) != 0)
      spdlog::warn("{}: {} is not an executable file: the command will fail", who, *p);
  };
  const OpsConfig& o = cfg.daemon.ops;
  check("ban_command", o.ban_command);
  check("unban_command", o.unban_command);
  if (o.report_interval > 0) check("report_command", o.report_command);
  for (const auto& j : cfg.jails) {
    const auto& s = j->settings();
    if (s.ban_command) check("[" + s.name + "] ban_command", *s.ban_command);
    if (s.unban_command) check("[" + s.name + "] unban_command", *s.unban_command);
  }
}

}  // namespace

Status Daemon::start_ops() {
  started_at_ = unix_now();
  warn_missing_programs(cfg_);
  if (store_->upgraded_from() > 0 && store_->upgraded_from() < StateStore::kSchemaVersion)
    spdlog::info(
        "{}: upgraded from schema version {} to {} (2: event log for reports; 3: ban origin and fleet "
        "outbox)",
        cfg_.daemon.database, store_->upgraded_from(), StateStore::kSchemaVersion);
  Daemon* self = this;
  LoopHooks loop{[self](int fd, std::function<void()> fn) { return self->watch(fd, std::move(fn)); },
                 [self](int fd) { self->unwatch(fd); }};
  auto runner = CommandRunner::create(loop, limits_of(cfg_.daemon.ops));
  if (!runner) return runner.error();
  runner_ = std::move(*runner);
  runner_->on_started([](const CommandJob& j, pid_t pid) {
    spdlog::debug("{}: started pid {}: {}", j.label, pid, quoted_argv(j.argv));
  });
  runner_->on_done([self, last_note = std::chrono::steady_clock::time_point{},
                    unreported = uint64_t{0}](const CommandResult& r) mutable {
    if (r.kind != CommandResult::kDropped) {
      log_result(r, self->runner_->limits());
      return;
    }
    // A ban storm can fill the queue: say so every 10 s, not once per ban.
    ++unreported;
    auto now = std::chrono::steady_clock::now();
    if (now - last_note < std::chrono::seconds(10)) return;
    spdlog::warn("{}: not run: {} commands wait already (command_max_queued); {} dropped since the last note",
                 r.label, self->runner_->queued(), unreported);
    last_note = now;
    unreported = 0;
  });
  actions_ = std::make_unique<Actions>(*runner_, cfg_);
  metrics_counters_ = std::make_unique<MetricsCounters>();
  // Every ban change goes to the event log first, then to the actions.
  listeners_.push_back([self](const BanEvent& e) {
    const BanRecord& b = e.ban;
    EventRecord r;
    r.kind = e.kind == BanEvent::kBan       ? EventRecord::kBan
             : e.kind == BanEvent::kProlong ? EventRecord::kProlong
                                            : EventRecord::kUnban;
    r.time = unix_now();
    r.jail = b.jail;
    r.cidr = b.cidr;
    r.duration = b.expiry ? b.expiry - b.start : -1;
    r.failures = b.failures;
    r.count = b.count;
    r.flags = b.flags;
    r.reason = e.reason;
    self->writes_->add_event(r);  // written behind, kept while the store fails
  });
  listeners_.push_back([self](const BanEvent& e) { self->metrics_counters_->on_event(e); });
  listeners_.push_back([self](const BanEvent& e) { self->actions_->on_event(e, unix_now()); });
  auto reporter = Reporter::create(cfg_.daemon, *store_, *blocklist_, *runner_, loop);
  if (!reporter) return reporter.error();
  reporter_ = std::move(*reporter);
  start_metrics();
  return {};
}

void Daemon::start_metrics() {
  const std::string& where = cfg_.daemon.ops.metrics;
  if (metrics_http_ && metrics_http_->address().str() == where) return;
  metrics_http_.reset();
  if (where.empty()) return;
  auto addr = ListenAddress::parse(where);
  if (!addr) return;  // checked when the configuration was read
  Daemon* self = this;
  LoopHooks loop{[self](int fd, std::function<void()> fn) { return self->watch(fd, std::move(fn)); },
                 [self](int fd) { self->unwatch(fd); }};
  auto http = HttpEndpoint::start(
      *addr, [self] { return self->metrics_text(); }, loop);
  if (!http) {
    // Bans matter more than their metrics: go on, and try again at the next reload.
    spdlog::error("{}; running without metrics", http.error().message);
    return;
  }
  metrics_http_ = std::move(*http);
  spdlog::info("metrics on http://{}/metrics", metrics_http_->address().str());
}

void Daemon::reload_ops() {
  ++reloads_;
  if (!runner_) return;
  warn_missing_programs(cfg_);
  runner_->set_limits(limits_of(cfg_.daemon.ops));
  reporter_->configure();
  start_metrics();
}

std::string Daemon::metrics_text() {
  MetricsSnapshot s;
  s.version = XDPBAN_VERSION;
  s.start_time = started_at_;
  s.now = unix_now();
  std::map<std::string, MetricsSnapshot::Jail> jails;
  for (const auto& j : cfg_.jails) {
    auto& m = jails[j->settings().name];
    m.name = j->settings().name;
    m.configured = true;
    m.failing = j->tracker().size();
    m.failures = j->total_failed();
  }
  for (const auto& [c, b] : bans_->active()) {
    auto& m = jails[b.jail];
    m.name = b.jail;
    ++m.active;
  }
  // Jails whose bans all ended still count their past bans.
  for (const auto& [name, n] : metrics_counters_->bans) jails[name].name = name;
  for (const auto& [key, n] : metrics_counters_->unbans) jails[key.first].name = key.first;
  for (auto& [name, m] : jails) s.jails.push_back(m);
  s.counters = metrics_counters_.get();
  if (auto x = blocklist_->stats(); x) s.xdp = *x;
  if (auto u = blocklist_->usage(); u) s.usage = *u;
  s.interfaces = attached_.size();
  s.commands = runner_->counters();
  s.commands_running = runner_->running();
  s.commands_queued = runner_->queued();
  s.reloads = reloads_;
  if (fleet_) {
    const auto& c = fleet_->counters();
    s.fleet = MetricsSnapshot::Fleet{c.published,
                                     c.received,
                                     c.applied,
                                     c.rejected,
                                     fleet_->outbox(),
                                     fleet_->connected(),
                                     fleet_->lag_quantile(0.5),
                                     fleet_->lag_quantile(0.99)};
  }
  return render_metrics(s);
}

// Without a broker, or with a bad one, bans here go on: the fleet's trouble is
// logged (and shown by `xdpban fleet status`), never fatal.
void Daemon::start_fleet() {
  const FleetSettings& s = cfg_.daemon.fleet;  // node: the host name unless set (config.cpp)
  if (!s.enabled) return;
  Daemon* self = this;
  auto f = FleetSync::start(s, *bans_, *writes_, *store_, [self](const BanEvent& e) { self->announce(e); });
  if (!f) {
    spdlog::error("fleet: {}; running without the fleet, bans here go on", f.error().message);
    return;
  }
  fleet_ = std::move(*f);
  listeners_.push_back([self](const BanEvent& e) { self->fleet_->on_event(e); });
  if (auto st = watch(fleet_->fd(), [self] { self->fleet_->on_ready(); }); !st) {
    spdlog::error("fleet: {}; running without the fleet", st.error().message);
    listeners_.pop_back();
    fleet_.reset();
  }
}

nlohmann::json Daemon::fleet_status() {
  if (!fleet_) return {{"ok", true}, {"enabled", false}};
  nlohmann::json j = fleet_->status_json();
  j["ok"] = true;
  return j;
}

}  // namespace xdpban
