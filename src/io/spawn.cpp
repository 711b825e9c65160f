#include "io/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace xdpban {

namespace {

std::string errno_text(const std::string& what, int e) { return what + ": " + std::strerror(e); }

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnParts {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnParts() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnParts() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

Result<Fd> input_file(const std::optional<std::string>& input) {
  if (!input) {
    Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null.valid()) return make_error(errno, errno_text("/dev/null", errno));
    return null;
  }
  Fd m(memfd_create("xdpban-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!m.valid()) return make_error(errno, errno_text("memfd_create", errno));
  size_t done = 0;
  while (done < input->size()) {
    ssize_t n = ::write(m.get(), input->data() + done, input->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(errno, errno_text("writing the command's input", errno));
    done += static_cast<size_t>(n);
  }
  // The child reads it from the start; sealed so it cannot grow or change.
  ::lseek(m.get(), 0, SEEK_SET);
  fcntl(m.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return m;
}

}  // namespace

Result<std::string> resolve_program(const std::string& name) {
  if (name.empty()) return invalid("empty program name");
  if (name.find('/') != std::string::npos) return name;
  std::string_view path = kCommandPath;
  while (!path.empty()) {
    auto colon = path.find(':');
    std::string dir(path.substr(0, colon));
    path = colon == std::string_view::npos ? std::string_view() : path.substr(colon + 1);
    std::string p = dir + "/" + name;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0) return p;
  }
  return make_error(ENOENT, "'" + name + "' is not in " + kCommandPath);
}

Result<Child> spawn(const std::vector<std::string>& argv, const std::optional<std::string>& input) {
  if (argv.empty()) return invalid("empty command");
  auto program = resolve_program(argv[0]);
  if (!program) return program.error();
  auto in = input_file(input);
  if (!in) return in.error();
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return make_error(errno, errno_text("pipe2", errno));
  Fd out_r(p[0]), out_w(p[1]);
  // The child's end blocks as a normal stdout would.
  fcntl(out_w.get(), F_SETFL, fcntl(out_w.get(), F_GETFL) & ~O_NONBLOCK);

  SpawnParts s;
  posix_spawn_file_actions_adddup2(&s.actions, in->get(), 0);
  posix_spawn_file_actions_adddup2(&s.actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&s.actions, out_w.get(), 2);
  // Nothing of the daemon's (maps, database, sockets) leaks into the child,
  // even a descriptor some library opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  posix_spawn_file_actions_addchdir_np(&s.actions, "/");
  // The daemon blocks TERM/INT/HUP (signalfd) and ignores PIPE; a child
  // inherits both across exec, so undo them. Its own process group lets a
  // timeout kill what it started too.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::string path_env = std::string("PATH=") + kCommandPath;
  char* envp[] = {const_cast<char*>(path_env.c_str()), const_cast<char*>("LC_ALL=C.UTF-8"), nullptr};

  pid_t pid = -1;
  int rc = posix_spawn(&pid, program->c_str(), &s.actions, &s.attr, args.data(), envp);
  if (rc != 0) return make_error(rc, errno_text(*program, rc));
  Child c;
  c.pid = pid;
  // The child cannot be reaped by anyone else (we never wait for other pids),
  // so its pid stays valid for pidfd_open until we reap it.
  c.pidfd.reset(pidfd_open(pid, 0));
  if (!c.pidfd.valid()) {
    int e = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return make_error(e, errno_text("pidfd_open", e));
  }
  c.output = std::move(out_r);
  return c;
}

}  // namespace xdpban
