#include "daemon/actions.h"

namespace xdpban {

std::map<std::string, std::string> ban_placeholders(const BanRecord& b, int64_t now) {
  return {{"ip", b.cidr.addr.str()},
          {"cidr", b.cidr.str()},
          {"jail", b.jail},
          {"bantime", std::to_string(b.expiry ? b.expiry - b.start : -1)},
          {"failures", std::to_string(b.failures)},
          {"count", std::to_string(b.count)},
          {"time", std::to_string(now)},
          {"family", b.cidr.addr.family == Family::V4 ? "inet4" : "inet6"}};
}

const CommandTemplate& Actions::command_for(const std::string& jail, bool ban) const {
  for (const auto& j : cfg_.jails) {
    if (j->settings().name != jail) continue;
    const auto& own = ban ? j->settings().ban_command : j->settings().unban_command;
    if (own) return *own;
    break;
  }
  return ban ? cfg_.daemon.ops.ban_command : cfg_.daemon.ops.unban_command;
}

void Actions::on_event(const BanEvent& e, int64_t now) {
  if (e.kind == BanEvent::kProlong) return;  // still the same ban: nothing to tell
  bool ban = e.kind == BanEvent::kBan;
  const CommandTemplate& t = command_for(e.ban.jail, ban);
  if (t.empty()) return;
  CommandJob job;
  job.label = "[" + e.ban.jail + "] " + (ban ? "ban_command for " : "unban_command for ") + e.ban.cidr.str();
  job.argv = t.expand(ban_placeholders(e.ban, now));
  runner_.submit(std::move(job));
}

}  // namespace xdpban
