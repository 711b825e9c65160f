// datapath.h - loading the XDP program, creating/reusing the pinned maps, and
// attaching/detaching through libxdp. The only place (with blocklist.cpp and
// the benchmark) that includes libbpf/libxdp. Does not own ban semantics
// (Blocklist) or policy (the daemon).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "xdpban/abi.h"

struct xdpban_bpf;  // generated skeleton

namespace xdpban {

struct DatapathOptions {
  std::string pin_dir = XDPBAN_PIN_DIR;
  // Host bans per family the tables are sized for when the maps are first
  // created; existing pinned maps keep their size.
  uint32_t capacity = 1u << 20;
  // Sources the flood guard tracks at once (LRU), set when its map is created.
  uint32_t flood_tracked = 1u << 17;
};

enum class AttachMode { kNative, kSkb, kAuto };
Result<AttachMode> parse_attach_mode(const std::string& text);

// Mounts bpffs on /sys/fs/bpf if it is not mounted and creates pin_dir.
Status ensure_bpffs(const std::string& pin_dir);

// Routes libbpf/libxdp messages to stderr: warnings always, debug with verbose.
void set_bpf_log_verbose(bool verbose);

// A loaded (not attached) instance of the production program, its maps pinned
// under pin_dir (created, or reused with their bans). RAII over the skeleton.
class LoadedProgram {
 public:
  static Result<std::unique_ptr<LoadedProgram>> load(const DatapathOptions& opts);
  ~LoadedProgram();
  LoadedProgram(const LoadedProgram&) = delete;
  LoadedProgram& operator=(const LoadedProgram&) = delete;

  int prog_fd() const;
  // Ids of the maps pinned under pin_dir that the program reads, sorted.
  std::vector<uint32_t> pinned_map_ids() const;

 private:
  explicit LoadedProgram(struct xdpban_bpf* skel) : skel_(skel) {}
  struct xdpban_bpf* skel_;
};

// Creates the pinned maps if they do not exist yet (bans can be written before
// any interface is attached).
Status ensure_maps(const DatapathOptions& opts);

struct Attachment {
  std::string ifname;
  std::string mode;  // "native", "skb" or "hw"
  bool dispatcher;   // libxdp multi-program dispatcher (else the program alone)
  uint32_t prog_id;
  bool newly_attached;        // false: it was attached already
  bool replaced = false;      // an older xdpban program was attached: this build's took its place
  bool foreign_maps = false;  // ... the same program, but reading maps not pinned in pin_dir
};

// Attaches the program, or keeps the one attached when it is this build's and
// reads the maps in opts.pin_dir; any other xdpban program (an older build's,
// or one reading maps since unpinned) is replaced in place, with no gap.
Result<Attachment> attach(const DatapathOptions& opts, const std::string& ifname, AttachMode mode);
// Ok(false) when xdpban was not attached to ifname (detach is idempotent).
Result<bool> detach(const std::string& ifname);
// Every interface xdpban is attached to.
std::vector<Attachment> attachments();

}  // namespace xdpban
