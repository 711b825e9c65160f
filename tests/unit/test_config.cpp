// The jail options of config.cpp that depend on the host: `enabled = auto`
// (logs_exist against real files and unit directories in a temp dir), the
// shipped default configuration in deploy/etc/xdpban, and the jail-level
// filter options (failregex, ignoreregex, ... in a jail) through Jail::create.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "daemon/config.h"
#include "daemon/jail.h"
#include "mem_files.h"

namespace xdpban {
namespace {

namespace fs = std::filesystem;

using test::MemFiles;

Result<std::vector<JailSettings>> jails_from(const std::string& jail_conf) {
  MemFiles m;
  m.files["/nonexistent-xdpban-test/jail.conf"] = jail_conf;
  return load_jails("/nonexistent-xdpban-test", m);
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "xdpban-config-XXXXXX").string();
    path_ = mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  void touch(const std::string& name) const { std::ofstream(*this / name) << "x\n"; }

 private:
  std::string path_;
};

TEST(EnabledAuto, ParsedAndValidated) {
  auto j = jails_from(
      "[a]\nenabled = auto\nlogpath = /var/log/a.log\n[b]\nenabled = AUTO\nlogpath = /b\n"
      "[c]\nenabled = yes\nlogpath = /c\n[d]\nlogpath = /d\n");
  ASSERT_TRUE(j) << j.error().message;
  ASSERT_EQ(j->size(), 4u);
  EXPECT_TRUE((*j)[0].enabled_auto);
  EXPECT_FALSE((*j)[0].enabled);  // until the daemon has looked for the logs
  EXPECT_TRUE((*j)[1].enabled_auto);
  EXPECT_TRUE((*j)[2].enabled);
  EXPECT_FALSE((*j)[2].enabled_auto);
  EXPECT_FALSE((*j)[3].enabled || (*j)[3].enabled_auto);  // default: off

  auto bad = jails_from("[a]\nlogpath = /a\nenabled = sometimes\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("jail.conf:3"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("'sometimes' is not true, false or auto"), std::string::npos)
      << bad.error().message;

  auto nolog = jails_from("[a]\nenabled = auto\n");
  ASSERT_FALSE(nolog);
  EXPECT_NE(nolog.error().message.find("no logpath"), std::string::npos) << nolog.error().message;
}

TEST(EnabledAuto, FileJailNeedsAMatchingRegularFile) {
  TempDir d;
  JailSettings j;
  j.logpath = {d / "missing.log", d / "app-*.log"};
  std::string why;
  EXPECT_FALSE(logs_exist(j, {}, &why));
  EXPECT_NE(why.find("no log file matches " + (d / "missing.log")), std::string::npos) << why;

  fs::create_directory(d / "app-dir.log");  // a directory is not a log
  EXPECT_FALSE(logs_exist(j, {}, &why));

  d.touch("app-1.log");
  EXPECT_TRUE(logs_exist(j, {}, &why));
  EXPECT_EQ(why, "log " + (d / "app-*.log") + " exists");

  JailSettings plain;
  plain.logpath = {d / "app-1.log"};
  EXPECT_TRUE(logs_exist(plain, {}, &why));
}

TEST(EnabledAuto, SystemdJailNeedsTheJournalmatchUnitFile) {
  TempDir etc, lib;
  JailSettings j;
  j.backend = JailSettings::Backend::kSystemd;
  std::vector<std::string> match = {"_SYSTEMD_UNIT=postfix@-.service + _COMM=smtpd",
                                    "_SYSTEMD_UNIT=postfix.service"};
  std::vector<std::string> dirs = {etc / "", lib / ""};
  std::string why;
  EXPECT_FALSE(logs_exist(j, match, &why, dirs));
  EXPECT_EQ(why, "no unit file for postfix@-.service postfix.service");

  lib.touch("postfix.service");
  EXPECT_TRUE(logs_exist(j, match, &why, dirs));
  EXPECT_EQ(why, "unit " + (lib / "") + "/postfix.service exists");

  // An instance's unit file is its template's.
  etc.touch("postfix@.service");
  EXPECT_TRUE(logs_exist(j, match, &why, dirs));
  EXPECT_EQ(why, "unit " + (etc / "") + "/postfix@.service exists");

  // No unit named: the journal is there with systemd, so the jail runs.
  EXPECT_TRUE(logs_exist(j, {"_COMM=sshd"}, &why, dirs));
  EXPECT_EQ(why, "journalmatch names no _SYSTEMD_UNIT");
}

// backend = auto without its log files reads the journal: the jail runs when
// the host keeps a journal and the service's unit exists.
TEST(EnabledAuto, AutoBackendFallsBackToTheJournal) {
  TempDir d, units, journal;
  JailSettings j;  // backend = auto
  j.logpath = {d / "auth.log"};
  std::vector<std::string> match = {"_SYSTEMD_UNIT=sshd.service + _COMM=sshd"};
  std::vector<std::string> unit_dirs = {units / ""}, no_journal = {d / "no-journal"},
                           journal_dirs = {journal / ""};
  std::string why;
  EXPECT_FALSE(logs_exist(j, match, &why, unit_dirs, no_journal));
  EXPECT_NE(why.find("no journal in"), std::string::npos) << why;
  EXPECT_FALSE(logs_exist(j, match, &why, unit_dirs, journal_dirs));
  EXPECT_NE(why.find("no unit file for sshd.service"), std::string::npos) << why;
  units.touch("sshd.service");
  EXPECT_TRUE(logs_exist(j, match, &why, unit_dirs, journal_dirs));
  EXPECT_NE(why.find("the journal: unit"), std::string::npos) << why;
  // Without a journalmatch, or with backend = file, only the files count.
  EXPECT_FALSE(logs_exist(j, {}, &why, unit_dirs, journal_dirs));
  j.backend = JailSettings::Backend::kFile;
  EXPECT_FALSE(logs_exist(j, match, &why, unit_dirs, journal_dirs));
  // The log file wins when it exists.
  d.touch("auth.log");
  EXPECT_TRUE(logs_exist(j, match, &why, unit_dirs, journal_dirs));
}

TEST(ShippedConfig, LoadsAndEveryReadyJailIsAuto) {
  DiskFileSource disk;
  const std::string dir = std::string(XDPBAN_SOURCE_DIR) + "/deploy/etc/xdpban";
  auto d = DaemonConfig::load(dir + "/xdpban.conf", disk);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->interfaces.empty());  // the default route's interface
  auto jails = load_jails(dir, disk);
  ASSERT_TRUE(jails) << jails.error().message;
  std::map<std::string, JailSettings> by_name;
  for (const auto& j : *jails) by_name[j.name] = j;
  for (const char* name : {"sshd", "postfix-sasl", "dovecot", "asterisk", "recidive"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
    const JailSettings& j = by_name[name];
    EXPECT_TRUE(j.enabled_auto) << name;
    EXPECT_FALSE(j.logpath.empty()) << name;
    EXPECT_TRUE(j.ignoreself) << name;
    EXPECT_EQ(j.filter.name, name);
  }
  EXPECT_EQ(by_name["recidive"].bantime.bantime, 7 * 86400);
  EXPECT_EQ(by_name["sshd"].bantime.bantime, 600);
  EXPECT_EQ(by_name["sshd"].maxretry, 5);
}

TEST(FloodJail, OptionsParsedWithDefaults) {
  auto j = jails_from(
      "[sip-flood]\nenabled = true\nflood.ports = udp/5060 tcp/5060-5061\nflood.rate = 3000/m\n"
      "[smtp]\nenabled = true\nflood.ports = tcp/25\nflood.rate = 2.5\nflood.burst = 10\nflood.drops = 40\n"
      "banprefix4 = 24\n");
  ASSERT_TRUE(j) << j.error().message;
  ASSERT_EQ(j->size(), 2u);
  const auto& sip = (*j)[0];
  ASSERT_TRUE(sip.flood.has_value());
  EXPECT_EQ(sip.flood->ports.size(), 3u);
  EXPECT_DOUBLE_EQ(sip.flood->rate, 50);
  EXPECT_EQ(sip.flood->burst, 50u) << "default burst: a second's worth";
  EXPECT_EQ(sip.flood->drops, 50u) << "default drops: the burst";
  EXPECT_TRUE(sip.logpath.empty()) << "a flood jail needs no logpath";
  const auto& smtp = (*j)[1];
  EXPECT_DOUBLE_EQ(smtp.flood->rate, 2.5);
  EXPECT_EQ(smtp.flood->burst, 10u);
  EXPECT_EQ(smtp.flood->drops, 40u);
  EXPECT_EQ(smtp.banprefix4, 24);
}

TEST(FloodJail, BadValuesNameFileAndLine) {
  struct Bad {
    const char* conf;
    const char* want;
  } cases[] = {
      {"[f]\nenabled = true\nflood.ports = sctp/5060\nflood.rate = 5\n",
       "jail.conf:3: [f] flood.ports: 'sctp/5060'"},
      {"[f]\nenabled = true\nflood.ports = udp/70000\nflood.rate = 5\n",
       "flood.ports: 'udp/70000' is not a port"},
      {"[f]\nenabled = true\nflood.ports = udp/5060\n", "a flood jail needs flood.rate"},
      {"[f]\nenabled = true\nflood.ports = udp/5060\nflood.rate = fast\n",
       "jail.conf:4: [f] flood.rate: 'fast' is not a rate"},
      {"[f]\nenabled = true\nflood.ports = udp/5060\nflood.rate = 5/fortnight\n", "is not a rate"},
      {"[f]\nenabled = true\nflood.ports = udp/5060\nflood.rate = 5\nflood.burst = 0\n",
       "jail.conf:5: [f] flood.burst"},
      {"[f]\nenabled = true\nlogpath = /x\nflood.rate = 5\n",
       "only a flood jail (one with flood.ports) takes it"},
  };
  for (const auto& c : cases) {
    auto j = jails_from(c.conf);
    ASSERT_FALSE(j) << c.conf;
    EXPECT_NE(j.error().message.find(c.want), std::string::npos) << j.error().message;
  }
}

TEST(FloodJail, EnabledAutoLooksForAListener) {
  TempDir d;
  auto table = [&](const char* name, const std::string& rows) {
    std::ofstream(d / name) << "  sl  local_address rem_address   st tx_queue rx_queue\n" << rows;
  };
  // 13C4 = 5060; 0019 = 25. TCP: only state 0A (listening) counts.
  table("udp", "   0: 00000000:13C4 00000000:0000 07 00000000:00000000\n");
  table("udp6", "");
  table("tcp", "   0: 0100007F:0019 0100007F:9C40 01 00000000:00000000\n");
  table("tcp6", "");
  FloodSettings f;
  f.ports = *parse_flood_ports("udp/5060");
  std::string why;
  EXPECT_TRUE(ports_listening(f, &why, d / ""));
  EXPECT_EQ(why, "something listens on udp/5060");
  f.ports = *parse_flood_ports("tcp/25");
  EXPECT_FALSE(ports_listening(f, &why, d / "")) << "an established connection is not a listener";
  table("tcp6", "   0: 00000000000000000000000000000000:0019 00000000000000000000000000000000:0000 0A 0\n");
  EXPECT_TRUE(ports_listening(f, &why, d / ""));
}

// Jail-level prefregex/failregex/ignoreregex/datepattern/maxlines replace the
// filter's, as in fail2ban; %(known/failregex)s is the filter's own.
struct JailWithFilter {
  MemFiles files;
  std::unique_ptr<Jail> jail;
  Status load(const std::string& jail_options) {
    files.files["/f/demo.conf"] = "[Definition]\nfailregex = ^\\s*auth failure from <HOST>$\nignoreregex =\n";
    files.files["/j/jail.conf"] =
        "[demo]\nenabled = true\nfilter = demo\nlogpath = /var/log/demo.log\n"
        "maxretry = 1\n" +
        jail_options;
    auto j = load_jails("/j", files);
    if (!j) return j.error();
    auto created = Jail::create(j->at(0), {"/f"}, files);
    if (!created) return created.error();
    jail = std::move(*created);
    return {};
  }
  bool bans(const std::string& line, double now = 2e9) { return jail->on_line(line, now).has_value(); }
};

TEST(JailFilterOptions, FailregexReplacesTheFilters) {
  JailWithFilter t;
  ASSERT_TRUE(t.load("")) << "plain filter";
  EXPECT_FALSE(t.bans("bad login from 192.0.2.7"));
  EXPECT_TRUE(t.bans("auth failure from 192.0.2.8"));

  JailWithFilter own;
  auto st = own.load("failregex = ^bad login from <HOST>$\n");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE(own.bans("bad login from 192.0.2.7"));
  EXPECT_FALSE(own.bans("auth failure from 192.0.2.8"));  // replaced, as fail2ban does

  JailWithFilter both;
  st = both.load("failregex = %(known/failregex)s\n            ^bad login from <HOST>$\n");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE(both.bans("bad login from 192.0.2.7"));
  EXPECT_TRUE(both.bans("auth failure from 192.0.2.8"));
}

TEST(JailFilterOptions, IgnoreregexSuppresses) {
  JailWithFilter t;
  auto st = t.load("ignoreregex = from 192\\.0\\.2\\.9$\n");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_FALSE(t.bans("auth failure from 192.0.2.9"));
  EXPECT_TRUE(t.bans("auth failure from 192.0.2.10"));
}

TEST(JailFilterOptions, DatepatternApplies) {
  // A time stamp no default pattern reads: only the jail's datepattern cuts it
  // out of the line (so the anchored failregex matches) and dates the failure.
  struct tm tmv {};
  tmv.tm_year = 2026 - 1900;
  tmv.tm_mon = 11;
  tmv.tm_mday = 3;
  tmv.tm_hour = 6;
  tmv.tm_isdst = -1;
  double stamp = static_cast<double>(mktime(&tmv));
  const std::string line = "t=2026.12.03 06h00m00 auth failure from 192.0.2.7";
  JailWithFilter plain;
  ASSERT_TRUE(plain.load(""));
  EXPECT_FALSE(plain.bans(line, stamp + 10));
  JailWithFilter t;
  auto st = t.load("datepattern = ^t=%%Y\\.%%m\\.%%d %%Hh%%Mm%%S\n");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_FALSE(t.bans(line, stamp + 3600)) << "dated 06:00:00, an hour before now: older than findtime";
  EXPECT_TRUE(t.bans(line, stamp + 10));
}

TEST(JailFilterOptions, PrefregexAndMaxlinesAndErrors) {
  JailWithFilter t;
  auto st = t.load("prefregex = ^app: <F-CONTENT>.+</F-CONTENT>$\n");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_TRUE(t.bans("app: auth failure from 192.0.2.7"));
  EXPECT_FALSE(t.bans("other: auth failure from 192.0.2.8"));

  JailWithFilter bad;
  st = bad.load("failregex = ^bad (login from <HOST>$\n");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("/j/jail.conf:6: [demo] the jail's failregex"), std::string::npos)
      << st.error().message;
  EXPECT_NE(st.error().message.find("missing closing parenthesis"), std::string::npos) << st.error().message;

  JailWithFilter lines;
  st = lines.load("maxlines = zero\n");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("jail.conf:6: [demo] maxlines"), std::string::npos) << st.error().message;

  JailWithFilter unknown;
  st = unknown.load("failregex = %(known/nosuch)s\n");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("/j/jail.conf:6: [demo] failregex: '%(known/nosuch)s'"),
            std::string::npos)
      << st.error().message;
}

// xdpban.conf with `text`, and the files the [fleet] options name.
Result<DaemonConfig> fleet_conf(const std::string& text, std::map<std::string, std::string> extra = {}) {
  MemFiles m;
  m.files["/t/xdpban.conf"] = text;
  for (auto& [k, v] : extra) m.files[k] = v;
  return DaemonConfig::load("/t/xdpban.conf", m);
}

// The error of fleet_conf, or "" when it loads.
std::string fleet_error(const std::string& text, std::map<std::string, std::string> extra = {}) {
  auto c = fleet_conf(text, std::move(extra));
  return c ? "" : c.error().message;
}

TEST(FleetConfig, DefaultsWithoutTheSection) {
  auto c = fleet_conf("[xdpban]\nloglevel = info\n");
  ASSERT_TRUE(c) << c.error().message;
  const FleetSettings& f = c->fleet;
  EXPECT_FALSE(f.enabled);
  EXPECT_TRUE(f.servers.empty());
  EXPECT_EQ(f.bucket, "xdpban");
  EXPECT_EQ(f.replicas, 1);
  EXPECT_EQ(f.timeout_ms, 2000);
  EXPECT_EQ(f.publish, std::vector<std::string>{"*"});
  EXPECT_EQ(f.accept, std::vector<std::string>{"*"});
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(f.node, host) << "node defaults to the host name";
  // [fleet] alone, before [xdpban] or without it.
  auto only = fleet_conf("[fleet]\nenabled = true\nservers = nats://127.0.0.1:4222\n");
  ASSERT_TRUE(only) << only.error().message;
  EXPECT_TRUE(only->fleet.enabled);
  EXPECT_EQ(only->fleet.node, host);
}

TEST(FleetConfig, EveryOption) {
  auto c = fleet_conf(
      "[xdpban]\nloglevel = info\n"
      "[fleet]\n"
      "enabled = yes\n"
      "servers = nats://10.0.0.1:4222, tls://nats.example:4443\n"
      "  nats://[2001:db8::1]:4222\n"
      "node = edge-a.example\n"
      "bucket = xdp_ban-2\n"
      "replicas = 3\n"
      "creds = /etc/xdpban/fleet.creds\n"
      "user = xdp\n"
      "password = s3cret\n"
      "token = t0k\n"
      "tls_ca = /etc/xdpban/ca.pem\n"
      "tls_cert = /etc/xdpban/cert.pem\n"
      "tls_key = /etc/xdpban/key.pem\n"
      "publish = sshd, manual recidive\n"
      "accept = none\n"
      "timeout = 500ms\n",
      {{"/etc/xdpban/fleet.creds", "creds"},
       {"/etc/xdpban/ca.pem", "ca"},
       {"/etc/xdpban/cert.pem", "cert"},
       {"/etc/xdpban/key.pem", "key"}});
  ASSERT_TRUE(c) << c.error().message;
  const FleetSettings& f = c->fleet;
  EXPECT_TRUE(f.enabled);
  EXPECT_EQ(f.servers, (std::vector<std::string>{"nats://10.0.0.1:4222", "tls://nats.example:4443",
                                                 "nats://[2001:db8::1]:4222"}));
  EXPECT_EQ(f.node, "edge-a.example");
  EXPECT_EQ(f.bucket, "xdp_ban-2");
  EXPECT_EQ(f.replicas, 3);
  EXPECT_EQ(f.creds, "/etc/xdpban/fleet.creds");
  EXPECT_EQ(f.user, "xdp");
  EXPECT_EQ(f.password, "s3cret");
  EXPECT_EQ(f.token, "t0k");
  EXPECT_EQ(f.tls_ca, "/etc/xdpban/ca.pem");
  EXPECT_EQ(f.tls_cert, "/etc/xdpban/cert.pem");
  EXPECT_EQ(f.tls_key, "/etc/xdpban/key.pem");
  EXPECT_EQ(f.publish, (std::vector<std::string>{"sshd", "manual", "recidive"}));
  EXPECT_TRUE(f.publishes("manual"));
  EXPECT_FALSE(f.publishes("postfix"));
  EXPECT_TRUE(f.accept.empty());
  EXPECT_FALSE(f.accepts("sshd"));
  EXPECT_EQ(f.timeout_ms, 500);

  auto t = fleet_conf("[fleet]\ntimeout = 1m\npublish =\naccept = *\n");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->fleet.timeout_ms, 60000);
  EXPECT_TRUE(t->fleet.publish.empty()) << "empty: publish nothing";
  auto none = fleet_conf("[fleet]\ncreds =\ntls_ca =\ntls_cert =\ntls_key =\nuser =\npassword =\n");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->fleet.creds.empty() && none->fleet.tls_ca.empty()) << "empty file options mean none";
  EXPECT_TRUE(t->fleet.accepts("anything"));
  EXPECT_FALSE(t->fleet.enabled);
}

TEST(FleetConfig, ErrorsNameFileLineAndOption) {
  const std::string head = "[xdpban]\nloglevel = info\n[fleet]\n";  // [fleet] options from line 4
  struct Case {
    std::string text, says;
  };
  const Case cases[] = {
      {"enabled = true\n", "/t/xdpban.conf:4: [fleet] enabled = true needs servers"},
      {"enabled = maybe\n", "/t/xdpban.conf:4: [fleet] enabled: 'maybe' is not a boolean"},
      {"servers = 10.0.0.1:4222\n",
       "/t/xdpban.conf:4: [fleet] servers: '10.0.0.1:4222' is not a NATS server URL"},
      {"servers = nats://a:1 http://b:2\n", "/t/xdpban.conf:4: [fleet] servers: 'http://b:2'"},
      {"servers = nats://\n", "[fleet] servers: 'nats://' is not"},
      {"node = a b\n", "/t/xdpban.conf:4: [fleet] node: 'a b' is not a valid node name"},
      {"node = " + std::string(65, 'n') + "\n", "/t/xdpban.conf:4: [fleet] node:"},
      {"bucket = a.b\n", "/t/xdpban.conf:4: [fleet] bucket: 'a.b' is not a bucket name"},
      {"bucket =\n", "/t/xdpban.conf:4: [fleet] bucket: '' is not a bucket name"},
      {"replicas = 0\n", "/t/xdpban.conf:4: [fleet] replicas: '0' is not a whole number from 1 to 5"},
      {"replicas = 6\n", "[fleet] replicas: '6'"},
      {"creds = /nonexistent/user.creds\n",
       "/t/xdpban.conf:4: [fleet] creds: cannot read /nonexistent/user.creds"},
      {"tls_ca = /nope/ca.pem\n", "/t/xdpban.conf:4: [fleet] tls_ca: cannot read /nope/ca.pem"},
      {"tls_cert = /nope/c.pem\n", "/t/xdpban.conf:4: [fleet] tls_cert: cannot read /nope/c.pem"},
      {"tls_key = /nope/k.pem\n", "/t/xdpban.conf:4: [fleet] tls_key: cannot read /nope/k.pem"},
      {"tls_cert = /ok/c.pem\n", "/t/xdpban.conf:4: [fleet] tls_cert and tls_key go together"},
      {"tls_key = /ok/k.pem\n", "/t/xdpban.conf:4: [fleet] tls_cert and tls_key go together"},
      {"password = x\n", "/t/xdpban.conf:4: [fleet] password needs user"},
      {"publish = sshd, bad/jail\n",
       "/t/xdpban.conf:4: [fleet] publish: 'bad/jail' is not a valid jail name"},
      {"accept = " + std::string(40, 'j') + "\n", "/t/xdpban.conf:4: [fleet] accept:"},
      {"timeout = soon\n", "/t/xdpban.conf:4: [fleet] timeout:"},
      {"timeout = 10ms\n", "/t/xdpban.conf:4: [fleet] timeout: '10ms' must be from 100ms to 60s"},
      {"timeout = 2m\n", "[fleet] timeout: '2m' must be from 100ms to 60s"},
      {"timeout = xms\n", "[fleet] timeout: 'xms' is not a duration"},
      {"server = nats://a:1\n", "/t/xdpban.conf:4: [fleet] unknown option 'server'"},
      {"interfaces = eth0\n", "/t/xdpban.conf:4: [fleet] unknown option 'interfaces'"},
  };
  std::map<std::string, std::string> files = {{"/ok/c.pem", "c"}, {"/ok/k.pem", "k"}};
  for (const Case& c : cases) {
    std::string err = fleet_error(head + c.text, files);
    EXPECT_NE(err.find(c.says), std::string::npos)
        << c.text << "'" << err << "' does not say '" << c.says << "'";
  }
  // A later line names its own line.
  EXPECT_NE(fleet_error(head + "enabled = false\nreplicas = 9\n").find("/t/xdpban.conf:5: [fleet] replicas"),
            std::string::npos);
  // An unknown section still is one; [fleet] options do not go in [xdpban].
  EXPECT_NE(fleet_error("[flet]\nenabled = true\n").find("unknown section [flet]"), std::string::npos);
  EXPECT_NE(fleet_error("[xdpban]\nservers = nats://a:1\n").find("unknown option 'servers'"),
            std::string::npos);
}

TEST(FleetConfig, ReadableFilesOnDisk) {
  TempDir d;
  std::ofstream(d / "user.creds") << "-----BEGIN NATS USER JWT-----\n";
  std::ofstream(d / "xdpban.conf") << "[fleet]\nenabled = true\nservers = nats://127.0.0.1:4222\ncreds = "
                                   << (d / "user.creds") << "\ntls_ca = " << (d / "missing.pem") << "\n";
  DiskFileSource disk;
  auto c = DaemonConfig::load(d / "xdpban.conf", disk);
  ASSERT_FALSE(c);
  EXPECT_NE(
      c.error().message.find((d / "xdpban.conf") + ":5: [fleet] tls_ca: cannot read " + (d / "missing.pem")),
      std::string::npos)
      << c.error().message;
  std::ofstream(d / "xdpban.conf") << "[fleet]\nenabled = true\nservers = nats://127.0.0.1:4222\ncreds = "
                                   << (d / "user.creds") << "\n";
  c = DaemonConfig::load(d / "xdpban.conf", disk);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->fleet.creds, d / "user.creds");
}

}  // namespace
}  // namespace xdpban
