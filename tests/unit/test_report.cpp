// The event log in the state database and the report built from it: exact
// counts and top lists from known events, the upgrade of a schema-1 database
// in place, retention, and the text and JSON renderings.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "core/report.h"
#include "io/state_store.h"
#include "xdpban/abi.h"

namespace xdpban {
namespace {

class ReportDb : public ::testing::Test {
 protected:
  void SetUp() override { path_ = "/tmp/xdpban-report-" + std::to_string(getpid()) + ".db"; }
  void TearDown() override {
    for (auto s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
  }
  static EventRecord ev(EventRecord::Kind k, int64_t t, const std::string& jail, const std::string& cidr,
                        int failures = 5, uint8_t flags = 0) {
    EventRecord e;
    e.kind = k;
    e.time = t;
    e.jail = jail;
    e.cidr = *Cidr::parse(cidr);
    e.duration = 600;
    e.failures = failures;
    e.flags = flags;
    e.reason = k == EventRecord::kUnban ? "expired" : "";
    return e;
  }
  // A known day: 1000 is the report's start, 1000 + 86400 its end.
  void fill(StateStore& st) {
    using K = EventRecord;
    std::vector<EventRecord> evs = {
        ev(K::kBan, 500, "sshd", "203.0.113.99"),  // before the period
        ev(K::kBan, 1000, "sshd", "203.0.113.7"),
        ev(K::kBan, 1100, "sshd", "203.0.113.8"),
        ev(K::kUnban, 1600, "sshd", "203.0.113.7"),
        ev(K::kBan, 2000, "sshd", "203.0.113.7", 6),  // a repeat offender
        ev(K::kProlong, 2100, "sshd", "203.0.113.7", 2),
        ev(K::kBan, 3000, "recidive", "203.0.113.7", 1),
        ev(K::kBan, 3100, "postfix-sasl", "198.51.100.1", 3),
        ev(K::kBan, 3200, "postfix-sasl", "2001:db8:1:2::5", 3),
        ev(K::kBan, 3300, "postfix-sasl", "2001:db8:1:2::6", 3),
        ev(K::kBan, 3400, "sip-flood", "192.0.2.50", 0, XDPBAN_BAN_FLOOD),
        ev(K::kBan, 3500, "sip-flood", "192.0.2.50", 0, XDPBAN_BAN_FLOOD),
        ev(K::kBan, 3600, "manual", "198.18.0.0/16", 0, XDPBAN_BAN_MANUAL),
        ev(K::kUnban, 3700, "manual", "198.18.0.0/16"),
        ev(K::kBan, 1000 + 86400, "sshd", "203.0.113.100"),  // at the end: the next period's
    };
    for (const auto& e : evs) ASSERT_TRUE(st.add_event(e).ok());
    ASSERT_TRUE(st.save_ban({*Cidr::parse("203.0.113.7"), "recidive", 3000, 0, 3}).ok());
    ASSERT_TRUE(st.save_ban({*Cidr::parse("203.0.113.8"), "sshd", 1100, 500, 1}).ok());  // over by then
  }
  std::string path_;
};

TEST_F(ReportDb, ExactCountsAndTopLists) {
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok()) << st.error().message;
  fill(**st);
  auto r = (*st)->report(1000, 1000 + 86400, 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bans, 10u);
  EXPECT_EQ(r->prolongs, 1u);
  EXPECT_EQ(r->unbans, 2u);
  EXPECT_EQ(r->flood_bans, 2u);
  EXPECT_EQ(r->manual_bans, 1u);
  EXPECT_EQ(r->addresses, 7u);  // .7 .8 198.51.100.1 two v6 192.0.2.50 198.18/16
  ASSERT_TRUE(r->active_bans.has_value());
  EXPECT_EQ(*r->active_bans, 1u);  // only the permanent recidive ban is still in force

  // Most bans first, equal counts by name.
  ASSERT_EQ(r->jails.size(), 5u);
  EXPECT_EQ(r->jails[0].name, "postfix-sasl");
  EXPECT_EQ(r->jails[0].bans, 3u);
  EXPECT_EQ(r->jails[0].addresses, 3u);
  EXPECT_EQ(r->jails[1].name, "sshd");
  EXPECT_EQ(r->jails[1].bans, 3u);
  EXPECT_EQ(r->jails[1].prolongs, 1u);
  EXPECT_EQ(r->jails[1].unbans, 1u);
  EXPECT_EQ(r->jails[1].addresses, 2u);
  EXPECT_EQ(r->jails[1].failures, 5u + 5 + 6 + 2);
  EXPECT_EQ(r->jails[2].name, "sip-flood");
  EXPECT_EQ(r->jails[2].flood_bans, 2u);
  EXPECT_EQ(r->jails[2].addresses, 1u);
  EXPECT_EQ(r->jails[3].name, "manual");
  EXPECT_EQ(r->jails[3].unbans, 1u);
  EXPECT_EQ(r->jails[4].name, "recidive");

  // 203.0.113.7: 2 sshd bans + 1 recidive; 192.0.2.50: 2 flood bans; then one each, in cidr order.
  ASSERT_EQ(r->top_offenders.size(), 3u);
  EXPECT_EQ(r->top_offenders[0].key, "203.0.113.7");
  EXPECT_EQ(r->top_offenders[0].bans, 3u);
  EXPECT_EQ(r->top_offenders[0].jails, (std::vector<std::string>{"recidive", "sshd"}));
  EXPECT_EQ(r->top_offenders[1].key, "192.0.2.50");
  EXPECT_EQ(r->top_offenders[1].bans, 2u);
  EXPECT_EQ(r->top_offenders[2].key, "198.18.0.0/16");

  // 203.0.113.0/24: 4 bans from 2 sources; 2001:db8:1:2::/64: 2 from 2; 192.0.2.0/24: 2 from 1.
  ASSERT_EQ(r->top_networks.size(), 3u);
  EXPECT_EQ(r->top_networks[0].key, "203.0.113.0/24");
  EXPECT_EQ(r->top_networks[0].bans, 4u);
  EXPECT_EQ(r->top_networks[0].sources, 2u);
  EXPECT_EQ(r->top_networks[1].key, "2001:db8:1:2::/64");
  EXPECT_EQ(r->top_networks[1].sources, 2u);
  EXPECT_EQ(r->top_networks[2].key, "192.0.2.0/24");
  EXPECT_EQ(r->top_networks[2].sources, 1u);

  ASSERT_EQ(r->top_flood.size(), 1u);
  EXPECT_EQ(r->top_flood[0].key, "192.0.2.50");
  EXPECT_EQ(r->top_flood[0].bans, 2u);
  EXPECT_EQ(r->top_flood[0].jails, (std::vector<std::string>{"sip-flood"}));

  r->drops = DropCounters{1000, 40, 2, 1, 7, "since the previous report"};
  std::string text = render_report_text(*r, [](int64_t t) { return "T" + std::to_string(t); });
  EXPECT_NE(text.find("T1000 to T87400 (1d)"), std::string::npos) << text;
  EXPECT_NE(text.find("Bans:      10 (7 addresses or networks; 1 manual, 2 flood)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Dropped:   40 IPv4 and 2 IPv6 packets of banned sources, 7 over a flood rate"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("203.0.113.0/24"), std::string::npos);
  auto j = render_report_json(*r);
  EXPECT_EQ(j["totals"]["bans"], 10);
  EXPECT_EQ(j["top_networks"][0]["network"], "203.0.113.0/24");
  EXPECT_EQ(j["top_networks"][0]["sources"], 2);
  EXPECT_EQ(j["jails"][1]["jail"], "sshd");
  EXPECT_EQ(j["jails"][1]["failures"], 18);
  EXPECT_EQ(j["drops"]["dropped_v4"], 40);
  EXPECT_EQ(j["drops"]["flood_dropped"], 7);
  EXPECT_EQ(report_subject(*r), "xdpban on this host: 10 bans (5 jails), 2 flood bans in 1d");
}

TEST_F(ReportDb, EmptyPeriodAndRetention) {
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  fill(**st);
  auto empty = (*st)->report(200000, 300000, 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->bans, 0u);
  EXPECT_NE(render_report_text(*empty, [](int64_t) { return "t"; }).find("Nothing was banned"),
            std::string::npos);
  ASSERT_TRUE((*st)->purge_events(3000).ok());
  size_t left = 0;
  ASSERT_TRUE((*st)
                  ->for_each_event(0, INT64_MAX,
                                   [&](const EventRecord& e) {
                                     EXPECT_GE(e.time, 3000);
                                     ++left;
                                   })
                  .ok());
  EXPECT_EQ(left, 9u);
}

TEST_F(ReportDb, EventFieldsRoundTrip) {
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  EventRecord e = ev(EventRecord::kUnban, 42, "we\"ird jail", "2001:db8::/48", 7, XDPBAN_BAN_FLOOD);
  e.duration = -1;
  e.count = 4;
  e.reason = "manual";
  ASSERT_TRUE((*st)->add_event(e).ok());
  std::vector<EventRecord> got;
  ASSERT_TRUE((*st)->for_each_event(0, 100, [&](const EventRecord& x) { got.push_back(x); }).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, EventRecord::kUnban);
  EXPECT_EQ(got[0].jail, "we\"ird jail");
  EXPECT_EQ(got[0].cidr.str(), "2001:db8::/48");
  EXPECT_EQ(got[0].duration, -1);
  EXPECT_EQ(got[0].failures, 7);
  EXPECT_EQ(got[0].count, 4);
  EXPECT_EQ(got[0].flags, XDPBAN_BAN_FLOOD);
  EXPECT_EQ(got[0].reason, "manual");
}

// A database as xdpban with schema 1 wrote it (the exact statements of that
// version), with data in every table.
void write_schema1(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
      "CREATE TABLE bans(cidr TEXT PRIMARY KEY, jail TEXT NOT NULL, start INTEGER NOT NULL,"
      " expiry INTEGER NOT NULL, count INTEGER NOT NULL, flags INTEGER NOT NULL, failures INTEGER NOT NULL);"
      "CREATE TABLE ban_history(jail TEXT NOT NULL, cidr TEXT NOT NULL, count INTEGER NOT NULL,"
      " last INTEGER NOT NULL, PRIMARY KEY(jail, cidr));"
      "CREATE TABLE file_positions(path TEXT PRIMARY KEY, inode INTEGER NOT NULL,"
      " offset INTEGER NOT NULL, first_hash INTEGER NOT NULL);"
      "CREATE TABLE journal_cursors(source TEXT PRIMARY KEY, cursor TEXT NOT NULL);"
      "INSERT INTO meta VALUES('schema','1');"
      "INSERT INTO bans VALUES('192.0.2.1','sshd',100,0,2,0,5);"
      "INSERT INTO bans VALUES('2001:db8::/64','recidive',100,9999999999,1,1,0);"
      "INSERT INTO ban_history VALUES('sshd','192.0.2.1',2,100);"
      "INSERT INTO file_positions VALUES('/var/log/auth.log',7,1234,99);"
      "INSERT INTO journal_cursors VALUES('journal:sshd','s=abc');";
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_close(db);
}

TEST_F(ReportDb, Schema1UpgradesInPlaceWithoutLosingData) {
  write_schema1(path_);
  // Before the upgrade, the read-only reader says what to do.
  auto ro = StateStore::open_readonly(path_);
  ASSERT_FALSE(ro.ok());
  EXPECT_NE(ro.error().message.find("schema version 1"), std::string::npos) << ro.error().message;
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ((*st)->upgraded_from(), 1);
    auto bans = (*st)->load_bans();
    ASSERT_TRUE(bans.ok());
    EXPECT_EQ(bans->size(), 2u);
    EXPECT_EQ((*st)->load_history()->at({"sshd", *Cidr::parse("192.0.2.1")}), 2);
    EXPECT_EQ((*(*st)->load_position("/var/log/auth.log"))->offset, 1234u);
    EXPECT_EQ(*(*st)->load_cursor("journal:sshd").value(), "s=abc");
    EXPECT_EQ(**(*st)->load_meta("schema"), std::to_string(StateStore::kSchemaVersion));
    for (const auto& b : *bans) EXPECT_EQ(b.origin, "");
    EXPECT_TRUE((*st)->load_outbox()->empty());
    ASSERT_TRUE((*st)->add_event(ev(EventRecord::kBan, 5, "sshd", "192.0.2.1")).ok());
  }
  auto again = StateStore::open(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->upgraded_from(), StateStore::kSchemaVersion);  // nothing to do the second time
  ro = StateStore::open_readonly(path_);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  auto r = (*ro)->report(0, 10, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bans, 1u);
  EXPECT_EQ(*r->active_bans, 2u);
}

TEST_F(ReportDb, NewDatabaseIsTheCurrentSchemaAndNewerIsRefused) {
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ((*st)->upgraded_from(), 0);
    EXPECT_EQ(**(*st)->load_meta("schema"), std::to_string(StateStore::kSchemaVersion));
    ASSERT_TRUE((*st)->save_meta("schema", "99").ok());
  }
  auto st = StateStore::open(path_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("newer than this xdpban"), std::string::npos);
  EXPECT_FALSE(StateStore::open_readonly("/nonexistent/xdpban.db").ok());
}

TEST(ReportNetwork, HostsAndNarrowNetworksFoldIntoSlash24AndSlash64) {
  EXPECT_EQ(report_network(*Cidr::parse("203.0.113.7")).str(), "203.0.113.0/24");
  EXPECT_EQ(report_network(*Cidr::parse("203.0.113.128/25")).str(), "203.0.113.0/24");
  EXPECT_EQ(report_network(*Cidr::parse("198.18.0.0/16")).str(), "198.18.0.0/16");
  EXPECT_EQ(report_network(*Cidr::parse("2001:db8:1:2:3::9")).str(), "2001:db8:1:2::/64");
  EXPECT_EQ(report_network(*Cidr::parse("2001:db8::/32")).str(), "2001:db8::/32");
}

}  // namespace
}  // namespace xdpban
