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

Result<BanInfo> BpfBanSink::entry_of(const BanRecord& ban) {
  check_cache();
  auto it = jail_ids_.find(ban.jail);
  if (it == jail_ids_.end()) {
    auto id = bl_.jail_id(ban.jail);
    if (!id) return id.error();
    check_cache();
    it = jail_ids_.emplace(ban.jail, *id).first;
  }
  uint64_t expires_ns = 0;
  if (ban.expiry != 0) {
    // At most kMaxDurationSeconds ahead, so the nanoseconds cannot wrap.
    int64_t left = std::min(ban.expiry - unix_now(), kMaxDurationSeconds);
    // Already over: store it expired (1 ns of boot time is long past).
    expires_ns = left <= 0 ? 1 : boottime_ns() + static_cast<uint64_t>(left) * 1000000000ull;
  }
  return BanInfo{ban.cidr, expires_ns, it->second, ban.flags};
}

Status BpfBanSink::insert(const BanRecord& ban) {
  auto e = entry_of(ban);
  if (!e) return e.error();
  return bl_.ban(*e);
}

std::vector<Status> BpfBanSink::insert_many(const std::vector<const BanRecord*>& bans) {
  std::vector<Status> out(bans.size());
  std::vector<BanInfo> entries;
  std::vector<size_t> at;  // the ban each entry is for
  entries.reserve(bans.size());
  for (size_t i = 0; i < bans.size(); ++i) {
    auto e = entry_of(*bans[i]);
    if (!e) {
      out[i] = e.error();
      continue;
    }
    entries.push_back(*e);
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
