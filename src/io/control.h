// control.h - the daemon's control socket: a Unix stream socket (mode 0600,
// peer credentials checked: root or the daemon's own user) carrying one JSON
// object per line each way, {"v":1,"cmd":...} -> {"ok":true,...} or
// {"ok":false,"error":"..."}. Owns framing and access control; the daemon owns
// what commands mean.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "io/fd.h"

namespace xdpban {

constexpr int kControlProtocol = 1;

// Never waits on a client: sockets are non-blocking, an answer the client
// does not read yet stays queued (one per client; its further requests wait),
// and the daemon drops clients stalled() for too long.
class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  using Clock = std::chrono::steady_clock;
  static Result<std::unique_ptr<ControlServer>> listen(const std::string& path, Handler handler);
  ~ControlServer();

  int listen_fd() const { return listen_.get(); }
  // Accepts pending clients; returns their fds (to add to epoll, edge-triggered
  // for both reading and writing: serve() reads and writes until EAGAIN).
  std::vector<int> accept_all();
  // Sends queued answers, reads, answers complete requests; false when the
  // client is gone (closed by the peer, an error, or dropped).
  bool serve(int fd);
  // Clients whose queued answer has not moved for `limit` (to drop).
  std::vector<int> stalled(std::chrono::milliseconds limit);
  void drop(int fd) { clients_.erase(fd); }
  size_t clients() const { return clients_.size(); }

 private:
  ControlServer() = default;
  struct Client {
    Fd fd;
    std::string in;
    size_t scanned = 0;  // bytes of `in` known to hold no newline
    std::string out;     // the answer being sent
    size_t sent = 0;     // bytes of `out` sent
    Clock::time_point progress{};
    bool eof = false;  // the peer shut down its side
  };
  nlohmann::json answer(const std::string& line);
  bool flush(Client& c, Clock::time_point now);

  std::string path_;
  Fd listen_;
  Handler handler_;
  std::map<int, Client> clients_;
};

// One request, one answer. ENOENT/ECONNREFUSED: no daemon listening.
Result<nlohmann::json> control_call(const std::string& path, const nlohmann::json& request,
                                    int timeout_ms = 30000);

}  // namespace xdpban
