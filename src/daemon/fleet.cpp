#include "daemon/fleet.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/duration.h"
#include "daemon/daemon.h"

namespace xdpban {

namespace {

constexpr size_t kLags = 1024;             // live entries whose lag the quantiles cover
constexpr size_t kEventsPerRound = 65536;  // link events handled per loop round (about 100 ms)

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<FleetSync>> FleetSync::start(const FleetSettings& settings, BanManager& bans,
                                                    BanWriteQueue& writes, StateStore& store,
                                                    std::function<void(const BanEvent&)> announce) {
  std::unique_ptr<FleetSync> f(new FleetSync(settings, bans, writes, std::move(announce)));
  auto link = FleetLink::start(settings);
  if (!link) return link.error();
  f->link_ = std::move(*link);
  // What the broker had not taken when xdpband stopped goes first, in order.
  auto rows = store.load_outbox();
  if (!rows) return rows.error();
  for (auto& row : *rows) {
    auto kind = static_cast<FleetLink::Op::Kind>(row.op);
    f->outbox_[row.key] = {row.seq, kind};
    f->inflight_[row.seq] = row.key;
    f->next_seq_ = std::max(f->next_seq_, row.seq + 1);
    f->link_->send({kind, row.key, std::move(row.value), row.seq});
  }
  spdlog::info("fleet: node {}, bucket {} on {}{}", settings.node, settings.bucket,
               fmt::format("{}", fmt::join(settings.servers, ", ")),
               rows->empty() ? "" : fmt::format("; {} changes from the outbox to send", rows->size()));
  return f;
}

FleetSync::~FleetSync() = default;

bool FleetSync::shares(const BanRecord& b) const {
  return b.origin.empty() && !(b.flags & (XDPBAN_BAN_IMPORT | XDPBAN_BAN_FLEET)) &&
         settings_.publishes(b.jail);
}

FleetRecord FleetSync::record_of(const BanRecord& b) const {
  FleetRecord r;
  r.cidr = b.cidr;
  r.jail = b.jail;
  r.origin = settings_.node;
  r.start = b.start;
  r.expiry = b.expiry;
  r.failures = b.failures;
  return r;
}

void FleetSync::send(FleetLink::Op::Kind kind, const Cidr& cidr, std::string value) {
  std::string key = fleet_key(cidr);
  uint64_t seq = next_seq_++;
  // The outbox row first: if xdpband stops before the broker takes the op,
  // the next start sends it.
  (void)writes_.save_outbox({key, seq, static_cast<int>(kind), value});
  outbox_[key] = {seq, kind};
  inflight_[seq] = key;
  link_->send({kind, std::move(key), std::move(value), seq});
}

void FleetSync::on_event(const BanEvent& e) {
  if (e.fleet) return;  // made from the bucket: never published again
  const BanRecord& b = e.ban;
  switch (e.kind) {
    case BanEvent::kBan:
    case BanEvent::kProlong:
      if (shares(b)) send(FleetLink::Op::kPut, b.cidr, encode_fleet_record(record_of(b)));
      break;
    case BanEvent::kUnban:
      // An expiry deletes the entry only if nobody made it longer; an admin's
      // unban of a fleet ban, or of one of ours, ends it everywhere.
      if (e.reason == "expired") {
        if (shares(b)) send(FleetLink::Op::kExpire, b.cidr, encode_fleet_record(record_of(b)));
      } else if (!b.origin.empty() || shares(b)) {
        send(FleetLink::Op::kDelete, b.cidr, "");
      }
      break;
  }
}

void FleetSync::on_ready() {
  auto events = link_->take(kEventsPerRound);
  for (const auto& e : events) {
    switch (e.kind) {
      case FleetLink::Event::kEntry:
        begin_watch(e.watch);
        entry(e);
        break;
      case FleetLink::Event::kSnapshotDone:
        snapshot_done(e.watch);
        break;
      case FleetLink::Event::kDone: {
        auto it = inflight_.find(e.seq);
        if (it == inflight_.end()) break;
        if (!e.beaten) ++counters_.published;
        auto o = outbox_.find(it->second);
        if (o != outbox_.end() && o->second.seq == e.seq) {
          outbox_.erase(o);
          (void)writes_.remove_outbox(it->second, e.seq);
        }
        inflight_.erase(it);
        break;
      }
      case FleetLink::Event::kConnected:
        last_error_.clear();
        spdlog::info(
            "fleet: connected to {}{}", e.text,
            outbox_.empty() ? "" : fmt::format("; sending {} changes from the outbox", outbox_.size()));
        break;
      case FleetLink::Event::kDisconnected:
        spdlog::warn("{}; bans here go on, and changes wait in the outbox until the broker is back", e.text);
        break;
      case FleetLink::Event::kError:
        last_error_ = e.text;
        spdlog::error("{}; banning locally goes on", e.text);
        break;
    }
  }
}

// A new watch (after a start or reconnect) sends its snapshot first.
void FleetSync::begin_watch(uint64_t watch) {
  if (watch == watch_) return;
  watch_ = watch;
  snapshot_done_ = false;
  seen_.clear();
  snapshot_applied_ = snapshot_rejected_ = 0;
}

void FleetSync::unban(const Cidr& cidr, const std::string& why) {
  auto r = bans_.unban(cidr);
  if (!r) {
    spdlog::error("fleet: cannot unban {}: {}", cidr.str(), r.error().message);
    return;
  }
  if (!*r) return;
  BanEvent ev{BanEvent::kUnban, **r, why};
  ev.fleet = true;
  announce_(ev);
}

void FleetSync::entry(const FleetLink::Event& e) {
  auto cidr = parse_fleet_key(e.key);
  if (!cidr) {
    ++counters_.rejected;
    spdlog::debug("fleet: entry {}: {}", e.key, cidr.error().message);
    return;
  }
  if (e.deleted) {
    // Our own newer ban of it is still on its way to the bucket.
    if (auto p = outbox_.find(e.key); p != outbox_.end() && p->second.kind == FleetLink::Op::kPut) return;
    auto it = bans_.active().find(*cidr);
    if (it == bans_.active().end()) return;
    const BanRecord& b = it->second;
    bool ours = shares(b);
    if (b.origin.empty() && !ours) return;  // a ban of ours the fleet does not share
    // Deleted before this ban was made: the snapshot's end publishes it again.
    if (ours && b.start * 1000000000 > e.created_ns) return;
    ++counters_.received;
    ++counters_.applied;
    if (!snapshot_done_) ++snapshot_applied_;
    unban(*cidr, "fleet");
    return;
  }
  if (!snapshot_done_) seen_.insert(e.key);
  auto r = decode_fleet_record(e.key, e.value);
  if (!r) {
    ++counters_.rejected;
    if (!snapshot_done_) ++snapshot_rejected_;
    spdlog::warn("fleet: ignoring entry {}: {}", e.key, r.error().message);
    return;
  }
  if (r->origin == settings_.node) return;  // ours, as we published it
  ++counters_.received;
  int64_t now_ns = unix_now_ns();
  if (snapshot_done_ && e.created_ns > 0) {
    last_lag_ = static_cast<double>(std::max<int64_t>(0, now_ns - e.created_ns)) / 1e9;
    if (lags_.size() < kLags)
      lags_.push_back(last_lag_);
    else
      lags_[lag_next_++ % kLags] = last_lag_;
  }
  auto rejected = [&](const std::string& why) {
    ++counters_.rejected;
    if (!snapshot_done_) ++snapshot_rejected_;
    // A snapshot can hold a million entries: one line each only when live.
    if (snapshot_done_)
      spdlog::info("[{}] Ignore {} from the fleet (node {}): {}", r->jail, cidr->str(), r->origin, why);
  };
  if (!settings_.accepts(r->jail)) return rejected("jail not in [fleet] accept");
  BanRecord remote;
  remote.cidr = *cidr;
  remote.jail = r->jail;
  remote.origin = r->origin;
  remote.start = r->start;
  remote.expiry = r->expiry;
  remote.failures = r->failures;
  remote.flags = XDPBAN_BAN_FLEET;
  auto o = bans_.apply_remote(remote, now_ns / 1000000000);
  if (!o) {
    spdlog::error("fleet: cannot apply the ban of {} from node {}: {}", cidr->str(), r->origin,
                  o.error().message);
    return;
  }
  switch (o->kind) {
    case BanManager::Outcome::kBanned:
    case BanManager::Outcome::kProlonged: {
      ++counters_.applied;
      // A snapshot is the bucket's whole set (a million bans for a new node):
      // like an import, it is summed up in one line at its end, not
      // announced ban by ban (no log line, event row or action each).
      if (!snapshot_done_) {
        ++snapshot_applied_;
        break;
      }
      BanEvent ev{o->kind == BanManager::Outcome::kBanned ? BanEvent::kBan : BanEvent::kProlong, o->ban,
                  "fleet: " + r->origin};
      ev.fleet = true;
      announce_(ev);
      break;
    }
    case BanManager::Outcome::kAlreadyBanned:
      break;
    case BanManager::Outcome::kIgnored:
      if (o->reason != "expired") rejected(o->reason);
      break;
  }
}

void FleetSync::snapshot_done(uint64_t watch) {
  begin_watch(watch);  // a snapshot with no entries at all has none before this
  snapshot_done_ = true;
  // Fleet bans the bucket no longer holds were deleted (or expired) while we
  // were not watching; bans of ours it lacks were lost (a new bucket) or never
  // arrived: publish them again.
  std::vector<Cidr> gone;
  std::vector<const BanRecord*> missing;
  for (const auto& [c, b] : bans_.active()) {
    if (b.origin.empty() && !shares(b)) continue;
    std::string key = fleet_key(c);
    if (seen_.count(key)) continue;
    if (!b.origin.empty())
      gone.push_back(c);
    else if (!outbox_.count(key))
      missing.push_back(&b);
  }
  size_t entries = seen_.size();
  seen_ = {};
  for (const BanRecord* b : missing) send(FleetLink::Op::kPut, b->cidr, encode_fleet_record(record_of(*b)));
  for (const auto& c : gone) unban(c, "fleet");
  counters_.applied += gone.size();
  spdlog::info(
      "fleet: watching bucket {} (watch {}): {} entries in it, {} bans applied here, {} refused; {} fleet "
      "bans it no longer holds removed, {} bans of this node it lacked published again",
      settings_.bucket, watch, entries, snapshot_applied_, snapshot_rejected_, gone.size(), missing.size());
}

double FleetSync::lag_quantile(double q) const {
  if (lags_.empty()) return 0;
  std::vector<double> v = lags_;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

nlohmann::json FleetSync::status_json() const {
  auto s = link_->status();
  return {
      {"enabled", true},
      {"node", settings_.node},
      {"bucket", settings_.bucket},
      {"servers", settings_.servers},
      {"connected", s.connected},
      {"server", s.server},
      {"last_error", s.last_error.empty() ? last_error_ : s.last_error},
      {"outbox", outbox_.size()},
      {"snapshot_done", snapshot_done_},
      {"watch", watch_},
      {"lag_ms",
       {{"last", last_lag_ * 1000}, {"p50", lag_quantile(0.5) * 1000}, {"p99", lag_quantile(0.99) * 1000}}},
      {"published", counters_.published},
      {"received", counters_.received},
      {"applied", counters_.applied},
      {"rejected", counters_.rejected}};
}

}  // namespace xdpban
