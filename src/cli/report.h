// report.h - 'xdpban report': the digest of bans, unbans and drops over a
// period, read from the state database (the event log xdpband writes), as
// text or JSON. The same report as xdpband's periodic one (core/report.h).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace xdpban {

void add_report_command(CLI::App& app, GlobalOptions& g);

}  // namespace xdpban
