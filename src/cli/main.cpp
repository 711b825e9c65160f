// main.cpp - the xdpban command line: global options and dispatch.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "bpf/datapath.h"
#include "cli/commands.h"
#include "cli/import.h"
#include "cli/report.h"
#include "cli/test_filter.h"
#include "xdpban/abi.h"

int main(int argc, char** argv) {
  using namespace xdpban;
  GlobalOptions g;
  g.pin_dir = XDPBAN_PIN_DIR;
  CLI::App app{"xdpban - ban abusive sources at XDP speed (fail2ban's model, enforced in the NIC driver)"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  app.add_option("--pin-dir", g.pin_dir, "bpffs directory of the pinned maps")->capture_default_str();
  g.socket = "/run/xdpban/xdpban.sock";
  app.add_option("--socket", g.socket,
                 "xdpband's control socket; while the daemon answers there, changes go through it")
      ->capture_default_str();
  app.add_flag("-v,--verbose", g.verbose, "Show libbpf/libxdp diagnostics");
  app.footer(
      "Exit codes: 0 success, 1 operation failed, 2 bad input (nothing changed), "
      "3 some named entries did not exist, 4 import loaded the good lines and rejected some.\n"
      "Run 'xdpban COMMAND --help' for a command's options.");
  app.parse_complete_callback([&] {
    set_bpf_log_verbose(g.verbose);
    // Say what to do before libbpf fails with EPERM (and before bpffs gets a directory).
    for (const auto* sub : app.get_subcommands())
      if (sub->get_name() != "test-filter" && sub->get_name() != "status" && sub->get_name() != "fleet")
        if (auto why = missing_privileges(sub->get_name())) {
          std::fprintf(stderr, "xdpban: %s\n", why->c_str());
          throw CLI::RuntimeError(kExitFailed);
        }
  });
  add_datapath_commands(app, g);
  add_import_command(app, g);
  add_test_filter_command(app);
  add_report_command(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // CLI11 reports a mistyped command as "A subcommand is required": name it.
    auto rest = app.remaining();
    if (dynamic_cast<const CLI::RequiredError*>(&e) && app.get_subcommands().empty() && !rest.empty()) {
      const std::string& word = rest.front();
      std::fprintf(stderr, "xdpban: %s '%s'; run 'xdpban --help' for the list\n",
                   word.starts_with("-") ? "unknown option" : "unknown command", word.c_str());
      return kExitUsage;
    }
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return g.exit_code;
}
