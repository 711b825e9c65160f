#include "io/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xdpban {

namespace {

// A request is one line; `xdpban import` sends a whole blocklist in one (1M
// IPv6 networks are about 40 MiB).
constexpr size_t kMaxRequest = size_t{256} << 20;

Result<sockaddr_un> address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return invalid("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      continue;
    }
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const std::string& path, Handler handler) {
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->path_ = path;
  s->handler_ = std::move(handler);
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return make_error(errno, "cannot create " + dir + ": " + std::strerror(errno));
  }
  auto addr = address(path);
  if (!addr) return addr.error();
  // A socket file left by a crashed daemon is replaced; a live daemon is not.
  if (auto probe = control_call(path, {{"v", kControlProtocol}, {"cmd", "ping"}}, 1000); probe.ok())
    return make_error(EADDRINUSE, "another xdpband is running (it answers on " + path + ")");
  ::unlink(path.c_str());
  s->listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s->listen_.valid()) return make_error(errno, std::string("socket: ") + std::strerror(errno));
  mode_t old = ::umask(0177);
  int rc = ::bind(s->listen_.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr));
  ::umask(old);
  if (rc != 0) return make_error(errno, "cannot bind " + path + ": " + std::strerror(errno));
  ::chmod(path.c_str(), 0600);
  if (::listen(s->listen_.get(), 64) != 0)
    return make_error(errno, std::string("listen: ") + std::strerror(errno));
  return s;
}

ControlServer::~ControlServer() {
  if (listen_.valid()) ::unlink(path_.c_str());
}

std::vector<int> ControlServer::accept_all() {
  std::vector<int> out;
  for (;;) {
    int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != 0 && cred.uid != ::getuid())) {
      // One attempt, never a wait: the short answer fits in an empty socket buffer.
      static const std::string kDenied =
          nlohmann::json{{"ok", false}, {"error", "permission denied: only root may control xdpband"}}
              .dump() +
          "\n";
      (void)!::send(fd, kDenied.data(), kDenied.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    clients_[fd] = Client{Fd(fd), {}};
    out.push_back(fd);
  }
  return out;
}

nlohmann::json ControlServer::answer(const std::string& line) {
  auto req = nlohmann::json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object())
    return {{"ok", false}, {"error", "request is not a JSON object"}};
  auto v = req.find("v");
  if (v == req.end() || !v->is_number_integer() || v->get<int64_t>() != kControlProtocol)
    return {
        {"ok", false},
        {"error", "protocol version " + (v == req.end() ? std::string("missing") : v->dump().substr(0, 32)) +
                      " not supported (daemon speaks " + std::to_string(kControlProtocol) + ")"}};
  try {
    return handler_(req);
  } catch (const std::exception& e) {  // a handler's bug: answer, never crash the daemon
    return {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  }
}

// Sends what is queued for c without waiting; false when the peer is gone.
bool ControlServer::flush(Client& c, Clock::time_point now) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    c.sent += static_cast<size_t>(n);
    c.progress = now;
  }
  c.out.clear();
  c.sent = 0;
  return true;
}

bool ControlServer::serve(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return false;
  Client& c = it->second;
  const auto now = Clock::now();
  auto gone = [&] {
    clients_.erase(it);
    return false;
  };
  if (!flush(c, now)) return gone();
  char buf[65536];
  while (!c.eof) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (c.in.size() > kMaxRequest) return gone();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return gone();
    c.eof = true;  // the peer is done sending; it may still read its answers
  }
  // One answer in flight at a time: a client that does not read its answers
  // stops being served, and holds one answer's memory, never the loop.
  size_t nl;
  while (c.out.empty() && (nl = c.in.find('\n', c.scanned)) != std::string::npos) {
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    c.scanned = 0;
    c.out = answer(line).dump() + "\n";
    c.progress = now;
    if (!flush(c, now)) return gone();
  }
  // Scan only what arrived since the last look: a large request comes in many reads.
  if (c.out.empty()) c.scanned = c.in.size();
  if (c.eof && c.out.empty()) return gone();
  return true;
}

std::vector<int> ControlServer::stalled(std::chrono::milliseconds limit) {
  std::vector<int> out;
  const auto now = Clock::now();
  for (const auto& [fd, c] : clients_)
    if (!c.out.empty() && now - c.progress >= limit) out.push_back(fd);
  return out;
}

Result<nlohmann::json> control_call(const std::string& path, const nlohmann::json& request, int timeout_ms) {
  auto addr = address(path);
  if (!addr) return addr.error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_error(errno, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return make_error(errno, "cannot reach xdpband at " + path + ": " + std::strerror(errno));
  nlohmann::json req = request;
  if (!req.contains("v")) req["v"] = kControlProtocol;
  if (!write_all(fd.get(), req.dump() + "\n")) return make_error(EIO, "cannot send to xdpband");
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    pollfd p{fd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r == 0)
      return make_error(ETIMEDOUT, "xdpband did not answer within " + std::to_string(timeout_ms) + " ms");
    if (r < 0 && errno == EINTR) continue;
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) return make_error(EIO, "xdpband closed the connection");
    in.append(buf, static_cast<size_t>(n));
  }
  auto reply = nlohmann::json::parse(in.substr(0, in.find('\n')), nullptr, false);
  if (reply.is_discarded()) return make_error(EPROTO, "xdpband sent an unreadable answer");
  return reply;
}

}  // namespace xdpban
