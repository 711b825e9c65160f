#include "daemon/daemon.h"

#include <fmt/ranges.h>
#include <glob.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "bpf/datapath.h"
#include "core/ban_guard.h"
#include "core/control_request.h"
#include "core/duration.h"
#include "daemon/actions.h"
#include "daemon/fleet.h"
#include "daemon/metrics.h"
#include "daemon/reports.h"
#include "io/http_endpoint.h"
#include "io/local_addresses.h"

namespace xdpban {

namespace {

// A control client whose answer has not moved for this long is dropped.
constexpr std::chrono::milliseconds kStalledClient{30000};

std::vector<std::string> expand(const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return {pattern};
  glob_t g{};
  std::vector<std::string> out;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

std::string default_route_interface() {
  FILE* f = fopen("/proc/net/route", "r");
  if (!f) return {};
  char line[512];
  std::string out;
  while (fgets(line, sizeof line, f)) {
    char ifname[64];
    unsigned long dest = 1;
    if (sscanf(line, "%63s %lx", ifname, &dest) == 2 && dest == 0) {
      out = ifname;
      break;
    }
  }
  fclose(f);
  return out;
}

nlohmann::json ban_json(const BanRecord& b, int64_t now) {
  return {{"cidr", b.cidr.str()},
          {"jail", b.jail},
          {"start", b.start},
          {"expiry", b.expiry},
          {"remaining_s",
           b.expiry ? nlohmann::json(std::max<int64_t>(0, b.expiry - now)) : nlohmann::json(nullptr)},
          {"permanent", b.expiry == 0},
          {"count", b.count},
          {"failures", b.failures},
          {"flags", b.flags},
          {"origin", b.origin}};
}

// Indexes of v's elements in cidr order (what Cidr's operator< gives), sorting
// 24-byte integer keys instead of the elements: 1M in well under a second.
template <typename T>
std::vector<uint32_t> cidr_order(const std::vector<T>& v) {
  struct Key {
    uint8_t family, prefix;
    uint32_t index;
    uint64_t hi, lo;  // the address bytes, big-endian
  };
  std::vector<Key> keys(v.size());
  for (uint32_t i = 0; i < v.size(); ++i) {
    const Cidr& c = v[i].cidr;
    uint64_t hi = 0, lo = 0;
    for (int b = 0; b < 8; ++b) hi = hi << 8 | c.addr.bytes[b];
    for (int b = 8; b < 16; ++b) lo = lo << 8 | c.addr.bytes[b];
    keys[i] = {static_cast<uint8_t>(c.addr.family), c.prefix, i, hi, lo};
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return std::tie(a.family, a.hi, a.lo, a.prefix) < std::tie(b.family, b.hi, b.lo, b.prefix);
  });
  std::vector<uint32_t> out(v.size());
  for (size_t i = 0; i < keys.size(); ++i) out[i] = keys[i].index;
  return out;
}

nlohmann::json error_json(const std::string& msg) { return {{"ok", false}, {"error", msg}}; }

// Names the time of each phase of a long operation, for its log line:
// "store 12 ms, sort 40 ms, ...".
class PhaseTimer {
 public:
  void lap(const char* what) {
    auto n = std::chrono::steady_clock::now();
    text_ += fmt::format("{}{} {:.0f} ms", text_.empty() ? "" : ", ", what,
                         std::chrono::duration<double, std::milli>(n - last_).count());
    last_ = n;
  }
  double total_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  const std::string& text() const { return text_; }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
  std::string text_;
};

}  // namespace

Result<LoadedConfig> load_config(const std::string& path) {
  DiskFileSource files;
  LoadedConfig out;
  auto d = DaemonConfig::load(path, files);
  if (!d) return d.error();
  out.daemon = *d;
  auto jails = load_jails(out.daemon.jail_dir, files);
  if (!jails) return jails.error();
  std::map<FloodPort, std::string> guarded_by;
  std::string why;  // what `enabled = auto` found, for the log
  // Logs what `enabled = auto` decided; a jail that does not start is disabled.
  auto auto_starts = [&](const JailSettings& s, bool found) {
    spdlog::info("[{}] enabled = auto: {}{}", s.name, why, found ? "" : ": not started");
    if (!found) out.disabled.push_back(s.name);
    return found;
  };
  for (auto& s : *jails) {
    if (!s.enabled && !s.enabled_auto) {
      out.disabled.push_back(s.name);
      continue;
    }
    if (s.flood) {
      for (const auto& p : s.flood->ports)
        if (auto [it, fresh] = guarded_by.emplace(p, s.name); !fresh)
          return invalid(s.where + ": [" + s.name + "] flood.ports: " + p.str() + " is guarded by [" +
                         it->second + "] already");
      if (s.enabled_auto && !auto_starts(s, ports_listening(*s.flood, &why))) continue;
      s.enabled = true;
      out.floods.push_back(s);
      if (out.floods.size() >= XDPBAN_FLOOD_MAX_RULES)
        return invalid(s.where + ": [" + s.name + "]: at most " + std::to_string(XDPBAN_FLOOD_MAX_RULES - 1) +
                       " flood jails can be enabled");
      continue;
    }
    s.enabled = true;  // for an auto jail: if its logs exist (checked below)
    auto j = Jail::create(s, out.daemon.filter_path, files);
    if (!j) return j.error();
    if (s.enabled_auto && !auto_starts(s, logs_exist(s, (*j)->journalmatch(), &why))) continue;
    out.jails.push_back(std::move(*j));
  }
  return out;
}

const JailSettings* LoadedConfig::find(const std::string& name) const {
  for (const auto& j : jails)
    if (j->settings().name == name) return &j->settings();
  for (const auto& f : floods)
    if (f.name == name) return &f;
  return nullptr;
}

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonFlags& flags, LoadedConfig cfg) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->flags_ = flags;
  d->cfg_ = std::move(cfg);
  const DaemonConfig& c = d->cfg_.daemon;
  d->local_addrs_ = local_addresses();

  // Signals first, so a TERM during start-up is not lost.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  d->signals_.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));

  d->epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (d->epoll_.get() < 0) return make_error(errno, std::string("epoll_create1: ") + std::strerror(errno));

  if (auto st = d->attach_interfaces(); !st) return st.error();
  auto bl = Blocklist::open(c.pin_dir, Blocklist::Access::kWrite);
  if (!bl) return bl.error();
  d->blocklist_ = std::move(*bl);
  d->sink_ = std::make_unique<BpfBanSink>(*d->blocklist_);

  auto slash = c.database.rfind('/');
  if (slash != std::string::npos && slash > 0) ::mkdir(c.database.substr(0, slash).c_str(), 0700);
  std::optional<StateStore::Replaced> replaced;  // a damaged database, moved aside
  auto store = StateStore::open_or_replace(c.database, &replaced);
  if (!store) return store.error();
  d->store_ = std::move(*store);
  Daemon* self = d.get();
  d->writes_ = std::make_unique<BanWriteQueue>(*d->store_, [self](const Cidr& cidr) -> const BanRecord* {
    auto it = self->bans_->active().find(cidr);
    return it == self->bans_->active().end() ? nullptr : &it->second;
  });
  // Once when the store starts failing (a full disk), once when it works again; never per ban.
  d->writes_->on_health([self](const Status& st, size_t unsaved) {
    if (!st)
      spdlog::error(
          "cannot store state: {}; bans stay enforced in the maps, {} changes are kept and retried, and log "
          "positions are not saved until they are stored",
          st.error().message, unsaved);
    else
      spdlog::info("state store works again: the kept changes are being stored ({} still to write{})",
                   unsaved,
                   self->writes_->dropped_events()
                       ? fmt::format(", {} event log rows dropped", self->writes_->dropped_events())
                       : "");
  });
  d->bans_ = std::make_unique<BanManager>(*d->sink_, d->writes_.get());
  for (const auto& j : d->cfg_.jails) d->bans_->set_policy(j->settings().name, j->settings().bantime);
  for (const auto& f : d->cfg_.floods) d->bans_->set_policy(f.name, f.bantime);
  d->bans_->set_guard([self](const std::string& jail, const Cidr& cidr) { return self->guard(jail, cidr); });
  for (const auto& a : c.allow)
    if (auto st = d->blocklist_->allow_add(a); !st) return st.error();

  if (auto st = d->reconcile(); !st) return st.error();
  if (replaced)
    spdlog::error(
        "state database {} was damaged ({}): moved it aside to {} and started a new one; recovered {} bans "
        "from the pinned maps (ban history and the event log before now are in the moved file)",
        c.database, replaced->why, replaced->moved_to, d->bans_->active().size());
  auto flood = FloodGuard::open(c.pin_dir);
  if (!flood) return flood.error();
  d->flood_ = std::move(*flood);
  if (auto st = d->configure_flood(); !st) return st.error();
  auto t = FileTailer::create();
  if (!t) return t.error();
  d->tailer_ = std::move(*t);
  if (auto st = d->follow_logs(); !st) return st.error();

  auto ctl = ControlServer::listen(c.socket, [self](const nlohmann::json& r) { return self->handle(r); });
  if (!ctl) return ctl.error();
  d->control_ = std::move(*ctl);

  d->timer_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  itimerspec every{{1, 0}, {1, 0}};
  timerfd_settime(d->timer_.get(), 0, &every, nullptr);
  auto read_logs = [self] {
    self->pending_ =
        self->tailer_->poll([self](const std::string& p, std::string_view l) { self->on_line(p, l); });
  };
  auto on_timer = [self] {
    uint64_t expirations;
    (void)!read(self->timer_.get(), &expirations, sizeof expirations);
    self->tick();
  };
  auto on_client = [self] {
    for (int client : self->control_->accept_all()) {
      auto serve = [self, client] {
        if (!self->control_->serve(client)) self->unwatch(client);
      };
      // Edge-triggered: serve() reads and writes until EAGAIN, and an answer
      // a slow client could not take yet goes out when its socket drains.
      if (self->watch(client, serve, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)) serve();
    }
  };
  for (auto& [fd, fn] : std::initializer_list<std::pair<int, std::function<void()>>>{
           {d->tailer_->fd(), read_logs},
           {d->timer_.get(), on_timer},
           {d->signals_.get(), [self] { self->on_signals(); }},
           {d->flood_->events_fd(),
            [self] {
              if (auto st = self->flood_->consume([self](const FloodReport& r) { self->on_flood(r); }); !st)
                spdlog::warn("{}", st.error().message);
            }},
           {d->control_->listen_fd(), on_client}})
    if (auto st = d->watch(fd, fn); !st) return st.error();
  if (auto st = d->start_ops(); !st) return st.error();
  d->start_fleet();
  return d;
}

Daemon::~Daemon() = default;

Status Daemon::watch(int fd, std::function<void()> on_ready, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return make_error(errno, std::string("epoll_ctl: ") + std::strerror(errno));
  watchers_[fd] = std::move(on_ready);
  return {};
}

void Daemon::unwatch(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watchers_.erase(fd);
}

void Daemon::announce(const BanEvent& e) {
  const BanRecord& b = e.ban;
  std::string extra = e.reason.empty() || e.kind == BanEvent::kUnban ? "" : " (" + e.reason + ")";
  switch (e.kind) {
    case BanEvent::kBan: {
      std::string dur = b.expiry ? "for " + format_duration(b.expiry - b.start) : "permanently";
      if (b.count > 1)
        spdlog::info("[{}] Ban {} {} (banned {} times before){}", b.jail, b.cidr.str(), dur, b.count - 1,
                     extra);
      else
        spdlog::info("[{}] Ban {} {}{}", b.jail, b.cidr.str(), dur, extra);
      break;
    }
    case BanEvent::kProlong:
      spdlog::info("[{}] Prolong ban of {} to {}{}", b.jail, b.cidr.str(),
                   b.expiry ? format_duration(b.expiry - b.start) : "permanent", extra);
      break;
    case BanEvent::kUnban:
      spdlog::info("[{}] Unban {}{}", b.jail, b.cidr.str(),
                   e.reason == "manual"  ? " (by request)"
                   : e.reason == "fleet" ? " (ended by the fleet)"
                                         : "");
      break;
  }
  for (const auto& l : listeners_) l(e);
}

Status Daemon::attach_interfaces() {
  const DaemonConfig& c = cfg_.daemon;
  std::vector<std::string> ifaces = c.interfaces;
  if (ifaces.empty()) {
    std::string dflt = default_route_interface();
    if (dflt.empty()) return invalid("no interfaces configured and no default route to pick one from");
    ifaces.push_back(dflt);
  }
  DatapathOptions o;
  o.pin_dir = c.pin_dir;
  o.capacity = c.capacity;
  o.flood_tracked = c.flood_tracked;
  auto mode = parse_attach_mode(c.xdp_mode);
  if (!mode) return mode.error();
  for (const auto& i : ifaces) {
    auto a = attach(o, i, *mode);
    if (!a) return a.error();
    if (a->foreign_maps)
      spdlog::warn(
          "XDP on {}: the attached xdpban program read maps that are no longer pinned in {} "
          "(removed or moved since it was attached), so it enforced none of the bans written "
          "there; replaced it with one that reads them",
          a->ifname, c.pin_dir);
    spdlog::info("XDP on {}: {} mode, {}{}", a->ifname, a->mode,
                 a->dispatcher ? "libxdp dispatcher" : "program alone (libxdp dispatcher unavailable)",
                 a->foreign_maps     ? " (replaced the program reading other maps)"
                 : a->replaced       ? " (replaced an older xdpban program; bans kept)"
                 : a->newly_attached ? ""
                                     : " (was attached already)");
    if (std::find(attached_.begin(), attached_.end(), i) == attached_.end()) attached_.push_back(i);
  }
  return {};
}

// Store, maps and config agree after this. When the maps are new (a reboot,
// or the pins removed), stored bans missing from them are put back. When they
// are the maps the daemon wrote last time, they are the newer truth: what the
// CLI changed while the daemon was down is kept (an entry removed stays
// removed, a changed expiry or jail is taken), and entries the store does not
// know are adopted as manual bans. Expired bans are removed either way.
Status Daemon::reconcile() {
  PhaseTimer timer;
  int64_t now = unix_now();
  auto stored = store_->load_bans();
  if (!stored) return stored.error();
  timer.lap("store");
  auto history = store_->load_history();
  if (!history) return history.error();
  timer.lap("history");
  auto in_maps = blocklist_->list();
  if (!in_maps) return in_maps.error();
  timer.lap("maps");
  auto last_maps = store_->load_meta("maps_instance");
  if (!last_maps) return last_maps.error();
  const std::string instance = std::to_string(blocklist_->instance());
  const bool same_maps = *last_maps == instance;

  // Both sides in cidr order, then walked side by side: no per-entry tree.
  auto s_order = cidr_order(*stored);
  auto m_order = cidr_order(*in_maps);
  timer.lap("sort");
  std::vector<BanRecord> active;
  active.reserve(stored->size() + in_maps->size());
  size_t restored = 0, expired = 0, adopted = 0, removed = 0, changed = 0;
  std::vector<size_t> put_back;  // positions in `active` of bans the maps lack
  if (auto st = store_->begin(); !st) return st;
  auto adopt = [&](const BanInfo& e) {
    BanRecord r = sink_->record_of(e);
    if (r.expiry != 0 && r.expiry <= now) {
      (void)sink_->erase(e.cidr);
      ++expired;
      return;
    }
    r.flags |= XDPBAN_BAN_MANUAL;
    // A fleet ban the store lost: which node sent it is not in the maps. The
    // fleet's next snapshot keeps it or ends it.
    if (r.flags & XDPBAN_BAN_FLEET) r.origin = "fleet";
    (void)store_->save_ban(r);
    active.push_back(std::move(r));
    ++adopted;
  };
  size_t m = 0;
  auto at_m = [&]() -> const BanInfo& { return (*in_maps)[m_order[m]]; };
  for (uint32_t si : s_order) {
    BanRecord& b = (*stored)[si];
    while (m < m_order.size() && at_m().cidr < b.cidr) adopt((*in_maps)[m_order[m++]]);
    const BanInfo* entry = m < m_order.size() && at_m().cidr == b.cidr ? &at_m() : nullptr;
    if (entry) ++m;
    if (same_maps && !entry) {  // xdpban unban while the daemon was down
      (void)store_->remove_ban(b.cidr);
      ++removed;
      continue;
    }
    if (same_maps) {
      // Map expiries are whole seconds of boot time: a second or two of rounding is no change.
      BanRecord e = sink_->record_of(*entry);
      if (e.jail != b.jail || (e.expiry == 0) != (b.expiry == 0) || std::llabs(e.expiry - b.expiry) > 2) {
        b.jail = e.jail;
        b.expiry = e.expiry;
        b.flags = e.flags;
        (void)store_->save_ban(b);
        ++changed;
      }
    }
    if (b.expiry != 0 && b.expiry <= now) {
      ++expired;
      (void)store_->remove_ban(b.cidr);
      if (entry) (void)sink_->erase(b.cidr);
      continue;
    }
    if (!entry) put_back.push_back(active.size());
    active.push_back(std::move(b));
  }
  while (m < m_order.size()) adopt((*in_maps)[m_order[m++]]);
  // Into the maps in batches (new maps after a reboot: up to every ban).
  std::vector<const BanRecord*> to_insert;
  for (size_t i : put_back) to_insert.push_back(&active[i]);
  for (const auto& st : sink_->insert_many(to_insert))
    if (!st) return st;
  restored = put_back.size();
  // The allow list the same way: new maps get the stored entries back; the
  // same maps are the truth (xdpban allow add/del while the daemon was down).
  size_t allow_restored = 0;
  if (!same_maps) {
    auto stored_allow = store_->load_allow();
    if (!stored_allow) return stored_allow.error();
    for (const auto& a : *stored_allow)
      if (auto st = blocklist_->allow_add(a); !st) return st;
    allow_restored = stored_allow->size();
  }
  auto allow = blocklist_->allow_list();
  if (!allow) return allow.error();
  if (auto st = store_->set_allow(*allow); !st) return st;
  if (auto st = store_->save_meta("maps_instance", instance); !st) return st;
  if (auto st = store_->commit(); !st) return st;
  timer.lap("compare");
  for (const auto& [k, n] : *history) banned_total_[k.first] += static_cast<uint64_t>(n);
  size_t n_active = active.size();
  bans_->restore(std::move(active), std::move(*history));
  timer.lap("restore");
  (void)blocklist_->maintain(true);
  timer.lap("maintain");
  spdlog::info(
      "restored state: {} active bans ({} put back into the maps, {} adopted from the maps, {} changed and "
      "{} "
      "removed in the maps while xdpband was down, {} expired), {} allow entries ({} put back) in {:.0f} ms "
      "({})",
      n_active, restored, adopted, changed, removed, expired, allow->size(), allow_restored,
      timer.total_s() * 1000, timer.text());
  return {};
}

// backend = auto: the files when a logpath matches one, else the journal when
// the jail has a journalmatch and this host keeps a journal, else the files
// (followed once they appear).
bool Daemon::reads_journal(const Jail& j) {
  const JailSettings& s = j.settings();
  if (s.backend != JailSettings::Backend::kAuto) return s.backend == JailSettings::Backend::kSystemd;
  for (const auto& pattern : s.logpath)
    for (const auto& p : expand(pattern))
      if (::access(p.c_str(), F_OK) == 0) return false;
  return !j.journalmatch().empty() && journal_present();
}

Status Daemon::follow_logs() {
  // Journal feeds point at jails: close them (cursors saved) and open them again.
  for (auto& f : journals_) {
    if (!f.source->cursor().empty() && writes_->settled())
      (void)store_->save_cursor(f.key, f.source->cursor());
    unwatch(f.source->fd());
  }
  journals_.clear();
  by_path_.clear();
  for (const auto& j : cfg_.jails) {
    const JailSettings& s = j->settings();
    if (reads_journal(*j)) {
      if (auto st = follow_journal(*j); !st) return st.error().wrap("[" + s.name + "]");
      continue;
    }
    for (const auto& pattern : s.logpath) {
      auto paths = expand(pattern);
      if (paths.empty()) spdlog::warn("[{}] no file matches {} yet", s.name, pattern);
      for (const auto& p : paths) {
        by_path_[p].push_back(j.get());
        if (tailer_->follows(p)) continue;
        auto pos = store_->load_position(p);
        if (!pos) return pos.error();
        if (auto st = tailer_->add(p, *pos); !st) return st.error().wrap("[" + s.name + "]");
        spdlog::info("[{}] following {}{}", s.name, p, *pos ? " (from the saved position)" : "");
      }
    }
  }
  return {};
}

Status Daemon::follow_journal(Jail& j) {
  const JailSettings& s = j.settings();
  JournalOptions o;
  for (const auto& pattern : s.journalfiles)
    for (const auto& p : expand(pattern)) o.files.push_back(p);
  if (!s.journalfiles.empty() && o.files.empty())
    return make_error(ENOENT, "no journal file matches " + s.journalfiles.front());
  o.directory = s.journalpath;
  o.name_space = s.journalnamespace;
  o.flags = s.journalflags;
  o.match = j.journalmatch();
  std::string key = "journal:" + s.name;
  auto cursor = store_->load_cursor(key);
  if (!cursor) return cursor.error();
  o.cursor = *cursor;
  o.start_age = s.findtime;  // first start: what happened within findtime still counts
  auto src = JournalSource::open(o);
  if (!src) return src.error();
  journals_.push_back({std::move(*src), &j, key});
  JournalFeed* f = &journals_.back();
  spdlog::info("[{}] following {}{}{}", s.name, f->source->description(),
               o.match.empty() ? "" : " matching " + fmt::format("{}", fmt::join(o.match, " + ")),
               *cursor ? " (from the saved cursor)" : "");
  size_t index = journals_.size() - 1;
  return watch(f->source->fd(), [this, index] { read_journal(journals_[index]); });
}

void Daemon::read_journal(JournalFeed& f) {
  double now = static_cast<double>(unix_now());
  auto r = f.source->poll([&](std::string_view line, double time) {
    if (auto req = f.jail->on_line(line, now, time)) ban(*f.jail, *req);
  });
  if (!r)
    spdlog::warn("[{}] reading {}: {}", f.jail->settings().name, f.source->description(), r.error().message);
}

int Daemon::journal_timeout_ms() const {
  int t = -1;
  for (const auto& f : journals_) {
    int ft = f.source->timeout_ms();
    if (ft >= 0 && (t < 0 || ft < t)) t = ft;
  }
  return t;
}

std::optional<std::string> Daemon::guard(const std::string& jail, const Cidr& c) {
  if (const JailSettings* j = cfg_.find(jail)) {
    for (const auto& ip : j->ignoreip)
      if (ip.contains(c.addr) || c.contains(ip.addr)) return "ignoreip " + ip.str();
    if (j->ignoreself)
      for (const auto& a : local_addrs_)
        if (c.contains(a)) return "it is this host's address " + a.str() + " (ignoreself)";
  }
  auto allowed = blocklist_->allowed_by(c.addr);
  if (allowed.ok() && *allowed) return "allow-listed by " + (*allowed)->str();
  return std::nullopt;
}

void Daemon::on_line(const std::string& path, std::string_view line) {
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return;
  double now = static_cast<double>(unix_now());
  for (Jail* j : it->second)
    if (auto req = j->on_line(line, now)) ban(*j, *req);
}

void Daemon::ban(Jail& jail, const BanRequest& req) {
  if (ban(jail.settings().name, req.target, req.failures, 0)) jail.forget(req.source);
}

bool Daemon::ban(const std::string& name, const Cidr& target, int failures, uint8_t flags) {
  std::uniform_real_distribution<double> u(0, 1);
  auto o = bans_->ban(name, target, unix_now(), failures, flags, std::nullopt, u(rng_));
  if (!o) {
    spdlog::error("[{}] cannot ban {}: {}", name, target.str(), o.error().message);
    return false;
  }
  const BanRecord& b = o->ban;
  switch (o->kind) {
    case BanManager::Outcome::kBanned:
      ++banned_total_[name];
      announce({BanEvent::kBan, b, ""});
      break;
    case BanManager::Outcome::kProlonged:
      announce({BanEvent::kProlong, b, ""});
      break;
    case BanManager::Outcome::kAlreadyBanned:
      spdlog::info("[{}] {} already banned", name, b.cidr.str());
      break;
    case BanManager::Outcome::kIgnored:
      spdlog::info("[{}] Ignore {}: {}", name, target.str(), o->reason);
      break;
  }
  return true;
}

// The flood jails as the XDP program's rules: rule id = index + 1.
Status Daemon::configure_flood() {
  std::vector<FloodRule> rules;
  for (size_t i = 0; i < cfg_.floods.size(); ++i) {
    const JailSettings& f = cfg_.floods[i];
    FloodRule r;
    r.id = static_cast<uint8_t>(i + 1);
    r.rate = f.flood->rate;
    r.burst = f.flood->burst;
    r.drops = f.flood->drops;
    r.prefix4 = static_cast<uint8_t>(f.banprefix4);
    r.prefix6 = static_cast<uint8_t>(f.banprefix6);
    r.ports = f.flood->ports;
    rules.push_back(std::move(r));
    std::vector<std::string> ports;
    for (const auto& p : f.flood->ports) ports.push_back(p.str());
    spdlog::info("[{}] guarding {}: {:g}/s per source{}, burst {}, ban after {} packets over the rate",
                 f.name, fmt::join(ports, " "), f.flood->rate,
                 f.banprefix4 < 32 || f.banprefix6 < 128
                     ? fmt::format(" network (/{}, /{})", f.banprefix4, f.banprefix6)
                     : std::string(),
                 f.flood->burst, f.flood->drops);
  }
  return flood_->configure(rules);
}

void Daemon::on_flood(const FloodReport& r) {
  if (r.rule == 0 || r.rule > cfg_.floods.size()) return;  // a rule removed by a reload
  const JailSettings& f = cfg_.floods[r.rule - 1];
  spdlog::info("[{}] Found {} ({} packets over {:g}/s)", f.name, r.source.str(), r.dropped, f.flood->rate);
  ban(f.name, r.source, static_cast<int>(std::min<uint32_t>(r.dropped, INT32_MAX)), XDPBAN_BAN_FLOOD);
}

void Daemon::save_positions() {
  // A position saved past a ban the store does not hold yet would skip that
  // ban's log lines at the next start: wait until the bans are stored with it.
  if (!writes_->settled()) return;
  (void)store_->begin();
  for (const auto& p : tailer_->paths())
    if (auto pos = tailer_->position(p)) (void)store_->save_position(p, *pos);
  for (const auto& f : journals_)
    if (!f.source->cursor().empty()) (void)store_->save_cursor(f.key, f.source->cursor());
  (void)store_->commit();
}

void Daemon::flush_writes(bool all) {
  // A round's worth: about 20 ms of SQLite, so sockets, logs and timers keep their pace.
  constexpr size_t kRowsPerRound = 20000;
  if (!writes_->pending()) return;
  // While the store fails, retry after a pause (the queue's health callback logs).
  if (!all && !writes_->due()) return;
  (void)writes_->flush(all ? SIZE_MAX : kRowsPerRound);
}

void Daemon::tick() {
  ++ticks_;
  int64_t now = unix_now();
  for (const auto& b : bans_->expire(now)) announce({BanEvent::kUnban, b, "expired"});
  pending_ = tailer_->read_all([this](const std::string& p, std::string_view l) { on_line(p, l); });
  if (ticks_ == 1) {
    // Once, off the start's path: hosts the program's index lacks (a writer
    // killed between its two writes) are put back.
    auto r = blocklist_->repair_index();
    if (!r)
      spdlog::error("cannot check the XDP host index against the host maps: {}", r.error().message);
    else if (*r > 0)
      spdlog::info(
          "XDP host index: {} banned hosts put back in it (left out by a writer that was killed, or "
          "spilled while their line was full)",
          *r);
  }
  (void)blocklist_->maintain(false);
  positions_due_ = true;  // saved by the loop once this round's bans are stored
  for (int fd : control_->stalled(kStalledClient)) {
    spdlog::warn("control socket: dropping a client that has not read its answer for {} s",
                 kStalledClient.count() / 1000);
    unwatch(fd);
    control_->drop(fd);
  }
  if (ticks_ % 60 == 0)
    for (const auto& j : cfg_.jails) j->tracker().expire(now);
  if (ticks_ % 3600 == 1) {
    (void)store_->purge_history(now, cfg_.daemon.dbpurgeage);
    (void)store_->purge_events(now - cfg_.daemon.ops.reportretention);
  }
}

Status Daemon::reload() {
  auto fresh = load_config(flags_.config);
  if (!fresh) return fresh.error().wrap("keeping the running configuration");
  if (fresh->daemon.pin_dir != cfg_.daemon.pin_dir || fresh->daemon.database != cfg_.daemon.database ||
      fresh->daemon.socket != cfg_.daemon.socket)
    spdlog::warn("pin_dir, database and socket changes take effect at the next start");
  if (fresh->daemon.fleet != cfg_.daemon.fleet) spdlog::warn("[fleet] changes take effect at the next start");
  fresh->daemon.fleet = cfg_.daemon.fleet;
  fresh->daemon.pin_dir = cfg_.daemon.pin_dir;
  fresh->daemon.database = cfg_.daemon.database;
  fresh->daemon.socket = cfg_.daemon.socket;
  cfg_ = std::move(*fresh);
  reload_ops();
  local_addrs_ = local_addresses();
  for (const auto& j : cfg_.jails) bans_->set_policy(j->settings().name, j->settings().bantime);
  for (const auto& f : cfg_.floods) bans_->set_policy(f.name, f.bantime);
  // The new configuration is in force from here: a step that fails is
  // reported, and the steps after it still run.
  std::string failed;
  auto step = [&](Status st) {
    if (!st) failed += (failed.empty() ? "" : "; ") + st.error().message;
  };
  step(follow_logs());  // first: by_path_ points into the jails just replaced
  step(configure_flood());
  for (const auto& a : cfg_.daemon.allow) {
    step(blocklist_->allow_add(a));
    step(store_->add_allow(a));
  }
  step(attach_interfaces());
  if (!failed.empty()) return make_error(EIO, "the new configuration is in force, but: " + failed);
  return {};
}

nlohmann::json Daemon::status_json(const std::string& only) {
  nlohmann::json jails = nlohmann::json::array();
  std::map<std::string, size_t> banned_now;
  for (const auto& [c, b] : bans_->active()) ++banned_now[b.jail];
  for (const auto& j : cfg_.jails) {
    const auto& n = j->settings().name;
    if (!only.empty() && n != only) continue;
    nlohmann::json files = nlohmann::json::array();
    for (const auto& [p, js] : by_path_)
      for (Jail* x : js)
        if (x == j.get()) files.push_back(p);
    nlohmann::json entry = {{"name", n},
                            {"filter", j->settings().filter.name},
                            {"currently_failed", j->tracker().size()},
                            {"total_failed", j->total_failed()},
                            {"currently_banned", banned_now[n]},
                            {"total_banned", banned_total_[n]},
                            {"files", files}};
    for (const auto& f : journals_)
      if (f.jail == j.get()) {
        entry["journal"] = f.source->description();
        entry["journal_matches"] = j->journalmatch();
      }
    jails.push_back(entry);
  }
  for (size_t i = 0; i < cfg_.floods.size(); ++i) {
    const JailSettings& f = cfg_.floods[i];
    if (!only.empty() && f.name != only) continue;
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& p : f.flood->ports) ports.push_back(p.str());
    auto c = flood_->counters(static_cast<uint8_t>(i + 1));
    jails.push_back({{"name", f.name},
                     {"flood",
                      {{"ports", ports},
                       {"rate", f.flood->rate},
                       {"burst", f.flood->burst},
                       {"drops", f.flood->drops},
                       {"checked", c ? c->checked : 0},
                       {"dropped", c ? c->dropped : 0},
                       {"reported", c ? c->events : 0}}},
                     {"currently_banned", banned_now[f.name]},
                     {"total_banned", banned_total_[f.name]}});
  }
  return jails;
}

// A blocklist from `xdpban import`: "entries" holds one CIDR per line (the
// CLI has parsed the file and reported its bad lines). The whole list is in
// the maps when this returns (its rows reach the store over the next rounds,
// BanWriteQueue); with "replace" the jail's old entries go only after every
// new one is enforced. One summary line in the log, not one per entry.
nlohmann::json Daemon::import(const ControlRequest& req) {
  PhaseTimer timer;
  const std::string jail = req.jail.empty() ? "import" : req.jail;
  int64_t now = unix_now(), secs = req.duration.value_or(-1);
  const std::string& text = req.entries;
  std::vector<Cidr> cidrs;
  cidrs.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view entry(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (entry.empty()) continue;
    auto c = Cidr::parse(std::string(entry));
    if (!c) return error_json("entry " + std::to_string(line) + ": " + c.error().message);
    cidrs.push_back(*c);
  }
  timer.lap("parse");
  std::sort(cidrs.begin(), cidrs.end());
  cidrs.erase(std::unique(cidrs.begin(), cidrs.end()), cidrs.end());
  timer.lap("sort");
  nlohmann::json refused = nlohmann::json::array();
  size_t n_refused = 0;
  if (!req.force) {
    auto guard = ban_guard();
    if (!guard) return error_json(guard.error().message);
    std::erase_if(cidrs, [&](const Cidr& c) {
      auto why = guard->refuse(c);
      if (why && n_refused++ < 20) refused.push_back({{"cidr", c.str()}, {"why", *why}});
      return why.has_value();
    });
  }
  if (req.replace && cidrs.empty() && !req.force)
    return error_json("the list has no entries to import; refusing to empty jail '" + jail + "'");
  timer.lap("guard");
  auto n =
      bans_->import(jail, cidrs, now, secs < 0 ? 0 : now + secs, XDPBAN_BAN_IMPORT, req.replace, nullptr);
  timer.lap("maps");
  if (!n) return error_json(n.error().message);
  (void)blocklist_->maintain(false);
  timer.lap("maintain");
  banned_total_[jail] += n->added;
  double s = timer.total_s();
  spdlog::info(
      "[{}] Import {} entries: {} added, {} already listed, {} kept by other jails, {} refused{} in {:.2f} s "
      "({})",
      jail, cidrs.size() + n_refused, n->added, n->already, n->kept, n_refused,
      req.replace ? fmt::format(", {} removed", n->removed) : "", s, timer.text());
  if (n->not_loaded > 0)
    spdlog::warn("[{}] Import: {} entries not loaded: {}", jail, n->not_loaded, n->not_loaded_reason);
  return {{"ok", true},
          {"not_loaded", n->not_loaded},
          {"not_loaded_reason", n->not_loaded_reason},
          {"added", n->added},
          {"already", n->already},
          {"kept", n->kept},
          {"removed", n->removed},
          {"refused", n_refused},
          {"refused_examples", refused},
          {"seconds", s}};
}

// The own-address and allow-list checks of a manual ban or an import (the
// same as the CLI's), over the allow list as the maps hold it now.
Result<BanGuard> Daemon::ban_guard() {
  auto allow = blocklist_->allow_list();
  if (!allow) return allow.error();
  return BanGuard(local_addrs_, std::move(*allow));
}

nlohmann::json Daemon::handle(const nlohmann::json& json) {
  auto parsed = parse_control_request(json);
  if (!parsed) return error_json(parsed.error().message);
  const ControlRequest& req = *parsed;
  using Cmd = ControlRequest::Cmd;
  int64_t now = unix_now();
  if (req.cmd == Cmd::kPing) return {{"ok", true}, {"pid", getpid()}, {"version", "0.1.0"}};
  if (req.cmd == Cmd::kBan) {
    std::string jail = req.jail.empty() ? "manual" : req.jail;
    std::optional<int64_t> dur = req.duration;
    if (!dur && jail == "manual") dur = -1;
    if (!req.force) {
      auto guard = ban_guard();
      if (!guard) return error_json(guard.error().message);
      for (const auto& c : req.cidrs)
        if (auto why = guard->refuse(c)) return error_json(*why);
    }
    nlohmann::json results = nlohmann::json::array();
    for (const auto& c : req.cidrs) {
      auto o = bans_->ban(jail, c, now, 0, XDPBAN_BAN_MANUAL, dur, 0, req.force);
      if (!o) return error_json(o.error().message);
      static const char* kinds[] = {"banned", "prolonged", "already", "ignored"};
      nlohmann::json r = ban_json(o->ban, now);
      r["outcome"] = kinds[o->kind];
      if (o->kind == BanManager::Outcome::kIgnored) r["reason"] = o->reason;
      if (o->kind == BanManager::Outcome::kBanned) {
        ++banned_total_[jail];
        announce({BanEvent::kBan, o->ban, req.reason});
      } else if (o->kind == BanManager::Outcome::kProlonged) {
        announce({BanEvent::kProlong, o->ban, req.reason});
      }
      results.push_back(r);
    }
    return {{"ok", true}, {"results", results}};
  }
  if (req.cmd == Cmd::kUnban) {
    std::vector<Cidr> targets = req.cidrs;
    if (req.all)
      for (const auto& [c, b] : bans_->active())
        if (req.jail.empty() || b.jail == req.jail) targets.push_back(c);
    nlohmann::json removed = nlohmann::json::array(), missing = nlohmann::json::array();
    for (const auto& c : targets) {
      auto r = bans_->unban(c);
      if (!r) return error_json(r.error().message);
      if (*r) {
        announce({BanEvent::kUnban, **r, "manual"});
        removed.push_back({{"cidr", c.str()}, {"jail", (*r)->jail}});
      } else {
        missing.push_back(c.str());
      }
    }
    (void)blocklist_->maintain(req.all);
    return {{"ok", true}, {"removed", removed}, {"missing", missing}};
  }
  if (req.cmd == Cmd::kImport) return import(req);
  if (req.cmd == Cmd::kAllowAdd || req.cmd == Cmd::kAllowDel) {
    nlohmann::json missing = nlohmann::json::array();
    for (const auto& c : req.cidrs) {
      if (req.cmd == Cmd::kAllowAdd) {
        if (auto st = blocklist_->allow_add(c); !st) return error_json(st.error().message);
        if (auto st = store_->add_allow(c); !st) return error_json(st.error().message);
      } else {
        auto r = blocklist_->allow_del(c);
        if (!r) return error_json(r.error().message);
        if (!*r) missing.push_back(c.str());
        if (auto st = store_->remove_allow(c); !st) return error_json(st.error().message);
      }
    }
    return {{"ok", true}, {"missing", missing}};
  }
  if (req.cmd == Cmd::kList) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [c, b] : bans_->active()) {
      if (!req.jail.empty() && b.jail != req.jail) continue;
      if (req.within && !req.within->contains(c)) continue;
      out.push_back(ban_json(b, now));
    }
    return {{"ok", true}, {"bans", out}};
  }
  if (req.cmd == Cmd::kStatus) {
    if (!req.jail.empty() && !cfg_.find(req.jail))
      return error_json("no enabled jail named '" + req.jail + "'");
    return {{"ok", true},
            {"jails", status_json(req.jail)},
            {"interfaces", attached_},
            {"disabled", cfg_.disabled},
            {"bans", bans_->active().size()}};
  }
  if (req.cmd == Cmd::kFleetStatus) return fleet_status();
  if (req.cmd == Cmd::kStats) {
    auto s = blocklist_->stats();
    if (!s) return error_json(s.error().message);
    return {{"ok", true},
            {"counters",
             {{"passed", s->passed},
              {"dropped_v4", s->dropped_v4},
              {"dropped_v6", s->dropped_v6},
              {"allow_hits", s->allow_hits},
              {"expired_hits", s->expired_hits},
              {"non_ip", s->non_ip},
              {"malformed", s->malformed},
              {"flood_checked", s->flood_checked},
              {"flood_dropped", s->flood_dropped},
              {"flood_events", s->flood_events},
              {"flood_lost", s->flood_lost}}}};
  }
  // Cmd::kReload
  sd_notify(0, "RELOADING=1");
  auto st = reload();
  sd_notify(0, "READY=1");
  if (!st) {
    spdlog::error("reload failed: {}", st.error().message);
    return error_json(st.error().message);
  }
  spdlog::info("configuration reloaded: {} jails", cfg_.jails.size());
  return {{"ok", true}, {"jails", cfg_.jails.size()}};
}

void Daemon::on_signals() {
  signalfd_siginfo si{};
  while (read(signals_.get(), &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGHUP) {
      spdlog::info("SIGHUP: reloading configuration");
      try {
        handle({{"cmd", "reload"}});
      } catch (const std::exception& e) {  // as for a request: never take the daemon down
        spdlog::error("reload failed: {}", e.what());
      }
    } else {
      spdlog::info("signal {}: shutting down", si.ssi_signo == SIGTERM ? "TERM" : "INT");
      stop_ = true;
    }
  }
}

int Daemon::run() {
  pending_ = tailer_->read_all([this](const std::string& p, std::string_view l) { on_line(p, l); });
  for (auto& f : journals_) read_journal(f);
  std::string names;
  for (const auto& j : cfg_.jails) names += (names.empty() ? "" : ", ") + j->settings().name;
  for (const auto& f : cfg_.floods) names += (names.empty() ? "" : ", ") + f.name;
  spdlog::info("xdpband ready: {} jails ({}), control socket {}", cfg_.jails.size() + cfg_.floods.size(),
               names, cfg_.daemon.socket);
  sd_notify(0, ("READY=1\nSTATUS=" + std::to_string(cfg_.jails.size()) + " jails, " +
                std::to_string(bans_->active().size()) + " bans")
                   .c_str());
  epoll_event evs[64];
  // What the loop writes (bans, history, events) goes in one transaction,
  // committed before the loop sleeps and at least every 10 ms while it is
  // busy: 10k flood reports arriving one by one cost a few commits, not 10k.
  // (The maps are written at once; a crash loses at most those 10 ms of the
  // store, and the next start adopts what the maps hold.)
  using Clock = std::chrono::steady_clock;
  bool in_txn = false;
  Clock::time_point txn_start;
  // A step that holds the loop longer than this is logged: nothing else runs meanwhile.
  auto timed = [](const char* what, int fd, auto&& step) {
    auto t = Clock::now();
    step();
    auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    if (ms >= 100)
      spdlog::warn("event loop: {}{} took {:.0f} ms", what, fd < 0 ? "" : fmt::format(" (fd {})", fd), ms);
  };
  auto end_txn = [&] {
    if (!in_txn) return;
    in_txn = false;
    // A failure is logged once by the write queue, which keeps what the transaction held.
    timed("committing the state", -1, [&] { (void)store_->commit(); });
  };
  while (!stop_) {
    // With log data left over, only peek at other events, then read on.
    int timeout = pending_ || writes_->due() ? 0 : journal_timeout_ms();
    int n = epoll_wait(epoll_.get(), evs, 64, 0);
    if (n == 0 && timeout != 0) {
      end_txn();
      n = epoll_wait(epoll_.get(), evs, 64, timeout);
    }
    if (n < 0 && errno == EINTR) continue;
    if (!in_txn) {
      in_txn = true;
      txn_start = Clock::now();
      (void)store_->begin();
    }
    if (n <= 0) {
      if (pending_)
        pending_ = tailer_->read_all([this](const std::string& p, std::string_view l) { on_line(p, l); });
      for (auto& f : journals_) read_journal(f);
    }
    for (int i = 0; i < n; ++i) {
      // A handler may unwatch (and close) another fd of this batch.
      auto it = watchers_.find(evs[i].data.fd);
      if (it == watchers_.end()) continue;
      auto fn = it->second;
      timed("an event handler", evs[i].data.fd, fn);
    }
    timed("storing bans", -1, [&] { flush_writes(); });
    if (positions_due_ && writes_->settled()) {  // in the same transaction as the bans they follow
      positions_due_ = false;
      save_positions();
    }
    if (Clock::now() - txn_start >= std::chrono::milliseconds(10)) end_txn();
  }
  end_txn();
  sd_notify(0, "STOPPING=1");
  flush_writes(true);
  if (!writes_->settled())
    spdlog::error(
        "{} changes could not be stored; they are enforced in the maps (adopted at the next start); "
        "log positions were kept where the store has them",
        writes_->unsaved());
  save_positions();
  if (flags_.detach_on_exit || cfg_.daemon.detach_on_exit) {
    for (const auto& i : attached_)
      if (auto r = detach(i); r.ok() && *r) spdlog::info("detached from {}", i);
  } else {
    spdlog::info("leaving the XDP program and maps in place: bans stay enforced");
  }
  return 0;
}

}  // namespace xdpban
