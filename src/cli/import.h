// import.h - 'xdpban import': bulk-loads a published blocklist (Spamhaus DROP,
// FireHOL .netset, one address or network per line) into a named jail, and with
// --replace swaps that jail's set without a gap in enforcement. Parsing lives in
// core/blocklist_parser.h; the map writes in bpf/blocklist.h.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace xdpban {

// Exit code of an import that loaded the good lines but rejected some (listed
// on stderr). Distinct from kExitUsage, which promises nothing was changed.
constexpr int kExitSomeRejected = 4;

void add_import_command(CLI::App& app, GlobalOptions& g);

}  // namespace xdpban
