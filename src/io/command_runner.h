// command_runner.h - runs commands (actions, reports) from the daemon's one
// event loop: at most max_running at once, the rest queued (bounded: beyond
// max_queued a job is dropped, never waited for), each killed with its process
// group after its timeout; exits seen through pidfds, output captured.
// Everything is non-blocking; no threads. Does not build argv (actions.h) or log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "io/fd.h"

namespace xdpban {

// How the event loop is reached: watch(fd, fn) calls fn whenever fd is
// readable, unwatch(fd) stops it (before the fd is closed).
struct LoopHooks {
  std::function<Status(int fd, std::function<void()> on_readable)> watch;
  std::function<void(int fd)> unwatch;
};

struct CommandLimits {
  std::chrono::milliseconds timeout{30000};
  size_t max_running = 4;
  size_t max_queued = 1000;
};

struct CommandJob {
  std::string label;  // for the log: "[sshd] ban_command for 192.0.2.1"
  std::vector<std::string> argv;
  std::optional<std::string> input;  // stdin; none: /dev/null
  bool never_drop = false;           // queued even beyond max_queued (reports)
};

struct CommandResult {
  enum Kind { kExited, kSignaled, kTimedOut, kSpawnFailed, kDropped } kind = kExited;
  std::string label;
  std::vector<std::string> argv;
  pid_t pid = -1;
  int status = 0;      // exit code (kExited) or signal (kSignaled)
  std::string error;   // kSpawnFailed: why
  std::string output;  // stdout and stderr, at most kMaxOutput bytes
  bool output_truncated = false;
  double seconds = 0;
  bool ok() const { return kind == kExited && status == 0; }
};

class CommandRunner {
 public:
  static constexpr size_t kMaxOutput = 64 * 1024;

  static Result<std::unique_ptr<CommandRunner>> create(LoopHooks loop, CommandLimits limits = {});
  ~CommandRunner();  // kills and reaps what still runs, drops the queue

  void set_limits(const CommandLimits& limits);
  const CommandLimits& limits() const { return limits_; }
  // Called with each started (pid) and finished job, from the event loop.
  void on_started(std::function<void(const CommandJob&, pid_t)> fn) { on_started_ = std::move(fn); }
  void on_done(std::function<void(const CommandResult&)> fn) { on_done_ = std::move(fn); }

  // Starts the job now if fewer than max_running run, else queues it. Returns
  // false when it was dropped (the queue is full); on_done hears of it too.
  bool submit(CommandJob job);

  size_t running() const { return running_.size(); }
  size_t queued() const { return queue_.size(); }
  struct Counters {
    uint64_t started = 0, succeeded = 0, failed = 0, timed_out = 0, dropped = 0, spawn_failed = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    CommandJob job;
    pid_t pid = -1;
    Fd pidfd, output;
    Clock::time_point started, deadline;
    std::string captured;
    bool truncated = false, timed_out = false;
  };
  CommandRunner(LoopHooks loop, CommandLimits limits) : loop_(std::move(loop)), limits_(limits) {}
  void start(CommandJob job);
  void read_output(Running& r);
  void on_exit(pid_t pid);
  void on_timer();
  void arm_timer();
  void finish(CommandResult r);

  LoopHooks loop_;
  CommandLimits limits_;
  Fd timer_;
  std::vector<std::unique_ptr<Running>> running_;
  std::deque<CommandJob> queue_;
  Counters counters_;
  std::function<void(const CommandJob&, pid_t)> on_started_;
  std::function<void(const CommandResult&)> on_done_;
};

}  // namespace xdpban
