// file_tailer.h - follows log files with inotify (watching their directories):
// appends, rotation by rename+create, copytruncate, deleted/recreated files,
// files that do not exist yet, and partial last lines (held until completed).
// Positions (inode, offset, first-line hash) can be saved and resumed, so a
// restart neither re-reads nor skips. Does not parse lines.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "io/fd.h"
#include "io/state_store.h"

namespace xdpban {

class FileTailer {
 public:
  using LineFn = std::function<void(const std::string& path, std::string_view line)>;

  static Result<std::unique_ptr<FileTailer>> create();
  ~FileTailer();
  int fd() const { return inotify_.get(); }  // readable when something may have changed

  // Follows `path`. With a saved position of the same file, reading resumes
  // there; otherwise it starts at the end (from_start: at the beginning).
  // `path` must be absolute.
  Status add(const std::string& path, const std::optional<FilePosition>& saved, bool from_start = false);
  bool follows(const std::string& path) const { return files_.count(path) > 0; }

  // Drains inotify events and reads every followed file's new lines, at most
  // kReadBudget bytes per file per call so a huge append cannot starve the
  // caller's event loop. Returns true when data is left: call read_all() again
  // soon (no inotify event will say so).
  bool poll(const LineFn& on_line);
  // Reads new lines of every file regardless of events (start-up, ticks, tests);
  // same budget and return value as poll().
  bool read_all(const LineFn& on_line);

  std::optional<FilePosition> position(const std::string& path) const;
  std::vector<std::string> paths() const;

  static constexpr size_t kMaxLine = 64 * 1024;  // longer lines are cut there
  static constexpr uint64_t kReadBudget = 4 << 20;
  // How long a rotated-away file is still read (a writer may not have reopened yet).
  static constexpr int kRetireSeconds = 10;

 private:
  struct Stream;
  struct File;
  FileTailer() = default;
  void check(File& f, const LineFn& on_line);
  // Reads up to kReadBudget bytes; true if the budget ran out before EOF.
  bool read_new(const std::string& path, Stream& s, const LineFn& on_line);
  bool open_current(File& f);

  Fd inotify_;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory
  std::map<std::string, std::unique_ptr<File>> files_;
  bool more_ = false;  // some file stopped at the budget
};

}  // namespace xdpban
