// fuzz_blocklist.cpp - libFuzzer target over address and network parsing
// (core/cidr.h) and the blocklist reader (core/blocklist_parser.h). Checks
// what must hold for any input: an entry prints as text that parses back to
// itself, the list is sorted without repeats, counts add up, and reading the
// input in chunks (cut where its first byte says) gives the same list.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/blocklist_parser.h"
#include "core/cidr.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xdpban;
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  // Whole list; a small line bound so that long lines are reached often.
  BlocklistReader whole(5, 64);
  whole.feed(text);
  ParsedBlocklist p = whole.finish();
  for (size_t i = 0; i < p.entries.size(); ++i) {
    const Cidr& c = p.entries[i].cidr;
    check(c.prefix <= c.addr.bits());
    auto again = Cidr::parse(c.str());
    check(again.ok() && *again == c);
    if (i > 0) check(cidr_less(p.entries[i - 1].cidr, c) && p.entries[i - 1].cidr < c);
    check(p.entries[i].line >= 1 && p.entries[i].line <= p.lines);
  }
  check(p.errors.size() <= 5 && p.warnings.size() <= 5);
  check(p.entries.size() + p.duplicates + p.rejected <= p.lines);

  BlocklistReader cut(5, 64);
  for (size_t i = 0; i < text.size(); i += chunk) cut.feed(text.substr(i, chunk));
  ParsedBlocklist q = cut.finish();
  check(q.entries == p.entries && q.lines == p.lines && q.rejected == p.rejected &&
        q.duplicates == p.duplicates && q.normalised == p.normalised);
  for (size_t i = 0; i < q.errors.size(); ++i)
    check(q.errors[i].line == p.errors[i].line && q.errors[i].message == p.errors[i].message);

  // Each line on its own, through both parsers of single entries.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    bool hb1 = false, hb2 = false;
    auto a = Cidr::parse(line, &hb1);
    if (a) check(Cidr::parse(a->str()).ok() && a->contains(a->addr));
    if (auto addr = Address::parse(line))
      check(Address::parse(addr->str()).ok() && *Address::parse(addr->str()) == *addr);
    auto content = blocklist_line_content(line);
    if (content.empty()) continue;
    auto b = parse_blocklist_entry(content, &hb2);
    auto c = Cidr::parse(content, &hb1);
    // A list entry longer than 64 bytes is refused without parsing (no address
    // or network is that long in its usual spelling: "::/000...0" is the exception).
    if (content.size() <= 64) check(b.ok() == c.ok());
    if (b) check(c.ok() && *b == *c && hb1 == hb2);
  }
  return 0;
}
