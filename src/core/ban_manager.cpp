#include "core/ban_manager.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/duration.h"
#include "xdpban/abi.h"

namespace xdpban {

namespace {
std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n') out += c;
  return out;
}
}  // namespace

Status check_jail_name(const std::string& n) {
  bool ok = !n.empty() && n.size() < XDPBAN_JAIL_NAME_LEN;
  for (char c : n)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok) return invalid("'" + n + "' is not a valid jail name (1-31 characters: letters, digits, - _ .)");
  return {};
}

Result<BanTimePolicy::Formula> BanTimePolicy::parse_formula(const std::string& text) {
  std::string f = squeeze(text);
  if (f.empty() || f == "ban.Time*(1<<(ban.Countifban.Count<20else20))*banFactor") return Formula::kDoubling;
  if (f == "ban.Time*math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)")
    return Formula::kExponential;
  return invalid("'" + text +
                 "' is not a formula xdpban knows (fail2ban's default doubling formula and its math.exp "
                 "variant are supported; bantime.multipliers covers other growth curves)");
}

int64_t BanTimePolicy::duration(int previous, double rnd01) const {
  if (bantime < 0) return -1;
  double t = static_cast<double>(bantime);
  if (increment && previous > 0) {
    if (!multipliers.empty()) {
      size_t i = std::min(static_cast<size_t>(previous), multipliers.size() - 1);
      t = static_cast<double>(bantime) * multipliers[i];
    } else if (formula == Formula::kExponential) {
      t = static_cast<double>(bantime) * std::exp((previous + 1) * factor) / std::exp(factor);
    } else {
      t = static_cast<double>(bantime) * static_cast<double>(1LL << std::min(previous, 20)) * factor;
    }
    if (rndtime > 0) t += rnd01 * static_cast<double>(rndtime);
    if (maxtime > 0) t = std::min(t, static_cast<double>(maxtime));
  }
  // Growth saturates at the longest duration instead of overflowing (inf/inf is NaN).
  if (!(t < static_cast<double>(kMaxDurationSeconds))) return kMaxDurationSeconds;
  return std::max<int64_t>(1, static_cast<int64_t>(t));
}

int BanManager::previous_bans(const std::string& jail, const Cidr& cidr, bool overall) const {
  if (!overall) {
    auto it = history_.find({jail, cidr});
    return it == history_.end() ? 0 : it->second;
  }
  int n = 0;
  for (const auto& [k, v] : history_)
    if (k.second == cidr) n += v;
  return n;
}

Result<BanManager::Outcome> BanManager::ban(const std::string& jail, const Cidr& cidr, int64_t now,
                                            int failures, uint8_t flags, std::optional<int64_t> duration,
                                            double rnd01, bool force) {
  if (guard_ && !force) {
    if (auto why = guard_(jail, cidr)) return Outcome{Outcome::kIgnored, BanRecord{cidr, jail}, *why};
  }
  if (duration)
    if (auto st = check_duration(*duration, true); !st) return st.error();
  const BanTimePolicy policy = policies_.count(jail) ? policies_.at(jail) : BanTimePolicy{};
  int previous = previous_bans(jail, cidr, policy.overalljails);
  int64_t secs = duration ? *duration : policy.duration(previous, rnd01);
  BanRecord rec{cidr, jail, now, secs < 0 ? 0 : now + secs, previous + 1, flags, failures};

  auto it = active_.find(cidr);
  if (it != active_.end()) {
    BanRecord& cur = it->second;
    // Prolong, never shorten: a permanent ban stays permanent.
    if (!outlasts(rec.expiry, cur.expiry)) return Outcome{Outcome::kAlreadyBanned, cur, {}};
    if (!cur.origin.empty()) {
      // Another node's ban, outlasted by this one: it is ours from now on.
      rec.count = cur.count;
      cur = rec;
    } else {
      cur.expiry = rec.expiry;
      cur.failures += failures;
    }
    index(cur);
    if (auto st = sink_.insert(cur); !st) return st.error();
    if (store_) {
      if (auto st = store_->save_ban(cur); !st) return st.error();
    }
    return Outcome{Outcome::kProlonged, cur, {}};
  }
  if (auto st = sink_.insert(rec); !st) return st.error();
  active_[cidr] = rec;
  index(rec);
  history_[{jail, cidr}] += 1;
  if (store_) {
    if (auto st = store_->save_ban(rec); !st) return st.error();
    if (auto st = store_->add_history(rec); !st) return st.error();
  }
  return Outcome{Outcome::kBanned, rec, {}};
}

Result<BanManager::Outcome> BanManager::apply_remote(const BanRecord& remote, int64_t now) {
  BanRecord rec = remote;
  rec.flags |= XDPBAN_BAN_FLEET;
  rec.count = 1;
  if (guard_) {
    if (auto why = guard_(rec.jail, rec.cidr)) return Outcome{Outcome::kIgnored, rec, *why};
  }
  if (rec.expiry != 0 && rec.expiry <= now) return Outcome{Outcome::kIgnored, rec, "expired"};
  auto it = active_.find(rec.cidr);
  if (it == active_.end()) {
    if (auto st = sink_.insert(rec); !st) return st.error();
    active_[rec.cidr] = rec;
    index(rec);
    if (store_) {
      if (auto st = store_->save_ban(rec); !st) return st.error();
    }
    return Outcome{Outcome::kBanned, rec, {}};
  }
  BanRecord& cur = it->second;
  if (!outlasts(rec.expiry, cur.expiry)) return Outcome{Outcome::kAlreadyBanned, cur, {}};
  const BanRecord before = cur;
  if (cur.origin.empty()) {
    cur.expiry = rec.expiry;  // still this node's ban, for longer
  } else {
    rec.count = cur.count;
    cur = rec;
  }
  if (auto st = sink_.insert(cur); !st) {
    cur = before;  // the maps still hold the ban as it was
    return st.error();
  }
  index(cur);
  if (store_) {
    if (auto st = store_->save_ban(cur); !st) return st.error();
  }
  return Outcome{Outcome::kProlonged, cur, {}};
}

Result<BanManager::ImportCounts> BanManager::import(const std::string& jail, const std::vector<Cidr>& cidrs,
                                                    int64_t now, int64_t expiry, uint8_t flags, bool replace,
                                                    std::vector<BanRecord>* removed) {
  ImportCounts n;
  std::vector<Cidr> stale;
  std::vector<const BanRecord*> changed;  // to the store in one go, after the maps
  // Does a ban ending at `theirs` last at least as long as one ending at `ours`?
  auto outlasts = [](int64_t theirs, int64_t ours) { return theirs == 0 || (ours != 0 && theirs >= ours); };
  // Whatever reached the maps reaches the store, also when a later entry fails.
  auto save = [&]() -> Status { return store_ ? store_->save_bans(changed) : Status{}; };
  // What goes to the maps, in one go after the pass: a new record, or a
  // changed one with what it was (to put back when the maps refuse it).
  struct Pending {
    std::map<Cidr, BanRecord>::iterator at;
    std::optional<BanRecord> before;
    size_t* count;
  };
  std::vector<Pending> pending;
  pending.reserve(cidrs.size());
  changed.reserve(cidrs.size());
  // One pass over both sorted sequences.
  auto it = active_.begin();
  for (const Cidr& c : cidrs) {
    for (; it != active_.end() && it->first < c; ++it)
      if (replace && it->second.jail == jail) stale.push_back(it->first);
    if (it == active_.end() || c < it->first) {
      it = active_.emplace_hint(it, c, BanRecord{c, jail, now, expiry, 1, flags, 0});
      pending.push_back(Pending{it++, std::nullopt, &n.added});
      continue;
    }
    BanRecord& cur = it->second;
    bool live = cur.expiry == 0 || cur.expiry > now;
    size_t* count = &n.added;
    if (live && cur.jail == jail) {
      count = &n.already;
      if (cur.expiry == expiry && cur.flags == flags) {
        ++n.already;
        ++it;
        continue;
      }
    } else if (live && outlasts(cur.expiry, expiry)) {
      ++n.kept;  // its own jail keeps it; a --replace of this jail never removes it
      ++it;
      continue;
    }
    pending.push_back(Pending{it, cur, count});
    if (count == &n.already) {
      cur.expiry = expiry;
      cur.flags = flags;
    } else {
      cur = BanRecord{c, jail, now, expiry, 1, flags, 0};
    }
    ++it;
  }
  std::vector<const BanRecord*> records;
  records.reserve(pending.size());
  for (const auto& p : pending) records.push_back(&p.at->second);
  std::vector<Status> done = sink_.insert_many(records);
  std::optional<Error> failed;
  for (size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    if (done[i]) {
      index(p.at->second);
      changed.push_back(&p.at->second);
      ++*p.count;
      continue;
    }
    // Not in the maps: not a ban (or still the ban it was).
    if (p.before)
      p.at->second = *p.before;
    else
      active_.erase(p.at);
    const Error& e = done[i].error();
    if (BanSink::is_full(e)) {  // a full table: the next entries may still fit
      if (n.not_loaded++ == 0) n.not_loaded_reason = e.message;
    } else if (!failed) {
      failed = e;
    }
  }
  if (failed) {
    (void)save();
    return *failed;
  }
  if (auto st = save(); !st) return st.error();
  if (n.not_loaded > 0) return n;  // the old entries stay: the new set is not wholly in force
  for (; replace && it != active_.end(); ++it)
    if (it->second.jail == jail) stale.push_back(it->first);
  // Only now that the whole new set is enforced do the old entries go.
  for (const Cidr& c : stale) {
    auto r = unban(c);
    if (!r) return r.error();
    if (removed) removed->push_back(**r);
    ++n.removed;
  }
  return n;
}

Result<std::optional<BanRecord>> BanManager::unban(const Cidr& cidr) {
  auto it = active_.find(cidr);
  if (it == active_.end()) return std::optional<BanRecord>{};
  if (auto st = sink_.erase(cidr); !st) return st.error();
  BanRecord rec = it->second;
  active_.erase(it);
  if (store_) {
    if (auto st = store_->remove_ban(cidr); !st) return st.error();
  }
  return std::optional<BanRecord>{rec};
}

void BanManager::index(const BanRecord& b) {
  if (!b.expiry) return;
  by_expiry_.emplace_back(b.expiry, b.cidr);
  std::push_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
  // Many unbans or prolongs: rebuild from the active bans so stale entries stay bounded.
  if (by_expiry_.size() > 2 * active_.size() + 1024) {
    by_expiry_.clear();
    for (const auto& [c, r] : active_)
      if (r.expiry) by_expiry_.emplace_back(r.expiry, c);
    std::make_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
  }
}

void BanManager::drop_stale() const {
  while (!by_expiry_.empty()) {
    const Expiry& top = by_expiry_.front();
    auto it = active_.find(top.second);
    if (it != active_.end() && it->second.expiry == top.first) return;
    std::pop_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
    by_expiry_.pop_back();
  }
}

std::vector<BanRecord> BanManager::expire(int64_t now) {
  std::vector<BanRecord> out;
  for (drop_stale(); !by_expiry_.empty() && by_expiry_.front().first <= now; drop_stale()) {
    Cidr cidr = by_expiry_.front().second;
    std::pop_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
    by_expiry_.pop_back();
    auto it = active_.find(cidr);
    // The program ignores expired entries already; removal frees the slot.
    (void)sink_.erase(cidr);
    if (store_) (void)store_->remove_ban(cidr);
    out.push_back(it->second);
    active_.erase(it);
  }
  return out;
}

std::optional<int64_t> BanManager::next_expiry() const {
  drop_stale();
  if (by_expiry_.empty()) return std::nullopt;
  return by_expiry_.front().first;
}

void BanManager::restore(std::vector<BanRecord> active, std::map<std::pair<std::string, Cidr>, int> history) {
  history_ = std::move(history);
  // Sorted input makes every insert O(1) (a hint at the end): 1M bans in a fraction of a second.
  auto by_cidr = [](const BanRecord& a, const BanRecord& b) { return a.cidr < b.cidr; };
  if (!std::is_sorted(active.begin(), active.end(), by_cidr))
    std::sort(active.begin(), active.end(), by_cidr);
  by_expiry_.clear();
  for (auto& b : active) {
    if (b.expiry) by_expiry_.emplace_back(b.expiry, b.cidr);
    Cidr c = b.cidr;
    active_.emplace_hint(active_.end(), c, std::move(b));
  }
  std::make_heap(by_expiry_.begin(), by_expiry_.end(), std::greater<>());
}

}  // namespace xdpban
