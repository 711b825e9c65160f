#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/ban_write_queue.h"
#include "io/state_store.h"

namespace xdpban {
namespace {

class Store : public ::testing::Test {
 protected:
  void SetUp() override { path_ = "/tmp/xdpban-store-" + std::to_string(getpid()) + ".db"; }
  void TearDown() override {
    for (auto s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
  }
  std::string path_;
};

TEST_F(Store, BansHistoryPositionsCursorsSurviveReopen) {
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    BanRecord b{*Cidr::parse("198.51.100.7"), "sshd", 1000, 1600, 2, 0, 5};
    ASSERT_TRUE((*st)->save_ban(b).ok());
    ASSERT_TRUE((*st)->add_history(b).ok());
    ASSERT_TRUE((*st)->add_history(b).ok());
    BanRecord n{*Cidr::parse("2001:db8::/64"), "recidive", 1000, 0, 1, 1, 0};
    ASSERT_TRUE((*st)->save_ban(n).ok());
    ASSERT_TRUE((*st)->save_ban(BanRecord{*Cidr::parse("192.0.2.1"), "x", 1, 2, 1}).ok());
    ASSERT_TRUE((*st)->remove_ban(*Cidr::parse("192.0.2.1")).ok());
    ASSERT_TRUE((*st)->save_position("/var/log/auth.log", {42, 1234, 99}).ok());
    ASSERT_TRUE((*st)->save_cursor("sshd", "s=abc;i=1").ok());
  }
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  auto bans = (*st)->load_bans();
  ASSERT_TRUE(bans.ok());
  ASSERT_EQ(bans->size(), 2u);
  std::map<std::string, BanRecord> by;
  for (auto& b : *bans) by[b.cidr.str()] = b;
  EXPECT_EQ(by["198.51.100.7"].expiry, 1600);
  EXPECT_EQ(by["198.51.100.7"].failures, 5);
  EXPECT_EQ(by["2001:db8::/64"].expiry, 0);
  EXPECT_EQ(by["2001:db8::/64"].jail, "recidive");
  auto h = (*st)->load_history();
  EXPECT_EQ((h->at({"sshd", *Cidr::parse("198.51.100.7")})), 2);
  auto p = (*st)->load_position("/var/log/auth.log");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->offset, 1234u);
  EXPECT_FALSE((*st)->load_position("/nope")->has_value());
  EXPECT_EQ(*(*st)->load_cursor("sshd").value(), "s=abc;i=1");
  ASSERT_TRUE((*st)->purge_history(100000, 10).ok());
  EXPECT_TRUE((*st)->load_history()->empty());
}

TEST_F(Store, UnwritablePathIsAClearError) {
  auto st = StateStore::open("/nonexistent-dir/x.db");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/nonexistent-dir/x.db"), std::string::npos);
}

TEST_F(Store, AllowListAndMetaSurviveReopen) {
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->add_allow(*Cidr::parse("192.0.2.0/24")).ok());
    ASSERT_TRUE((*st)->add_allow(*Cidr::parse("2001:db8::/32")).ok());
    ASSERT_TRUE((*st)->remove_allow(*Cidr::parse("192.0.2.0/24")).ok());
    ASSERT_TRUE((*st)->save_meta("maps_instance", "12345").ok());
  }
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  auto allow = (*st)->load_allow();
  ASSERT_TRUE(allow.ok());
  ASSERT_EQ(allow->size(), 1u);
  EXPECT_EQ((*allow)[0].str(), "2001:db8::/32");
  EXPECT_EQ(*(*st)->load_meta("maps_instance").value(), "12345");
  EXPECT_FALSE((*st)->load_meta("nothing")->has_value());
  ASSERT_TRUE((*st)->set_allow({*Cidr::parse("198.51.100.0/24")}).ok());
  EXPECT_EQ((*st)->load_allow()->size(), 1u);
}

// The queue stores each marked cidr as the ban is when it is written (or
// deletes its row once the ban is gone), in bounded transactions.
TEST_F(Store, WriteQueueStoresTheCurrentStateInBoundedRounds) {
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  std::map<Cidr, BanRecord> active;
  BanWriteQueue q(**st, [&](const Cidr& c) -> const BanRecord* {
    auto it = active.find(c);
    return it == active.end() ? nullptr : &it->second;
  });
  std::vector<const BanRecord*> many;
  for (int i = 0; i < 2500; ++i) {
    Cidr c = *Cidr::parse("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    active[c] = BanRecord{c, "import", 1000, 0, 1, 4, 0};
    many.push_back(&active[c]);
  }
  ASSERT_TRUE(q.save_bans(many).ok());
  Cidr gone = *Cidr::parse("10.0.0.7"), changed = *Cidr::parse("10.0.0.8");
  active.erase(gone);  // unbanned before it was ever written
  ASSERT_TRUE(q.remove_ban(gone).ok());
  active[changed].expiry = 5000;  // prolonged: marked twice, written once
  ASSERT_TRUE(q.save_ban(active[changed]).ok());
  EXPECT_EQ(q.pending(), 2502u);
  ASSERT_TRUE(q.flush(1000).ok());
  EXPECT_EQ(q.pending(), 1500u) << "2500 cidrs marked; the batch dropped the repeated marks";
  // Key order: "10.0.0.7" is among the first 1000 keys, and it only deletes.
  EXPECT_EQ((*st)->load_bans()->size(), 999u);
  // A change while a batch is being written joins the next batch.
  BanRecord late{*Cidr::parse("203.0.113.9"), "sshd", 2000, 2600, 1, 0, 5};
  active[late.cidr] = late;
  ASSERT_TRUE(q.save_ban(late).ok());
  while (q.pending()) ASSERT_TRUE(q.flush(1000).ok());
  auto bans = (*st)->load_bans();
  ASSERT_TRUE(bans.ok());
  ASSERT_EQ(bans->size(), active.size());
  std::map<Cidr, BanRecord> stored;
  for (auto& b : *bans) stored[b.cidr] = b;
  EXPECT_FALSE(stored.count(gone));
  EXPECT_EQ(stored.at(changed).expiry, 5000);
  EXPECT_EQ(stored.at(late.cidr).jail, "sshd");
  // Unbans after the rows exist delete them.
  active.erase(late.cidr);
  ASSERT_TRUE(q.remove_ban(late.cidr).ok());
  ASSERT_TRUE(q.flush().ok());
  EXPECT_EQ((*st)->load_bans()->size(), active.size());
}

}  // namespace
}  // namespace xdpban
