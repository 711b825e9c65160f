#include "bpf/blocklist.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>
#include <unordered_set>

#include "core/ban_manager.h"

namespace xdpban {

namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

// Address of a temporary key, valid for the full expression it is used in.
template <typename T>
const T* ptr(const T& t) {
  return &t;
}

struct MapInfo {
  uint32_t max_entries = 0;
  uint32_t value_size = 0;
};

Result<MapInfo> map_info(int fd, const std::string& path) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return make_error(errno, "cannot inspect " + path + ": " + errstr(errno));
  return MapInfo{info.max_entries, info.value_size};
}

template <typename Key>
std::vector<Key> lpm_keys(int fd) {
  std::vector<Key> keys;
  Key k{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    k = next;
    prev = &k;
  }
  return keys;
}

bool is_pow2(uint32_t n) { return n && (n & (n - 1)) == 0; }

xdpban_lpm4_key key4(const Cidr& c) {
  xdpban_lpm4_key k{};
  k.prefixlen = c.prefix;
  std::memcpy(k.addr, c.addr.bytes.data(), 4);
  return k;
}

xdpban_lpm6_key key6(const Cidr& c) {
  xdpban_lpm6_key k{};
  k.prefixlen = c.prefix;
  std::memcpy(k.addr, c.addr.bytes.data(), 16);
  return k;
}

template <typename Key>
Cidr cidr_of(const Key& k) {
  Cidr c;
  c.addr.family = sizeof(k.addr) == 4 ? Family::V4 : Family::V6;
  std::memcpy(c.addr.bytes.data(), k.addr, sizeof(k.addr));
  c.prefix = static_cast<uint8_t>(k.prefixlen);
  return c;
}

// Reads a host hash map in batches: f(key, value) for every entry.
template <typename Key, typename F>
Status for_each_host(int fd, F&& f) {
  constexpr uint32_t kChunk = 16384;
  std::vector<Key> keys(kChunk);
  std::vector<xdpban_ban> vals(kChunk);
  uint32_t batch = 0;
  for (bool first = true;; first = false) {
    uint32_t n = kChunk;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &batch, &batch, keys.data(), vals.data(), &n, &opts);
    int e = errno;
    for (uint32_t i = 0; i < n; ++i) f(keys[i], vals[i]);
    if (err == 0) continue;
    if (e == ENOENT) return {};
    return make_error(e, std::string("cannot read a host map: ") + errstr(e));
  }
}

template <typename Key>
BanInfo host_ban(const Key& k, const xdpban_ban& v) {
  BanInfo b;
  b.cidr.addr.family = sizeof(k.addr) == 4 ? Family::V4 : Family::V6;
  std::memcpy(b.cidr.addr.bytes.data(), k.addr, sizeof(k.addr));
  b.cidr.prefix = static_cast<uint8_t>(b.cidr.addr.bits());
  b.expires_ns = v.expires_ns;
  b.jail = v.jail;
  b.flags = v.flags;
  return b;
}

// The value of a ban's entry, in the host maps and the network tries alike.
xdpban_ban ban_value(const BanInfo& b) {
  return xdpban_ban{b.expires_ns, b.jail, b.flags, b.cidr.prefix, {}};
}

// The index's expiry codes count from an epoch; past this age it moves on,
// well before codes saturate (0xfffe units, ~52 days).
constexpr uint64_t kEpochMaxAgeNs = 7ull * 86400 * 1000000000;

void set_bit(uint64_t* words, uint32_t bit) {
  __atomic_fetch_or(&words[bit >> 6], uint64_t{1} << (bit & 63), __ATOMIC_RELEASE);
}

constexpr uint32_t kGuardBits = 1u << XDPBAN_NGUARD4_BITS;

// Marks every prefilter bit a network needs (a superset is always safe).
void guard_bits(const Cidr& c, uint32_t seed, uint64_t* words) {
  if (c.addr.family == Family::V4) {
    const auto& b = c.addr.bytes;
    uint32_t block = (uint32_t{b[0]} << 12) | (uint32_t{b[1]} << 4) | (b[2] >> 4);
    uint32_t n = c.prefix >= XDPBAN_NGUARD4_BITS ? 1 : 1u << (XDPBAN_NGUARD4_BITS - c.prefix);
    for (uint32_t i = 0; i < n; ++i) set_bit(words, block + i);
    return;
  }
  if (c.prefix >= XDPBAN_NGUARD6_PREFIX) {
    set_bit(words, static_cast<uint32_t>(xdpban_hash6_block(c.addr.bytes.data(), seed)) & (kGuardBits - 1));
    return;
  }
  uint64_t n = uint64_t{1} << (XDPBAN_NGUARD6_PREFIX - c.prefix);
  if (n > (1u << 16)) {  // a huge IPv6 network: every block may be covered
    for (uint32_t w = 0; w < kGuardBits / 64; ++w)
      __atomic_store_n(&words[w], ~uint64_t{0}, __ATOMIC_RELEASE);
    return;
  }
  auto a = c.addr.bytes;
  uint32_t base = xdpban_load32(a.data());
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t top = base + static_cast<uint32_t>(i);
    a[0] = uint8_t(top >> 24), a[1] = uint8_t(top >> 16), a[2] = uint8_t(top >> 8), a[3] = uint8_t(top);
    set_bit(words, static_cast<uint32_t>(xdpban_hash6_block(a.data(), seed)) & (kGuardBits - 1));
  }
}

}  // namespace

uint64_t boottime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Result<std::unique_ptr<Blocklist>> Blocklist::open(const std::string& pin_dir, Access access) {
  std::unique_ptr<Blocklist> bl(new Blocklist());
  bl->pin_dir_ = pin_dir;
  bool write = access == Access::kWrite;
  if (write) {
    bl->lock_.reset(::open(pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!bl->lock_.valid()) {
      if (errno == ENOENT)
        return make_error(ENOENT, "no xdpban maps in " + pin_dir + ": run 'xdpban attach IFACE'");
      return make_error(errno, "cannot open " + pin_dir + ": " + errstr(errno));
    }
    if (flock(bl->lock_.get(), LOCK_EX | LOCK_NB) != 0)
      return make_error(EBUSY, "another xdpban process is writing the maps in " + pin_dir + " (the daemon?)");
  }
  struct Want {
    const char* name;
    Fd* fd;
  } wants[] = {{XDPBAN_MAP_HOSTS4, &bl->hosts4_},   {XDPBAN_MAP_HOSTS6, &bl->hosts6_},
               {XDPBAN_MAP_HIDX4, &bl->hidx4_},     {XDPBAN_MAP_BLOOM4, &bl->bloom4_},
               {XDPBAN_MAP_BLOOM6, &bl->bloom6_},   {XDPBAN_MAP_NETS4, &bl->nets4_},
               {XDPBAN_MAP_NETS6, &bl->nets6_},     {XDPBAN_MAP_NGUARD4, &bl->nguard4_},
               {XDPBAN_MAP_NGUARD6, &bl->nguard6_}, {XDPBAN_MAP_ALLOW4, &bl->allow4_},
               {XDPBAN_MAP_ALLOW6, &bl->allow6_},   {XDPBAN_MAP_STATS, &bl->stats_},
               {XDPBAN_MAP_META, &bl->meta_},       {XDPBAN_MAP_JAILS, &bl->jails_}};
  for (auto& w : wants) {
    std::string path = pin_dir + "/" + w.name;
    w.fd->reset(bpf_obj_get(path.c_str()));
    if (!w.fd->valid()) {
      int e = errno;
      if (e == ENOENT)
        return make_error(ENOENT, "no xdpban maps in " + pin_dir + ": run 'xdpban attach IFACE'");
      if (e == EPERM || e == EACCES)
        return make_error(e, "cannot open " + path + ": permission denied (run as root)");
      return make_error(e, "cannot open " + path + ": " + errstr(e));
    }
  }
  uint32_t zero = 0;
  xdpban_meta meta{};
  if (bpf_map_lookup_elem(bl->meta_.get(), &zero, &meta) != 0)
    return make_error(errno, "cannot read " XDPBAN_MAP_META ": " + errstr(errno));
  if (meta.abi_version != XDPBAN_ABI_VERSION)
    return make_error(EPROTO, "maps in " + pin_dir + " use ABI version " + std::to_string(meta.abi_version) +
                                  ", this build speaks " + std::to_string(XDPBAN_ABI_VERSION));

  int prot = write ? PROT_READ | PROT_WRITE : PROT_READ;
  auto map_array = [&](Fd& fd, const char* name, Mapping* out, uint32_t* entries,
                       bool pow2 = true) -> Status {
    std::string path = pin_dir + "/" + name;
    auto info = map_info(fd.get(), path);
    if (!info) return info.error();
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t len = (size_t{info->value_size} * info->max_entries + page - 1) / page * page;
    void* p = mmap(nullptr, len, prot, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return make_error(errno, "cannot mmap " + path + ": " + errstr(errno));
    *out = Mapping(p, len);
    *entries = info->max_entries;
    if (pow2 && !is_pow2(info->max_entries)) return make_error(EPROTO, path + ": size is not a power of two");
    return {};
  };
  uint32_t l4 = 0, b4 = 0, b6 = 0, g4 = 0, g6 = 0;
  for (auto st : {map_array(bl->hidx4_, XDPBAN_MAP_HIDX4, &bl->hidx4_map_, &l4, false),
                  map_array(bl->bloom4_, XDPBAN_MAP_BLOOM4, &bl->bloom4_map_, &b4),
                  map_array(bl->bloom6_, XDPBAN_MAP_BLOOM6, &bl->bloom6_map_, &b6),
                  map_array(bl->nguard4_, XDPBAN_MAP_NGUARD4, &bl->nguard4_map_, &g4),
                  map_array(bl->nguard6_, XDPBAN_MAP_NGUARD6, &bl->nguard6_map_, &g6)})
    if (!st) return st.error();
  if (g4 * 64 != kGuardBits || g6 * 64 != kGuardBits)
    return make_error(EPROTO, "network prefilter has the wrong size");
  if (l4 < XDPBAN_HIDX_MIN_LINES || l4 != meta.hidx4_lines)
    return make_error(EPROTO, "host index in " + pin_dir + " has the wrong size");
  bl->seed_ = meta.hash_seed;
  bl->meta_seen_ = meta;
  bl->index4_ = std::make_unique<HostIndex4>(bl->hidx4_map_.as<xdpban_hidx4_line>(), l4, meta.hash_seed);
  bl->bloom4_filter_ = std::make_unique<Bloom>(bl->bloom4_map_.as<uint64_t>(), b4);
  bl->bloom6_filter_ = std::make_unique<Bloom>(bl->bloom6_map_.as<uint64_t>(), b6);
  return bl;
}

Blocklist::~Blocklist() = default;

Status Blocklist::put_net(const Cidr& c, const BanInfo& ban) {
  xdpban_ban v = ban_value(ban);
  // The prefilter bit goes in first so the program never skips a live entry.
  guard_add(c);
  int err = c.addr.family == Family::V4 ? bpf_map_update_elem(nets4_.get(), ptr(key4(c)), &v, BPF_ANY)
                                        : bpf_map_update_elem(nets6_.get(), ptr(key6(c)), &v, BPF_ANY);
  if (err != 0) {
    int e = errno;
    return make_error(e,
                      "cannot ban " + c.str() + ": " +
                          (e == ENOSPC || e == E2BIG ? std::string("the network map is full") : errstr(e)));
  }
  return {};
}

Result<bool> Blocklist::del_net(const Cidr& c) {
  int err = c.addr.family == Family::V4 ? bpf_map_delete_elem(nets4_.get(), ptr(key4(c)))
                                        : bpf_map_delete_elem(nets6_.get(), ptr(key6(c)));
  if (err == 0) {
    ++stale_guard_;
    return true;
  }
  if (errno == ENOENT) return false;
  return make_error(errno, "cannot unban " + c.str() + ": " + errstr(errno));
}

void Blocklist::guard_add(const Cidr& c) {
  guard_bits(c, seed_, (c.addr.family == Family::V4 ? nguard4_map_ : nguard6_map_).as<uint64_t>());
}

Status Blocklist::write_meta(const xdpban_meta& meta) {
  uint32_t zero = 0;
  if (bpf_map_update_elem(meta_.get(), &zero, &meta, BPF_ANY) != 0)
    return make_error(errno, "cannot write " XDPBAN_MAP_META ": " + errstr(errno));
  meta_seen_ = meta;
  return {};
}

Result<size_t> Blocklist::host_count(int fd) const {
  size_t n = 0;
  Status st = fd == hosts4_.get() ? for_each_host<xdpban_host4_key>(fd, [&](auto&, auto&) { ++n; })
                                  : for_each_host<xdpban_host6_key>(fd, [&](auto&, auto&) { ++n; });
  if (!st) return st.error();
  return n;
}

// The prefilter bit goes in first, then the hash map (the exact truth), then
// the index, so the program never misses a live entry.
namespace {

// How putting a host in the index changes the count of spilled hosts (those
// of the map the index lacks): one more for a new host it could not place,
// one fewer for a host the map held outside the index that now has a slot.
int spill_change(IndexPut r, bool existed) {
  if (r == IndexPut::kSpilled && !existed) return 1;
  if (r == IndexPut::kInserted && existed) return -1;
  return 0;
}

}  // namespace

Status Blocklist::put_host(const BanInfo& ban) {
  const Cidr& c = ban.cidr;
  const uint8_t* a = c.addr.bytes.data();
  bool v4 = c.addr.family == Family::V4;
  xdpban_ban v = ban_value(ban);
  bloom_of(v4).add(host_hash(a, v4));
  int fd = v4 ? hosts4_.get() : hosts6_.get();
  bool existed = false;
  int err = bpf_map_update_elem(fd, a, &v, BPF_NOEXIST);
  if (err != 0 && errno == EEXIST) {
    existed = true;
    err = bpf_map_update_elem(fd, a, &v, BPF_EXIST);
  }
  if (err != 0) {
    int e = errno;
    if (e == E2BIG || e == ENOSPC || e == ENOMEM)
      return make_error(ENOSPC, "cannot ban " + c.str() + ": the host map is full (" +
                                    std::string(v4 ? XDPBAN_MAP_HOSTS4 : XDPBAN_MAP_HOSTS6) + ")");
    return make_error(e, "cannot ban " + c.str() + ": " + errstr(e));
  }
  auto& count = v4 ? hosts4_count_ : hosts6_count_;
  if (!existed && count) ++*count;
  if (!v4) return {};
  int d = spill_change(index4_->put(a, xdpban_hidx_code(ban.expires_ns, meta_seen_.epoch_ns)), existed);
  if (d > 0) return set_spilled(meta_seen_.spilled_hosts + 1);
  if (d < 0 && meta_seen_.spilled_hosts > 0) return set_spilled(meta_seen_.spilled_hosts - 1);
  return {};
}

Result<bool> Blocklist::del_host(const Cidr& c) {
  const uint8_t* a = c.addr.bytes.data();
  bool v4 = c.addr.family == Family::V4;
  bool indexed = v4 && index4_->erase(a);  // first, so the program stops finding it there
  if (bpf_map_delete_elem(v4 ? hosts4_.get() : hosts6_.get(), a) != 0) {
    if (errno == ENOENT) return false;
    return make_error(errno, "cannot unban " + c.str() + ": " + errstr(errno));
  }
  auto& count = v4 ? hosts4_count_ : hosts6_count_;
  if (count && *count > 0) --*count;
  ++stale_hosts_;
  if (v4 && !indexed && meta_seen_.spilled_hosts > 0)
    if (auto st = set_spilled(meta_seen_.spilled_hosts - 1); !st) return st.error();
  return true;
}

std::vector<Status> Blocklist::ban_many(const std::vector<BanInfo>& bans) {
  std::vector<Status> out(bans.size());
  if (!lock_.valid()) {
    for (auto& st : out) st = make_error(EBADF, "blocklist opened read-only");
    return out;
  }
  ban_hosts(bans, true, out);
  ban_hosts(bans, false, out);
  for (size_t i = 0; i < bans.size(); ++i)
    if (!bans[i].cidr.is_host()) out[i] = put_net(bans[i].cidr, bans[i]);
  return out;
}

namespace {

// One half of a family's host bans, written by one thread: keys and values
// side by side for BPF_MAP_UPDATE_BATCH, the ban each came from, and
// whether the batch wrote it.
struct HostPart {
  std::vector<uint8_t> keys;
  std::vector<xdpban_ban> vals;
  std::vector<size_t> src;  // index into the bans
  std::vector<uint8_t> ok;  // 1: written by a batch
};

// CPUs this thread may run on: a second thread only helps with two.
int cpus_allowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

// Writes a part in batches of kBatchChunk. A batch that fails stops at the
// first entry it could not write (count says how many went in before it);
// the rest of that chunk is left to the caller, the next chunk is tried.
constexpr size_t kBatchChunk = 8192;

void write_part(int fd, size_t klen, HostPart& p) {
  p.ok.assign(p.src.size(), 0);
  for (size_t from = 0; from < p.src.size(); from += kBatchChunk) {
    size_t n = std::min(kBatchChunk, p.src.size() - from);
    uint32_t count = static_cast<uint32_t>(n);
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
    int err = bpf_map_update_batch(fd, &p.keys[from * klen], &p.vals[from], &count, &opts);
    size_t written = err == 0 ? n : std::min<size_t>(count, n);
    std::fill_n(p.ok.begin() + static_cast<std::ptrdiff_t>(from), written, uint8_t{1});
  }
}

}  // namespace

// A family's host bans: Bloom bits first, then the hash map in batches, then
// the index, so the program never misses a live entry. The kernel's hash
// inserts dominate (~0.5 us each even batched) and take per-bucket locks, so
// from two batches' worth on they are split over two threads by a bit of the
// host's hash: every ban of one address goes through the same thread, in
// order. The index and the spill count are written on this thread only.
void Blocklist::ban_hosts(const std::vector<BanInfo>& bans, bool v4, std::vector<Status>& out) {
  const size_t klen = v4 ? 4 : 16;
  const int fd = v4 ? hosts4_.get() : hosts6_.get();
  Bloom& bloom = bloom_of(v4);
  // Whether an address was in the map before matters only for the spill
  // count, and only for one the index does not hold; while nothing is
  // spilled, that means it is new. Otherwise those on a spill-marked line
  // are looked up before the batch overwrites them.
  const bool exact = v4 && !spilled_unknown_;  // else both counts are recounted anyway
  const bool check_spilled = exact && meta_seen_.spilled_hosts > 0;
  std::unordered_set<uint32_t> was_spilled;  // IPv4 hosts in the map but not the index, among these bans
  bool lookup_failed = false;
  HostPart parts[2];
  constexpr size_t kAhead = 16;  // random lines of the filter and the index: load a few hosts ahead
  std::vector<size_t> at;
  for (size_t i = 0; i < bans.size(); ++i)
    if (bans[i].cidr.is_host() && (bans[i].cidr.addr.family == Family::V4) == v4) at.push_back(i);
  if (at.empty()) return;
  auto hash = [&](size_t k) { return host_hash(bans[at[k]].cidr.addr.bytes.data(), v4); };
  for (HostPart& p : parts) {
    p.keys.reserve(at.size() / 2 * klen + klen * 64);
    p.vals.reserve(at.size() / 2 + 64);
    p.src.reserve(at.size() / 2 + 64);
  }
  for (size_t k = 0; k < at.size(); ++k) {
    const BanInfo& b = bans[at[k]];
    const uint8_t* a = b.cidr.addr.bytes.data();
    if (k + kAhead < at.size()) {
      bloom.prefetch(hash(k + kAhead));
      if (check_spilled) index4_->prefetch(bans[at[k + kAhead]].cidr.addr.bytes.data());
    }
    uint64_t h = hash(k);
    bloom.add(h);
    if (check_spilled && index4_->spills(a) && !index4_->find(a)) {
      xdpban_ban v{};
      if (bpf_map_lookup_elem(fd, a, &v) == 0)
        was_spilled.insert(xdpban_load32(a));
      else if (errno != ENOENT)
        lookup_failed = true;
    }
    HostPart& p = parts[(h >> 40) & 1];
    p.keys.insert(p.keys.end(), a, a + klen);
    p.vals.push_back(ban_value(b));
    p.src.push_back(at[k]);
  }
  // The index (IPv4), and the exact change in hosts and in spilled hosts.
  int64_t spilled = 0;
  size_t added = 0;
  std::unordered_set<uint32_t> spilled_now;  // new hosts this call left out of the index
  auto finish = [&](const HostPart& p) {
    for (size_t k = 0; k < p.src.size(); ++k) {
      const BanInfo& b = bans[p.src[k]];
      const uint8_t* a = b.cidr.addr.bytes.data();
      if (!p.ok[k]) {
        out[p.src[k]] = put_host(b);  // counts itself
        continue;
      }
      if (!v4) continue;
      if (k + kAhead < p.src.size()) index4_->prefetch(bans[p.src[k + kAhead]].cidr.addr.bytes.data());
      IndexPut r = index4_->put(a, xdpban_hidx_code(b.expires_ns, meta_seen_.epoch_ns));
      if (r == IndexPut::kUpdated) continue;
      uint32_t key = xdpban_load32(a);
      bool existed = (!was_spilled.empty() && was_spilled.count(key)) ||
                     (!spilled_now.empty() && spilled_now.count(key));
      if (!existed) ++added;
      int d = spill_change(r, existed);
      spilled += d;
      if (d > 0) spilled_now.insert(key);
      if (d < 0) {
        was_spilled.erase(key);
        spilled_now.erase(key);
      }
    }
  };
  // The other thread only makes the batch syscalls of its part; this one
  // indexes its own part meanwhile, then the other's.
  std::thread other;
  if (at.size() >= 2 * kBatchChunk && cpus_allowed() >= 2) {
    try {
      other = std::thread([&] { write_part(fd, klen, parts[1]); });
    } catch (const std::system_error&) {  // no thread to be had: one part after the other
    }
  }
  write_part(fd, klen, parts[0]);
  finish(parts[0]);
  if (other.joinable())
    other.join();
  else
    write_part(fd, klen, parts[1]);
  finish(parts[1]);
  if (!v4) {
    hosts6_count_.reset();  // which were new is not known
    return;
  }
  if (!exact || lookup_failed) {
    hosts4_count_.reset();
    spilled_unknown_ = true;  // recounted by maintain() or usage()
    return;
  }
  if (hosts4_count_) *hosts4_count_ += added;
  int64_t now_spilled = static_cast<int64_t>(meta_seen_.spilled_hosts) + spilled;
  if (!set_spilled(static_cast<uint32_t>(std::max<int64_t>(now_spilled, 0)))) spilled_unknown_ = true;
}

Status Blocklist::recount_spilled() {
  uint32_t spilled = 0;
  if (auto st = for_each_host<xdpban_host4_key>(hosts4_.get(),
                                                [&](const xdpban_host4_key& k, const xdpban_ban&) {
                                                  if (!index4_->find(k.addr)) ++spilled;
                                                });
      !st)
    return st;
  spilled_unknown_ = false;
  return set_spilled(spilled);
}

Status Blocklist::set_spilled(uint32_t n) {
  if (n == meta_seen_.spilled_hosts) return {};
  xdpban_meta m = meta_seen_;
  m.spilled_hosts = n;
  return write_meta(m);
}

uint64_t Blocklist::host_hash(const uint8_t* addr, bool v4) const {
  return v4 ? xdpban_hash4(addr, seed_) : xdpban_hash6(addr, seed_);
}

Bloom& Blocklist::bloom_of(bool v4) { return v4 ? *bloom4_filter_ : *bloom6_filter_; }

Status Blocklist::ban(const BanInfo& ban) {
  if (!lock_.valid()) return make_error(EBADF, "blocklist opened read-only");
  return ban.cidr.is_host() ? put_host(ban) : put_net(ban.cidr, ban);
}

Result<bool> Blocklist::unban(const Cidr& c) {
  if (!lock_.valid()) return make_error(EBADF, "blocklist opened read-only");
  return c.is_host() ? del_host(c) : del_net(c);
}

Result<size_t> Blocklist::unban_all() {
  if (!lock_.valid()) return make_error(EBADF, "blocklist opened read-only");
  size_t n = 0;
  index4_->clear();
  auto drop_hosts = [&](int fd, auto tag) -> Status {
    using Key = decltype(tag);
    std::vector<Key> keys;
    if (auto st = for_each_host<Key>(fd, [&](const Key& k, const xdpban_ban&) { keys.push_back(k); }); !st)
      return st;
    for (const auto& k : keys)
      if (bpf_map_delete_elem(fd, &k) == 0) ++n;
    return {};
  };
  if (auto st = drop_hosts(hosts4_.get(), xdpban_host4_key{}); !st) return st.error();
  if (auto st = drop_hosts(hosts6_.get(), xdpban_host6_key{}); !st) return st.error();
  bloom4_filter_->clear();
  bloom6_filter_->clear();
  hosts4_count_ = 0;
  hosts6_count_ = 0;
  stale_hosts_ = 0;
  for (const auto& k : lpm_keys<xdpban_lpm4_key>(nets4_.get()))
    if (bpf_map_delete_elem(nets4_.get(), &k) == 0) ++n;
  for (const auto& k : lpm_keys<xdpban_lpm6_key>(nets6_.get()))
    if (bpf_map_delete_elem(nets6_.get(), &k) == 0) ++n;
  std::memset(nguard4_map_.as<void>(), 0, kGuardBits / 8);
  std::memset(nguard6_map_.as<void>(), 0, kGuardBits / 8);
  stale_guard_ = 0;
  index4_->reset_marks({});
  spilled_unknown_ = false;
  if (auto st = set_spilled(0); !st) return st.error();
  return n;
}

Result<std::vector<BanInfo>> Blocklist::list() const {
  std::vector<BanInfo> out;
  if (auto st = for_each_host<xdpban_host4_key>(
          hosts4_.get(), [&](const auto& k, const xdpban_ban& v) { out.push_back(host_ban(k, v)); });
      !st)
    return st.error();
  if (auto st = for_each_host<xdpban_host6_key>(
          hosts6_.get(), [&](const auto& k, const xdpban_ban& v) { out.push_back(host_ban(k, v)); });
      !st)
    return st.error();
  auto add_nets = [&](int fd, auto tag) {
    using Key = decltype(tag);
    for (const auto& k : lpm_keys<Key>(fd)) {
      xdpban_ban v{};
      if (bpf_map_lookup_elem(fd, &k, &v) != 0) continue;  // removed meanwhile
      out.push_back(BanInfo{cidr_of(k), v.expires_ns, v.jail, v.flags});
    }
  };
  add_nets(nets4_.get(), xdpban_lpm4_key{});
  add_nets(nets6_.get(), xdpban_lpm6_key{});
  return out;
}

Result<std::optional<BanInfo>> Blocklist::find(const Cidr& c) const {
  if (c.is_host()) {
    xdpban_ban v{};
    int fd = c.addr.family == Family::V4 ? hosts4_.get() : hosts6_.get();
    if (bpf_map_lookup_elem(fd, c.addr.bytes.data(), &v) == 0)
      return std::optional<BanInfo>(BanInfo{c, v.expires_ns, v.jail, v.flags});
    if (errno != ENOENT) return make_error(errno, "cannot look up " + c.str() + ": " + errstr(errno));
    return std::optional<BanInfo>();
  }
  // The trie's lookup answers the longest covering prefix, so check the key exists exactly.
  auto exact = [&](int fd, auto key) -> std::optional<BanInfo> {
    for (const auto& k : lpm_keys<decltype(key)>(fd))
      if (k.prefixlen == key.prefixlen && std::memcmp(k.addr, key.addr, sizeof k.addr) == 0) {
        xdpban_ban v{};
        if (bpf_map_lookup_elem(fd, &k, &v) == 0) return BanInfo{c, v.expires_ns, v.jail, v.flags};
      }
    return std::nullopt;
  };
  return c.addr.family == Family::V4 ? exact(nets4_.get(), key4(c)) : exact(nets6_.get(), key6(c));
}

Status Blocklist::allow_add(const Cidr& c) {
  if (!lock_.valid()) return make_error(EBADF, "blocklist opened read-only");
  xdpban_allow v{};
  int err = c.addr.family == Family::V4 ? bpf_map_update_elem(allow4_.get(), ptr(key4(c)), &v, BPF_ANY)
                                        : bpf_map_update_elem(allow6_.get(), ptr(key6(c)), &v, BPF_ANY);
  if (err != 0) return make_error(errno, "cannot allow " + c.str() + ": " + errstr(errno));
  return {};
}

Result<bool> Blocklist::allow_del(const Cidr& c) {
  if (!lock_.valid()) return make_error(EBADF, "blocklist opened read-only");
  int err = c.addr.family == Family::V4 ? bpf_map_delete_elem(allow4_.get(), ptr(key4(c)))
                                        : bpf_map_delete_elem(allow6_.get(), ptr(key6(c)));
  if (err == 0) return true;
  if (errno == ENOENT) return false;
  return make_error(errno, "cannot remove " + c.str() + " from the allow list: " + errstr(errno));
}

Result<std::vector<Cidr>> Blocklist::allow_list() const {
  std::vector<Cidr> out;
  for (const auto& k : lpm_keys<xdpban_lpm4_key>(allow4_.get())) out.push_back(cidr_of(k));
  for (const auto& k : lpm_keys<xdpban_lpm6_key>(allow6_.get())) out.push_back(cidr_of(k));
  return out;
}

Result<std::optional<Cidr>> Blocklist::allowed_by(const Address& a) const {
  auto all = allow_list();
  if (!all) return all.error();
  std::optional<Cidr> best;
  for (const auto& c : *all)
    if (c.contains(a) && (!best || c.prefix > best->prefix)) best = c;
  return best;
}

Result<xdpban_stats> Blocklist::stats() const {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error(-ncpu, "cannot count CPUs");
  std::vector<xdpban_stats> per(static_cast<size_t>(ncpu));
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(stats_.get(), &zero, per.data()) != 0)
    return make_error(errno, "cannot read " XDPBAN_MAP_STATS ": " + errstr(errno));
  // Summed field by field through __u64 (the fields' own type), never through
  // a differently typed pointer: that breaks strict aliasing in optimised builds.
  constexpr size_t kFields = sizeof(xdpban_stats) / sizeof(__u64);
  __u64 sum[kFields] = {};
  for (const auto& s : per) {
    __u64 in[kFields];
    std::memcpy(in, &s, sizeof in);
    for (size_t i = 0; i < kFields; ++i) sum[i] += in[i];
  }
  xdpban_stats total{};
  std::memcpy(&total, sum, sizeof total);
  return total;
}

Result<TableUsage> Blocklist::usage() {
  TableUsage u;
  for (auto [fd, count, slots] : {std::tuple{hosts4_.get(), &hosts4_count_, &u.slots4},
                                  std::tuple{hosts6_.get(), &hosts6_count_, &u.slots6}}) {
    if (!*count) {
      auto n = host_count(fd);
      if (!n) return n.error();
      *count = *n;
    }
    auto info = map_info(fd, "a host map");
    if (!info) return info.error();
    *slots = info->max_entries;
  }
  u.hosts4 = *hosts4_count_;
  u.hosts6 = *hosts6_count_;
  if (spilled_unknown_)
    if (auto st = recount_spilled(); !st) return st.error();
  u.spilled4 = meta_seen_.spilled_hosts;
  u.nets4 = lpm_keys<xdpban_lpm4_key>(nets4_.get()).size();
  u.nets6 = lpm_keys<xdpban_lpm6_key>(nets6_.get()).size();
  return u;
}

Result<uint16_t> Blocklist::jail_id(const std::string& name) {
  if (auto st = check_jail_name(name); !st) return st.error();
  int free_id = -1;
  for (uint32_t id = 0; id < XDPBAN_MAX_JAILS; ++id) {
    xdpban_jail j{};
    if (bpf_map_lookup_elem(jails_.get(), &id, &j) != 0) continue;
    if (name == j.name) return static_cast<uint16_t>(id);
    if (j.name[0] == 0 && free_id < 0 && id != 0) free_id = static_cast<int>(id);
  }
  if (!lock_.valid()) return make_error(ENOENT, "no jail named '" + name + "'");
  if (free_id < 0) {
    auto freed = reclaim_jails();
    if (!freed) return freed.error().wrap("cannot register jail '" + name + "'");
    free_id = *freed;
  }
  if (free_id < 0)
    return make_error(ENOSPC, "cannot register jail '" + name + "': all " +
                                  std::to_string(XDPBAN_MAX_JAILS - 1) + " jail names are in use by bans");
  xdpban_jail j{};
  std::memcpy(j.name, name.data(), name.size());
  uint32_t key = static_cast<uint32_t>(free_id);
  if (bpf_map_update_elem(jails_.get(), &key, &j, BPF_ANY) != 0)
    return make_error(errno, "cannot register jail '" + name + "': " + errstr(errno));
  return static_cast<uint16_t>(free_id);
}

// Names stay registered after their last ban goes (listings keep working and
// ids stay stable); only when every id is taken are the names that no entry in
// the maps refers to dropped. Id 0 (manual) always stays.
Result<int> Blocklist::reclaim_jails() {
  auto bans = list();
  if (!bans) return bans.error();
  std::vector<bool> used(XDPBAN_MAX_JAILS, false);
  used[0] = true;
  for (const auto& b : *bans)
    if (b.jail < XDPBAN_MAX_JAILS) used[b.jail] = true;
  int first = -1;
  for (uint32_t id = 1; id < XDPBAN_MAX_JAILS; ++id) {
    xdpban_jail j{};
    if (used[id] || bpf_map_lookup_elem(jails_.get(), &id, &j) != 0 || j.name[0] == 0) continue;
    xdpban_jail empty{};
    if (bpf_map_update_elem(jails_.get(), &id, &empty, BPF_ANY) != 0)
      return make_error(errno, "cannot free jail id " + std::to_string(id) + ": " + errstr(errno));
    ++jails_reclaimed_;
    if (first < 0) first = static_cast<int>(id);
  }
  return first;
}

std::string Blocklist::jail_name(uint16_t id) const {
  uint32_t key = id;
  xdpban_jail j{};
  if (bpf_map_lookup_elem(jails_.get(), &key, &j) == 0 && j.name[0])
    return std::string(j.name, strnlen(j.name, sizeof j.name));
  return "jail#" + std::to_string(id);
}

Status Blocklist::rebuild_guards() {
  std::vector<uint64_t> g4(kGuardBits / 64, 0), g6(kGuardBits / 64, 0);
  for (const auto& k : lpm_keys<xdpban_lpm4_key>(nets4_.get())) guard_bits(cidr_of(k), seed_, g4.data());
  for (const auto& k : lpm_keys<xdpban_lpm6_key>(nets6_.get())) guard_bits(cidr_of(k), seed_, g6.data());
  auto* w4 = nguard4_map_.as<uint64_t>();
  auto* w6 = nguard6_map_.as<uint64_t>();
  for (size_t i = 0; i < g4.size(); ++i) {
    __atomic_store_n(&w4[i], g4[i], __ATOMIC_RELEASE);
    __atomic_store_n(&w6[i], g6[i], __ATOMIC_RELEASE);
  }
  stale_guard_ = 0;
  return {};
}

// A host of the map that the index lacks is put in it (a writer that died
// between the map write and the index write left it there, or a slot came
// free since it spilled), and where there is no room its home is marked.
// Returns how many hosts went into the index.
Result<size_t> Blocklist::rebuild_host_marks() {
  std::vector<uint64_t> h4, h6;
  std::vector<uint32_t> spilled_homes;
  size_t indexed = 0;
  if (auto st = for_each_host<xdpban_host4_key>(
          hosts4_.get(),
          [&](const xdpban_host4_key& k, const xdpban_ban& v) {
            h4.push_back(host_hash(k.addr, true));
            if (index4_->find(k.addr)) return;
            if (index4_->put(k.addr, xdpban_hidx_code(v.expires_ns, meta_seen_.epoch_ns)) ==
                IndexPut::kSpilled)
              spilled_homes.push_back(index4_->home_line(k.addr));
            else
              ++indexed;
          });
      !st)
    return st.error();
  if (auto st = for_each_host<xdpban_host6_key>(
          hosts6_.get(),
          [&](const xdpban_host6_key& k, const xdpban_ban&) { h6.push_back(host_hash(k.addr, false)); });
      !st)
    return st.error();
  bloom4_filter_->rebuild(h4);
  bloom6_filter_->rebuild(h6);
  index4_->reset_marks(spilled_homes);
  hosts4_count_ = h4.size();
  hosts6_count_ = h6.size();
  stale_hosts_ = 0;
  spilled_unknown_ = false;  // counted here too
  if (auto st = set_spilled(static_cast<uint32_t>(spilled_homes.size())); !st) return st.error();
  return indexed;
}

Result<size_t> Blocklist::repair_index() {
  if (!lock_.valid()) return make_error(EPERM, "the maps are open read-only");
  return rebuild_host_marks();
}

// Codes written against the new epoch are never larger than the old ones
// read against the old epoch, so the program may see either mix while this
// runs and still never takes an expired ban for a live one.
Status Blocklist::rebase_epoch(uint64_t now) {
  std::vector<std::pair<xdpban_host4_key, uint64_t>> hosts;
  if (auto st = for_each_host<xdpban_host4_key>(
          hosts4_.get(),
          [&](const xdpban_host4_key& k, const xdpban_ban& v) { hosts.emplace_back(k, v.expires_ns); });
      !st)
    return st;
  for (const auto& [k, expires] : hosts) index4_->recode(k.addr, xdpban_hidx_code(expires, now));
  xdpban_meta m = meta_seen_;
  m.epoch_ns = now;
  return write_meta(m);
}

Status Blocklist::maintain(bool force) {
  if (!lock_.valid()) return {};
  size_t hosts = (hosts4_count_ ? *hosts4_count_ : 0) + (hosts6_count_ ? *hosts6_count_ : 0);
  if (stale_hosts_ > 0 && (force || stale_hosts_ > std::max<size_t>(1024, hosts / 8)))
    if (auto r = rebuild_host_marks(); !r) return r.error();
  if (spilled_unknown_)  // a batch, and no rebuild that counted them
    if (auto st = recount_spilled(); !st) return st;
  uint64_t now = boottime_ns();
  if (now > meta_seen_.epoch_ns + kEpochMaxAgeNs)
    if (auto st = rebase_epoch(now); !st) return st;
  if (stale_guard_ > 0) return rebuild_guards();
  return {};
}

}  // namespace xdpban
