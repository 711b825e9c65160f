#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/blocklist_parser.h"

namespace xdpban {
namespace {

std::vector<std::string> cidrs(const ParsedBlocklist& p) {
  std::vector<std::string> out;
  for (const auto& e : p.entries) out.push_back(e.cidr.str());
  return out;
}

TEST(BlocklistParser, LineContentDropsCommentsAndBlanks) {
  EXPECT_EQ(blocklist_line_content("1.2.3.0/24 ; SBL123"), "1.2.3.0/24");
  EXPECT_EQ(blocklist_line_content("  1.2.3.4\t# bad host\r"), "1.2.3.4");
  EXPECT_EQ(blocklist_line_content("# a comment"), "");
  EXPECT_EQ(blocklist_line_content("; Spamhaus DROP List 2026/11/22"), "");
  EXPECT_EQ(blocklist_line_content(" \t\r"), "");
  EXPECT_EQ(blocklist_line_content(""), "");
  EXPECT_EQ(blocklist_line_content("2001:db8::/32;SBL9"), "2001:db8::/32");
}

TEST(BlocklistParser, SpamhausDrop) {
  auto p = parse_blocklist(
      "; Spamhaus DROP List 2026/11/22 - (c) 2026 The Spamhaus Project SLU\n"
      "; https://www.spamhaus.org/drop/drop.txt\n"
      "; Last-Modified: Sat, 21 Nov 2026 15:00:00 GMT\n"
      "1.10.16.0/20 ; SBL256894\n"
      "1.19.0.0/16 ; SBL434604\n"
      "2001:678:738::/48 ; SBL519102\n");
  EXPECT_EQ(p.lines, 6u);
  EXPECT_EQ(p.rejected, 0u);
  EXPECT_EQ(p.duplicates, 0u);
  EXPECT_EQ(cidrs(p), (std::vector<std::string>{"1.10.16.0/20", "1.19.0.0/16", "2001:678:738::/48"}));
  EXPECT_EQ(p.entries[0].line, 4u);
  EXPECT_EQ(p.entries[2].line, 6u);
}

TEST(BlocklistParser, FireholNetsetWithCrlfAndNoFinalNewline) {
  auto p = parse_blocklist(
      "#\r\n"
      "# firehol_level1\r\n"
      "# ipv4 hash:net ipset\r\n"
      "#\r\n"
      "\r\n"
      "0.0.0.0/8\r\n"
      "5.188.10.0/23\r\n"
      "45.9.148.123\r\n"
      "  192.0.2.9  \r\n"
      "203.0.113.0/24");
  EXPECT_EQ(p.lines, 10u);
  EXPECT_EQ(p.rejected, 0u) << (p.errors.empty() ? "" : p.errors[0].message);
  EXPECT_EQ(cidrs(p), (std::vector<std::string>{"0.0.0.0/8", "5.188.10.0/23", "45.9.148.123", "192.0.2.9",
                                                "203.0.113.0/24"}));
  EXPECT_EQ(p.entries.back().line, 10u);
}

TEST(BlocklistParser, ByteOrderMarkIsNotPartOfTheFirstLine) {
  auto p = parse_blocklist(
      "\xEF\xBB\xBF"
      "198.51.100.1\n");
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.rejected, 0u);
  EXPECT_EQ(p.entries[0].cidr.str(), "198.51.100.1");
}

TEST(BlocklistParser, RejectsWithLineNumbersAndNamesTheInput) {
  auto p = parse_blocklist(
      "198.51.100.1\n"
      "not-an-ip\n"
      "198.51.100.0/33\n"
      "1.2.3.4 5.6.7.8\n"
      "2001:db8::/129\n"
      "01.2.3.4\n"
      "198.51.100.2\n");
  EXPECT_EQ(p.rejected, 5u);
  ASSERT_EQ(p.errors.size(), 5u);
  EXPECT_EQ(p.errors[0].line, 2u);
  EXPECT_EQ(p.errors[0].message, "'not-an-ip' is not an IP address or network");
  EXPECT_EQ(p.errors[1].line, 3u);
  EXPECT_NE(p.errors[1].message.find("'198.51.100.0/33'"), std::string::npos) << p.errors[1].message;
  EXPECT_EQ(p.errors[2].line, 4u);
  EXPECT_NE(p.errors[2].message.find("'1.2.3.4 5.6.7.8'"), std::string::npos);
  EXPECT_EQ(p.errors[3].line, 5u);
  EXPECT_EQ(p.errors[4].line, 6u);  // inet_pton refuses leading zeros (octal ambiguity)
  EXPECT_EQ(cidrs(p), (std::vector<std::string>{"198.51.100.1", "198.51.100.2"}));
}

TEST(BlocklistParser, LongOrBinaryLinesAreShownBounded) {
  std::string junk(1000, 'x');
  auto p = parse_blocklist(junk + "\n\x01\x02\xff\n");
  ASSERT_EQ(p.errors.size(), 2u);
  EXPECT_LT(p.errors[0].message.size(), 200u);
  EXPECT_NE(p.errors[0].message.find("1000 characters"), std::string::npos) << p.errors[0].message;
  EXPECT_EQ(p.errors[1].message, "'\\x01\\x02\\xff' is not an IP address or network");
}

// Issue 12 item 12: a line longer than kMaxBlocklistLine is rejected by number
// and only its start is held, however the input is cut into chunks.
TEST(BlocklistReader, OverlongLineIsRejectedNotHeld) {
  const std::string huge(size_t{3} << 20, '7');  // 3 MiB, no newline inside
  for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{4097}, size_t{65536}}) {
    BlocklistReader r(10);
    std::string text =
        "192.0.2.1\n" + huge + "\n198.51.100.0/24 # " + std::string(5000, 'c') + "\n2001:db8::1";
    for (size_t i = 0; i < text.size(); i += chunk) r.feed(std::string_view(text).substr(i, chunk));
    auto p = r.finish();
    EXPECT_EQ(p.lines, 4u) << chunk;
    EXPECT_EQ(p.rejected, 1u) << chunk;
    ASSERT_EQ(p.errors.size(), 1u) << chunk;
    EXPECT_EQ(p.errors[0].line, 2u);
    EXPECT_EQ(p.errors[0].message, "line of " + std::to_string(huge.size()) + " bytes (more than " +
                                       std::to_string(kMaxBlocklistLine) +
                                       ") is not an IP address or network");
    // The long comment does not make its line a rejected one.
    EXPECT_EQ(cidrs(p), (std::vector<std::string>{"192.0.2.1", "198.51.100.0/24", "2001:db8::1"})) << chunk;
  }
}

// Any cut of the input into chunks reads the same list as the whole text.
TEST(BlocklistReader, ChunkedEqualsWhole) {
  const std::string text =
      "\xEF\xBB\xBF# list\r\n192.0.2.1\r\n10.0.0.7/8 ; note\n\nbad line\n2001:db8::/32\n192.0.2.1\n" +
      std::string(5000, ' ') + "\n203.0.113.9";
  auto whole = parse_blocklist(text);
  for (size_t chunk = 1; chunk < 40; ++chunk) {
    BlocklistReader r;
    for (size_t i = 0; i < text.size(); i += chunk) r.feed(std::string_view(text).substr(i, chunk));
    auto p = r.finish();
    EXPECT_EQ(p.entries, whole.entries) << chunk;
    EXPECT_EQ(p.lines, whole.lines) << chunk;
    EXPECT_EQ(p.rejected, whole.rejected) << chunk;
    EXPECT_EQ(p.duplicates, whole.duplicates) << chunk;
    EXPECT_EQ(p.normalised, whole.normalised) << chunk;
  }
  EXPECT_EQ(whole.lines, 9u);
  EXPECT_EQ(whole.rejected, 2u);  // "bad line" and the 5000 blanks (longer than a line may be)
  EXPECT_EQ(cidrs(whole),
            (std::vector<std::string>{"10.0.0.0/8", "192.0.2.1", "203.0.113.9", "2001:db8::/32"}));
}

TEST(BlocklistParser, HostBitsAreClearedWithAWarning) {
  auto p = parse_blocklist("203.0.113.7/24\n2001:db8::1/32\n198.51.100.0/24\n");
  EXPECT_EQ(p.normalised, 2u);
  ASSERT_EQ(p.warnings.size(), 2u);
  EXPECT_EQ(p.warnings[0].line, 1u);
  EXPECT_EQ(p.warnings[0].message, "'203.0.113.7/24' has host bits set; using 203.0.113.0/24");
  EXPECT_EQ(p.warnings[1].line, 2u);
  EXPECT_EQ(cidrs(p), (std::vector<std::string>{"198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"}));
}

TEST(BlocklistParser, DuplicatesCountedAndFirstLineKept) {
  auto p = parse_blocklist(
      "198.51.100.9\n"
      "203.0.113.0/24\n"
      "198.51.100.9 # again\n"
      "203.0.113.77/24\n"      // the same network once normalised
      "::ffff:198.51.100.9\n"  // IPv4-mapped is the IPv4 host
      "198.51.100.9/32\n");
  EXPECT_EQ(p.duplicates, 4u);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0].cidr.str(), "198.51.100.9");
  EXPECT_EQ(p.entries[0].line, 1u);
  EXPECT_EQ(p.entries[1].cidr.str(), "203.0.113.0/24");
  EXPECT_EQ(p.entries[1].line, 2u);
}

TEST(BlocklistParser, NotesAreBoundedButCountsComplete) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "bad" + std::to_string(i) + "\n1.2.3." + std::to_string(i) + "/24\n";
  auto p = parse_blocklist(text, 10);
  EXPECT_EQ(p.rejected, 50u);
  EXPECT_EQ(p.errors.size(), 10u);
  EXPECT_EQ(p.normalised, 49u);  // 1.2.3.0/24 itself has no host bits
  EXPECT_EQ(p.warnings.size(), 10u);
  EXPECT_EQ(p.duplicates, 49u);
  EXPECT_EQ(p.entries.size(), 1u);
}

TEST(BlocklistParser, EmptyInput) {
  auto p = parse_blocklist("");
  EXPECT_EQ(p.lines, 0u);
  EXPECT_TRUE(p.entries.empty());
  p = parse_blocklist("\n\n# only comments\n");
  EXPECT_EQ(p.lines, 3u);
  EXPECT_TRUE(p.entries.empty());
  EXPECT_EQ(p.rejected, 0u);
}

// The fast IPv4 path must agree with Cidr::parse on everything it accepts, and
// leave everything else to it.
TEST(BlocklistParser, FastPathAgreesWithCidrParse) {
  std::mt19937 rng(42);
  const char* tricky[] = {"0.0.0.0",      "255.255.255.255", "256.1.1.1",  "1.2.3",       "1.2.3.4.",
                          "1.2.3.4/",     "1.2.3.4/0",       "1.2.3.4/08", "1.2.3.4/32",  "1.2.3.4/33",
                          "1.2.3.4/-1",   "1.2.3.4/+8",      "1.2.3.4/ 8", "1..3.4",      "0001.2.3.4",
                          "1.2.3.04",     "1.2.3.4x",        "10.0.0.0/8", "1.2.3.4//8",  "[1.2.3.4]",
                          "1.2.3.4/1234", "127.1",           "0x7f.0.0.1", "1.2.3.255/31"};
  std::vector<std::string> inputs(std::begin(tricky), std::end(tricky));
  for (int i = 0; i < 20000; ++i) {
    std::string s = std::to_string(rng() % 300) + "." + std::to_string(rng() % 256) + "." +
                    std::to_string(rng() % 256) + "." + std::to_string(rng() % 260);
    if (rng() % 2) s += "/" + std::to_string(rng() % 40);
    inputs.push_back(s);
  }
  for (const auto& s : inputs) {
    bool hb1 = false, hb2 = false;
    auto a = parse_blocklist_entry(s, &hb1);
    auto b = Cidr::parse(s, &hb2);
    ASSERT_EQ(a.ok(), b.ok()) << s;
    if (!a.ok()) {
      EXPECT_EQ(a.error().message, b.error().message) << s;
      continue;
    }
    EXPECT_EQ(*a, *b) << s;
    EXPECT_EQ(hb1, hb2) << s;
  }
}

// The fast order must be Cidr's: the import merges the parsed list with the
// existing bans by it.
TEST(BlocklistParser, CidrLessIsCidrOrder) {
  std::mt19937 rng(7);
  std::vector<Cidr> all;
  for (int i = 0; i < 300; ++i) {
    Address a;
    a.family = rng() % 3 ? Family::V4 : Family::V6;
    for (size_t b = 0; b < a.size(); ++b) a.bytes[b] = static_cast<uint8_t>(rng() % 4);  // many ties
    all.push_back(Cidr::network_of(a, static_cast<int>(rng() % (a.bits() + 1))));
  }
  for (const auto& a : all)
    for (const auto& b : all) ASSERT_EQ(cidr_less(a, b), a < b) << a.str() << " vs " << b.str();
}

}  // namespace
}  // namespace xdpban
