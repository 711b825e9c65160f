// filter.h - fail2ban filter semantics on top of PCRE2: <HOST>-style and <F-...>
// tag expansion, prefregex/failregex/ignoreregex evaluation on the line with its
// date cut out, and multi-line failures keyed by F-MLFID (bounded size and age).
// Stateless per line apart from that buffer and the date detector's last template.
// Does not count failures or ban (FailureTracker does); does no DNS lookups.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.h"
#include "core/date_detector.h"
#include "core/filter_config.h"
#include "core/regex.h"
#include "core/result.h"

namespace xdpban {

// Expands fail2ban's tags in one regex into Python-syntax named groups:
// <HOST> (<ADDR> when usedns is "no"), <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>,
// <F-ID/>, <F-PORT/>, <SKIPLINES> and <F-NAME>...</F-NAME> pairs.
std::string expand_filter_tags(std::string_view regex, const std::string& usedns);

struct Failure {
  int regex_index = -1;
  std::string host;          // the failure id as fail2ban prints it: address, network or raw host/id
  std::optional<Cidr> addr;  // set when the id is an IP address or network
  std::optional<double> time;
  std::map<std::string, std::string> fields;  // named groups that took part (user, port, ...)
  std::set<std::string> users;                // multi-line: all users seen for this F-MLFID
  int attempts = 0;                           // matched lines making up this failure
  bool nofail = false;                        // a F-NOFAIL/F-MLFGAINED hit: not a failure by itself
  bool has_id = true;                         // false while a multi-line failure waits for its host
};

struct LineResult {
  bool ignored = false;  // an ignoreregex vetoed a failregex match
  std::vector<Failure> failures;
};

struct FilterOptions {
  bool check_all_regex = false;  // try every failregex (fail2ban's test harness does)
  bool return_raw_host = false;  // keep host text as written (no DNS name handling)
  size_t mlfid_max_entries = 100;
  double mlfid_max_age = 300;  // seconds
};

class Filter {
 public:
  static Result<Filter> create(const FilterDefinition& def, FilterOptions options = {});

  Filter(Filter&&) noexcept;
  Filter& operator=(Filter&&) noexcept;
  ~Filter();

  // One log line (no trailing newline). `now` is the current unix time (year
  // inference, multi-line ages); `known_time` is the time from the source when
  // it has one (the journal), which skips date detection.
  LineResult process_line(std::string_view line, double now, std::optional<double> known_time = std::nullopt);

  const FilterDefinition& definition() const { return def_; }
  size_t failregex_count() const;

 private:
  Filter() = default;
  struct Impl;
  FilterDefinition def_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xdpban
