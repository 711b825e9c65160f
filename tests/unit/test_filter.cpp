// GCC 12 at -O3 (Release) takes a FilterDefinition's empty std::optional<std::string>
// prefregex, assigned and copied, for an uninitialised string (a false positive;
// clang has no such warning and would reject the unknown name).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "core/filter.h"
#include "core/filter_config.h"
#include "core/regex.h"

namespace xdpban {
namespace {

constexpr double kNow = 1124013600;  // 2005-08-14 10:00:00 UTC

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

Filter make(FilterDefinition def, FilterOptions o = {}) {
  auto f = Filter::create(def, o);
  EXPECT_TRUE(f) << (f ? "" : f.error().message);
  return std::move(*f);
}

std::vector<std::string> hosts(const LineResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.failures)
    if (!f.nofail && f.has_id) out.push_back(f.host);
  return out;
}

TEST(RegexTranslation, PythonDifferences) {
  EXPECT_EQ(translate_python_regex(R"(\d{,3})"), R"(\d{0,3})");
  EXPECT_EQ(translate_python_regex(R"((?iu)abc\Z)"), R"((?i)abc\z)");
  EXPECT_EQ(translate_python_regex(R"((?u)x[{,1}])"), R"(x[{,1}])");
  auto re = Regex::compile(translate_python_regex(R"(^(?P<a>x)\d{,2}(?P=a)$)"));
  ASSERT_TRUE(re) << re.error().message;
  MatchData md(*re);
  EXPECT_TRUE(re->search("x12x", md));
  EXPECT_EQ(md.group(re->group_index("a")), "x");
  EXPECT_FALSE(re->search("x123x", md));
}

TEST(RegexLimits, PathologicalPatternDoesNotHang) {
  auto re = Regex::compile("^(\\w+\\s?)*$");
  ASSERT_TRUE(re);
  MatchData md(*re);
  std::string evil(5000, 'a');
  evil += "!";
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(re->search(evil, md));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(FilterTags, Expansion) {
  std::string r = expand_filter_tags("^<F-USER>\\S+</F-USER> from <HOST> port <F-PORT/>", "yes");
  EXPECT_NE(r.find("(?P<user>\\S+)"), std::string::npos);
  EXPECT_NE(r.find("(?P<dns>"), std::string::npos);
  EXPECT_NE(r.find("(?P<fport>\\w+)"), std::string::npos);
  EXPECT_EQ(expand_filter_tags("<HOST>", "no").find("(?P<dns>"), std::string::npos);
  EXPECT_EQ(expand_filter_tags("</F-X> <OTHER>", "no"), "</F-X> <OTHER>");  // unopened/unknown stay
}

TEST_F(FilterTest, DateIsCutPrefregexFirstIgnoreregexVetoes) {
  FilterDefinition def;
  def.source = "test";
  def.prefregex = R"(^\s*\S+ demo\[\d+\]: <F-CONTENT>.+</F-CONTENT>$)";
  def.failregex = {R"(^auth failed for <F-USER>\S+</F-USER> from <HOST>$)"};
  def.ignoreregex = {R"(from 192\.0\.2\.99$)"};
  Filter f = make(def);
  auto r = f.process_line("Aug 14 11:59:59 host demo[12]: auth failed for bob from 192.0.2.1", kNow);
  ASSERT_EQ(hosts(r), std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(r.failures[0].fields.at("user"), "bob");
  ASSERT_TRUE(r.failures[0].time);
  EXPECT_EQ(*r.failures[0].time, 1124020799);
  ASSERT_TRUE(r.failures[0].addr);
  EXPECT_EQ(*r.failures[0].addr, *Cidr::parse("192.0.2.1"));
  EXPECT_TRUE(
      hosts(f.process_line("Aug 14 11:59:59 host other[12]: auth failed for bob from 192.0.2.1", kNow))
          .empty());
  auto ignored = f.process_line("Aug 14 11:59:59 host demo[12]: auth failed for bob from 192.0.2.99", kNow);
  EXPECT_TRUE(ignored.ignored);
  EXPECT_TRUE(hosts(ignored).empty());
}

// The single-line fast paths (the literal prefilter over all failregexes, the
// start-byte check per failregex, the byte-mode regex copy for ASCII lines) must
// never change a verdict. Each line here is one a careless prefilter would drop.
TEST_F(FilterTest, PrefiltersNeverDropAMatch) {
  auto one = [](std::vector<std::string> failregex, std::optional<std::string> prefregex = std::nullopt) {
    FilterDefinition def;
    def.source = "test";
    def.failregex = std::move(failregex);
    def.prefregex = std::move(prefregex);
    return make(def);
  };
  const std::vector<std::string> want{"192.0.2.7"};
  // The literal at the very end of the line, and the shortest line holding it.
  Filter tail = one({R"(^<HOST> said goodbye$)"});
  EXPECT_EQ(hosts(tail.process_line("192.0.2.7 said goodbye", kNow)), want);
  // Either alternative, and an optional part that is absent.
  Filter alt = one(
      {R"(^[iI](?:llegal|nvalid) user \S+ from <HOST>$)", R"(^Auth(?:entication)? failure from <HOST>$)"});
  EXPECT_EQ(hosts(alt.process_line("Illegal user x from 192.0.2.7", kNow)), want);
  EXPECT_EQ(hosts(alt.process_line("invalid user x from 192.0.2.7", kNow)), want);
  EXPECT_EQ(hosts(alt.process_line("Auth failure from 192.0.2.7", kNow)), want);
  EXPECT_TRUE(hosts(alt.process_line("Illegal usr x from 192.0.2.7", kNow)).empty());
  // Caseless: no literal can be required, and 'k' also matches KELVIN SIGN (U+212A),
  // a line whose first byte is not 'k' or 'K'.
  Filter caseless = one({R"((?i)^kill from <HOST>$)"});
  EXPECT_EQ(hosts(caseless.process_line("KILL from 192.0.2.7", kNow)), want);
  EXPECT_EQ(hosts(caseless.process_line("\xE2\x84\xAAill from 192.0.2.7", kNow)), want);
  Filter inner = one({R"(^(?i:kill) from <HOST>$)"});  // the start-byte check runs on this one
  EXPECT_EQ(hosts(inner.process_line("\xE2\x84\xAAILL from 192.0.2.7", kNow)), want);
  EXPECT_EQ(hosts(inner.process_line("kIlL from 192.0.2.7", kNow)), want);
  EXPECT_TRUE(hosts(inner.process_line("skill from 192.0.2.7", kNow)).empty());
  // A failregex without any literal (or with one under 4 bytes) switches the prefilter off.
  Filter bare = one({R"(^<HOST>$)"});
  EXPECT_EQ(hosts(bare.process_line("192.0.2.7", kNow)), want);
  Filter shorty = one({R"(^ab <HOST>$)", R"(^long literal here <HOST>$)"});
  EXPECT_EQ(hosts(shorty.process_line("ab 192.0.2.7", kNow)), want);
  // With prefregex the failregexes see its content; the literal is looked for in the line.
  Filter pref =
      one({R"(^refused connect from <HOST>$)"}, R"(^\s*\S+ demo\[\d+\]: <F-CONTENT>.+</F-CONTENT>$)");
  EXPECT_EQ(hosts(pref.process_line("Aug 14 11:59:59 host demo[1]: refused connect from 192.0.2.7", kNow)),
            want);
  EXPECT_TRUE(hosts(pref.process_line("Aug 14 11:59:59 host demo[1]: refused connection", kNow)).empty());
  // A non-ASCII line runs the UTF-8 regex: \w takes 'ü' (the byte-mode copy would not).
  Filter word = one({R"(^user \w+ from <HOST>$)"});
  EXPECT_EQ(hosts(word.process_line("user j\xC3\xBCrgen from 192.0.2.7", kNow)), want);
  EXPECT_EQ(hosts(word.process_line("user jurgen from 192.0.2.7", kNow)), want);
  // Invalid UTF-8 still matches as before (PCRE2_MATCH_INVALID_UTF).
  EXPECT_EQ(hosts(word.process_line("user x \xFF from 192.0.2.7", kNow)).size(), 0u);
  EXPECT_EQ(hosts(tail.process_line("192.0.2.7 said goodbye \xFF", kNow)).size(), 0u);
  Filter any = one({R"(^bad byte .* from <HOST>$)"});
  EXPECT_EQ(hosts(any.process_line("bad byte \xC3\xA9 from 192.0.2.7", kNow)), want);
}

TEST(RegexAscii, ByteModeCopyAgreesOnAsciiSubjects) {
  EXPECT_TRUE(is_ascii("plain text 123 !~"));
  EXPECT_TRUE(is_ascii(""));
  EXPECT_FALSE(is_ascii("caf\xC3\xA9"));
  EXPECT_FALSE(is_ascii(std::string(17, 'a') + "\x80"));
  // A byte >= 0x80 at every position of every length up to 40 (word steps, tails).
  for (size_t n = 1; n <= 40; ++n) {
    EXPECT_TRUE(is_ascii(std::string(n, '\x7f'))) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string s(n, 'a');
      s[i] = '\x80';
      EXPECT_FALSE(is_ascii(s)) << n << " " << i;
    }
  }
  for (const char* p : {R"((?i)^\w+ k\b)", R"(\s\d+\W)", R"([^a]+z)", R"((?i)[[:alpha:]]+:)", R"(.\b.)"}) {
    auto re = Regex::compile(p);
    ASSERT_TRUE(re) << p;
    MatchData utf(*re), bytes(*re);
    for (const char* s : {"Hello K", "x 42!", "bbbz", "ALPHA:", "a b", "hello k.", "  7 ", "aaaa"}) {
      bool a = re->search(s, utf, 0, false), b = re->search(s, bytes, 0, true);
      EXPECT_EQ(a, b) << p << " on '" << s << "'";
      if (a && b) {
        EXPECT_EQ(utf.start(0), bytes.start(0)) << p << " on '" << s << "'";
        EXPECT_EQ(utf.end(0), bytes.end(0)) << p << " on '" << s << "'";
      }
    }
  }
}

TEST(RegexFirstBytes, FromPcre2sOwnAnalysis) {
  auto lit = Regex::compile("Failed password");
  ASSERT_TRUE(lit);
  auto fb = lit->first_bytes();
  EXPECT_TRUE(fb['F']);
  EXPECT_TRUE(fb['f']);   // PCRE2 does not say whether its first unit is caseless
  EXPECT_TRUE(fb[0xE2]);  // nor which non-ASCII letters fold to it
  EXPECT_FALSE(fb['x']);
  auto cls = Regex::compile("[aA]uth");
  ASSERT_TRUE(cls);
  EXPECT_TRUE(cls->first_bytes()['a']);
  EXPECT_TRUE(cls->first_bytes()['A']);
  EXPECT_FALSE(cls->first_bytes()['u']);
  auto empty = Regex::compile("x?");  // can match the empty string: any byte
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->first_bytes().count(), 256u);
  auto anchored = Regex::compile("^abc");  // a first code unit, but no bitmap for anchored ones
  ASSERT_TRUE(anchored);
  EXPECT_TRUE(anchored->first_bytes()['a']);
  EXPECT_FALSE(anchored->first_bytes()['x']);
}

TEST_F(FilterTest, HostForms) {
  FilterDefinition def;
  def.failregex = {R"(^fail from <HOST>$)", R"(^net <SUBNET>$)"};
  Filter f = make(def);
  EXPECT_EQ(hosts(f.process_line("fail from 2001:DB8::1", kNow)), std::vector<std::string>{"2001:db8::1"});
  EXPECT_EQ(hosts(f.process_line("fail from [2001:db8::2]", kNow)), std::vector<std::string>{"2001:db8::2"});
  EXPECT_EQ(hosts(f.process_line("fail from ::ffff:192.0.2.5", kNow)), std::vector<std::string>{"192.0.2.5"});
  auto dns = f.process_line("fail from attacker.example.com", kNow);
  ASSERT_EQ(hosts(dns), std::vector<std::string>{"attacker.example.com"});
  EXPECT_FALSE(dns.failures[0].addr);  // kept raw for DNS handling, never resolved here
  EXPECT_EQ(hosts(f.process_line("net 192.0.2.77/24", kNow)), std::vector<std::string>{"192.0.2.0/24"});
}

TEST_F(FilterTest, MultiLineFailureByMlfid) {
  FilterDefinition def;
  def.prefregex = R"(^\s*\S+ d\[<F-MLFID>\d+</F-MLFID>\]: <F-CONTENT>.+</F-CONTENT>$)";
  def.failregex = {R"(^<F-NOFAIL>connect from</F-NOFAIL> <HOST>$)",
                   R"(^login failed user=<F-USER>\S+</F-USER>$)", R"(^<F-MLFFORGET>closed</F-MLFFORGET>$)"};
  FilterOptions o;
  o.mlfid_max_entries = 2;
  Filter f = make(def, o);
  auto first = f.process_line("h d[7]: connect from 192.0.2.8", kNow);
  EXPECT_TRUE(hosts(first).empty());  // not a failure by itself
  auto second = f.process_line("h d[7]: login failed user=eve", kNow);
  ASSERT_EQ(hosts(second), std::vector<std::string>{"192.0.2.8"});  // host from the earlier line
  EXPECT_EQ(second.failures[0].fields.at("user"), "eve");
  f.process_line("h d[7]: closed", kNow);
  EXPECT_TRUE(hosts(f.process_line("h d[7]: login failed user=eve", kNow)).empty());  // forgotten
  // The buffer is bounded: older sessions are evicted.
  f.process_line("h d[1]: connect from 192.0.2.1", kNow);
  f.process_line("h d[2]: connect from 192.0.2.2", kNow);
  f.process_line("h d[3]: connect from 192.0.2.3", kNow);
  EXPECT_TRUE(hosts(f.process_line("h d[1]: login failed user=x", kNow)).empty());
  EXPECT_EQ(hosts(f.process_line("h d[3]: login failed user=x", kNow)),
            std::vector<std::string>{"192.0.2.3"});
}

TEST_F(FilterTest, NoHostGroupIsRejected) {
  FilterDefinition def;
  def.source = "x.conf";
  def.failregex = {"^no host here$"};
  auto f = Filter::create(def);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("x.conf: failregex 0"), std::string::npos) << f.error().message;
}

// Injection cases (CVE-2013-2178 and similar): a user name, URL or e-mail
// address containing an IP must yield the true source or nothing.
std::string deploy_dir() {
  std::string here = __FILE__;  // <repo>/tests/unit/test_filter.cpp
  return here.substr(0, here.rfind("/tests/unit/")) + "/deploy/filter.d";
}

Filter deploy_filter(const std::string& name) {
  DiskFileSource files;
  auto def = load_filter_definition(deploy_dir() + "/" + name + ".conf", {}, files);
  EXPECT_TRUE(def) << (def ? "" : def.error().message);
  return make(*def);
}

TEST_F(FilterTest, InjectionSshdUserNames) {
  Filter f = deploy_filter("sshd");
  auto h = [&](const char* l) { return hosts(f.process_line(l, kNow)); };
  using V = std::vector<std::string>;
  EXPECT_EQ(h("Aug 14 09:00:00 srv sshd[1]: Invalid user admin from 6.6.6.6 from 192.0.2.1 port 22"),
            V{"192.0.2.1"});
  EXPECT_EQ(
      h("Aug 14 09:00:00 srv sshd[1]: Failed password for invalid user x from 6.6.6.6 port 22 ssh2 from "
        "192.0.2.2 port 4242 ssh2"),
      V{"192.0.2.2"});
  EXPECT_EQ(h("Aug 14 09:00:00 srv sshd[1]: Failed password for root from 192.0.2.3 port 22 ssh2"),
            V{"192.0.2.3"});
  // A forged second line inside the user name cannot add a failure for the forged address.
  EXPECT_EQ(h("Aug 14 09:00:00 srv sshd[1]: Invalid user a\\nsshd[2]: Failed password for root from 6.6.6.6 "
              "from 192.0.2.4 port 1"),
            V{"192.0.2.4"});
  EXPECT_TRUE(
      h("Aug 14 09:00:00 srv sshd[1]: Accepted password for 6.6.6.6 from 192.0.2.5 port 1 ssh2").empty());
}

TEST_F(FilterTest, InjectionEmailAndUrl) {
  Filter postfix = deploy_filter("postfix-sasl");
  EXPECT_EQ(
      hosts(postfix.process_line("Aug 14 09:00:00 srv postfix/smtpd[1]: warning: unknown[192.0.2.6]: SASL "
                                 "LOGIN authentication failed: x, sasl_username=a@[6.6.6.6]",
                                 kNow)),
      std::vector<std::string>{"192.0.2.6"});
  Filter dovecot = deploy_filter("dovecot");
  EXPECT_EQ(
      hosts(dovecot.process_line("Aug 14 09:00:00 srv dovecot: auth: passwd-file(x@[6.6.6.6],192.0.2.7,<s>): "
                                 "unknown user",
                                 kNow)),
      std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(
      hosts(dovecot.process_line("Aug 14 09:00:00 srv dovecot: imap-login: Disconnected (auth failed, 1 "
                                 "attempts in 2 secs): user=<x, rip=6.6.6.6, lip=1.1.1.1>, method=PLAIN, "
                                 "rip=192.0.2.8, lip=198.51.100.10, TLS",
                                 kNow)),
      std::vector<std::string>{"192.0.2.8"});
  Filter asterisk = deploy_filter("asterisk");
  EXPECT_EQ(
      hosts(asterisk.process_line("[2005-08-14 09:00:00] NOTICE[1] chan_sip.c: Registration from "
                                  "'\"x' failed for '6.6.6.6:5060' - Wrong password\" "
                                  "<sip:http://6.6.6.6/@h>' failed for '192.0.2.9:5060' - Wrong password",
                                  kNow)),
      std::vector<std::string>{"192.0.2.9"});
}

}  // namespace
}  // namespace xdpban
