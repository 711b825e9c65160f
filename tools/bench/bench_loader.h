// bench_loader.h - loads the benchmark BPF object (bpf/xdpban_bench.bpf.c)
// against the production maps already pinned in a directory: same sizes, same
// hash seed and geometry as the production loader would configure. This is
// the generic "second skeleton over the same pins" hook that src/bpf does not
// offer yet; it copies the loader's rules (see src/bpf/datapath.cpp).
// Does not create maps: run xdpban::LoadedProgram::load first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

struct xdpban_bench_bpf;  // generated skeleton

namespace xdpban::bench {

struct BenchConfig {
  uint32_t hosts = 0;  // host indexes [0, hosts) are banned (bench_addr.h)
  uint32_t nets = 0;   // network indexes [0, nets) are banned
  uint32_t plen4 = 24;
  uint32_t plen6 = 64;
  uint32_t span = 1;           // bench_part_span: host4 slots touched (power of two)
  uint32_t flood_sources = 1;  // bench_flood: sources [0, n)
  bool part_pass = false;      // bench_part_*: keep the frame's source and pass (live misses)
};

class BenchProgram {
 public:
  static Result<std::unique_ptr<BenchProgram>> load(const std::string& pin_dir, const BenchConfig& cfg);
  ~BenchProgram();
  BenchProgram(const BenchProgram&) = delete;
  BenchProgram& operator=(const BenchProgram&) = delete;

  struct xdpban_bench_bpf* skel() const {
    return skel_;
  }
  // Summed over CPUs: bench_counts[which].
  uint64_t counter(uint32_t which) const;

 private:
  explicit BenchProgram(struct xdpban_bench_bpf* s) : skel_(s) {}
  struct xdpban_bench_bpf* skel_;
};

// memlock reported in /proc/self/fdinfo for a BPF object fd, in bytes.
uint64_t fdinfo_memlock(int fd);

}  // namespace xdpban::bench
