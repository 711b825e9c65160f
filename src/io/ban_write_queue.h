// ban_write_queue.h - write-behind for the SQLite store: the BanStore that
// BanManager writes to, and the event log's writer. A ban change only marks its
// cidr; flush() writes the ban as it is then (or deletes its row), the queued
// history increments, events and fleet outbox changes (in the order they were
// queued), in bounded transactions from the event loop.
// A single ban reaches SQLite in the same loop round; a 1M-entry import is
// enforced in the maps at once and stored over the next rounds.
// Nothing is dropped when the store fails (a full disk): what a failed
// transaction held is queued again, retried after a pause, and stored once the
// store works again; settled() tells when log positions may be saved without
// getting ahead of a ban. Whatever is still queued at a crash is in the maps,
// and the next start adopts it. Does not decide anything, and does not log.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/ban_manager.h"
#include "core/report.h"
#include "io/state_store.h"

namespace xdpban {

class BanWriteQueue : public BanStore {
 public:
  using Clock = std::chrono::steady_clock;
  // After a failure the queue waits this long before it writes again.
  static constexpr std::chrono::milliseconds kRetryPause{500};
  // Queued events beyond this many are dropped (counted) while the store fails.
  static constexpr size_t kMaxQueuedEvents = 100000;

  // `current` gives the active ban of a cidr, or nullptr once it is gone.
  BanWriteQueue(StateStore& store, std::function<const BanRecord*(const Cidr&)> current);
  ~BanWriteQueue() override;
  BanWriteQueue(const BanWriteQueue&) = delete;
  BanWriteQueue& operator=(const BanWriteQueue&) = delete;

  Status save_ban(const BanRecord& ban) override;
  Status save_bans(const std::vector<const BanRecord*>& bans) override;
  Status remove_ban(const Cidr& cidr) override;
  Status add_history(const BanRecord& ban) override;
  void add_event(const EventRecord& e);
  // The fleet outbox (StateStore::save_outbox / remove_outbox), queued like
  // the other rows and written in this order.
  void save_outbox(const OutboxRow& row);
  void remove_outbox(const std::string& key, uint64_t seq);

  // Rows marked and not written yet (ban cidrs, history increments, events, outbox changes).
  size_t pending() const {
    return incoming_.size() + (batch_.size() - next_) + history_.size() + events_.size() + outbox_.size();
  }
  // Rows not committed yet: pending, and written in a transaction still open.
  size_t unsaved() const {
    return pending() + written_.size() + written_history_.size() + written_events_.size() +
           written_outbox_.size();
  }
  // True when every change queued so far is committed, or written in the
  // store's open and intact transaction: what is saved now (log positions)
  // commits together with them or not at all.
  bool settled() const;
  // Whether flush() has work to do now (not while pausing after a failure).
  bool due(Clock::time_point now = Clock::now()) const { return pending() > 0 && now >= retry_at_; }
  // The store failed and has not worked since.
  bool failing() const { return failing_; }
  // Called when the store starts failing (the error) and when it works again
  // (ok): once per change, not per row. `unsaved` is unsaved() then.
  void on_health(std::function<void(const Status&, size_t unsaved)> fn) { on_health_ = std::move(fn); }
  // Events dropped because kMaxQueuedEvents were waiting.
  size_t dropped_events() const { return dropped_events_; }

  // Writes up to max_rows queued cidrs, and the queued history and events, in
  // one transaction (joining an open one), ban rows in key order (the table's
  // index then grows at its end). On an error the rest stays queued.
  Status flush(size_t max_rows = SIZE_MAX);

 private:
  void committed(const Status& st);  // the store's outermost commit, or its failure
  bool has_written() const {         // rows in the open transaction
    return !written_.empty() || !written_history_.empty() || !written_events_.empty() ||
           !written_outbox_.empty();
  }
  void failed(const Status& st);

  StateStore& store_;
  std::function<const BanRecord*(const Cidr&)> current_;
  std::function<void(const Status&, size_t)> on_health_;
  std::vector<Cidr> incoming_;                       // marked since the batch began
  std::vector<std::pair<std::string, Cidr>> batch_;  // being written: text key, cidr
  size_t next_ = 0;
  std::vector<BanRecord> history_;  // increments not written yet
  std::vector<EventRecord> events_;
  struct OutboxChange {
    bool remove = false;  // remove_outbox(row.key, row.seq), else save_outbox(row)
    OutboxRow row;
  };
  std::vector<OutboxChange> outbox_;
  // Written in the open transaction: queued again if it does not commit.
  std::vector<Cidr> written_;
  std::vector<BanRecord> written_history_;
  std::vector<EventRecord> written_events_;
  std::vector<OutboxChange> written_outbox_;
  bool failing_ = false;
  bool error_in_txn_ = false;  // a write failed since the last commit
  Clock::time_point retry_at_{};
  size_t dropped_events_ = 0;
};

}  // namespace xdpban
