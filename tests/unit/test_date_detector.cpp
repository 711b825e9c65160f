#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "core/date_detector.h"

namespace xdpban {
namespace {

constexpr double kNow = 1124013600;  // 2005-08-14 10:00:00 UTC

class DateDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

double at(const char* line, const std::optional<std::string>& pattern = std::nullopt,
          const std::optional<std::string>& tz = std::nullopt) {
  auto dd = DateDetector::create(pattern, tz);
  EXPECT_TRUE(dd) << (dd ? "" : dd.error().message);
  auto m = dd->match(line, kNow);
  if (!m || !m->time) return -1;
  return *m->time;
}

TEST_F(DateDetectorTest, SyslogWithoutYearInfersYear) {
  EXPECT_EQ(at("Aug 14 11:59:59 host sshd[1]: x"), 1124020799);  // 2005-08-14 11:59:59 UTC
  // A date after "now" (+1 day) belongs to the previous year.
  EXPECT_EQ(at("Dec 31 23:59:59 host sshd[1]: x"), 1104537599);  // 2004-12-31
}

TEST_F(DateDetectorTest, DefaultTemplates) {
  EXPECT_EQ(at("2005-08-14T12:00:00+02:00 host x"), 1124013600);
  EXPECT_EQ(at("2005-08-14 10:00:00,123 fail2ban.actions [1]: x"), 1124013600);
  EXPECT_EQ(at("[2005-08-14 10:00:00] NOTICE[1] chan_sip.c: x"), 1124013600);
  EXPECT_EQ(at("1.2.3.4 - - [14/Aug/2005:12:00:00 +0200] \"GET / HTTP/1.1\" 401"), 1124013600);
  EXPECT_EQ(at("1124013600 x"), 1124013600);
  EXPECT_EQ(at("type=USER_LOGIN msg=audit(1124013600.123:4063): x"), 1124013600.123);
  EXPECT_EQ(at("@400000004300f7a000000000 x"), 0x4300f7a0);
}

TEST_F(DateDetectorTest, CutsOnlyTheDate) {
  auto dd = DateDetector::create(std::nullopt);
  ASSERT_TRUE(dd);
  std::string line = "Aug 14 11:59:59 host sshd[1]: Failed";
  auto m = dd->match(line, kNow);
  ASSERT_TRUE(m);
  EXPECT_EQ(line.substr(m->start, m->end - m->start), "Aug 14 11:59:59");
}

// One detector fed a run of lines, most repeating the last stamp text (the
// capture-free fast path), agrees line by line with a fresh detector per line:
// same span, same time, also where the repeated text is followed by a
// fraction or a year that the match must take in, or sits elsewhere.
TEST_F(DateDetectorTest, RepeatedStampsMatchLikeAFreshDetector) {
  const char* lines[] = {
      "Aug 14 11:59:59 host sshd[1]: a",     "Aug 14 11:59:59 host sshd[2]: b",
      "Aug 14 11:59:59.250 host sshd[3]: c", "Aug 14 11:59:59 2004 host sshd[4]: d",
      "Aug 14 11:59:59 host sshd[5]: e",     "Aug 14 11:59:59host sshd[6]: f",
      "> Aug 14 11:59:59 host sshd[7]: g",   "Aug 14 11:59:59 host sshd[8]: h",
      "Aug 14 12:00:00 host sshd[9]: i",     "Aug 14 12:00:00 host sshd[10]: j",
      "2005-08-14 10:00:00 host k",          "2005-08-14 10:00:00 host l",
      "Aug 14 12:00:00 host sshd[11]: m",
  };
  for (const auto& pattern : {std::optional<std::string>(), std::optional<std::string>("{^LN-BEG}")}) {
    auto run = DateDetector::create(pattern);
    ASSERT_TRUE(run);
    for (const char* line : lines) {
      auto fresh = DateDetector::create(pattern);
      ASSERT_TRUE(fresh);
      auto a = run->match(line, kNow), b = fresh->match(line, kNow);
      ASSERT_EQ(a.has_value(), b.has_value()) << line;
      if (!a) continue;
      EXPECT_EQ(a->start, b->start) << line;
      EXPECT_EQ(a->end, b->end) << line;
      EXPECT_EQ(a->time, b->time) << line;
    }
  }
}

TEST_F(DateDetectorTest, CustomPatternsEpochAndTimeZone) {
  EXPECT_EQ(at("x 14.08.2005 10:00:00 y", "%d.%m.%Y %H:%M:%S"), 1124013600);
  EXPECT_EQ(at("14.08.2005 12:00:00 y", "{^LN-BEG}%d.%m.%Y %H:%M:%S", "CEST"), 1124013600);
  EXPECT_EQ(at("ts=1124013600000 x", "ts={LEPOCH}"), 1124013600);
  EXPECT_EQ(at("1124013600 x", "EPOCH"), 1124013600);
  EXPECT_EQ(at("2005-08-14 10:00:00 x", std::nullopt, "UTC+0100"), 1124013600 - 3600);
  EXPECT_EQ(at("no date here", "%Y-%m-%d"), -1);
  EXPECT_FALSE(DateDetector::create(std::string("%Q"), std::nullopt));
  EXPECT_FALSE(DateDetector::create(std::nullopt, std::string("Mars/Olympus")));
}

TEST(TimeZone, Parse) {
  EXPECT_EQ(parse_time_zone("UTC"), 0);
  EXPECT_EQ(parse_time_zone("CEST"), 120);
  EXPECT_EQ(parse_time_zone("+0530"), 330);
  EXPECT_EQ(parse_time_zone("UTC-05:00"), -300);
  EXPECT_FALSE(parse_time_zone("nowhere"));
}

// Found by tests/fuzz/fuzz_filter: "[(]" looks like a group to the check that
// decides whether to wrap the pattern in one, so the compiled pattern had no
// group 1 and a match read past its match data.
TEST(DateDetector, PatternWithoutGroupIsAnError) {
  auto d = DateDetector::create(std::string("[(]stamp"));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("has no group for the date"), std::string::npos) << d.error().message;
  auto ok = DateDetector::create(std::string("(stamp) %Y-%m-%d"));
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

// Found by tests/fuzz/fuzz_filter: a date group that takes no part in the
// match ("(stamp)?x") gave an unset (SIZE_MAX) span that Filter::process_line
// cut the line with (std::out_of_range).
TEST(DateDetector, OptionalDateGroupThatDidNotMatch) {
  auto d = DateDetector::create(std::string("(stamp)?x"));
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto m = d->match("a x b", 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->start, m->end);
  EXPECT_LE(m->end, 5u);
  EXPECT_FALSE(m->time);
}

}  // namespace
}  // namespace xdpban
