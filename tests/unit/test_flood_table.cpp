// The flood guard's table arithmetic from xdpban/abi.h, shared by the XDP
// program and the loader: which line a source lands on, its fingerprint, the
// table size for N tracked sources, and the report seconds packed six bits per
// slot. The program's use of them is tested through BPF_PROG_TEST_RUN in
// tests/bpf/test_flood.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "xdpban/abi.h"

namespace xdpban {
namespace {

TEST(FloodTable, LineIsInRangeAndEvenForAnyLineCount) {
  std::mt19937_64 rng(7);
  for (uint32_t n : {1u, 5u, 4000u, 40000u, 52429u, 65536u, 3355444u}) {
    std::vector<uint32_t> per(std::min<uint32_t>(n, 4096));
    const int draws = 200000;
    for (int i = 0; i < draws; ++i) {
      uint32_t line = xdpban_flood_line(rng(), n);
      ASSERT_LT(line, n);
      // Lines folded into at most 4096 groups of (nearly) equal size.
      per[static_cast<uint64_t>(line) * per.size() / n]++;
    }
    double mean = static_cast<double>(draws) / per.size();
    for (uint32_t c : per) EXPECT_NEAR(c, mean, 6 * std::sqrt(mean) + 1) << "n=" << n;
  }
  EXPECT_EQ(xdpban_flood_line(0, 40000), 0u);
  EXPECT_EQ(xdpban_flood_line(0xffffffffULL, 40000), 39999u);
  EXPECT_EQ(xdpban_flood_line(0xffffffff00000000ULL, 40000), 0u)
      << "the high bits (fingerprint) do not move it";
}

TEST(FloodTable, FingerprintIsTheTopSixteenBitsAndNeverZero) {
  EXPECT_EQ(xdpban_flood_fp(0xabcd000000000000ULL), 0xabcd);
  EXPECT_EQ(xdpban_flood_fp(0x0000ffffffffffffULL), 1) << "0 marks an empty slot";
  EXPECT_EQ(xdpban_flood_fp(0x0001000000000000ULL), 1);
  std::mt19937_64 rng(8);
  for (int i = 0; i < 100000; ++i) ASSERT_NE(xdpban_flood_fp(rng()), 0);
}

TEST(FloodTable, LinesKeepTheLoadAtMostOneHalf) {
  for (uint32_t tracked : {1u, 1024u, 10000u, 100000u, 131072u, 16777216u}) {
    uint32_t lines = xdpban_flood_lines(tracked);
    uint64_t slots = uint64_t{lines} * XDPBAN_FLOOD_SLOTS_PER_BUCKET;
    EXPECT_GE(slots, uint64_t{tracked} * 2) << tracked;
    EXPECT_LT(slots, uint64_t{tracked} * 2 + XDPBAN_FLOOD_SLOTS_PER_BUCKET)
        << "no more than needed: " << tracked;
  }
  EXPECT_EQ(xdpban_flood_lines(100000), 40000u);  // 2.44 MiB
  EXPECT_EQ(xdpban_flood_lines(0), 1u);
  EXPECT_EQ(sizeof(xdpban_flood_bucket), 64u);
}

TEST(FloodTable, ReportSecondsArePackedPerSlot) {
  uint32_t w = 0;
  for (uint32_t i = 0; i < XDPBAN_FLOOD_SLOTS_PER_BUCKET; ++i) w = xdpban_flood_report_set(w, i, 10 * i + 3);
  for (uint32_t i = 0; i < XDPBAN_FLOOD_SLOTS_PER_BUCKET; ++i)
    EXPECT_EQ(xdpban_flood_report_s(w, i), 10 * i + 3);
  w = xdpban_flood_report_set(w, 2, 64 + 5);  // seconds are kept mod 64
  EXPECT_EQ(xdpban_flood_report_s(w, 2), 5u);
  for (uint32_t i : {0u, 1u, 3u, 4u})
    EXPECT_EQ(xdpban_flood_report_s(w, i), 10 * i + 3) << "slot " << i << " kept";
  EXPECT_EQ(w >> (XDPBAN_FLOOD_SLOTS_PER_BUCKET * XDPBAN_FLOOD_REPORT_BITS), 0u) << "unused bits stay clear";
  // A new slot is marked 'reported the second before now' (now + 63), so
  // its first report is never held back.
  for (uint64_t now_s : {0ull, 1ull, 63ull, 64ull, 1000000ull})
    EXPECT_NE(xdpban_flood_report_s(xdpban_flood_report_set(0, 1, now_s + 63), 1), now_s % 64) << now_s;
}

}  // namespace
}  // namespace xdpban
