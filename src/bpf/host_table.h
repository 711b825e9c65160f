// host_table.h - the open-addressing table of single-host bans that lives in the
// mmapped xdpban_hosts4/6 array maps, and its Bloom prefilter (xdpban_bloom4/6).
// Pure memory operations (no syscalls, no libbpf) so unit tests run it on plain
// buffers; the layout and hash are the ones in xdpban/abi.h that the XDP
// program reads. Single writer: callers hold the pin-dir lock.
//
// Publication order keeps concurrent XDP readers safe: a slot's address and
// value are written before its state becomes USED (release store); a delete
// only flips the state to DELETED; expiry updates are single 8-byte stores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "xdpban/abi.h"

namespace xdpban {

template <typename Slot>
struct SlotTraits;

template <>
struct SlotTraits<xdpban_host4> {
  static constexpr size_t kAddrLen = 4;
  static constexpr uint32_t kPerBucket = XDPBAN_HOST4_PER_BUCKET;
  static uint64_t hash(const uint8_t* a, uint32_t seed) { return xdpban_hash4(a, seed); }
};

template <>
struct SlotTraits<xdpban_host6> {
  static constexpr size_t kAddrLen = 16;
  static constexpr uint32_t kPerBucket = XDPBAN_HOST6_PER_BUCKET;
  static uint64_t hash(const uint8_t* a, uint32_t seed) { return xdpban_hash6(a, seed); }
};

struct HostValue {
  uint64_t expires_ns = 0;  // CLOCK_BOOTTIME; 0 = permanent
  uint16_t jail = 0;
  uint8_t flags = 0;
};

enum class PutResult { kInserted, kUpdated, kFull };

template <typename Slot>
class HostTable {
 public:
  using Traits = SlotTraits<Slot>;
  static constexpr uint32_t kMaxProbeSlots = XDPBAN_MAX_PROBE * Traits::kPerBucket;

  // nslots and bloom_words are powers of two (checked by the caller that
  // created the maps; see Blocklist).
  HostTable(Slot* slots, uint32_t nslots, uint64_t* bloom, uint32_t bloom_words, uint32_t seed)
      : slots_(slots), nslots_(nslots), bloom_(bloom), bloom_words_(bloom_words), seed_(seed) {}

  // Inserts or updates. kFull: no free slot within the probe bound (the caller
  // then stores the host elsewhere).
  PutResult put(const uint8_t* addr, const HostValue& v) {
    uint64_t h = Traits::hash(addr, seed_);
    uint32_t home = home_slot(h);
    int64_t free_pos = -1;
    for (uint32_t i = 0; i < kMaxProbeSlots; ++i) {
      Slot& s = slots_[(home + i) & (nslots_ - 1)];
      uint8_t st = load_state(s);
      if (st == XDPBAN_SLOT_USED && same(s, addr)) {
        s.jail = v.jail;
        s.flags = v.flags;
        __atomic_store_n(&s.expires_ns, v.expires_ns, __ATOMIC_RELEASE);
        return PutResult::kUpdated;
      }
      if (st != XDPBAN_SLOT_USED && free_pos < 0) free_pos = (home + i) & (nslots_ - 1);
      if (st == XDPBAN_SLOT_EMPTY) break;  // the chain ends: addr is not present further on
    }
    if (free_pos < 0) return PutResult::kFull;
    // The prefilter bit goes in first so the program never skips a live entry.
    bloom_add(h);
    Slot& s = slots_[free_pos];
    std::memcpy(s.addr, addr, Traits::kAddrLen);
    s.jail = v.jail;
    s.flags = v.flags;
    __atomic_store_n(&s.expires_ns, v.expires_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&s.state, static_cast<uint8_t>(XDPBAN_SLOT_USED), __ATOMIC_RELEASE);
    ++used_;
    return PutResult::kInserted;
  }

  const Slot* find(const uint8_t* addr) const {
    int64_t pos = locate(addr);
    return pos < 0 ? nullptr : &slots_[pos];
  }

  bool erase(const uint8_t* addr) {
    int64_t pos = locate(addr);
    if (pos < 0) return false;
    __atomic_store_n(&slots_[pos].state, static_cast<uint8_t>(XDPBAN_SLOT_DELETED), __ATOMIC_RELEASE);
    --used_;
    ++stale_bloom_;
    purge_tombstones(static_cast<uint32_t>(pos));
    return true;
  }

  // Visits every USED slot: f(const Slot&).
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < nslots_; ++i)
      if (load_state(slots_[i]) == XDPBAN_SLOT_USED) f(slots_[i]);
  }

  // Counts USED slots (a scan; done once when a table is opened).
  size_t count() {
    size_t n = 0;
    for_each([&](const Slot&) { ++n; });
    used_ = n;
    return n;
  }
  size_t size() const { return used_; }
  uint32_t capacity_slots() const { return nslots_; }

  // Deletions leave their prefilter bits set (false positives only cost a
  // probe). After many, recompute the filter from the table: each word is
  // replaced by a superset of the bits its live entries need, so no reader
  // ever sees a live entry filtered out.
  size_t stale_bloom() const { return stale_bloom_; }
  void rebuild_bloom() {
    std::vector<uint64_t> fresh(bloom_words_, 0);
    for_each([&](const Slot& s) {
      uint64_t h = Traits::hash(s.addr, seed_);
      fresh[xdpban_bloom_word(h, bloom_words_)] |= xdpban_bloom_bits(h);
    });
    for (uint32_t w = 0; w < bloom_words_; ++w) __atomic_store_n(&bloom_[w], fresh[w], __ATOMIC_RELEASE);
    stale_bloom_ = 0;
  }

  // Wipes every slot and the filter (no ban stays).
  void clear() {
    for (uint32_t i = 0; i < nslots_; ++i)
      __atomic_store_n(&slots_[i].state, static_cast<uint8_t>(XDPBAN_SLOT_EMPTY), __ATOMIC_RELEASE);
    for (uint32_t w = 0; w < bloom_words_; ++w) __atomic_store_n(&bloom_[w], uint64_t{0}, __ATOMIC_RELEASE);
    used_ = 0;
    stale_bloom_ = 0;
  }

 private:
  uint32_t home_slot(uint64_t h) const {
    return xdpban_bucket(h, nslots_ / Traits::kPerBucket) * Traits::kPerBucket;
  }
  static uint8_t load_state(const Slot& s) { return __atomic_load_n(&s.state, __ATOMIC_ACQUIRE); }
  static bool same(const Slot& s, const uint8_t* addr) {
    return std::memcmp(s.addr, addr, Traits::kAddrLen) == 0;
  }

  int64_t locate(const uint8_t* addr) const {
    uint32_t home = home_slot(Traits::hash(addr, seed_));
    for (uint32_t i = 0; i < kMaxProbeSlots; ++i) {
      uint32_t pos = (home + i) & (nslots_ - 1);
      uint8_t st = load_state(slots_[pos]);
      if (st == XDPBAN_SLOT_EMPTY) return -1;
      if (st == XDPBAN_SLOT_USED && same(slots_[pos], addr)) return pos;
    }
    return -1;
  }

  void bloom_add(uint64_t h) {
    __atomic_fetch_or(&bloom_[xdpban_bloom_word(h, bloom_words_)], xdpban_bloom_bits(h), __ATOMIC_RELEASE);
  }

  // A tombstone may become EMPTY (ending chains there) only if no live entry
  // after it, within the probe bound, has its home at or before it.
  bool chain_passes(uint32_t pos) const {
    for (uint32_t i = 1; i < kMaxProbeSlots; ++i) {
      const Slot& s = slots_[(pos + i) & (nslots_ - 1)];
      uint8_t st = load_state(s);
      if (st == XDPBAN_SLOT_EMPTY) return false;
      if (st != XDPBAN_SLOT_USED) continue;
      uint32_t home = home_slot(Traits::hash(s.addr, seed_));
      uint32_t dist_to_entry = (pos + i - home) & (nslots_ - 1);
      if (dist_to_entry >= i) return true;  // home is at or before pos
    }
    return false;
  }

  void purge_tombstones(uint32_t pos) {
    for (uint32_t i = 0; i < kMaxProbeSlots; ++i) {
      uint32_t p = (pos - i) & (nslots_ - 1);
      uint8_t st = load_state(slots_[p]);
      if (st == XDPBAN_SLOT_EMPTY) return;
      if (st == XDPBAN_SLOT_USED) continue;
      if (chain_passes(p)) return;
      __atomic_store_n(&slots_[p].state, static_cast<uint8_t>(XDPBAN_SLOT_EMPTY), __ATOMIC_RELEASE);
    }
  }

  Slot* slots_;
  uint32_t nslots_;
  uint64_t* bloom_;
  uint32_t bloom_words_;
  uint32_t seed_;
  size_t used_ = 0;
  size_t stale_bloom_ = 0;
};

}  // namespace xdpban
