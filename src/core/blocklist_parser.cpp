#include "core/blocklist_parser.h"

#include <algorithm>
#include <cstring>

namespace xdpban {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The canonical dotted quad with an optional /n, which is nearly every line of
// a real list, without the allocations of Cidr::parse. Accepts only input that
// Cidr::parse accepts with the same result; anything else (IPv6, leading
// zeros, errors) goes the slow way, whose messages the user sees.
bool parse_v4_fast(std::string_view s, Cidr* out, bool* host_bits) {
  Address a;
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    size_t start = i;
    unsigned v = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 4) v = v * 10 + unsigned(s[i++] - '0');
    size_t len = i - start;
    if (len == 0 || len > 3 || v > 255 || (len > 1 && s[start] == '0')) return false;
    a.bytes[part] = static_cast<uint8_t>(v);
    if (part < 3) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  unsigned prefix = 32;
  if (i < s.size()) {
    if (s[i] != '/') return false;
    auto p = s.substr(i + 1);
    if (p.empty() || p.size() > 2 || !is_digit(p[0]) || (p.size() == 2 && (p[0] == '0' || !is_digit(p[1]))))
      return false;
    prefix = p.size() == 1 ? unsigned(p[0] - '0') : unsigned(p[0] - '0') * 10 + unsigned(p[1] - '0');
    if (prefix > 32) return false;
  }
  auto before = a.bytes;
  mask_bits(a.bytes.data(), 4, static_cast<int>(prefix));
  *host_bits = before != a.bytes;
  *out = Cidr{a, static_cast<uint8_t>(prefix)};
  return true;
}

// The input as a message can show it: bounded, control bytes escaped.
std::string printable(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > kMax) out += "... (" + std::to_string(s.size()) + " characters)";
  return out;
}

}  // namespace

std::string_view blocklist_line_content(std::string_view line) {
  auto cut = line.find_first_of("#;");
  if (cut != std::string_view::npos) line = line.substr(0, cut);
  while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
  while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
  return line;
}

Result<Cidr> parse_blocklist_entry(std::string_view content, bool* had_host_bits) {
  Cidr c;
  bool host_bits = false;
  if (parse_v4_fast(content, &c, &host_bits)) {
    if (had_host_bits) *had_host_bits = host_bits;
    return c;
  }
  // Longer than any address or network can be, or not text: say so without
  // echoing the whole line.
  bool plain = content.size() <= 64 && std::all_of(content.begin(), content.end(), [](char ch) {
                 return static_cast<unsigned char>(ch) >= 0x20 && static_cast<unsigned char>(ch) < 0x7f;
               });
  if (!plain) return invalid("'" + printable(content) + "' is not an IP address or network");
  return Cidr::parse(content, had_host_bits);
}

BlocklistReader::BlocklistReader(size_t max_notes, size_t max_line)
    : max_notes_(max_notes), max_line_(max_line) {}

void BlocklistReader::line(std::string_view text) {
  const size_t length = partial_len_ > text.size() ? partial_len_ : text.size();
  partial_len_ = 0;
  ++out_.lines;
  auto line_no = static_cast<uint32_t>(std::min<size_t>(out_.lines, UINT32_MAX));
  if (out_.lines == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  if (length > max_line_ && text.find_first_of("#;") == std::string_view::npos) {
    ++out_.rejected;
    if (out_.errors.size() < max_notes_)
      out_.errors.push_back({line_no, "line of " + std::to_string(length) + " bytes (more than " +
                                          std::to_string(max_line_) + ") is not an IP address or network"});
    return;
  }
  auto content = blocklist_line_content(text);
  if (content.empty()) return;
  bool host_bits = false;
  auto c = parse_blocklist_entry(content, &host_bits);
  if (!c) {
    ++out_.rejected;
    if (out_.errors.size() < max_notes_) out_.errors.push_back({line_no, c.error().message});
    return;
  }
  if (host_bits) {
    ++out_.normalised;
    if (out_.warnings.size() < max_notes_)
      out_.warnings.push_back(
          {line_no, "'" + std::string(content) + "' has host bits set; using " + c->str()});
  }
  out_.entries.push_back({*c, line_no});
}

// Adds a piece of a line cut by a chunk's end, keeping at most max_line_ + 1
// bytes of the line (enough to tell it is too long) and counting all of it.
void BlocklistReader::keep(std::string_view piece) {
  if (partial_.size() <= max_line_)
    partial_.append(piece.substr(0, std::min(piece.size(), max_line_ + 1 - partial_.size())));
  partial_len_ += piece.size();
}

void BlocklistReader::feed(std::string_view chunk) {
  size_t pos = 0;
  while (pos < chunk.size()) {
    const char* nl = static_cast<const char*>(std::memchr(chunk.data() + pos, '\n', chunk.size() - pos));
    size_t end = nl ? static_cast<size_t>(nl - chunk.data()) : chunk.size();
    std::string_view piece = chunk.substr(pos, end - pos);
    pos = end + 1;
    if (!nl) {  // cut by the end of the chunk
      keep(piece);
      break;
    }
    if (partial_len_ == 0) {  // the common case: a whole line inside the chunk, no copy
      if (piece.size() > max_line_) {
        partial_len_ = piece.size();
        piece = piece.substr(0, max_line_ + 1);
      }
      line(piece);
      continue;
    }
    keep(piece);
    line(partial_);
    partial_.clear();
  }
}

ParsedBlocklist BlocklistReader::finish() {
  if (partial_len_ > 0) {
    line(partial_);
    partial_.clear();
  }
  ParsedBlocklist out = std::move(out_);
  out_ = {};
  // Sorted by (cidr, line): the first occurrence of each cidr is the one kept.
  std::sort(out.entries.begin(), out.entries.end(), [](const BlocklistEntry& a, const BlocklistEntry& b) {
    if (cidr_less(a.cidr, b.cidr)) return true;
    if (cidr_less(b.cidr, a.cidr)) return false;
    return a.line < b.line;
  });
  // In sorted order a later entry equals an earlier one unless it sorts after it.
  auto last = std::unique(
      out.entries.begin(), out.entries.end(),
      [](const BlocklistEntry& a, const BlocklistEntry& b) { return !cidr_less(a.cidr, b.cidr); });
  out.duplicates = static_cast<size_t>(out.entries.end() - last);
  out.entries.erase(last, out.entries.end());
  return out;
}

ParsedBlocklist parse_blocklist(std::string_view text, size_t max_notes) {
  BlocklistReader reader(max_notes);
  reader.reserve(text.size() / 16 + 1);
  reader.feed(text);
  return reader.finish();
}

}  // namespace xdpban
