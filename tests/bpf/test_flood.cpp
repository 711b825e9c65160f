// BPF_PROG_TEST_RUN tests of the flood guard: the real XDP program with its
// rules written through the real FloodGuard; verdicts, counters, refill after
// time, TCP connection attempts, prefix aggregation, the allow list, and the
// reports read from the real ring buffer.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "bpf/flood.h"
#include "fixture.h"

namespace xdpban {
namespace {

class Flood : public Datapath {
 protected:
  void SetUp() override {
    Datapath::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto g = FloodGuard::open(kPinDir);
    ASSERT_TRUE(g.ok()) << g.error().message;
    guard_ = std::move(*g);
  }
  void configure(std::vector<FloodRule> rules) {
    auto st = guard_->configure(rules);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  static FloodRule rule(uint8_t id, double rate, uint32_t burst, uint32_t drops, const char* ports) {
    FloodRule r;
    r.id = id;
    r.rate = rate;
    r.burst = burst;
    r.drops = drops;
    r.ports = *parse_flood_ports(ports);
    return r;
  }
  std::vector<FloodReport> reports() {
    std::vector<FloodReport> out;
    auto st = guard_->consume([&](const FloodReport& r) { out.push_back(r); });
    EXPECT_TRUE(st.ok()) << st.error().message;
    return out;
  }
  int udp(const char* src, uint16_t port = 5060) { return run(ipv4_to(eth({}, kEthIp), src, kUdp, port)); }

  // Where the program keeps an IPv4 host (prefix 32) of rule `rule`: the
  // table's line and the fingerprint, computed as the program does.
  struct Place {
    uint32_t line = 0;
    uint16_t fp = 0;
  };
  Place place4(uint32_t host, uint32_t rule) {
    if (!seed_) {
      Fd meta(bpf_obj_get((kPinDir + "/" XDPBAN_MAP_META).c_str()));
      xdpban_meta m{};
      uint32_t key = 0;
      EXPECT_EQ(bpf_map_lookup_elem(meta.get(), &key, &m), 0);
      seed_ = m.hash_seed;
      table_.reset(bpf_obj_get((kPinDir + "/" XDPBAN_MAP_FTABLE).c_str()));
      bpf_map_info info{};
      uint32_t len = sizeof info;
      EXPECT_EQ(bpf_obj_get_info_by_fd(table_.get(), &info, &len), 0);
      lines_ = info.max_entries;
    }
    uint8_t net[16] = {static_cast<uint8_t>(host >> 24), static_cast<uint8_t>(host >> 16),
                       static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
    uint64_t h = xdpban_flood_hash(net, 0, 32, rule, *seed_);
    return {xdpban_flood_line(h, lines_), xdpban_flood_fp(h)};
  }
  xdpban_flood_bucket line(uint32_t i) {
    xdpban_flood_bucket b{};
    EXPECT_EQ(bpf_map_lookup_elem(table_.get(), &i, &b), 0);
    return b;
  }
  static std::string dotted(uint32_t host) {
    char s[16];
    std::snprintf(s, sizeof s, "%u.%u.%u.%u", host >> 24, (host >> 16) & 255, (host >> 8) & 255, host & 255);
    return s;
  }

  std::unique_ptr<FloodGuard> guard_;
  std::optional<uint32_t> seed_;
  Fd table_;
  uint32_t lines_ = 1;
};

TEST(FloodPorts, Parse) {
  auto p = parse_flood_ports("udp/5060, tcp/5061 25");
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::vector<std::string> got;
  for (const auto& x : *p) got.push_back(x.str());
  EXPECT_EQ(got, (std::vector<std::string>{"udp/25", "udp/5060", "tcp/25", "tcp/5061"}));
  EXPECT_EQ(parse_flood_ports("udp/5060-5062")->size(), 3u);
  for (const char* bad : {"", "udp/0", "udp/65536", "sctp/5060", "5062-5060", "udp/x", "1-2000"}) {
    auto r = parse_flood_ports(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(parse_flood_ports("sctp/5060").error().message.find("sctp"), std::string::npos);
}

TEST_F(Flood, UnderRatePassesOverRateDrops) {
  configure({rule(1, 10, 5, 1000, "udp/5060")});
  auto before = *bl_->stats();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(udp("198.18.10.1"), XDP_PASS) << "burst packet " << i;
  EXPECT_EQ(udp("198.18.10.1"), XDP_DROP) << "one over the burst";
  EXPECT_EQ(udp("198.18.10.1"), XDP_DROP);
  EXPECT_EQ(udp("198.18.10.2"), XDP_PASS) << "another source has its own bucket";
  EXPECT_EQ(udp("198.18.10.1", 5061), XDP_PASS) << "an unguarded port is not counted";
  EXPECT_EQ(run(ipv4_to(eth({}, kEthIp), "198.18.10.1", kTcp, 5060)), XDP_PASS) << "udp/5060 only";
  auto after = *bl_->stats();
  EXPECT_EQ(after.flood_checked - before.flood_checked, 8u);
  EXPECT_EQ(after.flood_dropped - before.flood_dropped, 2u);
  EXPECT_EQ(after.passed - before.passed, 8u);
  auto c = guard_->counters(1);
  ASSERT_TRUE(c.ok());
  EXPECT_GE(c->dropped, 2u);
}

TEST_F(Flood, BucketRefillsWithTime) {
  configure({rule(1, 50, 2, 1000, "udp/5060")});  // one packet per 20 ms
  EXPECT_EQ(udp("198.18.11.1"), XDP_PASS);
  EXPECT_EQ(udp("198.18.11.1"), XDP_PASS);
  EXPECT_EQ(udp("198.18.11.1"), XDP_DROP);
  usleep(100 * 1000);  // refills completely (plus the coarse clock's tick)
  EXPECT_EQ(udp("198.18.11.1"), XDP_PASS);
  EXPECT_EQ(udp("198.18.11.1"), XDP_PASS);
  EXPECT_EQ(udp("198.18.11.1"), XDP_DROP);
}

TEST_F(Flood, TcpCountsConnectionAttemptsOnly) {
  configure({rule(2, 1, 1, 1000, "tcp/25")});
  auto tcp = [&](uint8_t flags) { return run(ipv4_to(eth({}, kEthIp), "198.18.12.1", kTcp, 25, flags)); };
  EXPECT_EQ(tcp(kSyn), XDP_PASS);
  EXPECT_EQ(tcp(kSyn), XDP_DROP) << "a second SYN within the second";
  EXPECT_EQ(tcp(kAck), XDP_PASS) << "an established connection's segments are never counted";
  EXPECT_EQ(tcp(kSyn | kAck), XDP_PASS);
  EXPECT_EQ(run(ipv6_to(eth({}, kEthIp6), "2001:db8:12::1", kTcp, 25, kSyn)), XDP_PASS);
  EXPECT_EQ(run(ipv6_to(eth({}, kEthIp6), "2001:db8:12::1", kTcp, 25, kSyn)), XDP_DROP);
}

TEST_F(Flood, SourcesAreCountedByPrefix) {
  FloodRule r = rule(3, 1, 3, 1000, "udp/5060");
  r.prefix4 = 24;
  r.prefix6 = 64;
  configure({r});
  EXPECT_EQ(udp("198.18.13.1"), XDP_PASS);
  EXPECT_EQ(udp("198.18.13.2"), XDP_PASS);
  EXPECT_EQ(udp("198.18.13.3"), XDP_PASS);
  EXPECT_EQ(udp("198.18.13.4"), XDP_DROP) << "a botnet rotating inside its /24 shares one bucket";
  EXPECT_EQ(udp("198.18.14.1"), XDP_PASS) << "the next /24 does not";
  auto v6 = [&](const char* src) { return run(ipv6_to(eth({}, kEthIp6), src, kUdp, 5060)); };
  EXPECT_EQ(v6("2001:db8:13:1::1"), XDP_PASS);
  EXPECT_EQ(v6("2001:db8:13:1::2"), XDP_PASS);
  EXPECT_EQ(v6("2001:db8:13:1:ffff::3"), XDP_PASS);
  EXPECT_EQ(v6("2001:db8:13:1::4"), XDP_DROP);
  EXPECT_EQ(v6("2001:db8:13:2::1"), XDP_PASS);
}

TEST_F(Flood, AllowListedAndBannedSourcesAreNotCharged) {
  configure({rule(1, 1, 1, 1, "udp/5060")});
  allow("198.18.15.0/24");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(udp("198.18.15.9"), XDP_PASS) << i;
  EXPECT_TRUE(reports().empty()) << "an allow-listed source is never reported";
  ban("198.18.16.1", 3600);
  auto before = *bl_->stats();
  EXPECT_EQ(udp("198.18.16.1"), XDP_DROP);
  auto after = *bl_->stats();
  EXPECT_EQ(after.dropped_v4 - before.dropped_v4, 1u) << "dropped by its ban";
  EXPECT_EQ(after.flood_checked, before.flood_checked) << "a banned source costs no bucket";
}

TEST_F(Flood, NonFirstFragmentsAreNotCounted) {
  configure({rule(1, 1, 1, 1000, "udp/5060")});
  auto frag = [&] { return run(ipv4_to(eth({}, kEthIp), "198.18.17.1", kUdp, 5060, 0, 185)); };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(frag(), XDP_PASS);
}

TEST_F(Flood, SourceKeptOverItsRateIsReportedOnce) {
  FloodRule r = rule(4, 1, 2, 3, "udp/5060 tcp/5060");
  r.prefix4 = 28;
  configure({r});
  (void)reports();  // whatever earlier tests left
  EXPECT_EQ(udp("198.18.18.5"), XDP_PASS);
  EXPECT_EQ(udp("198.18.18.5"), XDP_PASS);
  EXPECT_EQ(udp("198.18.18.5"), XDP_DROP);
  EXPECT_EQ(udp("198.18.18.6"), XDP_DROP);
  EXPECT_TRUE(reports().empty()) << "2 drops: under the threshold of 3";
  EXPECT_EQ(udp("198.18.18.7"), XDP_DROP);
  auto got = reports();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].source.str(), "198.18.18.0/28");
  EXPECT_EQ(got[0].rule, 4);
  EXPECT_EQ(got[0].dropped, 3u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(udp("198.18.18.5"), XDP_DROP);
  EXPECT_TRUE(reports().empty()) << "at most one report per source per second";
  auto st = *bl_->stats();
  EXPECT_GE(st.flood_events, 1u);
}

TEST_F(Flood, NewSourceReplacesTheQuietestNeverTheFlooder) {
  configure({rule(5, 1, 5, 1000, "udp/5060")});
  // Nine hosts of 10.0.0.0/8 on one line that no earlier test touched.
  std::vector<uint32_t> hosts;
  for (uint32_t first = 0x0a000000; hosts.size() < 9 && first < 0x0a100000; ++first) {
    Place p = place4(first, 5);
    auto b = line(p.line);
    if (std::any_of(std::begin(b.fp), std::end(b.fp), [](uint16_t f) { return f != 0; })) continue;
    hosts = {first};
    for (uint32_t h = first + 1; hosts.size() < 9 && h < 0x0b000000; ++h)
      if (place4(h, 5).line == p.line) hosts.push_back(h);
  }
  ASSERT_EQ(hosts.size(), 9u);
  uint32_t at = place4(hosts[0], 5).line;
  std::string flooder = dotted(hosts[0]);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(udp(flooder.c_str()), XDP_PASS) << "burst packet " << i;
  EXPECT_EQ(udp(flooder.c_str()), XDP_DROP) << "over its rate: its tat lies 5 s ahead";
  for (size_t i = 1; i < 9; ++i) EXPECT_EQ(udp(dotted(hosts[i]).c_str()), XDP_PASS) << "new source " << i;
  // Eight newcomers on a line of five: four (at least) were forgotten, each
  // time the quietest (tat 1 s ahead), never the flooder (5 s ahead).
  EXPECT_EQ(udp(flooder.c_str()), XDP_DROP) << "the flooder is still tracked";
  auto b = line(at);
  auto has = [&](uint32_t host) {
    return std::count(std::begin(b.fp), std::end(b.fp), place4(host, 5).fp) == 1;
  };
  EXPECT_TRUE(has(hosts[0]));
  EXPECT_TRUE(has(hosts[8])) << "the last newcomer holds a slot";
  EXPECT_EQ(std::count(std::begin(b.fp), std::end(b.fp), 0), 0) << "every slot in use";
}

TEST_F(Flood, SameLineAndFingerprintShareABucket) {
  // The precision the 16-bit fingerprint gives up: two sources whose hashes
  // agree on the line and the fingerprint (for one tracked source, a chance
  // of 1/65535 per source landing on its line) are one bucket. Found here by
  // searching hosts of 10.0.0.0/9 for such a pair.
  configure({rule(6, 1, 1, 1000, "udp/5060")});
  std::vector<uint64_t> keys;  // line << 48 | fp << 32 | host
  keys.reserve(1u << 23);
  for (uint32_t h = 0x0a000000; h < 0x0a800000; ++h) {
    Place p = place4(h, 6);
    keys.push_back(uint64_t{p.line} << 48 | uint64_t{p.fp} << 32 | h);
  }
  std::sort(keys.begin(), keys.end());
  uint32_t a = 0, b = 0;
  for (size_t i = 1; i < keys.size() && !a; ++i)
    if (keys[i] >> 32 == keys[i - 1] >> 32) {
      a = static_cast<uint32_t>(keys[i - 1]);
      b = static_cast<uint32_t>(keys[i]);
    }
  ASSERT_NE(a, 0u) << "no pair among 8M hosts (expected about "
                   << (double(1 << 23) * (1 << 23) / 2 / lines_ / 65535) << ")";
  EXPECT_EQ(udp(dotted(a).c_str()), XDP_PASS);
  EXPECT_EQ(udp(dotted(a).c_str()), XDP_DROP);
  EXPECT_EQ(udp(dotted(b).c_str()), XDP_DROP) << dotted(b) << " is charged to " << dotted(a) << "'s bucket";
  uint32_t c = b + 1 == a ? b + 2 : b + 1;
  EXPECT_NE(place4(c, 6).fp, place4(b, 6).fp);
  EXPECT_EQ(udp(dotted(c).c_str()), XDP_PASS) << "a host of another fingerprint is not";
}

TEST_F(Flood, ReconfigureStopsGuardingRemovedPorts) {
  configure({rule(1, 1, 1, 1000, "udp/5060 udp/5070")});
  EXPECT_EQ(udp("198.18.19.1", 5070), XDP_PASS);
  EXPECT_EQ(udp("198.18.19.1", 5070), XDP_DROP);
  configure({rule(1, 1, 1, 1000, "udp/5060")});
  EXPECT_EQ(udp("198.18.19.1", 5070), XDP_PASS);
  EXPECT_EQ(udp("198.18.19.1", 5070), XDP_PASS);
  configure({});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(udp("198.18.19.2"), XDP_PASS) << "no rules: nothing guarded";
  EXPECT_FALSE(guard_->configure({rule(1, 1, 1, 1, "udp/5060"), rule(2, 1, 1, 1, "5060")}).ok())
      << "one port, two rules";
}

}  // namespace
}  // namespace xdpban
