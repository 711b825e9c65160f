// test_filter.h - `xdpban test-filter`: the fail2ban-regex analogue. Runs a
// filter (a name from the filter search path, a .conf path or a raw regex, with
// optional [key=value,...] arguments) over a log file, stdin or one line, and
// reports lines read/matched/ignored/missed and hosts with failure counts.
// Does not ban anything and never touches the datapath.
#pragma once

#include <CLI/CLI.hpp>

namespace xdpban {

void add_test_filter_command(CLI::App& app);

}  // namespace xdpban
