#include "core/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace xdpban {

namespace {

struct Unit {
  std::string_view names[5];
  double seconds;
};

// Longest names first within a unit; "m" is minutes, "mo" months (as fail2ban).
constexpr Unit kUnits[] = {
    {{"seconds", "second", "sec", "se", "s"}, 1},
    {{"minutes", "minute", "min", "mi", "m"}, 60},
    {{"hours", "hour", "hou", "ho", "h"}, 3600},
    {{"days", "day", "da", "dd", "d"}, 86400},
    {{"weeks", "week", "wee", "ww", "w"}, 7 * 86400},
    {{"months", "month", "mon", "mo", ""}, 30.4375 * 86400},
    {{"years", "year", "yea", "yy", "y"}, 365.25 * 86400},
};

bool unit_seconds(std::string_view word, double* out) {
  for (const auto& u : kUnits)
    for (auto n : u.names)
      if (!n.empty() && n == word) {
        *out = u.seconds;
        return true;
      }
  return false;
}

}  // namespace

Result<int64_t> parse_duration(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return invalid("'" + std::string(text) + "' is not a duration (" + why + "; e.g. 600, 10m, 1h30m, 2d)");
  };
  size_t i = 0, n = text.size();
  auto skip_space = [&] {
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  double total = 0;
  int parts = 0;
  skip_space();
  while (i < n) {
    size_t start = i;
    while (i < n && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return fail("expected a number at '" + std::string(text.substr(start)) + "'");
    std::string num(text.substr(start, i - start));
    char* end = nullptr;
    double value = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size()) return fail("'" + num + "' is not a number");
    skip_space();
    start = i;
    while (i < n && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    double unit = 1;
    if (i > start) {
      std::string word(text.substr(start, i - start));
      for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!unit_seconds(word, &unit)) return fail("unknown unit '" + word + "'");
    }
    total += value * unit;
    ++parts;
    skip_space();
  }
  if (parts == 0) return fail("empty");
  if (total > static_cast<double>(kMaxDurationSeconds))
    return invalid("'" + std::string(text) +
                   "' is longer than 100 years, the longest duration xdpban accepts (a ban that never ends "
                   "is permanent: bantime = -1, xdpban ban --permanent)");
  return static_cast<int64_t>(std::floor(total));
}

Status check_duration(int64_t seconds, bool allow_permanent) {
  if (seconds == -1 && allow_permanent) return {};
  if (seconds <= 0)
    return invalid(std::to_string(seconds) + " s is not a duration (at least 1 s" +
                   (allow_permanent ? ", or -1 for permanent)" : ")"));
  if (seconds > kMaxDurationSeconds)
    return invalid(std::to_string(seconds) + " s is longer than 100 years, the longest xdpban accepts" +
                   (allow_permanent ? " (-1 means permanent)" : ""));
  return {};
}

std::string format_duration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  static constexpr struct {
    int64_t secs;
    char unit;
  } kParts[] = {{7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  std::string out;
  int shown = 0;
  for (const auto& p : kParts) {
    if (seconds >= p.secs && shown < 2) {
      out += std::to_string(seconds / p.secs) + p.unit;
      seconds %= p.secs;
      ++shown;
    } else if (shown > 0) {
      ++shown;  // keep at most two adjacent units: "1w2d", not "1w3m"
    }
  }
  return out;
}

}  // namespace xdpban
