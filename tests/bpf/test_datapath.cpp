// BPF_PROG_TEST_RUN table: crafted frames through the real XDP program with
// real pinned maps written by the real Blocklist; checks verdict and counters.
// Needs root and BPF; skips with the reason otherwise, except under CI=true
// where a skip is a failure.
#include <sys/mman.h>

#include "bpf/ban_sink.h"
#include "bpf/host_table.h"
#include "fixture.h"

namespace xdpban {
namespace {

using namespace xdpban::test;

struct Case {
  const char* name;
  Frame frame;
  int verdict;
  __u64 xdpban_stats::*counter;  // the counter this frame must bump by one
};

// The pinned meta value: the index's geometry and the hash seed.
xdpban_meta pinned_meta() {
  Fd fd(bpf_obj_get((kPinDir + "/" XDPBAN_MAP_META).c_str()));
  uint32_t zero = 0;
  xdpban_meta meta{};
  EXPECT_TRUE(fd.valid() && bpf_map_lookup_elem(fd.get(), &zero, &meta) == 0)
      << "cannot read " XDPBAN_MAP_META;
  return meta;
}

// The pinned index, mapped writable (a test may play a writer that died).
struct PinnedIndex {
  xdpban_meta meta = pinned_meta();
  Mapping map;
  std::optional<HostIndex4> index;

  PinnedIndex() {
    Fd fd(bpf_obj_get((kPinDir + "/" XDPBAN_MAP_HIDX4).c_str()));
    size_t len = size_t{meta.hidx4_lines} * sizeof(xdpban_hidx4_line);
    void* p = fd.valid() ? mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0) : MAP_FAILED;
    EXPECT_NE(p, MAP_FAILED) << "cannot map " XDPBAN_MAP_HIDX4;
    if (p == MAP_FAILED) return;
    map = Mapping(p, len);
    index.emplace(map.as<xdpban_hidx4_line>(), meta.hidx4_lines, meta.hash_seed);
  }
};

TEST_F(Datapath, VerdictTable) {
  // Bans and allow entries for the table (distinct ranges per case).
  ban("198.51.100.7");          // host, permanent
  ban("203.0.113.0/24", 3600);  // network
  ban("10.10.0.0/16", 3600);    // nested: /16 live ...
  ban("10.10.5.0/24", -10);     // ... /24 inside it expired
  ban("10.20.0.0/16", 3600);    // nested, both live
  ban("10.20.7.0/24", 3600);
  ban("192.0.2.77", -5);       // expired host
  ban("192.0.2.128/25", -5);   // expired network
  ban("172.16.9.9", -5);       // expired host inside ...
  ban("172.16.9.0/24", 3600);  // ... a live network
  ban("100.64.1.1", 3600);     // banned but allow-listed
  allow("100.64.0.0/16");
  ban("2001:db8:1::5");            // IPv6 host
  ban("2001:db8:2:3::/64", 3600);  // IPv6 /64
  ban("2001:db8:4::/64", 3600);    // IPv6 /64 under an allowed /48
  allow("2001:db8:4::/48");
  ban("2001:db8:5::9", -5);  // expired IPv6 host

  using S = xdpban_stats;
  std::vector<Case> cases = {
      {"v4 not banned", ipv4(eth({}, kEthIp), "192.0.2.10"), XDP_PASS, &S::passed},
      {"v4 host banned", ipv4(eth({}, kEthIp), "198.51.100.7"), XDP_DROP, &S::dropped_v4},
      {"v4 neighbour of banned host", ipv4(eth({}, kEthIp), "198.51.100.8"), XDP_PASS, &S::passed},
      {"v4 inside banned /24", ipv4(eth({}, kEthIp), "203.0.113.200"), XDP_DROP, &S::dropped_v4},
      {"v4 just outside banned /24", ipv4(eth({}, kEthIp), "203.0.114.1"), XDP_PASS, &S::passed},
      {"v4 nested: expired /24 inside live /16", ipv4(eth({}, kEthIp), "10.10.5.1"), XDP_DROP,
       &S::dropped_v4},
      {"v4 nested: live /16 outside the /24", ipv4(eth({}, kEthIp), "10.10.6.1"), XDP_DROP, &S::dropped_v4},
      {"v4 nested: both live", ipv4(eth({}, kEthIp), "10.20.7.9"), XDP_DROP, &S::dropped_v4},
      {"v4 expired host", ipv4(eth({}, kEthIp), "192.0.2.77"), XDP_PASS, &S::expired_hits},
      {"v4 expired network", ipv4(eth({}, kEthIp), "192.0.2.200"), XDP_PASS, &S::expired_hits},
      {"v4 expired host inside live network", ipv4(eth({}, kEthIp), "172.16.9.9"), XDP_DROP, &S::dropped_v4},
      {"v4 allow wins over ban", ipv4(eth({}, kEthIp), "100.64.1.1"), XDP_PASS, &S::allow_hits},
      {"v4 allowed, not banned", ipv4(eth({}, kEthIp), "100.64.1.2"), XDP_PASS, &S::passed},
      {"v4 banned behind 802.1Q", ipv4(eth({kVlan}, kEthIp), "198.51.100.7"), XDP_DROP, &S::dropped_v4},
      {"v4 banned behind QinQ", ipv4(eth({kQinQ, kVlan}, kEthIp), "198.51.100.7"), XDP_DROP, &S::dropped_v4},
      {"v4 not banned behind QinQ", ipv4(eth({kQinQ, kVlan}, kEthIp), "192.0.2.10"), XDP_PASS, &S::passed},
      {"three VLAN tags: not parsed", ipv4(eth({kQinQ, kVlan, kVlan}, kEthIp), "198.51.100.7"), XDP_PASS,
       &S::malformed},
      {"v4 with options, banned", ipv4(eth({}, kEthIp), "198.51.100.7", 3), XDP_DROP, &S::dropped_v4},
      {"v4 with 40 bytes of options, banned", ipv4(eth({}, kEthIp), "203.0.113.9", 10), XDP_DROP,
       &S::dropped_v4},
      {"v4 fragment of a banned source", ipv4(eth({}, kEthIp), "198.51.100.7", 0, 0x2000 | 185), XDP_DROP,
       &S::dropped_v4},
      {"v4 IHL below 5", ipv4(eth({}, kEthIp), "198.51.100.7", 0, 0, 0x44), XDP_PASS, &S::malformed},
      {"v4 version field is 6", ipv4(eth({}, kEthIp), "198.51.100.7", 0, 0, 0x65), XDP_PASS, &S::malformed},
      {"v4 IHL longer than the frame", ipv4(eth({}, kEthIp), "198.51.100.7", 0, 0, 0x4f).truncate(14 + 40),
       XDP_PASS, &S::malformed},
      {"v4 header truncated", ipv4(eth({}, kEthIp), "198.51.100.7").truncate(14 + 12), XDP_PASS,
       &S::malformed},
      {"VLAN tag truncated", eth({}, kVlan).u8(0), XDP_PASS, &S::malformed},
      {"ARP is not IP", eth({}, kEthArp).zeros(28), XDP_PASS, &S::non_ip},
      {"ARP behind a VLAN tag", eth({kVlan}, kEthArp).zeros(28), XDP_PASS, &S::non_ip},
      {"v6 not banned", ipv6(eth({}, kEthIp6), "2001:db8:9::1"), XDP_PASS, &S::passed},
      {"v6 host banned", ipv6(eth({}, kEthIp6), "2001:db8:1::5"), XDP_DROP, &S::dropped_v6},
      {"v6 neighbour of banned host", ipv6(eth({}, kEthIp6), "2001:db8:1::6"), XDP_PASS, &S::passed},
      {"v6 source in banned /64", ipv6(eth({}, kEthIp6), "2001:db8:2:3:aaaa:bbbb:cccc:dddd"), XDP_DROP,
       &S::dropped_v6},
      {"v6 next /64", ipv6(eth({}, kEthIp6), "2001:db8:2:4::1"), XDP_PASS, &S::passed},
      {"v6 allow /48 wins over banned /64", ipv6(eth({}, kEthIp6), "2001:db8:4::77"), XDP_PASS,
       &S::allow_hits},
      {"v6 expired host", ipv6(eth({}, kEthIp6), "2001:db8:5::9"), XDP_PASS, &S::expired_hits},
      {"v6 banned behind QinQ", ipv6(eth({kQinQ, kVlan}, kEthIp6), "2001:db8:1::5"), XDP_DROP,
       &S::dropped_v6},
      {"v6 header truncated", ipv6(eth({}, kEthIp6), "2001:db8:1::5").truncate(14 + 30), XDP_PASS,
       &S::malformed},
      {"v6 version field is 4",
       [] {
         auto f = ipv6(eth({}, kEthIp6), "2001:db8:1::5");
         f.b[14] = 0x40;
         return f;
       }(),
       XDP_PASS, &S::malformed},
  };
  ASSERT_GE(cases.size(), 25u);
  for (const auto& c : cases) {
    auto before = bl_->stats();
    ASSERT_TRUE(before.ok());
    int v = run(c.frame);
    auto after = bl_->stats();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(v, c.verdict) << c.name;
    EXPECT_EQ((*after).*c.counter - (*before).*c.counter, 1ull) << c.name;
    uint64_t verdicts_before = before->passed + before->dropped_v4 + before->dropped_v6;
    uint64_t verdicts_after = after->passed + after->dropped_v4 + after->dropped_v6;
    EXPECT_EQ(verdicts_after - verdicts_before, 1ull)
        << c.name << ": every frame is counted once as passed or dropped";
  }
}

TEST_F(Datapath, UnbanAndExpiryTakeEffect) {
  ban("198.51.100.70");
  ban("203.0.113.0/25", 3600);
  ban("198.18.0.1", 3600);
  ban("198.18.1.0/24", 3600);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.0.1")), XDP_DROP);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.1.1")), XDP_DROP);
  ASSERT_TRUE(*bl_->unban(*Cidr::parse("198.18.0.1")));
  ASSERT_TRUE(*bl_->unban(*Cidr::parse("198.18.1.0/24")));
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.0.1")), XDP_PASS);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.1.1")), XDP_PASS);
  ASSERT_TRUE(bl_->maintain(true).ok());  // rebuilt prefilters keep the remaining bans
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.51.100.70")), XDP_DROP);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "203.0.113.1")), XDP_DROP);

  // An expiry one second out lapses in the program itself, with no userspace action.
  ban("198.18.2.2", 1);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.2.2")), XDP_DROP);
  usleep(1100 * 1000);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.2.2")), XDP_PASS);
}

TEST_F(Datapath, ManyHostsAllFoundNoneInvented) {
  // Fill a good part of the table: every banned host drops, close misses pass.
  for (uint32_t i = 0; i < 3000; ++i) {
    std::string a = "100.100." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    ban(a.c_str(), 3600);
  }
  for (uint32_t i = 0; i < 3000; i += 7) {
    std::string a = "100.100." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), a.c_str())), XDP_DROP) << a;
    std::string miss = "100.101." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), miss.c_str())), XDP_PASS) << miss;
  }
}

// The index keeps a host in its home line, else the next line, else only in
// the hash map (the line marked "spill"): the program drops all of them, and
// no neighbour, through every path, also after removals and a rebuild of
// the marks; listings and lookups see exactly the bans.
TEST_F(Datapath, IndexOverflowAndSpillStillEnforced) {
  xdpban_meta meta = pinned_meta();
  xdpban_hidx4_line unused{};
  HostIndex4 geometry(&unused, meta.hidx4_lines, meta.hash_seed);  // home lines only, no memory read
  const uint32_t home = 777;
  std::vector<std::string> hosts, others;
  for (uint32_t x = 0xc6330000; hosts.size() < 2 * XDPBAN_HIDX_SLOTS + 6; ++x) {  // 198.51.x.x
    uint8_t a[4] = {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
    std::string s = std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
                    std::to_string(a[3]);
    if (geometry.home_line(a) == home)
      hosts.push_back(s);
    else if (others.size() < 50)
      others.push_back(s);
  }
  uint64_t exact0 = bl_->stats()->host_exact;
  for (const auto& h : hosts) ban(h.c_str(), 3600);
  auto u = bl_->usage();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->spilled4, 6u) << "15 in the home line, 15 in the next, 6 only in the hash map";
  for (const auto& h : hosts) EXPECT_EQ(run(ipv4(eth({}, kEthIp), h.c_str())), XDP_DROP) << h;
  for (const auto& o : others) EXPECT_EQ(run(ipv4(eth({}, kEthIp), o.c_str())), XDP_PASS) << o;
  EXPECT_GE(bl_->stats()->host_exact - exact0, 6u) << "spilled hosts are read from the hash map";
  // Remove some of each kind; what stays is enforced, what went passes.
  for (size_t i = 0; i < hosts.size(); i += 3) ASSERT_TRUE(*bl_->unban(*Cidr::parse(hosts[i])));
  ASSERT_TRUE(bl_->maintain(true).ok());
  for (size_t i = 0; i < hosts.size(); ++i)
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), hosts[i].c_str())), i % 3 ? XDP_DROP : XDP_PASS) << hosts[i];
  auto listed = bl_->list();
  ASSERT_TRUE(listed.ok());
  size_t mine = 0;
  for (const auto& b : *listed)
    for (size_t i = 0; i < hosts.size(); ++i)
      if (b.cidr.str() == hosts[i]) {
        EXPECT_NE(i % 3, 0u) << hosts[i] << " was unbanned but is listed";
        ++mine;
      }
  EXPECT_EQ(mine, hosts.size() - (hosts.size() + 2) / 3);
  for (size_t i = 0; i < hosts.size(); ++i)
    EXPECT_EQ(bl_->find(*Cidr::parse(hosts[i]))->has_value(), i % 3 != 0);
  for (size_t i = 1; i < hosts.size(); ++i) {
    if (i % 3) {
      ASSERT_TRUE(*bl_->unban(*Cidr::parse(hosts[i])));
    }
  }
}

// The hash map is the truth that listings show, the index a copy the program
// reads. A writer that dies between the two writes (put_host and every
// ban_many chunk write the map first; unban_all empties the index first)
// leaves hosts in the map that the index lacks: once a writer reopens the
// maps and repairs the index, as the daemon does once it has started, they
// are enforced again.
TEST_F(Datapath, HostsTheIndexLacksAreEnforcedAfterReopen) {
  ban("198.18.99.1");
  ban("198.18.99.2", 3600);
  {  // The state the dead writer left: in the map (and the Bloom filter), not in the index.
    PinnedIndex pinned;
    ASSERT_TRUE(pinned.index);
    for (const char* a : {"198.18.99.1", "198.18.99.2"})
      ASSERT_TRUE(pinned.index->erase(Cidr::parse(a)->addr.bytes.data()));
  }
  bl_.reset();
  auto bl = Blocklist::open(kPinDir, Blocklist::Access::kWrite);
  ASSERT_TRUE(bl.ok()) << bl.error().message;
  bl_ = std::move(*bl);
  for (const char* a : {"198.18.99.1", "198.18.99.2"})
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), a)), XDP_PASS) << a << ": the test did not take it out of the index";
  auto repaired = bl_->repair_index();
  ASSERT_TRUE(repaired.ok()) << repaired.error().message;
  EXPECT_EQ(*repaired, 2u);
  for (const char* a : {"198.18.99.1", "198.18.99.2"}) {
    ASSERT_TRUE(bl_->find(*Cidr::parse(a))->has_value()) << a << " is listed as banned";
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), a)), XDP_DROP) << a << " is listed as banned but not enforced";
    ASSERT_TRUE(*bl_->unban(*Cidr::parse(a)));
  }
}

// A batch writes what one-by-one bans write, and counts what did not fit.
TEST_F(Datapath, BanManyEnforcesEveryBanInTheBatch) {
  std::vector<BanInfo> batch;
  for (uint32_t i = 0; i < 2000; ++i) {
    std::string a = "100.102." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    batch.push_back(BanInfo{*Cidr::parse(a), boottime_ns() + 3600000000000ull, 1, XDPBAN_BAN_IMPORT});
  }
  batch.push_back(BanInfo{*Cidr::parse("2001:db8:77::1"), 0, 1, XDPBAN_BAN_IMPORT});
  batch.push_back(BanInfo{*Cidr::parse("198.18.77.0/24"), 0, 1, XDPBAN_BAN_IMPORT});
  for (const auto& st : bl_->ban_many(batch)) ASSERT_TRUE(st.ok()) << st.error().message;
  for (uint32_t i = 0; i < 2000; i += 7) {
    std::string a = "100.102." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), a.c_str())), XDP_DROP) << a;
    std::string miss = "100.103." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    EXPECT_EQ(run(ipv4(eth({}, kEthIp), miss.c_str())), XDP_PASS) << miss;
  }
  EXPECT_EQ(run(ipv6(eth({}, kEthIp6), "2001:db8:77::1")), XDP_DROP);
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.18.77.5")), XDP_DROP);
  for (const auto& b : batch) ASSERT_TRUE(*bl_->unban(b.cidr));
}

// More hosts than two batches go to the kernel from two threads. Into a map
// that fills up on the way: every ban reported written is in the map and
// enforced, every other one failed as "full" and is nowhere; an address
// listed twice ends with its later value; the host and spill counts kept
// along the way equal a count of the maps. Then a second batch (updates of
// hosts already there, with hosts spilled, plus new ones that cannot fit).
TEST_F(Datapath, BanManyOverTwoThreadsIntoAFullMapIsExact) {
  PinnedIndex pinned;  // read only here: find() never writes
  ASSERT_TRUE(pinned.index);
  const HostIndex4& index = *pinned.index;
  // What the maps hold, counted from scratch, against what the writer kept.
  auto check_counts = [&](const char* when) {
    auto listed = bl_->list();
    ASSERT_TRUE(listed.ok());
    size_t hosts4 = 0, spilled = 0;
    for (const auto& b : *listed)
      if (b.cidr.is_host() && b.cidr.addr.family == Family::V4) {
        ++hosts4;
        if (!index.find(b.cidr.addr.bytes.data())) ++spilled;
      }
    auto u = bl_->usage();
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u->hosts4, hosts4) << when;
    EXPECT_EQ(u->spilled4, spilled) << when;
    EXPECT_GE(spilled, 6u) << when << ": the crowded line's hosts";
  };
  // 36 hosts whose home is one line: 15 there, 15 in the next, 6 only in
  // the hash map, so the batches below start with hosts spilled (and the
  // first one lists some of them again).
  std::vector<Cidr> crowded;
  for (uint32_t x = 0xc6340000; crowded.size() < 2 * XDPBAN_HIDX_SLOTS + 6; ++x) {  // 198.52.x.x
    uint8_t a[4] = {uint8_t(x >> 24), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
    if (index.home_line(a) == 555) crowded.push_back(Cidr::host(Address::v4(a[0], a[1], a[2], a[3])));
  }
  auto host = [](uint32_t i) {
    return *Cidr::parse("100.110." + std::to_string(i / 250) + "." + std::to_string(i % 250));
  };
  const uint64_t soon = boottime_ns() + 3600000000000ull, later = soon + 60000000000ull;
  constexpr uint32_t kHosts = 20000;  // more than the 16384 the maps hold, more than two batches of 8192
  for (const Cidr& c : crowded) ASSERT_TRUE(bl_->ban(BanInfo{c, soon, 1, XDPBAN_BAN_MANUAL}).ok());
  std::vector<BanInfo> batch;
  batch.push_back(BanInfo{host(0), soon, 1, XDPBAN_BAN_IMPORT});
  batch.push_back(BanInfo{host(0), later, 1, XDPBAN_BAN_IMPORT});  // listed twice: the later wins
  for (uint32_t i = 1; i < kHosts; ++i) batch.push_back(BanInfo{host(i), soon, 1, XDPBAN_BAN_IMPORT});
  for (size_t i = 0; i < crowded.size(); i += 2)
    batch.push_back(BanInfo{crowded[i], soon, 1, XDPBAN_BAN_IMPORT});
  batch.push_back(BanInfo{*Cidr::parse("198.18.78.0/24"), 0, 1, XDPBAN_BAN_IMPORT});
  auto st = bl_->ban_many(batch);
  ASSERT_EQ(st.size(), batch.size());
  size_t written = 0, full = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto found = bl_->find(batch[i].cidr);
    ASSERT_TRUE(found.ok());
    if (st[i]) {
      ++written;
      ASSERT_TRUE(found->has_value()) << batch[i].cidr.str() << " reported written, not in the map";
      if (i % 97 == 0 && batch[i].cidr.is_host()) {
        EXPECT_EQ(run(ipv4(eth({}, kEthIp), batch[i].cidr.addr.str().c_str())), XDP_DROP)
            << batch[i].cidr.str();
      }
    } else {
      ++full;
      EXPECT_TRUE(BanSink::is_full(st[i].error())) << st[i].error().message;
      EXPECT_FALSE(found->has_value()) << batch[i].cidr.str() << " reported failed, but in the map";
      if (i % 97 == 0) {
        EXPECT_EQ(run(ipv4(eth({}, kEthIp), batch[i].cidr.addr.str().c_str())), XDP_PASS)
            << batch[i].cidr.str();
      }
    }
  }
  EXPECT_GT(full, 0u) << "the batch did not fill the map";
  EXPECT_GT(written, size_t{8192}) << "both threads' batches went in";
  ASSERT_TRUE(st[0] && st[1]);
  EXPECT_EQ((*bl_->find(host(0)))->expires_ns, later);
  EXPECT_TRUE(st.back()) << "the network";
  check_counts("after the first batch");

  // Again, with hosts spilled now: the written ones get a new expiry (room
  // for updates stays in a full map), the ones that failed fail again.
  const uint64_t last = later + 60000000000ull;
  for (auto& b : batch) b.expires_ns = last;
  auto again = bl_->ban_many(batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(again[i].ok(), st[i].ok()) << batch[i].cidr.str();
    if (again[i]) {
      EXPECT_EQ((*bl_->find(batch[i].cidr))->expires_ns, last) << batch[i].cidr.str();
    }
  }
  check_counts("after the second batch");
  for (size_t i = 0; i < batch.size(); ++i)
    if (st[i] && i != 1) {  // 1: host(0) again
      ASSERT_TRUE(*bl_->unban(batch[i].cidr)) << batch[i].cidr.str();
    }
  for (size_t i = 1; i < crowded.size(); i += 2) ASSERT_TRUE(*bl_->unban(crowded[i]));
  ASSERT_TRUE(bl_->maintain(true).ok());
}

// Jail names take ids from a table of XDPBAN_MAX_JAILS: once every id has
// been used, the names no entry in the maps refers to are freed for new ones.
// Names in use (live bans, and entries that lapsed but are still in the maps)
// keep their ids; id 0 stays "manual". Also after the writer is reopened (a
// daemon restart, which once left the table full for good).
TEST_F(Datapath, JailNamesAreFreedOnceNoBanUsesThem) {
  auto rec = [](const std::string& cidr, const std::string& jail, int64_t ttl) {
    int64_t now = unix_now();
    return BanRecord{*Cidr::parse(cidr), jail, now, now + ttl, 1, 0, 1};
  };
  auto jail_of = [&](BpfBanSink& sink, const std::string& cidr) -> std::string {
    auto e = bl_->find(*Cidr::parse(cidr));
    if (!e.ok() || !*e) return "(no entry)";
    return sink.record_of(**e).jail;
  };
  auto id_of = [&](const std::string& cidr) -> int {
    auto e = bl_->find(*Cidr::parse(cidr));
    return e.ok() && *e ? (*e)->jail : -1;
  };
  auto churn = [&](BpfBanSink& sink, const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      // Hosts and networks alike, each in a jail of its own, unbanned again.
      std::string cidr =
          i % 2 ? "198.19.9." + std::to_string(i % 200) : "198.19." + std::to_string(100 + i % 100) + ".0/24";
      std::string jail = prefix + std::to_string(i);
      auto st = sink.insert(rec(cidr, jail, 3600));
      ASSERT_TRUE(st.ok()) << jail << ": " << st.error().message;
      ASSERT_EQ(jail_of(sink, cidr), jail);
      ASSERT_TRUE(sink.erase(*Cidr::parse(cidr)).ok());
    }
  };
  {
    BpfBanSink sink(*bl_);
    ASSERT_TRUE(sink.insert(rec("198.19.7.1", "kept-host", 3600)).ok());
    ASSERT_TRUE(sink.insert(rec("198.19.8.0/24", "kept-net", 3600)).ok());
    ASSERT_TRUE(sink.insert(rec("198.19.7.2", "lapsed", -10)).ok());  // over, not yet removed
    int host = id_of("198.19.7.1"), net = id_of("198.19.8.0/24"), lapsed = id_of("198.19.7.2");
    uint64_t before = bl_->jails_reclaimed();
    churn(sink, "churn-", 3 * XDPBAN_MAX_JAILS);
    EXPECT_GE(bl_->jails_reclaimed() - before, 2u * (XDPBAN_MAX_JAILS - 5)) << "ids were freed and reused";
    EXPECT_EQ(id_of("198.19.7.1"), host);
    EXPECT_EQ(id_of("198.19.8.0/24"), net);
    EXPECT_EQ(id_of("198.19.7.2"), lapsed);
    EXPECT_EQ(jail_of(sink, "198.19.7.1"), "kept-host");
    EXPECT_EQ(jail_of(sink, "198.19.8.0/24"), "kept-net");
    EXPECT_EQ(jail_of(sink, "198.19.7.2"), "lapsed");
    EXPECT_EQ(*bl_->jail_id("kept-host"), host) << "a name in use keeps its id";
    EXPECT_EQ(bl_->jail_name(0), "manual");
  }
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.19.7.1")), XDP_DROP) << "the kept bans are still enforced";
  EXPECT_EQ(run(ipv4(eth({}, kEthIp), "198.19.8.9")), XDP_DROP);
  // Every id in use by a ban: a new name fails, and says why...
  for (int n = 0;; ++n) {
    ASSERT_LT(n, XDPBAN_MAX_JAILS);
    auto id = bl_->jail_id("full-" + std::to_string(n));
    if (!id.ok()) {
      EXPECT_EQ(id.error().code, ENOSPC) << id.error().message;
      EXPECT_NE(id.error().message.find("in use by bans"), std::string::npos) << id.error().message;
      break;
    }
    std::string host = "198.20." + std::to_string(n / 256) + "." + std::to_string(n % 256);
    ASSERT_TRUE(bl_->ban(BanInfo{*Cidr::parse(host), 0, *id, XDPBAN_BAN_MANUAL}).ok());
  }
  // ...until the bans go (xdpban unban --all), also across a restart.
  ASSERT_TRUE(bl_->unban_all().ok());
  bl_.reset();
  auto bl = Blocklist::open(kPinDir, Blocklist::Access::kWrite);
  ASSERT_TRUE(bl.ok()) << bl.error().message;
  bl_ = std::move(*bl);
  BpfBanSink sink(*bl_);
  churn(sink, "after-restart-", 100);
  EXPECT_GT(bl_->jails_reclaimed(), 0u);
  EXPECT_EQ(bl_->jail_name(0), "manual");
}

}  // namespace
}  // namespace xdpban
