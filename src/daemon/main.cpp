// main.cpp - xdpband: flags, logging, start-up and exit codes.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "bpf/datapath.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  using namespace xdpban;
  DaemonFlags flags;
  bool check = false;
  std::string loglevel;
  CLI::App app{"xdpband - the xdpban daemon: reads logs, bans offenders in XDP maps"};
  app.add_option("-c,--config", flags.config, "Daemon configuration (jails are read from its directory)")
      ->capture_default_str();
  app.add_flag("--check", check, "Validate the configuration, the jails and their filters, then exit");
  app.add_flag("--detach-on-exit", flags.detach_on_exit,
               "Remove the XDP program when stopping (default: leave it and the bans enforced)");
  app.add_option("--loglevel", loglevel, "debug, info, warning or error (overrides the configuration)");
  app.footer("Exit codes: 0 clean stop or valid configuration, 1 runtime failure, 2 invalid configuration.");
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("xdpband");
  spdlog::set_default_logger(logger);
  // Under systemd the journal stamps each line itself.
  spdlog::set_pattern(std::getenv("JOURNAL_STREAM") ? "%l: %v" : "%Y-%m-%d %H:%M:%S.%e %l: %v");
  set_bpf_log_verbose(false);

  auto cfg = load_config(flags.config);
  if (!cfg) {
    std::fprintf(stderr, "xdpband: %s\n", cfg.error().message.c_str());
    return 2;
  }
  std::string level = loglevel.empty() ? cfg->daemon.loglevel : loglevel;
  spdlog::set_level(spdlog::level::from_str(level == "notice" ? "info" : level));
  if (check) {
    std::printf("%s: OK, %zu jails enabled", flags.config.c_str(), cfg->jails.size());
    for (size_t i = 0; i < cfg->jails.size(); ++i)
      std::printf("%s%s", i ? ", " : " (", cfg->jails[i]->settings().name.c_str());
    std::printf("%s, %zu disabled\n", cfg->jails.empty() ? "" : ")", cfg->disabled.size());
    return 0;
  }
  auto d = Daemon::start(flags, std::move(*cfg));
  if (!d) {
    spdlog::error("{}", d.error().message);
    return 1;
  }
  return (*d)->run();
}
