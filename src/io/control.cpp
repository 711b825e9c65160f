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
    clients_[fd] = Client{Fd(fd), RequestReader()};
    out.push_back(fd);
  }
  return out;
}

bool RequestReader::append(std::string_view bytes) {
  // Drop answered lines once they are most of the buffer (not per line: a
  // burst of small requests would move the rest once each).
  if (start_ > 0 && start_ >= in_.size() / 2) {
    in_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }
  in_.append(bytes);
  return in_.size() - start_ <= max_;
}

std::optional<std::string> RequestReader::next() {
  // Scan only what arrived since the last look: a large request comes in many reads.
  size_t nl = in_.find('\n', scanned_);
  if (nl == std::string::npos) {
    scanned_ = in_.size();
    return std::nullopt;
  }
  std::string line = in_.substr(start_, nl - start_);
  start_ = scanned_ = nl + 1;
  if (start_ == in_.size()) {
    in_.clear();
    start_ = scanned_ = 0;
  }
  return line;
}

namespace {

// The protocol's numbers are whole numbers. A float read as an integer
// ({"duration": 1e100} through get<int64_t>) is undefined behaviour inside
// nlohmann::json, so such a request is refused before a handler sees it.
std::optional<std::string> float_field(const nlohmann::json& req) {
  for (const auto& [key, value] : req.items()) {
    bool bad = value.is_number_float();
    if (value.is_array())
      for (const auto& e : value) bad = bad || e.is_number_float();
    if (bad) return "field '" + key.substr(0, 40) + "': numbers in a request are whole numbers";
  }
  return std::nullopt;
}

}  // namespace

std::string answer_request(std::string_view line, const ControlHandler& handler) {
  nlohmann::json reply;
  auto req = nlohmann::json::parse(line, nullptr, false);
  std::optional<std::string> bad_number;
  if (req.is_discarded() || !req.is_object()) {
    reply = {{"ok", false}, {"error", "request is not a JSON object"}};
  } else if (auto v = req.find("v"); v == req.end() || !v->is_number_integer() || *v != kControlProtocol) {
    std::string got = v == req.end() ? "(none)" : v->dump().substr(0, 40);
    reply = {{"ok", false},
             {"error", "protocol version " + got + " not supported (daemon speaks " +
                           std::to_string(kControlProtocol) + ")"}};
  } else if ((bad_number = float_field(req))) {
    reply = {{"ok", false}, {"error", "bad request: " + *bad_number}};
  } else {
    try {
      reply = handler(req);
    } catch (const std::exception& e) {  // a malformed field: answer, never crash the daemon
      reply = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
    }
  }
  // Messages may quote input cut at a byte count: never let dump() throw on broken UTF-8.
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
      if (!c.reader.append(std::string_view(buf, static_cast<size_t>(n)))) return gone();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return gone();
    c.eof = true;  // the peer is done sending; it may still read its answers
  }
  // One answer in flight at a time: a client that does not read its answers
  // stops being served and holds one answer's memory, never the loop.
  while (c.out.empty()) {
    auto line = c.reader.next();
    if (!line) break;
    c.out = answer_request(*line, handler_);
    c.progress = now;
    if (!flush(c, now)) return gone();
  }
  if (c.eof && c.out.empty()) return gone();
  return true;
}

std::vector<int> ControlServer::stalled(std::chrono::milliseconds limit) const {
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
