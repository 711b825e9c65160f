#include "bpf/datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "bpf/blocklist.h"
#include "bpf/host_table.h"
#include "io/fd.h"
#include "xdpban.skel.h"

namespace xdpban {

namespace {

bool g_verbose = false;
// While attaching, libxdp probes for its dispatcher and libbpf reports that
// probe's expected failure as a warning; such messages are held here and shown
// only if the attach fails.
std::string* g_held = nullptr;

int emit(bool show, const char* fmt, va_list args) {
  if (!show) return 0;
  if (!g_held) return vfprintf(stderr, fmt, args);
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, args);
  g_held->append(buf);
  return n;
}

int print_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  return emit(level == LIBBPF_WARN || g_verbose, fmt, args);
}

int print_libxdp(enum libxdp_print_level level, const char* fmt, va_list args) {
  return emit(level == LIBXDP_WARN || g_verbose, fmt, args);
}

class HoldLogs {
 public:
  HoldLogs() {
    if (!g_verbose) g_held = &held_;
  }
  ~HoldLogs() { g_held = nullptr; }
  void release() {
    g_held = nullptr;
    std::fputs(held_.c_str(), stderr);
  }

 private:
  std::string held_;
};

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

uint32_t pow2_at_least(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return static_cast<uint32_t>(p);
}

bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// Reads the seed from an existing meta map; *fresh = no meta pinned yet.
Result<uint32_t> existing_seed(const std::string& pin_dir, bool* fresh) {
  std::string path = pin_dir + "/" XDPBAN_MAP_META;
  *fresh = !path_exists(path);
  if (*fresh && (path_exists(pin_dir + "/" XDPBAN_MAP_HOSTS4) ||
                 path_exists(pin_dir + "/" XDPBAN_MAP_HOSTS6) || path_exists(pin_dir + "/" XDPBAN_MAP_HIDX4)))
    return make_error(EPROTO, "host tables are pinned in " + pin_dir +
                                  " but " XDPBAN_MAP_META
                                  " is missing, so their hash seed is unknown; remove " +
                                  pin_dir + " to start over (this drops every ban in it)");
  if (*fresh) {
    uint32_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed) return make_error(errno, "getrandom failed");
    return seed;
  }
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return make_error(errno, "cannot open pinned map " + path + ": " + errstr(errno));
  uint32_t key = 0;
  xdpban_meta meta{};
  if (bpf_map_lookup_elem(fd.get(), &key, &meta) != 0)
    return make_error(errno, "cannot read " + path + ": " + errstr(errno));
  if (meta.abi_version != XDPBAN_ABI_VERSION)
    return make_error(EPROTO, path + " was written by ABI version " + std::to_string(meta.abi_version) +
                                  ", this build speaks version " + std::to_string(XDPBAN_ABI_VERSION) +
                                  "; stop xdpband, remove " + pin_dir +
                                  " and start it again: it restores its bans from its state database");
  return meta.hash_seed;
}

// Sizes every map: an existing pin keeps its size (after checking it matches
// this build's layout); a new one is sized from the capacity.
Status size_maps(struct bpf_object* obj, const DatapathOptions& opts) {
  uint32_t bloom_words = std::max<uint32_t>(64, pow2_at_least(opts.capacity / 8));  // 8 bits per host
  struct bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const char* name = bpf_map__name(map);
    if (name[0] == '.') continue;  // .rodata and friends
    std::string path = opts.pin_dir + "/" + name;
    if (path_exists(path)) {
      Fd fd(bpf_obj_get(path.c_str()));
      if (!fd.valid()) return make_error(errno, "cannot open pinned map " + path + ": " + errstr(errno));
      bpf_map_info info{};
      uint32_t len = sizeof info;
      if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
        return make_error(errno, "cannot inspect " + path + ": " + errstr(errno));
      if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
          info.value_size != bpf_map__value_size(map) || info.map_flags != bpf_map__map_flags(map))
        return make_error(EPROTO,
                          "pinned map " + path +
                              " does not match this build's layout (created by "
                              "another xdpban version?); remove it to start over (drops its entries)");
      bpf_map__set_max_entries(map, info.max_entries);
      continue;
    }
    std::string n = name;
    if (n == XDPBAN_MAP_HOSTS4 || n == XDPBAN_MAP_HOSTS6 || n == XDPBAN_MAP_NETS4 || n == XDPBAN_MAP_NETS6)
      bpf_map__set_max_entries(map, opts.capacity);
    else if (n == XDPBAN_MAP_HIDX4)
      bpf_map__set_max_entries(map, HostIndex4::lines_for(opts.capacity));
    else if (n == XDPBAN_MAP_BLOOM4 || n == XDPBAN_MAP_BLOOM6)
      bpf_map__set_max_entries(map, bloom_words);
    else if (n == XDPBAN_MAP_FTABLE)  // lines of 5 slots, load <= 1/2
      bpf_map__set_max_entries(map, xdpban_flood_lines(opts.flood_tracked));
  }
  return {};
}

// Geometry and seed; a map set that existed already keeps its expiry epoch
// and spilled count (the index's codes and marks depend on them).
Status write_meta(struct bpf_object* obj, uint32_t seed) {
  auto entries = [&](const char* n) { return bpf_map__max_entries(bpf_object__find_map_by_name(obj, n)); };
  uint32_t key = 0;
  int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, XDPBAN_MAP_META));
  xdpban_meta meta{};
  if (bpf_map_lookup_elem(fd, &key, &meta) != 0 || meta.abi_version != XDPBAN_ABI_VERSION) {
    meta = xdpban_meta{};
    meta.epoch_ns = boottime_ns();
  }
  meta.abi_version = XDPBAN_ABI_VERSION;
  meta.hash_seed = seed;
  meta.hidx4_lines = entries(XDPBAN_MAP_HIDX4);
  meta.bloom4_words = entries(XDPBAN_MAP_BLOOM4);
  meta.bloom6_words = entries(XDPBAN_MAP_BLOOM6);
  meta.nguard_words = entries(XDPBAN_MAP_NGUARD4);
  if (bpf_map_update_elem(fd, &key, &meta, BPF_ANY) != 0)
    return make_error(errno, "cannot write " XDPBAN_MAP_META ": " + errstr(errno));
  // Jail 0 is the manual jail.
  int jfd = bpf_map__fd(bpf_object__find_map_by_name(obj, XDPBAN_MAP_JAILS));
  xdpban_jail manual{};
  if (bpf_map_lookup_elem(jfd, &key, &manual) == 0 && manual.name[0] == 0) {
    std::snprintf(manual.name, sizeof manual.name, "manual");
    bpf_map_update_elem(jfd, &key, &manual, BPF_ANY);
  }
  return {};
}

// Opens the skeleton with pinning under pin_dir, sized and seeded; not loaded.
Result<struct xdpban_bpf*> open_configured(const DatapathOptions& opts, uint32_t* seed) {
  if (auto st = ensure_bpffs(opts.pin_dir); !st) return st.error();
  bool fresh = false;
  auto s = existing_seed(opts.pin_dir, &fresh);
  if (!s) return s.error();
  *seed = *s;
  LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = opts.pin_dir.c_str());
  struct xdpban_bpf* skel = xdpban_bpf__open_opts(&oo);
  if (!skel) return make_error(errno, "cannot open the BPF object: " + errstr(errno));
  if (auto st = size_maps(skel->obj, opts); !st) {
    xdpban_bpf__destroy(skel);
    return st.error();
  }
  skel->rodata->xdpban_seed = *seed;
  skel->rodata->xdpban_hidx4_lines = bpf_map__max_entries(skel->maps.xdpban_hidx4);
  skel->rodata->xdpban_bloom4_words = bpf_map__max_entries(skel->maps.xdpban_bloom4);
  skel->rodata->xdpban_bloom6_words = bpf_map__max_entries(skel->maps.xdpban_bloom6);
  skel->rodata->xdpban_flood_buckets = bpf_map__max_entries(skel->maps.xdpban_ftable);
  return skel;
}

const char* mode_name(enum xdp_attach_mode m) {
  switch (m) {
    case XDP_MODE_NATIVE:
      return "native";
    case XDP_MODE_SKB:
      return "skb";
    case XDP_MODE_HW:
      return "hw";
    default:
      return "unspecified";
  }
}

// Our program in an interface's XDP setup, or nullptr.
struct xdp_program* find_ours(struct xdp_multiprog* mp) {
  if (xdp_multiprog__is_legacy(mp)) {
    struct xdp_program* p = xdp_multiprog__main_prog(mp);
    return p && std::strcmp(xdp_program__name(p), XDPBAN_PROG_NAME) == 0 ? p : nullptr;
  }
  for (struct xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp))
    if (std::strcmp(xdp_program__name(p), XDPBAN_PROG_NAME) == 0) return p;
  return nullptr;
}

struct MultiprogCloser {
  void operator()(struct xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using MultiprogPtr = std::unique_ptr<struct xdp_multiprog, MultiprogCloser>;

MultiprogPtr get_multiprog(int ifindex) {
  struct xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (libxdp_get_error(mp)) return nullptr;
  return MultiprogPtr(mp);
}

Result<Attachment> describe(int ifindex, const std::string& ifname) {
  auto mp = get_multiprog(ifindex);
  struct xdp_program* p = mp ? find_ours(mp.get()) : nullptr;
  if (!p) return make_error(ENOENT, "xdpban is not attached to " + ifname);
  struct bpf_prog_info info {};
  uint32_t len = sizeof info;
  uint32_t id = 0;
  if (bpf_obj_get_info_by_fd(xdp_program__fd(p), &info, &len) == 0) id = info.id;
  return Attachment{ifname, mode_name(xdp_multiprog__attach_mode(mp.get())),
                    !xdp_multiprog__is_legacy(mp.get()), id, false};
}

}  // namespace

Result<AttachMode> parse_attach_mode(const std::string& text) {
  if (text == "native") return AttachMode::kNative;
  if (text == "skb") return AttachMode::kSkb;
  if (text == "auto") return AttachMode::kAuto;
  return invalid("'" + text + "' is not an XDP mode (native, skb or auto)");
}

void set_bpf_log_verbose(bool verbose) {
  g_verbose = verbose;
  libbpf_set_print(print_libbpf);
  libxdp_set_print(print_libxdp);
}

Status ensure_bpffs(const std::string& pin_dir) {
  struct statfs sfs;
  if (::statfs("/sys/fs/bpf", &sfs) != 0 || sfs.f_type != BPF_FS_MAGIC) {
    if (::mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
      return make_error(errno, "bpffs is not mounted on /sys/fs/bpf and mounting it failed (" +
                                   errstr(errno) + "); run as root or: mount -t bpf bpf /sys/fs/bpf");
  }
  if (::mkdir(pin_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(errno, "cannot create " + pin_dir + ": " + errstr(errno));
  return {};
}

Result<std::unique_ptr<LoadedProgram>> LoadedProgram::load(const DatapathOptions& opts) {
  uint32_t seed = 0;
  auto skel = open_configured(opts, &seed);
  if (!skel) return skel.error();
  if (int err = xdpban_bpf__load(*skel); err != 0) {
    xdpban_bpf__destroy(*skel);
    return make_error(-err, "cannot load the XDP program: " + errstr(err) +
                                (err == -EPERM ? " (needs root or CAP_BPF+CAP_NET_ADMIN)" : ""));
  }
  std::unique_ptr<LoadedProgram> lp(new LoadedProgram(*skel));
  if (auto st = write_meta((*skel)->obj, seed); !st) return st.error();
  return lp;
}

LoadedProgram::~LoadedProgram() { xdpban_bpf__destroy(skel_); }

int LoadedProgram::prog_fd() const { return bpf_program__fd(skel_->progs.xdpban_xdp); }

std::vector<uint32_t> LoadedProgram::pinned_map_ids() const {
  std::vector<uint32_t> ids;
  struct bpf_map* map;
  bpf_object__for_each_map(map, skel_->obj) {
    if (!bpf_map__is_pinned(map)) continue;
    struct bpf_map_info info {};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len) == 0) ids.push_back(info.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status ensure_maps(const DatapathOptions& opts) {
  auto lp = LoadedProgram::load(opts);
  if (!lp) return lp.error();
  return {};
}

namespace {

// A loaded program's instruction tag (which leaves map references out) and
// the ids of the maps it reads, sorted.
struct ProgIdentity {
  std::string tag;
  std::vector<uint32_t> map_ids;
};

Result<ProgIdentity> identity_of(int prog_fd) {
  struct bpf_prog_info info {};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return make_error(errno, "cannot inspect an XDP program: " + errstr(errno));
  ProgIdentity id;
  id.tag.assign(reinterpret_cast<const char*>(info.tag), sizeof info.tag);
  id.map_ids.resize(info.nr_map_ids);
  if (info.nr_map_ids > 0) {
    struct bpf_prog_info again {};
    again.nr_map_ids = info.nr_map_ids;
    again.map_ids = reinterpret_cast<uint64_t>(id.map_ids.data());
    len = sizeof again;
    if (bpf_obj_get_info_by_fd(prog_fd, &again, &len) != 0)
      return make_error(errno, "cannot list an XDP program's maps: " + errstr(errno));
    id.map_ids.resize(std::min(again.nr_map_ids, info.nr_map_ids));
  }
  std::sort(id.map_ids.begin(), id.map_ids.end());
  return id;
}

// Our program is attached already: keep it when it is this build's and reads
// the maps pinned in opts.pin_dir, else put this build's in its place in one
// step (the kernel swaps the programs atomically, so no packet goes
// unchecked). A program reading other maps (the pin dir was removed or changed
// since it was attached) would enforce none of the bans written to ours.
Result<Attachment> upgrade(const DatapathOptions& opts, int ifindex, const Attachment& cur) {
  auto mp = get_multiprog(ifindex);
  struct xdp_program* old = mp ? find_ours(mp.get()) : nullptr;
  if (!old) return cur;
  auto fresh = LoadedProgram::load(opts);
  if (!fresh) return fresh.error();
  auto want = identity_of((*fresh)->prog_fd());
  if (!want) return want.error();
  auto have = identity_of(xdp_program__fd(old));
  if (!have) return have.error();
  // Each load has its own .rodata; what matters is that the attached program
  // reads every pinned map this build's reads.
  const std::vector<uint32_t> pinned = (*fresh)->pinned_map_ids();
  std::vector<uint32_t> needed;
  std::set_intersection(want->map_ids.begin(), want->map_ids.end(), pinned.begin(), pinned.end(),
                        std::back_inserter(needed));
  bool reads_ours = std::includes(have->map_ids.begin(), have->map_ids.end(), needed.begin(), needed.end());
  if (want->tag == have->tag && reads_ours) return cur;
  const bool foreign_maps = !reads_ours;
  if (!xdp_multiprog__is_legacy(mp.get()))
    return make_error(
        EEXIST, std::string(foreign_maps ? "an xdpban program reading other maps than " + opts.pin_dir
                                         : "an older xdpban program") +
                    " runs on " + cur.ifname + " in libxdp's dispatcher; run 'xdpban detach " + cur.ifname +
                    "' and attach again");
  uint32_t flags =
      XDP_FLAGS_REPLACE |
      (xdp_multiprog__attach_mode(mp.get()) == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
  LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = xdp_program__fd(old));
  if (int err = bpf_xdp_attach(ifindex, (*fresh)->prog_fd(), flags, &ao); err != 0)
    return make_error(-err, "cannot replace the older xdpban program on " + cur.ifname + ": " + errstr(err));
  auto now = describe(ifindex, cur.ifname);
  if (!now) return now.error();
  now->replaced = true;
  now->foreign_maps = foreign_maps;
  return *now;
}

}  // namespace

Result<Attachment> attach(const DatapathOptions& opts, const std::string& ifname, AttachMode mode) {
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return make_error(ENODEV, "no network interface named '" + ifname + "'");
  if (auto cur = describe(ifindex, ifname); cur.ok()) return upgrade(opts, ifindex, *cur);

  uint32_t seed = 0;
  auto skel = open_configured(opts, &seed);
  if (!skel) return skel.error();
  struct xdp_program* prog = xdp_program__from_bpf_obj((*skel)->obj, "xdp");
  if (libxdp_get_error(prog)) {
    int err = static_cast<int>(libxdp_get_error(prog));
    xdpban_bpf__destroy(*skel);
    return make_error(-err, "libxdp cannot use the XDP program: " + errstr(err));
  }
  HoldLogs hold;
  int err = 0;
  if (mode == AttachMode::kNative || mode == AttachMode::kAuto)
    err = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
  if (mode == AttachMode::kSkb || (mode == AttachMode::kAuto && err != 0))
    err = xdp_program__attach(prog, ifindex, XDP_MODE_SKB, 0);
  Status meta = err == 0 ? write_meta((*skel)->obj, seed) : Status{};
  xdp_program__close(prog);
  xdpban_bpf__destroy(*skel);
  if (err != 0) {
    hold.release();
    char buf[256];
    libxdp_strerror(err, buf, sizeof buf);
    return make_error(-err, "cannot attach to " + ifname + " in " +
                                (mode == AttachMode::kAuto     ? std::string("native or skb")
                                 : mode == AttachMode::kNative ? std::string("native")
                                                               : std::string("skb")) +
                                " mode: " + buf);
  }
  if (!meta) return meta.error();
  auto now = describe(ifindex, ifname);
  if (!now) return now.error();
  now->newly_attached = true;
  return *now;
}

Result<bool> detach(const std::string& ifname) {
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return make_error(ENODEV, "no network interface named '" + ifname + "'");
  auto mp = get_multiprog(ifindex);
  struct xdp_program* p = mp ? find_ours(mp.get()) : nullptr;
  if (!p) return false;
  int err = xdp_multiprog__is_legacy(mp.get())
                ? xdp_multiprog__detach(mp.get())
                : xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp.get()), 0);
  if (err != 0) {
    char buf[256];
    libxdp_strerror(err, buf, sizeof buf);
    return make_error(-err, "cannot detach from " + ifname + ": " + buf);
  }
  return true;
}

std::vector<Attachment> attachments() {
  std::vector<Attachment> out;
  struct if_nameindex* ifs = if_nameindex();
  if (!ifs) return out;
  for (auto* i = ifs; i->if_index != 0; ++i)
    if (auto a = describe(static_cast<int>(i->if_index), i->if_name); a.ok()) out.push_back(*a);
  if_freenameindex(ifs);
  return out;
}

}  // namespace xdpban
