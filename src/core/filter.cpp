#include "core/filter.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <cstring>
#include <type_traits>
#include <unordered_map>

#include "core/ini.h"
#include "core/literal_prefilter.h"

namespace xdpban {

namespace {

constexpr const char* kIp4 = R"((?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3}))";
constexpr const char* kIp6 = R"((?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)))";
constexpr const char* kDns = R"((?P<dns>[\w\-.^_]*\w))";
constexpr const char* kCidr = R"((?P<cidr>\d+))";

std::string addr_re() { return std::string(R"(\[?(?:)") + kIp4 + "|" + kIp6 + R"()\]?)"; }
std::string host_re() { return "(?:" + addr_re() + "|" + kDns + ")"; }
std::string subnet_re() {
  return std::string(R"(\[?(?:)") + kIp4 + "|" + kIp6 + ")(?:/" + kCidr + R"()?\]?)";
}

// fail2ban's short names for some field tags.
std::string map_tag_to_option(std::string tag) {
  tag = to_lower(tag);
  if (tag == "id") return "fid";
  if (tag == "port") return "fport";
  return tag;
}

bool is_tag_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

bool truthy(const std::optional<std::string>& v) { return v && !v->empty(); }

}  // namespace

std::string expand_filter_tags(std::string_view regex, const std::string& usedns) {
  std::string out;
  out.reserve(regex.size() * 2);
  std::set<std::string> open;
  int skiplines = 0;
  size_t i = 0;
  while (i < regex.size()) {
    if (regex[i] != '<') {
      out += regex[i++];
      continue;
    }
    // A tag is "<" "/"? [\w-]+ "/"? ">".
    size_t j = i + 1;
    if (j < regex.size() && regex[j] == '/') ++j;
    size_t name_start = j;
    while (j < regex.size() && is_tag_char(regex[j])) ++j;
    size_t name_end = j;
    if (j < regex.size() && regex[j] == '/') ++j;
    if (name_end == name_start || j >= regex.size() || regex[j] != '>') {
      out += regex[i++];
      continue;
    }
    std::string tag(regex.substr(i, j + 1 - i));
    std::string tn = tag.substr(1, tag.size() - 2);
    i = j + 1;
    if (tn == "HOST") {
      out += usedns == "no" ? addr_re() : host_re();
    } else if (tn == "SKIPLINES") {
      out += "\\n(?P<skiplines" + std::to_string(skiplines++) + ">(?:(?:.*\\n)*?))";
    } else if (tn == "IP4" || tn == "F-IP4/") {
      out += kIp4;
    } else if (tn == "IP6" || tn == "F-IP6/") {
      out += kIp6;
    } else if (tn == "ADDR" || tn == "F-ADDR/") {
      out += addr_re();
    } else if (tn == "CIDR" || tn == "F-CIDR/") {
      out += kCidr;
    } else if (tn == "SUBNET" || tn == "F-SUBNET/") {
      out += subnet_re();
    } else if (tn == "DNS" || tn == "F-DNS/") {
      out += kDns;
    } else if (tn == "F-ID/") {
      out += R"((?P<fid>\S+))";
    } else if (tn == "F-PORT/") {
      out += R"((?P<fport>\w+))";
    } else {
      bool closing = tn[0] == '/';
      std::string name = closing ? tn.substr(1) : tn;
      bool custom = name.size() > 2 && name.compare(0, 2, "F-") == 0 && name.back() != '/' &&
                    std::all_of(name.begin() + 2, name.end(), [](char c) {
                      return std::isupper(static_cast<unsigned char>(c)) ||
                             std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                    });
      if (!custom) {
        out += tag;
      } else if (closing) {
        out += open.count(name.substr(2)) ? ")" : tag;
      } else {
        open.insert(name.substr(2));
        out += "(?P<" + map_tag_to_option(name.substr(2)) + ">";
      }
    }
  }
  return out;
}

namespace {

struct TupleLine {
  std::string pre, date, post;
  std::string text() const { return pre + post; }
};

// fail2ban's group dictionary: name -> value or None. A vector kept sorted by
// name (a dozen entries at most), so that building one per matched line costs
// one allocation instead of a tree node per group; iterates in name order like
// the std::map it replaces.
class Groups {
 public:
  using Entry = std::pair<std::string, std::optional<std::string>>;
  using iterator = std::vector<Entry>::iterator;
  using const_iterator = std::vector<Entry>::const_iterator;

  iterator begin() { return v_.begin(); }
  iterator end() { return v_.end(); }
  const_iterator begin() const { return v_.begin(); }
  const_iterator end() const { return v_.end(); }
  bool empty() const { return v_.empty(); }
  void reserve(size_t n) { v_.reserve(n); }

  // A dozen entries at most: a scan that mostly compares lengths beats a
  // binary search that compares text at every step.
  iterator find(std::string_view k) {
    for (auto it = v_.begin(); it != v_.end(); ++it)
      if (same(it->first, k)) return it;
    return v_.end();
  }
  const_iterator find(std::string_view k) const { return const_cast<Groups*>(this)->find(k); }
  std::optional<std::string>& operator[](std::string_view k) {
    auto it = lower(k);
    if (it == v_.end() || !same(it->first, k)) it = v_.emplace(it, std::string(k), std::nullopt);
    return it->second;
  }
  void erase(iterator it) { v_.erase(it); }
  void erase(std::string_view k) {
    if (auto it = find(k); it != v_.end()) v_.erase(it);
  }
  // Sets every entry of `o` here (those with a value only, if `set_only`): one
  // merge of two sorted vectors rather than an insertion per entry.
  template <typename G>
  void update(G&& o, bool set_only) {
    // Usually every name is here already (the same regex matched before): assign
    // in place, reusing the strings' storage. Both are sorted: one walk finds them.
    bool all_present = true;
    for (auto a = v_.begin(); auto& e : o.v_) {
      if (set_only && !e.second) continue;
      while (a != v_.end() && less(a->first, e.first)) ++a;
      if (a == v_.end() || !same(a->first, e.first)) {
        all_present = false;
        break;
      }
    }
    if (all_present) {
      for (auto a = v_.begin(); auto& e : o.v_) {
        if (set_only && !e.second) continue;
        while (!same(a->first, e.first)) ++a;
        if constexpr (std::is_lvalue_reference_v<G>)
          a->second = e.second;
        else
          a->second = std::move(e.second);
      }
      return;
    }
    std::vector<Entry> out;
    out.reserve(v_.size() + o.v_.size());
    auto a = v_.begin();
    for (auto& e : o.v_) {
      if (set_only && !e.second) continue;
      while (a != v_.end() && less(a->first, e.first)) out.push_back(std::move(*a++));
      if (a != v_.end() && same(a->first, e.first)) ++a;
      out.push_back(std::forward<G>(o).forward_entry(e));
    }
    while (a != v_.end()) out.push_back(std::move(*a++));
    v_ = std::move(out);
  }
  // An entry of this object, moved out of it if it is an rvalue (see update).
  Entry forward_entry(Entry& e) & { return e; }
  Entry forward_entry(Entry& e) && { return std::move(e); }
  // Appends an entry whose name sorts after every present one (see CompiledRegex::groups).
  void append_sorted(const std::string& k, std::optional<std::string> v) { v_.emplace_back(k, std::move(v)); }

 private:
  // Group names are a few bytes: compared inline, not through memcmp calls.
  static bool same(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  static bool less(std::string_view a, std::string_view b) {
    size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
    return a.size() < b.size();
  }
  iterator lower(std::string_view k) {
    return std::lower_bound(v_.begin(), v_.end(), k,
                            [](const Entry& e, std::string_view key) { return less(e.first, key); });
  }
  std::vector<Entry> v_;
};

// fail2ban's per-failure dictionary, with its special list/set members. Only
// the number of matched lines is kept: nothing reads their text.
struct FailState {
  Groups g;
  std::optional<size_t> matches;         // fail2ban's 'matches' list, as its length
  std::optional<size_t> nofail_matches;  // 'nofail' matches, likewise
  std::optional<std::set<std::string>> users;
  bool mlfpending = false;

  std::optional<std::string> get(std::string_view k) const {
    auto it = g.find(k);
    return it == g.end() ? std::nullopt : it->second;
  }
  // fail2ban's `bool(fail.get(k))`, without copying the value.
  bool is_truthy(std::string_view k) const {
    auto it = g.find(k);
    return it != g.end() && it->second && !it->second->empty();
  }
  // `bool(fail.pop(k, None))`.
  bool pop_truthy(std::string_view k) {
    auto it = g.find(k);
    if (it == g.end()) return false;
    bool t = it->second && !it->second->empty();
    g.erase(it);
    return t;
  }
  std::optional<std::string> pop(std::string_view k) {
    auto it = g.find(k);
    if (it == g.end()) return std::nullopt;
    auto v = std::move(it->second);
    g.erase(it);
    return v;
  }
};

// Index just past the group that opens at `open` ('('), or npos; sets *alternation
// if the group has a '|' at its own level.
size_t group_end(const std::string& p, size_t open, bool* alternation) {
  int depth = 0;
  *alternation = false;
  for (size_t i = open; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') j += p[j] == '\\' ? 2 : 1;
      i = j;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) return i + 1;
    } else if (c == '|' && depth == 1) {
      *alternation = true;
    }
  }
  return std::string::npos;
}

// The literal text every match of a `^`-anchored single-line pattern starts with,
// so a line that does not start with it can skip PCRE2 entirely. Conservative:
// returns "" whenever unsure (flags, top-level alternation, optional parts).
// Whether `p` is '^' followed by one branch: every match starts at the subject's start.
bool anchored_single_branch(const std::string& p) {
  if (p.empty() || p[0] != '^') return false;
  bool alt = false;
  std::string wrapped = "(" + p + ")";  // top-level '|' check via the group scanner
  return group_end(wrapped, 0, &alt) != std::string::npos && !alt;
}

std::string required_prefix(const std::string& p) {
  if (!anchored_single_branch(p)) return "";
  auto is_quant = [&](size_t i) {
    return i < p.size() && (p[i] == '?' || p[i] == '*' || p[i] == '+' || p[i] == '{');
  };
  std::string prefix;
  std::vector<std::pair<size_t, size_t>> open;  // (pattern index of '(', prefix length on entry)
  size_t i = 1;
  while (i < p.size()) {
    char c = p[i];
    if (c == '(') {
      size_t body = i + 1;
      if (p.compare(i, 3, "(?:") == 0) {
        body = i + 3;
      } else if (p.compare(i, 4, "(?P<") == 0 ||
                 (p.compare(i, 3, "(?<") == 0 && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!')) {
        body = p.find('>', i);
        if (body == std::string::npos) break;
        ++body;
      } else if (i + 1 < p.size() && p[i + 1] == '?') {
        break;  // lookaround, conditional, flags: stop here
      }
      open.emplace_back(i, prefix.size());
      i = body;
      continue;
    }
    if (c == '\\' && i + 1 < p.size() && !std::isalnum(static_cast<unsigned char>(p[i + 1]))) {
      if (is_quant(i + 2)) break;
      prefix += p[i + 1];
      i += 2;
      continue;
    }
    if (std::strchr("\\.[]()?*+{}|^$", c)) break;
    if (is_quant(i + 1)) break;
    prefix += c;
    ++i;
  }
  // Literals inside a group count only if the group is neither optional nor an alternation.
  for (auto it = open.rbegin(); it != open.rend(); ++it) {
    bool group_alt = false;
    size_t end = group_end(p, it->first, &group_alt);
    if (end == std::string::npos || group_alt || is_quant(end))
      prefix.resize(std::min(prefix.size(), it->second));
  }
  return prefix;
}

struct CompiledRegex {
  Regex re;
  std::string prefix;  // required start of the subject ("" = none known)
  // Bytes the subject can start with (a single-line '^' pattern; else all set).
  std::bitset<256> first = std::bitset<256>().set();
  MatchData md;
  std::vector<std::pair<std::string, std::string>> alts;    // (group, option) for F-ALT_*
  std::vector<std::pair<std::string, std::string>> tuples;  // (group, option) for F-TUPLE_*
  std::vector<int> skiplines;
  std::vector<std::pair<std::string, int>> sorted_names;  // named groups by name
  // Whether groups() lists the groups that took no part (as None). A None reads
  // like a missing name everywhere except where it overrides a prefregex group
  // of the same name, so only a failregex sharing a name with prefregex needs it.
  bool keep_unset = true;
  bool has_id_group = false;
  std::vector<TupleLine> matched, unmatched;
  const std::vector<TupleLine>* single = nullptr;  // set when the whole (one-line) buffer matched

  // The matched lines (fail2ban's getMatchedTupleLines).
  const std::vector<TupleLine>& matched_tuple_lines() const { return single ? *single : matched; }

  explicit CompiledRegex(Regex r) : re(std::move(r)), md(re) {
    for (const auto& [name, num] : re.names()) {
      if (name == "fid" || name == "ip4" || name == "ip6" || name == "dns" || name == "mlfid")
        has_id_group = true;
      if (name.rfind("skiplines", 0) == 0) skiplines.push_back(num);
      for (const char* pre : {"alt_", "tuple_"}) {
        std::string p = pre;
        if (name.size() > 4 && name.rfind(p, 0) == 0) {
          std::string rest = name.substr(p.size());
          auto us = rest.rfind('_');
          if (us != std::string::npos && us + 1 < rest.size() &&
              std::all_of(rest.begin() + us + 1, rest.end(), [](char c) { return std::isdigit(c); }))
            rest = rest.substr(0, us);
          (p == "alt_" ? alts : tuples).emplace_back(name, map_tag_to_option(rest));
        }
      }
    }
    std::sort(alts.begin(), alts.end());
    std::sort(tuples.begin(), tuples.end());
    sorted_names = re.names();
    std::sort(sorted_names.begin(), sorted_names.end());
  }

  // fail2ban's Regex.search: match `buf`, then split `lines` into matched/unmatched.
  // `ascii`: every byte of `buf` is below 0x80 (Regex::search).
  bool search(std::string_view buf, const std::vector<TupleLine>& lines, bool ascii) {
    single = nullptr;
    if (buf.empty() || !first[static_cast<unsigned char>(buf[0])]) return false;
    if (!prefix.empty() && buf.compare(0, prefix.size(), prefix) != 0) return false;
    if (!re.search(buf, md, 0, ascii)) return false;
    matched.clear();
    unmatched.clear();
    if (lines.size() <= 1) {
      single = &lines;
      return true;
    }
    size_t ms = md.start(0), me = md.end(0);
    size_t line_start = 0;
    if (auto p = buf.rfind('\n', ms); p != std::string_view::npos) line_start = p + 1;
    size_t line_end = buf.size();
    if (auto p = buf.find('\n', me > 0 ? me - 1 : 0); p != std::string_view::npos) line_end = p + 1;
    size_t c1 = std::count(buf.begin(), buf.begin() + line_start, '\n');
    size_t c2 = std::count(buf.begin(), buf.begin() + line_end, '\n');
    c1 = std::min(c1, lines.size());
    c2 = std::min(c2, lines.size());
    matched.assign(lines.begin() + c1, lines.begin() + std::max(c1, c2));
    unmatched.assign(lines.begin(), lines.begin() + c1);
    if (!skiplines.empty()) {
      std::string skipped;
      for (int g : skiplines) skipped += md.group(g);
      size_t n = 0, p = 0;
      while (p < skipped.size()) {
        size_t nl = skipped.find('\n', p);
        if (nl == std::string::npos) nl = skipped.size();
        std::string sl = skipped.substr(p, nl - p);
        p = nl + 1;
        for (size_t m = n; m < matched.size(); ++m) {
          if (matched[m].text() == sl) {
            unmatched.push_back(matched[m]);
            matched.erase(matched.begin() + m);
            n = m;
            break;
          }
        }
      }
    }
    unmatched.insert(unmatched.end(), lines.begin() + std::max(c1, c2), lines.end());
    return true;
  }

  Groups groups(std::string_view skip = {}) const {
    Groups g;
    g.reserve(sorted_names.size() + alts.size() + tuples.size());
    for (const auto& [name, num] : sorted_names) {
      if (name == skip) continue;
      if (md.has(num))
        g.append_sorted(name, std::string(md.group(num)));
      else if (keep_unset)
        g.append_sorted(name, std::nullopt);
    }
    for (const auto& [k, n] : alts) {
      auto v = g[k];
      auto t = g.find(n);
      if (truthy(v) && (t == g.end() || !truthy(t->second))) g[n] = v;
    }
    for (const auto& [k, n] : tuples) {
      auto v = g[k];
      auto& t = g[n];
      std::string add = v ? "'" + *v + "'" : "None";
      if (t && t->size() >= 2 && t->front() == '(' && t->back() == ')')
        *t = t->substr(0, t->size() - 1) + ", " + add + ")";
      else
        t = "(" + (t ? "'" + *t + "'" : std::string("None")) + ", " + add + ")";
    }
    return g;
  }

  std::optional<std::string> fail_id() const {
    for (const char* n : {"fid", "ip4", "ip6", "dns"}) {
      int i = re.group_index(n);
      if (i >= 0 && md.has(i)) return std::string(md.group(i));
    }
    return std::nullopt;
  }

  size_t matched_line_count() const { return matched_tuple_lines().size(); }
};

void buffer_text_into(const std::vector<TupleLine>& lines, std::string& buf) {
  buf.clear();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) buf += '\n';
    buf += lines[i].pre;
    buf += lines[i].post;
  }
  buf += '\n';
}

std::string buffer_text(const std::vector<TupleLine>& lines) {
  std::string buf;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) buf += '\n';
    buf += lines[i].pre;
    buf += lines[i].post;
  }
  buf += '\n';
  return buf;
}

Result<std::unique_ptr<CompiledRegex>> compile_filter_regex(const std::string& raw, const std::string& usedns,
                                                            bool multiline, const std::string& what) {
  std::string expanded = expand_filter_tags(raw, usedns);
  if (trim(expanded).empty()) return invalid(what + ": empty regex");
  std::string pattern = translate_python_regex(expanded);
  auto re = Regex::compile(pattern, Regex::Options{multiline, false});
  if (!re) return re.error().wrap(what);
  auto compiled = std::make_unique<CompiledRegex>(std::move(*re));
  if (!multiline) {
    compiled->prefix = required_prefix(pattern);
    // PCRE2 computes no start bytes for an anchored pattern, so ask it about the
    // same pattern without its '^': a match at the start begins with one of them.
    if (anchored_single_branch(pattern) && pattern.size() > 1 && !std::strchr("?*+{", pattern[1])) {
      auto body = Regex::compile(pattern.substr(1), Regex::Options{false, false, false});
      if (body) compiled->first = body->first_bytes();
    }
  }
  return compiled;
}

struct MlfidEntry {
  std::shared_ptr<FailState> fail;
  double stamp = 0;
  uint64_t seq = 0;  // insertion order, for evicting the oldest
};

}  // namespace

struct Filter::Impl {
  FilterOptions options;
  std::optional<DateDetector> dates;
  std::unique_ptr<CompiledRegex> prefregex;
  std::vector<std::unique_ptr<CompiledRegex>> failregex;
  std::vector<std::unique_ptr<CompiledRegex>> ignoreregex;
  size_t max_lines = 1;
  // Single-line filters: every failregex needs one of these texts, so a line
  // without any of them cannot fail (see Filter::create).
  std::optional<LiteralSet> required;
  bool required_newline_ = false;  // one of the required literals holds a '\n'
  // Bit i of start_mask_[b]: failregex i (i < 64) can match a buffer starting with byte b.
  std::array<uint64_t, 256> start_mask_{};
  bool ignore_first_ = false;  // ignoreregex runs before the failregexes (see find_failure)
  std::vector<TupleLine> line_buffer;
  std::optional<double> last_date;
  std::string last_time_text;
  std::unordered_map<std::string, MlfidEntry> mlfid;
  std::map<uint64_t, std::string> mlfid_order;  // seq -> id, oldest first
  uint64_t mlfid_seq = 0;
  int prefregex_content_ = -1;
  std::vector<TupleLine> org_;  // the lines of this match attempt (maxlines = 1: see find_failure)
  std::string org_buf_, cur_buf_;
  std::string mlfid_key_;  // the F-MLFID of the failure being merged (find_failure)

  std::optional<int> ignore_line(const std::string& buf, bool ascii, const std::vector<TupleLine>& org,
                                 CompiledRegex* fail_regex) {
    const std::string* b = &buf;
    const std::vector<TupleLine>* o = &org;
    std::string local_buf;
    std::vector<TupleLine> local_org;
    if (fail_regex && max_lines > 1) {
      local_org = fail_regex->matched_tuple_lines();
      local_buf = buffer_text(local_org);
      ascii = is_ascii(local_buf);
      b = &local_buf;
      o = &local_org;
    }
    std::optional<int> found;
    for (size_t i = 0; i < ignoreregex.size(); ++i) {
      if (!ignoreregex[i]->search(*b, *o, ascii)) continue;
      found = static_cast<int>(i);
      if (!options.check_all_regex || max_lines > 1) {
        if (fail_regex) line_buffer = fail_regex->unmatched;
      }
      if (!options.check_all_regex) break;
    }
    return found;
  }

  std::shared_ptr<FailState> mlfid_get(const std::string& id, double now) {
    auto it = mlfid.find(id);
    if (it == mlfid.end()) return nullptr;
    if (now - it->second.stamp > options.mlfid_max_age) {
      mlfid_order.erase(it->second.seq);
      mlfid.erase(it);
      return nullptr;
    }
    return it->second.fail;
  }
  void mlfid_set(const std::string& id, std::shared_ptr<FailState> f, double now) {
    auto it = mlfid.find(id);
    if (it != mlfid.end()) {
      it->second.fail = std::move(f);
      it->second.stamp = now;
      return;
    }
    while (mlfid.size() >= options.mlfid_max_entries && !mlfid_order.empty()) {
      mlfid.erase(mlfid_order.begin()->second);
      mlfid_order.erase(mlfid_order.begin());
    }
    uint64_t seq = ++mlfid_seq;
    mlfid_order.emplace(seq, id);
    mlfid.emplace(id, MlfidEntry{std::move(f), now, seq});
  }
  void mlfid_unset(const std::string& id) {
    auto it = mlfid.find(id);
    if (it == mlfid.end()) return;
    mlfid_order.erase(it->second.seq);
    mlfid.erase(it);
  }

  // Adds fail's "user" group, if set and non-empty, to f's users (read in place, not copied).
  static std::set<std::string>* update_users(FailState& f, const FailState& fail) {
    if (auto it = fail.g.find("user"); it != fail.g.end() && truthy(it->second)) {
      if (!f.users) f.users.emplace();
      f.users->insert(*it->second);
    }
    return f.users ? &*f.users : nullptr;
  }

  std::shared_ptr<FailState> merge_failure(const std::string& id, std::shared_ptr<FailState> fail,
                                           CompiledRegex& re, double now) {
    auto cached = mlfid_get(id, now);
    std::set<std::string>* users = nullptr;
    int flags = 0;
    if (fail->is_truthy("mlfgained")) {
      flags |= 8 | 1;
      if (!fail->is_truthy("nofail")) fail->g["nofail"] = fail->get("mlfgained");
    } else if (fail->is_truthy("nofail")) {
      flags |= 1;
    }
    if (fail->pop_truthy("mlfforget")) flags |= 2;
    if (cached) {
      users = update_users(*cached, *fail);
      if (cached->pop_truthy("nofail")) flags |= 4;
      if (cached->pop_truthy("mlfgained")) flags |= 4;
      if (flags & 8) cached->mlfpending = false;
      if ((flags & 4) == 0 && !cached->mlfpending) cached->matches.reset();
      cached->g.update(fail->g, true);
      fail = cached;
      if (flags & 2) mlfid_unset(id);
    } else if (!(flags & 2)) {
      users = update_users(*fail, *fail);
      mlfid_set(id, fail, now);
    }
    bool pending = fail->mlfpending;
    fail->mlfpending = false;
    if (pending || (users && users->size() > 1)) {
      fail->pop("nofail");
      fail->pop("mlfgained");
      flags &= ~(8 | 1);
    }
    if ((flags & 1) == 0) {
      size_t m = fail->nofail_matches.value_or(0) + fail->matches.value_or(0);
      fail->nofail_matches.reset();
      if ((flags & 8) == 0) m += re.matched_line_count();
      fail->matches = m;
    } else if ((flags & 3) == 1) {
      fail->nofail_matches = fail->nofail_matches.value_or(0) + re.matched_line_count();
    }
    return fail;
  }

  // One line, split around its time stamp. With maxlines = 1 only its text
  // (pre + post) is matched and its parts are never read again (matched lines
  // are counted, not copied), so they go straight into the match buffer.
  LineResult find_failure(std::string_view pre, std::string_view date_text, std::string_view post,
                          bool line_ascii, std::optional<double> date, double now) {
    LineResult result;
    const bool raw_default = options.return_raw_host;
    bool buf_ascii = line_ascii;
    bool literals_found = false;
    if (max_lines > 1) {
      line_buffer.push_back(TupleLine{std::string(pre), std::string(date_text), std::string(post)});
      if (line_buffer.size() > max_lines)
        line_buffer.erase(line_buffer.begin(), line_buffer.end() - max_lines);
      org_ = line_buffer;
      buffer_text_into(org_, org_buf_);
      buf_ascii = is_ascii(org_buf_);
    } else {
      // Most lines stop at the literal check below: when it can be made on the
      // line itself, make it before copying the line into the match buffer.
      // Without a date prefix the buffer is post + '\n', and no literal holds a
      // '\n', so the answer is the same.
      if (required && pre.empty() && !required_newline_ && !ignore_first_) {
        if (!required->contains_any(post)) return result;
        literals_found = true;
      }
      org_.resize(1);
      org_buf_.assign(pre);
      org_buf_ += post;
      org_buf_ += '\n';
    }
    const std::vector<TupleLine>& org = org_;
    const std::string* buf = &org_buf_;
    bool buf_valid = true;
    if (ignore_first_) {
      if (ignore_line(*buf, buf_ascii, org, nullptr)) {
        result.ignored = true;
        return result;
      }
    }
    // No failregex can match (their texts are not in the line, and prefregex's
    // content is part of it): the result of running them all, without the cost.
    // With maxlines = 1 a miss changes no state, so skipping is exact.
    if (required && !literals_found && !required->contains_any(*buf)) return result;
    std::optional<Groups> pre_groups;
    if (prefregex) {
      if (!prefregex->search(*buf, org, buf_ascii)) return result;
      if (prefregex_content_ >= 0 && prefregex->md.has(prefregex_content_) &&
          prefregex->md.end(prefregex_content_) > prefregex->md.start(prefregex_content_)) {
        if (max_lines == 1) {
          // The buffer fail2ban would build from [("", "", content)], built
          // directly: with maxlines = 1 nothing reads line_buffer before it is
          // reassigned (a failregex's unmatched lines), so it is left alone.
          cur_buf_.assign(prefregex->md.group(prefregex_content_));
          cur_buf_ += '\n';
          buf = &cur_buf_;
          if (!buf_ascii) buf_ascii = is_ascii(cur_buf_);  // an ASCII line has ASCII content
        } else {
          // Reuses the buffer's strings: no allocation per line once they have grown.
          line_buffer.resize(1);
          line_buffer[0].pre.clear();
          line_buffer[0].date.clear();
          line_buffer[0].post.assign(prefregex->md.group(prefregex_content_));
          buf_valid = false;
        }
      }
    }
    for (size_t idx = 0; idx < failregex.size(); ++idx) {
      CompiledRegex& re = *failregex[idx];
      if (!buf_valid) {
        buffer_text_into(line_buffer, cur_buf_);
        buf = &cur_buf_;
        buf_ascii = is_ascii(cur_buf_);
        buf_valid = true;
      }
      // The first-byte check CompiledRegex::search starts with, for all
      // failregexes at once: most lines can start only a few of them.
      if (idx < 64 && !buf->empty() && !(start_mask_[static_cast<unsigned char>((*buf)[0])] >> idx & 1))
        continue;
      if (!re.search(*buf, org, buf_ascii)) continue;
      if (prefregex && !pre_groups) pre_groups = prefregex->groups("content");
      Groups groups = re.groups();
      if (!ignoreregex.empty() && ignore_line(*buf, buf_ascii, org, &re)) {
        result.ignored = true;
        buf_valid = false;
        if (!options.check_all_regex) break;
        continue;
      }
      if (!options.check_all_regex || max_lines > 1) {
        line_buffer = re.unmatched;
        buf_valid = false;
      }
      auto fail = std::make_shared<FailState>();
      if (pre_groups && !pre_groups->empty()) {
        // Without check_all_regex this is the only failure of the line: take them.
        if (options.check_all_regex)
          fail->g = *pre_groups;
        else
          fail->g = std::move(*pre_groups);
        fail->g.update(std::move(groups), false);
      } else {
        fail->g = std::move(groups);
      }
      // The id is copied into a buffer kept across lines (merge_failure may change
      // fail->g): no allocation once it has grown.
      const auto mlf_it = fail->g.find("mlfid");
      const bool mlf_id = mlf_it != fail->g.end() && mlf_it->second;
      if (mlf_id) {
        mlfid_key_ = *mlf_it->second;
        fail = merge_failure(mlfid_key_, std::move(fail), re, now);
        if (fail->is_truthy("nofail") && !options.check_all_regex) return result;
      } else {
        fail->matches = fail->matches.value_or(0) + re.matched_line_count();
      }
      auto fid = fail->get("fid");
      std::optional<std::string> ip;
      std::optional<int> cidr;
      int family = 0;
      bool raw = raw_default;
      if ((ip = fail->get("ip4"))) {
        family = 4;
        raw = true;
      } else if ((ip = fail->get("ip6"))) {
        family = 6;
        raw = true;
      } else if ((ip = fail->get("dns"))) {
      } else {
        if (!fid && !mlf_id) fid = re.fail_id();
        ip = fid;
        raw = true;
      }
      if (auto c = fail->get("cidr"); truthy(c) && family) cidr = std::atoi(c->c_str());
      Failure f;
      f.regex_index = static_cast<int>(idx);
      f.time = date;
      if (!ip) {
        fail->mlfpending = true;
        if (!options.check_all_regex) return result;
        f.has_id = false;
      } else {
        auto as_address = [&](const std::string& text, std::optional<int> plen) -> std::optional<Cidr> {
          std::string t = text;
          if (plen) t += "/" + std::to_string(*plen);
          auto c = Cidr::parse(t);
          if (!c) return std::nullopt;
          if (family == 4 && c->addr.family != Family::V4) return std::nullopt;
          return *c;
        };
        if (raw) {
          if (!fid || *fid == *ip) {
            f.addr = family ? as_address(*ip, cidr) : std::nullopt;
            if (!family) f.addr = as_address(*ip, std::nullopt);
            f.host = f.addr ? f.addr->str() : *ip;
          } else {
            f.host = *fid;  // an F-ID failure: the id counts, the address is extra
            if (auto a = as_address(*ip, cidr)) f.fields["ip"] = a->str();
          }
        } else {
          f.host = *ip;  // a host name: resolved later (usedns), never here
          f.addr = as_address(*ip, std::nullopt);
          if (f.addr) f.host = f.addr->str();
        }
      }
      for (const auto& [k, v] : fail->g)
        if (v) f.fields.insert_or_assign(f.fields.end(), k, *v);  // in key order: no tree search
      if (fail->users) f.users = *fail->users;
      f.attempts = static_cast<int>(fail->matches.value_or(0));
      f.nofail = fail->is_truthy("nofail");
      result.failures.push_back(std::move(f));
      if (!options.check_all_regex) break;
    }
    return result;
  }
};

Filter::Filter(Filter&&) noexcept = default;
Filter& Filter::operator=(Filter&&) noexcept = default;
Filter::~Filter() = default;

size_t Filter::failregex_count() const { return impl_->failregex.size(); }

Result<Filter> Filter::create(const FilterDefinition& def, FilterOptions options) {
  Filter f;
  f.def_ = def;
  f.impl_ = std::make_unique<Impl>();
  Impl& impl = *f.impl_;
  impl.options = options;
  impl.max_lines = static_cast<size_t>(std::max(1, def.maxlines));
  const bool multiline = impl.max_lines > 1;
  auto dd = DateDetector::create(def.datepattern, def.logtimezone);
  if (!dd) return dd.error().wrap(def.source);
  impl.dates.emplace(std::move(*dd));
  if (def.prefregex) {
    auto re = compile_filter_regex(*def.prefregex, def.usedns, false, def.source + ": prefregex");
    if (!re) return re.error();
    impl.prefregex = std::move(*re);
    impl.prefregex_content_ = impl.prefregex->re.group_index("content");
    impl.prefregex->keep_unset = false;
  }
  if (def.failregex.empty()) return invalid(def.source + ": no failregex");
  for (size_t i = 0; i < def.failregex.size(); ++i) {
    auto what = def.source + ": failregex " + std::to_string(i);
    auto re = compile_filter_regex(def.failregex[i], def.usedns, multiline, what);
    if (!re) return re.error();
    if (!(*re)->has_id_group && !(impl.prefregex && impl.prefregex->has_id_group))
      return invalid(what + ": no host or failure-id group (<HOST>, <ADDR>, <F-ID>, ...) in '" +
                     def.failregex[i] + "'");
    (*re)->keep_unset = false;
    if (impl.prefregex)
      for (const auto& [name, num] : (*re)->sorted_names)
        if (name != "content" && impl.prefregex->re.group_index(name) >= 0) (*re)->keep_unset = true;
    impl.failregex.push_back(std::move(*re));
  }
  for (size_t i = 0; i < impl.failregex.size() && i < 64; ++i)
    for (size_t b = 0; b < 256; ++b)
      if (impl.failregex[i]->first[b]) impl.start_mask_[b] |= uint64_t{1} << i;
  if (!multiline) {
    LiteralSet set;
    bool all = true;
    for (const auto& re : impl.failregex) {
      auto lits = required_literals(re->re.pattern());
      if (!lits) {
        all = false;
        break;
      }
      for (const auto& l : *lits) {
        all = all && set.add(l);
        if (l.find('\n') != std::string::npos) impl.required_newline_ = true;
      }
    }
    if (all) impl.required.emplace(std::move(set));
  }
  for (size_t i = 0; i < def.ignoreregex.size(); ++i) {
    auto re = compile_filter_regex(def.ignoreregex[i], def.usedns, multiline,
                                   def.source + ": ignoreregex " + std::to_string(i));
    if (!re) return re.error();
    impl.ignoreregex.push_back(std::move(*re));
  }
  impl.ignore_first_ = !impl.ignoreregex.empty() && impl.ignoreregex.size() + 2 < impl.failregex.size();
  return f;
}

LineResult Filter::process_line(std::string_view line, double now, std::optional<double> known_time) {
  Impl& impl = *impl_;
  const bool ascii = is_ascii(line);
  // The line as fail2ban's (pre, date, post) tuple, as views into `line` or last_time_text.
  std::string_view pre, date_text, post;
  std::optional<double> date;
  if (known_time) {
    post = line;
    date = known_time;
    impl.last_date = date;
  } else {
    auto m = impl.dates->match(line, now, ascii);
    if (m) {
      pre = line.substr(0, m->start);
      date_text = line.substr(m->start, m->end - m->start);
      post = line.substr(m->end);
      if (!date_text.empty()) {
        if (m->time) {
          date = m->time;
          impl.last_time_text.assign(date_text);
          impl.last_date = date;
        }
      } else if (impl.last_date && *impl.last_date > now - 60) {
        pre = {};
        date_text = impl.last_time_text;
        post = line;
        date = impl.last_date;
      } else {
        date = now;
      }
    } else {
      post = line;
    }
    if (!date && impl.last_date && *impl.last_date > now - 60) {
      pre = {};
      date_text = impl.last_time_text;
      post = line;
      date = impl.last_date;
    }
  }
  return impl.find_failure(pre, date_text, post, ascii, date, now);
}

}  // namespace xdpban
