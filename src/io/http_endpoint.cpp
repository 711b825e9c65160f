#include "io/http_endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/timerfd.h>

#include <charconv>
#include <cstdarg>
#include <cstring>

#include "core/prometheus.h"

namespace xdpban {

Result<ListenAddress> ListenAddress::parse(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) return invalid("'" + text + "' is not [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      return invalid("'" + text + "' is not ADDRESS:PORT (IPv6: [::1]:9468)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto a = Address::parse(host);
  if (!a) return invalid("'" + text + "': '" + host + "' is not an IP address (names are not resolved)");
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
    return invalid("'" + text + "': '" + port + "' is not a port (1-65535)");
  ListenAddress l;
  l.addr = *a;
  l.port = static_cast<uint16_t>(p);
  return l;
}

std::string ListenAddress::str() const {
  return (addr.family == Family::V6 ? "[" + addr.str() + "]" : addr.str()) + ":" + std::to_string(port);
}

struct HttpEndpointAccess {
  static thread_local std::string last_error;

  static void log(void*, const char* fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    last_error = buf;
    while (!last_error.empty() && (last_error.back() == '\n' || last_error.back() == ' '))
      last_error.pop_back();
  }

  // (For HEAD, MHD sends the headers only, with the body's Content-Length.)
  static MHD_Result reply(MHD_Connection* c, unsigned code, const std::string& body, const char* type) {
    MHD_Response* r =
        MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
  }

  static MHD_Result answer(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                           const char*, size_t* upload_size, void** state) {
    auto* self = static_cast<HttpEndpoint*>(cls);
    // MHD calls once when the headers are in, then again with any body: answer
    // on the second call, and ignore a body (nothing here takes one).
    static int headers_seen;
    if (*state == nullptr) {
      *state = &headers_seen;
      return MHD_YES;
    }
    if (*upload_size) {
      *upload_size = 0;
      return MHD_YES;
    }
    bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && std::strcmp(method, MHD_HTTP_METHOD_GET) != 0)
      return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "text/plain");
    ++self->requests_;
    if (std::strcmp(url, "/metrics") == 0) return reply(c, MHD_HTTP_OK, self->render_(), kPromContentType);
    if (std::strcmp(url, "/") == 0)
      return reply(c, MHD_HTTP_OK, "xdpband: Prometheus metrics are at /metrics\n", "text/plain");
    return reply(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", "text/plain");
  }
};
thread_local std::string HttpEndpointAccess::last_error;

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const ListenAddress& where, Render render,
                                                          LoopHooks loop) {
  std::unique_ptr<HttpEndpoint> e(new HttpEndpoint());
  e->where_ = where;
  e->render_ = std::move(render);
  e->loop_ = std::move(loop);
  sockaddr_storage ss{};
  if (where.addr.family == Family::V4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(where.port);
    std::memcpy(&sin->sin_addr, where.addr.bytes.data(), 4);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(where.port);
    std::memcpy(&sin6->sin6_addr, where.addr.bytes.data(), 16);
  }
  // External epoll mode: MHD starts no thread; we drive it with MHD_run.
  unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (where.addr.family == Family::V6) flags |= MHD_USE_IPv6;
  HttpEndpointAccess::last_error.clear();
  e->mhd_ = MHD_start_daemon(
      flags, where.port, nullptr, nullptr, &HttpEndpointAccess::answer, e.get(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&ss), MHD_OPTION_EXTERNAL_LOGGER, &HttpEndpointAccess::log, nullptr,
      // A scraper needs one connection; these bound what a local client can hold.
      MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 8u, MHD_OPTION_CONNECTION_TIMEOUT,
      10u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
  if (!e->mhd_)
    return make_error(
        EADDRNOTAVAIL,
        "metrics: cannot listen on " + where.str() +
            (HttpEndpointAccess::last_error.empty() ? std::string() : ": " + HttpEndpointAccess::last_error));
  const MHD_DaemonInfo* info = MHD_get_daemon_info(e->mhd_, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info || info->epoll_fd < 0) return make_error(EINVAL, "metrics: libmicrohttpd has no epoll fd");
  e->epoll_fd_ = info->epoll_fd;
  e->timer_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!e->timer_.valid()) return make_error(errno, std::string("timerfd_create: ") + std::strerror(errno));
  HttpEndpoint* self = e.get();
  if (auto st = e->loop_.watch(e->epoll_fd_, [self] { self->run(); }); !st) return st.error();
  if (auto st = e->loop_.watch(e->timer_.get(), [self] { self->run(); }); !st) {
    e->loop_.unwatch(e->epoll_fd_);
    e->epoll_fd_ = -1;
    return st.error();
  }
  e->run();
  return e;
}

HttpEndpoint::~HttpEndpoint() {
  if (epoll_fd_ >= 0) loop_.unwatch(epoll_fd_);
  if (timer_.valid() && epoll_fd_ >= 0) loop_.unwatch(timer_.get());
  if (mhd_) MHD_stop_daemon(mhd_);
}

void HttpEndpoint::run() {
  uint64_t expirations;
  (void)!::read(timer_.get(), &expirations, sizeof expirations);
  MHD_run(mhd_);
  // MHD may hold work that no fd will announce (a timed-out connection, data
  // already read): it says when to call again.
  MHD_UNSIGNED_LONG_LONG ms = 0;
  itimerspec t{};
  if (MHD_get_timeout(mhd_, &ms) == MHD_YES) {
    if (ms == 0) {
      t.it_value.tv_nsec = 1;  // at once (zero would disarm)
    } else {
      t.it_value.tv_sec = static_cast<time_t>(ms / 1000);
      t.it_value.tv_nsec = static_cast<long>(ms % 1000) * 1000000;
    }
  }
  timerfd_settime(timer_.get(), 0, &t, nullptr);
}

}  // namespace xdpban
