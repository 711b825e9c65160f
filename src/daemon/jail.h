// jail.h - one jail: its filter and failure tracker, turning log lines into ban
// requests. The event-time rule lives here (see on_line). Does not ban
// (BanManager) or read files (FileTailer).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/failure_tracker.h"
#include "core/filter.h"
#include "daemon/config.h"

namespace xdpban {

struct BanRequest {
  Cidr target;     // the address, or its /banprefix network
  Address source;  // the address that failed
  int failures = 0;
};

class Jail {
 public:
  static Result<std::unique_ptr<Jail>> create(const JailSettings& settings,
                                              const std::vector<std::string>& filter_path,
                                              const FileSource& files);

  // One line from this jail's logs. `now` is unix time; `known_time` is the
  // source's own time stamp (the journal's), if any.
  //
  // Event time: the line's own time stamp when it has one and it is not in the
  // future (more than 5 minutes ahead means a wrong clock or time zone: the
  // arrival time is used instead); lines older than findtime are ignored, as
  // fail2ban does, so re-reading old logs never bans.
  std::optional<BanRequest> on_line(std::string_view line, double now,
                                    std::optional<double> known_time = std::nullopt);

  const JailSettings& settings() const { return settings_; }
  const std::vector<std::string>& journalmatch() const { return journalmatch_; }
  FailureTracker& tracker() { return tracker_; }
  uint64_t total_failed() const { return total_failed_; }
  uint64_t lines_seen() const { return lines_; }
  void forget(const Address& a) { tracker_.forget(a); }

 private:
  Jail(JailSettings s, Filter f);
  JailSettings settings_;
  Filter filter_;
  FailureTracker tracker_;
  std::vector<std::string> journalmatch_;
  uint64_t total_failed_ = 0;
  uint64_t lines_ = 0;
};

}  // namespace xdpban
