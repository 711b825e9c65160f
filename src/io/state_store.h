// state_store.h - the daemon's memory across restarts and reboots, in SQLite:
// active bans, ban history (for bantime.increment), the allow list, log file
// positions and journal cursors. Implements BanStore. Does not decide anything; the schema
// is versioned in the meta table.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ban_manager.h"

namespace xdpban {

struct FilePosition {
  uint64_t inode = 0;
  uint64_t offset = 0;
  uint64_t first_line_hash = 0;  // tells a rotated file that reuses the inode
};

class StateStore : public BanStore {
 public:
  static Result<std::unique_ptr<StateStore>> open(const std::string& path);
  ~StateStore() override;

  Status save_ban(const BanRecord& ban) override;
  Status remove_ban(const Cidr& cidr) override;
  Status add_history(const BanRecord& ban) override;

  Result<std::vector<BanRecord>> load_bans();
  Result<std::map<std::pair<std::string, Cidr>, int>> load_history();
  // Forgets ban history older than now - age_s (fail2ban's dbpurgeage).
  Status purge_history(int64_t now, int64_t age_s);

  Status save_position(const std::string& path, const FilePosition& pos);
  Result<std::optional<FilePosition>> load_position(const std::string& path);
  Status save_cursor(const std::string& source, const std::string& cursor);
  Result<std::optional<std::string>> load_cursor(const std::string& source);

  // The allow list (also in the pinned maps, which a reboot empties).
  Status add_allow(const Cidr& cidr);
  Status remove_allow(const Cidr& cidr);
  Status set_allow(const std::vector<Cidr>& allow);
  Result<std::vector<Cidr>> load_allow();

  // Small named values of the daemon's own (the meta table; "schema" is taken).
  Status save_meta(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> load_meta(const std::string& key);

  // Groups many writes into one transaction (start-up, imports).
  Status begin();
  Status commit();

 private:
  explicit StateStore(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  Error sql_error(const std::string& what) const;

  sqlite3* db_;
  std::map<const char*, sqlite3_stmt*> stmts_;  // cached, keyed by the SQL literal
};

}  // namespace xdpban
