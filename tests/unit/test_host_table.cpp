#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <vector>

#include "bpf/host_table.h"

namespace xdpban {
namespace {

template <typename Slot>
struct Fixture {
  explicit Fixture(uint32_t nslots, uint32_t words = 64)
      : slots(nslots), bloom(words), table(slots.data(), nslots, bloom.data(), words, 0x1234567u) {}
  std::vector<Slot> slots;
  std::vector<uint64_t> bloom;
  HostTable<Slot> table;

  // What the XDP program does: prefilter, then probe until an empty slot.
  bool program_sees(const uint8_t* a) const {
    uint64_t h = SlotTraits<Slot>::hash(a, 0x1234567u);
    uint64_t bits = xdpban_bloom_bits(h);
    if ((bloom[xdpban_bloom_word(h, bloom.size())] & bits) != bits) return false;
    return table.find(a) != nullptr;
  }
};

std::array<uint8_t, 4> v4(uint32_t x) {
  return {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
}

TEST(HostTable, InsertFindUpdateErase) {
  Fixture<xdpban_host4> f(64);
  auto a = v4(0xcb007107);
  EXPECT_EQ(f.table.put(a.data(), {100, 3, XDPBAN_BAN_MANUAL}), PutResult::kInserted);
  ASSERT_NE(f.table.find(a.data()), nullptr);
  EXPECT_EQ(f.table.find(a.data())->expires_ns, 100u);
  EXPECT_EQ(f.table.put(a.data(), {200, 4, 0}), PutResult::kUpdated);
  EXPECT_EQ(f.table.find(a.data())->expires_ns, 200u);
  EXPECT_EQ(f.table.find(a.data())->jail, 4);
  EXPECT_EQ(f.table.size(), 1u);
  EXPECT_TRUE(f.program_sees(a.data()));
  EXPECT_TRUE(f.table.erase(a.data()));
  EXPECT_FALSE(f.table.erase(a.data()));
  EXPECT_EQ(f.table.find(a.data()), nullptr);
  EXPECT_EQ(f.table.size(), 0u);
}

TEST(HostTable, ReportsFullInsteadOfLosingAnEntry) {
  Fixture<xdpban_host4> f(32);  // 8 buckets; the probe bound covers all of them
  int inserted = 0, full = 0;
  for (uint32_t i = 0; i < 64; ++i) {
    auto a = v4(0x0a000000 + i);
    auto r = f.table.put(a.data(), {0, 1, 0});
    (r == PutResult::kInserted ? inserted : full)++;
  }
  EXPECT_EQ(inserted, 32);
  EXPECT_EQ(full, 32);
  for (uint32_t i = 0; i < 64; ++i) {
    auto a = v4(0x0a000000 + i);
    // every inserted host is found; no phantom for the rest
    if (f.table.find(a.data())) --inserted;
  }
  EXPECT_EQ(inserted, 0);
}

// Random inserts and erases against a reference map: every live key stays
// visible to the program's lookup (tombstone purging never cuts a chain), no
// erased key is visible, and a rebuilt filter keeps every live key.
template <typename Slot>
void random_ops(size_t addr_len) {
  Fixture<Slot> f(1024, 256);
  std::mt19937_64 rng(42);
  // Fixed-size keys (bytes past addr_len stay zero): GCC 12 at -O3 warns
  // (stringop-overread, a false positive) on std::map ordering of vectors.
  using Key = std::array<uint8_t, 16>;
  std::map<Key, uint64_t> ref;
  std::vector<Key> pool(900);
  for (auto& a : pool)
    for (size_t i = 0; i < addr_len; ++i) a[i] = static_cast<uint8_t>(rng());
  for (int step = 0; step < 20000; ++step) {
    auto& a = pool[rng() % pool.size()];
    if (rng() % 3) {
      auto r = f.table.put(a.data(), {static_cast<uint64_t>(step), 1, 0});
      if (r != PutResult::kFull) ref[a] = step;
    } else {
      EXPECT_EQ(f.table.erase(a.data()), ref.erase(a) == 1);
    }
    if (step % 997 == 0) f.table.rebuild_bloom();
  }
  for (auto& a : pool) {
    auto it = ref.find(a);
    const Slot* s = f.table.find(a.data());
    if (it == ref.end()) {
      EXPECT_EQ(s, nullptr);
    } else {
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->expires_ns, it->second);
      EXPECT_TRUE(f.program_sees(a.data()));
    }
  }
  EXPECT_EQ(f.table.size(), ref.size());
  EXPECT_EQ(f.table.count(), ref.size());
}

TEST(HostTable, RandomOpsIpv4) { random_ops<xdpban_host4>(4); }
TEST(HostTable, RandomOpsIpv6) { random_ops<xdpban_host6>(16); }

TEST(HostTable, ClearEmptiesEverything) {
  Fixture<xdpban_host6> f(64);
  std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
  ASSERT_EQ(f.table.put(a.data(), {}), PutResult::kInserted);
  f.table.clear();
  EXPECT_EQ(f.table.find(a.data()), nullptr);
  EXPECT_EQ(f.table.count(), 0u);
}

}  // namespace
}  // namespace xdpban
