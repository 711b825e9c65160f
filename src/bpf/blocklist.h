// blocklist.h - bans and allow entries in the pinned maps: what the CLI and the
// daemon write through (the BanSink over BPF). Hosts go to the host hash maps
// (and IPv4 hosts also to the mmapped index the program reads), networks to
// the LPM tries; prefilters are kept in step. Writers hold an exclusive lock on the pin
// directory for the object's lifetime. Does not own policy (who gets banned).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/host_table.h"
#include "core/cidr.h"
#include "core/result.h"
#include "io/fd.h"
#include "xdpban/abi.h"

namespace xdpban {

struct BanInfo {
  Cidr cidr;
  uint64_t expires_ns = 0;  // CLOCK_BOOTTIME; 0 = permanent
  uint16_t jail = 0;
  uint8_t flags = 0;
};

// CLOCK_BOOTTIME now, in ns (the clock the XDP program compares against).
uint64_t boottime_ns();

struct TableUsage {
  size_t hosts4 = 0, hosts6 = 0;  // entries in the host maps
  size_t slots4 = 0, slots6 = 0;  // their capacity
  size_t nets4 = 0, nets6 = 0;    // entries in the network tries
  size_t spilled4 = 0;            // IPv4 hosts the index had no room for (looked up in the hash map)
};

class Blocklist {
 public:
  enum class Access { kRead, kWrite };
  // Fails with ENOENT when the maps do not exist (nothing created here).
  static Result<std::unique_ptr<Blocklist>> open(const std::string& pin_dir, Access access);

  Status ban(const BanInfo& ban);  // inserts or updates (prolongs) the entry for ban.cidr
  // Many bans: hosts reach their hash maps in batches (a syscall per 8192,
  // not per ban), networks one by one. One status per ban, in order: a full
  // map fails only the bans that did not fit.
  std::vector<Status> ban_many(const std::vector<BanInfo>& bans);
  Result<bool> unban(const Cidr& cidr);  // false: there was no entry for exactly this cidr
  Result<size_t> unban_all();
  Result<std::optional<BanInfo>> find(const Cidr& cidr) const;
  Result<std::vector<BanInfo>> list() const;

  Status allow_add(const Cidr& cidr);
  Result<bool> allow_del(const Cidr& cidr);
  Result<std::vector<Cidr>> allow_list() const;
  // The allow entry (longest prefix) covering a, if any.
  Result<std::optional<Cidr>> allowed_by(const Address& a) const;

  Result<xdpban_stats> stats() const;  // summed over CPUs
  Result<TableUsage> usage();          // counts on first call (and recounts spilled hosts after a batch)

  // Jail names live in the pinned jail map so listings work without a daemon.
  // When all XDPBAN_MAX_JAILS ids are taken, names no ban refers to are freed.
  Result<uint16_t> jail_id(const std::string& name);  // finds or registers
  std::string jail_name(uint16_t id) const;
  // Jail names freed so far by this object: a cache of names by id made
  // before a change of this count may be stale.
  uint64_t jails_reclaimed() const { return jails_reclaimed_; }

  // Which set of maps this is: their hash seed, drawn at random when they were
  // created. A value other than the one seen last means the maps were made
  // anew (a reboot, or the pins removed), not merely edited.
  uint32_t instance() const { return seed_; }

  // Recomputes prefilters and index marks that deletions left stale, and
  // moves the index's expiry epoch on when it grows old (cheap to call often).
  Status maintain(bool force = false);

  // Puts IPv4 hosts of the host map that the program's index lacks back into
  // it (a writer killed between the map write and the index write leaves a
  // ban listed but not enforced) and rebuilds the Bloom filters and index
  // marks: one pass over the host maps (~0.7 s at 1M + 1M), so the daemon runs it
  // once after it is ready. Returns how many hosts it put into the index.
  Result<size_t> repair_index();

  ~Blocklist();

 private:
  Blocklist() = default;
  Status put_host(const BanInfo& ban);
  void ban_hosts(const std::vector<BanInfo>& bans, bool v4, std::vector<Status>& out);  // ban_many's hosts
  Result<bool> del_host(const Cidr& cidr);
  Status put_net(const Cidr& cidr, const BanInfo& ban);
  Result<bool> del_net(const Cidr& cidr);
  void guard_add(const Cidr& cidr);
  Status rebuild_guards();
  Result<size_t> rebuild_host_marks();  // Bloom filters, index marks, missing index entries
  Status rebase_epoch(uint64_t now);
  Status write_meta(const xdpban_meta& meta);
  Result<size_t> host_count(int fd) const;
  Status recount_spilled();
  Status set_spilled(uint32_t n);                          // meta.spilled_hosts, written when it changes
  uint64_t host_hash(const uint8_t* addr, bool v4) const;  // the Bloom filters' hash
  Bloom& bloom_of(bool v4);
  Result<int> reclaim_jails();  // the lowest id freed, or -1

  std::string pin_dir_;
  Fd lock_;
  Fd hosts4_, hosts6_, hidx4_, bloom4_, bloom6_, nets4_, nets6_, nguard4_, nguard6_, allow4_, allow6_, stats_,
      meta_, jails_;
  Mapping hidx4_map_, bloom4_map_, bloom6_map_, nguard4_map_, nguard6_map_;
  std::unique_ptr<HostIndex4> index4_;
  std::unique_ptr<Bloom> bloom4_filter_, bloom6_filter_;
  xdpban_meta meta_seen_{};  // meta as last read or written
  uint32_t seed_ = 0;
  mutable std::optional<size_t> hosts4_count_, hosts6_count_;  // counted on first need, then kept in step
  size_t stale_hosts_ = 0;        // host deletions since the prefilters and marks were rebuilt
  bool spilled_unknown_ = false;  // a batch left meta.spilled_hosts to be recounted
  size_t stale_guard_ = 0;
  uint64_t jails_reclaimed_ = 0;
};

}  // namespace xdpban
