// cidr.h - IPv4/IPv6 addresses and networks, shared by the filter engine, the
// ban manager, the CLI and the BPF side. Parsing is strict and names the input.
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is normalised to IPv4: on the wire such a
// client is an IPv4 source. Does not resolve names (no DNS here).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace xdpban {

enum class Family : uint8_t { V4 = 4, V6 = 6 };

struct Address {
  Family family = Family::V4;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses bytes[0..3], the rest stay zero

  static Result<Address> parse(std::string_view text);
  static Address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return Address{Family::V4, {a, b, c, d}}; }

  int bits() const { return family == Family::V4 ? 32 : 128; }
  size_t size() const { return family == Family::V4 ? 4 : 16; }
  std::string str() const;
  auto operator<=>(const Address&) const = default;
};

struct Cidr {
  Address addr;  // network address: host bits are always zero
  uint8_t prefix = 32;

  // Accepts "a.b.c.d", "a.b.c.d/n", "x::y", "x::/n", "[x::y]". Host bits in a
  // prefix are cleared; *had_host_bits (if given) says whether there were any.
  static Result<Cidr> parse(std::string_view text, bool* had_host_bits = nullptr);
  static Cidr host(const Address& a) { return Cidr{a, static_cast<uint8_t>(a.bits())}; }
  // The network of `prefix` bits that contains `a` (prefix clamped to the family).
  static Cidr network_of(const Address& a, int prefix);

  bool is_host() const { return prefix == addr.bits(); }
  bool contains(const Address& a) const;
  bool contains(const Cidr& other) const;
  std::string str() const;  // "a.b.c.d" for a host, "a.b.c.d/n" otherwise
  auto operator<=>(const Cidr&) const = default;
};

// Clears every bit after the first `prefix` bits of `bytes` (n bytes long).
void mask_bits(uint8_t* bytes, size_t n, int prefix);

}  // namespace xdpban
