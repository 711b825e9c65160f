#include "io/ban_write_queue.h"

#include <algorithm>

namespace xdpban {

BanWriteQueue::BanWriteQueue(StateStore& store, std::function<const BanRecord*(const Cidr&)> current)
    : store_(store), current_(std::move(current)) {
  store_.on_commit([this](const Status& st) { committed(st); });
}

BanWriteQueue::~BanWriteQueue() { store_.on_commit(nullptr); }

Status BanWriteQueue::save_ban(const BanRecord& ban) {
  incoming_.push_back(ban.cidr);
  return {};
}

Status BanWriteQueue::save_bans(const std::vector<const BanRecord*>& bans) {
  incoming_.reserve(incoming_.size() + bans.size());
  for (const BanRecord* b : bans) incoming_.push_back(b->cidr);
  return {};
}

Status BanWriteQueue::remove_ban(const Cidr& cidr) {
  incoming_.push_back(cidr);
  return {};
}

Status BanWriteQueue::add_history(const BanRecord& ban) {
  history_.push_back(ban);
  return {};
}

void BanWriteQueue::add_event(const EventRecord& e) {
  if (events_.size() >= kMaxQueuedEvents) {
    ++dropped_events_;
    return;
  }
  events_.push_back(e);
}

void BanWriteQueue::save_outbox(const OutboxRow& row) { outbox_.push_back(OutboxChange{false, row}); }

void BanWriteQueue::remove_outbox(const std::string& key, uint64_t seq) {
  outbox_.push_back(OutboxChange{true, OutboxRow{key, seq, 0, {}}});
}

bool BanWriteQueue::settled() const {
  if (pending() > 0 || error_in_txn_) return false;
  return !has_written() || store_.in_transaction();
}

void BanWriteQueue::failed(const Status& st) {
  error_in_txn_ = true;
  retry_at_ = Clock::now() + kRetryPause;
  if (failing_) return;
  failing_ = true;
  if (on_health_) on_health_(st, unsaved());
}

void BanWriteQueue::committed(const Status& st) {
  bool wrote = has_written();
  if (st) {
    written_.clear();
    written_history_.clear();
    written_events_.clear();
    written_outbox_.clear();
    bool recovered = failing_ && !error_in_txn_ && (wrote || pending() == 0);
    error_in_txn_ = false;
    if (recovered) {
      failing_ = false;
      if (on_health_) on_health_(st, unsaved());
    }
    return;
  }
  // The transaction is gone, and with it what was written in it: queue that again.
  incoming_.insert(incoming_.end(), written_.begin(), written_.end());
  history_.insert(history_.begin(), written_history_.begin(), written_history_.end());
  events_.insert(events_.begin(), written_events_.begin(), written_events_.end());
  outbox_.insert(outbox_.begin(), written_outbox_.begin(), written_outbox_.end());
  written_.clear();
  written_history_.clear();
  written_events_.clear();
  written_outbox_.clear();
  failed(st);
  error_in_txn_ = false;
}

Status BanWriteQueue::flush(size_t max_rows) {
  if (!pending()) return {};
  if (auto st = store_.begin(); !st) {
    failed(st);
    error_in_txn_ = false;  // no transaction to end
    return st;
  }
  auto write = [&]() -> Status {
    // An error elsewhere (SQLITE_FULL) may have rolled the open transaction
    // back: rows written now would commit one by one, outside it.
    if (!store_.in_transaction()) return make_error(EIO, "database: the open transaction was rolled back");
    size_t h = 0;
    Status st;
    for (; h < history_.size(); ++h)
      if (st = store_.add_history(history_[h]); !st) break;
    written_history_.insert(written_history_.end(), history_.begin(), history_.begin() + h);
    history_.erase(history_.begin(), history_.begin() + h);
    if (!st) return st;
    size_t e = 0;
    for (; e < events_.size(); ++e)
      if (st = store_.add_event(events_[e]); !st) break;
    written_events_.insert(written_events_.end(), events_.begin(), events_.begin() + e);
    events_.erase(events_.begin(), events_.begin() + e);
    if (!st) return st;
    size_t o = 0;
    for (; o < outbox_.size(); ++o) {
      const OutboxChange& ch = outbox_[o];
      if (st = ch.remove ? store_.remove_outbox(ch.row.key, ch.row.seq) : store_.save_outbox(ch.row); !st)
        break;
    }
    written_outbox_.insert(written_outbox_.end(), outbox_.begin(), outbox_.begin() + o);
    outbox_.erase(outbox_.begin(), outbox_.begin() + o);
    if (!st) return st;

    if (next_ == batch_.size()) {
      if (incoming_.empty()) return {};
      batch_.clear();
      batch_.reserve(incoming_.size());
      for (const Cidr& c : incoming_) batch_.emplace_back(c.str(), c);
      incoming_.clear();
      std::sort(batch_.begin(), batch_.end());
      batch_.erase(std::unique(batch_.begin(), batch_.end()), batch_.end());
      next_ = 0;
    }
    size_t end = next_ + std::min(max_rows, batch_.size() - next_);
    for (; next_ < end; ++next_) {
      const Cidr& c = batch_[next_].second;
      const BanRecord* b = current_(c);
      if (st = b ? store_.save_ban(*b) : store_.remove_ban(c); !st) return st;
      written_.push_back(c);
    }
    if (next_ == batch_.size()) {
      batch_.clear();
      batch_.shrink_to_fit();
      next_ = 0;
    }
    return {};
  };
  Status st = write();
  if (!st) failed(st);
  // The outermost commit reports to committed(); a nested one leaves it to the loop's.
  Status c = store_.commit();
  return st ? c : st;
}

}  // namespace xdpban
