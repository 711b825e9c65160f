#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/literal_prefilter.h"
#include "core/regex.h"

namespace xdpban {
namespace {

using Strings = std::vector<std::string>;

TEST(RequiredLiterals, LongestRunOfLiteralText) {
  EXPECT_EQ(required_literals(R"(^Failed password for (?P<user>\S+) from)"), Strings{"Failed password for "});
  EXPECT_EQ(required_literals(R"(\[preauth\]\s*$)"), Strings{"[preauth]"});
}

TEST(RequiredLiterals, LiteralAlternativesExpandIntoTheRun) {
  EXPECT_EQ(required_literals("^[iI](?:llegal|nvalid) user (?P<user>.*?) from"),
            (Strings{"llegal user ", "nvalid user "}));
  EXPECT_EQ(required_literals("^(?P<x>(Connection (?:closed|reset)|Disconnected)) (?:by|from) "),
            (Strings{"Connection closed by ", "Connection closed from ", "Connection reset by ",
                     "Connection reset from ", "Disconnected by ", "Disconnected from "}));
  // An empty alternative is an alternative: "xy" matches too.
  EXPECT_EQ(required_literals("x(?:ab|)y"), (Strings{"xaby", "xy"}));
}

TEST(RequiredLiterals, OptionalTextIsNeverRequired) {
  EXPECT_EQ(required_literals("abcd?ef"), Strings{"abc"});
  EXPECT_EQ(required_literals("^x(?:Foobar)?yz"), Strings{"yz"});
  EXPECT_EQ(required_literals("^x(?:Foobar)*yz"), Strings{"yz"});
  EXPECT_EQ(required_literals("^x(?:Foobar){0,3}yz"), Strings{"yz"});
  EXPECT_EQ(required_literals("abc(?:Foobar){1,3}d"), Strings{"Foobar"});
  EXPECT_EQ(required_literals("xab+cd"), Strings{"xab"});  // the first b is required, the rest may repeat
  EXPECT_EQ(required_literals("(?:abc|\\d+)xy"), Strings{"xy"});
  EXPECT_EQ(required_literals("(?=abcdef)xy"), Strings{"xy"});   // a lookahead consumes nothing
  EXPECT_EQ(required_literals("(?<=abcdef)xy"), Strings{"xy"});  // nor does a lookbehind
  EXPECT_EQ(required_literals("é?abcd"), Strings{"abcd"});       // '?' takes the whole character
  EXPECT_EQ(required_literals("(?P<a>x)abcd(?P=a)"), Strings{"xabcd"});
}

TEST(RequiredLiterals, NothingWhenUnsure) {
  EXPECT_FALSE(required_literals("(foo|)"));
  EXPECT_FALSE(required_literals("foo|\\d+"));
  EXPECT_FALSE(required_literals("(?i)failed"));  // caseless: bytes differ
  EXPECT_FALSE(required_literals("(?i:failed) x"));
  EXPECT_FALSE(required_literals("(?x)f a i l"));
  EXPECT_FALSE(required_literals("\\Qa.b\\E"));
  EXPECT_FALSE(required_literals("[[:alpha:]]] foo"));
  EXPECT_FALSE(required_literals("\\x41BC"));
  EXPECT_FALSE(required_literals("(?(?=a)b|c)"));
  EXPECT_FALSE(required_literals("abc("));
  EXPECT_FALSE(required_literals("abc)"));
  EXPECT_FALSE(required_literals("\\d+"));
}

// Soundness against PCRE2 itself: whenever a pattern matches a subject, the
// subject contains one of the pattern's required literals.
TEST(RequiredLiterals, EveryMatchContainsOne) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // pattern, a subject it matches (its pieces seed the random subjects)
      {"ab+c", "abbc"},
      {"a(?:bc|bd)e", "abde"},
      {"x(?:ab)?y", "xaby"},
      {"(?:ab|cd){2}", "cdab"},
      {"a{2}b", "aab"},
      {"a{0,2}bc", "abc"},
      {"f(?:oo|)bar", "fbar"},
      {"ab(?=cd)", "abcd"},
      {"a\\.b", "a.b"},
      {"(?:a|b)(?:c|d)(?:e|f)", "bde"},
      {"^ab*c d", "abbc d"},
      {"(?P<u>\\w+) ok", "xy ok"},
      {"(a|b)+cd", "abcd"},
      {"x[ab]yz", "xbyz"},
      {"ab{1}c{2,}d", "abccd"},
      {"(?:ab)+c", "ababc"},
      {"a(?:b(?:c|d)e)f", "abdef"},
      {"(?:ca|b)(?:t|)s?", "cats"},
      {"^(?:\\W{0,2})?ab", "..ab"},
      {"cd$", "cd\n"},
  };
  std::mt19937 rng(7);
  for (const auto& [p, sample] : cases) {
    auto lits = required_literals(p);
    ASSERT_TRUE(lits) << p;
    auto re = Regex::compile(p);
    ASSERT_TRUE(re) << p;
    MatchData md(*re);
    ASSERT_TRUE(re->search(sample, md)) << p;
    // Pieces: the sample's substrings, single letters and separators.
    std::vector<std::string> pieces = {"a", "b", "c", "d", "x", "y", " ", ".", "\n"};
    for (size_t a = 0; a < sample.size(); ++a)
      for (size_t n = 1; a + n <= sample.size(); ++n) pieces.push_back(sample.substr(a, n));
    int matched = 0;
    for (int n = 0; n < 4000; ++n) {
      std::string s;
      int len = static_cast<int>(rng() % 6);
      for (int k = 0; k < len; ++k) s += pieces[rng() % pieces.size()];
      if (!re->search(s, md)) continue;
      ++matched;
      bool found = false;
      for (const auto& l : *lits) found = found || s.find(l) != std::string::npos;
      EXPECT_TRUE(found) << "pattern '" << p << "' matches '" << s << "' without its literals";
    }
    EXPECT_GT(matched, 50) << p;
  }
}

TEST(LiteralSet, FindsALiteralWhereverItStands) {
  LiteralSet set;
  ASSERT_TRUE(set.add("Failed "));
  ASSERT_TRUE(set.add("Accepted publickey"));  // kept as its rarest 7 bytes: still found
  ASSERT_TRUE(set.add("abcd"));                // 4 bytes: probes every byte
  ASSERT_FALSE(set.add("abc"));                // too short to hash
  EXPECT_EQ(set.size(), 3u);
  const std::string filler = "0123456789012345678901234567890123456789";
  for (const std::string lit : {"Failed ", "Accepted publickey", "abcd"}) {
    for (size_t before = 0; before <= 25; ++before) {
      for (size_t after : {0, 1, 2, 3, 7}) {
        std::string text = filler.substr(0, before) + lit + filler.substr(0, after);
        EXPECT_TRUE(set.contains_any(text)) << "'" << text << "'";
      }
    }
  }
  EXPECT_FALSE(set.contains_any(filler));
  EXPECT_FALSE(set.contains_any(""));
  EXPECT_FALSE(set.contains_any("abc"));
  EXPECT_FALSE(set.contains_any("Failed"));           // without its space
  EXPECT_FALSE(set.contains_any("Accepted public"));  // a prefix of the kept window's literal
  EXPECT_TRUE(set.contains_any("xxabcd"));
}

TEST(LiteralSet, ManyLiteralsSharingWindows) {
  LiteralSet set;
  std::vector<std::string> lits;
  for (int i = 0; i < 200; ++i) lits.push_back("user" + std::to_string(i) + "z");
  for (const auto& l : lits) ASSERT_TRUE(set.add(l));
  for (const auto& l : lits) EXPECT_TRUE(set.contains_any("session for " + l + " closed")) << l;
  EXPECT_FALSE(set.contains_any("session for user200 closed"));
  EXPECT_FALSE(set.contains_any("session for userz closed"));
}

}  // namespace
}  // namespace xdpban
