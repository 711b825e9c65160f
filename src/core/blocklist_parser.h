// blocklist_parser.h - reads IP blocklists as they are published (one address
// or network per line; '#' and ';' comments, Spamhaus DROP, FireHOL .netset,
// blank lines, CRLF) into a sorted, de-duplicated set of networks with per-line
// diagnostics. Pure logic: the caller reads the file, decides what may be
// banned and writes the maps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.h"

namespace xdpban {

struct BlocklistEntry {
  Cidr cidr;          // host bits cleared
  uint32_t line = 0;  // 1-based line of its first occurrence
  auto operator<=>(const BlocklistEntry&) const = default;
};

// A line-numbered diagnostic; message names the input ("'x' is not an IP
// address or network"), the caller adds the file name.
struct BlocklistNote {
  uint32_t line = 0;
  std::string message;
};

struct ParsedBlocklist {
  std::vector<BlocklistEntry> entries;  // sorted by cidr, each cidr once
  size_t lines = 0;                     // lines read
  size_t duplicates = 0;                // repeats of an entry already seen (after normalising)
  size_t rejected = 0;                  // lines that are neither comment nor address/network
  size_t normalised = 0;                // networks whose host bits were cleared
  std::vector<BlocklistNote> errors;    // the first max_notes rejected lines
  std::vector<BlocklistNote> warnings;  // the first max_notes normalised lines
};

// The order of Cidr's operator< (family, address, prefix), computed without a
// byte-wise compare for IPv4: sorting a million-entry list is dominated by it.
inline bool cidr_less(const Cidr& a, const Cidr& b) {
  if (a.addr.family == Family::V4 && b.addr.family == Family::V4) {
    auto key = [](const Cidr& c) {
      const auto& x = c.addr.bytes;
      return uint64_t{x[0]} << 32 | uint64_t{x[1]} << 24 | uint64_t{x[2]} << 16 | uint64_t{x[3]} << 8 |
             c.prefix;
    };
    return key(a) < key(b);
  }
  return a < b;
}

// What is left of one line once the comment ('#' or ';' to the end), the CR
// and surrounding blanks are gone; empty for a blank or comment-only line.
std::string_view blocklist_line_content(std::string_view line);

// Parses one line's content (see blocklist_line_content). *had_host_bits says
// whether a network's host bits were cleared.
Result<Cidr> parse_blocklist_entry(std::string_view content, bool* had_host_bits);

// The longest line a list may have. A longer one is a rejected line, named by
// its number, and is never held in memory whole (a list with a 1 GB line must
// not take 1 GB): only its first kMaxBlocklistLine bytes are kept, and when they
// hold a comment the line is read as what comes before it.
constexpr size_t kMaxBlocklistLine = 4096;

// Parses a list as it is read, in chunks of any size (the lines may be cut
// anywhere): memory is the entries plus one line of at most max_line bytes.
// Keeps at most max_notes errors and warnings (the counts are always complete).
class BlocklistReader {
 public:
  explicit BlocklistReader(size_t max_notes = 1000, size_t max_line = kMaxBlocklistLine);
  void feed(std::string_view chunk);
  void reserve(size_t entries) { out_.entries.reserve(entries); }
  // Reads the last line if it has no newline; then sorts and de-duplicates.
  ParsedBlocklist finish();

 private:
  void line(std::string_view text);
  void keep(std::string_view piece);
  ParsedBlocklist out_;
  size_t max_notes_;
  size_t max_line_;
  std::string partial_;     // the start of a line cut by the end of a chunk
  size_t partial_len_ = 0;  // its length so far, past max_line_ when only a prefix is kept
};

// Parses a whole list held in memory (BlocklistReader over one chunk).
ParsedBlocklist parse_blocklist(std::string_view text, size_t max_notes = 1000);

}  // namespace xdpban
