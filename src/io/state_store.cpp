#include "io/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

namespace xdpban {

namespace {

// Resets and clears a cached statement when it leaves scope.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  sqlite3_stmt* get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }

 private:
  sqlite3_stmt* s_;
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
std::string col_text(sqlite3_stmt* s, int i) {
  auto* p = sqlite3_column_text(s, i);
  return p ? reinterpret_cast<const char*>(p) : "";
}

// The errno-style code of the connection's last error: EUCLEAN for a damaged
// database (open_or_replace moves those aside), ENOSPC for a full disk.
int errno_of(sqlite3* db) {
  switch (sqlite3_errcode(db) & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return EUCLEAN;
    case SQLITE_FULL:
      return ENOSPC;
    default:
      return EIO;
  }
}

// Who is banned and where the logs were read to is the owner's business: the
// database is created 0600 and files an older xdpban made 0644 are narrowed.
// SQLite gives the -wal and -shm it creates the database's mode.
Status restrict_files(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errno, "cannot open database " + path + ": " + std::strerror(errno));
  struct stat st {};
  int err = 0;
  if (fstat(fd, &st) == 0 && (st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) != 0) err = errno;
  ::close(fd);
  if (err) return make_error(err, "cannot make " + path + " private (mode 0600): " + std::strerror(err));
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string p = path + suffix;
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 077) && ::chmod(p.c_str(), st.st_mode & 0700) != 0)
      return make_error(errno, "cannot make " + p + " private (mode 0600): " + std::strerror(errno));
  }
  return {};
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}
}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path) {
  if (auto r = restrict_files(path); !r) return r.error();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error(EIO, "cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<StateStore> st(new StateStore(db));
  sqlite3_busy_timeout(db, 2000);
  auto s = st->exec(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=NORMAL;"
      "PRAGMA cache_size=-65536;");  // 64 MiB: 1M-row bulk writes stay in memory
  if (!s) return s.error().wrap(path);
  if (auto q = st->quick_check(); !q) return q.error().wrap(path);
  s = st->exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
      "CREATE TABLE IF NOT EXISTS bans(cidr TEXT PRIMARY KEY, jail TEXT NOT NULL, start INTEGER NOT NULL,"
      " expiry INTEGER NOT NULL, count INTEGER NOT NULL, flags INTEGER NOT NULL, failures INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS ban_history(jail TEXT NOT NULL, cidr TEXT NOT NULL, count INTEGER NOT NULL,"
      " last INTEGER NOT NULL, PRIMARY KEY(jail, cidr));"
      "CREATE TABLE IF NOT EXISTS file_positions(path TEXT PRIMARY KEY, inode INTEGER NOT NULL,"
      " offset INTEGER NOT NULL, first_hash INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS journal_cursors(source TEXT PRIMARY KEY, cursor TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS allow(cidr TEXT PRIMARY KEY);");
  if (!s) return s.error().wrap(path);
  // The schema version guards against a future, incompatible layout; older
  // ones are upgraded here, in one transaction each step.
  int version = 0;
  {
    Stmt q(st->prepare("SELECT value FROM meta WHERE key='schema'"));
    if (!q) return st->sql_error(path);
    if (sqlite3_step(q.get()) == SQLITE_ROW) version = std::atoi(col_text(q.get(), 0).c_str());
  }
  if (version > kSchemaVersion)
    return make_error(EPROTO, path + " has schema version " + std::to_string(version) +
                                  ", newer than this xdpban (" + std::to_string(kSchemaVersion) + ")");
  if (version == 0) {
    // A new database: the tables above are schema 1's; upgrade from there.
    if (auto w = st->exec("INSERT INTO meta(key, value) VALUES('schema', '1')"); !w)
      return w.error().wrap(path);
  }
  if (version < kSchemaVersion) {
    if (auto m = st->migrate(version == 0 ? 1 : version); !m) return m.error().wrap(path);
  }
  st->upgraded_from_ = version;
  return st;
}

Status StateStore::migrate(int from) {
  if (auto b = exec("BEGIN IMMEDIATE"); !b) return b;
  Status st;
  if (from < 2)
    // 2: the event log behind reports (xdpban report, report = daily).
    st = exec(
        "CREATE TABLE IF NOT EXISTS ban_events(id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
        " kind TEXT NOT NULL, jail TEXT NOT NULL, cidr TEXT NOT NULL, duration INTEGER NOT NULL,"
        " failures INTEGER NOT NULL, count INTEGER NOT NULL, flags INTEGER NOT NULL,"
        " reason TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX IF NOT EXISTS ban_events_time ON ban_events(time);");
  if (st && from < 3)
    // 3: the fleet ([fleet]): who published a ban, and the bucket writes not yet made.
    st = exec(
        "ALTER TABLE bans ADD COLUMN origin TEXT NOT NULL DEFAULT '';"
        "CREATE TABLE IF NOT EXISTS fleet_outbox(key TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
        " op INTEGER NOT NULL, value TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS fleet_outbox_seq ON fleet_outbox(seq);");
  if (st)
    st = exec(("UPDATE meta SET value='" + std::to_string(kSchemaVersion) + "' WHERE key='schema'").c_str());
  if (!st) {
    (void)exec("ROLLBACK");
    return st.error().wrap("upgrading the schema from version " + std::to_string(from));
  }
  return exec("COMMIT");
}

Result<std::unique_ptr<StateStore>> StateStore::open_readonly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error(ENOENT, "cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<StateStore> st(new StateStore(db));
  sqlite3_busy_timeout(db, 2000);
  Stmt q(st->prepare("SELECT value FROM meta WHERE key='schema'"));
  if (!q) return make_error(EPROTO, path + " is not an xdpban database: " + sqlite3_errmsg(db));
  int version = sqlite3_step(q.get()) == SQLITE_ROW ? std::atoi(col_text(q.get(), 0).c_str()) : 0;
  if (version > kSchemaVersion)
    return make_error(EPROTO, path + " has schema version " + std::to_string(version) +
                                  ", newer than this xdpban (" + std::to_string(kSchemaVersion) + ")");
  if (version < 2)
    return make_error(EPROTO, path + " has schema version " + std::to_string(version) +
                                  ", which has no event log yet; xdpband upgrades it when it next starts");
  return st;
}

StateStore::~StateStore() {
  for (auto& [k, s] : stmts_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

Error StateStore::sql_error(const std::string& what) const {
  return make_error(errno_of(db_), what + ": " + sqlite3_errmsg(db_));
}

Status StateStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return make_error(errno_of(db_), "database: " + m);
  }
  return {};
}

sqlite3_stmt* StateStore::prepare(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return nullptr;
  stmts_[sql] = s;
  return s;
}

Status StateStore::begin() {
  if (depth_++ > 0) return {};
  auto st = exec("BEGIN");
  if (!st) depth_ = 0;
  return st;
}

Status StateStore::commit() {
  if (depth_ == 0 || --depth_ > 0) return {};
  Status st = sqlite3_get_autocommit(db_)
                  ? Status(make_error(EIO, "database: the transaction was rolled back after an error"))
                  : exec("COMMIT");
  // A COMMIT that failed (SQLITE_FULL) may leave the transaction open: end it,
  // or every later BEGIN would fail.
  if (!st && !sqlite3_get_autocommit(db_)) (void)exec("ROLLBACK");
  if (on_commit_) on_commit_(st);
  return st;
}

Status StateStore::quick_check() {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA quick_check(3)", -1, &raw, nullptr) != SQLITE_OK)
    return sql_error("checking the database");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> q(raw, sqlite3_finalize);
  std::string faults;
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    std::string row = col_text(q.get(), 0);
    if (row != "ok") faults += (faults.empty() ? "" : "; ") + row;
  }
  if (rc != SQLITE_DONE) return sql_error("checking the database");
  if (!faults.empty()) return make_error(EUCLEAN, "database is damaged (quick_check: " + faults + ")");
  return {};
}

Result<std::unique_ptr<StateStore>> StateStore::open_or_replace(const std::string& path,
                                                                std::optional<Replaced>* replaced) {
  auto st = open(path);
  if (st.ok() || st.error().code != EUCLEAN) return st;
  // The damaged file and its journal go aside together, under one name.
  char stamp[32];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string to = path + ".corrupt-" + stamp;
  for (int n = 2; exists(to); ++n) to = path + ".corrupt-" + stamp + "-" + std::to_string(n);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string from = path + suffix;
    if (!exists(from)) continue;
    if (::rename(from.c_str(), (to + suffix).c_str()) != 0)
      return make_error(errno, "cannot move the damaged database " + from + " aside to " + to + suffix +
                                   ": " + std::strerror(errno) + " (" + st.error().message + ")");
    (void)::chmod((to + suffix).c_str(), 0600);
  }
  *replaced = Replaced{to, st.error().message};
  auto fresh = open(path);
  if (!fresh) return fresh.error().wrap("after moving the damaged database aside to " + to);
  return fresh;
}

Status StateStore::save_ban(const BanRecord& b) {
  Stmt s(
      prepare("INSERT OR REPLACE INTO bans(cidr, jail, start, expiry, count, flags, failures, origin) "
              "VALUES(?,?,?,?,?,?,?,?)"));
  if (!s) return sql_error("saving a ban");
  bind_text(s.get(), 1, b.cidr.str());
  bind_text(s.get(), 2, b.jail);
  sqlite3_bind_int64(s.get(), 3, b.start);
  sqlite3_bind_int64(s.get(), 4, b.expiry);
  sqlite3_bind_int(s.get(), 5, b.count);
  sqlite3_bind_int(s.get(), 6, b.flags);
  sqlite3_bind_int(s.get(), 7, b.failures);
  bind_text(s.get(), 8, b.origin);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("saving ban " + b.cidr.str());
  return {};
}

Status StateStore::remove_ban(const Cidr& cidr) {
  Stmt s(prepare("DELETE FROM bans WHERE cidr=?"));
  if (!s) return sql_error("removing a ban");
  bind_text(s.get(), 1, cidr.str());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("removing ban " + cidr.str());
  return {};
}

Status StateStore::add_history(const BanRecord& b) {
  Stmt s(
      prepare("INSERT INTO ban_history(jail, cidr, count, last) VALUES(?,?,1,?)"
              " ON CONFLICT(jail, cidr) DO UPDATE SET count=count+1, last=excluded.last"));
  if (!s) return sql_error("recording ban history");
  bind_text(s.get(), 1, b.jail);
  bind_text(s.get(), 2, b.cidr.str());
  sqlite3_bind_int64(s.get(), 3, b.start);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("recording history of " + b.cidr.str());
  return {};
}

Result<std::vector<BanRecord>> StateStore::load_bans() {
  std::vector<BanRecord> out;
  Stmt s(prepare("SELECT cidr, jail, start, expiry, count, flags, failures, origin FROM bans"));
  if (!s) return sql_error("loading bans");
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    auto c = Cidr::parse({reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0)),
                          static_cast<size_t>(sqlite3_column_bytes(s.get(), 0))});
    if (!c) continue;  // written by us, so this is damage: skip the row, keep the rest
    out.push_back(BanRecord{*c, col_text(s.get(), 1), sqlite3_column_int64(s.get(), 2),
                            sqlite3_column_int64(s.get(), 3), sqlite3_column_int(s.get(), 4),
                            static_cast<uint8_t>(sqlite3_column_int(s.get(), 5)),
                            sqlite3_column_int(s.get(), 6), col_text(s.get(), 7)});
  }
  if (rc != SQLITE_DONE) return sql_error("loading bans");
  return out;
}

Result<std::map<std::pair<std::string, Cidr>, int>> StateStore::load_history() {
  std::map<std::pair<std::string, Cidr>, int> out;
  Stmt s(prepare("SELECT jail, cidr, count FROM ban_history"));
  if (!s) return sql_error("loading ban history");
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    auto c = Cidr::parse(col_text(s.get(), 1));
    if (c) out[{col_text(s.get(), 0), *c}] = sqlite3_column_int(s.get(), 2);
  }
  if (rc != SQLITE_DONE) return sql_error("loading ban history");
  return out;
}

Status StateStore::purge_history(int64_t now, int64_t age_s) {
  Stmt s(prepare("DELETE FROM ban_history WHERE last < ?"));
  if (!s) return sql_error("purging history");
  sqlite3_bind_int64(s.get(), 1, now - age_s);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("purging history");
  return {};
}

Status StateStore::add_event(const EventRecord& e) {
  Stmt s(
      prepare("INSERT INTO ban_events(time, kind, jail, cidr, duration, failures, count, flags, reason) "
              "VALUES(?,?,?,?,?,?,?,?,?)"));
  if (!s) return sql_error("recording an event");
  sqlite3_bind_int64(s.get(), 1, e.time);
  bind_text(s.get(), 2, event_kind_name(e.kind));
  bind_text(s.get(), 3, e.jail);
  bind_text(s.get(), 4, e.cidr.str());
  sqlite3_bind_int64(s.get(), 5, e.duration);
  sqlite3_bind_int(s.get(), 6, e.failures);
  sqlite3_bind_int(s.get(), 7, e.count);
  sqlite3_bind_int(s.get(), 8, e.flags);
  bind_text(s.get(), 9, e.reason);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("recording an event for " + e.cidr.str());
  return {};
}

Status StateStore::for_each_event(int64_t since, int64_t until,
                                  const std::function<void(const EventRecord&)>& fn) {
  Stmt s(
      prepare("SELECT time, kind, jail, cidr, duration, failures, count, flags, reason FROM ban_events"
              " WHERE time >= ? AND time < ? ORDER BY time, id"));
  if (!s) return sql_error("reading events");
  sqlite3_bind_int64(s.get(), 1, since);
  sqlite3_bind_int64(s.get(), 2, until);
  int rc;
  EventRecord e;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    auto c = Cidr::parse(col_text(s.get(), 3));
    std::string kind = col_text(s.get(), 1);
    if (!c) continue;  // damage: skip the row
    e.time = sqlite3_column_int64(s.get(), 0);
    e.kind = kind == "unban"     ? EventRecord::kUnban
             : kind == "prolong" ? EventRecord::kProlong
                                 : EventRecord::kBan;
    e.jail = col_text(s.get(), 2);
    e.cidr = *c;
    e.duration = sqlite3_column_int64(s.get(), 4);
    e.failures = sqlite3_column_int(s.get(), 5);
    e.count = sqlite3_column_int(s.get(), 6);
    e.flags = static_cast<uint8_t>(sqlite3_column_int(s.get(), 7));
    e.reason = col_text(s.get(), 8);
    fn(e);
  }
  if (rc != SQLITE_DONE) return sql_error("reading events");
  return {};
}

Result<Report> StateStore::report(int64_t since, int64_t until, size_t top) {
  ReportBuilder b(since, until, top);
  if (auto st = for_each_event(since, until, [&](const EventRecord& e) { b.add(e); }); !st) return st.error();
  Report r = b.build();
  Stmt s(prepare("SELECT COUNT(*) FROM bans WHERE expiry = 0 OR expiry > ?"));
  if (!s) return sql_error("counting bans");
  sqlite3_bind_int64(s.get(), 1, until);
  if (sqlite3_step(s.get()) == SQLITE_ROW)
    r.active_bans = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0));
  return r;
}

Status StateStore::purge_events(int64_t before) {
  Stmt s(prepare("DELETE FROM ban_events WHERE time < ?"));
  if (!s) return sql_error("purging events");
  sqlite3_bind_int64(s.get(), 1, before);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("purging events");
  return {};
}

Status StateStore::save_outbox(const OutboxRow& r) {
  Stmt s(prepare("INSERT OR REPLACE INTO fleet_outbox(key, seq, op, value) VALUES(?,?,?,?)"));
  if (!s) return sql_error("saving a fleet outbox entry");
  bind_text(s.get(), 1, r.key);
  sqlite3_bind_int64(s.get(), 2, static_cast<int64_t>(r.seq));
  sqlite3_bind_int(s.get(), 3, r.op);
  bind_text(s.get(), 4, r.value);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("saving the fleet outbox entry of " + r.key);
  return {};
}

Status StateStore::remove_outbox(const std::string& key, uint64_t seq) {
  Stmt s(prepare("DELETE FROM fleet_outbox WHERE key=? AND seq=?"));
  if (!s) return sql_error("removing a fleet outbox entry");
  bind_text(s.get(), 1, key);
  sqlite3_bind_int64(s.get(), 2, static_cast<int64_t>(seq));
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("removing the fleet outbox entry of " + key);
  return {};
}

Result<std::vector<OutboxRow>> StateStore::load_outbox() {
  std::vector<OutboxRow> out;
  Stmt s(prepare("SELECT key, seq, op, value FROM fleet_outbox ORDER BY seq"));
  if (!s) return sql_error("loading the fleet outbox");
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out.push_back(OutboxRow{col_text(s.get(), 0), static_cast<uint64_t>(sqlite3_column_int64(s.get(), 1)),
                            sqlite3_column_int(s.get(), 2), col_text(s.get(), 3)});
  if (rc != SQLITE_DONE) return sql_error("loading the fleet outbox");
  return out;
}

Status StateStore::save_meta(const std::string& key, const std::string& value) {
  Stmt s(prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)"));
  if (!s) return sql_error("saving " + key);
  bind_text(s.get(), 1, key);
  bind_text(s.get(), 2, value);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("saving " + key);
  return {};
}

Result<std::optional<std::string>> StateStore::load_meta(const std::string& key) {
  Stmt s(prepare("SELECT value FROM meta WHERE key=?"));
  if (!s) return sql_error("loading " + key);
  bind_text(s.get(), 1, key);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::optional<std::string>{};
  return std::optional<std::string>{col_text(s.get(), 0)};
}

Status StateStore::save_position(const std::string& path, const FilePosition& p) {
  Stmt s(prepare("INSERT OR REPLACE INTO file_positions(path, inode, offset, first_hash) VALUES(?,?,?,?)"));
  if (!s) return sql_error("saving a file position");
  bind_text(s.get(), 1, path);
  sqlite3_bind_int64(s.get(), 2, static_cast<int64_t>(p.inode));
  sqlite3_bind_int64(s.get(), 3, static_cast<int64_t>(p.offset));
  sqlite3_bind_int64(s.get(), 4, static_cast<int64_t>(p.first_line_hash));
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("saving position of " + path);
  return {};
}

Result<std::optional<FilePosition>> StateStore::load_position(const std::string& path) {
  Stmt s(prepare("SELECT inode, offset, first_hash FROM file_positions WHERE path=?"));
  if (!s) return sql_error("loading a file position");
  bind_text(s.get(), 1, path);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::optional<FilePosition>{};
  return std::optional<FilePosition>{FilePosition{static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)),
                                                  static_cast<uint64_t>(sqlite3_column_int64(s.get(), 1)),
                                                  static_cast<uint64_t>(sqlite3_column_int64(s.get(), 2))}};
}

Status StateStore::save_cursor(const std::string& source, const std::string& cursor) {
  Stmt s(prepare("INSERT OR REPLACE INTO journal_cursors(source, cursor) VALUES(?,?)"));
  if (!s) return sql_error("saving a journal cursor");
  bind_text(s.get(), 1, source);
  bind_text(s.get(), 2, cursor);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("saving cursor of " + source);
  return {};
}

Result<std::optional<std::string>> StateStore::load_cursor(const std::string& source) {
  Stmt s(prepare("SELECT cursor FROM journal_cursors WHERE source=?"));
  if (!s) return sql_error("loading a journal cursor");
  bind_text(s.get(), 1, source);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::optional<std::string>{};
  return std::optional<std::string>{col_text(s.get(), 0)};
}

Status StateStore::set_allow(const std::vector<Cidr>& allow) {
  if (auto st = exec("DELETE FROM allow"); !st) return st.error().wrap("saving the allow list");
  for (const auto& c : allow)
    if (auto st = add_allow(c); !st) return st;
  return {};
}

Status StateStore::add_allow(const Cidr& cidr) {
  Stmt s(prepare("INSERT OR REPLACE INTO allow(cidr) VALUES(?)"));
  if (!s) return sql_error("saving an allow entry");
  bind_text(s.get(), 1, cidr.str());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("saving allow entry " + cidr.str());
  return {};
}

Status StateStore::remove_allow(const Cidr& cidr) {
  Stmt s(prepare("DELETE FROM allow WHERE cidr=?"));
  if (!s) return sql_error("removing an allow entry");
  bind_text(s.get(), 1, cidr.str());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return sql_error("removing allow entry " + cidr.str());
  return {};
}

Result<std::vector<Cidr>> StateStore::load_allow() {
  std::vector<Cidr> out;
  Stmt s(prepare("SELECT cidr FROM allow"));
  if (!s) return sql_error("loading the allow list");
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    if (auto c = Cidr::parse(col_text(s.get(), 0))) out.push_back(*c);
  if (rc != SQLITE_DONE) return sql_error("loading the allow list");
  return out;
}

}  // namespace xdpban
