#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "core/cidr.h"

namespace xdpban {
namespace {

TEST(Cidr, ParsesHostsAndNetworks) {
  auto h = Cidr::parse("203.0.113.7");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->is_host());
  EXPECT_EQ(h->str(), "203.0.113.7");

  auto n = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->addr.family, Family::V6);
  EXPECT_EQ(n->prefix, 32);
  EXPECT_EQ(n->str(), "2001:db8::/32");

  auto b = Cidr::parse("[2001:db8::1]");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->str(), "2001:db8::1");
}

TEST(Cidr, NormalisesHostBitsAndSaysSo) {
  bool had = false;
  auto c = Cidr::parse("203.0.113.7/24", &had);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(had);
  EXPECT_EQ(c->str(), "203.0.113.0/24");
  auto d = Cidr::parse("203.0.113.0/24", &had);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(had);
  auto e = Cidr::parse("2001:db8::1/64", &had);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(had);
  EXPECT_EQ(e->str(), "2001:db8::/64");
}

TEST(Cidr, MapsIpv4InIpv6ToIpv4) {
  auto a = Address::parse("::ffff:198.51.100.9");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->family, Family::V4);
  EXPECT_EQ(a->str(), "198.51.100.9");
  auto c = Cidr::parse("::ffff:198.51.100.0/120");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->str(), "198.51.100.0/24");
  EXPECT_FALSE(Cidr::parse("::ffff:198.51.100.0/64").ok());
}

TEST(Cidr, RejectsGarbageWithTheInputInTheMessage) {
  for (const char* bad :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/24x",
        "01.2.3.4", "2001:db8::/129", "gggg::1", "example.com", "1.2.3.4 "}) {
    auto r = Cidr::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok() && *bad) {
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

// The allocation-free IPv4 parser agrees with inet_pton on every edge.
TEST(Cidr, Ipv4ParserAgreesWithInetPton) {
  for (const char* t : {"0.0.0.0",    "255.255.255.255", "1.2.3.4",      "10.0.0.1", "256.0.0.1",
                        "1.2.3.04",   "01.2.3.4",        "1.2.3",        "1.2.3.4.", ".1.2.3.4",
                        "1..2.3",     "1.2.3.4x",        "1234.1.1.1",   "1.2.3.-4", "+1.2.3.4",
                        "1.2.3.1000", "0.00.0.0",        "9.99.199.255", " 1.2.3.4", ""}) {
    uint8_t want[4];
    bool ok = inet_pton(AF_INET, t, want) == 1;
    auto a = Address::parse(t);
    EXPECT_EQ(a.ok(), ok) << t;
    if (ok && a.ok()) {
      EXPECT_EQ(a->family, Family::V4) << t;
      EXPECT_EQ(std::memcmp(a->bytes.data(), want, 4), 0) << t;
    }
  }
}

TEST(Cidr, Containment) {
  auto net = *Cidr::parse("10.1.0.0/16");
  EXPECT_TRUE(net.contains(*Address::parse("10.1.200.3")));
  EXPECT_FALSE(net.contains(*Address::parse("10.2.0.1")));
  EXPECT_FALSE(net.contains(*Address::parse("::1")));
  EXPECT_TRUE(net.contains(*Cidr::parse("10.1.2.0/24")));
  EXPECT_FALSE(Cidr::parse("10.1.2.0/24")->contains(net));
  auto all = *Cidr::parse("0.0.0.0/0");
  EXPECT_TRUE(all.contains(*Address::parse("255.255.255.255")));
  auto v6 = *Cidr::parse("2001:db8:1::/48");
  EXPECT_TRUE(v6.contains(*Address::parse("2001:db8:1:ffff::1")));
  EXPECT_FALSE(v6.contains(*Address::parse("2001:db8:2::1")));
}

TEST(Cidr, NetworkOf) {
  auto a = *Address::parse("203.0.113.77");
  EXPECT_EQ(Cidr::network_of(a, 24).str(), "203.0.113.0/24");
  EXPECT_EQ(Cidr::network_of(a, 99).str(), "203.0.113.77");
  auto b = *Address::parse("2001:db8:aa:bb:cc::1");
  EXPECT_EQ(Cidr::network_of(b, 64).str(), "2001:db8:aa:bb::/64");
}

// Found by tests/fuzz/fuzz_blocklist: inet_pton reads a C string, so text after
// a NUL byte was ignored ("2001:db8::1<NUL>junk/24" parsed as 2001:db8::/24).
TEST(Cidr, EmbeddedNulIsNotAnAddress) {
  using namespace std::string_literals;
  EXPECT_FALSE(Address::parse("2001:db8::1\0junk"s).ok());
  EXPECT_FALSE(Address::parse("10.1.2.3\0"s).ok());
  EXPECT_FALSE(Cidr::parse("2001:db8::1\0\0\x007/24"s).ok());
  EXPECT_FALSE(Cidr::parse("[::ffff:192.0.2.1\0]"s).ok());
  EXPECT_TRUE(Cidr::parse("2001:db8::1/24").ok());
}

}  // namespace
}  // namespace xdpban
