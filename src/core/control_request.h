// control_request.h - what a control-socket request may say, checked before
// the daemon acts on it: the command, every field's type, CIDRs, jail names,
// durations and free text, with the same rules the CLI applies. Pure logic;
// the socket's framing and access control are io/control's, what a command
// does is the daemon's.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/cidr.h"
#include "core/result.h"

namespace xdpban {

struct ControlRequest {
  enum class Cmd {
    kPing,
    kBan,
    kUnban,
    kImport,
    kAllowAdd,
    kAllowDel,
    kList,
    kStatus,
    kStats,
    kReload,
    kFleetStatus
  };
  Cmd cmd = Cmd::kPing;
  std::vector<Cidr> cidrs;          // ban, unban, allow_add, allow_del
  std::string jail;                 // empty when not given (or given empty)
  std::optional<int64_t> duration;  // seconds, -1 = permanent; checked by check_duration
  std::string reason;               // ban: free text for the log, one line
  bool force = false;               // ban, import: skip the own-address and allow-list guard
  bool all = false;                 // unban: every ban (of `jail` if given)
  bool replace = false;             // import
  std::optional<Cidr> within;       // list: only bans inside this network
  std::string entries;              // import: one CIDR per line
};

// The longest --reason kept, in bytes.
constexpr size_t kMaxReasonLength = 256;

// Free text that goes into the log and reports: one line of printable
// characters (UTF-8 allowed), at most kMaxReasonLength bytes.
Status check_reason(const std::string& reason);

// A request as decoded JSON; the error names the field and what is wrong.
Result<ControlRequest> parse_control_request(const nlohmann::json& req);

}  // namespace xdpban
