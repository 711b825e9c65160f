// ban_write_queue.h - write-behind for the ban rows of the SQLite store: the
// BanStore that BanManager writes to. A change only marks its cidr; flush()
// writes the ban as it is then (or deletes its row) in bounded transactions
// from the event loop. A single ban reaches SQLite in the same loop round; a
// 1M-entry import is enforced in the maps at once and stored over the next
// rounds without holding the loop for the seconds SQLite needs. Whatever is
// still queued at a crash is in the maps, and the next start adopts it.
// Does not decide anything, and does not queue ban history (written at once).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/ban_manager.h"
#include "io/state_store.h"

namespace xdpban {

class BanWriteQueue : public BanStore {
 public:
  // `current` gives the active ban of a cidr, or nullptr once it is gone.
  BanWriteQueue(StateStore& store, std::function<const BanRecord*(const Cidr&)> current)
      : store_(store), current_(std::move(current)) {}

  Status save_ban(const BanRecord& ban) override;
  Status save_bans(const std::vector<const BanRecord*>& bans) override;
  Status remove_ban(const Cidr& cidr) override;
  Status add_history(const BanRecord& ban) override { return store_.add_history(ban); }

  size_t pending() const { return incoming_.size() + (batch_.size() - next_); }
  // Writes up to max_rows queued cidrs in one transaction, in key order (the
  // table's index then grows at its end). On an error the rest stays queued.
  Status flush(size_t max_rows = SIZE_MAX);

 private:
  StateStore& store_;
  std::function<const BanRecord*(const Cidr&)> current_;
  std::vector<Cidr> incoming_;                       // marked since the batch began
  std::vector<std::pair<std::string, Cidr>> batch_;  // being written: text key, cidr
  size_t next_ = 0;
};

}  // namespace xdpban
