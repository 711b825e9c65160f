// literal_prefilter.h - the literal text a PCRE2 pattern cannot match without,
// and a set of such texts searched in one pass over a line, so that a filter can
// skip its regexes on a line that contains none of them.
// Conservative by construction: anything it does not understand yields no literal.
// Does not match regexes (regex.h) or decide fail2ban semantics (filter.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xdpban {

// Strings of which every match of `pattern` (PCRE2 syntax, case-sensitive,
// no extended mode) contains at least one, chosen to be long; nullopt when the
// pattern has no such strings or uses syntax this analysis does not follow
// (caseless or other inline flags, \Q..\E, POSIX classes, backreferences, ...).
std::optional<std::vector<std::string>> required_literals(std::string_view pattern);

// A set of literals of at least kMinLength bytes; contains_any() tells whether
// a text contains one of them. A literal is kept as its rarest-looking 7 bytes
// (any text containing it contains those). Every 4-byte window of each is hashed
// into a bitmap, so the text is probed only every (shortest literal - 3) bytes:
// one of those probes falls inside any occurrence; a hit is then compared.
class LiteralSet {
 public:
  static constexpr size_t kMinLength = 4;

  // False (and the set unchanged) when `literal` is shorter than kMinLength.
  bool add(std::string_view literal);
  bool contains_any(std::string_view text) const;
  size_t size() const { return literals_.size(); }

 private:
  static constexpr int kHashBits = 16;
  static uint32_t hash(uint32_t window) { return (window * 0x9E3779B1u) >> (32 - kHashBits); }
  struct Gram {
    uint32_t hash, literal, offset;  // the window at `offset` in literals_[literal]
    bool operator<(const Gram& o) const { return hash < o.hash; }
  };

  std::vector<std::string> literals_;
  std::vector<Gram> grams_;                                                     // sorted by hash
  std::vector<uint64_t> seen_ = std::vector<uint64_t>((1u << kHashBits) / 64);  // hashes in grams_
  // grams_ index of the first gram whose hash is at least 64 * b, for each block
  // b of 64 hashes (one word of seen_) and one past the end: a hit in seen_
  // looks through its block's few grams instead of searching all of them.
  std::vector<uint32_t> block_start_ = std::vector<uint32_t>((1u << kHashBits) / 64 + 1, 0);
  size_t stride_ = 1;
  size_t shortest_ = SIZE_MAX;
};

}  // namespace xdpban
