#include <gtest/gtest.h>

#include <array>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "bpf/host_table.h"

namespace xdpban {
namespace {

constexpr uint32_t kSeed = 0x1234567u;

std::array<uint8_t, 4> v4(uint32_t x) {
  return {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
}

struct Fixture {
  explicit Fixture(uint32_t nlines = XDPBAN_HIDX_MIN_LINES)
      : lines(nlines), index(lines.data(), nlines, kSeed) {}
  std::vector<xdpban_hidx4_line> lines;
  HostIndex4 index;

  // What the XDP program concludes from the index alone (the same abi.h
  // functions it runs): the code of addr's slot, or none; ask_map = it then
  // reads the hash map.
  struct Seen {
    std::optional<uint32_t> code;
    bool ask_map = false;
  };
  Seen program_sees(const uint8_t* a) const {
    uint32_t h = xdpban_perm4(a, kSeed), n = static_cast<uint32_t>(lines.size());
    uint32_t line = xdpban_hidx_line(h, n), q = xdpban_hidx_quotient(h, n);
    const auto& l = lines[line];
    if (int i = xdpban_hidx_find(&l, q, 0); i >= 0) return {l.slot[i] & 0xffff, false};
    if (l.header & XDPBAN_HIDX_OVERFLOW) {
      const auto& l2 = lines[line + 1 < n ? line + 1 : 0];
      if (int i = xdpban_hidx_find(&l2, q, 1); i >= 0) return {l2.slot[i] & 0xffff, false};
    }
    return {std::nullopt, (l.header & XDPBAN_HIDX_SPILL) != 0};
  }

  // Addresses whose home is line `want`, found by search.
  std::vector<std::array<uint8_t, 4>> homed_at(uint32_t want, size_t count, uint32_t start = 0) const {
    std::vector<std::array<uint8_t, 4>> out;
    for (uint32_t x = start; out.size() < count; ++x) {
      auto a = v4(x);
      if (index.home_line(a.data()) == want) out.push_back(a);
    }
    return out;
  }
};

TEST(HostIndex4, LineAndQuotientGiveTheAddressBack) {
  // Different addresses never share (line, quotient): a quotient match is exact.
  std::mt19937 rng(7);
  for (uint32_t n : {65536u, 87382u, 100003u, 1u << 20}) {
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> seen;
    for (int i = 0; i < 200000; ++i) {
      uint32_t x = rng();
      auto a = v4(x);
      uint32_t h = xdpban_perm4(a.data(), kSeed);
      auto key = std::make_pair(xdpban_hidx_line(h, n), xdpban_hidx_quotient(h, n));
      ASSERT_LT(key.first, n);
      ASSERT_LT(key.second, 65536u);
      auto [it, fresh] = seen.emplace(key, x);
      ASSERT_TRUE(fresh || it->second == x) << "lines " << n;
    }
  }
}

TEST(HostIndex4, MatchesIsExactPerSlot) {
  std::mt19937 rng(11);
  for (int round = 0; round < 20000; ++round) {
    xdpban_hidx4_line l{};
    uint32_t q = rng() & 0xffff;
    for (auto& s : l.slot) {
      uint32_t qs = (rng() % 4 == 0) ? q : (rng() & 0xffff);
      if (rng() % 8 == 0) qs = q ^ 1;  // near misses
      s = qs << 16 | (rng() & 0xffff);
    }
    l.header = rng();
    uint32_t want = 0;
    for (int i = 0; i < XDPBAN_HIDX_SLOTS; ++i)
      if ((l.slot[i] >> 16) == q) want |= 1u << i;
    ASSERT_EQ(xdpban_hidx_matches(&l, q) & 0x7fff, want);
  }
}

TEST(HostIndex4, InsertFindUpdateErase) {
  Fixture f;
  auto a = v4(0xcb007107);
  EXPECT_EQ(f.index.put(a.data(), 100), IndexPut::kInserted);
  EXPECT_EQ(f.index.code_of(a.data()), 100u);
  EXPECT_EQ(f.program_sees(a.data()).code, 100u);
  EXPECT_EQ(f.index.put(a.data(), 200), IndexPut::kUpdated);
  EXPECT_EQ(f.program_sees(a.data()).code, 200u);
  EXPECT_EQ(f.index.used(), 1u);
  EXPECT_TRUE(f.index.erase(a.data()));
  EXPECT_FALSE(f.index.erase(a.data()));
  EXPECT_FALSE(f.program_sees(a.data()).code);
  EXPECT_EQ(f.index.used(), 0u);
}

TEST(HostIndex4, FullHomeOverflowsToTheNextLineThenSpills) {
  Fixture f;
  const uint32_t home = 1234;
  auto hosts = f.homed_at(home, 2 * XDPBAN_HIDX_SLOTS + 3);
  // Fill the next line partly with its own hosts first.
  auto neighbours = f.homed_at(home + 1, 5);
  for (auto& a : neighbours) ASSERT_EQ(f.index.put(a.data(), 7), IndexPut::kInserted);
  int inserted = 0, spilled = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto r = f.index.put(hosts[i].data(), static_cast<uint32_t>(i + 1));
    (r == IndexPut::kInserted ? inserted : spilled)++;
  }
  EXPECT_EQ(inserted, 2 * XDPBAN_HIDX_SLOTS - 5);
  EXPECT_EQ(spilled, 8);
  EXPECT_TRUE(f.lines[home].header & XDPBAN_HIDX_OVERFLOW);
  EXPECT_TRUE(f.lines[home].header & XDPBAN_HIDX_SPILL);
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto seen = f.program_sees(hosts[i].data());
    if (i < size_t(inserted)) {
      EXPECT_EQ(seen.code, i + 1) << i;
    } else {
      EXPECT_FALSE(seen.code);
      EXPECT_TRUE(seen.ask_map);  // the program then reads the hash map
    }
  }
  for (auto& a : neighbours) EXPECT_EQ(f.program_sees(a.data()).code, 7u);
  // Erasing a displaced host, then the marks recomputed: the overflow bit
  // stays while displaced hosts remain, and goes with the last one.
  for (int i = XDPBAN_HIDX_SLOTS; i < inserted; ++i) EXPECT_TRUE(f.index.erase(hosts[i].data()));
  f.index.reset_marks({});
  EXPECT_FALSE(f.lines[home].header & XDPBAN_HIDX_OVERFLOW);
  EXPECT_FALSE(f.lines[home].header & XDPBAN_HIDX_SPILL);
  for (int i = 0; i < XDPBAN_HIDX_SLOTS; ++i)
    EXPECT_EQ(f.program_sees(hosts[i].data()).code, uint32_t(i + 1));
}

TEST(HostIndex4, LastLineOverflowsIntoTheFirst) {
  Fixture f;
  uint32_t last = XDPBAN_HIDX_MIN_LINES - 1;
  auto hosts = f.homed_at(last, XDPBAN_HIDX_SLOTS + 2);
  for (auto& a : hosts) ASSERT_EQ(f.index.put(a.data(), 9), IndexPut::kInserted);
  EXPECT_NE(f.lines[0].header & (((1u << XDPBAN_HIDX_SLOTS) - 1) << XDPBAN_HIDX_SLOTS), 0u);
  for (auto& a : hosts) EXPECT_EQ(f.program_sees(a.data()).code, 9u);
}

// Random inserts and erases against a reference: every live host is seen by
// the program's lookup with its code (or sent to the hash map when spilled),
// and no other address ever matches.
TEST(HostIndex4, RandomOpsAgainstAReference) {
  Fixture f;
  std::mt19937 rng(42);
  std::map<uint32_t, uint32_t> ref;
  std::set<uint32_t> spilled;
  // 1.3M hosts over 65536 lines: load beyond 1, so lines overflow and spill.
  std::vector<uint32_t> pool(1300000);
  for (auto& x : pool) x = rng();
  for (int step = 0; step < 2500000; ++step) {
    uint32_t x = pool[rng() % pool.size()];
    auto a = v4(x);
    if (rng() % 4) {
      uint32_t code = rng() & 0xffff;
      auto r = f.index.put(a.data(), code);
      if (r == IndexPut::kSpilled) {
        spilled.insert(x);
        ref.erase(x);
      } else {
        ref[x] = code;
        spilled.erase(x);
      }
    } else {
      EXPECT_EQ(f.index.erase(a.data()), ref.erase(x) == 1);
      spilled.erase(x);
    }
  }
  EXPECT_GT(spilled.size(), 0u);
  for (auto [x, code] : ref) ASSERT_EQ(f.program_sees(v4(x).data()).code, code);
  for (uint32_t x : spilled) {
    auto seen = f.program_sees(v4(x).data());
    ASSERT_FALSE(seen.code);
    ASSERT_TRUE(seen.ask_map);
  }
  EXPECT_EQ(f.index.used(), ref.size());
  for (int i = 0; i < 300000; ++i) {
    uint32_t x = rng();
    if (ref.count(x)) continue;
    ASSERT_FALSE(f.program_sees(v4(x).data()).code) << x;
  }
}

TEST(HostIndex4, ClearEmptiesEverything) {
  Fixture f;
  auto a = v4(0x0a000001);
  ASSERT_EQ(f.index.put(a.data(), 0), IndexPut::kInserted);
  f.index.clear();
  EXPECT_FALSE(f.program_sees(a.data()).code);
  EXPECT_EQ(f.index.used(), 0u);
}

TEST(HostIndex4, LinesForCapacity) {
  EXPECT_EQ(HostIndex4::lines_for(100), uint32_t{XDPBAN_HIDX_MIN_LINES});
  EXPECT_GE(HostIndex4::lines_for(1u << 20) * uint64_t{XDPBAN_HIDX_SLOTS}, (1u << 20) * 5ull / 4);
  EXPECT_LT(HostIndex4::lines_for(1u << 20) * sizeof(xdpban_hidx4_line), 6u << 20);  // ~5.3 MiB
}

// A code proves a ban live only while it is: for any expiry and any time, the
// program's test (now past the epoch by fewer than code - 1 units) implies now
// < expiry; permanent bans are code 0.
TEST(HostIndex4, ExpiryCodeNeverOutlivesTheBan) {
  EXPECT_EQ(xdpban_hidx_code(0, 5), uint32_t{XDPBAN_HIDX_PERMANENT});
  std::mt19937_64 rng(3);
  const uint64_t unit = 1ull << XDPBAN_HIDX_UNIT_SHIFT;
  for (int i = 0; i < 1000000; ++i) {
    uint64_t epoch = rng() % (1ull << 50);
    uint64_t expires = epoch + rng() % (70000 * unit) - (rng() % 4 == 0 ? rng() % (2 * unit) : 0) + 1;
    uint64_t now = epoch + rng() % (70000 * unit);
    uint32_t code = xdpban_hidx_code(expires, epoch);
    ASSERT_GE(code, 1u);
    ASSERT_LE(code, 0xffffu);
    bool proves_live = now >= epoch && ((now - epoch) >> XDPBAN_HIDX_UNIT_SHIFT) + 1 < code;
    if (proves_live) {
      ASSERT_LT(now, expires);
    }
  }
  // A ban a day long is proven live for all but its last unit.
  uint64_t epoch = 1000 * unit;
  uint32_t code = xdpban_hidx_code(epoch + 86400ull * 1000000000, epoch);
  EXPECT_EQ(code, 1 + (86400ull * 1000000000 >> XDPBAN_HIDX_UNIT_SHIFT));
}

TEST(Bloom, AddMaybeRebuildClear) {
  std::vector<uint64_t> words(64, 0);
  Bloom b(words.data(), 64);
  std::vector<uint64_t> live;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100; ++i) {
    uint64_t h = rng();
    b.add(h);
    if (i % 2) live.push_back(h);
  }
  b.rebuild(live);
  for (uint64_t h : live) EXPECT_TRUE(b.maybe(h));
  b.clear();
  for (uint64_t w : words) EXPECT_EQ(w, 0u);
}

}  // namespace
}  // namespace xdpban
