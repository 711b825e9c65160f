#include "io/file_tailer.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace xdpban {

namespace {

std::string dir_of(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? "." : (s == 0 ? "/" : p.substr(0, s));
}

// FNV-1a of the first line, once it is complete (0 = not known yet).
uint64_t first_line_hash(int fd) {
  char buf[512];
  ssize_t n = pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return 0;
  const char* nl = static_cast<const char*>(memchr(buf, '\n', static_cast<size_t>(n)));
  if (!nl) return 0;
  uint64_t h = 1469598103934665603ull;
  for (const char* p = buf; p <= nl; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return h | 1;
}

}  // namespace

// One open file and what has been read of it.
struct FileTailer::Stream {
  Fd fd;
  uint64_t inode = 0;
  uint64_t offset = 0;
  uint64_t hash = 0;
  std::string partial;  // an incomplete last line
};

struct FileTailer::File {
  std::string path;
  Stream cur;
  Stream retired;  // the previous file after a rotation, drained for a while
  std::chrono::steady_clock::time_point retired_at;
};

Result<std::unique_ptr<FileTailer>> FileTailer::create() {
  std::unique_ptr<FileTailer> t(new FileTailer());
  t->inotify_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!t->inotify_.valid()) return make_error(errno, std::string("inotify_init1: ") + std::strerror(errno));
  return t;
}

FileTailer::~FileTailer() = default;

bool FileTailer::open_current(File& f) {
  Fd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return false;
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  f.cur = Stream{};
  f.cur.fd = std::move(fd);
  f.cur.inode = st.st_ino;
  f.cur.hash = first_line_hash(f.cur.fd.get());
  return true;
}

Status FileTailer::add(const std::string& path, const std::optional<FilePosition>& saved, bool from_start) {
  if (path.empty() || path[0] != '/') return invalid("log path '" + path + "' must be absolute");
  auto f = std::make_unique<File>();
  f->path = path;
  std::string dir = dir_of(path);
  int wd = inotify_add_watch(
      inotify_.get(), dir.c_str(),
      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB);
  if (wd < 0) return make_error(errno, "cannot watch " + dir + " for " + path + ": " + std::strerror(errno));
  dirs_[wd] = dir;
  if (open_current(*f)) {
    struct stat st;
    fstat(f->cur.fd.get(), &st);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    Stream& c = f->cur;
    if (saved && saved->inode == c.inode &&
        (saved->first_line_hash == 0 || saved->first_line_hash == c.hash) && saved->offset <= size) {
      c.offset = saved->offset;  // the same file: resume where we were
    } else if (saved) {
      c.offset = 0;  // rotated or replaced while we were away: all of it is new
    } else {
      c.offset = from_start ? 0 : size;
    }
  }
  files_[path] = std::move(f);
  return {};
}

bool FileTailer::read_new(const std::string& path, Stream& s, const LineFn& on_line) {
  if (!s.fd.valid()) return false;
  char buf[64 * 1024];
  uint64_t budget = kReadBudget;
  for (;;) {
    if (budget == 0) {
      more_ = true;
      return true;
    }
    ssize_t n = pread(s.fd.get(), buf, sizeof buf, static_cast<off_t>(s.offset));
    if (n <= 0) break;
    budget -= std::min<uint64_t>(budget, static_cast<uint64_t>(n));
    s.offset += static_cast<uint64_t>(n);
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (buf[i] != '\n') continue;
      std::string_view piece(buf + start, i - start);
      if (!s.partial.empty()) {
        s.partial.append(piece);
        std::string line = std::move(s.partial);
        s.partial.clear();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        on_line(path, line);
      } else {
        if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
        on_line(path, piece);
      }
      start = i + 1;
    }
    s.partial.append(buf + start, static_cast<size_t>(n) - start);
    if (s.partial.size() > kMaxLine) {  // a runaway line: hand over what we have
      on_line(path, std::string_view(s.partial).substr(0, kMaxLine));
      s.partial.clear();
    }
  }
  if (!s.hash) s.hash = first_line_hash(s.fd.get());
  return false;
}

void FileTailer::check(File& f, const LineFn& on_line) {
  if (f.retired.fd.valid()) {
    bool left = read_new(f.path, f.retired, on_line);
    if (!left && std::chrono::steady_clock::now() - f.retired_at > std::chrono::seconds(kRetireSeconds)) {
      if (!f.retired.partial.empty()) on_line(f.path, f.retired.partial);  // it ended without a newline
      f.retired = Stream{};
    }
  }
  struct stat st;
  bool exists = ::stat(f.path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  Stream& c = f.cur;
  if (c.fd.valid() && exists && st.st_ino == c.inode) {
    uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t h = c.hash ? first_line_hash(c.fd.get()) : 0;
    if (size < c.offset || (c.hash && h != c.hash)) {
      // copytruncate: the file was emptied (and maybe refilled) in place.
      c.offset = 0;
      c.partial.clear();
      c.hash = h;
    }
    read_new(f.path, c, on_line);
    return;
  }
  // Renamed away or deleted: keep reading the old file, a writer may still append.
  read_new(f.path, c, on_line);
  if (!exists) return;
  // A new file took the name: the old one retires (still drained for a while).
  if (f.retired.fd.valid() && !f.retired.partial.empty()) on_line(f.path, f.retired.partial);
  f.retired = std::move(c);
  f.retired_at = std::chrono::steady_clock::now();
  if (open_current(f)) read_new(f.path, f.cur, on_line);
}

bool FileTailer::poll(const LineFn& on_line) {
  alignas(struct inotify_event) char buf[16384];
  std::map<std::string, bool> touched;
  for (;;) {
    ssize_t n = read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      auto d = dirs_.find(ev->wd);
      if (d == dirs_.end() || ev->len == 0) continue;
      std::string path = (d->second == "/" ? "" : d->second) + "/" + ev->name;
      if (files_.count(path)) touched[path] = true;
    }
  }
  // Files that stopped at the budget last time go on too.
  if (more_)
    for (auto& [p, f] : files_) touched[p] = true;
  more_ = false;
  for (auto& [path, yes] : touched) check(*files_[path], on_line);
  return more_;
}

bool FileTailer::read_all(const LineFn& on_line) {
  more_ = false;
  for (auto& [p, f] : files_) check(*f, on_line);
  return more_;
}

std::optional<FilePosition> FileTailer::position(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  // The offset after the last complete line: a partial line is read again.
  const Stream& c = it->second->cur;
  if (!c.fd.valid()) return std::nullopt;
  return FilePosition{c.inode, c.offset - c.partial.size(), c.hash};
}

std::vector<std::string> FileTailer::paths() const {
  std::vector<std::string> out;
  for (const auto& [p, f] : files_) out.push_back(p);
  return out;
}

}  // namespace xdpban
