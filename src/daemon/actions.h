// actions.h - ban_command / unban_command: on every ban and unban, the
// jail's command (or xdpban.conf's default) with <ip>, <jail>, ... filled in
// is handed to the CommandRunner, which runs it without a shell and without
// ever delaying a ban. Does not run or log processes (command_runner.h,
// daemon_ops.cpp do).
#pragma once

#include <map>
#include <string>

#include "daemon/daemon.h"
#include "io/command_runner.h"

namespace xdpban {

// The placeholder values of a ban (kBanPlaceholders): ip, cidr, jail,
// bantime (seconds, -1 permanent), failures, count, time (unix), family.
std::map<std::string, std::string> ban_placeholders(const BanRecord& b, int64_t now);

class Actions {
 public:
  // cfg is the daemon's, read at each event (so a reload applies at once).
  Actions(CommandRunner& runner, const LoadedConfig& cfg) : runner_(runner), cfg_(cfg) {}
  void on_event(const BanEvent& e, int64_t now);
  // The command that runs for this jail's bans or unbans (may be empty).
  const CommandTemplate& command_for(const std::string& jail, bool ban) const;

 private:
  CommandRunner& runner_;
  const LoadedConfig& cfg_;
};

}  // namespace xdpban
