// regex.h - PCRE2 (8-bit, UTF+UCP, JIT) compiled patterns and match data as RAII
// values, plus the translation of Python `re` syntax used by fail2ban filters.
// Every match runs with match and depth limits so no input line can hang us.
// Does not know about fail2ban tags (<HOST>, <F-...>): see failregex.h.
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <bitset>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace xdpban {

// Rewrites the Python-only parts of a regex into PCRE2 syntax: `{,n}` -> `{0,n}`,
// the `u`/`L`/`a` inline flags (meaningless here) dropped, `\Z` -> `\z`.
std::string translate_python_regex(std::string_view pattern);

class MatchData;

// Whether every byte of `s` is below 0x80.
bool is_ascii(std::string_view s);

class Regex {
 public:
  struct Options {
    bool multiline = false;
    bool caseless = false;
    bool jit = true;  // false: only for pattern_info-style questions (first_bytes), never matched hot
  };

  // `pattern` is PCRE2 syntax (call translate_python_regex first for Python input).
  static Result<Regex> compile(std::string_view pattern, Options options);
  static Result<Regex> compile(std::string_view pattern) { return compile(pattern, Options{}); }

  // Unanchored search for the first match starting at or after `start`.
  // A line that exceeds the match limits counts as not matching. `ascii`: the
  // caller knows every byte of `subject` is below 0x80 (is_ascii), which lets
  // it run a byte-mode copy of the pattern: on such a subject UTF-8 and Unicode
  // properties decide nothing (\w, \d, \s, \b, caseless letters agree on
  // ASCII), so the result is the same, sooner.
  bool search(std::string_view subject, MatchData& md, size_t start = 0, bool ascii = false) const;

  // The bytes a match can begin with, from PCRE2's own start-of-match analysis
  // (what its interpreter skips ahead with); all set when PCRE2 knows none, as
  // for a pattern that can match the empty string or is anchored.
  std::bitset<256> first_bytes() const;

  // Group number of a named group, or -1.
  int group_index(std::string_view name) const;
  // All named groups as (name, number), in pattern order of their numbers.
  const std::vector<std::pair<std::string, int>>& names() const { return names_; }
  int capture_count() const { return captures_; }
  const std::string& pattern() const { return pattern_; }

 private:
  struct CodeFree {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  };
  std::shared_ptr<pcre2_code> code_;  // immutable once compiled: copies share it
  // The same pattern compiled without UTF/UCP and JIT-compiled, for all-ASCII
  // subjects; null when that compile fails (e.g. \x{100}) or JIT is unavailable.
  std::shared_ptr<pcre2_code> ascii_code_;
  std::string pattern_;
  std::vector<std::pair<std::string, int>> names_;
  int captures_ = 0;
  bool jit_ = false;
  friend class MatchData;
};

// Match results for one Regex; reuse it across lines to avoid allocations.
class MatchData {
 public:
  explicit MatchData(const Regex& re);
  MatchData(MatchData&&) noexcept = default;
  MatchData& operator=(MatchData&&) noexcept = default;

  // Whether group `n` took part in the last successful match.
  bool has(int n) const { return n >= 0 && n < count_ && ovector_[2 * n] != PCRE2_UNSET; }
  size_t start(int n) const { return ovector_[2 * n]; }
  size_t end(int n) const { return ovector_[2 * n + 1]; }
  std::string_view group(int n) const {  // empty view if not set
    return has(n) ? subject_.substr(start(n), end(n) - start(n)) : std::string_view();
  }

 private:
  struct DataFree {
    void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
  };
  std::unique_ptr<pcre2_match_data, DataFree> data_;
  PCRE2_SIZE* ovector_ = nullptr;  // data_'s, fixed for its lifetime (read without a library call)
  std::string_view subject_;
  int count_ = 0;
  friend class Regex;
};

}  // namespace xdpban
