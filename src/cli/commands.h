// commands.h - the xdpban subcommands that act on the datapath (attach, detach,
// ban, unban, allow, list, stats). Each registers itself on the CLI11 app and
// reports through the exit codes in kExit*. Does not own filter testing
// (test_filter.h) or the daemon protocol.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/ban_guard.h"
#include "core/result.h"

namespace xdpban {

// Exit codes scripts can rely on.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;    // the operation failed (kernel, permissions, ...)
constexpr int kExitUsage = 2;     // bad input: nothing was changed
constexpr int kExitNotFound = 3;  // some of the named entries did not exist

struct GlobalOptions {
  std::string pin_dir;
  std::string socket;  // xdpband's control socket
  bool verbose = false;
  int exit_code = kExitOk;
};

void add_datapath_commands(CLI::App& app, GlobalOptions& g);

// Helpers shared by the subcommands.
class Blocklist;
// True when xdpband answers on its socket: then it is the one writer (the CLI
// talks to it); otherwise the CLI writes the pinned maps itself, and says so
// with note_direct_write().
bool daemon_up(const GlobalOptions& g);
void note_direct_write();
// A request to the daemon; an {"ok":false} answer becomes an Error.
Result<nlohmann::json> daemon_call(const GlobalOptions& g, const nlohmann::json& req, int timeout_ms = 30000);
// Whether this process may use the pinned maps (CAP_BPF or CAP_SYS_ADMIN,
// plus CAP_NET_ADMIN to attach); when not, a message that says what to do.
std::optional<std::string> missing_privileges(const std::string& command);
// The guard for manual bans: this machine's addresses and bl's allow list.
Result<BanGuard> load_guard(const Blocklist& bl);

}  // namespace xdpban
