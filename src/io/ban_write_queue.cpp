#include "io/ban_write_queue.h"

#include <algorithm>

namespace xdpban {

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

Status BanWriteQueue::flush(size_t max_rows) {
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
  if (auto st = store_.begin(); !st) return st;
  for (; next_ < end; ++next_) {
    const Cidr& c = batch_[next_].second;
    const BanRecord* b = current_(c);
    Status st = b ? store_.save_ban(*b) : store_.remove_ban(c);
    if (!st) {
      (void)store_.commit();
      return st;
    }
  }
  if (next_ == batch_.size()) {
    batch_.clear();
    batch_.shrink_to_fit();
    next_ = 0;
  }
  return store_.commit();
}

}  // namespace xdpban
