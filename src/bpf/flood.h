// flood.h - the flood guard's maps from userspace: writes the rules and the
// guarded ports that xdpband's flood jails configure, reads the per-rule
// counters, and reads the ring buffer through which the XDP program reports
// sources over their rate. Does not decide bans (the daemon does) and does not
// touch the ban maps (Blocklist).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cidr.h"
#include "core/result.h"
#include "io/fd.h"
#include "xdpban/abi.h"

struct ring_buffer;

namespace xdpban {

struct FloodPort {
  uint8_t proto = XDPBAN_FLOOD_UDP;  // enum xdpban_flood_proto
  uint16_t port = 0;
  auto operator<=>(const FloodPort&) const = default;
  std::string str() const;  // "udp/5060"
};

// Parses "udp/5060", "tcp/25", "5060" (both protocols), "5060-5062" and
// "udp/5060-5062"; the error names the text.
Result<std::vector<FloodPort>> parse_flood_ports(const std::string& text);

struct FloodRule {
  uint8_t id = 0;        // 1 .. XDPBAN_FLOOD_MAX_RULES-1
  double rate = 0;       // packets (TCP: connection attempts) per second per source
  uint32_t burst = 1;    // packets a source may send at once on top of its rate
  uint32_t drops = 1;    // over-rate packets before the source is reported
  uint8_t prefix4 = 32;  // sources are counted by network
  uint8_t prefix6 = 128;
  std::vector<FloodPort> ports;
};

struct FloodReport {
  Cidr source;  // the host or network (rule prefix) over its rate
  uint8_t rule = 0;
  uint32_t dropped = 0;  // over-rate packets since the last report
};

struct FloodCounters {
  uint64_t checked = 0, dropped = 0, events = 0;
};

class FloodGuard {
 public:
  // The pinned flood maps in pin_dir (created with the program).
  static Result<std::unique_ptr<FloodGuard>> open(const std::string& pin_dir);
  ~FloodGuard();

  // Makes `rules` the whole configuration: ports of rules not given stop being
  // guarded. New ports start counting only once their rule is in place.
  Status configure(const std::vector<FloodRule>& rules);
  Result<FloodCounters> counters(uint8_t rule) const;  // summed over CPUs

  // The ring buffer: an fd for epoll, and consume() hands over every report
  // waiting there.
  int events_fd() const;
  Status consume(const std::function<void(const FloodReport&)>& on_report);

 private:
  FloodGuard() = default;
  Fd ports_, rules_, stats_, events_;
  struct ring_buffer* rb_ = nullptr;
  std::function<void(const FloodReport&)> on_report_;
};

}  // namespace xdpban
