// control.h - the daemon's control socket: a Unix stream socket (mode 0600,
// peer credentials checked: root or the daemon's own user) carrying one JSON
// object per line each way, {"v":1,"cmd":...} -> {"ok":true,...} or
// {"ok":false,"error":"..."}. Owns framing and access control; the daemon owns
// what commands mean.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"
#include "io/fd.h"

namespace xdpban {

constexpr int kControlProtocol = 1;

class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  static Result<std::unique_ptr<ControlServer>> listen(const std::string& path, Handler handler);
  ~ControlServer();

  int listen_fd() const { return listen_.get(); }
  // Accepts pending clients; returns their fds (to add to epoll).
  std::vector<int> accept_all();
  // Reads from a client, answers complete requests; false when it is gone.
  bool serve(int fd);
  void drop(int fd) { clients_.erase(fd); }

 private:
  ControlServer() = default;
  struct Client {
    Fd fd;
    std::string in;
    size_t scanned = 0;  // bytes of `in` known to hold no newline
  };
  std::string path_;
  Fd listen_;
  Handler handler_;
  std::map<int, Client> clients_;
};

// One request, one answer. ENOENT/ECONNREFUSED: no daemon listening.
Result<nlohmann::json> control_call(const std::string& path, const nlohmann::json& request,
                                    int timeout_ms = 30000);

}  // namespace xdpban
