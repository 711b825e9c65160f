// reports.h - the periodic digest (report = daily, weekly or a duration):
// at each due time the report since the previous one (event log, XDP drops
// since then, bans in force) goes to report_command on its stdin, as a mail
// when report_mailto is set. The due time and counters are kept in the state
// database, so a restart neither repeats nor skips a report. Does not run the
// command itself (CommandRunner) or decide what a report holds (core/report.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "bpf/blocklist.h"
#include "core/report.h"
#include "daemon/config.h"
#include "io/command_runner.h"
#include "io/state_store.h"

namespace xdpban {

// The report as sent: mail headers (when ops.report_mailto is set) and the text.
std::string compose_report(const Report& r, const OpsConfig& ops, int64_t now);
// DropCounters between two stats readings (`before` none: since the maps were made).
DropCounters drops_between(const std::optional<xdpban_stats>& before, const xdpban_stats& now);

class Reporter {
 public:
  static Result<std::unique_ptr<Reporter>> create(const DaemonConfig& cfg, StateStore& store, Blocklist& maps,
                                                  CommandRunner& runner, LoopHooks loop);
  ~Reporter();
  // After a reload: a new interval or command applies from now on.
  void configure();
  // Sends the report of [last, now) now (the timer calls this when due).
  void send(int64_t now);

 private:
  Reporter(const DaemonConfig& cfg, StateStore& store, Blocklist& maps, CommandRunner& runner, LoopHooks loop)
      : cfg_(cfg), store_(store), maps_(maps), runner_(runner), loop_(std::move(loop)) {}
  void on_timer();
  void arm(int64_t due);
  int64_t last_report(int64_t now);

  const DaemonConfig& cfg_;
  StateStore& store_;
  Blocklist& maps_;
  CommandRunner& runner_;
  LoopHooks loop_;
  Fd timer_;
};

}  // namespace xdpban
