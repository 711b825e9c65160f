#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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

}  // namespace
}  // namespace xdpban
