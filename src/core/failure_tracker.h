// failure_tracker.h - counts one jail's failures per address inside an exact
// sliding findtime window, and says when maxretry is reached. Memory is bounded:
// at max_entries the address whose last failure is oldest is evicted. Does not
// decide ban durations (BanManager) or parse lines (Filter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/cidr.h"

namespace xdpban {

struct AddressHash {
  size_t operator()(const Address& a) const noexcept;
};

struct TrackerLimits {
  int maxretry = 5;
  int64_t findtime_s = 600;
  size_t max_entries = 100000;  // addresses tracked at once
};

class FailureTracker {
 public:
  explicit FailureTracker(TrackerLimits limits);
  ~FailureTracker();
  FailureTracker(const FailureTracker&) = delete;
  FailureTracker& operator=(const FailureTracker&) = delete;

  struct Outcome {
    int count = 0;     // failures of this address inside the window, this one included
    bool ban = false;  // count reached maxretry: the address's record is cleared
  };
  // One failure (or `attempts` failures at once) at event time t, unix seconds.
  // Times may arrive slightly out of order; the window is anchored at the newest.
  Outcome record(const Address& a, int64_t t, int attempts = 1);
  void forget(const Address& a);
  // Drops addresses whose newest failure is older than now - findtime.
  size_t expire(int64_t now);

  int count(const Address& a) const;
  size_t size() const { return map_.size(); }
  size_t evicted() const { return evicted_; }
  const TrackerLimits& limits() const { return limits_; }
  void set_limits(const TrackerLimits& limits);  // on reload; keeps what fits

 private:
  struct Entry;
  using Map = std::unordered_map<Address, Entry, AddressHash>;
  void unlink(Map::value_type* node);
  void push_back(Map::value_type* node);
  void evict_oldest();

  TrackerLimits limits_;
  Map map_;
  Map::value_type* lru_head_ = nullptr;  // oldest last failure
  Map::value_type* lru_tail_ = nullptr;
  size_t evicted_ = 0;
};

}  // namespace xdpban
