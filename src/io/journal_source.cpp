#include "io/journal_source.h"

#include <systemd/sd-journal.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xdpban {

namespace {

Error sd_error(int r, const std::string& what) { return make_error(-r, what + ": " + std::strerror(-r)); }

// shlex.split(line) in POSIX mode, as fail2ban splits a journalmatch line:
// whitespace separates words, '...' is literal, "..." honours \" and \\ only,
// a backslash outside quotes escapes any character.
Result<std::vector<std::string>> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else if (c == '\'') {
      auto end = line.find('\'', i + 1);
      if (end == std::string::npos) return invalid("journalmatch '" + line + "': no closing quotation");
      cur.append(line, i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      size_t k = i + 1;
      for (; k < line.size() && line[k] != '"'; ++k) {
        if (line[k] == '\\' && k + 1 < line.size() && (line[k + 1] == '"' || line[k + 1] == '\\')) ++k;
        cur += line[k];
      }
      if (k >= line.size()) return invalid("journalmatch '" + line + "': no closing quotation");
      i = k;
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) return invalid("journalmatch '" + line + "': no escaped character");
      cur += line[++i];
      in_word = true;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

// sd-journal's rule for field names: [A-Z0-9_], not starting with a digit, at most 64.
bool field_name_ok(std::string_view f) {
  if (f.empty() || f.size() > 64 || (f[0] >= '0' && f[0] <= '9')) return false;
  for (char c : f)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// Python's int(s) on a journal field (python-systemd converts _PID and
// SYSLOG_PID with int()): the canonical decimal text, or nullopt if it is not
// an integer.
std::optional<std::string> python_int(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_') continue;  // 1_000
    if (c < '0' || c > '9') return std::nullopt;
    if (digits.empty() && c == '0') continue;
    digits += c;
  }
  if (digits.empty()) return "0";
  return (neg ? "-" : "") + digits;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno || *end) return std::nullopt;
  return static_cast<uint64_t>(v);
}

uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

Result<std::vector<std::vector<std::string>>> parse_journalmatch(const std::vector<std::string>& lines) {
  std::vector<std::vector<std::string>> groups;
  for (const auto& line : lines) {
    auto words = shell_words(line);
    if (!words) return words.error();
    groups.emplace_back();
    for (auto& w : *words) {
      if (w == "+") {
        groups.emplace_back();
        continue;
      }
      auto eq = w.find('=');
      if (eq == std::string::npos || !field_name_ok(std::string_view(w).substr(0, eq)))
        return invalid("journalmatch '" + line + "': '" + w + "' is not FIELD=value (FIELD of A-Z, 0-9, _)");
      groups.back().push_back(std::move(w));
    }
  }
  std::erase_if(groups, [](const auto& g) { return g.empty(); });  // as sd_journal_add_disjunction does
  return groups;
}

void JournalSource::Closer::operator()(sd_journal* j) const { sd_journal_close(j); }

JournalSource::~JournalSource() = default;

Result<std::unique_ptr<JournalSource>> JournalSource::open(const JournalOptions& o) {
  if ((!o.files.empty()) + (!o.directory.empty()) + (!o.name_space.empty()) > 1)
    return invalid("journal: give journal files, a directory or a namespace, not several");
  std::unique_ptr<JournalSource> s(new JournalSource());
  sd_journal* raw = nullptr;
  int r;
  if (!o.files.empty()) {
    std::vector<const char*> paths;
    s->what_ = "journal files ";
    for (const auto& f : o.files) {
      paths.push_back(f.c_str());
      s->what_ += (paths.size() > 1 ? ", " : "") + f;
    }
    paths.push_back(nullptr);
    r = sd_journal_open_files(&raw, paths.data(), o.flags.value_or(0));
  } else if (!o.directory.empty()) {
    s->what_ = "journal directory " + o.directory;
    r = sd_journal_open_directory(&raw, o.directory.c_str(), o.flags.value_or(0));
  } else if (!o.name_space.empty()) {
    s->what_ = "journal namespace " + o.name_space;
    r = sd_journal_open_namespace(&raw, o.name_space.c_str(), o.flags.value_or(SD_JOURNAL_SYSTEM));
  } else {
    s->what_ = "the system journal";
    r = sd_journal_open(&raw, o.flags.value_or(SD_JOURNAL_SYSTEM));
  }
  if (r < 0) return sd_error(r, "opening " + s->what_);
  s->j_.reset(raw);
  sd_journal* j = raw;

  // Before any seeking, so that nothing written meanwhile goes unnoticed
  // (sd_journal_get_fd(3) asks for this).
  s->fd_ = sd_journal_get_fd(j);
  if (s->fd_ < 0) return sd_error(s->fd_, s->what_ + ": sd_journal_get_fd");
  r = sd_journal_set_data_threshold(j, kMaxLine);
  if (r < 0) return sd_error(r, s->what_ + ": sd_journal_set_data_threshold");

  auto groups = parse_journalmatch(o.match);
  if (!groups) return groups.error().wrap(s->what_);
  for (const auto& g : *groups) {
    for (const auto& term : g) {
      r = sd_journal_add_match(j, term.data(), term.size());
      if (r < 0) return sd_error(r, s->what_ + ": journalmatch '" + term + "'");
    }
    r = sd_journal_add_disjunction(j);
    if (r < 0) return sd_error(r, s->what_ + ": journalmatch");
  }

  auto st = s->seek_start(o);
  if (!st) return st.error().wrap(s->what_);
  return s;
}

// Positions on an entry that counts as already handled (its cursor is the
// resume point), or on the first entry to deliver with pending_ set.
Status JournalSource::seek_start(const JournalOptions& o) {
  sd_journal* j = j_.get();
  int r;
  if (o.cursor && !o.cursor->empty()) {
    r = sd_journal_seek_cursor(j, o.cursor->c_str());
    if (r < 0) return sd_error(r, "seeking to cursor '" + *o.cursor + "'");
    r = sd_journal_next(j);
    if (r < 0) return sd_error(r, "reading after cursor '" + *o.cursor + "'");
    if (r > 0) {
      // The saved entry itself if it is still there; else the first one after it.
      pending_ = sd_journal_test_cursor(j, o.cursor->c_str()) <= 0;
      cursor_ = *o.cursor;
      if (!pending_) save_cursor();
      return {};
    }
    cursor_ = *o.cursor;
  } else if (o.start_age) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
    uint64_t age = static_cast<uint64_t>(std::clamp<int64_t>(*o.start_age, 0, INT64_MAX / 1000000));
    uint64_t from = now > age * 1000000u ? now - age * 1000000u : 0;
    r = sd_journal_seek_realtime_usec(j, from);
    if (r < 0) return sd_error(r, "seeking to now - " + std::to_string(*o.start_age) + "s");
    r = sd_journal_next(j);
    if (r < 0) return sd_error(r, "reading from now - " + std::to_string(*o.start_age) + "s");
    if (r > 0) {
      pending_ = true;
      return {};
    }
  } else {
    r = sd_journal_seek_tail(j);
    if (r < 0) return sd_error(r, "seeking to the tail");
  }
  // Nothing (matching) at or after the start point: stand on the last entry
  // before it, so that next() continues right behind it. With no entry at all,
  // everything that comes later is new: start at the head.
  r = sd_journal_previous(j);
  if (r < 0) return sd_error(r, "reading the last entry");
  if (r > 0) {
    if (cursor_.empty()) save_cursor();  // a saved cursor stays the resume point
  } else {
    r = sd_journal_seek_head(j);
    if (r < 0) return sd_error(r, "seeking to the head");
  }
  return {};
}

void JournalSource::save_cursor() {
  char* c = nullptr;
  if (sd_journal_get_cursor(j_.get(), &c) >= 0 && c) cursor_ = c;
  std::free(c);
}

int JournalSource::timeout_ms() const {
  if (more_ || pending_) return 0;
  uint64_t t = 0;
  if (sd_journal_get_timeout(j_.get(), &t) <= 0 || t == UINT64_MAX) return -1;
  uint64_t now = monotonic_usec();
  if (t <= now) return 0;
  uint64_t ms = (t - now + 999) / 1000;
  return ms > 3600 * 1000 ? 3600 * 1000 : static_cast<int>(ms);
}

Result<JournalPoll> JournalSource::poll(const EntryFn& on_entry, size_t max_entries) {
  sd_journal* j = j_.get();
  int r = sd_journal_process(j);
  if (r < 0) return sd_error(r, what_ + ": sd_journal_process");
  if (max_entries == 0) max_entries = 1;
  JournalPoll out;
  size_t consumed = 0;
  Status status;
  while (true) {
    if (consumed >= max_entries) {
      out.more = true;
      break;
    }
    if (pending_) {
      pending_ = false;
    } else {
      r = sd_journal_next(j);
      if (r < 0) {
        status = sd_error(r, what_ + ": reading the next entry");
        break;
      }
      if (r == 0) break;
    }
    ++consumed;
    if (!format_entry()) {  // unreadable entry: skipped, as journalctl does
      ++out.skipped;
      continue;
    }
    ++out.entries;
    on_entry(line_, time_);
  }
  if (consumed > 0) save_cursor();
  more_ = out.more;
  if (!status) return status.error();
  return out;
}

// fail2ban's FilterSystemd.formatJournalEntry (server/filtersystemd.py):
//   [_HOSTNAME] [SYSLOG_IDENTIFIER or _COMM + "[" SYSLOG_PID or _PID "]" + ":"]
//   ["[%12.6f]" monotonic seconds, for "kernel:"] MESSAGE
// joined by spaces (empty fields left out, MESSAGE always there), newlines
// written as "\n"; the time is _SOURCE_REALTIME_TIMESTAMP, else the entry's
// __REALTIME_TIMESTAMP. A PID that is no integer is shown as is (python would
// show its bytes repr); several MESSAGE fields are joined by spaces, as
// fail2ban does; of other repeated fields the first counts.
bool JournalSource::format_entry() {
  sd_journal* j = j_.get();
  for (std::string* s : {&host_, &ident_, &comm_, &syslog_pid_, &pid_, &source_rt_, &source_mono_, &message_})
    s->clear();
  bool have_message = false, have_host = false, have_ident = false, have_comm = false;
  bool have_spid = false, have_pid = false, have_srt = false, have_smono = false;
  const void* data;
  size_t len;
  sd_journal_restart_data(j);
  int r;
  while ((r = sd_journal_enumerate_available_data(j, &data, &len)) > 0) {
    std::string_view f(static_cast<const char*>(data), len);
    auto take = [&](std::string_view name, std::string& into, bool& have) {
      if (have || f.size() < name.size() || f.compare(0, name.size(), name) != 0) return false;
      into.assign(f.substr(name.size(), kMaxLine));
      have = true;
      return true;
    };
    if (f.starts_with("MESSAGE=")) {
      if (have_message) message_ += ' ';
      message_.append(f.substr(8, kMaxLine));
      have_message = true;
      continue;
    }
    if (f.empty() || (f[0] != '_' && f[0] != 'S')) continue;
    if (take("_HOSTNAME=", host_, have_host) || take("SYSLOG_IDENTIFIER=", ident_, have_ident) ||
        take("_COMM=", comm_, have_comm) || take("SYSLOG_PID=", syslog_pid_, have_spid) ||
        take("_PID=", pid_, have_pid) || take("_SOURCE_REALTIME_TIMESTAMP=", source_rt_, have_srt))
      continue;
    take("_SOURCE_MONOTONIC_TIMESTAMP=", source_mono_, have_smono);
  }
  if (r < 0) return false;

  uint64_t usec = 0;
  if (auto v = parse_u64(source_rt_)) {
    usec = *v;
  } else if (sd_journal_get_realtime_usec(j, &usec) < 0) {
    return false;
  }
  time_ = static_cast<double>(usec / 1000000u) + static_cast<double>(usec % 1000000u) / 1e6;

  line_.clear();
  auto element = [&](std::string_view e) {
    if (!line_.empty()) line_ += ' ';
    line_.append(e);
  };
  if (!host_.empty()) element(host_);
  const std::string& id = !ident_.empty() ? ident_ : comm_;
  if (!id.empty()) {
    element(id);
    size_t id_start = line_.size() - id.size();
    // `if not v`: a missing, empty or zero SYSLOG_PID falls back to _PID.
    auto pid_text = [](const std::string& raw) -> std::optional<std::string> {
      if (raw.empty()) return std::nullopt;
      auto n = python_int(raw);
      if (!n) return raw;
      if (*n == "0") return std::nullopt;
      return n;
    };
    auto p = pid_text(syslog_pid_);
    if (!p) p = pid_text(pid_);
    if (p) line_ += "[" + *p + "]";
    line_ += ':';
    if (std::string_view(line_).substr(id_start) == "kernel:") {
      uint64_t mono = 0;
      if (auto v = parse_u64(source_mono_)) {
        mono = *v;
      } else {
        sd_id128_t boot;
        if (sd_journal_get_monotonic_usec(j, &mono, &boot) < 0) mono = 0;
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "[%12.6f]", static_cast<double>(mono) / 1e6);
      element(buf);
    }
  }
  element(message_);
  // Written as a literal backslash-n, so a multi-line message stays one line.
  for (size_t pos = 0; (pos = line_.find('\n', pos)) != std::string::npos; pos += 2)
    line_.replace(pos, 1, "\\n");
  if (line_.size() > kMaxLine) line_.resize(kMaxLine);
  return true;
}

}  // namespace xdpban
