#include <gtest/gtest.h>

#include <algorithm>

#include "core/ban_manager.h"
#include "core/duration.h"
#include "xdpban/abi.h"

namespace xdpban {
namespace {

struct FakeSink : BanSink {
  std::map<Cidr, BanRecord> maps;
  int inserts = 0;
  Status insert(const BanRecord& b) override {
    maps[b.cidr] = b;
    ++inserts;
    return {};
  }
  Status erase(const Cidr& c) override {
    maps.erase(c);
    return {};
  }
};

struct FakeStore : BanStore {
  std::map<Cidr, BanRecord> bans;
  int history = 0;
  Status save_ban(const BanRecord& b) override {
    bans[b.cidr] = b;
    return {};
  }
  Status remove_ban(const Cidr& c) override {
    bans.erase(c);
    return {};
  }
  Status add_history(const BanRecord&) override {
    ++history;
    return {};
  }
};

Cidr C(const char* s) { return *Cidr::parse(s); }
constexpr int64_t T = 1700000000;

TEST(BanTimePolicy, IncrementDoublesAndCaps) {
  BanTimePolicy p;
  p.bantime = 600;
  EXPECT_EQ(p.duration(0, 0), 600);
  EXPECT_EQ(p.duration(3, 0), 600) << "no increment unless enabled";
  p.increment = true;
  EXPECT_EQ(p.duration(0, 0), 600);
  EXPECT_EQ(p.duration(1, 0), 1200);
  EXPECT_EQ(p.duration(2, 0), 2400);
  p.maxtime = 2000;
  EXPECT_EQ(p.duration(2, 0), 2000);
  p.maxtime = 0;
  p.factor = 2;
  EXPECT_EQ(p.duration(1, 0), 2400);
  p.factor = 1;
  p.multipliers = {1, 5, 30};
  EXPECT_EQ(p.duration(1, 0), 3000);
  EXPECT_EQ(p.duration(9, 0), 18000) << "past the list the last multiplier holds";
  p.multipliers.clear();
  p.rndtime = 100;
  EXPECT_EQ(p.duration(1, 0.5), 1250);
  p.bantime = -1;
  EXPECT_EQ(p.duration(4, 0), -1);
}

TEST(BanTimePolicy, GrowthSaturatesAtTheLongestDuration) {
  BanTimePolicy p;
  p.bantime = kMaxDurationSeconds / 2;
  p.increment = true;
  p.factor = 1e12;
  EXPECT_EQ(p.duration(20, 0), kMaxDurationSeconds);
  p.formula = BanTimePolicy::Formula::kExponential;
  EXPECT_EQ(p.duration(20, 0), kMaxDurationSeconds) << "exp() overflowing to inf";
}

TEST(BanManager, RejectsDurationsOutOfRange) {
  FakeSink sink;
  BanManager m(sink, nullptr);
  for (int64_t bad : {int64_t{0}, int64_t{-2}, int64_t{1} << 62, kMaxDurationSeconds + 1}) {
    auto o = m.ban("manual", C("192.0.2.1"), T, 0, 0, bad, 0);
    EXPECT_FALSE(o.ok()) << bad;
  }
  EXPECT_TRUE(sink.maps.empty()) << "nothing written for a rejected duration";
  ASSERT_TRUE(m.ban("manual", C("192.0.2.1"), T, 0, 0, kMaxDurationSeconds, 0).ok());
  EXPECT_EQ(sink.maps.at(C("192.0.2.1")).expiry, T + kMaxDurationSeconds);
}

TEST(BanTimePolicy, Formulas) {
  EXPECT_EQ(*BanTimePolicy::parse_formula("ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor"),
            BanTimePolicy::Formula::kDoubling);
  EXPECT_EQ(*BanTimePolicy::parse_formula(
                "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)"),
            BanTimePolicy::Formula::kExponential);
  EXPECT_FALSE(BanTimePolicy::parse_formula("__import__('os').system('x')").ok());
}

TEST(BanManager, BanProlongExpire) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  BanTimePolicy p;
  p.bantime = 600;
  m.set_policy("sshd", p);
  auto o = m.ban("sshd", C("198.51.100.1"), T, 5);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->kind, BanManager::Outcome::kBanned);
  EXPECT_EQ(o->ban.expiry, T + 600);
  EXPECT_EQ(sink.maps.count(C("198.51.100.1")), 1u);
  EXPECT_EQ(store.bans.count(C("198.51.100.1")), 1u);

  auto same = m.ban("sshd", C("198.51.100.1"), T + 1, 5, 0, 10);
  EXPECT_EQ(same->kind, BanManager::Outcome::kAlreadyBanned) << "a shorter ban never shortens";
  auto longer = m.ban("sshd", C("198.51.100.1"), T + 100, 5);
  EXPECT_EQ(longer->kind, BanManager::Outcome::kProlonged);
  EXPECT_EQ(longer->ban.expiry, T + 700);
  EXPECT_EQ(sink.maps[C("198.51.100.1")].expiry, T + 700);
  EXPECT_EQ(m.active().size(), 1u);

  EXPECT_EQ(m.next_expiry(), T + 700);
  EXPECT_TRUE(m.expire(T + 699).empty());
  auto gone = m.expire(T + 700);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_TRUE(sink.maps.empty());
  EXPECT_TRUE(store.bans.empty());
  EXPECT_FALSE(m.next_expiry().has_value());
}

TEST(BanManager, RepeatOffenderGetsLongerBan) {
  FakeSink sink;
  BanManager m(sink, nullptr);
  BanTimePolicy p;
  p.bantime = 100;
  p.increment = true;
  m.set_policy("sshd", p);
  auto a = C("203.0.113.9");
  EXPECT_EQ(m.ban("sshd", a, T, 3)->ban.expiry, T + 100);
  m.expire(T + 100);
  auto second = m.ban("sshd", a, T + 200, 3);
  EXPECT_EQ(second->ban.expiry, T + 200 + 200);
  EXPECT_EQ(second->ban.count, 2);
  m.expire(T + 400);
  EXPECT_EQ(m.ban("sshd", a, T + 500, 3)->ban.expiry, T + 500 + 400);
  // Another jail counts separately unless overalljails.
  EXPECT_EQ(m.previous_bans("postfix", a, false), 0);
  EXPECT_EQ(m.previous_bans("postfix", a, true), 3);
}

TEST(BanManager, GuardVetoes) {
  FakeSink sink;
  BanManager m(sink, nullptr);
  m.set_guard([](const std::string&, const Cidr& c) -> std::optional<std::string> {
    if (Cidr::parse("10.0.0.0/8")->contains(c)) return std::string("ignoreip 10.0.0.0/8");
    return std::nullopt;
  });
  auto o = m.ban("sshd", C("10.1.2.3"), T, 5);
  EXPECT_EQ(o->kind, BanManager::Outcome::kIgnored);
  EXPECT_EQ(o->reason, "ignoreip 10.0.0.0/8");
  EXPECT_TRUE(sink.maps.empty());
  // An admin's --force passes the guard for that one ban; the guard stays.
  EXPECT_EQ(m.ban("manual", C("10.1.2.3"), T, 0, 1, -1, 0, true)->kind, BanManager::Outcome::kBanned);
  EXPECT_EQ(m.ban("sshd", C("10.9.9.9"), T, 5)->kind, BanManager::Outcome::kIgnored);
}

TEST(BanManager, PermanentAndManualUnban) {
  FakeSink sink;
  BanManager m(sink, nullptr);
  auto o = m.ban("manual", C("192.0.2.0/24"), T, 0, 1, -1);
  EXPECT_EQ(o->ban.expiry, 0);
  EXPECT_TRUE(m.expire(T + 100000000).empty());
  auto u = m.unban(C("192.0.2.0/24"));
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->has_value());
  EXPECT_FALSE(m.unban(C("192.0.2.0/24"))->has_value());
  EXPECT_TRUE(sink.maps.empty());
}

TEST(BanManager, RestoreKeepsCountsAndExpiries) {
  FakeSink sink;
  BanManager m(sink, nullptr);
  BanTimePolicy p;
  p.bantime = 100;
  p.increment = true;
  m.set_policy("sshd", p);
  m.restore({BanRecord{C("198.51.100.5"), "sshd", T, T + 50, 1}}, {{{"sshd", C("198.51.100.5")}, 1}});
  EXPECT_EQ(m.next_expiry(), T + 50);
  m.expire(T + 50);
  EXPECT_EQ(m.ban("sshd", C("198.51.100.5"), T + 60, 3)->ban.expiry, T + 60 + 200);
}

}  // namespace
}  // namespace xdpban

namespace xdpban {
namespace {

// Unbans and prolongs leave stale expiry entries behind: they never unban a
// ban that is back or longer, and many of them do not pile up.
TEST(BanManager, StaleExpiriesAreSkipped) {
  FakeSink sink;
  BanManager m(sink, nullptr);
  ASSERT_TRUE(m.ban("manual", C("192.0.2.1"), T, 0, 1, 100).ok());
  ASSERT_TRUE(m.ban("manual", C("192.0.2.1"), T, 0, 1, 300).ok());  // prolonged to T+300
  EXPECT_EQ(m.next_expiry(), T + 300);
  EXPECT_TRUE(m.expire(T + 150).empty());
  ASSERT_TRUE(m.ban("manual", C("192.0.2.2"), T, 0, 1, 100).ok());
  ASSERT_TRUE(m.unban(C("192.0.2.2")).ok());
  ASSERT_TRUE(m.ban("manual", C("192.0.2.2"), T + 50, 0, 1, 200).ok());  // back, until T+250
  EXPECT_TRUE(m.expire(T + 200).empty());
  auto gone = m.expire(T + 250);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].cidr, C("192.0.2.2"));
  EXPECT_EQ(m.expire(T + 300).size(), 1u);
  EXPECT_FALSE(m.next_expiry().has_value());
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(m.ban("manual", C("198.51.100.7"), T, 0, 1, 1000 + i).ok());  // each one a prolong
  }
  EXPECT_EQ(m.next_expiry(), T + 1000 + 9999);
  EXPECT_EQ(m.active().size(), 1u);
}

std::vector<Cidr> sorted_cidrs(std::initializer_list<const char*> list) {
  std::vector<Cidr> out;
  for (const char* s : list) out.push_back(C(s));
  std::sort(out.begin(), out.end());
  return out;
}

// An import adds new entries, refreshes the jail's own, leaves longer bans of
// other jails alone, takes over expired or shorter ones, and writes no history.
TEST(BanManager, ImportMergesWithActiveBans) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.ban("sshd", C("192.0.2.1"), T, 5, 0, -1).ok());        // permanent: kept
  ASSERT_TRUE(m.ban("sshd", C("192.0.2.2"), T, 5, 0, 60).ok());        // shorter: taken over
  ASSERT_TRUE(m.ban("sshd", C("192.0.2.3"), T - 100, 5, 0, 50).ok());  // expired, not yet removed
  int history = store.history;
  std::vector<BanRecord> removed;
  auto n = m.import("drop",
                    sorted_cidrs({"192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.0/24", "2001:db8::/32"}),
                    T, T + 3600, 4, false, &removed);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->added, 4u);
  EXPECT_EQ(n->kept, 1u);
  EXPECT_EQ(n->already, 0u);
  EXPECT_EQ(n->removed, 0u);
  EXPECT_EQ(m.active().at(C("192.0.2.1")).jail, "sshd");
  EXPECT_EQ(m.active().at(C("192.0.2.2")).jail, "drop");
  EXPECT_EQ(m.active().at(C("192.0.2.3")).jail, "drop");
  EXPECT_EQ(sink.maps.at(C("198.51.100.0/24")).expiry, T + 3600);
  EXPECT_EQ(store.bans.at(C("2001:db8::/32")).flags, 4);
  EXPECT_EQ(store.history, history) << "a blocklist entry is not a repeat offence";
  EXPECT_EQ(m.next_expiry(), T + 3600);

  // Re-import with a new expiry: every entry of the jail is already listed.
  int inserts = sink.inserts;
  n = m.import("drop", sorted_cidrs({"192.0.2.2", "192.0.2.3", "198.51.100.0/24", "2001:db8::/32"}), T, 0, 4,
               false, &removed);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->already, 4u);
  EXPECT_EQ(n->added, 0u);
  EXPECT_EQ(sink.inserts, inserts + 4) << "the new expiry reaches the maps";
  EXPECT_EQ(store.bans.at(C("192.0.2.2")).expiry, 0);
  // The same list again changes nothing.
  n = m.import("drop", sorted_cidrs({"192.0.2.2", "192.0.2.3", "198.51.100.0/24", "2001:db8::/32"}), T, 0, 4,
               false, &removed);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(sink.inserts, inserts + 4);
}

TEST(BanManager, ImportReplaceRemovesOnlyTheJailsOldEntries) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.ban("sshd", C("203.0.113.9"), T, 5, 0, -1).ok());
  ASSERT_TRUE(
      m.import("drop", sorted_cidrs({"192.0.2.0/24", "198.51.100.7", "2001:db8::1"}), T, 0, 4, false, nullptr)
          .ok());
  std::vector<BanRecord> removed;
  auto n = m.import("drop", sorted_cidrs({"198.51.100.7", "203.0.113.0/24"}), T, 0, 4, true, &removed);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->added, 1u);
  EXPECT_EQ(n->already, 1u);
  EXPECT_EQ(n->removed, 2u);
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].cidr, C("192.0.2.0/24"));
  EXPECT_EQ(removed[1].cidr, C("2001:db8::1"));
  std::vector<std::string> left;
  for (const auto& [c, b] : m.active()) left.push_back(b.jail + " " + c.str());
  EXPECT_EQ(left, (std::vector<std::string>{"drop 198.51.100.7", "drop 203.0.113.0/24", "sshd 203.0.113.9"}));
  EXPECT_EQ(sink.maps.size(), 3u);
  EXPECT_EQ(store.bans.size(), 3u);
}

// A sink that holds `room` entries, then says ENOSPC as a full BPF map does.
struct SmallSink : FakeSink {
  size_t room = 0;
  Status insert(const BanRecord& b) override {
    if (!maps.count(b.cidr) && maps.size() >= room)
      return make_error(ENOSPC, "cannot ban " + b.cidr.str() + ": full");
    return FakeSink::insert(b);
  }
};

// Issue 12 item 9: a full table loads what fits, counts the rest and keeps the
// jail's old entries (--replace removes nothing while the new set is partial).
TEST(BanManager, ImportIntoFullTableLoadsWhatFits) {
  SmallSink sink;
  sink.room = 3;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.import("drop", sorted_cidrs({"203.0.113.1"}), T, 0, 4, false, nullptr).ok());
  ASSERT_TRUE(m.ban("sshd", C("192.0.2.9"), T, 5, 0, 60).ok());  // shorter: an import takes it over
  std::vector<BanRecord> removed;
  auto n = m.import("drop", sorted_cidrs({"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.9"}), T, 0, 4, true,
                    &removed);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->added, 2u);  // 192.0.2.1 fits, then 192.0.2.9 (its key is in the map already)
  EXPECT_EQ(n->not_loaded, 2u);
  EXPECT_EQ(n->not_loaded_reason, "cannot ban 192.0.2.2: full");
  EXPECT_EQ(n->removed, 0u) << "a partial new set does not replace the old one";
  EXPECT_TRUE(removed.empty());
  std::vector<std::string> held;
  for (const auto& [c, b] : m.active()) held.push_back(b.jail + " " + c.str());
  EXPECT_EQ(held, (std::vector<std::string>{"drop 192.0.2.1", "drop 192.0.2.9", "drop 203.0.113.1"}));
  EXPECT_EQ(sink.maps.size(), 3u);
  EXPECT_EQ(store.bans.size(), 3u);
  EXPECT_EQ(store.bans.at(C("192.0.2.9")).jail, "drop");

  // Another error is not "full": the import stops with it.
  struct BrokenSink : FakeSink {
    Status insert(const BanRecord&) override { return make_error(EPERM, "no permission"); }
  } broken;
  BanManager m2(broken, nullptr);
  auto e = m2.import("drop", sorted_cidrs({"192.0.2.1"}), T, 0, 4, false, nullptr);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "no permission");
  EXPECT_TRUE(m2.active().empty());
}

// A ban node "edge-b" published: what the daemon hands apply_remote.
BanRecord remote(const char* cidr, const char* jail, int64_t start, int64_t expiry,
                 const char* origin = "edge-b", int failures = 4) {
  BanRecord r;
  r.cidr = C(cidr);
  r.jail = jail;
  r.start = start;
  r.expiry = expiry;
  r.failures = failures;
  r.origin = origin;
  r.count = 9;  // never taken over: not a repeat offence here
  return r;
}

TEST(BanManagerRemote, NewRemoteBanIsFleetFlaggedWithoutHistory) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  auto o = m.apply_remote(remote("198.51.100.7", "sshd", T - 10, T + 600), T);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->kind, BanManager::Outcome::kBanned);
  EXPECT_EQ(o->ban.origin, "edge-b");
  EXPECT_EQ(o->ban.jail, "sshd");
  EXPECT_EQ(o->ban.start, T - 10);
  EXPECT_EQ(o->ban.expiry, T + 600);
  EXPECT_EQ(o->ban.failures, 4);
  EXPECT_EQ(o->ban.count, 1);
  EXPECT_EQ(o->ban.flags, XDPBAN_BAN_FLEET);
  EXPECT_EQ(sink.maps[C("198.51.100.7")].flags, XDPBAN_BAN_FLEET);
  EXPECT_EQ(store.bans[C("198.51.100.7")].origin, "edge-b");
  EXPECT_EQ(store.history, 0) << "no history increment";
  EXPECT_EQ(m.previous_bans("sshd", C("198.51.100.7"), true), 0);
  EXPECT_EQ(m.next_expiry(), T + 600);
  // Other flags of the publisher stay (a manual ban elsewhere is still manual).
  BanRecord manual = remote("2001:db8::/48", "manual", T, 0);
  manual.flags = XDPBAN_BAN_MANUAL;
  auto p = m.apply_remote(manual, T);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ban.flags, XDPBAN_BAN_MANUAL | XDPBAN_BAN_FLEET);
  EXPECT_EQ(p->ban.expiry, 0);
  // It expires like any ban.
  auto gone = m.expire(T + 600);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].origin, "edge-b");
  EXPECT_EQ(sink.maps.count(C("198.51.100.7")), 0u);
}

TEST(BanManagerRemote, GuardVetoesAndExpiredAreIgnored) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  std::string guarded_jail;
  m.set_guard([&](const std::string& jail, const Cidr& c) -> std::optional<std::string> {
    guarded_jail = jail;
    if (Cidr::parse("10.0.0.0/8")->contains(c)) return std::string("allow 10.0.0.0/8");
    return std::nullopt;
  });
  auto o = m.apply_remote(remote("10.1.2.3", "sshd", T, T + 600), T);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, BanManager::Outcome::kIgnored);
  EXPECT_EQ(o->reason, "allow 10.0.0.0/8");
  EXPECT_EQ(guarded_jail, "sshd") << "the guard sees the remote jail";
  auto e = m.apply_remote(remote("192.0.2.1", "sshd", T - 700, T - 100), T);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, BanManager::Outcome::kIgnored);
  EXPECT_EQ(e->reason, "expired");
  auto edge = m.apply_remote(remote("192.0.2.1", "sshd", T - 700, T), T);
  EXPECT_EQ(edge->kind, BanManager::Outcome::kIgnored) << "expiry == now is over";
  EXPECT_TRUE(sink.maps.empty());
  EXPECT_TRUE(store.bans.empty());
  EXPECT_TRUE(m.active().empty());
}

TEST(BanManagerRemote, LocalBanProlongedByALongerRemoteOneStaysLocal) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.ban("sshd", C("203.0.113.9"), T, 5, 0, 600));
  auto o = m.apply_remote(remote("203.0.113.9", "postfix", T + 10, T + 3600), T + 10);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, BanManager::Outcome::kProlonged);
  EXPECT_EQ(o->ban.expiry, T + 3600);
  EXPECT_EQ(o->ban.jail, "sshd");
  EXPECT_EQ(o->ban.origin, "");
  EXPECT_EQ(o->ban.flags, 0);
  EXPECT_EQ(o->ban.start, T);
  EXPECT_EQ(o->ban.failures, 5);
  EXPECT_EQ(sink.maps[C("203.0.113.9")].expiry, T + 3600);
  EXPECT_EQ(store.bans[C("203.0.113.9")].expiry, T + 3600);
  EXPECT_EQ(store.bans[C("203.0.113.9")].origin, "");
  EXPECT_EQ(m.next_expiry(), T + 3600) << "the old expiry no longer ends it";
  EXPECT_TRUE(m.expire(T + 600).empty());
}

TEST(BanManagerRemote, ShorterRemoteBanIsAlreadyBanned) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.ban("sshd", C("203.0.113.9"), T, 5, 0, 600));
  int inserts = sink.inserts;
  for (int64_t expiry : {T + 600, T + 300}) {
    auto o = m.apply_remote(remote("203.0.113.9", "sshd", T, expiry), T);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->kind, BanManager::Outcome::kAlreadyBanned) << expiry - T;
    EXPECT_EQ(o->ban.expiry, T + 600);
    EXPECT_EQ(o->ban.origin, "");
  }
  EXPECT_EQ(sink.inserts, inserts) << "nothing written";
}

TEST(BanManagerRemote, RemoteBanReplacedByALaterRemoteOne) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_EQ(m.apply_remote(remote("198.51.100.0/24", "sshd", T, T + 600, "edge-b"), T)->kind,
            BanManager::Outcome::kBanned);
  auto o = m.apply_remote(remote("198.51.100.0/24", "recidive", T + 5, T + 86400, "edge-c", 11), T + 5);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, BanManager::Outcome::kProlonged);
  EXPECT_EQ(o->ban.origin, "edge-c");
  EXPECT_EQ(o->ban.jail, "recidive");
  EXPECT_EQ(o->ban.expiry, T + 86400);
  EXPECT_EQ(o->ban.start, T + 5);
  EXPECT_EQ(o->ban.failures, 11);
  EXPECT_EQ(o->ban.flags, XDPBAN_BAN_FLEET);
  EXPECT_EQ(store.bans[C("198.51.100.0/24")].origin, "edge-c");
  EXPECT_EQ(sink.maps[C("198.51.100.0/24")].jail, "recidive");
  // The earlier one again (a late delivery): the later expiry stays.
  auto late = m.apply_remote(remote("198.51.100.0/24", "sshd", T, T + 600, "edge-b"), T + 6);
  EXPECT_EQ(late->kind, BanManager::Outcome::kAlreadyBanned);
  EXPECT_EQ(m.active().at(C("198.51.100.0/24")).origin, "edge-c");
}

TEST(BanManagerRemote, PermanentWins) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.ban("sshd", C("192.0.2.5"), T, 5, 0, 600));
  auto o = m.apply_remote(remote("192.0.2.5", "manual", T, 0), T);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, BanManager::Outcome::kProlonged);
  EXPECT_EQ(o->ban.expiry, 0);
  EXPECT_EQ(o->ban.origin, "") << "still the local ban, now permanent";
  EXPECT_FALSE(m.next_expiry().has_value());
  // A permanent ban is never replaced, not even by another permanent one.
  EXPECT_EQ(m.apply_remote(remote("192.0.2.5", "manual", T + 1, 0, "edge-c"), T + 1)->kind,
            BanManager::Outcome::kAlreadyBanned);
  ASSERT_TRUE(m.ban("manual", C("192.0.2.6"), T, 0, XDPBAN_BAN_MANUAL, -1));
  EXPECT_EQ(m.apply_remote(remote("192.0.2.6", "sshd", T, T + 999999), T)->kind,
            BanManager::Outcome::kAlreadyBanned);
  // A remote permanent ban over a remote timed one.
  ASSERT_TRUE(m.apply_remote(remote("192.0.2.7", "sshd", T, T + 60, "edge-b"), T));
  auto p = m.apply_remote(remote("192.0.2.7", "manual", T, 0, "edge-c"), T);
  EXPECT_EQ(p->kind, BanManager::Outcome::kProlonged);
  EXPECT_EQ(p->ban.origin, "edge-c");
  EXPECT_TRUE(m.expire(T + 60).empty());
}

TEST(BanManagerRemote, LocalBanOutlastingARemoteOneTakesItOver) {
  FakeSink sink;
  FakeStore store;
  BanManager m(sink, &store);
  ASSERT_TRUE(m.apply_remote(remote("203.0.113.50", "sshd", T, T + 60), T));
  auto shorter = m.ban("postfix", C("203.0.113.50"), T + 1, 3, 0, 30);
  EXPECT_EQ(shorter->kind, BanManager::Outcome::kAlreadyBanned);
  EXPECT_EQ(shorter->ban.origin, "edge-b");
  auto o = m.ban("postfix", C("203.0.113.50"), T + 1, 3, 0, 600);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, BanManager::Outcome::kProlonged);
  EXPECT_EQ(o->ban.origin, "") << "now this node's ban, which it publishes";
  EXPECT_EQ(o->ban.jail, "postfix");
  EXPECT_EQ(o->ban.flags, 0);
  EXPECT_EQ(o->ban.expiry, T + 601);
  EXPECT_EQ(o->ban.failures, 3);
  EXPECT_EQ(store.bans[C("203.0.113.50")].origin, "");
  EXPECT_EQ(sink.maps[C("203.0.113.50")].flags, 0);
}

}  // namespace
}  // namespace xdpban
