#include "daemon/config.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>

#include "core/duration.h"

namespace xdpban {

namespace {

// The jail options xdpban acts on.
const std::set<std::string> kJailOptions = {"enabled",         "filter",          "logpath",
                                            "backend",         "journalmatch",    "maxretry",
                                            "findtime",        "bantime",         "bantime.increment",
                                            "bantime.factor",  "bantime.formula", "bantime.multipliers",
                                            "bantime.maxtime", "bantime.rndtime", "bantime.overalljails",
                                            "ignoreip",        "ignoreself",      "usedns",
                                            "logencoding",     "banprefix4",      "banprefix6",
                                            "maxtracked",      "flood.ports",     "flood.rate",
                                            "flood.burst",     "flood.drops",     "ban_command",
                                            "unban_command"};

// fail2ban options that configure its firewall actions, mail and other
// machinery xdpban replaces: accepted so existing jail files load, not used.
const std::set<std::string> kFail2banOnly = {"action",
                                             "banaction",
                                             "banaction_allports",
                                             "port",
                                             "protocol",
                                             "chain",
                                             "mta",
                                             "sender",
                                             "sendername",
                                             "destemail",
                                             "fail2ban_agent",
                                             "mode",
                                             "ignorecommand",
                                             "ignorecache",
                                             "maxmatches",
                                             "dbfile",
                                             "dbpurgeage",
                                             "action_",
                                             "action_mw",
                                             "action_mwl",
                                             "action_xarf",
                                             "action_cf_mwl",
                                             "action_blocklist_de",
                                             "action_badips",
                                             "action_badips_report",
                                             "action_abuseipdb",
                                             "abuseipdb_apikey",
                                             "banip",
                                             "knocking_url",
                                             "before",
                                             "after",
                                             "known",
                                             "skip_if_nologs",
                                             "__name__"};

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& w : v) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) {
    l = trim(l);
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

Result<bool> parse_bool(const std::string& v) {
  std::string l = to_lower(trim(v));
  if (l == "true" || l == "yes" || l == "on" || l == "1" || l == "enabled") return true;
  if (l == "false" || l == "no" || l == "off" || l == "0" || l == "disabled") return false;
  return invalid("'" + v + "' is not a boolean (true/false)");
}

Result<double> parse_double(const std::string& v) {
  std::string t = trim(v);
  char* end = nullptr;
  double x = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !(x > 0))
    return invalid("'" + v + "' is not a positive number");
  return x;
}

// Packets per second: "50", "50/s", "3000/m", "10000/h".
Result<double> parse_rate(const std::string& v) {
  std::string t = to_lower(trim(v));
  double per = 1;
  if (auto slash = t.find('/'); slash != std::string::npos) {
    std::string unit = trim(t.substr(slash + 1));
    if (unit == "s" || unit == "sec" || unit == "second")
      per = 1;
    else if (unit == "m" || unit == "min" || unit == "minute")
      per = 60;
    else if (unit == "h" || unit == "hour")
      per = 3600;
    else
      return invalid("'" + v + "' is not a rate (50, 50/s, 3000/m, 10000/h)");
    t = trim(t.substr(0, slash));
  }
  auto n = parse_double(t);
  if (!n) return invalid("'" + v + "' is not a rate (50, 50/s, 3000/m, 10000/h)");
  if (*n / per > 1e7) return invalid("'" + v + "' is above 10M packets per second");
  return *n / per;
}

// A duration, or -1 (any negative number) for "permanent" where allowed.
Result<int64_t> parse_seconds(const std::string& v, bool allow_permanent) {
  std::string t = trim(v);
  if (allow_permanent && !t.empty() && t[0] == '-') {
    auto n = parse_int(t, INT64_MIN / 2, -1);
    if (n) return -1;
  }
  return parse_duration(t);
}

// The items of a list option, separated by commas, blanks or both.
std::vector<std::string> list_words(std::string v) {
  std::replace(v.begin(), v.end(), ',', ' ');
  return words(v);
}

Result<std::vector<Cidr>> parse_cidrs(const std::string& v) {
  std::vector<Cidr> out;
  for (const auto& w : list_words(v)) {
    auto c = Cidr::parse(w);
    if (!c)
      return invalid("'" + w + "' is not an IP address or network (xdpban does not resolve host names here)");
    out.push_back(*c);
  }
  return out;
}

// NAME of every %(known/NAME)s in `text` (lower case, as configparser looks them up).
std::set<std::string> known_references(const std::string& text) {
  std::set<std::string> out;
  static const std::string kOpen = "%(known/";
  const std::string lower = to_lower(text);
  for (size_t p = 0; p + kOpen.size() < lower.size();) {
    size_t at = lower.find(kOpen, p);
    if (at == std::string::npos) break;
    size_t start = at + kOpen.size(), close = text.find(")s", start);
    if (close == std::string::npos) break;
    out.insert(lower.substr(start, close - start));
    p = close + 2;
  }
  return out;
}

// A list of jail names for [fleet] publish/accept: "*" (all), "none" or
// nothing (none), or names separated by spaces or commas.
Result<std::vector<std::string>> parse_jail_list(const std::string& v) {
  std::vector<std::string> out = list_words(v);
  if (out.size() == 1 && to_lower(out[0]) == "none") return std::vector<std::string>{};
  for (const auto& w : out)
    if (w != "*")
      if (auto st = check_jail_name(w); !st) return st.error();
  return out;
}

// [fleet] of xdpban.conf into *f; `files` tells whether the creds and TLS
// files can be read. Errors name file:line and the option.
Status parse_fleet(const IniOptions& o, const std::string& path, const FileSource& files, FleetSettings* f) {
  const IniValue* enabled_at = nullptr;
  bool node_given = false;
  for (const auto& option : o) {
    const std::string& key = option.first;
    const IniValue& val = option.second;
    auto bad = [&](const std::string& why) { return invalid(val.where + ": [fleet] " + key + ": " + why); };
    const std::string v = trim(val.text);
    // A file option: empty means none; a file named must be readable now.
    auto readable = [&](std::string* out) -> Status {
      if (!v.empty() && !files.read(v))
        return bad("cannot read " + v + " (missing, or not readable by xdpband)");
      *out = v;
      return {};
    };
    if (key == "enabled") {
      auto b = parse_bool(v);
      if (!b) return bad(b.error().message);
      f->enabled = *b;
      enabled_at = &val;
    } else if (key == "servers") {
      f->servers = list_words(v);
      for (const auto& url : f->servers) {
        auto scheme = url.find("://");
        std::string name = scheme == std::string::npos ? "" : to_lower(url.substr(0, scheme));
        if ((name != "nats" && name != "tls") || scheme + 3 >= url.size())
          return bad("'" + url + "' is not a NATS server URL (nats://host:4222 or tls://host:4222)");
      }
    } else if (key == "node") {
      if (auto st = check_node_name(v); !st) return bad(st.error().message);
      f->node = v;
      node_given = true;
    } else if (key == "bucket") {
      bool ok = !v.empty() && v.size() <= 64;
      for (char ch : v) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
      if (!ok) return bad("'" + v + "' is not a bucket name (1-64 characters: letters, digits, - _)");
      f->bucket = v;
    } else if (key == "replicas") {
      auto n = parse_int(v, 1, 5);
      if (!n) return bad(n.error().message);
      f->replicas = static_cast<int>(*n);
    } else if (key == "creds") {
      if (auto st = readable(&f->creds); !st) return st;
    } else if (key == "user") {
      f->user = v;
    } else if (key == "password") {
      f->password = v;
    } else if (key == "token") {
      f->token = v;
    } else if (key == "tls_ca") {
      if (auto st = readable(&f->tls_ca); !st) return st;
    } else if (key == "tls_cert") {
      if (auto st = readable(&f->tls_cert); !st) return st;
    } else if (key == "tls_key") {
      if (auto st = readable(&f->tls_key); !st) return st;
    } else if (key == "publish" || key == "accept") {
      auto l = parse_jail_list(v);
      if (!l) return bad(l.error().message + " (a list of jails, * for all, or none)");
      (key == "publish" ? f->publish : f->accept) = *l;
    } else if (key == "timeout") {
      int64_t ms = 0;
      if (v.size() > 2 && to_lower(v).ends_with("ms")) {
        auto n = parse_int(v.substr(0, v.size() - 2), 0, INT32_MAX);
        if (!n) return bad("'" + v + "' is not a duration (500ms, 2s, 1m)");
        ms = *n;
      } else {
        auto d = parse_duration(v);
        if (!d) return bad(d.error().message);
        ms = *d * 1000;
      }
      if (ms < 100 || ms > 60000) return bad("'" + v + "' must be from 100ms to 60s");
      f->timeout_ms = ms;
    } else {
      return invalid(val.where + ": [fleet] unknown option '" + key + "'");
    }
  }
  auto where = [&](const char* key) {
    auto it = o.find(key);
    return it != o.end() ? it->second.where : path;
  };
  if (f->tls_cert.empty() != f->tls_key.empty())
    return invalid(where(f->tls_cert.empty() ? "tls_key" : "tls_cert") +
                   ": [fleet] tls_cert and tls_key go together (the client certificate and its key)");
  if (!f->password.empty() && f->user.empty())
    return invalid(where("password") + ": [fleet] password needs user");
  if (f->enabled && f->servers.empty())
    return invalid((enabled_at ? enabled_at->where : path) +
                   ": [fleet] enabled = true needs servers (e.g. servers = nats://10.0.0.1:4222)");
  if (!node_given) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) f->node = host;
    if (f->enabled)
      if (auto st = check_node_name(f->node); !st)
        return invalid((enabled_at ? enabled_at->where : path) + ": [fleet] node: the host name " +
                       st.error().message + "; set node =");
  }
  return {};
}

std::vector<std::string> sorted_dir(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > ext.size() && n.ends_with(ext) && n[0] != '.') out.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<int64_t> parse_int(const std::string& v, int64_t lo, int64_t hi) {
  std::string t = trim(v);
  int64_t x = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || x < lo || x > hi)
    return invalid("'" + v + "' is not a whole number from " + std::to_string(lo) + " to " +
                   std::to_string(hi));
  return x;
}

Result<DaemonConfig> DaemonConfig::load(const std::string& path, const FileSource& files) {
  DaemonConfig c;
  c.path = path;
  auto slash = path.rfind('/');
  c.jail_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto text = files.read(path);
  if (!text) return make_error(ENOENT, path + ": cannot read configuration file");
  auto ini = IniFile::parse(*text, path);
  if (!ini) return ini.error();
  for (const auto& [name, opts] : ini->sections)
    if (name != "xdpban" && name != "fleet")
      return invalid(path + ": unknown section [" + name + "] (options go in [xdpban], or [fleet])");
  if (auto st =
          parse_fleet(ini->section("fleet") ? *ini->section("fleet") : IniOptions{}, path, files, &c.fleet);
      !st)
    return st.error();
  const IniOptions* o = ini->section("xdpban");
  if (!o) return c;
  for (const auto& option : *o) {
    // Named references, not a structured binding: clang before 16 cannot capture those in a lambda.
    const std::string& key = option.first;
    const IniValue& val = option.second;
    auto bad = [&](const Error& e) { return invalid(val.where + ": " + key + ": " + e.message); };
    const std::string& v = val.text;
    if (key == "interfaces") {
      c.interfaces = words(v);
    } else if (key == "xdp_mode") {
      c.xdp_mode = trim(v);
      if (c.xdp_mode != "auto" && c.xdp_mode != "native" && c.xdp_mode != "skb")
        return bad(invalid("'" + v + "' is not an XDP mode (auto, native or skb)"));
    } else if (key == "pin_dir") {
      c.pin_dir = trim(v);
    } else if (key == "database") {
      c.database = trim(v);
    } else if (key == "socket") {
      c.socket = trim(v);
    } else if (key == "loglevel") {
      c.loglevel = to_lower(trim(v));
      static const std::set<std::string> kLevels = {"debug",   "info",  "notice",
                                                    "warning", "error", "critical"};
      if (!kLevels.count(c.loglevel))
        return bad(invalid("'" + v + "' is not a log level (debug, info, warning, error)"));
    } else if (key == "jail_dir") {
      c.jail_dir = trim(v);
    } else if (key == "filter_path") {
      c.filter_path = words(v);
    } else if (key == "capacity") {
      auto n = parse_int(v, 1024, 1 << 26);
      if (!n) return bad(n.error());
      c.capacity = static_cast<uint32_t>(*n);
    } else if (key == "flood_tracked") {
      auto n = parse_int(v, 1024, 1 << 24);
      if (!n) return bad(n.error());
      c.flood_tracked = static_cast<uint32_t>(*n);
    } else if (key == "dbpurgeage") {
      auto d = parse_duration(v);
      if (!d) return bad(d.error());
      c.dbpurgeage = *d;
    } else if (key == "detach_on_exit") {
      auto b = parse_bool(v);
      if (!b) return bad(b.error());
      c.detach_on_exit = *b;
    } else if (key == "allow") {
      auto a = parse_cidrs(v);
      if (!a) return bad(a.error());
      c.allow = *a;
    } else if (auto ops = parse_ops_option(key, val, &c.ops); !ops) {
      return ops.error();
    } else if (!*ops) {
      return invalid(val.where + ": unknown option '" + key + "'");
    }
  }
  if (auto st = check_ops(c); !st) return st.error();
  return c;
}

Result<std::vector<JailSettings>> load_jails(const std::string& dir, const FileSource& files) {
  // fail2ban's order: jail.conf, jail.d/*.conf, jail.local, jail.d/*.local.
  std::vector<std::string> layers;
  if (files.read(dir + "/jail.conf")) layers.push_back(dir + "/jail.conf");
  for (const auto& f : sorted_dir(dir + "/jail.d", ".conf")) layers.push_back(f);
  if (files.read(dir + "/jail.local")) layers.push_back(dir + "/jail.local");
  for (const auto& f : sorted_dir(dir + "/jail.d", ".local")) layers.push_back(f);
  if (layers.empty()) return make_error(ENOENT, dir + ": no jail.conf, jail.local or jail.d/*.conf");
  auto cfg = Config::load_layers(layers, files, false);
  if (!cfg) return cfg.error();

  std::vector<JailSettings> out;
  for (const auto& section : cfg->sections()) {
    if (section == "DEFAULT" || section == "INCLUDES" || section == "Definition" || section == "Init" ||
        section.rfind("KNOWN/", 0) == 0)
      continue;
    JailSettings j;
    j.name = section;
    std::map<std::string, std::string> vars = {{"__name__", section}};
    auto where = [&](const std::string& opt) {
      const IniValue* r = cfg->raw(section, opt);
      return r ? r->where : section;
    };
    for (const auto& opt : cfg->options(section)) {
      std::string base = opt.substr(0, opt.find('?'));  // conditional options (opt?logtype=...) pass through
      if (!kJailOptions.count(base) && !kFail2banOnly.count(base) && base.rfind("action", 0) != 0 &&
          std::find(kJailFilterOptions.begin(), kJailFilterOptions.end(), base) == kJailFilterOptions.end() &&
          !base.ends_with("_log") && !base.ends_with("_backend"))
        return invalid(where(opt) + ": [" + section + "] unknown option '" + opt + "'");
    }
    if (const IniValue* r = cfg->raw(section, "enabled")) j.where = r->where;
    auto get = [&](const std::string& opt) -> Result<std::optional<std::string>> {
      auto v = cfg->get(section, opt, vars);
      if (!v) return v.error();  // it names file, line and option already
      return v;
    };
    std::string err;
    auto opt_str = [&](const std::string& opt, std::string* out_v) -> Status {
      auto v = get(opt);
      if (!v) return v.error();
      if (*v) *out_v = trim(**v);
      return {};
    };
#define XDPBAN_TRY(expr)          \
  do {                            \
    auto _st = (expr);            \
    if (!_st) return _st.error(); \
  } while (0)
    auto fail = [&](const std::string& opt, const Error& e) {
      return invalid(where(opt) + ": [" + section + "] " + opt + ": " + e.message);
    };
    std::string v;
    v.clear();
    XDPBAN_TRY(opt_str("enabled", &v));
    if (to_lower(v) == "auto") {
      j.enabled_auto = true;
    } else if (!v.empty()) {
      auto b = parse_bool(v);
      if (!b) return fail("enabled", invalid("'" + v + "' is not true, false or auto"));
      j.enabled = *b;
    }
    v = section;
    XDPBAN_TRY(opt_str("filter", &v));
    {
      auto spec = FilterSpec::parse(v);
      if (!spec) return fail("filter", spec.error());
      j.filter = *spec;
    }
    v.clear();
    XDPBAN_TRY(opt_str("logpath", &v));
    for (const auto& l : lines(v))
      for (const auto& w : words(l)) j.logpath.push_back(w);
    v = "auto";
    XDPBAN_TRY(opt_str("backend", &v));
    {
      auto spec = FilterSpec::parse(v);  // the same name[key=value, ...] syntax as filters
      if (!spec) return fail("backend", spec.error());
      std::string b = to_lower(spec->name);
      if (b == "auto")
        j.backend = JailSettings::Backend::kAuto;
      else if (b == "systemd")
        j.backend = JailSettings::Backend::kSystemd;
      else if (b == "file" || b == "pyinotify" || b == "polling" || b == "gamin")
        j.backend = JailSettings::Backend::kFile;
      else
        return fail("backend", invalid("'" + v + "' is not a backend (auto, file, systemd)"));
      if (j.backend != JailSettings::Backend::kSystemd && !spec->args.empty())
        return fail("backend", invalid("'" + v + "': only backend = systemd takes arguments"));
      for (const auto& [k, a] : spec->args) {
        if (k == "journalfiles") {
          for (auto w : words(a)) {
            for (size_t c; (c = w.find(',')) != std::string::npos;) {
              if (c) j.journalfiles.push_back(w.substr(0, c));
              w.erase(0, c + 1);
            }
            if (!w.empty()) j.journalfiles.push_back(w);
          }
          for (const auto& f : j.journalfiles)
            if (f[0] != '/')
              return fail("backend", invalid("journalfiles: '" + f + "' is not an absolute path"));
        } else if (k == "journalpath") {
          j.journalpath = a;
          if (a.empty() || a[0] != '/')
            return fail("backend", invalid("journalpath: '" + a + "' is not an absolute path"));
        } else if (k == "namespace") {
          j.journalnamespace = a;
        } else if (k == "journalflags") {
          int f = 0;
          auto [e, ec] = std::from_chars(a.data(), a.data() + a.size(), f);
          if (ec != std::errc() || e != a.data() + a.size() || f < 0)
            return fail("backend", invalid("journalflags: '" + a + "' is not a non-negative number"));
          j.journalflags = f;
        } else {
          return fail("backend", invalid("unknown systemd backend argument '" + k +
                                         "' (journalfiles, journalpath, journalflags, namespace)"));
        }
      }
      if (!j.journalfiles.empty() + !j.journalpath.empty() + !j.journalnamespace.empty() > 1)
        return fail("backend",
                    invalid("'" + v + "': journalfiles, journalpath and namespace exclude each other"));
    }
    v.clear();
    XDPBAN_TRY(opt_str("journalmatch", &v));
    j.journalmatch = lines(v);
    struct IntOpt {
      const char* name;
      int64_t lo, hi;
      int64_t* out64;
      int* out;
    };
    int64_t maxtracked = static_cast<int64_t>(j.maxtracked);
    for (IntOpt io : {IntOpt{"maxretry", 1, 100000, nullptr, &j.maxretry},
                      IntOpt{"banprefix4", 8, 32, nullptr, &j.banprefix4},
                      IntOpt{"banprefix6", 16, 128, nullptr, &j.banprefix6},
                      IntOpt{"maxtracked", 100, 100000000, &maxtracked, nullptr}}) {
      v.clear();
      XDPBAN_TRY(opt_str(io.name, &v));
      if (v.empty()) continue;
      auto n = parse_int(v, io.lo, io.hi);
      if (!n) return fail(io.name, n.error());
      if (io.out) *io.out = static_cast<int>(*n);
      if (io.out64) *io.out64 = *n;
    }
    j.maxtracked = static_cast<size_t>(maxtracked);
    struct DurOpt {
      const char* name;
      int64_t* out;
      bool permanent;
    };
    for (DurOpt d : {DurOpt{"findtime", &j.findtime, false}, DurOpt{"bantime", &j.bantime.bantime, true},
                     DurOpt{"bantime.maxtime", &j.bantime.maxtime, false},
                     DurOpt{"bantime.rndtime", &j.bantime.rndtime, false}}) {
      v.clear();
      XDPBAN_TRY(opt_str(d.name, &v));
      if (v.empty()) continue;
      auto s = parse_seconds(v, d.permanent);
      if (!s) return fail(d.name, s.error());
      *d.out = *s;
    }
    if (j.findtime <= 0) return fail("findtime", invalid("must be longer than 0s"));
    for (auto [name, flag] : {std::pair<const char*, bool*>{"bantime.increment", &j.bantime.increment},
                              {"bantime.overalljails", &j.bantime.overalljails},
                              {"ignoreself", &j.ignoreself}}) {
      v.clear();
      XDPBAN_TRY(opt_str(name, &v));
      if (v.empty()) continue;
      auto b = parse_bool(v);
      if (!b) return fail(name, b.error());
      *flag = *b;
    }
    v.clear();
    XDPBAN_TRY(opt_str("bantime.factor", &v));
    if (!v.empty()) {
      auto f = parse_double(v);
      if (!f) return fail("bantime.factor", f.error());
      j.bantime.factor = *f;
    }
    v.clear();
    XDPBAN_TRY(opt_str("bantime.formula", &v));
    if (!v.empty()) {
      auto f = BanTimePolicy::parse_formula(v);
      if (!f) return fail("bantime.formula", f.error());
      j.bantime.formula = *f;
    }
    v.clear();
    XDPBAN_TRY(opt_str("bantime.multipliers", &v));
    for (const auto& w : words(v)) {
      auto f = parse_double(w);
      if (!f) return fail("bantime.multipliers", f.error());
      j.bantime.multipliers.push_back(*f);
    }
    v.clear();
    XDPBAN_TRY(opt_str("ignoreip", &v));
    {
      auto ips = parse_cidrs(v);
      if (!ips) return fail("ignoreip", ips.error());
      j.ignoreip = *ips;
    }
    XDPBAN_TRY(opt_str("usedns", &j.usedns));
    j.usedns = to_lower(j.usedns);
    if (j.usedns != "yes" && j.usedns != "warn" && j.usedns != "no" && j.usedns != "raw")
      return fail("usedns", invalid("'" + j.usedns + "' is not one of yes, warn, no, raw"));
    XDPBAN_TRY(opt_str("logencoding", &j.logencoding));
    {
      std::string e = to_lower(j.logencoding);
      if (e != "auto" && e != "utf-8" && e != "utf8" && e != "ascii" && e != "latin-1" && e != "latin1" &&
          e != "iso-8859-1")
        return fail("logencoding",
                    invalid("'" + j.logencoding + "' is not supported (auto, utf-8, latin-1)"));
    }
    v.clear();
    XDPBAN_TRY(opt_str("flood.ports", &v));
    if (!v.empty()) {
      auto p = parse_flood_ports(v);
      if (!p) return fail("flood.ports", p.error());
      j.flood = FloodSettings{};
      j.flood->ports = *p;
      v.clear();
      XDPBAN_TRY(opt_str("flood.rate", &v));
      if (v.empty()) return fail("flood.ports", invalid("a flood jail needs flood.rate (e.g. 50/s)"));
      auto r = parse_rate(v);
      if (!r) return fail("flood.rate", r.error());
      j.flood->rate = *r;
      j.flood->burst = static_cast<uint32_t>(std::max(1.0, std::ceil(*r)));
      for (auto [name, dst] : {std::pair<const char*, uint32_t*>{"flood.burst", &j.flood->burst},
                               {"flood.drops", &j.flood->drops}}) {
        v.clear();
        XDPBAN_TRY(opt_str(name, &v));
        if (v.empty()) continue;
        auto n = parse_int(v, 1, std::string(name) == "flood.drops" ? XDPBAN_FLOOD_MAX_DROPS : 100000000);
        if (!n) return fail(name, n.error());
        *dst = static_cast<uint32_t>(*n);
      }
      if (j.flood->drops == 0) j.flood->drops = std::min<uint32_t>(j.flood->burst, XDPBAN_FLOOD_MAX_DROPS);
    } else {
      for (const char* name : {"flood.rate", "flood.burst", "flood.drops"}) {
        v.clear();
        XDPBAN_TRY(opt_str(name, &v));
        if (!v.empty()) return fail(name, invalid("only a flood jail (one with flood.ports) takes it"));
      }
    }
    for (auto [name, dest] :
         {std::pair<const char*, std::optional<CommandTemplate>*>{"ban_command", &j.ban_command},
          {"unban_command", &j.unban_command}}) {
      auto text = get(name);
      if (!text) return text.error();
      if (!*text) continue;
      auto t = parse_jail_command(**text);
      if (!t) return fail(name, t.error());
      *dest = std::move(*t);
    }
    // Filter options given in the jail replace the filter's (fail2ban's jail
    // reader skips a filter option the jail has); %(known/NAME)s is the filter's.
    for (const auto& opt : kJailFilterOptions) {
      const IniValue* r = cfg->raw(section, opt);
      if (!r) continue;
      JailSettings::FilterOverride o;
      o.where = r->where;
      std::set<std::string> names;
      for (const auto& other : cfg->options(section))
        if (const IniValue* ov = cfg->raw(section, other)) names.merge(known_references(ov->text));
      names.merge(known_references(r->text));
      std::map<std::string, std::string> fvars = vars;
      for (const auto& name : names) {
        static const std::string kProbe = "\x1fprobe";
        auto prior = cfg->get(section, kProbe, {{kProbe, "%(known/" + name + ")s"}, {"__name__", section}});
        if (prior && *prior) o.known_fallback[name] = **prior;
        fvars["known/" + name] = known_marker(name);
      }
      auto text = cfg->get(section, opt, fvars);
      if (!text) return text.error().wrap(o.where);
      o.text = text->value_or("");
      j.filter_overrides[opt] = std::move(o);
    }
#undef XDPBAN_TRY
    if (j.enabled || j.enabled_auto)
      if (auto st = check_jail_name(section); !st)
        return invalid(where("enabled") + ": " + st.error().message);
    if ((j.enabled || j.enabled_auto) && !j.flood && j.backend != JailSettings::Backend::kSystemd &&
        j.logpath.empty())
      return invalid(where("enabled") + ": [" + section +
                     "] is enabled but has no logpath (or backend = systemd, or flood.ports)");
    for (const auto& p : j.logpath)
      if (p.empty() || p[0] != '/') return fail("logpath", invalid("'" + p + "' is not an absolute path"));
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

bool any_regular_file(const std::string& pattern) {
  glob_t g{};
  bool found = false;
  if (glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc && !found; ++i) {
      struct stat st {};
      found = ::stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode);
    }
  globfree(&g);
  return found;
}

// A systemd jail's logs: some unit of its journalmatch has a unit file.
bool logs_exist_in_units(const std::vector<std::string>& journalmatch, std::string* why,
                         const std::vector<std::string>& unit_dirs) {
  std::vector<std::string> units;
  for (const auto& line : journalmatch)
    for (const auto& term : words(line))
      if (term.rfind("_SYSTEMD_UNIT=", 0) == 0) units.push_back(term.substr(14));
  if (units.empty()) {
    *why = "journalmatch names no _SYSTEMD_UNIT";
    return true;
  }
  for (const auto& u : units) {
    // An instance (postfix@-.service) comes from its template's file (postfix@.service).
    std::vector<std::string> files = {u};
    auto at = u.find('@'), dot = u.rfind('.');
    if (at != std::string::npos && dot != std::string::npos && dot > at)
      files.push_back(u.substr(0, at + 1) + u.substr(dot));
    for (const auto& d : unit_dirs)
      for (const auto& f : files) {
        struct stat st {};
        if (::stat((d + "/" + f).c_str(), &st) == 0) {
          *why = "unit " + d + "/" + f + " exists";
          return true;
        }
      }
  }
  *why = "no unit file for " + join(units);
  return false;
}

}  // namespace

bool ports_listening(const FloodSettings& flood, std::string* why, const std::string& proc_net) {
  std::set<FloodPort> open;
  for (auto [file, proto] : {std::pair<const char*, uint8_t>{"tcp", XDPBAN_FLOOD_TCP},
                             {"tcp6", XDPBAN_FLOOD_TCP},
                             {"udp", XDPBAN_FLOOD_UDP},
                             {"udp6", XDPBAN_FLOOD_UDP}}) {
    std::ifstream in(proc_net + "/" + file);
    std::string line;
    std::getline(in, line);  // header
    // "  0: 00000000:13C4 00000000:0000 0A ...": local address:port (hex), remote, state
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state;
      if (!(f >> slot >> local >> remote >> state)) continue;
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      unsigned port = 0;
      auto [e, ec] = std::from_chars(local.data() + colon + 1, local.data() + local.size(), port, 16);
      if (ec != std::errc() || port == 0 || port > 65535) continue;
      if (proto == XDPBAN_FLOOD_TCP && state != "0A") continue;  // TCP: listening sockets only
      open.insert(FloodPort{proto, static_cast<uint16_t>(port)});
    }
  }
  for (const auto& p : flood.ports)
    if (open.count(p)) {
      *why = "something listens on " + p.str();
      return true;
    }
  *why = "nothing listens on its ports";
  return false;
}

bool journal_present(const std::vector<std::string>& journal_dirs) {
  struct stat st {};
  for (const auto& d : journal_dirs)
    if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  return false;
}

bool logs_exist(const JailSettings& jail, const std::vector<std::string>& journalmatch, std::string* why,
                const std::vector<std::string>& unit_dirs, const std::vector<std::string>& journal_dirs) {
  if (jail.backend != JailSettings::Backend::kSystemd) {
    for (const auto& p : jail.logpath)
      if (any_regular_file(p)) {
        *why = "log " + p + " exists";
        return true;
      }
    *why = "no log file matches " + join(jail.logpath);
    // backend = auto falls back to the journal (as Daemon::follow_logs does).
    if (jail.backend == JailSettings::Backend::kFile || journalmatch.empty()) return false;
    if (!journal_present(journal_dirs)) {
      *why += " and no journal in " + join(journal_dirs);
      return false;
    }
    std::string unit_why;
    bool found = logs_exist_in_units(journalmatch, &unit_why, unit_dirs);
    *why += found ? "; the journal: " + unit_why : " and " + unit_why;
    return found;
  }
  return logs_exist_in_units(journalmatch, why, unit_dirs);
}

}  // namespace xdpban
