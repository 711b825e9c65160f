// spawn.h - runs a program directly (posix_spawn, never a shell) with a clean
// environment, default signal dispositions, an empty signal mask, its own
// process group, stdin from a buffer or /dev/null, and stdout+stderr into one
// pipe. Returns the child's pidfd (readable when it exits). Does not wait,
// time out or queue (command_runner.h does).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "io/fd.h"

namespace xdpban {

// Where a program named without a '/' is looked up (not the daemon's PATH,
// which the service manager decides), and the PATH the child gets.
inline constexpr const char* kCommandPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The executable `name` refers to: itself if it has a '/', else the first
// executable file of that name in kCommandPath.
Result<std::string> resolve_program(const std::string& name);

struct Child {
  pid_t pid = -1;
  Fd pidfd;   // readable once the child has exited (it stays a zombie until reaped)
  Fd output;  // read end of the child's stdout and stderr, non-blocking
};

// Starts argv[0] (resolved as above) with argv. `input` becomes its stdin (a
// sealed memfd: no pipe to keep fed), none: /dev/null.
Result<Child> spawn(const std::vector<std::string>& argv, const std::optional<std::string>& input);

}  // namespace xdpban
