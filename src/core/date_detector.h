// date_detector.h - finds and parses the time stamp of a log line the way
// fail2ban does: its default templates (syslog, ISO 8601, Apache, epoch,
// TAI64N, ...), custom strptime-style `datepattern`s, {^LN-BEG} anchoring,
// year inference for year-less stamps and a default time zone.
// Does not match failures (filter.h). Keeps per-log state (last template).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/regex.h"
#include "core/result.h"

namespace xdpban {

class DateTemplate;

struct DateMatch {
  size_t start = 0;  // span of the date text (cut out of the line before matching)
  size_t end = 0;
  std::optional<double> time;  // unix time; nullopt if the text matched but is empty/invalid
};

class DateDetector {
 public:
  // `patterns`: fail2ban's datepattern value (one pattern per line), or nullopt
  // for the default templates. `default_tz`: fail2ban's logtimezone (e.g.
  // "UTC", "CET", "UTC+0200"); nullopt means the process's local time zone.
  static Result<DateDetector> create(const std::optional<std::string>& patterns,
                                     const std::optional<std::string>& default_tz = std::nullopt);

  DateDetector(DateDetector&&) noexcept;
  DateDetector& operator=(DateDetector&&) noexcept;
  ~DateDetector();

  // `now` (unix time) drives year inference for stamps without a year.
  std::optional<DateMatch> match(std::string_view line, double now) {
    return match(line, now, is_ascii(line));
  }
  // The same, when the caller knows whether `line` is all ASCII (is_ascii).
  std::optional<DateMatch> match(std::string_view line, double now, bool ascii);

  size_t template_count() const;

 private:
  DateDetector() = default;
  struct Entry;
  std::vector<Entry> templates_;
  std::optional<int> tz_offset_minutes_;
  int last_ = -1;
  size_t last_start_ = 1, last_end_ = 0;
  // The last time stamp converted (see match()).
  int cached_template_ = -1;
  std::string cached_text_;
  size_t cached_start_ = 0;  // where cached_text_ was found in its line
  double cached_now_ = 0;
  std::optional<double> cached_time_;
};

// Minutes east of UTC for a fail2ban time-zone spec ("UTC", "CEST", "+0200", "UTC-05:00").
std::optional<int> parse_time_zone(std::string_view tz);

}  // namespace xdpban
