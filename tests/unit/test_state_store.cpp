#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/ban_write_queue.h"
#include "io/state_store.h"

namespace xdpban {
namespace {

class Store : public ::testing::Test {
 protected:
  void SetUp() override { path_ = "/tmp/xdpban-store-" + std::to_string(getpid()) + ".db"; }
  void TearDown() override {
    for (auto s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s);
    for (const auto& e : std::filesystem::directory_iterator("/tmp"))
      if (e.path().string().rfind(path_ + ".corrupt-", 0) == 0) std::filesystem::remove(e.path());
  }
  std::string path_;
};

mode_t mode_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// The connection the store opens, caught with SQLite's auto-extension hook (a
// public API, so the store has no test hook): the test then limits the
// database's size on it (PRAGMA max_page_count), which fails writes with
// SQLITE_FULL just as a full disk does, and lifts the limit again.
sqlite3* g_caught = nullptr;
int catch_connection(sqlite3* db, const char**, const sqlite3_api_routines*) {
  g_caught = db;
  return SQLITE_OK;
}
void pragma(sqlite3* db, const std::string& sql) {
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
}
int64_t page_count(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, nullptr);
  int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return n;
}

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

// Who is banned and where the logs were read to is root's alone: the database
// and its -wal and -shm are 0600, also when an older version made them 0644.
TEST_F(Store, FilesAreTheOwnersAlone) {
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_TRUE((*st)->save_ban(BanRecord{*Cidr::parse("192.0.2.1"), "sshd", 1, 0, 1}).ok());
    for (auto s : {"", "-wal", "-shm"}) EXPECT_EQ(mode_of(path_ + s), 0600u) << path_ + s;
  }
  for (auto s : {"", "-wal", "-shm"})
    if (std::filesystem::exists(path_ + s)) ::chmod((path_ + s).c_str(), 0644);
  ::chmod(path_.c_str(), 0644);
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE((*st)->save_ban(BanRecord{*Cidr::parse("192.0.2.2"), "sshd", 1, 0, 1}).ok());
  for (auto s : {"", "-wal", "-shm"}) EXPECT_EQ(mode_of(path_ + s), 0600u) << path_ + s;
  EXPECT_EQ((*st)->load_bans()->size(), 2u);
}

std::vector<std::string> corrupt_files(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/tmp"))
    if (e.path().string().rfind(path + ".corrupt-", 0) == 0) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

void write_db_with_bans(const std::string& path, int n) {
  auto st = StateStore::open(path);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE((*st)->begin().ok());
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE((*st)
                    ->save_ban(BanRecord{
                        *Cidr::parse("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256)),
                        "sshd", 1, 0, 1})
                    .ok());
  ASSERT_TRUE((*st)->commit().ok());
}

// Garbage over the whole file: SQLite says it is not a database.
TEST_F(Store, GarbageDatabaseIsMovedAsideAndReplaced) {
  write_db_with_bans(path_, 10);
  {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>((i * 7919) & 0xff));
  }
  auto plain = StateStore::open(path_);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code, EUCLEAN) << plain.error().message;
  EXPECT_TRUE(corrupt_files(path_).empty()) << "open() alone changes nothing";

  std::optional<StateStore::Replaced> replaced;
  auto st = StateStore::open_or_replace(path_, &replaced);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE(replaced.has_value());
  EXPECT_NE(replaced->why.find("not a database"), std::string::npos) << replaced->why;
  EXPECT_EQ(replaced->moved_to.rfind(path_ + ".corrupt-", 0), 0u) << replaced->moved_to;
  EXPECT_TRUE(std::filesystem::exists(replaced->moved_to));
  EXPECT_EQ(std::filesystem::file_size(replaced->moved_to), 8192u) << "the damaged file is kept as it was";
  EXPECT_EQ(mode_of(replaced->moved_to), 0600u);
  EXPECT_TRUE((*st)->load_bans()->empty());
  ASSERT_TRUE((*st)->save_ban(BanRecord{*Cidr::parse("192.0.2.1"), "sshd", 1, 0, 1}).ok());
  EXPECT_EQ((*st)->load_bans()->size(), 1u);
  EXPECT_EQ(mode_of(path_), 0600u);
  // A sound database is opened as it is.
  st->reset();
  std::optional<StateStore::Replaced> again;
  st = StateStore::open_or_replace(path_, &again);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(again.has_value());
  EXPECT_EQ((*st)->load_bans()->size(), 1u);
}

// A sound header over damaged pages: found at open (quick_check), not later.
TEST_F(Store, DamagedPagesAreFoundAtOpen) {
  write_db_with_bans(path_, 3000);
  ASSERT_GT(std::filesystem::file_size(path_), 16384u);
  {
    std::fstream f(path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);  // page 2 on: the tables' b-trees; page 1 (the header and schema) stays
    for (int i = 0; i < 12288; ++i) f.put(static_cast<char>(0xa5 ^ (i & 0x3f)));
  }
  std::optional<StateStore::Replaced> replaced;
  auto st = StateStore::open_or_replace(path_, &replaced);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE(replaced.has_value()) << "damage went unnoticed";
  EXPECT_EQ(corrupt_files(path_).size(), 1u);
  EXPECT_TRUE((*st)->load_bans()->empty());
}

// A full disk while bans arrive: nothing is lost, positions wait, the failure
// and the recovery are told once each, and everything is stored afterwards.
TEST_F(Store, FullDiskKeepsBansAndHoldsPositionsBack) {
  ASSERT_EQ(sqlite3_auto_extension(reinterpret_cast<void (*)()>(catch_connection)), SQLITE_OK);
  auto st = StateStore::open(path_);
  sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(catch_connection));
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_NE(g_caught, nullptr);
  StateStore& store = **st;
  std::map<Cidr, BanRecord> active;
  BanWriteQueue q(store, [&](const Cidr& c) -> const BanRecord* {
    auto it = active.find(c);
    return it == active.end() ? nullptr : &it->second;
  });
  std::vector<std::string> told;
  q.on_health([&](const Status& s, size_t) { told.push_back(s ? "ok" : s.error().message); });
  ASSERT_TRUE(store.save_position("/var/log/auth.log", {1, 100, 7}).ok());
  std::map<std::string, uint64_t> outbox;  // what the fleet outbox must hold in the end: key -> seq

  // One loop round as the daemon runs it: a transaction, bans, positions if settled, commit.
  int next = 0;
  auto round = [&](int bans, bool ignore_pause) {
    ASSERT_TRUE(store.begin().ok());
    for (int i = 0; i < bans; ++i, ++next) {
      Cidr c = *Cidr::parse("10.2." + std::to_string(next / 256) + "." + std::to_string(next % 256));
      active[c] = BanRecord{c, "sshd", 1000, 0, 1, 0, 5};
      ASSERT_TRUE(q.save_ban(active[c]).ok());
      ASSERT_TRUE(q.add_history(active[c]).ok());
      EventRecord e;
      e.jail = "sshd";
      e.cidr = c;
      q.add_event(e);
      // Each ban is published (an outbox row); every other one is acknowledged
      // at once, and every fourth is replaced by a newer op on its key first.
      std::string key = c.str() + "/32";
      uint64_t seq = 2 * static_cast<uint64_t>(next) + 1;
      q.save_outbox(OutboxRow{key, seq, 1, "{}"});
      outbox[key] = seq;
      if (next % 4 == 3) {
        q.save_outbox(OutboxRow{key, seq + 1, 2, ""});
        q.remove_outbox(key, seq);  // the older op's acknowledgement: the newer row stays
        outbox[key] = seq + 1;
      } else if (next % 2 == 1) {
        q.remove_outbox(key, seq);
        outbox.erase(key);
      }
    }
    if (ignore_pause || q.due()) (void)q.flush(20000);
    if (q.settled()) {
      ASSERT_TRUE(store.save_position("/var/log/auth.log", {1, static_cast<uint64_t>(1000 + next), 7}).ok());
    }
    (void)store.commit();
  };
  round(5, false);
  EXPECT_TRUE(told.empty());
  EXPECT_EQ(q.unsaved(), 0u);
  EXPECT_EQ((*store.load_position("/var/log/auth.log"))->offset, 1005u);

  // The disk fills: no page can be added.
  pragma(g_caught, "PRAGMA max_page_count=" + std::to_string(page_count(g_caught)));
  for (int r = 0; r < 20; ++r) round(200, r % 5 == 0);  // a burst; some rounds retry at once
  EXPECT_EQ(told.size(), 1u) << "the failure is told once, not per ban or round";
  ASSERT_FALSE(told.empty());
  EXPECT_NE(told[0].find("full"), std::string::npos) << told[0];
  EXPECT_TRUE(q.failing());
  EXPECT_GE(q.unsaved(), 4000u) << "every ban of the burst is kept";
  EXPECT_LT(store.load_bans()->size(), 5u + 4000u);
  EXPECT_EQ((*store.load_position("/var/log/auth.log"))->offset, 1005u)
      << "the saved position stays before the bans the store does not hold";

  // Space returns: the next retry stores everything, and says so once.
  pragma(g_caught, "PRAGMA max_page_count=1073741823");
  EXPECT_FALSE(q.due()) << "pausing after the last failure";
  std::this_thread::sleep_for(BanWriteQueue::kRetryPause);
  for (int r = 0; r < 3; ++r) round(0, false);
  EXPECT_EQ(q.unsaved(), 0u);
  EXPECT_FALSE(q.failing());
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[1], "ok");
  EXPECT_EQ(store.load_bans()->size(), 4005u);
  auto history = store.load_history();
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 4005u);
  for (const auto& [k, n] : *history) EXPECT_EQ(n, 1) << k.second.str() << ": counted once";
  size_t events = 0;
  ASSERT_TRUE(store.for_each_event(0, 1, [&](const EventRecord&) { ++events; }).ok());
  EXPECT_EQ(events, 4005u);
  EXPECT_EQ((*store.load_position("/var/log/auth.log"))->offset, 1000u + 4005u);
  auto rows = store.load_outbox();
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  std::map<std::string, uint64_t> stored;
  for (const auto& r : *rows) stored[r.key] = r.seq;
  EXPECT_EQ(stored.size(), outbox.size());
  EXPECT_TRUE(stored == outbox) << "the outbox changes are stored in the order they were queued";
}

TEST_F(Store, OriginAndFleetOutboxSurviveReopen) {
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    BanRecord remote{*Cidr::parse("198.51.100.0/24"), "sshd", 1000, 1600, 1, 8, 5, "edge-b"};
    ASSERT_TRUE((*st)->save_ban(remote).ok());
    ASSERT_TRUE((*st)->save_ban(BanRecord{*Cidr::parse("192.0.2.1"), "sshd", 1000, 1600, 1, 0, 5}).ok());
    StateStore& s = **st;
    ASSERT_TRUE(s.save_outbox({"192.0.2.1/32", 7, 1, R"({"v":1})"}).ok());
    ASSERT_TRUE(s.save_outbox({"2001_db8__/32", 5, 2, ""}).ok());
    ASSERT_TRUE(s.save_outbox({"203.0.113.7/32", 9, 3, R"({"v":1,"expiry":5})"}).ok());
    // A newer op on a key replaces the older one; a stale acknowledgement leaves it.
    ASSERT_TRUE(s.save_outbox({"192.0.2.1/32", 11, 2, ""}).ok());
    ASSERT_TRUE(s.remove_outbox("192.0.2.1/32", 7).ok());
    ASSERT_TRUE(s.remove_outbox("203.0.113.7/32", 9).ok());
    ASSERT_TRUE(s.remove_outbox("nothing/32", 1).ok());
  }
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)->upgraded_from(), StateStore::kSchemaVersion);
  auto bans = (*st)->load_bans();
  ASSERT_TRUE(bans.ok()) << bans.error().message;
  std::map<std::string, BanRecord> by;
  for (auto& b : *bans) by[b.cidr.str()] = b;
  EXPECT_EQ(by.at("198.51.100.0/24").origin, "edge-b");
  EXPECT_EQ(by.at("198.51.100.0/24").flags, 8);
  EXPECT_EQ(by.at("192.0.2.1").origin, "");
  auto rows = (*st)->load_outbox();
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].key, "2001_db8__/32") << "by seq";
  EXPECT_EQ((*rows)[0].seq, 5u);
  EXPECT_EQ((*rows)[0].op, 2);
  EXPECT_EQ((*rows)[0].value, "");
  EXPECT_EQ((*rows)[1].key, "192.0.2.1/32");
  EXPECT_EQ((*rows)[1].seq, 11u);
  EXPECT_EQ((*rows)[1].op, 2);
  // Large sequence numbers survive the trip through SQLite's signed integers.
  ASSERT_TRUE((*st)->save_outbox({"10.0.0.0/8", UINT64_C(1) << 62, 1, "x"}).ok());
  EXPECT_EQ((*st)->load_outbox()->back().seq, UINT64_C(1) << 62);
}

TEST_F(Store, WriteQueueWritesOutboxChangesInOrder) {
  auto st = StateStore::open(path_);
  ASSERT_TRUE(st.ok());
  BanWriteQueue q(**st, [](const Cidr&) -> const BanRecord* { return nullptr; });
  q.save_outbox({"192.0.2.1/32", 1, 1, "a"});
  q.save_outbox({"192.0.2.2/32", 2, 1, "b"});
  q.remove_outbox("192.0.2.1/32", 1);
  q.save_outbox({"192.0.2.2/32", 3, 2, ""});
  q.remove_outbox("192.0.2.2/32", 2);  // acknowledges the op the newer one replaced
  q.save_outbox({"192.0.2.1/32", 4, 1, "c"});
  EXPECT_EQ(q.pending(), 6u);
  EXPECT_TRUE((*st)->load_outbox()->empty()) << "write-behind: nothing before flush()";
  ASSERT_TRUE(q.flush().ok());
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.unsaved(), 0u);
  auto rows = (*st)->load_outbox();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].key, "192.0.2.2/32");
  EXPECT_EQ((*rows)[0].seq, 3u);
  EXPECT_EQ((*rows)[1].key, "192.0.2.1/32");
  EXPECT_EQ((*rows)[1].value, "c");
}

// A database as xdpban with schema 2 wrote it (schema 1's tables and the
// event log), with data: opened, it gains bans.origin and the fleet outbox.
TEST_F(Store, Schema2UpgradesInPlaceToTheFleetSchema) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    const char* sql =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TABLE bans(cidr TEXT PRIMARY KEY, jail TEXT NOT NULL, start INTEGER NOT NULL,"
        " expiry INTEGER NOT NULL, count INTEGER NOT NULL, flags INTEGER NOT NULL, failures INTEGER NOT "
        "NULL);"
        "CREATE TABLE ban_history(jail TEXT NOT NULL, cidr TEXT NOT NULL, count INTEGER NOT NULL,"
        " last INTEGER NOT NULL, PRIMARY KEY(jail, cidr));"
        "CREATE TABLE file_positions(path TEXT PRIMARY KEY, inode INTEGER NOT NULL,"
        " offset INTEGER NOT NULL, first_hash INTEGER NOT NULL);"
        "CREATE TABLE journal_cursors(source TEXT PRIMARY KEY, cursor TEXT NOT NULL);"
        "CREATE TABLE allow(cidr TEXT PRIMARY KEY);"
        "CREATE TABLE ban_events(id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
        " kind TEXT NOT NULL, jail TEXT NOT NULL, cidr TEXT NOT NULL, duration INTEGER NOT NULL,"
        " failures INTEGER NOT NULL, count INTEGER NOT NULL, flags INTEGER NOT NULL,"
        " reason TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX ban_events_time ON ban_events(time);"
        "INSERT INTO meta VALUES('schema','2');"
        "INSERT INTO bans VALUES('192.0.2.1','sshd',100,0,2,0,5);"
        "INSERT INTO bans VALUES('2001:db8::/64','recidive',100,9999999999,1,1,0);"
        "INSERT INTO ban_history VALUES('sshd','192.0.2.1',2,100);"
        "INSERT INTO ban_events VALUES(1,5,'ban','sshd','192.0.2.1',600,5,1,0,'');"
        "INSERT INTO allow VALUES('10.0.0.0/8');";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  {
    auto st = StateStore::open(path_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ((*st)->upgraded_from(), 2);
    EXPECT_EQ(**(*st)->load_meta("schema"), "3");
    auto bans = (*st)->load_bans();
    ASSERT_TRUE(bans.ok()) << bans.error().message;
    ASSERT_EQ(bans->size(), 2u);
    for (const auto& b : *bans) EXPECT_EQ(b.origin, "") << b.cidr.str() << ": the old bans are this node's";
    EXPECT_EQ((*st)->load_history()->at({"sshd", *Cidr::parse("192.0.2.1")}), 2);
    EXPECT_EQ((*st)->load_allow()->size(), 1u);
    size_t events = 0;
    ASSERT_TRUE((*st)->for_each_event(0, 10, [&](const EventRecord&) { ++events; }).ok());
    EXPECT_EQ(events, 1u);
    EXPECT_TRUE((*st)->load_outbox()->empty());
    ASSERT_TRUE((*st)->save_ban(BanRecord{*Cidr::parse("192.0.2.9"), "sshd", 1, 0, 1, 8, 0, "edge-c"}).ok());
    ASSERT_TRUE((*st)->save_outbox({"192.0.2.9/32", 1, 1, "{}"}).ok());
  }
  auto again = StateStore::open(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->upgraded_from(), 3) << "nothing to do the second time";
  EXPECT_EQ((*again)->load_bans()->size(), 3u);
  EXPECT_EQ((*again)->load_outbox()->size(), 1u);
  auto ro = StateStore::open_readonly(path_);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  EXPECT_EQ(*(*ro)->report(0, 10, 10)->active_bans, 3u);
}

}  // namespace
}  // namespace xdpban
