#include "bpf/flood.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <vector>

namespace xdpban {

namespace {

std::string errstr(int e) { return std::strerror(e < 0 ? -e : e); }

Result<uint16_t> parse_port(std::string_view s, const std::string& whole) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535)
    return invalid("'" + whole + "' is not a port (1-65535), a range (5060-5062), or proto/port (udp/5060)");
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string FloodPort::str() const {
  return std::string(proto == XDPBAN_FLOOD_TCP ? "tcp/" : "udp/") + std::to_string(port);
}

Result<std::vector<FloodPort>> parse_flood_ports(const std::string& text) {
  std::vector<FloodPort> out;
  std::string word;
  auto take = [&](const std::string& w) -> Status {
    std::string_view v = w;
    std::vector<uint8_t> protos = {XDPBAN_FLOOD_UDP, XDPBAN_FLOOD_TCP};
    if (auto slash = v.find('/'); slash != std::string_view::npos) {
      std::string_view p = v.substr(0, slash);
      if (p == "udp")
        protos = {XDPBAN_FLOOD_UDP};
      else if (p == "tcp")
        protos = {XDPBAN_FLOOD_TCP};
      else
        return invalid("'" + w + "': protocol '" + std::string(p) + "' is not udp or tcp");
      v = v.substr(slash + 1);
    }
    auto dash = v.find('-');
    auto lo = parse_port(v.substr(0, dash), w);
    if (!lo) return lo.error();
    uint16_t hi = *lo;
    if (dash != std::string_view::npos) {
      auto h = parse_port(v.substr(dash + 1), w);
      if (!h) return h.error();
      if (*h < *lo) return invalid("'" + w + "': the range ends before it starts");
      if (*h - *lo >= 1024) return invalid("'" + w + "': a range covers at most 1024 ports");
      hi = *h;
    }
    for (uint8_t proto : protos)
      for (uint32_t port = *lo; port <= hi; ++port) out.push_back({proto, static_cast<uint16_t>(port)});
    return {};
  };
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ' ';
    if (c == ' ' || c == ',' || c == '\t' || c == '\n') {
      if (!word.empty())
        if (auto st = take(word); !st) return st.error();
      word.clear();
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (out.empty()) return invalid("no ports given");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::unique_ptr<FloodGuard>> FloodGuard::open(const std::string& pin_dir) {
  std::unique_ptr<FloodGuard> g(new FloodGuard());
  struct Want {
    const char* name;
    Fd* fd;
  } wants[] = {{XDPBAN_MAP_FPORTS, &g->ports_},
               {XDPBAN_MAP_FRULES, &g->rules_},
               {XDPBAN_MAP_FSTATS, &g->stats_},
               {XDPBAN_MAP_FEVENTS, &g->events_}};
  for (auto& w : wants) {
    std::string path = pin_dir + "/" + w.name;
    w.fd->reset(bpf_obj_get(path.c_str()));
    if (!w.fd->valid())
      return make_error(errno, "cannot open " + path + ": " + errstr(errno) +
                                   (errno == ENOENT ? " (maps from an xdpban without the flood guard? "
                                                      "detach and attach again)"
                                                    : ""));
  }
  g->rb_ = ring_buffer__new(
      g->events_.get(),
      [](void* ctx, void* data, size_t size) -> int {
        auto* self = static_cast<FloodGuard*>(ctx);
        if (size < sizeof(xdpban_flood_event) || !self->on_report_) return 0;
        xdpban_flood_event e;
        std::memcpy(&e, data, sizeof e);
        FloodReport r;
        r.source.addr.family = e.family == 6 ? Family::V6 : Family::V4;
        std::memcpy(r.source.addr.bytes.data(), e.addr, r.source.addr.size());
        r.source.prefix = static_cast<uint8_t>(std::min<int>(e.prefixlen, r.source.addr.bits()));
        mask_bits(r.source.addr.bytes.data(), r.source.addr.size(), r.source.prefix);
        r.rule = e.rule;
        r.dropped = e.dropped;
        self->on_report_(r);
        return 0;
      },
      g.get(), nullptr);
  if (!g->rb_) return make_error(errno, "cannot read the flood guard's ring buffer: " + errstr(errno));
  return g;
}

FloodGuard::~FloodGuard() {
  if (rb_) ring_buffer__free(rb_);
}

Status FloodGuard::configure(const std::vector<FloodRule>& rules) {
  std::map<FloodPort, uint32_t> rule_of;  // port -> rule id
  std::set<uint32_t> used;
  for (const auto& r : rules) {
    if (r.id == 0 || r.id >= XDPBAN_FLOOD_MAX_RULES)
      return invalid("flood rule id " + std::to_string(r.id) + " is out of range");
    if (!(r.rate > 0) || r.rate > 1e9) return invalid("flood rate must be between 0 and 1e9 per second");
    if (r.drops > XDPBAN_FLOOD_MAX_DROPS)
      return invalid("flood drops must be at most " + std::to_string(XDPBAN_FLOOD_MAX_DROPS));
    used.insert(r.id);
    for (const auto& p : r.ports)
      if (!rule_of.emplace(p, r.id).second) return invalid(p.str() + " is guarded by two flood rules");
  }
  // 1. The rules, so every port written below finds its rule.
  for (const auto& r : rules) {
    xdpban_flood_rule v{};
    v.interval_ns = static_cast<uint64_t>(std::llround(1e9 / r.rate));
    v.burst_ns = v.interval_ns * (std::max<uint32_t>(r.burst, 1) - 1);
    v.drops = std::max<uint32_t>(r.drops, 1);
    v.prefix4 = r.prefix4;
    v.prefix6 = r.prefix6;
    uint32_t key = r.id;
    if (bpf_map_update_elem(rules_.get(), &key, &v, BPF_ANY) != 0)
      return make_error(errno, "cannot write flood rule " + std::to_string(r.id) + ": " + errstr(errno));
  }
  // 2. The port table: a 4-bit rule id per port. Each 64-bit word is written
  // whole, so the program never sees half a change.
  std::vector<uint64_t> words(XDPBAN_FLOOD_PORT_WORDS, 0);
  for (const auto& [p, id] : rule_of) {
    uint32_t i = p.proto * 65536u + p.port;
    words[i / 16] |= uint64_t{id} << (i % 16 * 4);
  }
  for (uint32_t w = 0; w < XDPBAN_FLOOD_PORT_WORDS; ++w) {
    uint64_t cur = 0;
    if (bpf_map_lookup_elem(ports_.get(), &w, &cur) == 0 && cur == words[w]) continue;
    if (bpf_map_update_elem(ports_.get(), &w, &words[w], BPF_ANY) != 0)
      return make_error(errno, std::string("cannot write the guarded ports: ") + errstr(errno));
  }
  // 3. Rules no longer used (no port points at them now).
  for (uint32_t id = 1; id < XDPBAN_FLOOD_MAX_RULES; ++id) {
    if (used.count(id)) continue;
    xdpban_flood_rule off{};
    (void)bpf_map_update_elem(rules_.get(), &id, &off, BPF_ANY);
  }
  return {};
}

Result<FloodCounters> FloodGuard::counters(uint8_t rule) const {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error(-ncpu, "cannot count CPUs");
  std::vector<xdpban_flood_stats> per(static_cast<size_t>(ncpu));
  uint32_t key = rule;
  if (bpf_map_lookup_elem(stats_.get(), &key, per.data()) != 0)
    return make_error(errno, "cannot read the flood counters: " + errstr(errno));
  FloodCounters c;
  for (const auto& s : per) {
    c.checked += s.checked;
    c.dropped += s.dropped;
    c.events += s.events;
  }
  return c;
}

int FloodGuard::events_fd() const { return ring_buffer__epoll_fd(rb_); }

Status FloodGuard::consume(const std::function<void(const FloodReport&)>& on_report) {
  on_report_ = on_report;
  int n = ring_buffer__consume(rb_);
  on_report_ = nullptr;
  if (n < 0) return make_error(-n, "reading the flood guard's ring buffer: " + errstr(n));
  return {};
}

}  // namespace xdpban
