// journal_source.h - reads the systemd journal through libsystemd's sd-journal:
// fail2ban's `journalmatch` syntax, entries formatted as fail2ban's systemd
// backend formats them, a cursor to resume after, an fd for epoll and bounded
// work per poll. Does not parse lines, decide bans or store cursors (StateStore).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct sd_journal;

namespace xdpban {

// What to read and where to start. The "where" fields mirror fail2ban's
// `backend = systemd[journalpath=..., journalfiles=..., journalflags=..., namespace=...]`;
// at most one of files, directory and name_space may be set (none: the local
// system journal).
struct JournalOptions {
  std::vector<std::string> files;  // explicit journal files (journalfiles)
  std::string directory;           // a journal directory (journalpath)
  std::string name_space;          // a journald namespace (namespace)
  // sd_journal_open flags (journalflags); default as fail2ban: SD_JOURNAL_SYSTEM
  // for the local journal or a namespace, 0 for files and directories.
  std::optional<int> flags;

  // journalmatch lines (a jail's or filter's `journalmatch`, one per line). The
  // lines are ORed; within a line, words are split like a shell (quotes work),
  // FIELD=value terms are ANDed (terms on the same field ORed, as in
  // journalctl), and a `+` word starts another ORed group. Empty: every entry.
  std::vector<std::string> match;

  // Resume after this entry (a cursor() saved before). Without one: start at
  // now - start_age seconds if given, else at the tail (only new entries).
  std::optional<std::string> cursor;
  std::optional<int64_t> start_age;
};

struct JournalPoll {
  size_t entries = 0;  // delivered to the callback
  size_t skipped = 0;  // entries that could not be read (corrupt or unknown compression)
  bool more = false;   // the batch limit was hit: call poll() again soon (timeout_ms() is 0)
};

class JournalSource {
 public:
  // One entry: the line a fail2ban journal filter sees, and the entry's time
  // (unix seconds, microsecond precision) to pass to Filter::process_line as
  // known_time. `line` is valid during the call only.
  using EntryFn = std::function<void(std::string_view line, double realtime)>;

  static Result<std::unique_ptr<JournalSource>> open(const JournalOptions& options);
  ~JournalSource();
  JournalSource(const JournalSource&) = delete;
  JournalSource& operator=(const JournalSource&) = delete;

  // Readable when the journal may have changed (sd_journal_get_fd, an inotify
  // fd; EPOLLIN).
  // Owned by the source: never close it.
  int fd() const { return fd_; }
  // The longest the event loop may wait before calling poll() although fd()
  // stayed quiet, poll(2)-style: -1 = no limit (the fd is reliable), 0 = at once
  // (a backlog is left, or the journal wants polling now), else milliseconds
  // (journal files on a network file system are re-checked periodically).
  int timeout_ms() const;

  // Processes fd() events (sd_journal_process) and delivers the entries that
  // followed the last one delivered, at most `max_entries` of them, so a huge
  // backlog does not starve the event loop: when `more` comes back true, call
  // again without waiting for fd(). The callback must not call back into this
  // source. An error leaves the position after the last delivered entry.
  Result<JournalPoll> poll(const EntryFn& on_entry, size_t max_entries = kBatch);

  // The position to save (StateStore::save_cursor) and pass back as
  // JournalOptions::cursor: after the last entry delivered (or skipped at
  // start). Empty when there is nothing to resume after yet.
  const std::string& cursor() const { return cursor_; }
  // What is read, for logs and errors: "the system journal", "journal files a, b".
  const std::string& description() const { return what_; }

  static constexpr size_t kBatch = 500;
  static constexpr size_t kMaxLine = 64 * 1024;  // longer lines are cut there

 private:
  struct Closer {
    void operator()(sd_journal* j) const;
  };
  JournalSource() = default;
  Status seek_start(const JournalOptions& options);
  bool format_entry();  // into line_ and time_; false: the entry cannot be read
  void save_cursor();

  std::unique_ptr<sd_journal, Closer> j_;
  int fd_ = -1;
  std::string what_;
  std::string cursor_;
  bool pending_ = false;  // the current entry is positioned but not yet delivered
  bool more_ = false;
  // Per-entry scratch, kept to reuse its capacity.
  std::string line_, host_, ident_, comm_, syslog_pid_, pid_, source_rt_, source_mono_, message_;
  double time_ = 0;
};

// Splits journalmatch lines into the ORed groups of ANDed FIELD=value terms that
// JournalSource adds as sd-journal matches. Errors name the line and the word.
Result<std::vector<std::vector<std::string>>> parse_journalmatch(const std::vector<std::string>& lines);

}  // namespace xdpban
