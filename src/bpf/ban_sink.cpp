#include "bpf/ban_sink.h"

#include <time.h>

#include <algorithm>

#include "core/duration.h"

namespace xdpban {

int64_t unix_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

void BpfBanSink::check_cache() const {
  if (reclaimed_ == bl_.jails_reclaimed()) return;
  reclaimed_ = bl_.jails_reclaimed();  // ids were freed and may be reused: ask the map again
  jail_ids_.clear();
  jail_names_.clear();
}

Result<uint16_t> BpfBanSink::jail_id_of(const std::string& jail) {
  check_cache();
  auto it = jail_ids_.find(jail);
  if (it == jail_ids_.end()) {
    auto id = bl_.jail_id(jail);
    if (!id) return id.error();
    check_cache();
    it = jail_ids_.emplace(jail, *id).first;
  }
  return it->second;
}

// A ban's expiry on the boot clock the program reads, from wall-clock seconds.
uint64_t BpfBanSink::boot_expiry(int64_t expiry, const Clocks& now) {
  if (expiry == 0) return 0;
  // At most kMaxDurationSeconds ahead, so the nanoseconds cannot wrap.
  int64_t left = std::min(expiry - now.unix_s, kMaxDurationSeconds);
  // Already over: store it expired (1 ns of boot time is long past).
  return left <= 0 ? 1 : now.boot_ns + static_cast<uint64_t>(left) * 1000000000ull;
}

Status BpfBanSink::insert(const BanRecord& ban) {
  auto id = jail_id_of(ban.jail);
  if (!id) return id.error();
  return bl_.ban(
      BanInfo{ban.cidr, boot_expiry(ban.expiry, Clocks{unix_now(), boottime_ns()}), *id, ban.flags});
}

// The clocks are read once for the whole list (a 1M-entry import made two
// clock reads per entry), and the jail's id looked up once per run of
// entries of one jail.
std::vector<Status> BpfBanSink::insert_many(const std::vector<const BanRecord*>& bans) {
  std::vector<Status> out(bans.size());
  std::vector<BanInfo> entries;
  std::vector<size_t> at;  // the ban each entry is for
  entries.reserve(bans.size());
  at.reserve(bans.size());
  const Clocks now{unix_now(), boottime_ns()};
  const std::string* last_jail = nullptr;
  Result<uint16_t> last_id = uint16_t{0};
  for (size_t i = 0; i < bans.size(); ++i) {
    const BanRecord& b = *bans[i];
    if (!last_jail || b.jail != *last_jail) {
      last_jail = &b.jail;
      last_id = jail_id_of(b.jail);
    }
    if (!last_id) {
      out[i] = last_id.error();
      continue;
    }
    entries.push_back(BanInfo{b.cidr, boot_expiry(b.expiry, now), *last_id, b.flags});
    at.push_back(i);
  }
  auto done = bl_.ban_many(entries);
  for (size_t k = 0; k < done.size(); ++k) out[at[k]] = std::move(done[k]);
  return out;
}

Status BpfBanSink::erase(const Cidr& cidr) {
  auto r = bl_.unban(cidr);
  if (!r) return r.error();
  return {};
}

const std::string& BpfBanSink::name_of(uint16_t id) const {
  check_cache();
  auto it = jail_names_.find(id);
  if (it == jail_names_.end()) it = jail_names_.emplace(id, bl_.jail_name(id)).first;
  return it->second;
}

BanRecord BpfBanSink::record_of(const BanInfo& e) const {
  BanRecord r;
  r.cidr = e.cidr;
  r.jail = name_of(e.jail);
  r.flags = e.flags;
  int64_t now = unix_now();
  r.start = now;
  if (e.expires_ns != 0) {
    uint64_t boot = boottime_ns();
    r.expiry = e.expires_ns > boot ? now + static_cast<int64_t>((e.expires_ns - boot) / 1000000000ull) : now;
    if (r.expiry == 0) r.expiry = 1;
  }
  return r;
}

}  // namespace xdpban
