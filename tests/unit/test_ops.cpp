// Actions, reports and metrics on the daemon side: their xdpban.conf and jail
// options, the placeholders of a ban, the mail a report becomes, and the
// Prometheus text format (every line checked against the format's grammar).
#include <gtest/gtest.h>

// GCC 12 warns inside <regex> at -O2 with the sanitizers (a false positive);
// clang has no such warning (and would reject the unknown name).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <sstream>

#include "core/prometheus.h"
#include "daemon/actions.h"
#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/reports.h"
#include "io/http_endpoint.h"
#include "mem_files.h"
#include "xdpban/abi.h"

namespace xdpban {
namespace {

using test::MemFiles;

Result<DaemonConfig> daemon_conf(const std::string& text) {
  MemFiles m;
  m.files["/t/xdpban.conf"] = "[xdpban]\n" + text;
  return DaemonConfig::load("/t/xdpban.conf", m);
}

TEST(OpsConfig, DefaultsAreOff) {
  auto c = daemon_conf("");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->ops.ban_command.empty());
  EXPECT_TRUE(c->ops.unban_command.empty());
  EXPECT_EQ(c->ops.report_interval, 0);
  EXPECT_TRUE(c->ops.metrics.empty());
  EXPECT_EQ(c->ops.command_timeout, 30);
  EXPECT_EQ(c->ops.reportretention, 30 * 86400);
}

TEST(OpsConfig, OptionsParsed) {
  auto c = daemon_conf(
      "ban_command = /usr/local/bin/notify --jail <jail> '<ip> for <bantime>s'\n"
      "unban_command = /usr/local/bin/notify --unban <cidr>\n"
      "command_timeout = 5s\ncommand_max_running = 2\ncommand_max_queued = 10\n"
      "report = weekly\nreport_command = /usr/sbin/sendmail -t\nreport_mailto = root@example.org\n"
      "report_mailfrom = xdpban <xdpban@example.org>\nreport_top = 5\nreportretention = 60d\n"
      "metrics = 127.0.0.1:9468\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->ops.ban_command.expand({{"jail", "sshd"}, {"ip", "192.0.2.1"}, {"bantime", "600"}}),
            (std::vector<std::string>{"/usr/local/bin/notify", "--jail", "sshd", "192.0.2.1 for 600s"}));
  EXPECT_EQ(c->ops.command_timeout, 5);
  EXPECT_EQ(c->ops.command_max_running, 2u);
  EXPECT_EQ(c->ops.command_max_queued, 10u);
  EXPECT_EQ(c->ops.report_interval, 7 * 86400);
  EXPECT_EQ(c->ops.report_mailto, "root@example.org");
  EXPECT_EQ(c->ops.report_mailfrom, "xdpban <xdpban@example.org>");
  EXPECT_EQ(c->ops.report_top, 5u);
  EXPECT_EQ(c->ops.reportretention, 60 * 86400);
  EXPECT_EQ(c->ops.metrics, "127.0.0.1:9468");
  EXPECT_EQ(daemon_conf("metrics = [::1]:9100\n")->ops.metrics, "[::1]:9100");
  EXPECT_EQ(daemon_conf("report = daily\nreport_command = /bin/true\n")->ops.report_interval, 86400);
  EXPECT_EQ(daemon_conf("report = 12h\nreport_command = /bin/true\n")->ops.report_interval, 43200);
  EXPECT_EQ(daemon_conf("report = off\nmetrics = off\n")->ops.report_interval, 0);
}

TEST(OpsConfig, BadValuesNameFileLineAndOption) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (auto [text, expect] : std::vector<Case>{
           {"ban_command = notify <adress>\n", "/t/xdpban.conf:2: ban_command: unknown placeholder <adress>"},
           {"ban_command = echo <ip> >> /tmp/x\n", "ban_command: '>>' is shell syntax"},
           {"unban_command = echo 'x\n", "unban_command: unterminated '"},
           {"report_command = mail -s <ip>\n", "report_command: unknown placeholder <ip>"},
           {"command_timeout = 0\n", "command_timeout: '0' must be from 1s to 1d"},
           {"command_max_running = 0\n", "command_max_running: '0' is not a whole number"},
           {"report = hourly-ish\n", "report: 'hourly-ish' is not off, daily, weekly"},
           {"report = daily\n", "report = 1d needs report_command"},
           {"report = 60d\nreport_command = /bin/true\n",
            "reportretention (4w2d) is shorter than the report period (8w4d)"},
           {"metrics = localhost:9468\n", "metrics: 'localhost:9468': 'localhost' is not an IP address"},
           {"metrics = 127.0.0.1:99999\n", "is not a port"},
           {"metrics = ::1:9468\n", "is not ADDRESS:PORT"},
           {"reportretention = 10m\n", "reportretention: '10m' is shorter than 1h"},
       }) {
    auto c = daemon_conf(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.error().message.find(expect), std::string::npos) << c.error().message;
  }
}

TEST(OpsConfig, JailCommandsOverrideTheDefaultAndEmptyTurnsThemOff) {
  MemFiles m;
  m.files["/t/jail.conf"] =
      "[DEFAULT]\nban_command = /bin/notify <jail> <ip>\n"
      "[sshd]\nenabled = true\nlogpath = /var/log/auth.log\n"
      "[quiet]\nenabled = true\nlogpath = /var/log/q.log\nban_command =\n"
      "[own]\nenabled = true\nlogpath = /var/log/o.log\nban_command = /bin/own <cidr>\n"
      "unban_command = /bin/own --unban <cidr>\n"
      // fail2ban's action options stay accepted and ignored.
      "[f2b]\nenabled = true\nlogpath = /var/log/f.log\naction = iptables-multiport[port=ssh]\n"
      "banaction = nftables\naction_mw = %(action_)s\n";
  auto j = load_jails("/t", m);
  ASSERT_TRUE(j.ok()) << j.error().message;
  std::map<std::string, JailSettings> by;
  for (auto& s : *j) by[s.name] = s;
  ASSERT_TRUE(by["sshd"].ban_command.has_value());
  EXPECT_EQ(by["sshd"].ban_command->expand({{"jail", "sshd"}, {"ip", "1.2.3.4"}}),
            (std::vector<std::string>{"/bin/notify", "sshd", "1.2.3.4"}));
  EXPECT_FALSE(by["sshd"].unban_command.has_value());  // falls back to xdpban.conf's
  ASSERT_TRUE(by["quiet"].ban_command.has_value());
  EXPECT_TRUE(by["quiet"].ban_command->empty());
  EXPECT_EQ(by["own"].unban_command->text(), "/bin/own --unban <cidr>");
  EXPECT_EQ(by["f2b"].ban_command->text(), "/bin/notify <jail> <ip>");

  m.files["/t/jail.conf"] = "[sshd]\nenabled = true\nlogpath = /l\nban_command = x <ipp>\n";
  auto bad = load_jails("/t", m);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("/t/jail.conf:4: [sshd] ban_command: unknown placeholder <ipp>"),
            std::string::npos)
      << bad.error().message;
}

TEST(Actions, PlaceholdersOfABan) {
  BanRecord b{*Cidr::parse("2001:db8::/64"), "sshd", 1000, 1600, 3, 0, 7};
  auto v = ban_placeholders(b, 1234);
  EXPECT_EQ(v["ip"], "2001:db8::");
  EXPECT_EQ(v["cidr"], "2001:db8::/64");
  EXPECT_EQ(v["jail"], "sshd");
  EXPECT_EQ(v["bantime"], "600");
  EXPECT_EQ(v["failures"], "7");
  EXPECT_EQ(v["count"], "3");
  EXPECT_EQ(v["time"], "1234");
  EXPECT_EQ(v["family"], "inet6");
  b.expiry = 0;
  EXPECT_EQ(ban_placeholders(b, 0)["bantime"], "-1");
  // Every placeholder a template may use has a value.
  for (const auto& p : kBanPlaceholders) EXPECT_TRUE(v.count(p)) << p;
}

TEST(Reports, MailHeadersOnlyWhenAsked) {
  Report r;
  r.since = 0;
  r.until = 86400;
  r.host = "mx1";
  r.bans = 3;
  r.jails = {{"sshd", 3}};
  OpsConfig o;
  std::string plain = compose_report(r, o, 86400);
  EXPECT_EQ(plain.rfind("xdpban report for mx1: ", 0), 0u) << plain;
  o.report_mailto = "root";
  o.report_mailfrom = "xdpban@mx1";
  std::string mail = compose_report(r, o, 86400);
  EXPECT_EQ(
      mail.rfind("To: root\nFrom: xdpban@mx1\nSubject: xdpban on mx1: 3 bans (1 jail) in 1d\nDate: ", 0), 0u)
      << mail;
  auto blank = mail.find("\n\n");
  ASSERT_NE(blank, std::string::npos);
  EXPECT_NE(mail.substr(0, blank).find("Content-Type: text/plain; charset=utf-8"), std::string::npos);
  EXPECT_EQ(mail.substr(blank + 2), plain);
}

TEST(Reports, DropsSinceThePreviousReportOrSinceTheMapsWereMade) {
  xdpban_stats before{}, now{};
  before.passed = 100;
  before.dropped_v4 = 10;
  now.passed = 150;
  now.dropped_v4 = 25;
  now.dropped_v6 = 2;
  before.flood_dropped = 3;
  now.flood_dropped = 10;
  auto d = drops_between(before, now);
  EXPECT_EQ(d.passed, 50u);
  EXPECT_EQ(d.dropped_v4, 15u);
  EXPECT_EQ(d.dropped_v6, 2u);
  EXPECT_EQ(d.flood_dropped, 7u);
  EXPECT_EQ(d.scope, "since the previous report");
  EXPECT_EQ(drops_between(std::nullopt, now).dropped_v4, 25u);
  now.passed = 5;  // went down: the maps were made again
  auto reset = drops_between(before, now);
  EXPECT_EQ(reset.passed, 5u);
  EXPECT_EQ(reset.scope, "since the maps were made again");
}

// The exposition format's grammar, line by line (text format 0.0.4).
void expect_valid_exposition(const std::string& text) {
  static const std::regex help(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  static const std::regex type(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf))");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line, family, type_of;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, help)) << line;
    } else if (std::regex_match(line, m, type)) {
      family = m[1];
      type_of = m[2];
      EXPECT_TRUE(seen.insert(family).second) << "family twice: " << family;
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample)) << "not a sample: [" << line << "]";
      EXPECT_EQ(m[1].str(), family) << "sample outside its family: " << line;
      if (type_of == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << family;
      }
    }
  }
}

TEST(Prometheus, WriterEscapesAndTypes) {
  PromWriter w;
  w.family("x_bans_total", PromWriter::Type::kCounter, "Help with \\ and\nnewline.");
  w.sample({{"jail", "a\"b\\c\nd"}}, uint64_t{7});
  w.family("x_ratio", PromWriter::Type::kGauge, "A ratio.");
  w.sample(0.25);
  w.sample({{"k", "v"}, {"l", ""}}, 1e21);
  EXPECT_EQ(w.text(),
            "# HELP x_bans_total Help with \\\\ and\\nnewline.\n"
            "# TYPE x_bans_total counter\n"
            "x_bans_total{jail=\"a\\\"b\\\\c\\nd\"} 7\n"
            "# HELP x_ratio A ratio.\n"
            "# TYPE x_ratio gauge\n"
            "x_ratio 0.25\n"
            "x_ratio{k=\"v\",l=\"\"} 1e+21\n");
  expect_valid_exposition(w.text());
  EXPECT_FALSE(PromWriter::valid_metric_name("1x"));
  EXPECT_FALSE(PromWriter::valid_metric_name("a-b"));
  EXPECT_TRUE(PromWriter::valid_metric_name("a:b_c1"));
  EXPECT_FALSE(PromWriter::valid_label_name("__reserved"));
  EXPECT_FALSE(PromWriter::valid_label_name("a:b"));
}

TEST(Metrics, SnapshotRendersEveryFamilyWithKnownValues) {
  MetricsCounters counters;
  BanEvent ban{BanEvent::kBan, BanRecord{*Cidr::parse("192.0.2.1"), "sshd", 0, 600, 1, 0, 5}, ""};
  counters.on_event(ban);
  counters.on_event(ban);
  counters.on_event({BanEvent::kUnban, ban.ban, "expired"});
  counters.on_event({BanEvent::kBan, BanRecord{*Cidr::parse("192.0.2.9"), "we\"ird\\jail\n", 0, 0}, ""});
  MetricsSnapshot s;
  s.version = "0.1.0";
  s.start_time = 1000;
  s.now = 1060;
  s.jails = {{"sshd", true, 1, 4, 17}, {"we\"ird\\jail\n", false, 1, 0, 0}};
  s.counters = &counters;
  xdpban_stats x{};
  x.passed = 1000;
  x.dropped_v4 = 40;
  x.dropped_v6 = 2;
  x.allow_hits = 1;
  x.flood_checked = 500;
  x.flood_dropped = 300;
  x.flood_events = 2;
  s.xdp = x;
  s.usage = TableUsage{3, 1, 1024, 512, 2, 0};
  s.interfaces = 1;
  s.commands.succeeded = 4;
  s.commands.timed_out = 1;
  s.commands_running = 2;
  std::string t = render_metrics(s);
  expect_valid_exposition(t);
  for (const char* line : {
           "xdpban_build_info{version=\"0.1.0\"} 1\n",
           "xdpban_uptime_seconds 60\n",
           "xdpban_jails 1\n",
           "xdpban_bans{jail=\"sshd\"} 1\n",
           "xdpban_bans_total{jail=\"sshd\"} 2\n",
           "xdpban_bans_total{jail=\"we\\\"ird\\\\jail\\n\"} 1\n",
           "xdpban_unbans_total{jail=\"sshd\",reason=\"expired\"} 1\n",
           "xdpban_unbans_total{jail=\"sshd\",reason=\"manual\"} 0\n",
           "xdpban_failures_total{jail=\"sshd\"} 17\n",
           "xdpban_failing_addresses{jail=\"sshd\"} 4\n",
           "xdpban_xdp_passed_packets_total 1000\n",
           "xdpban_xdp_dropped_packets_total{family=\"ipv4\"} 40\n",
           "xdpban_xdp_dropped_packets_total{family=\"ipv6\"} 2\n",
           "xdpban_xdp_allow_hits_total 1\n",
           "xdpban_xdp_flood_packets_total{result=\"dropped\"} 300\n",
           "xdpban_xdp_flood_reports_total{result=\"sent\"} 2\n",
           "xdpban_map_entries{table=\"hosts\",family=\"ipv4\"} 3\n",
           "xdpban_map_slots{table=\"hosts\",family=\"ipv4\"} 1024\n",
           "xdpban_map_fill_ratio{table=\"hosts\",family=\"ipv6\"} 0.001953125\n",
           "xdpban_commands_total{result=\"timeout\"} 1\n",
           "xdpban_commands_running 2\n",
           "# TYPE xdpban_bans gauge\n",
           "# TYPE xdpban_bans_total counter\n",
       })
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;
}

TEST(ListenAddress, Parsed) {
  auto a = ListenAddress::parse("127.0.0.1:9468");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 9468);
  EXPECT_EQ(a->str(), "127.0.0.1:9468");
  auto b = ListenAddress::parse("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->addr.family, Family::V6);
  EXPECT_EQ(b->str(), "[::1]:80");
  EXPECT_FALSE(ListenAddress::parse("127.0.0.1").ok());
  EXPECT_FALSE(ListenAddress::parse("127.0.0.1:0").ok());
  EXPECT_FALSE(ListenAddress::parse("[::1]9468").ok());
}

}  // namespace
}  // namespace xdpban
