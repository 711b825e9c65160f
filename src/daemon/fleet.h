// fleet.h - xdpband's side of the fleet ([fleet] in xdpban.conf): this
// node's ban changes become operations on the shared NATS KV bucket, written
// to an outbox in the store first so that none is lost while the broker is
// away; the bucket's entries from other nodes become bans here through
// BanManager::apply_remote (the local guard decides). After every new watch
// (start, reconnect) the snapshot is compared with the bans here: a fleet ban
// the bucket no longer holds was deleted while we were not watching and goes,
// and a ban of ours the bucket lost is published again. Owns the FleetLink
// (io/fleet_link.h); knows nothing of NATS itself.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/ban_manager.h"
#include "core/fleet.h"
#include "io/ban_write_queue.h"
#include "io/fleet_link.h"

namespace xdpban {

struct BanEvent;

class FleetSync {
 public:
  struct Counters {
    uint64_t published = 0;  // operations the bucket took (puts and deletes)
    uint64_t received = 0;   // other nodes' bans and deletes seen
    uint64_t applied = 0;    // ... that changed a ban here
    uint64_t rejected = 0;   // ... refused: the guard, a jail not accepted, a bad entry
  };
  // `announce` tells the daemon's listeners (and its log) of a ban change
  // made here; the event has `fleet` set, so it never comes back as an op.
  static Result<std::unique_ptr<FleetSync>> start(const FleetSettings& settings, BanManager& bans,
                                                  BanWriteQueue& writes, StateStore& store,
                                                  std::function<void(const BanEvent&)> announce);
  ~FleetSync();

  int fd() const { return link_->event_fd(); }
  // Handles what the link reports (from the event loop).
  void on_ready();
  // A ban change made here (a BanListener): a ban to publish, an unban to delete.
  void on_event(const BanEvent& e);
  nlohmann::json status_json() const;
  const Counters& counters() const { return counters_; }
  size_t outbox() const { return outbox_.size(); }
  bool connected() const { return link_->status().connected; }
  // The last lags of live entries (their put on the broker to here), seconds.
  double lag_quantile(double q) const;

 private:
  FleetSync(const FleetSettings& s, BanManager& bans, BanWriteQueue& writes,
            std::function<void(const BanEvent&)> announce)
      : settings_(s), bans_(bans), writes_(writes), announce_(std::move(announce)) {}
  bool shares(const BanRecord& b) const;  // a ban of ours that belongs in the bucket
  void send(FleetLink::Op::Kind kind, const Cidr& cidr, std::string value);
  void begin_watch(uint64_t watch);
  void entry(const FleetLink::Event& e);
  void snapshot_done(uint64_t watch);
  void unban(const Cidr& cidr, const std::string& why);
  FleetRecord record_of(const BanRecord& b) const;

  FleetSettings settings_;
  BanManager& bans_;
  BanWriteQueue& writes_;
  std::function<void(const BanEvent&)> announce_;
  std::unique_ptr<FleetLink> link_;
  uint64_t next_seq_ = 1;
  struct Pending {
    uint64_t seq;
    FleetLink::Op::Kind kind;
  };
  std::unordered_map<std::string, Pending> outbox_;  // key -> the newest op not in the bucket yet
  std::map<uint64_t, std::string> inflight_;         // seq -> key
  // The watch whose snapshot is arriving, and the keys it holds.
  uint64_t watch_ = 0;
  bool snapshot_done_ = false;
  std::unordered_set<std::string> seen_;
  size_t snapshot_applied_ = 0, snapshot_rejected_ = 0;
  Counters counters_;
  std::vector<double> lags_;  // a ring of the last kLags
  size_t lag_next_ = 0;
  double last_lag_ = 0;
  std::string last_error_;
};

}  // namespace xdpban
