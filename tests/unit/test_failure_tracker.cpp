#include <gtest/gtest.h>

#include "core/failure_tracker.h"

namespace xdpban {
namespace {

Address ip(uint32_t x) {
  return Address::v4(uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x));
}
constexpr int64_t T = 1700000000;

TEST(FailureTracker, MaxretryMinusOneDoesNotBan) {
  FailureTracker t({3, 600, 1000});
  EXPECT_FALSE(t.record(ip(1), T).ban);
  EXPECT_FALSE(t.record(ip(1), T + 10).ban);
  EXPECT_EQ(t.count(ip(1)), 2);
  auto o = t.record(ip(1), T + 20);
  EXPECT_TRUE(o.ban);
  EXPECT_EQ(o.count, 3);
  EXPECT_EQ(t.count(ip(1)), 0) << "a ban clears the address's failures";
}

TEST(FailureTracker, WindowIsExactAndSliding) {
  FailureTracker t({3, 600, 1000});
  t.record(ip(2), T);
  t.record(ip(2), T + 300);
  // T falls out exactly when the window (newest - 600, newest] moves past it.
  auto o = t.record(ip(2), T + 600);
  EXPECT_FALSE(o.ban);
  EXPECT_EQ(o.count, 2);
  EXPECT_TRUE(t.record(ip(2), T + 899).ban);
}

TEST(FailureTracker, OutOfOrderTimesCountInTheirPlace) {
  FailureTracker t({3, 60, 1000});
  t.record(ip(3), T + 50);
  t.record(ip(3), T);  // an older line from another file
  EXPECT_EQ(t.count(ip(3)), 2);
  EXPECT_TRUE(t.record(ip(3), T + 55).ban);
}

TEST(FailureTracker, AddressesAreIndependent) {
  FailureTracker t({2, 600, 1000});
  t.record(ip(4), T);
  EXPECT_FALSE(t.record(ip(5), T).ban);
  EXPECT_TRUE(t.record(ip(4), T + 1).ban);
  EXPECT_EQ(t.count(ip(5)), 1);
}

TEST(FailureTracker, MultipleAttemptsAtOnce) {
  FailureTracker t({5, 600, 1000});
  EXPECT_FALSE(t.record(ip(6), T, 3).ban);
  EXPECT_TRUE(t.record(ip(6), T + 1, 2).ban);
}

TEST(FailureTracker, LargeMaxretryUsesHeapBuffer) {
  FailureTracker t({20, 600, 1000});
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(t.record(ip(7), T + i).ban);
  EXPECT_TRUE(t.record(ip(7), T + 19).ban);
}

TEST(FailureTracker, LargeMaxretryCostsMemoryOnlyForRealFailures) {
  // 100k addresses failing once under maxretry 100000 must not preallocate
  // 100000 times each (that is 40 GB): the buffer grows with the count.
  FailureTracker t({100000, 600, 200000});
  for (uint32_t i = 0; i < 100000; ++i) t.record(ip(0x0b000000 + i), T);
  EXPECT_EQ(t.size(), 100000u);
  for (int i = 0; i < 1000; ++i) t.record(ip(0x0b000000), T + i % 300);  // all inside findtime
  EXPECT_EQ(t.count(ip(0x0b000000)), 1001);
}

TEST(FailureTracker, BoundedWithOldestFirstEviction) {
  FailureTracker t({3, 600, 100});
  for (uint32_t i = 0; i < 1000; ++i) t.record(ip(1000 + i), T + i);
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.evicted(), 900u);
  EXPECT_EQ(t.count(ip(1000)), 0) << "oldest evicted";
  EXPECT_EQ(t.count(ip(1999)), 1) << "newest kept";
}

TEST(FailureTracker, ExpireDropsStaleAddresses) {
  FailureTracker t({3, 600, 1000});
  t.record(ip(8), T);
  t.record(ip(9), T + 500);
  EXPECT_EQ(t.expire(T + 700), 1u);
  EXPECT_EQ(t.count(ip(8)), 0);
  EXPECT_EQ(t.count(ip(9)), 1);
}

TEST(FailureTracker, Ipv6) {
  FailureTracker t({2, 600, 1000});
  auto a = *Address::parse("2001:db8::1");
  auto b = *Address::parse("2001:db8::2");
  t.record(a, T);
  t.record(b, T);
  EXPECT_TRUE(t.record(a, T + 1).ban);
  EXPECT_EQ(t.count(b), 1);
}

}  // namespace
}  // namespace xdpban
