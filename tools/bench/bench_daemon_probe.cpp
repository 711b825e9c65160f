// bench_daemon_probe.cpp - the timing side of bench_daemon.sh: appends log
// lines the way a logger does (one write(2) per line on an O_APPEND fd) and
// polls the pinned maps read-only (Blocklist::find through the mmapped host
// table) or a daemon's log file for the result. Starts no daemon, writes no map.
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpf/blocklist.h"

namespace {

using namespace xdpban;
using Clock = std::chrono::steady_clock;

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_daemon_probe: %s\n", what.c_str());
  std::exit(1);
}

std::string syslog_now() {
  char buf[64];
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);
  return buf;
}

std::string fail_line(const std::string& ip) {
  return syslog_now() + " srv1 sshd[4242]: Failed password for root from " + ip + " port 5555 ssh2\n";
}

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die(std::string("write: ") + strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

int open_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) die(path + ": " + strerror(errno));
  return fd;
}

std::unique_ptr<Blocklist> open_maps(const std::string& pin_dir) {
  auto bl = Blocklist::open(pin_dir, Blocklist::Access::kRead);
  if (!bl) die(pin_dir + ": " + bl.error().message);
  return std::move(*bl);
}

bool banned(const Blocklist& bl, const Cidr& c) {
  auto r = bl.find(c);
  return r.ok() && r->has_value();
}

// utime+stime (+ reaped children's) of pid, in seconds.
double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream in(s.substr(rp + 2));
  std::string field;
  std::vector<std::string> v;
  while (in >> field) v.push_back(field);
  // v[0] is field 3 (state); utime..cstime are fields 14..17.
  if (v.size() < 15) return -1;
  double ticks = std::stod(v[11]) + std::stod(v[12]) + std::stod(v[13]) + std::stod(v[14]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long status_kib(int pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

// --- latency: maxretry lines per fresh address, clock before the last write ------
int latency(const std::string& pin_dir, const std::string& log, int trials, int maxretry, int net,
            double timeout_s) {
  auto bl = open_maps(pin_dir);
  int fd = open_append(log);
  std::vector<double> us;
  int missed = 0;
  for (int t = 0; t < trials; ++t) {
    std::string ip = "198.18." + std::to_string(net) + "." + std::to_string(t % 250 + 1);
    if (t >= 250) die("at most 250 trials per --net");
    Cidr c = Cidr::host(*Address::parse(ip));
    for (int i = 0; i < maxretry - 1; ++i) {
      std::string l = fail_line(ip);
      write_all(fd, l.data(), l.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::string l = fail_line(ip);
    auto t0 = Clock::now();
    write_all(fd, l.data(), l.size());
    bool seen = false;
    while (secs(Clock::now() - t0) < timeout_s) {
      if (banned(*bl, c)) {
        seen = true;
        break;
      }
      sched_yield();
    }
    double d = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (seen)
      us.push_back(d);
    else
      ++missed;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd);
  std::sort(us.begin(), us.end());
  auto q = [&](double p) {
    if (us.empty()) return -1.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(us.size() - 1) + 0.5);
    return us[std::min(i, us.size() - 1)] / 1000.0;
  };
  std::printf(
      "{\"trials\": %d, \"banned\": %zu, \"missed\": %d, \"min_ms\": %.3f, \"median_ms\": %.3f, "
      "\"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
      trials, us.size(), missed, q(0), q(0.5), q(0.9), q(0.99), us.empty() ? -1.0 : us.back() / 1000.0);
  return missed ? 1 : 0;
}

// --- ingest: append whole files as fast as possible, wait for the sentinels -------
struct Feed {
  int fd;
  std::string data;
  size_t off = 0;
};

int ingest(const std::vector<std::string>& files, const std::string& src, const std::string& dst, int pid,
           const std::string& pin_dir, const std::string& done_log, const std::vector<std::string>& sentinels,
           size_t chunk, double timeout_s) {
  std::vector<Feed> feeds;
  size_t lines = 0;
  for (const auto& f : files) {
    std::ifstream in(src + "/" + f, std::ios::binary);
    if (!in) die(src + "/" + f + ": cannot read");
    Feed fe{open_append(dst + "/" + f), std::string((std::istreambuf_iterator<char>(in)), {})};
    lines += static_cast<size_t>(std::count(fe.data.begin(), fe.data.end(), '\n'));
    feeds.push_back(std::move(fe));
  }
  std::unique_ptr<Blocklist> bl;
  std::vector<Cidr> cidrs;
  if (!pin_dir.empty()) {
    bl = open_maps(pin_dir);
    for (const auto& s : sentinels) cidrs.push_back(Cidr::host(*Address::parse(s)));
  }
  int logfd = -1;
  off_t logoff = 0;
  if (!done_log.empty()) {
    logfd = ::open(done_log.c_str(), O_RDONLY | O_CLOEXEC);
    if (logfd < 0) die(done_log + ": " + strerror(errno));
    logoff = lseek(logfd, 0, SEEK_END);
  }
  double cpu0 = cpu_seconds(pid);
  auto t0 = Clock::now();
  // Round-robin whole-line chunks over the files, like three busy loggers.
  for (bool more = true; more;) {
    more = false;
    for (auto& fe : feeds) {
      if (fe.off >= fe.data.size()) continue;
      size_t end = std::min(fe.off + chunk, fe.data.size());
      auto nl = fe.data.rfind('\n', end - 1);
      if (nl != std::string::npos && nl >= fe.off) end = nl + 1;
      write_all(fe.fd, fe.data.data() + fe.off, end - fe.off);
      fe.off = end;
      more |= fe.off < fe.data.size();
    }
  }
  double feed_s = secs(Clock::now() - t0);
  for (auto& fe : feeds) ::close(fe.fd);
  std::vector<bool> seen(sentinels.size(), false);
  std::string tail;
  size_t left = sentinels.size();
  while (left > 0 && secs(Clock::now() - t0) < timeout_s) {
    if (bl) {
      for (size_t i = 0; i < cidrs.size(); ++i)
        if (!seen[i] && banned(*bl, cidrs[i])) seen[i] = true, --left;
    } else {
      char buf[1 << 16];
      ssize_t n;
      while ((n = pread(logfd, buf, sizeof buf, logoff)) > 0) {
        tail.append(buf, static_cast<size_t>(n));
        logoff += n;
      }
      for (size_t i = 0; i < sentinels.size(); ++i)
        if (!seen[i] && tail.find("Ban " + sentinels[i]) != std::string::npos) seen[i] = true, --left;
      if (tail.size() > 4096) tail.erase(0, tail.size() - 4096);
    }
    if (left) std::this_thread::sleep_for(std::chrono::milliseconds(bl ? 1 : 20));
  }
  double wall = secs(Clock::now() - t0);
  double cpu = cpu_seconds(pid) - cpu0;
  std::printf(
      "{\"lines\": %zu, \"feed_s\": %.3f, \"wall_s\": %.3f, \"lines_per_s\": %.0f, \"cpu_s\": %.2f, "
      "\"lines_per_cpu_s\": %.0f, \"vmhwm_kib\": %ld, \"vmrss_kib\": %ld, \"sentinels_missing\": %zu}\n",
      lines, feed_s, wall, static_cast<double>(lines) / wall, cpu, static_cast<double>(lines) / cpu,
      status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"), left);
  if (logfd >= 0) ::close(logfd);
  return left ? 1 : 0;
}

// --- flood: one failure line for each of N distinct addresses ---------------------
int flood(const std::string& log, uint32_t count, uint32_t base) {
  int fd = open_append(log);
  std::string buf, ts = syslog_now();
  for (uint32_t i = 0; i < count; ++i) {
    if (i % 4096 == 0) ts = syslog_now();
    uint32_t a = base + i;
    char ip[32];
    std::snprintf(ip, sizeof ip, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    buf += ts + " srv1 sshd[4242]: Failed password for root from " + ip + " port 5555 ssh2\n";
    if (buf.size() > (1 << 20)) {
      write_all(fd, buf.data(), buf.size());
      buf.clear();
    }
  }
  write_all(fd, buf.data(), buf.size());
  ::close(fd);
  return 0;
}

// --- drops: is every listed address banned? (prints the count found) -------------
int check(const std::string& pin_dir, const std::vector<std::string>& addrs) {
  auto bl = open_maps(pin_dir);
  size_t found = 0;
  for (const auto& s : addrs) {
    auto c = Cidr::parse(s);
    if (!c) die(s + ": " + c.error().message);
    found += banned(*bl, *c);
  }
  std::printf("%zu of %zu banned\n", found, addrs.size());
  return found == addrs.size() ? 0 : 1;
}

// --- ready: poll the control socket with a ping until it answers ------------------
bool ping(const std::string& sock) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (sock.size() >= sizeof sa.sun_path) die(sock + ": path too long");
  std::memcpy(sa.sun_path, sock.c_str(), sock.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const char req[] = "{\"cmd\":\"ping\",\"v\":1}\n";
    if (::write(fd, req, sizeof req - 1) == static_cast<ssize_t>(sizeof req - 1)) {
      std::string ans;
      char buf[512];
      ssize_t n;
      while (ans.find('\n') == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0)
        ans.append(buf, static_cast<size_t>(n));
      ok = ans.find("\"ok\":true") != std::string::npos;
    }
  }
  ::close(fd);
  return ok;
}

// Prints ms from since_ns (CLOCK_REALTIME, e.g. `date +%s%N` before the exec) to the first answer.
int ready(const std::string& sock, int64_t since_ns, double timeout_s) {
  auto t0 = Clock::now();
  while (secs(Clock::now() - t0) < timeout_s) {
    if (ping(sock)) {
      timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      int64_t now = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
      std::printf("%.1f\n", static_cast<double>(now - since_ns) / 1e6);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  std::printf("timeout\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_daemon_probe - log writer and map poller for bench_daemon.sh"};
  app.require_subcommand(1);
  std::string pin_dir, log, src, dst, done_log;
  int trials = 100, maxretry = 3, net = 0, pid = 0;
  double timeout_s = 2;
  size_t chunk = 64 * 1024;
  uint32_t count = 1000000, base = 0x14000000;  // 20.0.0.0
  std::vector<std::string> files{"auth.log", "mail.log", "asterisk.log"}, sentinels, addrs;

  auto* lat =
      app.add_subcommand("latency", "median/p99 from the last failing line written to the ban in the map");
  lat->add_option("--pin-dir", pin_dir)->required();
  lat->add_option("--log", log, "sshd-format log the daemon follows")->required();
  lat->add_option("--trials", trials)->capture_default_str();
  lat->add_option("--maxretry", maxretry)->capture_default_str();
  lat->add_option("--net", net, "third octet of 198.18.N.x (fresh addresses per run)")->capture_default_str();
  lat->add_option("--timeout", timeout_s, "per trial, seconds")->capture_default_str();

  auto* ing = app.add_subcommand("ingest", "append genlog files, wait until the sentinels are banned");
  ing->add_option("--src", src, "genlog output directory")->required();
  ing->add_option("--dst", dst, "directory of the followed logs")->required();
  ing->add_option("--files", files)->delimiter(',')->capture_default_str();
  ing->add_option("--pid", pid, "daemon whose CPU time and VmHWM are read")->required();
  ing->add_option("--pin-dir", pin_dir, "poll these maps for the sentinels");
  ing->add_option("--done-log", done_log, "or: poll this log for 'Ban SENTINEL'");
  ing->add_option("--sentinels", sentinels)->delimiter(',')->required();
  ing->add_option("--chunk", chunk, "bytes per write (whole lines)")->capture_default_str();
  ing->add_option("--timeout", timeout_s)->capture_default_str();

  auto* fl = app.add_subcommand("flood", "one failure line each for N distinct IPv4 addresses");
  fl->add_option("--log", log)->required();
  fl->add_option("--count", count)->capture_default_str();
  fl->add_option("--base", base, "first address as a number")->capture_default_str();

  auto* ck = app.add_subcommand("check", "are these cidrs in the maps?");
  ck->add_option("--pin-dir", pin_dir)->required();
  ck->add_option("cidrs", addrs)->required();

  std::string sock;
  int64_t since_ns = 0;
  auto* rd = app.add_subcommand("ready", "ms from --since-ns to the first answered ping");
  rd->add_option("--socket", sock)->required();
  rd->add_option("--since-ns", since_ns, "CLOCK_REALTIME ns (date +%s%N)")->required();
  rd->add_option("--timeout", timeout_s)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (*rd) return ready(sock, since_ns, timeout_s);
  if (*lat) return latency(pin_dir, log, trials, maxretry, net, timeout_s);
  if (*ing) {
    if (pin_dir.empty() == done_log.empty()) die("ingest: exactly one of --pin-dir and --done-log");
    return ingest(files, src, dst, pid, pin_dir, done_log, sentinels, chunk, timeout_s);
  }
  if (*fl) return flood(log, count, base);
  return check(pin_dir, addrs);
}
