#include <gtest/gtest.h>

#include "core/duration.h"

namespace xdpban {
namespace {

TEST(Duration, ParsesFail2banForms) {
  EXPECT_EQ(*parse_duration("600"), 600);
  EXPECT_EQ(*parse_duration("10m"), 600);
  EXPECT_EQ(*parse_duration("1h 30m"), 5400);
  EXPECT_EQ(*parse_duration("1h30m"), 5400);
  EXPECT_EQ(*parse_duration("2days"), 172800);
  EXPECT_EQ(*parse_duration("1w"), 604800);
  EXPECT_EQ(*parse_duration("1mo"), static_cast<int64_t>(30.4375 * 86400));
  EXPECT_EQ(*parse_duration("1y"), static_cast<int64_t>(365.25 * 86400));
  EXPECT_EQ(*parse_duration("1.5h"), 5400);
  EXPECT_EQ(*parse_duration("3 Hours"), 10800);
  EXPECT_EQ(*parse_duration("45s"), 45);
}

TEST(Duration, RejectsGarbage) {
  for (const char* bad : {"", "ten", "10x", "h", "-5", "1h-2m", "1..2s"}) {
    auto r = parse_duration(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(parse_duration("ten").error().message.find("'ten' is not a duration"), std::string::npos);
}

TEST(Duration, RejectsMoreThanAHundredYears) {
  EXPECT_EQ(*parse_duration("100y"), kMaxDurationSeconds);
  auto r = parse_duration("585y");  // once wrapped to 23w6d in nanoseconds
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("longer than 100 years"), std::string::npos) << r.error().message;
  EXPECT_FALSE(parse_duration("1e30").ok());
  EXPECT_FALSE(parse_duration("99999999999999999999999s").ok());
  EXPECT_TRUE(check_duration(-1, true).ok());
  EXPECT_FALSE(check_duration(-1, false).ok());
  EXPECT_FALSE(check_duration(0, true).ok());
  EXPECT_FALSE(check_duration(-5, true).ok());
  EXPECT_FALSE(check_duration(int64_t{1} << 62, true).ok());
  EXPECT_TRUE(check_duration(kMaxDurationSeconds, false).ok());
}

TEST(Duration, Formats) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(45), "45s");
  EXPECT_EQ(format_duration(600), "10m");
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(90061), "1d1h");
  EXPECT_EQ(format_duration(604800 + 3 * 60), "1w");
}

}  // namespace
}  // namespace xdpban
