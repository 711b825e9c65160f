// commands.h - the xdpban subcommands that act on the datapath (attach, detach,
// ban, unban, allow, list, stats). Each registers itself on the CLI11 app and
// reports through the exit codes in kExit*. Does not own filter testing
// (test_filter.h) or the daemon protocol.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

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

}  // namespace xdpban
