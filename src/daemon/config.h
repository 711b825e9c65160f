// config.h - the daemon's configuration: xdpban.conf (interfaces, paths, log
// level) and the jails, read from jail.conf, jail.d/*.conf, jail.local and
// jail.d/*.local with fail2ban's option names. Every error names file:line.
// Does not build filters or open logs (jail.h, daemon.h do).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpf/flood.h"
#include "core/ban_manager.h"
#include "core/cidr.h"
#include "core/command_template.h"
#include "core/filter_config.h"
#include "core/fleet.h"
#include "core/ini.h"
#include "core/result.h"

namespace xdpban {

// Actions, reports and metrics (xdpban.conf; see xdpban.conf(5)). Parsed by
// config_ops.cpp.
struct OpsConfig {
  // Defaults for every jail (a jail's own ban_command/unban_command wins),
  // and the only ones for bans of no configured jail (manual, flood, import).
  CommandTemplate ban_command, unban_command;
  int64_t command_timeout = 30;  // seconds, then the command's process group is killed
  size_t command_max_running = 4;
  size_t command_max_queued = 1000;            // beyond: dropped with a warning, never waited for
  int64_t report_interval = 0;                 // seconds between reports; 0 = off
  CommandTemplate report_command;              // the report on its stdin
  std::string report_mailto, report_mailfrom;  // mailto set: mail headers first
  size_t report_top = 10;
  int64_t reportretention = 30 * 86400;  // the event log behind reports
  std::string metrics;                   // "ADDRESS:PORT" of the HTTP endpoint; "" = off
};

struct DaemonConfig {
  std::string path;                     // the xdpban.conf this came from ("" = defaults)
  std::vector<std::string> interfaces;  // empty: the default-route interface
  std::string xdp_mode = "auto";
  std::string pin_dir = "/sys/fs/bpf/xdpban";
  std::string database = "/var/lib/xdpban/xdpban.db";
  std::string socket = "/run/xdpban/xdpban.sock";
  std::string loglevel = "info";
  std::string jail_dir;  // where jail.conf and jail.d/ live (default: xdpban.conf's directory)
  std::vector<std::string> filter_path = {"/etc/xdpban/filter.d", "/etc/fail2ban/filter.d"};
  uint32_t capacity = 1u << 20;
  uint32_t flood_tracked = 1u << 17;  // sources the flood guard tracks at once
  int64_t dbpurgeage = 86400;
  bool detach_on_exit = false;
  std::vector<Cidr> allow;  // always-allowed networks, written to the allow maps
  OpsConfig ops;
  // [fleet]: sharing bans with other nodes over NATS JetStream. node defaults
  // to the host name (gethostname, at load); the creds and TLS files must be
  // readable at load.
  FleetSettings fleet;

  static Result<DaemonConfig> load(const std::string& path, const FileSource& files);
};

// A flood jail (xdpban's own kind): no logs; the XDP program rate-limits
// packets to `ports` per source network (banprefix4/banprefix6) and reports
// sources that keep going, which this jail then bans.
struct FloodSettings {
  std::vector<FloodPort> ports;
  double rate = 0;     // packets (TCP: connection attempts) per second per source
  uint32_t burst = 1;  // on top of the rate; default: one second's worth
  uint32_t drops = 0;  // over-rate packets before a ban; default: burst
};

struct JailSettings {
  std::string name;
  std::string where;  // file:line of the section
  bool enabled = false;
  // `enabled = auto`: the jail runs only where its logs exist (see logs_exist);
  // `enabled` stays false until the daemon has checked.
  bool enabled_auto = false;
  FilterSpec filter;
  std::vector<std::string> logpath;  // absolute paths or globs
  enum class Backend { kAuto, kFile, kSystemd } backend = Backend::kAuto;
  std::vector<std::string> journalmatch;  // jail's own (the filter may add its own)
  // backend = systemd[journalfiles="a b", journalpath=DIR, journalflags=N, namespace=NS]:
  // which journal to read (at most one of files, path, namespace; none: the
  // local system journal). journalfiles are globs, split on spaces and commas.
  std::vector<std::string> journalfiles;
  std::string journalpath;
  std::string journalnamespace;
  std::optional<int> journalflags;
  int maxretry = 5;
  int64_t findtime = 600;
  BanTimePolicy bantime;
  std::vector<Cidr> ignoreip;
  bool ignoreself = true;
  std::string usedns = "warn";
  std::string logencoding = "auto";
  int banprefix4 = 32;
  int banprefix6 = 128;
  size_t maxtracked = 100000;          // failing addresses tracked at once (memory bound)
  std::optional<FloodSettings> flood;  // set: a flood jail (filter and logs unused)
  // Run on a ban / an unban of this jail; unset: xdpban.conf's; set empty: none.
  std::optional<CommandTemplate> ban_command, unban_command;
  // Filter options set in the jail itself (prefregex, failregex, ignoreregex,
  // datepattern, maxlines, logtimezone): each replaces the filter's, as in
  // fail2ban. `%(known/NAME)s` in them means the filter's NAME: it stays a
  // known_marker(NAME) until the filter is read (Jail::create).
  struct FilterOverride {
    std::string text;   // interpolated; may hold known_marker(NAME) markers
    std::string where;  // file:line of the option
    // NAME -> the value of known/NAME from earlier jail files, for when the
    // filter has no option NAME (fail2ban's fallback); absent: none.
    std::map<std::string, std::string> known_fallback;
  };
  std::map<std::string, FilterOverride> filter_overrides;
};

// The jail options that override the filter's (see JailSettings::filter_overrides).
inline const std::vector<std::string> kJailFilterOptions = {"prefregex",   "failregex", "ignoreregex",
                                                            "datepattern", "maxlines",  "logtimezone"};
// The marker `%(known/NAME)s` leaves in a filter override until the filter is read.
inline std::string known_marker(const std::string& name) { return "\x1f" + name + "\x1f"; }

// xdpban.conf's option `key` if it is one of OpsConfig's: false when it is not
// (config.cpp goes on), an error naming val.where when its value is bad.
Result<bool> parse_ops_option(const std::string& key, const IniValue& val, OpsConfig* ops);
// Cross-option checks once every option is read (report needs report_command).
Status check_ops(const DaemonConfig& c);
// A jail's ban_command / unban_command, parsed with the ban placeholders.
Result<CommandTemplate> parse_jail_command(const std::string& text);

// A whole number in [lo, hi]; the error quotes v and the range.
Result<int64_t> parse_int(const std::string& v, int64_t lo, int64_t hi);

// Every [jail] section of the jail configuration in `dir` (enabled or not).
Result<std::vector<JailSettings>> load_jails(const std::string& dir, const FileSource& files);

// Where systemd keeps unit files, in its order of precedence.
inline const std::vector<std::string> kUnitDirs = {"/etc/systemd/system", "/run/systemd/system",
                                                   "/usr/lib/systemd/system", "/lib/systemd/system"};
// Where journald keeps the journal (volatile, persistent).
inline const std::vector<std::string> kJournalDirs = {"/run/log/journal", "/var/log/journal"};

// What `enabled = auto` decides: does this host have the jail's logs? A file
// jail: some logpath glob matches an existing regular file. A systemd jail
// (backend = systemd, or backend = auto when no logpath file exists but the
// jail has a journalmatch and the host a journal): a unit named by a
// _SYSTEMD_UNIT= term of `journalmatch` (the jail's, else its filter's) has a
// unit file in `unit_dirs`; a match that names no unit is taken as present.
// `why` says what was (not) found.
bool logs_exist(const JailSettings& jail, const std::vector<std::string>& journalmatch, std::string* why,
                const std::vector<std::string>& unit_dirs = kUnitDirs,
                const std::vector<std::string>& journal_dirs = kJournalDirs);

// What `enabled = auto` decides for a flood jail: does something on this host
// listen on one of its ports (a TCP listener, a bound UDP socket), read from
// proc_net/{tcp,tcp6,udp,udp6}? `why` names the port found (or not).
bool ports_listening(const FloodSettings& flood, std::string* why, const std::string& proc_net = "/proc/net");

// Does this host keep a systemd journal (one of `journal_dirs` exists)?
bool journal_present(const std::vector<std::string>& journal_dirs = kJournalDirs);

}  // namespace xdpban
