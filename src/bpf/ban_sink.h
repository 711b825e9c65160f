// ban_sink.h - BanSink over the pinned maps: turns a BanRecord (wall-clock
// expiry) into a map entry (CLOCK_BOOTTIME expiry, jail id), and back for
// adopting entries written while the daemon was down. Does not decide bans.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bpf/blocklist.h"
#include "core/ban_manager.h"

namespace xdpban {

// Wall-clock unix seconds now.
int64_t unix_now();

class BpfBanSink : public BanSink {
 public:
  explicit BpfBanSink(Blocklist& bl) : bl_(bl) {}
  Status insert(const BanRecord& ban) override;
  std::vector<Status> insert_many(const std::vector<const BanRecord*>& bans) override;  // Blocklist::ban_many
  Status erase(const Cidr& cidr) override;

  // A map entry as a BanRecord (expiry converted to wall-clock seconds).
  BanRecord record_of(const BanInfo& entry) const;

 private:
  // The jail map's names by id, both ways, read once: a 1M-entry reconcile
  // would otherwise make a syscall per entry.
  const std::string& name_of(uint16_t id) const;
  struct Clocks {
    int64_t unix_s;    // wall clock, seconds
    uint64_t boot_ns;  // CLOCK_BOOTTIME
  };
  static uint64_t boot_expiry(int64_t expiry, const Clocks& now);
  Result<uint16_t> jail_id_of(const std::string& jail);
  void check_cache() const;  // drops the caches when the blocklist freed jail ids

  Blocklist& bl_;
  mutable uint64_t reclaimed_ = 0;
  mutable std::map<std::string, uint16_t> jail_ids_;
  mutable std::map<uint16_t, std::string> jail_names_;
};

}  // namespace xdpban
