#include "core/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace xdpban {

namespace {

bool is_v4_mapped(const uint8_t* b) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kPrefix, sizeof kPrefix) == 0;
}

}  // namespace

void mask_bits(uint8_t* bytes, size_t n, int prefix) {
  for (size_t i = 0; i < n; ++i) {
    int keep = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
}

namespace {
// Dotted-quad IPv4 without allocating, with inet_pton's rules: exactly four
// decimal parts of 0..255, no leading zeros. The common case at start-up
// (1M stored bans) and in logs.
bool parse_v4(std::string_view t, uint8_t* out) {
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part && (i >= t.size() || t[i++] != '.')) return false;
    size_t start = i;
    unsigned v = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && i - start < 3) v = v * 10 + unsigned(t[i++] - '0');
    size_t n = i - start;
    if (n == 0 || v > 255 || (n > 1 && t[start] == '0')) return false;
    out[part] = static_cast<uint8_t>(v);
  }
  return i == t.size();
}
}  // namespace

Result<Address> Address::parse(std::string_view text) {
  if (Address a; parse_v4(text, a.bytes.data())) return a;  // family defaults to V4
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (s.empty()) return invalid("empty address");
  // inet_pton reads a C string: a NUL inside would hide whatever follows it.
  if (s.size() > INET6_ADDRSTRLEN || s.find('\0') != std::string::npos)
    return invalid("'" + std::string(text) + "' is not an IP address");
  Address a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1)
      return invalid("'" + std::string(text) + "' is not an IP address");
    a.family = Family::V4;
    return a;
  }
  uint8_t b[16];
  if (inet_pton(AF_INET6, s.c_str(), b) != 1)
    return invalid("'" + std::string(text) + "' is not an IP address");
  if (is_v4_mapped(b)) {
    a.family = Family::V4;
    std::memcpy(a.bytes.data(), b + 12, 4);
  } else {
    a.family = Family::V6;
    std::memcpy(a.bytes.data(), b, 16);
  }
  return a;
}

std::string Address::str() const {
  if (family == Family::V4) {  // inet_ntop's dotted quad, without its printf
    char buf[16];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      unsigned v = bytes[i];
      if (i) *p++ = '.';
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
    }
    return std::string(buf, p);
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

Result<Cidr> Cidr::parse(std::string_view text, bool* had_host_bits) {
  if (had_host_bits) *had_host_bits = false;
  auto slash = text.find('/');
  auto addr_text = text.substr(0, slash);
  // A mapped IPv6 network keeps its IPv6 prefix length until normalised below.
  bool mapped = false;
  if (addr_text.find(':') != std::string_view::npos) {
    std::string s(addr_text);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    uint8_t b[16];
    mapped = inet_pton(AF_INET6, s.c_str(), b) == 1 && is_v4_mapped(b);
  }
  auto addr = Address::parse(addr_text);
  if (!addr) return invalid("'" + std::string(text) + "' is not an IP address or network");
  int max = mapped ? 128 : addr->bits();
  int prefix = max;
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix < 0 || prefix > max)
      return invalid("'" + std::string(text) + "': prefix length must be 0.." + std::to_string(max));
  }
  if (mapped) {
    if (prefix < 96)
      return invalid("'" + std::string(text) + "': an IPv4-mapped network needs a prefix of 96 or more");
    prefix -= 96;
  }
  Cidr c{*addr, static_cast<uint8_t>(prefix)};
  auto before = c.addr.bytes;
  mask_bits(c.addr.bytes.data(), c.addr.size(), prefix);
  if (had_host_bits) *had_host_bits = before != c.addr.bytes;
  return c;
}

Cidr Cidr::network_of(const Address& a, int prefix) {
  Cidr c{a, static_cast<uint8_t>(std::clamp(prefix, 0, a.bits()))};
  mask_bits(c.addr.bytes.data(), c.addr.size(), c.prefix);
  return c;
}

bool Cidr::contains(const Address& a) const {
  if (a.family != addr.family) return false;
  return network_of(a, prefix).addr == addr;
}

bool Cidr::contains(const Cidr& other) const { return other.prefix >= prefix && contains(other.addr); }

std::string Cidr::str() const { return is_host() ? addr.str() : addr.str() + "/" + std::to_string(prefix); }

}  // namespace xdpban
