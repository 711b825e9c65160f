// bench_datapath - datapath benchmarks of xdpban (issue 2): classifier cost per
// packet next to a no-lookup floor (BPF_PROG_TEST_RUN, random source inside the
// program), insertion time and kernel memory at 1M bans, and the live drop rate
// through veth next to a drop-all program; the flood guard's cost per packet
// at 100k tracked sources and a live flood generator (issue 6, with
// bench_flood.sh). Prints tables; not a test.
// Does not create namespaces or veths (tools/bench/bench_live.sh does).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "bench_addr.h"
#include "bench_loader.h"
#include "bpf/blocklist.h"
#include "bpf/datapath.h"
#include "bpf/flood.h"
#include "io/fd.h"
#include "packet.h"
#include "xdpban_bench.skel.h"

namespace xdpban::bench {
namespace {

constexpr uint32_t kMillion = 1u << 20;  // "1M" bans: the default capacity per family

// Expiry of every ban written (CLOCK_BOOTTIME ns; 0 = permanent). fail2ban bans
// expire, and a live expiry costs the program a clock read on every hit.
uint64_t g_expires_ns = 0;

// ---------------------------------------------------------------- utilities

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_datapath: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T check(Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(*r);
}

void check(const Status& s, const std::string& what) {
  if (!s) die(what + ": " + s.error().message);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string human_count(uint64_t n) {
  if (n >= kMillion && n % kMillion == 0) return std::to_string(n / kMillion) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

// Kernel memory counters from /proc/meminfo, in bytes.
struct MemInfo {
  int64_t slab = 0, vmalloc = 0, percpu = 0;
  int64_t total() const { return slab + vmalloc + percpu; }
  static MemInfo read() {
    MemInfo m;
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (in >> key >> kb) {
      std::getline(in, unit);
      if (key == "Slab:") m.slab = kb * 1024;
      if (key == "VmallocUsed:") m.vmalloc = kb * 1024;
      if (key == "Percpu:") m.percpu = kb * 1024;
    }
    return m;
  }
  MemInfo operator-(const MemInfo& o) const {
    return {slab - o.slab, vmalloc - o.vmalloc, percpu - o.percpu};
  }
};

// Lets RCU-freed objects go before a memory reading.
void settle() {
  ::sync();
  usleep(300 * 1000);
}

double mib(int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

// A pin directory under /sys/fs/bpf removed (with its pins) on destruction.
class PinDir {
 public:
  explicit PinDir(std::string path) : path_(std::move(path)) {
    std::filesystem::remove_all(path_);
    check(ensure_bpffs(path_), "bpffs");
  }
  ~PinDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  PinDir(const PinDir&) = delete;
  PinDir& operator=(const PinDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string default_pin_dir(const std::string& suffix) {
  return "/sys/fs/bpf/xdpban-bench-" + std::to_string(getpid()) + suffix;
}

// The pinned stats map summed over CPUs. Not Blocklist::stats(): it sums
// through uint64_t* into __u64 fields (unsigned long vs unsigned long long), a
// strict-aliasing violation that -O3 turns into all-zero counters.
xdpban_stats read_stats(const std::string& pin_dir) {
  Fd fd(bpf_obj_get((pin_dir + "/" XDPBAN_MAP_STATS).c_str()));
  int ncpu = libbpf_num_possible_cpus();
  std::vector<xdpban_stats> per(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
  uint32_t zero = 0;
  if (!fd.valid() || bpf_map_lookup_elem(fd.get(), &zero, per.data()) != 0)
    die(std::string("cannot read ") + XDPBAN_MAP_STATS + ": " + strerror(errno));
  xdpban_stats sum{};
  constexpr size_t kWords = sizeof(sum) / sizeof(__u64);
  static_assert(sizeof(sum) == kWords * sizeof(__u64));
  auto* out = reinterpret_cast<__u64*>(&sum);
  for (const auto& s : per) {
    const auto* in = reinterpret_cast<const __u64*>(&s);
    for (size_t i = 0; i < kWords; ++i) out[i] += in[i];
  }
  return sum;
}

// ---------------------------------------------------------------- addresses (bench_addr.h)

Cidr host4(uint32_t i) {
  uint32_t a = htonl(bench_host4(i));
  Cidr c;
  c.addr.family = Family::V4;
  std::memcpy(c.addr.bytes.data(), &a, 4);
  c.prefix = 32;
  return c;
}

void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

Cidr host6(uint32_t i) {
  Cidr c;
  c.addr.family = Family::V6;
  put_be64(c.addr.bytes.data(), bench_host6_hi(i));
  put_be64(c.addr.bytes.data() + 8, bench_host6_lo(i));
  c.prefix = 128;
  return c;
}

Cidr net4(uint32_t j, uint32_t plen) {
  uint32_t a = htonl(bench_net4(j, plen));
  Cidr c;
  c.addr.family = Family::V4;
  std::memcpy(c.addr.bytes.data(), &a, 4);
  c.prefix = static_cast<uint8_t>(plen);
  return c;
}

Cidr net6(uint32_t j, uint32_t plen) {
  Cidr c;
  c.addr.family = Family::V6;
  put_be64(c.addr.bytes.data(), bench_net6_hi(j, plen));
  c.prefix = static_cast<uint8_t>(plen);
  return c;
}

// ---------------------------------------------------------------- populating the production maps

struct Populated {
  double hosts_s = 0, nets_s = 0;  // insertion time through Blocklist::ban
  size_t overflow = 0;             // hosts that went to the trie (no room within the probe bound)
};

// Hosts through Blocklist::ban_many (batches: the import path) unless
// one_by_one (Blocklist::ban, as the daemon bans from a log line).
Populated populate(Blocklist& bl, Family fam, uint32_t hosts, uint32_t nets, uint32_t plen4, uint32_t plen6,
                   bool one_by_one = false) {
  Populated p;
  std::vector<BanInfo> batch;
  if (!one_by_one) {
    batch.reserve(hosts);
    for (uint32_t i = 0; i < hosts; ++i)
      batch.push_back(BanInfo{fam == Family::V4 ? host4(i) : host6(i), g_expires_ns, 1, 0});
  }
  double t0 = now_s();
  if (one_by_one) {
    for (uint32_t i = 0; i < hosts; ++i)
      check(bl.ban(BanInfo{fam == Family::V4 ? host4(i) : host6(i), g_expires_ns, 1, 0}), "ban host");
  } else {
    for (const auto& st : bl.ban_many(batch)) check(st, "ban host");
  }
  double t1 = now_s();
  for (uint32_t j = 0; j < nets; ++j)
    check(bl.ban(BanInfo{fam == Family::V4 ? net4(j, plen4) : net6(j, plen6), g_expires_ns, 1, 0}),
          "ban network");
  double t2 = now_s();
  p.hosts_s = t1 - t0;
  p.nets_s = t2 - t1;
  auto u = check(bl.usage(), "usage");
  p.overflow = fam == Family::V4 ? u.spilled4 : 0;
  return p;
}

// ---------------------------------------------------------------- classifier (BPF_PROG_TEST_RUN)

std::vector<uint8_t> test_frame(Family fam) {
  using namespace xdpban::test;
  Frame f = fam == Family::V4 ? ipv4(eth({}, kEthIp), "192.0.2.7") : ipv6(eth({}, kEthIp6), "2001:db8::7");
  if (f.b.size() < 60) f.zeros(60 - f.b.size());
  return f.b;
}

// Average ns per run of prog over `repeat` runs of frame.
double test_run_ns(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat) {
  std::vector<uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()), .repeat = static_cast<int>(repeat));
  if (bpf_prog_test_run_opts(prog_fd, &o) != 0) die(std::string("BPF_PROG_TEST_RUN: ") + strerror(errno));
  return o.duration;
}

struct Scenario {
  std::string name;
  Family fam;
  uint32_t hosts, nets;
};

struct ProgResult {
  double ns = 0;
  double host_probes = 0, net_probes = 0, dropped = 0;  // per packet
};

struct ClassifyOptions {
  uint32_t repeat = 1u << 21;
  int rounds = 5;
  uint32_t plen4 = 24, plen6 = 64;
};

void print_classify_header(const ClassifyOptions& o) {
  std::printf(
      "\n== classifier: ns/packet via BPF_PROG_TEST_RUN (repeat %u, median of %d rounds), source address\n"
      "   randomised per packet inside the program; floor = same program (parse, random source, counter)\n"
      "   without lookup, measured interleaved in the same run. miss = host never banned, hit = banned "
      "host,\n"
      "   net = random address inside a banned network (/%u v4, /%u v6). hp/np = host_probes/net_probes per\n"
      "   packet (stats map), drop = fraction dropped.\n",
      o.repeat, o.rounds, o.plen4, o.plen6);
  std::printf("%-22s %7s | %17s | %17s | %17s | %-26s\n", "scenario", "floor", "miss ns (x floor)",
              "hit ns (x floor)", "net ns (x floor)", "miss hp/np/drop  hit drop");
}

void run_scenario(const Scenario& sc, const ClassifyOptions& co, Populated* ins_out) {
  PinDir dir(default_pin_dir("-c"));
  DatapathOptions dopts;
  dopts.pin_dir = dir.path();
  dopts.capacity = kMillion;
  check(LoadedProgram::load(dopts), "load production program");  // creates the pinned maps
  auto bl = check(Blocklist::open(dir.path(), Blocklist::Access::kWrite), "open blocklist");
  Populated ins = populate(*bl, sc.fam, sc.hosts, sc.nets, co.plen4, co.plen6);
  if (ins_out) *ins_out = ins;

  BenchConfig cfg{sc.hosts, sc.nets, co.plen4, co.plen6};
  auto bp = check(BenchProgram::load(dir.path(), cfg), "load bench program");
  auto* s = bp->skel();
  struct Prog {
    const char* name;
    int fd;
    bool wanted;
  } progs[] = {{"floor", bpf_program__fd(s->progs.bench_floor), true},
               {"miss", bpf_program__fd(s->progs.bench_miss), true},
               {"hit", bpf_program__fd(s->progs.bench_hit), sc.hosts > 0},
               {"net", bpf_program__fd(s->progs.bench_net), sc.nets > 0}};
  auto frame = test_frame(sc.fam);
  std::map<std::string, std::vector<double>> ns;
  std::map<std::string, ProgResult> res;
  // Warm up (page in the tables, settle the CPU frequency).
  for (auto& p : progs)
    if (p.wanted) test_run_ns(p.fd, frame, co.repeat / 4);
  for (int r = 0; r < co.rounds; ++r)
    for (auto& p : progs) {
      if (!p.wanted) continue;
      auto before = read_stats(dir.path());
      ns[p.name].push_back(test_run_ns(p.fd, frame, co.repeat));
      auto after = read_stats(dir.path());
      auto& pr = res[p.name];
      double n = static_cast<double>(co.repeat) * co.rounds;
      pr.host_probes += static_cast<double>(after.host_probes - before.host_probes) / n;
      pr.net_probes += static_cast<double>(after.net_probes - before.net_probes) / n;
      pr.dropped +=
          static_cast<double>(after.dropped_v4 + after.dropped_v6 - before.dropped_v4 - before.dropped_v6) /
          n;
    }
  for (auto& [name, v] : ns) res[name].ns = median(v);
  double floor = res["floor"].ns;
  auto cell = [&](const char* name) {
    char buf[64];
    if (!res.count(name))
      std::snprintf(buf, sizeof buf, "%17s", "-");
    else
      std::snprintf(buf, sizeof buf, "%9.1f (%4.2fx)", res[name].ns, res[name].ns / floor);
    return std::string(buf);
  };
  char probes[64];
  std::snprintf(probes, sizeof probes, "%.3f/%.3f/%.4f  %s", res["miss"].host_probes, res["miss"].net_probes,
                res["miss"].dropped,
                res.count("hit") ? (std::to_string(res["hit"].dropped).substr(0, 5)).c_str() : "-");
  std::printf("%-22s %7.1f | %s | %s | %s | %s\n", sc.name.c_str(), floor, cell("miss").c_str(),
              cell("hit").c_str(), cell("net").c_str(), probes);
  if (sc.fam == Family::V4 && sc.hosts >= kMillion && sc.nets == 0) {
    // Attribute the hit path: each piece alone on a banned source, next to the floor.
    struct Part {
      const char* name;
      int fd;
    } parts[] = {{"bloom word", bpf_program__fd(s->progs.bench_part_bloom)},
                 {"index line read", bpf_program__fd(s->progs.bench_part_line)},
                 {"host lookup", bpf_program__fd(s->progs.bench_part_table)},
                 {"allow trie (empty)", bpf_program__fd(s->progs.bench_part_allow)},
                 {"clock read", bpf_program__fd(s->progs.bench_part_clock)},
                 {"(coarse clock)", bpf_program__fd(s->progs.bench_part_coarse)}};
    std::map<std::string, std::vector<double>> pns;
    for (int r = 0; r < co.rounds; ++r) {
      pns["floor"].push_back(test_run_ns(progs[0].fd, frame, co.repeat));
      for (auto& p : parts) pns[p.name].push_back(test_run_ns(p.fd, frame, co.repeat));
    }
    double f = median(pns["floor"]);
    std::printf("%-22s hit path, ns above floor %.1f, each piece alone:", "", f);
    for (auto& p : parts) std::printf(" %s %+.1f;", p.name, median(pns[p.name]) - f);
    std::printf("\n");
  }
  if (res.count("net") || ins.overflow)
    std::printf("%-22s net hp/np/drop %.3f/%.3f/%.4f; hosts overflowed to the trie: %zu\n", "",
                res["net"].host_probes, res["net"].net_probes, res["net"].dropped, ins.overflow);
  std::fflush(stdout);
}

int cmd_classify(const ClassifyOptions& co, bool quick) {
  print_classify_header(co);
  std::vector<Scenario> scs = {
      {"v4 0 hosts", Family::V4, 0, 0},
      {"v4 100 hosts", Family::V4, 100, 0},
      {"v4 10k hosts", Family::V4, 10000, 0},
      {"v4 1M hosts", Family::V4, kMillion, 0},
      {"v4 1M hosts+10k /24", Family::V4, kMillion, 10000},
      {"v6 1M hosts+10k /64", Family::V6, kMillion, 10000},
  };
  if (quick) scs = {scs[0], scs[4], scs[5]};
  for (const auto& sc : scs) run_scenario(sc, co, nullptr);
  return 0;
}

// What a table's footprint costs: one random line read within the first span
// MiB of a 32 MiB array, next to the floor (xdpban_hidx4 at 1M/family is 5.3 MiB).
int cmd_span(const ClassifyOptions& co) {
  std::printf(
      "\n== table footprint: ns above the floor for one random cache-line read within the first N MiB of\n"
      "   a 32 MiB array map (BPF_PROG_TEST_RUN, median of %d rounds); xdpban_hidx4 at 1M/family is 5.3 "
      "MiB\n",
      co.rounds);
  PinDir dir(default_pin_dir("-s"));
  DatapathOptions dopts;
  dopts.pin_dir = dir.path();
  dopts.capacity = kMillion;
  check(LoadedProgram::load(dopts), "load production program");
  auto frame = test_frame(Family::V4);
  for (uint32_t mib_span : {32u, 16u, 8u, 4u, 2u, 1u}) {
    uint32_t slots = mib_span * (1u << 20) / sizeof(xdpban_hidx4_line);
    auto bp = check(BenchProgram::load(dir.path(), BenchConfig{kMillion, 0, 24, 64, slots}), "load bench");
    std::vector<double> f, p;
    int ffd = bpf_program__fd(bp->skel()->progs.bench_floor);
    int pfd = bpf_program__fd(bp->skel()->progs.bench_part_span);
    test_run_ns(pfd, frame, co.repeat / 4);
    for (int r = 0; r < co.rounds; ++r) {
      f.push_back(test_run_ns(ffd, frame, co.repeat));
      p.push_back(test_run_ns(pfd, frame, co.repeat));
    }
    std::printf("  %2u MiB: floor %5.1f  line read %+6.1f ns\n", mib_span, median(f), median(p) - median(f));
    std::fflush(stdout);
  }
  return 0;
}

// ---------------------------------------------------------------- insertion and memory

uint64_t pinned_memlock(const std::string& dir) {
  uint64_t sum = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    Fd fd(bpf_obj_get(e.path().c_str()));
    if (fd.valid()) sum += fdinfo_memlock(fd.get());
  }
  return sum;
}

void print_mem(const char* what, const MemInfo& d, uint64_t memlock, uint64_t per) {
  std::printf("  %-44s slab %+8.1f  vmalloc %+8.1f  percpu %+6.1f  = %+8.1f MiB", what, mib(d.slab),
              mib(d.vmalloc), mib(d.percpu), mib(d.total()));
  if (memlock) std::printf(" | memlock %8.1f MiB", mib(static_cast<int64_t>(memlock)));
  if (per)
    std::printf(" | %5.1f B/entry (meminfo), %5.1f (memlock)", static_cast<double>(d.total()) / per,
                static_cast<double>(memlock) / per);
  std::printf("\n");
}

// 1M entries into a plain BPF map with BPF_MAP_UPDATE_BATCH; time and memory.
void batch_compare(const char* label, bpf_map_type type, uint32_t flags, uint32_t n) {
  settle();
  MemInfo m0 = MemInfo::read();
  LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = flags);
  bool lpm = type == BPF_MAP_TYPE_LPM_TRIE;
  uint32_t key_size = lpm ? sizeof(xdpban_lpm4_key) : sizeof(uint32_t);
  Fd fd(bpf_map_create(type, "xbb_cmp", key_size, sizeof(xdpban_ban), n, &mo));
  if (!fd.valid()) die(std::string("bpf_map_create: ") + strerror(errno));
  std::vector<uint8_t> keys(size_t{n} * key_size);
  std::vector<xdpban_ban> vals(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t a = htonl(bench_host4(i));
    if (lpm) {
      xdpban_lpm4_key k{32, {}};
      std::memcpy(k.addr, &a, 4);
      std::memcpy(&keys[size_t{i} * key_size], &k, key_size);
    } else {
      std::memcpy(&keys[size_t{i} * key_size], &a, 4);
    }
    vals[i].prefixlen = 32;
  }
  double t0 = now_s();
  uint32_t count = n;
  LIBBPF_OPTS(bpf_map_batch_opts, bo);
  int err = bpf_map_update_batch(fd.get(), keys.data(), vals.data(), &count, &bo);
  const char* how = "BPF_MAP_UPDATE_BATCH";
  if (err != 0) {  // no batch op for this map type: one syscall per entry
    how = "bpf_map_update_elem";
    for (uint32_t i = 0; i < n; ++i)
      if (bpf_map_update_elem(fd.get(), &keys[size_t{i} * key_size], &vals[i], BPF_ANY) != 0)
        die(std::string("update: ") + strerror(errno));
  }
  double t = now_s() - t0;
  settle();
  MemInfo m1 = MemInfo::read();
  std::printf("  %-44s %6.3f s (%s)\n", label, t, how);
  print_mem("    kernel memory", m1 - m0, fdinfo_memlock(fd.get()), n);
  // Trie nodes are freed after an RCU grace period: wait for them so the next
  // reading does not see this map going away.
  fd.reset();
  for (int i = 0; i < 30 && MemInfo::read().total() > m0.total() + (8 << 20); ++i) settle();
}

int cmd_insert(bool compare) {
  std::printf(
      "\n== insertion and kernel memory at 1M bans per family (capacity %u hosts/family)\n"
      "   meminfo = /proc/meminfo Slab+VmallocUsed+Percpu deltas (whole machine: noisy, but sees\n"
      "   every allocation); memlock = /proc/self/fdinfo memlock summed over the pinned maps.\n",
      kMillion);
  PinDir dir(default_pin_dir("-i"));
  DatapathOptions dopts;
  dopts.pin_dir = dir.path();
  dopts.capacity = kMillion;
  settle();
  MemInfo m0 = MemInfo::read();
  check(LoadedProgram::load(dopts), "load production program");
  settle();
  MemInfo m1 = MemInfo::read();
  uint64_t lock1 = pinned_memlock(dir.path());
  auto bl = check(Blocklist::open(dir.path(), Blocklist::Access::kWrite), "open blocklist");
  Populated p4 = populate(*bl, Family::V4, kMillion, 0, 24, 64);
  settle();
  MemInfo m2 = MemInfo::read();
  Populated p6 = populate(*bl, Family::V6, kMillion, 0, 24, 64, true);
  settle();
  MemInfo m3 = MemInfo::read();
  Populated n4 = populate(*bl, Family::V4, 0, 10000, 24, 64);
  Populated n6 = populate(*bl, Family::V6, 0, 10000, 24, 64);
  settle();
  MemInfo m4 = MemInfo::read();
  uint64_t lock4 = pinned_memlock(dir.path());
  // The daemon's one check after its start: every host of both maps read back.
  double t_repair = now_s();
  size_t repaired = check(bl->repair_index(), "repair the index");
  t_repair = now_s() - t_repair;

  std::printf(
      "  1M IPv4 host bans via Blocklist::ban_many      %6.3f s  (%.0f ns/ban; %zu outside the index)  goal "
      "< 1 s\n",
      p4.hosts_s, p4.hosts_s * 1e9 / kMillion, p4.overflow);
  std::printf("  1M IPv6 host bans via Blocklist::ban, 1 by 1   %6.3f s  (%.0f ns/ban)\n", p6.hosts_s,
              p6.hosts_s * 1e9 / kMillion);
  std::printf("  10k IPv4 /24 + 10k IPv6 /64 via Blocklist::ban %6.3f s  (%.1f us/ban)\n",
              n4.nets_s + n6.nets_s, (n4.nets_s + n6.nets_s) * 1e6 / 20000);
  std::printf("  index check over 1M + 1M hosts (repair_index)  %6.3f s  (%zu put back)\n", t_repair,
              repaired);
  print_mem("maps created (capacity 1M/family, 0 bans)", m1 - m0, lock1, 0);
  print_mem("+1M IPv4 hosts", m2 - m1, 0, 0);
  print_mem("+1M IPv6 hosts", m3 - m2, 0, 0);
  print_mem("+10k IPv4 + 10k IPv6 networks", m4 - m3, 0, 0);
  print_mem("total at 1M+1M hosts + 20k networks", m4 - m0, lock4, 2 * kMillion);
  // Per-family cost of a banned host: the preallocated hash map (elements
  // and buckets), the index and the Bloom filter, from the maps' sizes.
  struct {
    const char* fam;
    std::vector<const char*> maps;
  } fams[] = {{"IPv4", {XDPBAN_MAP_HOSTS4, XDPBAN_MAP_HIDX4, XDPBAN_MAP_BLOOM4}},
              {"IPv6", {XDPBAN_MAP_HOSTS6, XDPBAN_MAP_BLOOM6}}};
  for (auto& f : fams) {
    uint64_t bytes = 0;
    for (const char* name : f.maps) {
      Fd fd(bpf_obj_get((dir.path() + "/" + name).c_str()));
      bytes += fdinfo_memlock(fd.get());
    }
    std::printf(
        "  %s host maps (hash + %s, memlock) %6.1f MiB = %5.1f B per banned host at 1M  goal <= 128 B\n",
        f.fam, f.maps.size() == 3 ? "index + Bloom" : "Bloom", mib(static_cast<int64_t>(bytes)),
        static_cast<double>(bytes) / kMillion);
  }
  bl.reset();
  if (compare) {
    std::printf("  comparison: 1M IPv4 /32 into plain BPF maps, one batch\n");
    batch_compare("BPF_MAP_TYPE_HASH (prealloc) 1M", BPF_MAP_TYPE_HASH, 0, kMillion);
    batch_compare("BPF_MAP_TYPE_LPM_TRIE 1M /32", BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, kMillion);
  }
  std::fflush(stdout);
  return 0;
}

// ---------------------------------------------------------------- live drop rate through veth

class Netns {
 public:
  explicit Netns(const std::string& name)
      : name_(name), fd_(::open(("/run/netns/" + name).c_str(), O_RDONLY)) {
    if (!fd_.valid()) die("cannot open /run/netns/" + name + ": " + strerror(errno));
  }
  void enter() const {
    if (setns(fd_.get(), CLONE_NEWNET) != 0) die("setns " + name_ + ": " + strerror(errno));
  }

 private:
  std::string name_;
  Fd fd_;
};

int ifindex_of(const std::string& ifname) {
  int idx = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (idx == 0) die("no interface " + ifname + " in this namespace");
  return idx;
}

std::vector<uint8_t> mac_of(const std::string& ifname) {
  Fd s(socket(AF_INET, SOCK_DGRAM, 0));
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
  if (ioctl(s.get(), SIOCGIFHWADDR, &ifr) != 0) die("SIOCGIFHWADDR " + ifname + ": " + strerror(errno));
  auto* p = reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data);
  return std::vector<uint8_t>(p, p + 6);
}

// 64-byte frame on the wire (60 + FCS): Ethernet, IPv4, UDP to port 5060.
std::vector<uint8_t> live_frame(const std::vector<uint8_t>& dst_mac) {
  using namespace xdpban::test;
  Frame f;
  const uint8_t src[6] = {0x02, 0xbb, 0, 0, 0, 1};
  const uint8_t sip[4] = {192, 0, 2, 7}, dip[4] = {10, 203, 0, 2};
  f.bytes(dst_mac.data(), 6).bytes(src, 6).be16(kEthIp);
  f.u8(0x45).u8(0).be16(46).be16(1).be16(0x4000).u8(64).u8(17).be16(0).bytes(sip, 4).bytes(dip, 4);
  f.be16(40000).be16(5060).be16(26).be16(0).zeros(18);
  return f.b;
}

struct LiveOptions {
  std::string tx_ns, tx_if, rx_ns, rx_if, pin_dir;
  uint32_t bans = kMillion;
  double seconds = 2.0;
  std::string receivers = "drop,xdpban,drop,xdpban,drop,xdpban";
  double span_mib = 32;  // part-span receiver (0.25 = 256 KiB)
  bool miss = false;     // sources never banned (against pass-all) instead of banned ones
};

int cmd_live(const LiveOptions& lo) {
  Netns tx(lo.tx_ns), rx(lo.rx_ns);
  PinDir dir(lo.pin_dir.empty() ? default_pin_dir("-l") : lo.pin_dir);
  DatapathOptions dopts;
  dopts.pin_dir = dir.path();
  dopts.capacity = std::max(kMillion, lo.bans);
  check(LoadedProgram::load(dopts), "load production program");
  auto bl = check(Blocklist::open(dir.path(), Blocklist::Access::kWrite), "open blocklist");
  Populated p = populate(*bl, Family::V4, lo.bans, 0, 24, 64);
  auto span = static_cast<uint32_t>(lo.span_mib * (1u << 20) / sizeof(xdpban_hidx4_line));
  auto bp = check(BenchProgram::load(dir.path(), BenchConfig{lo.bans, 0, 24, 64, span, 1, lo.miss}),
                  "load bench program");
  auto* s = bp->skel();

  rx.enter();
  int rx_idx = ifindex_of(lo.rx_if);
  auto frame = live_frame(mac_of(lo.rx_if));
  tx.enter();
  int tx_idx = ifindex_of(lo.tx_if);
  std::printf(
      "\n== live %s: live-frames BPF_PROG_RUN generator (XDP_TX, 64-byte UDP to 5060, random %s\n"
      "   source%s) on %s/%s -> veth -> %s/%s; receiver in native XDP; %.1f s per run.\n"
      "   %s IPv4 host bans inserted in %.3f s. Mpps = packets handled by the receiver per second.\n",
      lo.miss ? "pass rate" : "drop rate", lo.miss ? "never banned" : "banned",
      lo.miss ? "" : (" among " + human_count(lo.bans)).c_str(), lo.tx_ns.c_str(), lo.tx_if.c_str(),
      lo.rx_ns.c_str(), lo.rx_if.c_str(), lo.seconds, human_count(lo.bans).c_str(), p.hosts_s);

  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(tx_idx);
  std::map<std::string, std::vector<double>> rates;
  std::stringstream list(lo.receivers);
  std::string recv;
  while (std::getline(list, recv, ',')) {
    rx.enter();
    std::string how;
    if (recv == "xdpban") {
      auto a = check(attach(dopts, lo.rx_if, AttachMode::kNative), "attach xdpban");
      how = a.mode + (a.dispatcher ? ", libxdp dispatcher" : ", program alone");
    } else {
      const std::map<std::string, struct bpf_program*> progs = {{"drop", s->progs.bench_drop},
                                                                {"parse", s->progs.bench_parse_drop},
                                                                {"pass", s->progs.bench_pass},
                                                                {"part-bloom", s->progs.bench_part_bloom},
                                                                {"part-table", s->progs.bench_part_table},
                                                                {"part-allow", s->progs.bench_part_allow},
                                                                {"part-clock", s->progs.bench_part_clock},
                                                                {"part-coarse", s->progs.bench_part_coarse},
                                                                {"part-span", s->progs.bench_part_span},
                                                                {"part-line", s->progs.bench_part_line},
                                                                {"part-mim", s->progs.bench_part_mim},
                                                                {"part-guard", s->progs.bench_part_guard},
                                                                {"part-none", s->progs.bench_part_none}};
      auto it = progs.find(recv);
      if (it == progs.end()) die("unknown receiver '" + recv + "' (xdpban, drop, parse, pass, part-*)");
      int fd = bpf_program__fd(it->second);
      if (bpf_xdp_attach(rx_idx, fd, XDP_FLAGS_DRV_MODE, nullptr) != 0)
        die("attach " + recv + ": " + strerror(errno));
      how = "native";
    }
    auto count = [&]() -> uint64_t {
      if (recv == "xdpban") {
        auto st = read_stats(dir.path());
        return lo.miss ? st.passed : st.dropped_v4;
      }
      if (recv.rfind("part-", 0) == 0) return bp->counter(4);  // BENCH_CNT_PART
      return bp->counter(recv == "drop" ? 1 : recv == "pass" ? 2 : 3);
    };
    tx.enter();
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof ctx, .repeat = 1u << 18, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
    int gen_fd = bpf_program__fd(lo.miss ? s->progs.bench_gen_miss : s->progs.bench_gen);
    auto gen = [&](double secs) {
      double end = now_s() + secs;
      while (now_s() < end)
        if (bpf_prog_test_run_opts(gen_fd, &o) != 0)
          die(std::string("live BPF_PROG_RUN: ") + strerror(errno));
    };
    gen(0.2);  // warm-up
    uint64_t c0 = count(), g0 = bp->counter(0);
    double t0 = now_s();
    gen(lo.seconds);
    double t = now_s() - t0;
    uint64_t c1 = count(), g1 = bp->counter(0);
    double mpps = static_cast<double>(c1 - c0) / t / 1e6;
    rates[recv].push_back(mpps);
    std::printf("  %-8s %6.2f Mpps handled  (generated %6.2f Mpps; %s)\n", recv.c_str(), mpps,
                static_cast<double>(g1 - g0) / t / 1e6, how.c_str());
    std::fflush(stdout);
    rx.enter();
    if (recv == "xdpban")
      check(detach(lo.rx_if), "detach xdpban");
    else
      bpf_xdp_detach(rx_idx, XDP_FLAGS_DRV_MODE, nullptr);
  }
  const char* base = lo.miss ? "pass" : "drop";
  if (rates.count(base)) {
    double ceiling = median(rates[base]);
    for (auto& [name, v] : rates)
      std::printf("  median %-8s %6.2f Mpps = %5.1f%% of %s-all\n", name.c_str(), median(v),
                  100.0 * median(v) / ceiling, base);
    if (rates.count("xdpban")) {
      double ratio = median(rates["xdpban"]) / ceiling, floor = lo.miss ? 0.95 : 0.60;
      std::printf("  goal: %s sources, %s bans: xdpban %.2f of %s-all, floor %.2f: %s\n",
                  lo.miss ? "never-banned" : "banned", human_count(lo.bans).c_str(), ratio, base, floor,
                  ratio >= floor ? "met" : "NOT met");
    }
  }
  auto st = read_stats(dir.path());
  std::printf(
      "  xdpban stats: dropped_v4 %llu passed %llu host_probes %llu host_exact %llu net_probes %llu\n",
      static_cast<unsigned long long>(st.dropped_v4), static_cast<unsigned long long>(st.passed),
      static_cast<unsigned long long>(st.host_probes), static_cast<unsigned long long>(st.host_exact),
      static_cast<unsigned long long>(st.net_probes));
  std::fflush(stdout);
  return 0;
}

// ---------------------------------------------------------------- flood guard (issue 6)

struct FloodBenchOptions {
  uint32_t sources = 100000;
  uint32_t repeat = 1u << 21;
  int rounds = 5;
};

int cmd_flood(const FloodBenchOptions& fo) {
  PinDir dir(default_pin_dir("-f"));
  DatapathOptions dopts;
  dopts.pin_dir = dir.path();
  dopts.capacity = 65536;
  dopts.flood_tracked = fo.sources;
  check(LoadedProgram::load(dopts), "load production program");
  BenchConfig cfg;
  cfg.flood_sources = fo.sources;
  auto bp = check(BenchProgram::load(dir.path(), cfg), "load bench program");
  auto guard = check(FloodGuard::open(dir.path()), "open the flood maps");
  FloodRule rule;
  rule.id = 1;
  rule.ports = {{XDPBAN_FLOOD_UDP, 5060}};
  rule.drops = XDPBAN_FLOOD_MAX_DROPS;  // no reports: the cost of the check itself
  auto set_rule = [&](double rate, uint32_t burst) {
    rule.rate = rate;
    rule.burst = burst;
    check(guard->configure({rule}), "configure the flood rule");
  };
  auto* sk = bp->skel();
  int floor_fd = bpf_program__fd(sk->progs.bench_floor), miss_fd = bpf_program__fd(sk->progs.bench_miss),
      flood_fd = bpf_program__fd(sk->progs.bench_flood);
  auto frame = test_frame(Family::V4);
  // Every source tracked before measuring: 20 packets per source on average
  // (random sources) leave next to none without its bucket.
  constexpr uint32_t kUnder = 1u << 31;  // burst: 2 s at 1e9/s, more than an 'over' round leaves behind
  set_rule(1e9, kUnder);
  double t0 = now_s();
  test_run_ns(flood_fd, frame, fo.sources * 20);
  double t_fill = now_s() - t0;
  std::printf(
      "\n== flood guard: ns/packet via BPF_PROG_TEST_RUN (repeat %u, median of %d rounds), UDP to a guarded\n"
      "   port from a random source among %s tracked ones (%.2f s to track them all; table of %u lines\n"
      "   of %d slots, %.2f MiB).\n"
      "   floor = parse + random source, no lookup; bans = the ban verdict alone (no bans); guard = the\n"
      "   production verdict with the flood guard: 'under' = rule 1e9/s (every packet passes, bucket\n"
      "   updated), 'over' = rule 1/s burst 1 (every packet dropped: allow list read, counters).\n",
      fo.repeat, fo.rounds, human_count(fo.sources).c_str(), t_fill,
      static_cast<unsigned>(bpf_map__max_entries(sk->maps.xdpban_ftable)), XDPBAN_FLOOD_SLOTS_PER_BUCKET,
      bpf_map__max_entries(sk->maps.xdpban_ftable) * sizeof(xdpban_flood_bucket) / 1048576.0);
  std::map<std::string, std::vector<double>> ns;
  std::map<std::string, double> dropped, checked;
  for (int fd : {floor_fd, miss_fd, flood_fd}) test_run_ns(fd, frame, fo.repeat / 4);  // warm up
  for (int r = 0; r < fo.rounds; ++r) {
    ns["floor"].push_back(test_run_ns(floor_fd, frame, fo.repeat));
    ns["bans"].push_back(test_run_ns(miss_fd, frame, fo.repeat));
    for (auto [mode, rate, burst] :
         {std::tuple<const char*, double, uint32_t>{"under", 1e9, kUnder}, {"over", 1.0, 1u}}) {
      set_rule(rate, burst);
      if (std::string(mode) == "over") test_run_ns(flood_fd, frame, fo.sources * 4);  // empty every bucket
      auto before = read_stats(dir.path());
      ns[mode].push_back(test_run_ns(flood_fd, frame, fo.repeat));
      auto after = read_stats(dir.path());
      dropped[mode] +=
          static_cast<double>(after.flood_dropped - before.flood_dropped) / fo.repeat / fo.rounds;
      checked[mode] +=
          static_cast<double>(after.flood_checked - before.flood_checked) / fo.repeat / fo.rounds;
    }
  }
  double floor = median(ns["floor"]), bans = median(ns["bans"]);
  std::printf("  %-28s %7.1f ns\n", "floor (no lookup)", floor);
  std::printf("  %-28s %7.1f ns  %4.2fx floor\n", "bans only", bans, bans / floor);
  for (const char* mode : {"under", "over"}) {
    double v = median(ns[mode]);
    std::printf(
        "  %-28s %7.1f ns  %4.2fx floor; the guard adds %5.1f ns = %4.2fx floor"
        "  (checked %.3f, dropped %.3f per packet)\n",
        (std::string("bans + guard, ") + mode + " rate").c_str(), v, v / floor, v - bans, (v - bans) / floor,
        checked[mode], dropped[mode]);
  }
  double worst = std::max(median(ns["under"]), median(ns["over"])) - bans;
  std::printf("  goal: %u tracked sources: the guard adds %.2fx the floor (floor 1.5x): %s\n", fo.sources,
              worst / floor, worst / floor <= 1.5 ? "met" : "NOT met");
  return 0;
}

// A flood from `sources` random hosts of bench_addr.h (UDP to dst_ip:5060,
// valid IPv4 checksum) out of tx_if in tx_ns for `seconds`, from the
// live-frames generator; prints what it sent. bench_flood.sh runs it.
struct GenOptions {
  std::string tx_ns, tx_if, dst_mac, dst_ip = "10.203.0.2";
  uint32_t sources = 10000;
  double seconds = 5;
};

int cmd_gen(const GenOptions& go) {
  Netns tx(go.tx_ns);
  PinDir dir(default_pin_dir("-g"));
  DatapathOptions dopts;
  dopts.pin_dir = dir.path();
  dopts.capacity = 65536;
  check(LoadedProgram::load(dopts), "load production program");  // the bench object needs its maps
  BenchConfig cfg;
  cfg.hosts = go.sources;  // bench_gen's sources: hosts [0, sources)
  auto bp = check(BenchProgram::load(dir.path(), cfg), "load bench program");
  std::vector<uint8_t> mac(6);
  if (std::sscanf(go.dst_mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
                  &mac[4], &mac[5]) != 6)
    die("--dst-mac: '" + go.dst_mac + "' is not a MAC address");
  auto frame = live_frame(mac);
  if (inet_pton(AF_INET, go.dst_ip.c_str(), frame.data() + 14 + 16) != 1) die("--dst-ip: " + go.dst_ip);
  tx.enter();
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(ifindex_of(go.tx_if));
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx, .ctx_size_in = sizeof ctx,
              .repeat = 1u << 16, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
  uint64_t g0 = bp->counter(0);
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);  // when the flood starts, for the script's ban times
  double t0 = now_s(), end = t0 + go.seconds;
  while (now_s() < end)
    if (bpf_prog_test_run_opts(bpf_program__fd(bp->skel()->progs.bench_gen), &o) != 0)
      die(std::string("live BPF_PROG_RUN: ") + strerror(errno));
  double t = now_s() - t0;
  uint64_t sent = bp->counter(0) - g0;
  std::printf("{\"sent\": %llu, \"seconds\": %.3f, \"mpps\": %.3f, \"sources\": %u, \"start\": %.6f}\n",
              static_cast<unsigned long long>(sent), t, static_cast<double>(sent) / t / 1e6, go.sources,
              static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) * 1e-9);
  return 0;
}

// ---------------------------------------------------------------- addresses for nftables / ipset

int cmd_addrs(uint32_t count, const std::string& format) {
  char buf[INET_ADDRSTRLEN];
  auto addr = [&](uint32_t i) {
    uint32_t a = htonl(bench_host4(i));
    return inet_ntop(AF_INET, &a, buf, sizeof buf);
  };
  if (format == "nft") {
    std::printf("add table ip xbb\nadd set ip xbb ban { type ipv4_addr; size %u; }\n", count + count / 2);
    for (uint32_t i = 0; i < count; i += 10000) {
      std::printf("add element ip xbb ban { ");
      for (uint32_t k = i; k < std::min(count, i + 10000); ++k) std::printf(k == i ? "%s" : ", %s", addr(k));
      std::printf(" }\n");
    }
    std::printf(
        "add chain ip xbb pre { type filter hook prerouting priority -300; policy accept; }\n"
        "add rule ip xbb pre ip saddr @ban counter drop\n");
  } else if (format == "ipset") {
    std::printf("create xbb-ban hash:ip family inet hashsize %u maxelem %u\n", kMillion, count + count / 2);
    for (uint32_t i = 0; i < count; ++i) std::printf("add xbb-ban %s\n", addr(i));
  } else if (format == "plain") {
    for (uint32_t i = 0; i < count; ++i) std::printf("%s\n", addr(i));
  } else {
    die("--format nft|ipset|plain");
  }
  return 0;
}

}  // namespace
}  // namespace xdpban::bench

int main(int argc, char** argv) {
  using namespace xdpban::bench;
  CLI::App app{"xdpban datapath benchmarks (issue 2); run as root, pinned: taskset -c 1 bench_datapath"};
  app.require_subcommand(0, 1);
  ClassifyOptions co;
  bool quick = false, compare = true;
  auto* all = app.add_subcommand("all", "classifier table, then insertion and memory (the default)");
  auto* classify = app.add_subcommand("classify", "classifier ns/packet next to the floor");
  for (auto* c : {all, classify}) {
    c->add_option("--repeat", co.repeat, "BPF_PROG_TEST_RUN repeat per measurement");
    c->add_option("--rounds", co.rounds, "interleaved rounds (median reported)");
    c->add_flag("--quick", quick, "only 0 bans and the 1M + 10k networks scenarios");
  }
  auto* span = app.add_subcommand("span", "cost of one host table read vs the table's footprint");
  span->add_option("--repeat", co.repeat, "BPF_PROG_TEST_RUN repeat per measurement");
  span->add_option("--rounds", co.rounds, "interleaved rounds (median reported)");
  auto* insert = app.add_subcommand("insert", "insertion time and kernel memory at 1M bans");
  insert->add_flag("!--no-compare", compare, "skip the plain hash / LPM batch comparison");
  LiveOptions lo;
  auto* live = app.add_subcommand("live", "live drop rate through veth (see bench_live.sh)");
  live->add_option("--tx-ns", lo.tx_ns, "generator namespace (/run/netns/NAME)")->required();
  live->add_option("--tx-if", lo.tx_if, "generator veth end")->required();
  live->add_option("--rx-ns", lo.rx_ns, "receiver namespace")->required();
  live->add_option("--rx-if", lo.rx_if, "receiver veth end")->required();
  live->add_option("--pin-dir", lo.pin_dir, "bpffs pin directory (removed at exit)");
  live->add_option("--bans", lo.bans, "banned IPv4 hosts (the generator's sources)");
  live->add_option("--seconds", lo.seconds, "seconds per receiver run");
  live->add_flag("--miss", lo.miss,
                 "sources never banned (legitimate traffic), compared with pass-all, instead of banned ones "
                 "compared with drop-all");
  live->add_option("--span-mib", lo.span_mib,
                   "part-span: MiB of a 32 MiB area it reads one random line of (power of two)");
  live->add_option("--receivers", lo.receivers,
                   "comma list of xdpban, drop (XDP_DROP + counter), parse (parse, read source, drop), pass, "
                   "part-bloom|table|allow|clock|coarse|span (one piece of the hit path, then drop)");
  FloodBenchOptions fo;
  auto* flood = app.add_subcommand("flood", "flood guard ns/packet at N tracked sources (issue 6)");
  flood->add_option("--sources", fo.sources, "tracked sources");
  flood->add_option("--repeat", fo.repeat, "BPF_PROG_TEST_RUN repeat per measurement");
  flood->add_option("--rounds", fo.rounds, "interleaved rounds (median reported)");
  GenOptions go;
  auto* gen =
      app.add_subcommand("gen", "live flood generator for bench_flood.sh: random sources to UDP 5060");
  gen->add_option("--tx-ns", go.tx_ns, "generator namespace (/run/netns/NAME)")->required();
  gen->add_option("--tx-if", go.tx_if, "generator veth end")->required();
  gen->add_option("--dst-mac", go.dst_mac, "the receiver's MAC address")->required();
  gen->add_option("--dst-ip", go.dst_ip, "the receiver's IPv4 address");
  gen->add_option("--sources", go.sources, "distinct source addresses");
  gen->add_option("--seconds", go.seconds, "how long");
  uint32_t count = kMillion;
  std::string format;
  auto* addrs = app.add_subcommand("addrs", "print the banned hosts as an nft -f or ipset restore script");
  addrs->add_option("--count", count, "number of hosts");
  addrs->add_option("--format", format, "nft, ipset or plain (one address a line, for xdpban import)")
      ->required();
  bool permanent = false;
  app.add_flag("--permanent", permanent, "write permanent bans (default: expiring in a day, like fail2ban)");
  CLI11_PARSE(app, argc, argv);
  g_expires_ns = permanent ? 0 : xdpban::boottime_ns() + 86400ull * 1000000000ull;

  if (!addrs->parsed()) xdpban::set_bpf_log_verbose(false);
  if (classify->parsed()) return cmd_classify(co, quick);
  if (insert->parsed()) return cmd_insert(compare);
  if (span->parsed()) return cmd_span(co);
  if (live->parsed()) return cmd_live(lo);
  if (flood->parsed()) return cmd_flood(fo);
  if (gen->parsed()) return cmd_gen(go);
  if (addrs->parsed()) return cmd_addrs(count, format);
  cmd_classify(co, quick);
  return cmd_insert(true);
}
