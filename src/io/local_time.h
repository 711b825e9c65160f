// local_time.h - unix seconds as local time for people (reports, mail): the
// one place that reads the time zone. Header-only.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>

namespace xdpban {

// `t` through strftime's `format`.
inline std::string local_time_format(int64_t t, const char* format) {
  time_t tt = static_cast<time_t>(t);
  tm lt{};
  localtime_r(&tt, &lt);
  char buf[64];
  strftime(buf, sizeof buf, format, &lt);
  return buf;
}

// "2024-05-01 06:00:00 +0200"
inline std::string local_time_str(int64_t t) { return local_time_format(t, "%Y-%m-%d %H:%M:%S %z"); }

}  // namespace xdpban
