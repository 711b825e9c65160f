// packet.h - builds test frames (Ethernet, VLAN tags, IPv4 with options, IPv6,
// UDP) byte by byte, for BPF_PROG_TEST_RUN tables and the benchmark.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xdpban::test {

struct Frame {
  std::vector<uint8_t> b;

  Frame& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Frame& be16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  Frame& bytes(const uint8_t* p, size_t n) {
    b.insert(b.end(), p, p + n);
    return *this;
  }
  Frame& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  Frame& truncate(size_t n) {
    b.resize(n);
    return *this;
  }
};

constexpr uint16_t kEthIp = 0x0800, kEthIp6 = 0x86dd, kEthArp = 0x0806, kVlan = 0x8100, kQinQ = 0x88a8;

inline Frame eth(std::vector<uint16_t> tags, uint16_t proto) {
  Frame f;
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 1}, src[6] = {0x02, 0, 0, 0, 0, 2};
  f.bytes(dst, 6).bytes(src, 6);
  for (uint16_t t : tags) f.be16(t).be16(100);  // tag, then TCI (VLAN 100)
  return f.be16(proto);
}

inline std::vector<uint8_t> a4(const char* s) {
  std::vector<uint8_t> v(4);
  inet_pton(AF_INET, s, v.data());
  return v;
}

inline std::vector<uint8_t> a6(const char* s) {
  std::vector<uint8_t> v(16);
  inet_pton(AF_INET6, s, v.data());
  return v;
}

// IPv4 + UDP to port 5060; `opt_words` 32-bit words of options (NOPs).
inline Frame ipv4(Frame f, const char* src, int opt_words = 0, uint16_t frag = 0, uint8_t version_ihl = 0) {
  auto s = a4(src), d = a4("192.0.2.1");
  uint8_t vihl = version_ihl ? version_ihl : uint8_t(0x40 | (5 + opt_words));
  uint16_t total = uint16_t(20 + opt_words * 4 + 8 + 4);
  f.u8(vihl).u8(0).be16(total).be16(1).be16(frag).u8(64).u8(17).be16(0);
  f.bytes(s.data(), 4).bytes(d.data(), 4);
  for (int i = 0; i < opt_words * 4; ++i) f.u8(1);  // NOP options
  f.be16(40000).be16(5060).be16(12).be16(0).zeros(4);
  return f;
}

inline Frame ipv6(Frame f, const char* src) {
  auto s = a6(src), d = a6("2001:db8:ffff::1");
  f.u8(0x60).u8(0).be16(0).be16(12).u8(17).u8(64);
  f.bytes(s.data(), 16).bytes(d.data(), 16);
  f.be16(40000).be16(5060).be16(12).be16(0).zeros(4);
  return f;
}

constexpr uint8_t kUdp = 17, kTcp = 6;
constexpr uint8_t kSyn = 0x02, kAck = 0x10;

// IPv4 with a UDP datagram or a TCP segment (flags) to `dport`; `frag` is the
// IPv4 flags+offset field.
inline Frame ipv4_to(Frame f, const char* src, uint8_t proto, uint16_t dport, uint8_t tcp_flags = kSyn,
                     uint16_t frag = 0) {
  auto s = a4(src), d = a4("192.0.2.1");
  uint16_t l4 = proto == kTcp ? 20 : 8;
  f.u8(0x45).u8(0).be16(uint16_t(20 + l4 + 4)).be16(1).be16(frag).u8(64).u8(proto).be16(0);
  f.bytes(s.data(), 4).bytes(d.data(), 4);
  if (proto == kTcp)
    f.be16(40000).be16(dport).zeros(8).u8(0x50).u8(tcp_flags).be16(65535).be16(0).be16(0);
  else
    f.be16(40000).be16(dport).be16(uint16_t(l4 + 4)).be16(0);
  return f.zeros(4);
}

inline Frame ipv6_to(Frame f, const char* src, uint8_t proto, uint16_t dport, uint8_t tcp_flags = kSyn) {
  auto s = a6(src), d = a6("2001:db8:ffff::1");
  uint16_t l4 = proto == kTcp ? 20 : 8;
  f.u8(0x60).u8(0).be16(0).be16(uint16_t(l4 + 4)).u8(proto).u8(64);
  f.bytes(s.data(), 16).bytes(d.data(), 16);
  if (proto == kTcp)
    f.be16(40000).be16(dport).zeros(8).u8(0x50).u8(tcp_flags).be16(65535).be16(0).be16(0);
  else
    f.be16(40000).be16(dport).be16(uint16_t(l4 + 4)).be16(0);
  return f.zeros(4);
}

}  // namespace xdpban::test
