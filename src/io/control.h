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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "io/fd.h"

namespace xdpban {

constexpr int kControlProtocol = 1;
// A request is one line; `xdpban import` sends a whole blocklist in one (1M
// IPv6 networks are about 40 MiB).
constexpr size_t kMaxControlRequest = size_t{256} << 20;

// One client's byte stream cut into request lines (the framing, without a
// socket: ControlServer feeds it what it reads, tests/fuzz feeds it bytes).
class RequestReader {
 public:
  explicit RequestReader(size_t max = kMaxControlRequest) : max_(max) {}
  // Appends bytes read; false once the unanswered input passes `max`.
  bool append(std::string_view bytes);
  // The next complete line (without its newline), or nullopt until more arrives.
  std::optional<std::string> next();

 private:
  size_t max_;
  std::string in_;
  size_t start_ = 0;    // where the next line begins
  size_t scanned_ = 0;  // bytes before this offset hold no newline after start_
};

using ControlHandler = std::function<nlohmann::json(const nlohmann::json& request)>;

// The answer line (JSON and a newline) to one request line: a line that is
// not a JSON object or not of this protocol version is answered with an
// error, and so is a request whose handler throws (a field of the wrong type):
// nothing a client sends can take the daemon down.
std::string answer_request(std::string_view line, const ControlHandler& handler);

// Never waits on a client: sockets are non-blocking, an answer the client
// does not read yet stays queued (one per client; its further requests wait),
// and the daemon drops clients stalled() for too long.
class ControlServer {
 public:
  using Handler = ControlHandler;
  using Clock = std::chrono::steady_clock;
  static Result<std::unique_ptr<ControlServer>> listen(const std::string& path, Handler handler);
  ~ControlServer();

  int listen_fd() const { return listen_.get(); }
  // Accepts pending clients; returns their fds (to add to epoll, edge-triggered
  // for both reading and writing: serve() reads and writes until EAGAIN).
  std::vector<int> accept_all();
  // Sends the queued answer, reads, answers complete requests; false when the
  // client is gone (closed by the peer, an error, or an oversized request).
  bool serve(int fd);
  // Clients whose queued answer has not moved for `limit` (to drop).
  std::vector<int> stalled(std::chrono::milliseconds limit) const;
  void drop(int fd) { clients_.erase(fd); }

 private:
  ControlServer() = default;
  struct Client {
    Fd fd;
    RequestReader reader;
    std::string out;  // the answer being sent
    size_t sent = 0;  // bytes of `out` sent
    Clock::time_point progress{};
    bool eof = false;  // the peer shut down its side; it may still read
  };
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
