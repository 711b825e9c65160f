// fleet_link.h - the daemon's connection to the fleet's NATS JetStream KV
// bucket: publishes ops in order (retrying while the broker is away) and
// watches the bucket (snapshot, then live changes; a new watch after every
// reconnect). Its own threads make every libnats call; the event loop only sees
// an eventfd and a queue. Does not decide what to publish or apply (daemon/fleet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/fleet.h"
#include "core/result.h"

namespace xdpban {

class FleetLink {
 public:
  struct Op {
    enum Kind { kPut = 1, kDelete = 2, kExpire = 3 } kind = kPut;
    std::string key, value;  // value: kPut's record JSON, kExpire's record JSON as published
    uint64_t seq = 0;        // the caller's id, echoed in kDone
  };
  // kPut: written unless the bucket's record for key wins over it (fleet_record_wins; then dropped,
  //       kDone with beaten=true); kvStore_Get + kvStore_Create/kvStore_Update(last rev), retried
  //       on a revision conflict.
  // kDelete: kvStore_Delete(key).
  // kExpire: deleted only if the bucket's record still is an expired one (expiry != 0 && <= now);
  //          another node's longer ban of the same cidr stays.
  struct Event {
    enum Kind { kEntry, kSnapshotDone, kDone, kConnected, kDisconnected, kError } kind = kEntry;
    std::string key, value;  // kEntry
    bool deleted = false;    // kEntry: a delete or purge marker
    uint64_t revision = 0;   // kEntry
    int64_t created_ns = 0;  // kEntry: server time of the put/delete (unix ns)
    uint64_t watch = 0;      // kEntry/kSnapshotDone: which watch (a new one after every (re)connect)
    uint64_t seq = 0;        // kDone
    bool beaten = false;     // kDone: the bucket held a winning record; nothing written
    std::string text;        // kConnected: server URL; kDisconnected/kError: what happened, for the log
  };
  struct Status {
    bool connected = false;
    std::string server, last_error;
    size_t queued = 0;
    uint64_t watch = 0;
    bool snapshot_done = false;
  };

  // Fails only on settings it cannot use (unreadable creds/cert files, no servers); a broker that is
  // down or refuses is NOT a start error: the link keeps retrying (kError/kDisconnected events).
  static Result<std::unique_ptr<FleetLink>> start(const FleetSettings& s);
  ~FleetLink();  // stops its threads, closes the connection, prompt (< timeout)
  FleetLink(const FleetLink&) = delete;
  FleetLink& operator=(const FleetLink&) = delete;

  int event_fd() const;                         // eventfd, readable while events wait
  void send(Op op);                             // never blocks; FIFO; ops wait while disconnected
  std::vector<Event> take(size_t max = 65536);  // from the loop thread; clears the eventfd when empty
  Status status() const;                        // thread-safe

  struct Impl;  // the threads and the libnats handles (fleet_link.cpp)

 private:
  explicit FleetLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xdpban
