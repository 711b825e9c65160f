#include "io/command_runner.h"

#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "io/spawn.h"

namespace xdpban {

Result<std::unique_ptr<CommandRunner>> CommandRunner::create(LoopHooks loop, CommandLimits limits) {
  std::unique_ptr<CommandRunner> r(new CommandRunner(std::move(loop), limits));
  r->timer_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!r->timer_.valid()) return make_error(errno, std::string("timerfd_create: ") + std::strerror(errno));
  CommandRunner* self = r.get();
  if (auto st = r->loop_.watch(r->timer_.get(), [self] { self->on_timer(); }); !st) return st.error();
  return r;
}

CommandRunner::~CommandRunner() {
  for (auto& r : running_) {
    ::kill(-r->pid, SIGKILL);
    pidfd_send_signal(r->pidfd.get(), SIGKILL, nullptr, 0);
    ::waitpid(r->pid, nullptr, 0);
    loop_.unwatch(r->pidfd.get());
    if (r->output.valid()) loop_.unwatch(r->output.get());
  }
  if (timer_.valid()) loop_.unwatch(timer_.get());
}

void CommandRunner::set_limits(const CommandLimits& limits) {
  limits_ = limits;
  limits_.max_running = std::max<size_t>(1, limits_.max_running);
  while (running_.size() < limits_.max_running && !queue_.empty()) {
    CommandJob j = std::move(queue_.front());
    queue_.pop_front();
    start(std::move(j));
  }
  arm_timer();
}

bool CommandRunner::submit(CommandJob job) {
  if (running_.size() < limits_.max_running) {
    start(std::move(job));
    return true;
  }
  if (queue_.size() < limits_.max_queued || job.never_drop) {
    queue_.push_back(std::move(job));
    return true;
  }
  CommandResult r;
  r.kind = CommandResult::kDropped;
  r.label = std::move(job.label);
  r.argv = std::move(job.argv);
  finish(std::move(r));
  return false;
}

void CommandRunner::start(CommandJob job) {
  auto child = spawn(job.argv, job.input);
  if (!child) {
    CommandResult r;
    r.kind = CommandResult::kSpawnFailed;
    r.label = std::move(job.label);
    r.argv = std::move(job.argv);
    r.error = child.error().message;
    finish(std::move(r));
    return;
  }
  auto run = std::make_unique<Running>();
  run->pid = child->pid;
  run->pidfd = std::move(child->pidfd);
  run->output = std::move(child->output);
  run->started = Clock::now();
  run->deadline = run->started + limits_.timeout;
  run->job = std::move(job);
  pid_t pid = run->pid;
  Running* raw = run.get();
  auto w1 = loop_.watch(run->pidfd.get(), [this, pid] { on_exit(pid); });
  auto w2 = loop_.watch(run->output.get(), [this, raw] { read_output(*raw); });
  if (!w1 || !w2) {
    // Cannot be watched: do not leave a child nobody reaps.
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (w1) loop_.unwatch(run->pidfd.get());
    if (w2) loop_.unwatch(run->output.get());
    CommandResult r;
    r.kind = CommandResult::kSpawnFailed;
    r.label = std::move(run->job.label);
    r.argv = std::move(run->job.argv);
    r.error = (!w1 ? w1.error() : w2.error()).message;
    finish(std::move(r));
    return;
  }
  ++counters_.started;
  if (on_started_) on_started_(run->job, pid);
  running_.push_back(std::move(run));
  arm_timer();
}

void CommandRunner::read_output(Running& r) {
  if (!r.output.valid()) return;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(r.output.get(), buf, sizeof buf);
    if (n > 0) {
      size_t room = kMaxOutput - std::min(kMaxOutput, r.captured.size());
      r.captured.append(buf, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) r.truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      // Every writer closed it: an EOF pipe stays readable, so stop watching.
      loop_.unwatch(r.output.get());
      r.output.reset();
    }
    return;  // EAGAIN: the rest comes later
  }
}

void CommandRunner::on_exit(pid_t pid) {
  auto it = std::find_if(running_.begin(), running_.end(), [pid](const auto& r) { return r->pid == pid; });
  if (it == running_.end()) return;
  Running& r = **it;
  int status = 0;
  pid_t w = ::waitpid(pid, &status, WNOHANG);
  if (w == 0) return;  // not yet (a spurious wake-up)
  read_output(r);      // what it wrote before it exited; a grandchild's later output is not waited for
  loop_.unwatch(r.pidfd.get());
  if (r.output.valid()) loop_.unwatch(r.output.get());
  CommandResult res;
  res.label = std::move(r.job.label);
  res.argv = std::move(r.job.argv);
  res.pid = pid;
  res.output = std::move(r.captured);
  res.output_truncated = r.truncated;
  res.seconds = std::chrono::duration<double>(Clock::now() - r.started).count();
  if (r.timed_out) {
    res.kind = CommandResult::kTimedOut;
  } else if (w < 0 || WIFSIGNALED(status)) {
    res.kind = CommandResult::kSignaled;
    res.status = w < 0 ? 0 : WTERMSIG(status);
  } else {
    res.kind = CommandResult::kExited;
    res.status = WEXITSTATUS(status);
  }
  running_.erase(it);
  finish(std::move(res));
  while (running_.size() < limits_.max_running && !queue_.empty()) {
    CommandJob j = std::move(queue_.front());
    queue_.pop_front();
    start(std::move(j));
  }
  arm_timer();
}

void CommandRunner::on_timer() {
  uint64_t expirations;
  (void)!::read(timer_.get(), &expirations, sizeof expirations);
  auto now = Clock::now();
  for (auto& r : running_)
    if (!r->timed_out && r->deadline <= now) {
      // The group first (what it started), then the child itself, in case it
      // left the group. Its exit arrives through the pidfd as usual.
      ::kill(-r->pid, SIGKILL);
      pidfd_send_signal(r->pidfd.get(), SIGKILL, nullptr, 0);
      r->timed_out = true;
    }
  arm_timer();
}

void CommandRunner::arm_timer() {
  std::optional<Clock::time_point> next;
  for (const auto& r : running_)
    if (!r->timed_out && (!next || r->deadline < *next)) next = r->deadline;
  itimerspec t{};
  if (next) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*next - Clock::now()).count();
    ns = std::max<int64_t>(ns, 1);  // zero would disarm it
    t.it_value.tv_sec = ns / 1000000000;
    t.it_value.tv_nsec = ns % 1000000000;
  }
  timerfd_settime(timer_.get(), 0, &t, nullptr);
}

void CommandRunner::finish(CommandResult r) {
  switch (r.kind) {
    case CommandResult::kExited:
      ++(r.status == 0 ? counters_.succeeded : counters_.failed);
      break;
    case CommandResult::kSignaled:
      ++counters_.failed;
      break;
    case CommandResult::kTimedOut:
      ++counters_.timed_out;
      break;
    case CommandResult::kSpawnFailed:
      ++counters_.spawn_failed;
      break;
    case CommandResult::kDropped:
      ++counters_.dropped;
      break;
  }
  if (on_done_) on_done_(r);
}

}  // namespace xdpban
