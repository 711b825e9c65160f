#include <gtest/gtest.h>

#include <string>

#include "core/fleet.h"

namespace xdpban {
namespace {

Cidr C(const char* s) { return *Cidr::parse(s); }

// The error of a decode, or "" if it decoded.
std::string decode_error(const std::string& key, const std::string& value) {
  auto r = decode_fleet_record(key, value);
  return r ? "" : r.error().message;
}

TEST(FleetKey, CanonicalKeysOfHostsAndNetworks) {
  EXPECT_EQ(fleet_key(C("203.0.113.7")), "203.0.113.7/32");
  EXPECT_EQ(fleet_key(C("198.51.100.0/24")), "198.51.100.0/24");
  EXPECT_EQ(fleet_key(C("2001:db8::/32")), "2001_db8__/32");
  EXPECT_EQ(fleet_key(C("2001:db8::1")), "2001_db8__1/128");
  EXPECT_EQ(fleet_key(C("::/0")), "__/0");
  EXPECT_EQ(fleet_key(C("0.0.0.0/0")), "0.0.0.0/0");
}

TEST(FleetKey, RoundTrips) {
  for (const char* s : {"203.0.113.7", "198.51.100.0/24", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32",
                        "2001:db8::1", "fe80::1:2:3:4", "::/0", "::1"}) {
    Cidr c = C(s);
    auto back = parse_fleet_key(fleet_key(c));
    ASSERT_TRUE(back) << s << ": " << back.error().message;
    EXPECT_EQ(*back, c) << s;
  }
}

TEST(FleetKey, RejectsGarbage) {
  struct Case {
    const char* key;
    const char* says;
  };
  for (const Case& k :
       {Case{"2001:db8::1/128", "':' is not allowed"}, Case{"203.0.113.7", "no prefix length"},
        Case{"2001_db8__1", "no prefix length"}, Case{"10.0.0.1/24", "host bits"},
        Case{"2001_db8__1/32", "host bits"}, Case{"2001_0db8__1/128", "canonical"},
        Case{"010.0.0.1/32", "not"}, Case{"10.0.0.1/33", "prefix length"}, Case{"10.0.0.1/", "prefix length"},
        Case{"/32", "not"}, Case{"", "no prefix length"}, Case{"nonsense/8", "not"},
        Case{"__ffff_1.2.3.4/128", "canonical"}, Case{"[__1]/128", "not"},
        Case{"10.0.0.1/32 ", "prefix length"}}) {
    auto r = parse_fleet_key(k.key);
    ASSERT_FALSE(r) << "'" << k.key << "' parsed as " << r->str();
    EXPECT_NE(r.error().message.find(k.says), std::string::npos) << k.key << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(std::string("'") + k.key + "'"), std::string::npos)
        << "the error names the key: " << r.error().message;
  }
}

TEST(FleetRecord, RoundTrips) {
  FleetRecord r{C("2001:db8::/48"), "sshd", "edge-a.example_1", 1700000000, 1700000600, 7};
  std::string value = encode_fleet_record(r);
  EXPECT_EQ(
      value,
      R"({"expiry":1700000600,"failures":7,"jail":"sshd","origin":"edge-a.example_1","start":1700000000,"v":1})");
  auto back = decode_fleet_record(fleet_key(r.cidr), value);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->cidr, r.cidr);
  EXPECT_EQ(back->jail, "sshd");
  EXPECT_EQ(back->origin, "edge-a.example_1");
  EXPECT_EQ(back->start, 1700000000);
  EXPECT_EQ(back->expiry, 1700000600);
  EXPECT_EQ(back->failures, 7);

  r.expiry = 0;  // permanent
  r.failures = 0;
  back = decode_fleet_record(fleet_key(r.cidr), encode_fleet_record(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->expiry, 0);
}

TEST(FleetRecord, UnknownFieldsAreIgnored) {
  auto r = decode_fleet_record(
      "10.0.0.0/8",
      R"({"v":1,"jail":"manual","origin":"b","start":5,"expiry":5,"failures":0,"reason":"x","extra":{"a":[1]}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->jail, "manual");
  EXPECT_EQ(r->expiry, 5) << "expiry == start is allowed";
}

TEST(FleetRecord, EveryValidationError) {
  const std::string key = "203.0.113.7/32";
  const std::string ok = R"("jail":"sshd","origin":"a","start":100,"expiry":200,"failures":3)";
  ASSERT_EQ(decode_error(key, "{\"v\":1," + ok + "}"), "");
  struct Case {
    std::string key, value, says;
  };
  const Case cases[] = {
      {"10.0.0.1/24", "{\"v\":1," + ok + "}", "host bits"},
      {"2001:db8::1/128", "{\"v\":1," + ok + "}", "':' is not allowed"},
      {key, "{\"v\":1,", "not valid JSON"},
      {key, "", "not valid JSON"},
      {key, "[1,2]", "not a JSON object"},
      {key, "\"x\"", "not a JSON object"},
      {key, "{" + ok + "}", "v: missing"},
      {key, "{\"v\":2," + ok + "}", "v: version 2 is not known"},
      {key, "{\"v\":\"1\"," + ok + "}", "v: expected a whole number"},
      {key, "{\"v\":1.0," + ok + "}", "v: expected a whole number"},
      {key, R"({"v":1,"origin":"a","start":1,"expiry":2,"failures":0})", "jail: missing"},
      {key, R"({"v":1,"jail":5,"origin":"a","start":1,"expiry":2,"failures":0})", "jail: expected a string"},
      {key, R"({"v":1,"jail":"","origin":"a","start":1,"expiry":2,"failures":0})",
       "jail: '' is not a valid jail"},
      {key, R"({"v":1,"jail":"a b","origin":"a","start":1,"expiry":2,"failures":0})", "jail: 'a b'"},
      {key,
       R"({"v":1,"jail":")" + std::string(32, 'j') + R"(","origin":"a","start":1,"expiry":2,"failures":0})",
       "jail:"},
      {key, R"({"v":1,"jail":"sshd","start":1,"expiry":2,"failures":0})", "origin: missing"},
      {key, R"({"v":1,"jail":"sshd","origin":null,"start":1,"expiry":2,"failures":0})",
       "origin: expected a string"},
      {key, R"({"v":1,"jail":"sshd","origin":"","start":1,"expiry":2,"failures":0})",
       "origin: '' is not a valid node"},
      {key, R"({"v":1,"jail":"sshd","origin":"a/b","start":1,"expiry":2,"failures":0})", "origin: 'a/b'"},
      {key,
       R"({"v":1,"jail":"sshd","origin":")" + std::string(65, 'n') +
           R"(","start":1,"expiry":2,"failures":0})",
       "origin:"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","expiry":2,"failures":0})", "start: missing"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":-1,"expiry":2,"failures":0})",
       "start: -1 is negative"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1.5,"expiry":2,"failures":0})",
       "start: expected a whole"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"failures":0})", "expiry: missing"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"expiry":-1,"failures":0})",
       "expiry: -1 is negative"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":10,"expiry":9,"failures":0})",
       "expiry: 9 is before start 10"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"expiry":18446744073709551615,"failures":0})",
       "expiry: 18446744073709551615 is out of range"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"expiry":2})", "failures: missing"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"expiry":2,"failures":-3})",
       "failures: -3 is negative"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"expiry":2,"failures":4294967296})",
       "failures: 4294967296 is out of range"},
      {key, R"({"v":1,"jail":"sshd","origin":"a","start":1,"expiry":2,"failures":true})",
       "failures: expected a whole"},
  };
  for (const Case& c : cases) {
    std::string err = decode_error(c.key, c.value);
    EXPECT_NE(err, "") << c.value << " decoded";
    EXPECT_NE(err.find(c.says), std::string::npos)
        << c.value << ": '" << err << "' does not say '" << c.says << "'";
  }
  EXPECT_NE(decode_error(key, "{}").find("fleet record 203.0.113.7/32: "), std::string::npos)
      << "the error names the key";
}

TEST(FleetRecord, LatestExpiryWins) {
  FleetRecord timed_short{C("10.0.0.1"), "sshd", "a", 100, 200, 1};
  FleetRecord timed_long{C("10.0.0.1"), "sshd", "b", 100, 300, 1};
  FleetRecord permanent{C("10.0.0.1"), "manual", "c", 100, 0, 0};
  FleetRecord permanent2{C("10.0.0.1"), "manual", "d", 150, 0, 0};
  EXPECT_TRUE(fleet_record_wins(timed_long, timed_short));
  EXPECT_FALSE(fleet_record_wins(timed_short, timed_long));
  EXPECT_FALSE(fleet_record_wins(timed_short, timed_short)) << "an equal expiry does not replace";
  EXPECT_TRUE(fleet_record_wins(permanent, timed_long));
  EXPECT_FALSE(fleet_record_wins(timed_long, permanent));
  EXPECT_FALSE(fleet_record_wins(permanent2, permanent)) << "a permanent ban never replaces a permanent one";
}

TEST(FleetNode, Names) {
  for (const char* ok : {"a", "edge-a", "node_1.example.com", "A9"}) EXPECT_TRUE(check_node_name(ok)) << ok;
  EXPECT_TRUE(check_node_name(std::string(64, 'x')));
  for (const std::string& bad :
       {std::string(""), std::string(65, 'x'), std::string("a b"), std::string("a:b"), std::string("a/b"),
        std::string("é"), std::string("a*"), std::string("a>")}) {
    auto st = check_node_name(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_NE(st.error().message.find("'" + bad + "'"), std::string::npos) << st.error().message;
  }
}

TEST(FleetSettings, PublishesAndAccepts) {
  FleetSettings s;
  EXPECT_TRUE(s.publishes("sshd"));
  EXPECT_TRUE(s.accepts("manual"));
  s.publish = {"sshd", "manual"};
  s.accept = {};
  EXPECT_TRUE(s.publishes("sshd"));
  EXPECT_TRUE(s.publishes("manual"));
  EXPECT_FALSE(s.publishes("recidive"));
  EXPECT_FALSE(s.accepts("sshd"));
  s.accept = {"recidive", "*"};
  EXPECT_TRUE(s.accepts("anything"));
}

}  // namespace
}  // namespace xdpban
