// daemon.h - xdpband: wires config, jails, the file tailer, the ban manager,
// the SQLite store and the BPF maps into one epoll event loop (inotify,
// timerfd, signalfd, control socket). Owns start-up reconciliation of store,
// maps and config, and reload. Does not own matching (Jail) or map layout.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/ban_sink.h"
#include "bpf/blocklist.h"
#include "bpf/flood.h"
#include "core/ban_guard.h"
#include "core/ban_manager.h"
#include "core/control_request.h"
#include "daemon/config.h"
#include "daemon/jail.h"
#include "io/ban_write_queue.h"
#include "io/control.h"
#include "io/fd.h"
#include "io/file_tailer.h"
#include "io/journal_source.h"
#include "io/state_store.h"

namespace xdpban {

class CommandRunner;
class Actions;
class Reporter;
class HttpEndpoint;
class FleetSync;
struct MetricsCounters;

struct DaemonFlags {
  std::string config = "/etc/xdpban/xdpban.conf";
  bool detach_on_exit = false;
};

// Reads and validates xdpban.conf, the jails and their filters.
struct LoadedConfig {
  DaemonConfig daemon;
  std::vector<std::unique_ptr<Jail>> jails;  // enabled ones
  std::vector<JailSettings> floods;          // enabled flood jails (rule id = index + 1)
  std::vector<std::string> disabled;
  // The settings of an enabled jail of either kind, or nullptr.
  const JailSettings* find(const std::string& name) const;
};
Result<LoadedConfig> load_config(const std::string& path);

// A change of a ban, as listeners (log, actions, metrics, reports) hear it.
struct BanEvent {
  enum Kind { kBan, kProlong, kUnban } kind = kBan;
  BanRecord ban;       // as in force (kBan, kProlong) or as it was (kUnban)
  std::string reason;  // kBan: the admin's --reason; kUnban: "expired", "manual" or "fleet"
  bool fleet = false;  // made from the fleet's bucket (never published back)
  bool quiet = false;  // one of many at once (a fleet snapshot): logged at debug level only
};
using BanListener = std::function<void(const BanEvent&)>;

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> start(const DaemonFlags& flags, LoadedConfig cfg);
  ~Daemon();
  int run();  // until SIGTERM/SIGINT; returns the exit code

 private:
  Daemon() = default;
  Status attach_interfaces();
  Status reconcile();
  Status follow_logs();
  bool reads_journal(const Jail& j);
  Status follow_journal(Jail& j);
  struct JournalFeed {
    std::unique_ptr<JournalSource> source;
    Jail* jail;
    std::string key;  // its cursor's name in the store
  };
  void read_journal(JournalFeed& f);
  int journal_timeout_ms() const;
  void on_line(const std::string& path, std::string_view line);
  void ban(Jail& jail, const BanRequest& req);
  // A ban by a jail (log or flood), logged and announced; false when it failed.
  bool ban(const std::string& jail, const Cidr& target, int failures, uint8_t flags);
  Status configure_flood();
  void on_flood(const FloodReport& r);
  void tick();
  // Calls on_ready whenever fd has one of `events`, from the event loop.
  Status watch(int fd, std::function<void()> on_ready, uint32_t events = EPOLLIN);
  void unwatch(int fd);
  void on_signals();
  // Logs a ban change in fail2ban's vocabulary and tells every listener.
  void announce(const BanEvent& e);
  Status reload();
  void save_positions();
  // Writes queued ban rows, at most a round's worth unless `all`.
  void flush_writes(bool all = false);
  std::optional<std::string> guard(const std::string& jail, const Cidr& c);
  nlohmann::json handle(const nlohmann::json& json);
  nlohmann::json import(const ControlRequest& req);
  Result<BanGuard> ban_guard();
  nlohmann::json status_json(const std::string& jail);
  // Actions, reports, metrics and the event log (daemon_ops.cpp).
  Status start_ops();
  void reload_ops();
  void start_metrics();
  std::string metrics_text();
  // [fleet]: sharing bans with other nodes (fleet.cpp does the work).
  void start_fleet();
  nlohmann::json fleet_status();

  DaemonFlags flags_;
  LoadedConfig cfg_;
  std::unique_ptr<Blocklist> blocklist_;
  std::unique_ptr<BpfBanSink> sink_;
  std::unique_ptr<FloodGuard> flood_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<BanWriteQueue> writes_;  // BanManager's store: ban rows, written behind
  std::unique_ptr<BanManager> bans_;
  std::unique_ptr<FileTailer> tailer_;
  std::unique_ptr<ControlServer> control_;
  std::map<std::string, std::vector<Jail*>> by_path_;
  std::vector<JournalFeed> journals_;
  std::map<std::string, uint64_t> banned_total_;  // per jail, from history and since start
  std::vector<Address> local_addrs_;
  std::vector<std::string> attached_;
  std::vector<BanListener> listeners_;
  Fd epoll_, timer_, signals_;
  std::unordered_map<int, std::function<void()>> watchers_;  // fd -> on ready
  std::mt19937_64 rng_{std::random_device{}()};
  uint64_t ticks_ = 0;
  bool stop_ = false;
  bool positions_due_ = false;  // tick asked for log positions to be saved
  bool pending_ = false;        // the tailer has unread data (it stopped at its budget)
  // Last, so they go first: they unwatch their fds and use the store and maps.
  int64_t started_at_ = 0;
  uint64_t reloads_ = 0;
  std::unique_ptr<CommandRunner> runner_;
  std::unique_ptr<Actions> actions_;
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<MetricsCounters> metrics_counters_;
  std::unique_ptr<HttpEndpoint> metrics_http_;
  std::unique_ptr<FleetSync> fleet_;  // null without [fleet]
};

}  // namespace xdpban
