// duration.h - durations as admins write them in fail2ban configs and on the
// command line: "600", "10m", "1h 30m", "2days", "1w", "1mo", "1y".
// Units as fail2ban's: month = 30.4375 days, year = 365.25 days.
// Does not own "-1 means permanent": callers that accept it check first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace xdpban {

// The longest duration xdpban accepts anywhere (bantime, --for, findtime, a
// control request): 100 years. Longer is an error rather than a value that
// wraps somewhere downstream; a ban that never ends is permanent (-1).
constexpr int64_t kMaxDurationSeconds = int64_t{100} * 36525 * 864;

// Whole seconds; fractional parts ("1.5h") are accepted and rounded down.
// More than kMaxDurationSeconds is an error.
Result<int64_t> parse_duration(std::string_view text);

// For a number of seconds from a request or a config: ok for -1 (permanent,
// where allow_permanent) and 1..kMaxDurationSeconds; the error says why.
Status check_duration(int64_t seconds, bool allow_permanent);

// Compact human form: 0s, 45s, 10m, 1h30m, 2d3h, 5w.
std::string format_duration(int64_t seconds);

}  // namespace xdpban
