// state_store.h - the daemon's memory across restarts and reboots, in SQLite:
// active bans, ban history (for bantime.increment), the event log (every ban,
// prolong and unban, for reports), the allow list, log file positions,
// journal cursors and the fleet outbox (bucket writes not yet acknowledged). Implements BanStore. Does not
// decide anything; the schema is versioned in the meta table and older databases are upgraded in place when
// opened. The files are the owner's alone (0600). A database SQLite finds
// damaged can be moved aside and replaced by a new one (open_or_replace).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ban_manager.h"
#include "core/report.h"

namespace xdpban {

// One pending write to the fleet bucket, kept until the broker took it: one
// row per key, a newer op on the same key replaces the older one.
struct OutboxRow {
  std::string key;    // fleet_key of the cidr
  uint64_t seq = 0;   // the daemon's id of the op, increasing
  int op = 0;         // FleetLink::Op::Kind
  std::string value;  // the record JSON (empty for a delete)
};

struct FilePosition {
  uint64_t inode = 0;
  uint64_t offset = 0;
  uint64_t first_line_hash = 0;  // tells a rotated file that reuses the inode
};

class StateStore : public BanStore {
 public:
  static constexpr int kSchemaVersion = 3;  // 2: ban_events; 3: bans.origin, fleet_outbox
  // Opens (creating or upgrading) the database for writing. A damaged one
  // (SQLITE_CORRUPT, SQLITE_NOTADB, or PRAGMA quick_check finding faults) is
  // an error with code EUCLEAN; nothing is changed then.
  static Result<std::unique_ptr<StateStore>> open(const std::string& path);
  // Like open(), but a damaged database is moved aside to
  // <path>.corrupt-<UTC time> (its -wal and -shm likewise, so it can still be
  // examined) and a new one created; *replaced then says where it went and why.
  struct Replaced {
    std::string moved_to;
    std::string why;
  };
  static Result<std::unique_ptr<StateStore>> open_or_replace(const std::string& path,
                                                             std::optional<Replaced>* replaced);
  // Opens it for reading only (xdpban report while the daemon writes): never
  // creates or upgrades; a database without an event log is an error.
  static Result<std::unique_ptr<StateStore>> open_readonly(const std::string& path);
  // The schema version the database had before open() upgraded it (0: new).
  int upgraded_from() const { return upgraded_from_; }
  ~StateStore() override;

  Status save_ban(const BanRecord& ban) override;
  Status remove_ban(const Cidr& cidr) override;
  Status add_history(const BanRecord& ban) override;

  Result<std::vector<BanRecord>> load_bans();
  Result<std::map<std::pair<std::string, Cidr>, int>> load_history();
  // Forgets ban history older than now - age_s (fail2ban's dbpurgeage).
  Status purge_history(int64_t now, int64_t age_s);

  // The event log: one row per ban, prolong and unban.
  Status add_event(const EventRecord& e);
  // Events with since <= time < until, oldest first.
  Status for_each_event(int64_t since, int64_t until, const std::function<void(const EventRecord&)>& fn);
  // The report of [since, until) from the events, with the bans in force at `until`.
  Result<Report> report(int64_t since, int64_t until, size_t top);
  // Forgets events older than `before` (reportretention).
  Status purge_events(int64_t before);

  Status save_position(const std::string& path, const FilePosition& pos);
  Result<std::optional<FilePosition>> load_position(const std::string& path);
  Status save_cursor(const std::string& source, const std::string& cursor);
  Result<std::optional<std::string>> load_cursor(const std::string& source);

  // The allow list (also in the pinned maps, which a reboot empties).
  Status add_allow(const Cidr& cidr);
  Status remove_allow(const Cidr& cidr);
  Status set_allow(const std::vector<Cidr>& allow);
  Result<std::vector<Cidr>> load_allow();

  // The fleet outbox: save_outbox inserts or replaces the row of row.key;
  // remove_outbox deletes it only while it still has `seq` (a newer op on the
  // key stays); load_outbox returns the rows by seq.
  Status save_outbox(const OutboxRow& row);
  Status remove_outbox(const std::string& key, uint64_t seq);
  Result<std::vector<OutboxRow>> load_outbox();

  // Small named values of the daemon's own in the meta table ("schema" is
  // taken): the maps' instance, the last report's time and counters.
  Status save_meta(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> load_meta(const std::string& key);

  // Groups many writes into one transaction (start-up, a round of the event
  // loop). Nested pairs join the outermost one, which alone commits.
  Status begin();
  Status commit();
  // Inside begin() and the transaction is still open: an error such as
  // SQLITE_FULL may have made SQLite roll it back.
  bool in_transaction() const { return depth_ > 0 && !sqlite3_get_autocommit(db_); }
  // Told the outcome of every outermost commit: ok, or the error (what the
  // transaction held is then gone; a transaction still open is rolled back).
  void on_commit(std::function<void(const Status&)> fn) { on_commit_ = std::move(fn); }

 private:
  explicit StateStore(sqlite3* db) : db_(db) {}
  Status migrate(int from);
  Status quick_check();
  Status exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  Error sql_error(const std::string& what) const;

  sqlite3* db_;
  int upgraded_from_ = kSchemaVersion;
  std::map<const char*, sqlite3_stmt*> stmts_;  // cached, keyed by the SQL literal
  int depth_ = 0;                               // begin() calls not yet committed
  std::function<void(const Status&)> on_commit_;
};

}  // namespace xdpban
