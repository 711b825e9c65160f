// compat_runner.cpp - replays fail2ban's annotated sample logs (tests/files/logs,
// "# failJSON:" lines) against fail2ban's own filter.d with our filter engine,
// reproducing the semantics of fail2ban's samplestestcase.py harness, and
// prints "N/TOTAL annotated lines agree" plus every disagreement with a reason.
// Exit status 1 if N is below the ratchet number recorded in the repository.
// With --real-logs DIR it instead replays real-format logs through fail2ban's
// stock filters with the daemon's semantics and compares per-host failure
// counts to DIR/expected.json (made with fail2ban 1.0.2 itself), exactly.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/filter.h"
#include "core/filter_config.h"
#include "core/ini.h"

namespace {

using nlohmann::json;
using xdpban::Failure;
using xdpban::Filter;

constexpr double kTestNow = 1124013600;  // the harness's frozen "now": 2005-08-14 12:00:00 CEST
constexpr const char* kTestTz = "CET-01CEST-02,M3.5.0,M10.5.0";

struct LineKey {
  std::string file;
  int line;
  auto operator<=>(const LineKey&) const = default;
};

struct Instance {
  std::string name;  // harness filter name (test name + options)
  std::shared_ptr<Filter> filter;
  json opts;
};

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) out.emplace_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string json_str(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The harness evaluates Python snippets; the sample logs use only these forms:
// name == 'x', opts.get('k') == 'v', opts.get('k') != 'v'.
bool eval_condition(const std::string& expr, const std::string& name, const json& opts, bool& ok) {
  ok = true;
  std::string op = expr.find("!=") != std::string::npos ? "!=" : "==";
  auto pos = expr.find(op);
  if (pos == std::string::npos) {
    ok = false;
    return false;
  }
  std::string lhs = xdpban::trim(expr.substr(0, pos)), rhs = xdpban::trim(expr.substr(pos + 2));
  if (rhs.size() < 2 || (rhs.front() != '\'' && rhs.front() != '"')) {
    ok = false;
    return false;
  }
  rhs = rhs.substr(1, rhs.size() - 2);
  std::optional<std::string> value;
  if (lhs == "name") {
    value = name;
  } else if (lhs.rfind("opts.get(", 0) == 0) {
    std::string key = lhs.substr(10, lhs.size() - 12);
    if (opts.contains(key)) value = json_str(opts[key]);
  } else {
    ok = false;
    return false;
  }
  bool eq = value && *value == rhs;
  return op == "==" ? eq : !eq;
}

double local_json_time(const std::string& t) {
  struct tm tmv {};
  double frac = 0;
  int y, mo, d, h, mi, s;
  if (sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return NAN;
  auto dot = t.find('.');
  if (dot != std::string::npos) frac = std::stod("0" + t.substr(dot));
  tmv.tm_year = y - 1900;
  tmv.tm_mon = mo - 1;
  tmv.tm_mday = d;
  tmv.tm_hour = h;
  tmv.tm_min = mi;
  tmv.tm_sec = s;
  tmv.tm_isdst = -1;
  return static_cast<double>(mktime(&tmv)) + frac;
}

// Compares one expected failJSON against what the filter found; "" if they agree.
std::string compare(const json& expected, const std::vector<Failure>& found) {
  bool want = expected.value("match", false);
  if (found.empty()) return want ? "expected a match, got none" : "";
  if (!want)
    return "matched (regex " + std::to_string(found[0].regex_index) + ", host " + found[0].host +
           ") but should not";
  if (found.size() != 1) return "multiple regexes matched";
  const Failure& f = found[0];
  for (const auto& [k, v] : expected.items()) {
    if (k == "time" || k == "match" || k == "desc" || k == "constraint") continue;
    if (k == "users") {
      std::set<std::string> want_users;
      for (const auto& u : v) want_users.insert(json_str(u));
      if (want_users != f.users) return "users differ";
      continue;
    }
    std::optional<json> got;
    if (auto it = f.fields.find(k); it != f.fields.end()) got = it->second;
    if (!got && k == "host") {
      // fail2ban compares addresses as addresses (2001:DB8::1 == 2001:db8::1), other ids as text.
      if (f.addr && v.is_string()) {
        auto want_addr = xdpban::Cidr::parse(v.get<std::string>());
        if (want_addr && *want_addr == *f.addr) continue;
      }
      got = f.host;
    }
    if (!got && v.is_null()) continue;
    if (!got && k == "attempts") got = f.attempts;
    if (!got || *got != v)
      return k + ": expected " + v.dump() + ", got " + (got ? got->dump() : std::string("nothing"));
  }
  if (expected.contains("time") && expected["time"].is_string()) {
    double want_t = local_json_time(expected["time"].get<std::string>());
    if (!f.time || std::fabs(*f.time - want_t) > 1e-6) {
      char buf[64] = "none";
      if (f.time) {
        time_t tt = static_cast<time_t>(*f.time);
        struct tm tmv;
        localtime_r(&tt, &tmv);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tmv);
      }
      return "time: expected " + expected["time"].get<std::string>() + ", got " + buf;
    }
  }
  return "";
}

struct Report {
  std::map<LineKey, std::vector<std::string>> problems;  // annotated line -> reasons (empty: agrees)
  std::set<LineKey> evaluated;
  std::map<std::string, std::vector<std::string>> per_filter;  // test name -> disagreement texts
  std::map<std::string, std::pair<int, int>> per_filter_counts;
  std::vector<std::string> unannotated;  // lines without failJSON that matched
};

// fail2ban's source tree has tests/config/filter.d/common.conf as a symlink to
// config/filter.d/common.conf; Debian's package drops it, so alias it here.
class AliasFileSource : public xdpban::FileSource {
 public:
  std::map<std::string, std::string> aliases;
  std::optional<std::string> read(const std::string& path) const override {
    if (auto r = disk_.read(path)) return r;
    for (const auto& [suffix, target] : aliases)
      if (path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
        return disk_.read(target);
    return std::nullopt;
  }

 private:
  xdpban::DiskFileSource disk_;
};

class Runner {
 public:
  Runner(std::string logs, Report& report, AliasFileSource& files)
      : logs_(std::move(logs)), report_(report), files_(files) {}

  void run_test(const std::string& name, const std::string& basedir) {
    filters_.clear();
    tests_.clear();
    have_tests_ = false;
    std::vector<std::string> files = {name};
    json common_opts = json::object();
    for (size_t i = 0; i < files.size(); ++i) {
      std::ifstream in(logs_ + "/" + files[i]);
      std::vector<std::string> lines;
      std::string l;
      while (std::getline(in, l)) lines.push_back(l);
      bool ignore_block = false;
      for (size_t n = 0; n < lines.size(); ++n) {
        std::string line = lines[n];
        json faildata = json::object();
        LineKey key{files[i], static_cast<int>(n + 1)};
        bool annotated = false;
        auto directive = parse_directive(line);
        if (directive) {
          auto [kind, payload] = *directive;
          json data;
          try {
            data = json::parse(payload);
          } catch (const std::exception& e) {
            std::cerr << files[i] << ":" << n + 1 << ": bad JSON: " << e.what() << "\n";
            continue;
          }
          if (kind == "fileOptions") {
            common_opts = data;
            continue;
          }
          if (kind == "filterOptions") {
            tests_.clear();
            have_tests_ = true;
            ignore_block = false;
            for (const auto& one : data.is_array() ? data : json::array({data})) {
              json opts = common_opts;
              for (const auto& [k, v] : one.items()) opts[k] = v;
              if (opts.contains("test.condition")) {
                bool ok;
                ignore_block = !eval_condition(opts["test.condition"].get<std::string>(), name, opts, ok);
              }
              if (ignore_block) continue;
              json flt_opts = json::object();
              for (const auto& [k, v] : opts.items())
                if (k.rfind("test.", 0) != 0) flt_opts[k] = v;
              std::string flt_name = opts.value("test.filter-name", flt_opts.empty() ? "" : flt_opts.dump());
              add_instance(name + flt_name, name, basedir, flt_opts, opts);
            }
            continue;
          }
          if (kind == "addFILE") {
            files.push_back(data.get<std::string>());
            continue;
          }
          faildata = data;
          annotated = true;
          if (++n >= lines.size()) break;
          line = lines[n];
        } else if (ignore_block || (!line.empty() && line[0] == '#') || xdpban::trim(line).empty()) {
          continue;
        }
        if (ignore_block) continue;
        if (!have_tests_) {
          add_instance(name, name, basedir, json::object(), json::object());
          have_tests_ = true;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        for (auto& inst : tests_) evaluate(name, inst, key, annotated, faildata, line, files[i], n + 1);
      }
    }
  }

 private:
  static std::optional<std::pair<std::string, std::string>> parse_directive(const std::string& line) {
    size_t p = 0;
    while (p < line.size() && line[p] == '#') ++p;
    if (p == 0) return std::nullopt;
    if (p < line.size() && line[p] == ' ') ++p;
    for (const char* kind : {"failJSON", "fileOptions", "filterOptions", "addFILE"}) {
      std::string k = std::string(kind) + ":";
      if (line.compare(p, k.size(), k) == 0) {
        std::string rest = line.substr(p + k.size());
        if (rest.empty()) return std::nullopt;
        return std::make_pair(std::string(kind), rest);
      }
    }
    return std::nullopt;
  }

  void add_instance(const std::string& flt_name, const std::string& name, const std::string& basedir,
                    const json& flt_opts, const json& opts) {
    auto it = filters_.find(flt_name);
    if (it == filters_.end()) {
      std::map<std::string, std::string> args;
      for (const auto& [k, v] : flt_opts.items()) args[k] = json_str(v);
      std::shared_ptr<Filter> filter;
      std::string error;
      auto def = xdpban::load_filter_definition(basedir + "/" + name + ".conf", args, files_);
      if (!def) {
        error = def.error().message;
      } else {
        xdpban::FilterOptions fo;
        fo.check_all_regex = true;
        fo.return_raw_host = true;
        auto f = Filter::create(*def, fo);
        if (f)
          filter = std::make_shared<Filter>(std::move(*f));
        else
          error = f.error().message;
      }
      if (!filter) load_errors_[flt_name] = error;
      it = filters_.emplace(flt_name, filter).first;
    }
    tests_.push_back(Instance{flt_name, it->second, opts});
  }

  void evaluate(const std::string& name, Instance& inst, const LineKey& key, bool annotated,
                const json& faildata, std::string line, const std::string& file, size_t lineno) {
    if (faildata.contains("constraint")) {
      bool ok;
      bool pass = eval_condition(faildata["constraint"].get<std::string>(), name, inst.opts, ok);
      if (!pass) return;
    }
    std::string reason;
    if (!inst.filter) {
      reason = "filter does not load: " + load_errors_[inst.name];
    } else {
      xdpban::LineResult r;
      if (inst.opts.value("logtype", "") != "journal") {
        r = inst.filter->process_line(line, kTestNow);
      } else {
        if (inst.opts.contains("test.prefix-line"))
          line = inst.opts["test.prefix-line"].get<std::string>() + line;
        r = inst.filter->process_line(line, kTestNow, kTestNow);
      }
      std::vector<Failure> found;
      for (auto& f : r.failures)
        if (f.has_id && !f.nofail) found.push_back(std::move(f));
      reason = compare(faildata, found);
    }
    auto& counts = report_.per_filter_counts[name];
    if (annotated) {
      report_.evaluated.insert(key);
      auto& probs = report_.problems[key];
      if (!reason.empty()) probs.push_back(inst.name + ": " + reason);
    }
    if (!reason.empty()) {
      std::string where = file + ":" + std::to_string(lineno);
      report_.per_filter[name].push_back(where + " [" + inst.name + "] " + reason + "\n      " +
                                         line.substr(0, 160));
      if (!annotated) report_.unannotated.push_back(where);
    } else if (annotated) {
      counts.first++;
    }
    if (annotated) counts.second++;
  }

  std::string logs_;
  Report& report_;
  AliasFileSource& files_;
  std::map<std::string, std::shared_ptr<Filter>> filters_;
  std::map<std::string, std::string> load_errors_;
  std::vector<Instance> tests_;
  bool have_tests_ = false;
};

// Prints the per-filter report; returns the number of annotated lines that agree.
int print_report(Report& report, const std::set<LineKey>& annotated, bool verbose) {
  int agree = 0, never = 0;
  for (const auto& k : annotated) {
    if (!report.evaluated.count(k)) {
      ++never;
      continue;
    }
    if (report.problems[k].empty()) ++agree;
  }
  for (const auto& [name, lines] : report.per_filter) {
    auto c = report.per_filter_counts[name];
    std::cout << name << ": " << c.first << "/" << c.second << " annotated evaluations agree, "
              << lines.size() << " disagreement(s)\n";
    size_t shown = 0;
    for (const auto& l : lines) {
      if (!verbose && ++shown > 5) {
        std::cout << "    ... (" << lines.size() - 5 << " more, -v shows all)\n";
        break;
      }
      std::cout << "    " << l << "\n";
    }
  }
  if (never) std::cout << never << " annotated line(s) never evaluated (no filter applies)\n";
  if (!report.unannotated.empty())
    std::cout << report.unannotated.size() << " unannotated line(s) matched although they must not\n";
  std::cout << agree << "/" << annotated.size() << " annotated lines agree\n";
  return agree;
}

std::set<LineKey> annotated_lines(const std::string& logs) {
  std::set<LineKey> annotated;
  for (const auto& f : list_dir(logs)) {
    std::ifstream in(logs + "/" + f);
    std::string l;
    int n = 0;
    while (std::getline(in, l)) {
      ++n;
      size_t p = 0;
      while (p < l.size() && l[p] == '#') ++p;
      if (p && p < l.size() && l[p] == ' ') ++p;
      if (p && l.compare(p, 9, "failJSON:") == 0) annotated.insert({f, n});
    }
  }
  return annotated;
}

// Our own corpus: every log NAME in log_dir against filter_dir/NAME.conf.
int run_corpus(const std::string& filter_dir, const std::string& log_dir, bool verbose) {
  if (filter_dir.empty() || log_dir.empty()) {
    std::cerr << "compat_runner: --filter-dir and --log-dir go together\n";
    return 2;
  }
  setenv("TZ", kTestTz, 1);
  tzset();
  Report report;
  AliasFileSource files;
  Runner runner(log_dir, report, files);
  auto annotated = annotated_lines(log_dir);
  for (const auto& f : list_dir(log_dir)) {
    if (f[0] == '.') continue;
    if (!exists(filter_dir + "/" + f + ".conf")) {
      std::cout << f << ": no filter " << filter_dir << "/" << f << ".conf\n";
      return 1;
    }
    runner.run_test(f, filter_dir);
  }
  int agree = print_report(report, annotated, verbose);
  return agree == static_cast<int>(annotated.size()) && report.unannotated.empty() ? 0 : 1;
}

// Calls `fn` for each complete line of `path` (without "\n" or a trailing "\r");
// an unterminated last line is not a line yet, as for fail2ban's file reader.
template <typename Fn>
bool for_each_complete_line(const std::string& path, Fn&& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(text.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(line);
  }
  return true;
}

// Per-host failure counts of one filter over one log, with the daemon's
// semantics: the first matching failregex wins, pending multi-line entries and
// F-NOFAIL hits are not failures, hosts are kept as written (no DNS).
xdpban::Result<std::map<std::string, int>> count_failures(const std::string& log,
                                                          const std::string& filter_dir,
                                                          const std::string& filter_spec) {
  auto spec = xdpban::FilterSpec::parse(filter_spec);
  if (!spec) return spec.error();
  xdpban::DiskFileSource files;
  auto def = xdpban::load_filter_definition(filter_dir + "/" + spec->name + ".conf", spec->args, files);
  if (!def) return def.error();
  xdpban::FilterOptions fo;
  fo.return_raw_host = true;
  auto filter = Filter::create(*def, fo);
  if (!filter) return filter.error();
  std::map<std::string, int> counts;
  const double now = static_cast<double>(time(nullptr));
  bool ok = for_each_complete_line(log, [&](std::string_view line) {
    for (const auto& f : filter->process_line(line, now).failures)
      if (f.has_id && !f.nofail) ++counts[f.host];
  });
  if (!ok) return xdpban::make_error(ENOENT, log + ": cannot read");
  return counts;
}

std::string counts_text(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [host, n] : counts) out += (out.empty() ? "" : " ") + host + "=" + std::to_string(n);
  return out.empty() ? "(none)" : out;
}

// Prints agree/disagree for one count against fail2ban's, with the differing hosts.
bool report_pair(const std::string& label, const xdpban::Result<std::map<std::string, int>>& got,
                 const std::map<std::string, int>& want, bool verbose) {
  if (!got) {
    std::cout << "disagree " << label << ": " << got.error().message << "\n";
    return false;
  }
  if (*got == want) {
    std::cout << "agree    " << label << "\n";
    if (verbose) std::cout << "    " << counts_text(want) << "\n";
    return true;
  }
  std::cout << "disagree " << label << "\n";
  std::set<std::string> hosts;
  for (const auto& [h, n] : want) hosts.insert(h);
  for (const auto& [h, n] : *got) hosts.insert(h);
  for (const auto& h : hosts) {
    int w = want.count(h) ? want.at(h) : 0, g = got->count(h) ? got->at(h) : 0;
    if (w != g) std::cout << "    " << h << ": fail2ban " << w << ", ours " << g << "\n";
  }
  return false;
}

// Every "LOG|FILTER" pair of DIR/expected.json: our engine with fail2ban's
// filter against fail2ban's counts. `ours_dir` (optional) holds our own
// filters: each line "LOG|OURS STOCK" of `ours_pairs` (optional) says that
// ours_dir/OURS.conf over LOG must count what fail2ban's STOCK filter does
// (expected.json's "LOG|STOCK"); other same-named filters of ours_dir are
// reported beside, for information only.
int run_real_logs(const std::string& dir, const std::string& filter_dir, const std::string& ours_dir,
                  const std::string& ours_pairs, bool verbose) {
  std::ifstream in(dir + "/expected.json");
  json expected;
  try {
    expected = json::parse(in);
  } catch (const std::exception& e) {
    std::cerr << "compat_runner: " << dir << "/expected.json: " << e.what() << "\n";
    return 2;
  }
  std::map<std::string, std::map<std::string, int>> wants;
  for (const auto& [pair, want_json] : expected.items()) {
    auto& want = wants[pair];  // also the pairs without failures
    for (const auto& [host, n] : want_json.items()) want[host] = n.get<int>();
  }
  int agree = 0, total = 0;
  for (const auto& [pair, want] : wants) {
    auto bar = pair.find('|');
    if (bar == std::string::npos) {
      std::cerr << "compat_runner: expected.json: key '" << pair << "' is not LOG|FILTER\n";
      return 2;
    }
    std::string log = pair.substr(0, bar), filter = pair.substr(bar + 1);
    ++total;
    agree += report_pair(pair, count_failures(dir + "/" + log, filter_dir, filter), want, verbose);
    auto spec = xdpban::FilterSpec::parse(filter);
    if (!ours_dir.empty() && spec && exists(ours_dir + "/" + spec->name + ".conf")) {
      auto ours = count_failures(dir + "/" + log, ours_dir, filter);
      std::cout << "    (info) " << ours_dir << "/" << spec->name << ".conf: "
                << (ours ? (*ours == want ? "same counts" : counts_text(*ours)) : ours.error().message)
                << "\n";
    }
  }
  if (!ours_pairs.empty()) {
    std::ifstream pairs(ours_pairs);
    if (!pairs) {
      std::cerr << "compat_runner: cannot read " << ours_pairs << "\n";
      return 2;
    }
    std::string line;
    while (std::getline(pairs, line)) {
      line = xdpban::trim(line);
      if (line.empty() || line[0] == '#') continue;
      std::istringstream words(line);
      std::string log_ours, stock;
      words >> log_ours >> stock;
      auto bar = log_ours.find('|');
      std::string key = bar == std::string::npos ? "" : log_ours.substr(0, bar) + "|" + stock;
      if (stock.empty() || !wants.count(key)) {
        std::cerr << "compat_runner: " << ours_pairs << ": '" << line
                  << "' is not 'LOG|OURS STOCK' with LOG|STOCK in expected.json\n";
        return 2;
      }
      ++total;
      agree +=
          report_pair(ours_dir + ": " + log_ours + " (as fail2ban's " + stock + ")",
                      count_failures(dir + "/" + log_ours.substr(0, bar), ours_dir, log_ours.substr(bar + 1)),
                      wants[key], verbose);
    }
  }
  std::cout << agree << "/" << total << " log|filter pairs agree\n";
  return agree == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root, ratchet_file, filter_dir, log_dir, real_logs, ours_dir, ours_pairs;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--root" && i + 1 < argc)
      root = argv[++i];
    else if (a == "--ratchet" && i + 1 < argc)
      ratchet_file = argv[++i];
    else if (a == "--filter-dir" && i + 1 < argc)
      filter_dir = argv[++i];
    else if (a == "--log-dir" && i + 1 < argc)
      log_dir = argv[++i];
    else if (a == "--real-logs" && i + 1 < argc)
      real_logs = argv[++i];
    else if (a == "--ours" && i + 1 < argc)
      ours_dir = argv[++i];
    else if (a == "--ours-pairs" && i + 1 < argc)
      ours_pairs = argv[++i];
    else if (a == "-v")
      verbose = true;
    else {
      std::cerr
          << "usage: compat_runner --root EXTRACTED_FAIL2BAN_DEB [--ratchet FILE] [-v]\n"
             "       compat_runner --filter-dir DIR --log-dir DIR [-v]   (every log NAME vs DIR/NAME.conf;\n"
             "                                                          fails on any disagreement)\n"
             "       compat_runner --root EXTRACTED_FAIL2BAN_DEB --real-logs DIR [--compare-filter-dir DIR] "
             "[-v]\n"
             "                     (per-host counts vs DIR/expected.json; fails on any disagreement)\n";
      return 2;
    }
  }
  if (!filter_dir.empty() || !log_dir.empty()) return run_corpus(filter_dir, log_dir, verbose);
  if (root.empty()) {
    std::cerr << "compat_runner: --root is required\n";
    return 2;
  }
  if (!real_logs.empty())
    return run_real_logs(real_logs, root + "/etc/fail2ban/filter.d", ours_dir, ours_pairs, verbose);
  setenv("TZ", kTestTz, 1);
  tzset();
  const std::string pkg = root + "/usr/lib/python3/dist-packages/fail2ban";
  const std::string logs = pkg + "/tests/files/logs";
  const std::string config = root + "/etc/fail2ban";
  const std::string test_config = pkg + "/tests/config";
  if (!exists(logs) || !exists(config + "/filter.d")) {
    std::cerr << "compat_runner: no fail2ban sample logs/filters under " << root << "\n";
    return 2;
  }
  // Every annotated line in the sample logs, the denominator.
  std::set<LineKey> annotated = annotated_lines(logs);
  Report report;
  AliasFileSource files;
  files.aliases["/config/filter.d/common.conf"] = config + "/filter.d/common.conf";
  Runner runner(logs, report, files);
  std::vector<std::pair<std::string, std::string>> tests;
  for (const auto& f : list_dir(config + "/filter.d")) {
    if (f.size() > 5 && f.compare(f.size() - 5, 5, ".conf") == 0 &&
        f.find("common.conf") == std::string::npos && f[0] != '.')
      tests.emplace_back(f.substr(0, f.size() - 5), config + "/filter.d");
  }
  for (const auto& f : list_dir(test_config + "/filter.d"))
    if (f.rfind("zzz-", 0) == 0 && f.size() > 5 && f.compare(f.size() - 5, 5, ".conf") == 0)
      tests.emplace_back(f.substr(0, f.size() - 5), test_config + "/filter.d");
  for (const auto& [name, basedir] : tests) {
    if (!exists(logs + "/" + name)) continue;
    runner.run_test(name, basedir);
  }
  int agree = print_report(report, annotated, verbose);
  if (!ratchet_file.empty()) {
    std::ifstream in(ratchet_file);
    int ratchet = 0;
    if (!(in >> ratchet)) {
      std::cerr << "compat_runner: cannot read ratchet number from " << ratchet_file << "\n";
      return 2;
    }
    if (agree < ratchet) {
      std::cout << "FAIL: " << agree << " is below the recorded ratchet " << ratchet << " (" << ratchet_file
                << ")\n";
      return 1;
    }
    if (agree > ratchet)
      std::cout << "note: " << agree << " exceeds the ratchet " << ratchet << "; raise it in " << ratchet_file
                << "\n";
  }
  return 0;
}
