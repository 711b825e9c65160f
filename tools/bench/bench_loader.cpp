#include "bench_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "io/fd.h"
#include "xdpban/abi.h"
#include "xdpban_bench.skel.h"

namespace xdpban::bench {

namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace

namespace {
const int* ptr_to(const int& v) { return &v; }
}  // namespace

Result<std::unique_ptr<BenchProgram>> BenchProgram::load(const std::string& pin_dir, const BenchConfig& cfg) {
  Fd meta_fd(bpf_obj_get((pin_dir + "/" XDPBAN_MAP_META).c_str()));
  if (!meta_fd.valid()) return make_error(errno, "no pinned maps in " + pin_dir + ": " + errstr(errno));
  uint32_t zero = 0;
  xdpban_meta meta{};
  if (bpf_map_lookup_elem(meta_fd.get(), &zero, &meta) != 0)
    return make_error(errno, "cannot read " XDPBAN_MAP_META ": " + errstr(errno));

  LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir.c_str());
  struct xdpban_bench_bpf* skel = xdpban_bench_bpf__open_opts(&oo);
  if (!skel) return make_error(errno, "cannot open the bench BPF object: " + errstr(errno));
  std::unique_ptr<BenchProgram> bp(new BenchProgram(skel));

  // libbpf reuses a pin only if the definitions match: take each pinned map's size.
  struct bpf_map* map;
  bpf_object__for_each_map(map, skel->obj) {
    if (bpf_map__pin_path(map) == nullptr) continue;  // not a pinned (production) map
    Fd fd(bpf_obj_get(bpf_map__pin_path(map)));
    if (!fd.valid()) return make_error(errno, std::string("missing pin ") + bpf_map__pin_path(map));
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
      return make_error(errno, std::string("cannot inspect ") + bpf_map__pin_path(map));
    bpf_map__set_max_entries(map, info.max_entries);
  }
  skel->rodata->xdpban_seed = meta.hash_seed;
  skel->rodata->xdpban_hidx4_lines = meta.hidx4_lines;
  skel->rodata->xdpban_bloom4_words = meta.bloom4_words;
  skel->rodata->xdpban_bloom6_words = meta.bloom6_words;
  skel->rodata->bench_hosts = cfg.hosts;
  skel->rodata->bench_nets = cfg.nets;
  skel->rodata->bench_plen4 = cfg.plen4;
  skel->rodata->bench_plen6 = cfg.plen6;
  skel->rodata->xdpban_flood_buckets = bpf_map__max_entries(skel->maps.xdpban_ftable);
  skel->rodata->bench_span = cfg.span;
  skel->rodata->bench_flood_sources = cfg.flood_sources;
  skel->rodata->bench_part_pass = cfg.part_pass;
  if (int err = xdpban_bench_bpf__load(skel); err != 0)
    return make_error(-err, "cannot load the bench BPF object: " + errstr(err));
  // bench_mim's inner arrays (the outer map holds the only reference once set).
  int outer = bpf_map__fd(skel->maps.bench_mim);
  for (uint32_t i = 0; i < bpf_map__max_entries(skel->maps.bench_mim); ++i) {
    Fd inner(bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 8, 4057, nullptr));
    if (!inner.valid() || bpf_map_update_elem(outer, &i, ptr_to(inner.get()), BPF_ANY) != 0)
      return make_error(errno, "cannot fill bench_mim: " + errstr(errno));
  }
  // The measurement is meaningless unless the bench program reads the very maps
  // the Blocklist wrote: check every pinned map is the same kernel object.
  bpf_object__for_each_map(map, skel->obj) {
    if (bpf_map__pin_path(map) == nullptr) continue;
    Fd fd(bpf_obj_get(bpf_map__pin_path(map)));
    bpf_map_info pinned{}, ours{};
    uint32_t len = sizeof pinned;
    bpf_obj_get_info_by_fd(fd.get(), &pinned, &len);
    len = sizeof ours;
    bpf_obj_get_info_by_fd(bpf_map__fd(map), &ours, &len);
    if (pinned.id == 0 || pinned.id != ours.id)
      return make_error(EPROTO, std::string("bench map ") + bpf_map__name(map) + " is not the pinned one");
  }
  return bp;
}

BenchProgram::~BenchProgram() { xdpban_bench_bpf__destroy(skel_); }

uint64_t BenchProgram::counter(uint32_t which) const {
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> per(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.bench_counts), &which, per.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t v : per) sum += v;
  return sum;
}

uint64_t fdinfo_memlock(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string key;
  uint64_t value = 0;
  while (in >> key) {
    if (key == "memlock:") {
      in >> value;
      return value;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

}  // namespace xdpban::bench
