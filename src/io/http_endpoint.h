// http_endpoint.h - a small local HTTP server (libmicrohttpd) that answers
// GET /metrics with what a callback renders, inside the daemon's one event
// loop: MHD's own epoll fd is watched, MHD_run runs when it is readable, and
// a timerfd honours MHD_get_timeout. No threads. Does not know what metrics
// are (daemon/metrics.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/cidr.h"
#include "core/result.h"
#include "io/command_runner.h"  // LoopHooks
#include "io/fd.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace xdpban {

// "127.0.0.1:9468", "[::1]:9468", "0.0.0.0:9468" (port 1-65535).
struct ListenAddress {
  Address addr;
  uint16_t port = 0;
  static Result<ListenAddress> parse(const std::string& text);
  std::string str() const;
};

class HttpEndpoint {
 public:
  using Render = std::function<std::string()>;  // the body of GET /metrics
  static Result<std::unique_ptr<HttpEndpoint>> start(const ListenAddress& where, Render render,
                                                     LoopHooks loop);
  ~HttpEndpoint();
  const ListenAddress& address() const { return where_; }
  uint64_t requests() const { return requests_; }

 private:
  HttpEndpoint() = default;
  friend struct HttpEndpointAccess;  // the MHD callbacks in http_endpoint.cpp
  void run();                        // MHD_run, then re-arm the timer from MHD_get_timeout

  ListenAddress where_;
  Render render_;
  LoopHooks loop_;
  MHD_Daemon* mhd_ = nullptr;
  int epoll_fd_ = -1;  // MHD's, owned by MHD
  Fd timer_;
  uint64_t requests_ = 0;
};

}  // namespace xdpban
