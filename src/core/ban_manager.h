// ban_manager.h - the table of active bans: how long a ban lasts (bantime and
// fail2ban's increment for repeat offenders), prolonging instead of duplicating,
// the allow-list guard, and expiry. Writes through BanSink (the BPF maps) and
// BanStore (SQLite); sees time only as arguments. Does not count failures
// (FailureTracker) or know where a ban came from beyond its jail and, for a
// ban another node of the fleet published, that node's name.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cidr.h"
#include "core/result.h"

namespace xdpban {

struct BanRecord {
  Cidr cidr;
  std::string jail;
  int64_t start = 0;   // unix seconds
  int64_t expiry = 0;  // unix seconds; 0 = permanent
  int count = 1;       // bans of this address so far, this one included
  uint8_t flags = 0;   // XDPBAN_BAN_*
  int failures = 0;    // failures that led to it (0 for manual bans)
  std::string origin;  // "" = this node; else the fleet node that published it (flags has XDPBAN_BAN_FLEET)
};

// Whether a ban until `expiry` ends later than one until `other` (unix
// seconds; 0 = permanent, which nothing outlasts).
constexpr bool outlasts(int64_t expiry, int64_t other) {
  return other != 0 && (expiry == 0 || expiry > other);
}

// Jail names travel in the maps (XDPBAN_JAIL_NAME_LEN): 1-31 characters,
// letters, digits, - _ . ; the error names the input.
Status check_jail_name(const std::string& name);

// Where bans are enforced (the BPF maps).
class BanSink {
 public:
  // A sink error that means "no room for this entry" (ENOSPC, or E2BIG as
  // the kernel says for a full map): an import goes on with the next entry.
  static bool is_full(const Error& e) { return e.code == ENOSPC || e.code == E2BIG; }

  virtual ~BanSink() = default;
  virtual Status insert(const BanRecord& ban) = 0;  // insert or update
  virtual Status erase(const Cidr& cidr) = 0;
  // Many at once, a status each in order (a full map fails only what did not
  // fit); a sink may write them faster than one by one.
  virtual std::vector<Status> insert_many(const std::vector<const BanRecord*>& bans) {
    std::vector<Status> out;
    out.reserve(bans.size());
    for (const BanRecord* b : bans) out.push_back(insert(*b));
    return out;
  }
};

// Where bans are remembered (survives reboots).
class BanStore {
 public:
  virtual ~BanStore() = default;
  virtual Status save_ban(const BanRecord& ban) = 0;  // insert or replace the active ban
  // Many at once (an import); a store may order them to write faster.
  virtual Status save_bans(const std::vector<const BanRecord*>& bans) {
    for (const BanRecord* b : bans)
      if (auto st = save_ban(*b); !st) return st;
    return {};
  }
  virtual Status remove_ban(const Cidr& cidr) = 0;
  virtual Status add_history(const BanRecord& ban) = 0;  // one more ban of ban.cidr in ban.jail
};

// bantime and its increment, with fail2ban's option names.
struct BanTimePolicy {
  int64_t bantime = 600;  // seconds; -1 = permanent
  bool increment = false;
  double factor = 1;
  std::vector<double> multipliers;  // bantime.multipliers; empty = use the formula
  enum class Formula { kDoubling, kExponential } formula = Formula::kDoubling;
  int64_t maxtime = 0;  // 0 = no cap
  int64_t rndtime = 0;  // up to this many random seconds added
  bool overalljails = false;

  // Parses a bantime.formula; only fail2ban's two documented formulas are known.
  static Result<Formula> parse_formula(const std::string& text);
  // Duration in seconds (-1 = permanent) for a ban after `previous` earlier bans;
  // rnd01 in [0,1) feeds rndtime.
  int64_t duration(int previous, double rnd01) const;
};

class BanManager {
 public:
  BanManager(BanSink& sink, BanStore* store) : sink_(sink), store_(store) {}

  void set_policy(const std::string& jail, const BanTimePolicy& policy) { policies_[jail] = policy; }
  // A predicate that vetoes bans (ignoreip, ignoreself, the allow list).
  void set_guard(std::function<std::optional<std::string>(const std::string& jail, const Cidr&)> guard) {
    guard_ = std::move(guard);
  }

  struct Outcome {
    enum Kind { kBanned, kProlonged, kAlreadyBanned, kIgnored } kind = kBanned;
    BanRecord ban;       // the ban as now in force (or as it was, for kAlreadyBanned)
    std::string reason;  // kIgnored: why
  };
  // `duration` overrides the jail's policy (manual bans); -1 = permanent.
  // `force` skips the guard (an admin's explicit --force). A ban that outlasts
  // an active fleet ban (origin set) of the cidr takes it over: it becomes this
  // node's ban of `jail` (origin "", `flags`), which this node publishes.
  Result<Outcome> ban(const std::string& jail, const Cidr& cidr, int64_t now, int failures, uint8_t flags = 0,
                      std::optional<int64_t> duration = std::nullopt, double rnd01 = 0, bool force = false);
  // A blocklist loaded into `jail` (xdpban import): `cidrs` sorted in Cidr
  // order without repeats, each banned until `expiry` (unix seconds, 0 =
  // permanent) with `flags`. An entry the jail lists already takes the new
  // expiry; one another jail bans live at least as long stays with that jail;
  // an expired or shorter one is taken over. With `replace`, the jail's bans
  // missing from `cidrs` are removed (into `removed`) only after every new
  // entry is in force, so neither set ever stops being enforced. No guard and
  // no ban history: a list is not a repeat offence; the caller checks first.
  // A full table (the sink says ENOSPC or E2BIG) does not stop an import: the
  // entries that fit are loaded, the others counted in not_loaded with the
  // sink's first message, and `replace` then removes nothing.
  struct ImportCounts {
    size_t added = 0, already = 0, kept = 0, removed = 0;
    size_t not_loaded = 0;
    std::string not_loaded_reason;
  };
  Result<ImportCounts> import(const std::string& jail, const std::vector<Cidr>& cidrs, int64_t now,
                              int64_t expiry, uint8_t flags, bool replace, std::vector<BanRecord>* removed);
  // A ban another node published (remote.origin set; remote.flags gets
  // XDPBAN_BAN_FLEET added). The guard applies (kIgnored with its reason); an
  // expired one (expiry != 0 && expiry <= now) is kIgnored "expired". No active
  // ban: kBanned with remote's jail/start/expiry/failures/origin, count 1 and
  // no history increment (not a repeat offence here). Active ban: if
  // fleet_record_wins(remote, active) -> kProlonged with remote's expiry; a
  // local ban (origin "") stays local (keeps its jail, origin, flags, start
  // and failures), a remote one becomes remote's record (jail, origin, start,
  // failures, flags); else kAlreadyBanned. Writes through sink and store as
  // ban() does.
  Result<Outcome> apply_remote(const BanRecord& remote, int64_t now);
  // The ban removed, if there was one for exactly this cidr.
  Result<std::optional<BanRecord>> unban(const Cidr& cidr);
  // Removes every ban whose expiry has come; returns them.
  std::vector<BanRecord> expire(int64_t now);
  std::optional<int64_t> next_expiry() const;

  // Start-up: bans and ban counts from the store (sink and store untouched);
  // into an empty manager. Fastest with `active` sorted by cidr.
  void restore(std::vector<BanRecord> active, std::map<std::pair<std::string, Cidr>, int> history);

  const std::map<Cidr, BanRecord>& active() const { return active_; }
  int previous_bans(const std::string& jail, const Cidr& cidr, bool overall) const;

 private:
  BanSink& sink_;
  BanStore* store_;
  std::map<std::string, BanTimePolicy> policies_;
  std::function<std::optional<std::string>(const std::string&, const Cidr&)> guard_;
  // by_expiry_ is a min-heap with lazy deletion: an unban or a prolong leaves
  // the old entry behind, and expire() skips entries that no longer match the
  // active ban. Building it from 1M restored bans is one make_heap.
  using Expiry = std::pair<int64_t, Cidr>;
  void index(const BanRecord& b);
  void drop_stale() const;

  std::map<Cidr, BanRecord> active_;
  mutable std::vector<Expiry> by_expiry_;                // timed bans, soonest on top (std::greater)
  std::map<std::pair<std::string, Cidr>, int> history_;  // (jail, cidr) -> bans so far
};

}  // namespace xdpban
