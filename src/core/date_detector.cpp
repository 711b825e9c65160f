#include "core/date_detector.h"

#include <array>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>

#include "core/ini.h"

namespace xdpban {

namespace {

enum Flags : int { kLineBegin = 8, kLineEnd = 4, kWordBegin = 2, kWordEnd = 1 };
enum class WordBegin { kNo, kYes, kStart };

// The strptime directives fail2ban understands, as Python regex fragments.
const std::map<std::string, std::string>& time_directives() {
  static const std::map<std::string, std::string> kMap = [] {
    std::map<std::string, std::string> m = {
        {"a", "(?P<a>mon|tue|wed|thu|fri|sat|sun)"},
        {"A", "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)"},
        {"b", "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"},
        {"B", "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)"},
        {"d", "(?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1])"},
        {"f", "(?P<f>[0-9]{1,6})"},
        {"H", "(?P<H>[0-1]?\\d|2[0-3])"},
        {"I", "(?P<I>1[0-2]|0[1-9]|[1-9])"},
        {"j", "(?P<j>36[0-6]|3[0-5]\\d|[1-2]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])"},
        {"k", " ?(?P<H>[0-2]?\\d)"},
        {"l", " ?(?P<I>1?\\d)"},
        {"m", "(?P<m>0?[1-9]|1[0-2])"},
        {"M", "(?P<M>[0-5]?\\d)"},
        {"p", "(?P<p>am|pm)"},
        {"S", "(?P<S>[0-5]?\\d|6[0-1])"},
        {"u", "(?P<u>[1-7])"},
        {"U", "(?P<U>5[0-3]|[0-4]\\d|\\d)"},
        {"w", "(?P<w>[0-6])"},
        {"W", "(?P<W>5[0-3]|[0-4]\\d|\\d)"},
        {"y", "(?P<y>\\d\\d)"},
        {"Y", "(?P<Y>\\d{4})"},
        {"z", "(?P<z>Z|UTC|GMT|[+-][01]\\d(?::?\\d{2})?)"},
        {"Z", "(?P<Z>Z|[A-Z]{3,5})"},
        {"ExZ", "(?P<Z>[A-Z](?:[A-Z]{2,4})?)"},
        {"Exz", "(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\\d(?::?\\d{2})?|[A-Z](?:[A-Z]{2,4})?)"},
        {"Exd", "(?P<d>[1-2]\\d|0[1-9]|3[0-1])"},
        {"Exm", "(?P<m>0[1-9]|1[0-2])"},
        {"ExH", "(?P<H>[0-1]\\d|2[0-3])"},
        {"Exk", " ?(?P<H>[0-1]?\\d|2[0-3])"},
        {"Exl", " ?(?P<I>1[0-2]|\\d)"},
        {"ExM", "(?P<M>[0-5]\\d)"},
        {"ExS", "(?P<S>[0-5]\\d|6[0-1])"},
        {"Exy", "(?P<y>\\d{2})"},
    };
    m["X"] = m["H"] + ":" + m["M"] + ":" + m["S"];
    // %ExY: four-digit years of this century-decade window (fail2ban builds it
    // from the current year and 2001, so that old sample logs still parse).
    time_t now = time(nullptr);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    int year = tmv.tm_year + 1900;
    std::string prefixes;
    for (int decade = 200; decade <= (year + 3) / 10; ++decade) prefixes += std::to_string(decade % 10);
    m["ExY"] = "(?P<Y>20[" + prefixes + "]\\d)";
    return m;
  }();
  return kMap;
}

// Minutes east of UTC for time-zone abbreviations (fixed offsets, no DST switch).
const std::map<std::string, int>& zone_abbreviations() {
  static const std::map<std::string, int> kZones = [] {
    std::map<std::string, int> z;
    struct Row {
      double hours;
      const char* names;
    };
    static const Row kRows[] = {
        {-12, "Y"},
        {-11, "X NUT SST"},
        {-10, "W CKT HAST HST TAHT TKT"},
        {-9, "V AKST GAMT GIT HADT HNY"},
        {-8, "U AKDT CIST HAY HNP PST PT"},
        {-7, "T HAP HNR MST PDT"},
        {-6, "S CST EAST GALT HAR HNC MDT"},
        {-5, "R CDT COT EASST ECT EST ET HAC HNE PET"},
        {-4, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"},
        {-3, "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT"},
        {-2, "O BRST FNT PMDT UYST WGST"},
        {-1, "N AZOT CVT EGT"},
        {0, "Z EGST GMT UTC WET WT"},
        {1, "A CET DFT WAT WEDT WEST"},
        {2, "B CAT CEDT CEST EET SAST WAST"},
        {3, "C EAT EEDT EEST IDT MSK"},
        {4, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"},
        {5, "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT"},
        {6, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"},
        {7, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"},
        {8, "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST"},
        {9, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"},
        {10, "K AEST ChST PGT VLAT YAKST YAPT"},
        {11, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"},
        {12, "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT"},
        {13, "FJST NZDT"},
        {11.5, "NFT"},
        {10.5, "ACDT LHST"},
        {9.5, "ACST"},
        {6.5, "CCT MMT"},
        {5.75, "NPT"},
        {5.5, "SLT"},
        {4.5, "AFT IRDT"},
        {3.5, "IRST"},
        {-2.5, "HAT NDT"},
        {-3.5, "HNT NST NT"},
        {-4.5, "HLV VET"},
        {-9.5, "MART MIT"},
    };
    for (const auto& row : kRows) {
      std::string names = row.names;
      size_t p = 0;
      while (p < names.size()) {
        size_t sp = names.find(' ', p);
        if (sp == std::string::npos) sp = names.size();
        z[names.substr(p, sp - p)] = static_cast<int>(row.hours * 60);
        p = sp + 1;
      }
    }
    z[""] = 0;
    return z;
  }();
  return kZones;
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s)
    if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
  return v;
}

// Python-regex substitution helpers (the patterns below are fail2ban's template rules).
struct Rule {
  Regex re;
  explicit Rule(const char* pattern) : re(*Regex::compile(pattern)) {}
  bool search(const std::string& s) const {
    MatchData md(re);
    return re.search(s, md);
  }
};

const Rule& rule(int which) {
  static const Rule kRules[] = {
      Rule(R"(^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^))"),  // 0: no word bound at begin
      Rule(R"((?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$)"),              // 1: no word bound at end
      Rule(R"((?<!\(\?)(?<!\\)\((?!\?))"),                       // 2: has a plain group
      Rule(R"(^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|)))"),       // 3: line-begin anchored
      Rule(R"((?<![\\\|])(?:\$\)?)$)"),                          // 4: line-end anchored
      Rule(R"((?<!%)%[aAbBpc])"),                                // 5: alphabetic directive
      Rule(R"(^\(*(?:\(\?\w+\))?\(*(\*\*))"),                    // 6: leading ** marker
      Rule(R"((?<!\\)(\*\*)\)*$)"),                              // 7: trailing ** marker
  };
  return kRules[which];
}

}  // namespace

std::optional<int> parse_time_zone(std::string_view tz) {
  std::string s(tz);
  size_t i = 0;
  while (i < s.size() && s[i] >= 'A' && s[i] <= 'Z') ++i;
  std::string abbr = s.substr(0, i), off = s.substr(i);
  if (abbr == "Z" || abbr == "UTC" || abbr == "GMT") {
    if (off.empty()) return 0;
  }
  auto z = zone_abbreviations().find(abbr);
  if (z == zone_abbreviations().end()) return std::nullopt;
  if (off.empty()) return z->second;
  if ((off[0] != '+' && off[0] != '-') || off.size() < 3) return std::nullopt;
  int sign = off[0] == '-' ? -1 : 1;
  for (size_t k = 1; k < off.size(); ++k)
    if (!(std::isdigit(static_cast<unsigned char>(off[k])) || (k == 3 && off[k] == ':'))) return std::nullopt;
  if (off.size() == 3) return z->second + sign * to_int(off.substr(1, 2)) * 60;
  size_t mm = off[3] == ':' ? 4 : 3;
  if (off.size() != mm + 2) return std::nullopt;
  return z->second + sign * (to_int(off.substr(1, 2)) * 60 + to_int(off.substr(mm, 2)));
}

// `re` with every named group turned into a non-capturing one, or nullopt when
// that might change what it matches or what group 1 is: a pattern that refers
// to groups (backreferences, conditions, recursion), whose group 1 is named,
// or whose rewrite does not drop exactly the named groups.
std::optional<Regex> without_named_captures(const Regex& re) {
  const std::string& p = re.pattern();
  for (const char* refers : {"(?P=", "(?P>", "(?(", "(?&", "(?R", "\\g", "\\k"})
    if (p.find(refers) != std::string::npos) return std::nullopt;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] == '\\') {
      if (p[i + 1] >= '1' && p[i + 1] <= '9') return std::nullopt;
      ++i;
    } else if (p[i] == '(' && p[i + 1] == '?' && i + 2 < p.size() &&
               (p[i + 2] == '+' || p[i + 2] == '-' || std::isdigit(static_cast<unsigned char>(p[i + 2])))) {
      return std::nullopt;  // (?1), (?+1), (?-1): a call to a numbered group
    }
  }
  for (const auto& [name, num] : re.names())
    if (num == 1) return std::nullopt;
  std::string out;
  size_t dropped = 0;
  for (size_t i = 0; i < p.size();) {
    size_t open = 0;  // length of a "(?P<" or "(?<" that opens a named group here
    if (p[i] == '\\') {
      out.append(p, i, 2);
      i += 2;
      continue;
    }
    if (p.compare(i, 4, "(?P<") == 0)
      open = 4;
    else if (p.compare(i, 3, "(?<") == 0 && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!')
      open = 3;
    size_t close = open ? p.find('>', i + open) : std::string::npos;
    if (close == std::string::npos) {
      out += p[i++];
      continue;
    }
    out += "(?:";
    i = close + 1;
    ++dropped;
  }
  if (dropped != re.names().size()) return std::nullopt;
  auto lite = Regex::compile(out);
  if (!lite || lite->capture_count() != re.capture_count() - static_cast<int>(dropped) ||
      !lite->names().empty())
    return std::nullopt;
  return std::move(*lite);
}

class DateTemplate {
 public:
  enum class Kind { kPattern, kEpoch, kTai64n };
  std::string name;
  std::optional<std::string> pattern;  // the datepattern text, for pattern templates
  Kind kind = Kind::kPattern;
  Regex re;
  int flags = 0;
  int group = 1;
  bool long_epoch = false;
  std::array<int, 128> fields = make_fields();  // strptime letter -> group number, -1 if absent

  static std::array<int, 128> make_fields() {
    std::array<int, 128> f;
    f.fill(-1);
    return f;
  }

  static Result<std::shared_ptr<DateTemplate>> from_regex(std::string regex, WordBegin wb, bool word_end,
                                                          Kind kind);
  static Result<std::shared_ptr<DateTemplate>> from_pattern(const std::string& pattern);
  static Result<std::shared_ptr<DateTemplate>> epoch(bool line_begin_only, bool long_form,
                                                     const std::optional<std::string>& pattern);
  static Result<std::shared_ptr<DateTemplate>> tai64n(bool line_begin);

  std::optional<double> time_of(const MatchData& md, double now, std::optional<int> default_tz) const;
};

Result<std::shared_ptr<DateTemplate>> DateTemplate::from_regex(std::string regex, WordBegin wb, bool word_end,
                                                               Kind kind) {
  regex = trim(regex);
  // A global flag group such as (?iu) moves to the front once the bounds are added.
  std::string global_flags;
  for (size_t p = regex.find("(?"); p != std::string::npos; p = regex.find("(?", p + 1)) {
    size_t q = p + 2;
    while (q < regex.size() && regex[q] >= 'a' && regex[q] <= 'z') ++q;
    if (q > p + 2 && q < regex.size() && regex[q] == ')') {
      global_flags = regex.substr(p, q + 1 - p);
      regex.erase(p, q + 1 - p);
      break;
    }
  }
  bool bound_begin = wb != WordBegin::kNo && !rule(0).search(regex);
  bool bound_end = word_end && !rule(1).search(regex);
  if (!rule(2).search(regex)) {
    // Wrap everything but leading flags/^ and a trailing $ into group 1.
    size_t b = 0;
    auto skip_flags = [&] {
      if (regex.compare(b, 2, "(?") == 0) {
        size_t q = b + 2;
        while (q < regex.size() && (std::isalnum(static_cast<unsigned char>(regex[q])) || regex[q] == '_'))
          ++q;
        if (q > b + 2 && q < regex.size() && regex[q] == ')') b = q + 1;
      }
    };
    skip_flags();
    if (b < regex.size() && regex[b] == '^') ++b;
    skip_flags();
    size_t e = regex.size();
    if (e > b && regex[e - 1] == '$') --e;
    regex = regex.substr(0, b) + "(" + regex.substr(b, e - b) + ")" + regex.substr(e);
  }
  int flags = 0;
  std::string name_prefix;
  if (bound_begin) {
    if (wb == WordBegin::kStart) {
      flags |= kLineBegin;
      regex = "^(?:\\W{0,2})?" + regex;
      name_prefix = "{^LN-BEG}";
    } else {
      flags |= kWordBegin;
      regex = "(?=^|\\b|\\W)" + regex;
    }
  }
  if (bound_end) {
    flags |= kWordEnd;
    regex += "(?=\\b|\\W|$)";
  }
  if (!(flags & kLineBegin) && rule(3).search(regex)) flags |= kLineBegin;
  if (!(flags & kLineEnd) && rule(4).search(regex)) flags |= kLineEnd;
  // Drop the "**" markers that switched word bounds off.
  {
    MatchData md(rule(6).re);
    if (rule(6).re.search(regex, md)) regex.erase(md.start(1), 2);
    MatchData md2(rule(7).re);
    if (rule(7).re.search(regex, md2)) regex.erase(md2.start(1), 2);
  }
  regex = global_flags + regex;
  auto re = Regex::compile(translate_python_regex(regex));
  if (!re) return re.error();
  // The date is group 1 (match() reads it). The check for a plain group above
  // is a heuristic that "[(]" or "\\(" fool: a pattern left without one would
  // be read past its match data.
  if (re->capture_count() < 1) return invalid("date pattern '" + regex + "' has no group for the date");
  auto t = std::make_shared<DateTemplate>();
  t->name = name_prefix;
  t->kind = kind;
  t->re = std::move(*re);
  t->flags = flags;
  for (const auto& [n, num] : t->re.names())
    if (n.size() == 1 && static_cast<unsigned char>(n[0]) < 128)
      t->fields[static_cast<unsigned char>(n[0])] = num;
  return t;
}

Result<std::shared_ptr<DateTemplate>> DateTemplate::from_pattern(const std::string& pattern_in) {
  std::string pattern = pattern_in;
  WordBegin wb = WordBegin::kYes;
  bool we = true;
  if (pattern.rfind("{UNB}", 0) == 0) {
    pattern.erase(0, 5);
    wb = WordBegin::kNo;
    we = false;
  }
  if (wb == WordBegin::kYes && pattern.rfind("{^LN-BEG}", 0) == 0) {
    pattern.erase(0, 9);
    wb = WordBegin::kStart;
  }
  const auto& dirs = time_directives();
  std::string regex;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 >= pattern.size()) {
      regex += pattern[i];
      continue;
    }
    if (pattern[i + 1] == '%') {
      regex += '%';
      ++i;
      continue;
    }
    if (pattern.compare(i + 1, 2, "Ex") == 0 && i + 3 < pattern.size()) {
      auto it = dirs.find(pattern.substr(i + 1, 3));
      if (it != dirs.end()) {
        regex += it->second;
        i += 3;
        continue;
      }
    }
    auto it = dirs.find(std::string(1, pattern[i + 1]));
    if (it == dirs.end())
      return invalid("datepattern '" + pattern_in + "': unknown directive '%" + pattern[i + 1] + "'");
    regex += it->second;
    ++i;
  }
  if (rule(5).search(pattern)) regex = "(?i)" + regex;
  auto t = from_regex(regex, wb, we, Kind::kPattern);
  if (t) {
    (*t)->name += pattern_in;
    (*t)->pattern = pattern_in;
  }
  return t;
}

Result<std::shared_ptr<DateTemplate>> DateTemplate::epoch(bool line_begin_only, bool long_form,
                                                          const std::optional<std::string>& pattern) {
  std::string epoch_re =
      long_form ? R"(\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?)" : R"(\d{10,11}\b(?:\.\d{3,6})?)";
  Result<std::shared_ptr<DateTemplate>> t = invalid("epoch");
  int group = 1;
  if (pattern) {
    std::string p = *pattern, out;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] == '{' && (p.compare(i, 7, "{EPOCH}") == 0 || p.compare(i, 8, "{LEPOCH}") == 0) &&
          (i == 0 || p[i - 1] != '\\')) {
        out += "(" + epoch_re + ")";
        i = p.find('}', i);
      } else {
        out += p[i];
      }
    }
    t = from_regex("(" + out + ")", WordBegin::kYes, true, Kind::kEpoch);
    group = 2;
  } else if (!line_begin_only) {
    t = from_regex(R"re(((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\())))re" + epoch_re +
                       R"re()(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\]))))re",
                   WordBegin::kNo, true, Kind::kEpoch);
  } else {
    t = from_regex(R"(((?P<square>(?<=^\[))?)" + epoch_re + R"()(?(square)(?=\])))", WordBegin::kStart, true,
                   Kind::kEpoch);
  }
  if (!t) return t;
  (*t)->group = group;
  (*t)->long_epoch = long_form;
  (*t)->name += pattern ? *pattern : (long_form ? "LongEpoch" : "Epoch");
  return t;
}

Result<std::shared_ptr<DateTemplate>> DateTemplate::tai64n(bool line_begin) {
  auto t = from_regex("@[0-9a-f]{24}", line_begin ? WordBegin::kStart : WordBegin::kNo, true, Kind::kTai64n);
  if (t) (*t)->name += "TAI64N";
  return t;
}

namespace {

// Seconds of a broken-down time read as UTC (a "naive" datetime as a number).
int64_t naive_seconds(int year, int month, int day, int hour, int minute, int second) {
  // Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
  int y = year - (month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int yoe = static_cast<int>(y - era * 400);
  int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

// Local wall-clock seconds -> unix time, as mktime does; cached per hour.
int64_t local_to_unix(int64_t naive) {
  thread_local int64_t cached_hour = INT64_MIN;
  thread_local int64_t cached_offset = 0;
  int64_t hour = naive / 3600;
  if (hour != cached_hour) {
    time_t tt = static_cast<time_t>(hour * 3600);
    struct tm t;
    gmtime_r(&tt, &t);
    t.tm_isdst = -1;
    time_t local = mktime(&t);
    cached_offset = hour * 3600 - static_cast<int64_t>(local);
    cached_hour = hour;
  }
  return naive - cached_offset;
}

// The local calendar view of "now", cached: lines of one batch share it.
struct LocalNow {
  int64_t naive = 0;
  int year = 0, month = 0, day = 0;
};

const LocalNow& local_now(double now) {
  thread_local double cached = -1;
  thread_local LocalNow view;
  if (now != cached) {
    time_t tt = static_cast<time_t>(now);
    struct tm t;
    localtime_r(&tt, &t);
    view.year = t.tm_year + 1900;
    view.month = t.tm_mon + 1;
    view.day = t.tm_mday;
    view.naive = timegm(&t);
    cached = now;
  }
  return view;
}

int month_index(std::string_view name, bool full) {
  static const char* const kFull[] = {"january", "february", "march",     "april",   "may",      "june",
                                      "july",    "august",   "september", "october", "november", "december"};
  // Compared letter by letter in lower case, without building a lowered copy.
  for (int i = 0; i < 12; ++i) {
    std::string_view want = full ? std::string_view(kFull[i]) : std::string_view(kFull[i], 3);
    if (name.size() != want.size()) continue;
    size_t k = 0;
    while (k < want.size() && std::tolower(static_cast<unsigned char>(name[k])) == want[k]) ++k;
    if (k == want.size()) return i + 1;
  }
  return 0;
}

}  // namespace

std::optional<double> DateTemplate::time_of(const MatchData& md, double now,
                                            std::optional<int> default_tz) const {
  if (kind == Kind::kEpoch) {
    std::string v(md.group(group));
    if (v.empty()) return std::nullopt;
    double t = std::strtod(v.c_str(), nullptr);
    if (long_epoch && v.size() >= 13)
      t = (v.size() >= 16 && v.find('.') == std::string::npos) ? t / 1e6 : t / 1e3;
    return t;
  }
  if (kind == Kind::kTai64n) {
    std::string v(md.group(1));
    if (v.size() < 17) return std::nullopt;
    return static_cast<double>(std::stoll(v.substr(2, 15), nullptr, 16));
  }
  auto get = [&](char c) -> std::optional<std::string_view> {
    int g = fields[static_cast<unsigned char>(c)];
    if (g < 0 || !md.has(g)) return std::nullopt;
    return md.group(g);
  };
  std::optional<int> year, month, day, tz;
  int hour = 0, minute = 0, second = 0;
  if (auto v = get('y')) {
    year = to_int(*v);
    if (*year <= 2000) *year += 2000;
  }
  if (auto v = get('Y')) year = to_int(*v);
  if (auto v = get('m')) month = to_int(*v);
  if (auto v = get('B')) month = month_index(*v, true);
  if (auto v = get('b')) month = month_index(*v, false);
  if (auto v = get('d')) day = to_int(*v);
  if (auto v = get('H')) hour = to_int(*v);
  if (auto v = get('I')) {
    hour = to_int(*v);
    std::string ampm;
    if (auto p = get('p')) ampm = to_lower(*p);
    if (ampm.empty() || ampm == "am") {
      if (hour == 12) hour = 0;
    } else if (ampm == "pm" && hour != 12) {
      hour += 12;
    }
  }
  if (auto v = get('M')) minute = to_int(*v);
  if (auto v = get('S')) second = to_int(*v);
  for (char zc : {'z', 'Z'}) {
    if (auto v = get(zc)) {
      if (*v == "Z" || *v == "UTC" || *v == "GMT") {
        tz = 0;
      } else {
        tz = parse_time_zone(*v);
        if (!tz) return std::nullopt;
      }
    }
  }
  auto now_local = [&] { return local_now(now).naive; };
  bool assume_year = false, assume_today = false;
  if (!year) {
    year = local_now(now).year;
    assume_year = true;
  }
  if (auto j = get('j'); j && (!month || !day)) {
    int64_t jan1 = naive_seconds(*year, 1, 1, 0, 0, 0) + (to_int(*j) - 1) * int64_t{86400};
    time_t tt = static_cast<time_t>(jan1);
    struct tm t;
    gmtime_r(&tt, &t);
    year = t.tm_year + 1900;
    month = t.tm_mon + 1;
    day = t.tm_mday;
  }
  if (!month && !day) {
    month = local_now(now).month;
    day = local_now(now).day;
    assume_today = true;
  }
  if (!month || !day || *month < 1 || *month > 12 || *day < 1 || *day > 31 || hour > 23 || minute > 59 ||
      second > 61)
    return std::nullopt;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*day > kDays[*month - 1]) return std::nullopt;
  if (!tz && default_tz) tz = default_tz;
  int64_t naive = naive_seconds(*year, *month, *day, hour, minute, second);
  if (tz) naive -= int64_t{*tz} * 60;
  if (assume_today && naive > now_local()) naive -= 86400;
  if (assume_year && naive > now_local() + 86400)
    naive = naive_seconds(*year - 1, *month, *day, hour, minute, second) - (tz ? int64_t{*tz} * 60 : 0);
  return static_cast<double>(tz ? naive : local_to_unix(naive));
}

struct DateDetector::Entry {
  std::shared_ptr<const DateTemplate> t;
  MatchData md;
  // t->re with its named groups made non-capturing (group 1, the date, kept):
  // the same matches, found with less capture work. Built the first time the
  // fast path in match() wants it; stays empty when the rewrite cannot be shown
  // to keep the matches (without_named_captures).
  std::optional<Regex> lite;
  std::optional<MatchData> lite_md;
  bool lite_tried = false;
  int hits = 0;
  size_t distance = SIZE_MAX;
  explicit Entry(std::shared_ptr<const DateTemplate> tp) : t(std::move(tp)), md(t->re) {}
};

DateDetector::DateDetector(DateDetector&&) noexcept = default;
DateDetector& DateDetector::operator=(DateDetector&&) noexcept = default;
DateDetector::~DateDetector() = default;
size_t DateDetector::template_count() const { return templates_.size(); }

namespace {

const char* const kDefaultPatterns[] = {
    R"(%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?)",
    R"((?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?)",
    R"((?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?)",
    R"(%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S)",
    R"(%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?)",
    R"(%m/%d/%ExY:%H:%M:%S)",
    R"(%m-%d-%ExY %k:%M:%S(?:\.%f)?)",
    "EPOCH",
    R"({^LN-BEG}%H:%M:%S)",
    R"(^<%m/%d/%Exy@%H:%M:%S>)",
    R"(%Exy%Exm%Exd  ?%H:%M:%S)",
    R"(%b %d, %ExY %I:%M:%S %p)",
    R"(^%b-%d-%Exy %k:%M:%S)",
    R"(%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?)",
    R"((?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?)",
    R"((?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?)",
    "TAI64N",
};

// One datepattern entry (or default) -> its template, as fail2ban keys them.
Result<std::shared_ptr<DateTemplate>> template_for(const std::string& pattern) {
  std::string key = pattern.find('%') == std::string::npos ? to_upper(pattern) : pattern;
  if (key.find("EPOCH") != std::string::npos) {
    bool marker = false;
    for (size_t i = pattern.find('{'); i != std::string::npos; i = pattern.find('{', i + 1)) {
      std::string up = to_upper(pattern.substr(i, 8));
      if ((up.rfind("{EPOCH}", 0) == 0 || up.rfind("{LEPOCH}", 0) == 0) && (i == 0 || pattern[i - 1] != '\\'))
        marker = true;
    }
    if (marker) return DateTemplate::epoch(false, key.find("LEPOCH") != std::string::npos, pattern);
    if (key == "EPOCH" || key == "{^LN-BEG}EPOCH" || key == "^EPOCH")
      return DateTemplate::epoch(key != "EPOCH", false, std::nullopt);
    if (key == "LEPOCH" || key == "{^LN-BEG}LEPOCH" || key == "^LEPOCH")
      return DateTemplate::epoch(key != "LEPOCH", true, std::nullopt);
  }
  if (key == "TAI64N" || key == "{^LN-BEG}TAI64N" || key == "^TAI64N")
    return DateTemplate::tai64n(key != "TAI64N");
  return DateTemplate::from_pattern(pattern);
}

struct DefaultTemplates {
  std::vector<std::shared_ptr<const DateTemplate>> originals;  // fail2ban's list, in order
  std::vector<std::shared_ptr<const DateTemplate>> all;        // anchored copies first, then originals
};

const DefaultTemplates& default_templates() {
  static const DefaultTemplates kDefaults = [] {
    DefaultTemplates d;
    std::vector<std::shared_ptr<const DateTemplate>> anchored;
    for (const char* p : kDefaultPatterns) {
      auto t = template_for(p);
      if (!t) continue;  // the built-in patterns compile; a failure here is a bug caught by the tests
      d.originals.push_back(*t);
      const auto& name = (*t)->name;
      if (name.rfind("{^LN-BEG}", 0) == 0 || name.rfind("^", 0) == 0) continue;
      auto a = template_for("{^LN-BEG}" + ((*t)->pattern ? *(*t)->pattern : name));
      if (a && (*a)->name != name) anchored.push_back(*a);
    }
    d.all = anchored;
    d.all.insert(d.all.end(), d.originals.begin(), d.originals.end());
    return d;
  }();
  return kDefaults;
}

// Removes the bounds fail2ban puts around a pattern, for embedding it via {DATE}.
std::string unbound_pattern(std::string p) {
  if (p.rfind("{UNB}", 0) == 0) p.erase(0, 5);
  if (p.rfind("{^LN-BEG}", 0) == 0) p.erase(0, 9);
  for (const char* b : {"(?:^|\\b|\\W)", "(^|\\b|\\W)"})
    if (p.rfind(b, 0) == 0) p.erase(0, std::strlen(b));
  const std::string e = "(?=\\b|\\W|$)";
  if (p.size() >= e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0) p.erase(p.size() - e.size());
  return p;
}

}  // namespace

Result<DateDetector> DateDetector::create(const std::optional<std::string>& patterns,
                                          const std::optional<std::string>& default_tz) {
  DateDetector dd;
  if (default_tz) {
    dd.tz_offset_minutes_ = parse_time_zone(*default_tz);
    if (!dd.tz_offset_minutes_) return invalid("logtimezone: '" + *default_tz + "' is not a known time zone");
  }
  std::vector<std::string> names;
  auto add = [&](std::shared_ptr<const DateTemplate> t, bool ignore_dup) -> Status {
    for (const auto& n : names)
      if (n == t->name) {
        if (ignore_dup) return {};
        return invalid("datepattern: duplicate template '" + t->name + "'");
      }
    names.push_back(t->name);
    dd.templates_.emplace_back(std::move(t));
    return {};
  };
  if (!patterns) {
    for (const auto& t : default_templates().all) (void)add(t, true);
    return dd;
  }
  std::string all = *patterns;
  size_t pos = 0;
  while (pos <= all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    std::string p = trim(all.substr(pos, nl - pos));
    pos = nl + 1;
    if (p.empty()) continue;
    std::string key = p.find('%') == std::string::npos ? to_upper(p) : p;
    bool ignore_dup = !dd.templates_.empty();
    if (key == "{^LN-BEG}" || key == "{DEFAULT}") {
      for (const auto& t : default_templates().all)
        if (key == "{DEFAULT}" || (t->flags & kLineBegin)) (void)add(t, ignore_dup);
      continue;
    }
    auto date_at = to_upper(p).find("{DATE}");
    if (date_at != std::string::npos) {
      for (const auto& t : default_templates().originals) {
        std::string inner = t->pattern ? unbound_pattern(*t->pattern) : t->name;
        std::string wrapped = p.substr(0, date_at) + inner + p.substr(date_at + 6);
        auto w = template_for(wrapped);
        if (!w) return w.error().wrap("datepattern '" + p + "'");
        (void)add(*w, ignore_dup);
      }
      continue;
    }
    auto t = key == "{NONE}" ? DateTemplate::from_pattern("{UNB}^") : template_for(p);
    if (!t) return t.error();
    auto st = add(*t, false);
    if (!st) return st.error();
  }
  return dd;
}

std::optional<DateMatch> DateDetector::match(std::string_view line, double now, bool ascii) {
  const int n = static_cast<int>(templates_.size());
  int chosen = -1;
  int skip = -1;
  struct Found {
    int index = -1;
    size_t distance = SIZE_MAX;
  } found;
  // Log lines come in runs with the same stamp: when this one holds the last
  // converted stamp text where the last line did, its template most likely
  // matches it there again. The capture-free copy of the regex checks that; if
  // it finds that very match (and the last template would be chosen again),
  // the result is the one below, down to the cached time.
  if (last_ >= 0 && last_ == cached_template_ && !cached_text_.empty() && now >= cached_now_ &&
      now - cached_now_ < 60 && cached_start_ <= line.size() &&
      line.substr(cached_start_).starts_with(cached_text_)) {
    Entry& e = templates_[last_];
    if (!e.lite_tried) {
      e.lite_tried = true;
      e.lite = without_named_captures(e.t->re);
      if (e.lite) e.lite_md.emplace(*e.lite);
    }
    if (e.lite && e.lite->search(line, *e.lite_md, 0, ascii) && e.lite_md->has(1) &&
        e.lite_md->start(1) == cached_start_ && e.lite_md->end(1) == cached_start_ + cached_text_.size()) {
      size_t d = e.lite_md->start(0), end = e.lite_md->end(0);
      if (n == 1 || (e.t->flags & (kLineBegin | kLineEnd)) || (d == last_start_ && end == last_end_)) {
        e.hits++;
        e.distance = d;
        last_start_ = d;
        last_end_ = end;
        return DateMatch{cached_start_, cached_start_ + cached_text_.size(), cached_time_};
      }
    }
  }
  if (last_ >= 0 && last_ < n) {
    Entry& e = templates_[last_];
    if (e.t->re.search(line, e.md, 0, ascii)) {
      size_t d = e.md.start(0), end = e.md.end(0);
      if (n == 1 || (e.t->flags & (kLineBegin | kLineEnd)) || (d == last_start_ && end == last_end_)) {
        chosen = last_;
      } else {
        found = {last_, d};
      }
    }
    skip = last_;
  }
  if (chosen < 0) {
    for (int i = 0; i < n; ++i) {
      if (i == skip) continue;
      Entry& e = templates_[i];
      if (!e.t->re.search(line, e.md, 0, ascii)) continue;
      size_t d = e.md.start(0);
      if (i + 1 >= n || (e.t->flags & (kLineBegin | kLineEnd)) ||
          (d == 0 && e.hits && !templates_[i + 1].hits)) {
        chosen = i;
        break;
      }
      if (d > e.distance || d > last_start_) {
        if (d < found.distance) found = {i, d};
        continue;
      }
      chosen = i;
      break;
    }
    if (chosen < 0 && found.index >= 0) {
      chosen = found.index;
      Entry& e = templates_[chosen];
      e.t->re.search(line, e.md, 0, ascii);  // the reserved match data was overwritten by later tries
    }
  }
  if (chosen < 0) return std::nullopt;
  Entry& e = templates_[chosen];
  e.hits++;
  e.distance = e.md.start(0);
  last_ = chosen;
  last_start_ = e.md.start(0);
  last_end_ = e.md.end(0);
  DateMatch m;
  if (e.md.has(1)) {
    m.start = e.md.start(1);
    m.end = e.md.end(1);
  } else {  // "(stamp)?x": the date group took no part; no date text (PCRE2_UNSET is no offset)
    m.start = m.end = e.md.start(0);
  }
  if (m.end > m.start) {
    // Consecutive lines often carry the same time stamp text: convert it once.
    // Within a minute of `now`, so a year guessed from `now` stays the same.
    std::string_view text = line.substr(m.start, m.end - m.start);
    if (chosen == cached_template_ && text == cached_text_ && now >= cached_now_ && now - cached_now_ < 60) {
      m.time = cached_time_;
      cached_start_ = m.start;
    } else {
      m.time = e.t->time_of(e.md, now, tz_offset_minutes_);
      cached_template_ = chosen;
      cached_text_.assign(text);
      cached_start_ = m.start;
      cached_now_ = now;
      cached_time_ = m.time;
    }
  }
  return m;
}

}  // namespace xdpban
