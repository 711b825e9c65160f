// host_table.h - the compact index of IPv4 host bans that the XDP program
// reads (xdpban_hidx4, layout and rules in xdpban/abi.h), and the Bloom
// prefilters in front of the host maps (xdpban_bloom4/6). Pure memory
// operations (no syscalls, no libbpf) so unit tests run them on plain buffers.
// The bans themselves (address, exact expiry, jail, flags) live in the host
// hash maps; Blocklist keeps the index in step with them. Single writer:
// callers hold the pin-dir lock.
//
// Publication order keeps concurrent XDP readers safe: a slot is written
// before its header bit says it is used (release store), and a delete clears
// only the header bit; the overflow and spill bits are only ever set here
// (Blocklist::maintain clears the ones no host needs any more).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "xdpban/abi.h"

namespace xdpban {

enum class IndexPut { kInserted, kUpdated, kSpilled };

// Where a host's slot is: its line, slot number, and whether it sits in the
// line after its home.
struct IndexSlot {
  uint32_t line = 0;
  int slot = 0;
  bool displaced = false;
};

class HostIndex4 {
 public:
  // lines >= XDPBAN_HIDX_MIN_LINES (checked by Blocklist when it opens the map).
  HostIndex4(xdpban_hidx4_line* lines, uint32_t nlines, uint32_t seed)
      : lines_(lines), nlines_(nlines), seed_(seed) {}

  // Inserts or updates the expiry code of addr (4 bytes). kSpilled: neither
  // its home line nor the next had room; the home line is marked so the
  // program looks in the hash map (which must hold the host).
  IndexPut put(const uint8_t* addr, uint32_t code) {
    Home h = home(addr);
    if (recode(h, code)) return IndexPut::kUpdated;
    uint32_t value = h.quotient << 16 | code;
    if (place(h.line, value, false)) return IndexPut::kInserted;
    uint32_t next = following(h.line);
    // The home's overflow bit goes in before the entry so no reader misses it.
    set_header_bits(h.line, XDPBAN_HIDX_OVERFLOW);
    if (place(next, value, true)) return IndexPut::kInserted;
    set_header_bits(h.line, XDPBAN_HIDX_SPILL);
    return IndexPut::kSpilled;
  }

  // Sets the expiry code of addr's slot; false: addr has no slot (nothing written).
  bool recode(const uint8_t* addr, uint32_t code) { return recode(home(addr), code); }

  // false: addr has no slot (not banned, or only in the hash map).
  bool erase(const uint8_t* addr) {
    auto at = locate(home(addr));
    if (!at) return false;
    uint32_t clear = XDPBAN_HIDX_USED(at->slot) | XDPBAN_HIDX_DISPLACED(at->slot);
    __atomic_fetch_and(&lines_[at->line].header, ~clear, __ATOMIC_RELEASE);
    return true;
  }

  std::optional<IndexSlot> find(const uint8_t* addr) const { return locate(home(addr)); }
  // The expiry code addr's slot holds.
  std::optional<uint32_t> code_of(const uint8_t* addr) const {
    auto at = locate(home(addr));
    if (!at) return std::nullopt;
    return __atomic_load_n(&lines_[at->line].slot[at->slot], __ATOMIC_ACQUIRE) & 0xffff;
  }
  // Whether the program, not finding addr in the index, looks in the hash map.
  bool spills(const uint8_t* addr) const { return header(home(addr).line) & XDPBAN_HIDX_SPILL; }

  // Sets exactly the overflow and spill bits the hosts need: overflow where a
  // next line holds displaced hosts, spill on the lines in spilled_homes.
  // Bits only go from set to clear when no host needs them.
  void reset_marks(const std::vector<uint32_t>& spilled_homes) {
    std::vector<uint32_t> want(nlines_, 0);
    for (uint32_t l = 0; l < nlines_; ++l)
      if (header(following(l)) & kDisplacedMask) want[l] |= XDPBAN_HIDX_OVERFLOW;
    for (uint32_t l : spilled_homes) want[l] |= XDPBAN_HIDX_SPILL;
    for (uint32_t l = 0; l < nlines_; ++l) {
      uint32_t have = header(l) & kMarks;
      if (have != want[l]) __atomic_fetch_and(&lines_[l].header, ~(have & ~want[l]), __ATOMIC_RELEASE);
      if (want[l] & ~have) set_header_bits(l, want[l] & ~have);
    }
  }

  // Empties the index (no ban stays).
  void clear() {
    for (uint32_t l = 0; l < nlines_; ++l) __atomic_store_n(&lines_[l].header, 0u, __ATOMIC_RELEASE);
  }

  uint32_t home_line(const uint8_t* addr) const { return home(addr).line; }
  // Starts loading addr's home line (bulk writers call it a few hosts ahead).
  void prefetch(const uint8_t* addr) const { __builtin_prefetch(&lines_[home(addr).line], 1); }
  uint32_t lines() const { return nlines_; }
  size_t used() const {
    size_t n = 0;
    for (uint32_t l = 0; l < nlines_; ++l)
      n += static_cast<size_t>(__builtin_popcount(header(l) & kUsedMask));
    return n;
  }

  // Lines for a capacity: at most 80% of the slots full, never below the
  // minimum that keeps quotients in 16 bits.
  static uint32_t lines_for(uint64_t capacity) {
    uint64_t want = (capacity * 5 / 4 + XDPBAN_HIDX_SLOTS - 1) / XDPBAN_HIDX_SLOTS;
    return static_cast<uint32_t>(want < XDPBAN_HIDX_MIN_LINES ? XDPBAN_HIDX_MIN_LINES : want);
  }

 private:
  static constexpr uint32_t kUsedMask = (1u << XDPBAN_HIDX_SLOTS) - 1;
  static constexpr uint32_t kDisplacedMask = kUsedMask << XDPBAN_HIDX_SLOTS;
  static constexpr uint32_t kMarks = XDPBAN_HIDX_OVERFLOW | XDPBAN_HIDX_SPILL;

  struct Home {
    uint32_t line;
    uint32_t quotient;
  };
  Home home(const uint8_t* addr) const {
    uint32_t h = xdpban_perm4(addr, seed_);
    return {xdpban_hidx_line(h, nlines_), xdpban_hidx_quotient(h, nlines_)};
  }
  uint32_t following(uint32_t line) const { return line + 1 < nlines_ ? line + 1 : 0; }
  uint32_t header(uint32_t line) const { return __atomic_load_n(&lines_[line].header, __ATOMIC_ACQUIRE); }
  void set_header_bits(uint32_t line, uint32_t bits) {
    __atomic_fetch_or(&lines_[line].header, bits, __ATOMIC_RELEASE);
  }

  // The program's own search (xdpban/abi.h); this writer is the only one, so
  // it reads its own stores.
  std::optional<IndexSlot> find_in(uint32_t line, uint32_t quotient, bool displaced) const {
    int i = xdpban_hidx_find(&lines_[line], quotient, displaced);
    if (i < 0) return std::nullopt;
    return IndexSlot{line, i, displaced};
  }
  std::optional<IndexSlot> locate(Home h) const {
    if (auto at = find_in(h.line, h.quotient, false)) return at;
    if (header(h.line) & XDPBAN_HIDX_OVERFLOW) return find_in(following(h.line), h.quotient, true);
    return std::nullopt;
  }
  bool recode(Home h, uint32_t code) {
    auto at = locate(h);
    if (!at) return false;
    __atomic_store_n(&lines_[at->line].slot[at->slot], h.quotient << 16 | code, __ATOMIC_RELEASE);
    return true;
  }

  bool place(uint32_t line, uint32_t value, bool displaced) {
    uint32_t hdr = header(line);
    for (int i = 0; i < XDPBAN_HIDX_SLOTS; ++i) {
      if (hdr & XDPBAN_HIDX_USED(i)) continue;
      __atomic_store_n(&lines_[line].slot[i], value, __ATOMIC_RELAXED);
      // Used and displaced in one write: a reader never sees a used slot with
      // the wrong home, and a writer killed here leaves no stray displaced bit.
      set_header_bits(line, XDPBAN_HIDX_USED(i) | (displaced ? XDPBAN_HIDX_DISPLACED(i) : 0));
      return true;
    }
    return false;
  }

  xdpban_hidx4_line* lines_;
  uint32_t nlines_;
  uint32_t seed_;
};

// A blocked Bloom filter: two bits in one 64-bit word per key. Deletions
// leave bits set (a false positive only costs a look further); rebuild()
// recomputes it from the live keys, each word replaced by a superset of what
// its live keys need, so no reader ever sees a live key filtered out.
class Bloom {
 public:
  Bloom(uint64_t* words, uint32_t nwords) : words_(words), nwords_(nwords) {}
  void add(uint64_t h) {
    __atomic_fetch_or(&words_[xdpban_bloom_word(h, nwords_)], xdpban_bloom_bits(h), __ATOMIC_RELEASE);
  }
  void prefetch(uint64_t h) const { __builtin_prefetch(&words_[xdpban_bloom_word(h, nwords_)], 1); }
  bool maybe(uint64_t h) const {
    uint64_t bits = xdpban_bloom_bits(h);
    return (__atomic_load_n(&words_[xdpban_bloom_word(h, nwords_)], __ATOMIC_ACQUIRE) & bits) == bits;
  }
  void rebuild(const std::vector<uint64_t>& hashes) {
    std::vector<uint64_t> fresh(nwords_, 0);
    for (uint64_t h : hashes) fresh[xdpban_bloom_word(h, nwords_)] |= xdpban_bloom_bits(h);
    for (uint32_t w = 0; w < nwords_; ++w) __atomic_store_n(&words_[w], fresh[w], __ATOMIC_RELEASE);
  }
  void clear() {
    for (uint32_t w = 0; w < nwords_; ++w) __atomic_store_n(&words_[w], uint64_t{0}, __ATOMIC_RELEASE);
  }

 private:
  uint64_t* words_;
  uint32_t nwords_;
};

}  // namespace xdpban
