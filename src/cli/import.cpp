#include "cli/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bpf/blocklist.h"
#include "bpf/datapath.h"
#include "core/ban_manager.h"
#include "core/blocklist_parser.h"
#include "core/duration.h"
#include "io/fd.h"

namespace xdpban {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kShowNotes = 20;  // per kind, on stderr; the counts are always complete

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Reads the list in chunks into the parser: memory is the entries, not the
// file (a line longer than kMaxBlocklistLine is rejected, not held).
Result<ParsedBlocklist> read_blocklist(const std::string& path, size_t max_notes) {
  Fd owned;
  int fd = STDIN_FILENO;
  if (path != "-") {
    owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid()) return make_error(errno, "cannot open " + path + ": " + std::strerror(errno));
    fd = owned.get();
  }
  BlocklistReader reader(max_notes);
  std::vector<char> buf(size_t{1} << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(errno, "cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    reader.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return reader.finish();
}

// A bar on stderr while entries are written, only when a person watches.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), on_(total >= 10000 && isatty(STDERR_FILENO)) {}
  ~Progress() { done(); }
  void tick(size_t n) {
    if (!on_ || (n & 4095) != 0) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    int fill = static_cast<int>(kWidth * n / total_);
    std::fprintf(stderr, "\rimporting [%.*s%*s] %3zu%% %zu/%zu", fill, "##############################",
                 kWidth - fill, "", 100 * n / total_, n, total_);
    drawn_ = true;
  }
  void done() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  size_t total_;
  bool on_;
  bool drawn_ = false;
  Clock::time_point last_{};
};

// Does an existing ban that ends at `theirs` last at least as long as one
// ending at `ours`? (0 = permanent.)
bool outlasts(uint64_t theirs, uint64_t ours) { return theirs == 0 || (ours != 0 && theirs >= ours); }

struct Counts {
  size_t added = 0;               // newly banned (or taken over from an expired or shorter ban)
  size_t already = 0;             // already listed in this jail (expiry refreshed)
  size_t kept = 0;                // banned at least as long by another jail: left to it
  size_t refused = 0;             // own or allow-listed addresses (without --force)
  size_t removed = 0;             // --replace: entries of the jail not in the new list
  size_t not_loaded = 0;          // did not fit: the tables are full
  std::string not_loaded_reason;  // the first such error
};

// What a full table is called when an import stops fitting.
constexpr const char* kTablesFull =
    "the ban tables are full (their size is set when the maps are created: xdpban attach --capacity, "
    "xdpban.conf capacity)";

struct Options {
  std::string file;
  std::string jail = "import";
  std::string for_text;
  bool replace = false;
  bool force = false;
  bool strict = false;
  bool json = false;
};

// Writes the entries into the maps itself (no daemon): merged in one pass
// with what the maps hold, so --replace knows what the jail no longer lists.
int write_direct(Blocklist& bl, uint16_t jail_id, const std::vector<BlocklistEntry>& entries, uint64_t ttl_ns,
                 const Options& o, const std::string& name, Counts* counts) {
  Counts& n = *counts;
  auto say = [](const std::string& m) { std::fprintf(stderr, "xdpban: %s\n", m.c_str()); };
  auto fail_with = [&say](const std::string& m) {
    say(m);
    return kExitFailed;
  };
  auto existing = bl.list();
  if (!existing) return fail_with(existing.error().message);
  std::sort(existing->begin(), existing->end(),
            [](const BanInfo& a, const BanInfo& b) { return cidr_less(a.cidr, b.cidr); });

  // Merge the sorted new set with the sorted existing bans: one pass decides
  // what to write and, for --replace, what the jail no longer lists.
  const uint64_t now = boottime_ns();
  const uint64_t expires = ttl_ns ? now + ttl_ns : 0;
  std::vector<Cidr> stale;
  size_t j = 0;
  auto pass_existing = [&](const BanInfo& b) {
    if (o.replace && b.jail == jail_id) stale.push_back(b.cidr);
  };
  Progress progress(entries.size());
  std::vector<BanInfo> writes;      // what the maps get, in one go
  std::vector<size_t*> adds_to;     // ... the count each one adds to once written
  std::vector<size_t> write_entry;  // ... and its entry
  for (size_t i = 0; i < entries.size(); ++i) {
    progress.tick(i);
    const auto& e = entries[i];
    while (j < existing->size() && cidr_less((*existing)[j].cidr, e.cidr)) pass_existing((*existing)[j++]);
    bool write = true;
    size_t* count = &n.added;
    if (j < existing->size() && (*existing)[j].cidr == e.cidr) {
      const BanInfo& ex = (*existing)[j++];
      bool live = ex.expires_ns == 0 || ex.expires_ns > now;
      if (live && ex.jail == jail_id) {
        count = &n.already;
        write = ex.expires_ns != expires || ex.flags != XDPBAN_BAN_IMPORT;
      } else if (live && outlasts(ex.expires_ns, expires)) {
        count = &n.kept;  // its own jail keeps it; --replace of this jail never removes it
        write = false;
      }
    }
    if (!write) {
      ++*count;
      continue;
    }
    writes.push_back(BanInfo{e.cidr, expires, jail_id, XDPBAN_BAN_IMPORT});
    adds_to.push_back(count);
    write_entry.push_back(i);
  }
  auto written = bl.ban_many(writes);
  std::optional<size_t> failed;
  for (size_t w = 0; w < writes.size(); ++w) {
    if (written[w]) {
      ++*adds_to[w];
    } else if (BanSink::is_full(written[w].error())) {
      // Full: this one is not loaded; later ones may still fit (updates of entries already there).
      if (n.not_loaded++ == 0) n.not_loaded_reason = kTablesFull;
    } else if (!failed) {
      failed = w;
    }
  }
  if (failed) {
    progress.done();
    const auto& e = entries[write_entry[*failed]];
    say(name + ":" + std::to_string(e.line) + ": " + written[*failed].error().message);
    say("loaded " + std::to_string(n.added + n.already) + " of " + std::to_string(entries.size()) +
        " entries; nothing was removed from jail '" + o.jail + "'");
    return kExitFailed;
  }
  while (j < existing->size()) pass_existing((*existing)[j++]);
  progress.done();
  // Only now that the whole new set is enforced do the old entries go (and
  // not at all when some of it did not fit).
  if (n.not_loaded > 0) stale.clear();
  for (const auto& c : stale) {
    auto r = bl.unban(c);
    if (!r) return fail_with(r.error().message);
    n.removed += *r;
  }
  if (auto st = bl.maintain(false); !st) return fail_with(st.error().message);
  return kExitOk;
}

int run_import(const Options& o, const GlobalOptions& g) {
  auto t0 = Clock::now();
  const std::string name = o.file == "-" ? "<stdin>" : o.file;
  auto say = [](const std::string& m) { std::fprintf(stderr, "xdpban: %s\n", m.c_str()); };
  auto stop = [&say](int code, const std::string& m) {
    say(m);
    return code;
  };

  uint64_t ttl_ns = 0;
  if (!o.for_text.empty()) {
    auto d = parse_duration(o.for_text);
    if (!d) return stop(kExitUsage, "--for: " + d.error().message);
    if (*d <= 0) return stop(kExitUsage, "--for: '" + o.for_text + "' must be longer than 0s");
    ttl_ns = static_cast<uint64_t>(*d) * 1000000000ull;
  }

  auto parsed = read_blocklist(o.file, kShowNotes);
  if (!parsed) return stop(kExitUsage, parsed.error().message);
  ParsedBlocklist list = std::move(*parsed);
  auto t_parse = Clock::now();

  for (const auto& w : list.warnings)
    std::fprintf(stderr, "%s:%u: warning: %s\n", name.c_str(), w.line, w.message.c_str());
  if (list.normalised > list.warnings.size())
    std::fprintf(stderr, "%s: warning: ... and %zu more lines with host bits set\n", name.c_str(),
                 list.normalised - list.warnings.size());
  for (const auto& e : list.errors)
    std::fprintf(stderr, "%s:%u: %s\n", name.c_str(), e.line, e.message.c_str());
  if (list.rejected > list.errors.size())
    std::fprintf(stderr, "%s: ... and %zu more rejected lines\n", name.c_str(),
                 list.rejected - list.errors.size());
  if (o.strict && list.rejected > 0)
    return stop(kExitUsage, "--strict: " + std::to_string(list.rejected) + " of " +
                                std::to_string(list.lines) + " lines in " + name +
                                " rejected; nothing imported");

  // With xdpband running it is the one writer: the checked list goes to it.
  const bool via_daemon = daemon_up(g);
  if (!via_daemon) {
    DatapathOptions dopts;
    dopts.pin_dir = g.pin_dir;
    if (auto st = ensure_maps(dopts); !st) return stop(kExitFailed, st.error().message);
  }
  if (auto st = check_jail_name(o.jail); !st) return stop(kExitUsage, "--jail: " + st.error().message);
  auto opened = Blocklist::open(g.pin_dir, via_daemon ? Blocklist::Access::kRead : Blocklist::Access::kWrite);
  if (!opened) return stop(kExitFailed, opened.error().message);
  Blocklist& bl = **opened;

  Counts n;
  std::vector<BlocklistEntry> entries = std::move(list.entries);
  if (!o.force) {
    auto guard = load_guard(bl);
    if (!guard) return stop(kExitFailed, guard.error().message);
    size_t shown = 0;
    std::erase_if(entries, [&](const BlocklistEntry& e) {
      auto why = guard->refuse(e.cidr);
      if (!why) return false;
      if (shown++ < kShowNotes) std::fprintf(stderr, "%s:%u: %s\n", name.c_str(), e.line, why->c_str());
      ++n.refused;
      return true;
    });
    if (n.refused > kShowNotes)
      std::fprintf(stderr, "%s: ... and %zu more refused entries\n", name.c_str(), n.refused - kShowNotes);
  }
  if (o.replace && entries.empty() && !o.force)
    return stop(kExitUsage, "--replace: " + name + " has no entries to import; refusing to empty jail '" +
                                o.jail + "' (use --force if meant)");
  const auto t_prep = Clock::now();
  auto t_write = t_prep;

  if (via_daemon) {
    std::string lines;
    lines.reserve(entries.size() * 16);
    for (const auto& e : entries) (lines += e.cidr.str()) += '\n';
    nlohmann::json req{{"cmd", "import"},
                       {"jail", o.jail},
                       {"replace", o.replace},
                       {"force", o.force},
                       {"entries", std::move(lines)}};
    req["duration"] = ttl_ns ? static_cast<int64_t>(ttl_ns / 1000000000ull) : -1;
    auto r = daemon_call(g, req, 600000);
    if (!r) return stop(kExitFailed, r.error().message);
    n.added = r->value("added", size_t{0});
    n.already = r->value("already", size_t{0});
    n.kept = r->value("kept", size_t{0});
    n.removed = r->value("removed", size_t{0});
    // Refused by the daemon though not here: the host's addresses or allow list changed meanwhile.
    size_t refused_there = r->value("refused", size_t{0});
    n.refused += refused_there;
    // What the daemon neither loaded, kept nor refused did not fit (a daemon
    // that does not say not_loaded still gives the counts to tell).
    size_t accounted = n.added + n.already + n.kept + refused_there;
    n.not_loaded =
        r->value("not_loaded", entries.size() > accounted ? entries.size() - accounted : size_t{0});
    if (n.not_loaded > 0) n.not_loaded_reason = r->value("not_loaded_reason", std::string(kTablesFull));
    for (const auto& x : (*r)["refused_examples"])
      std::fprintf(stderr, "%s: %s\n", name.c_str(), x.value("why", "").c_str());
    t_write = Clock::now();
  } else {
    auto jid = bl.jail_id(o.jail);
    if (!jid) return stop(kExitUsage, "--jail: " + jid.error().message);
    auto written = write_direct(bl, *jid, entries, ttl_ns, o, name, &n);
    if (written != kExitOk) return written;
    t_write = Clock::now();
    note_direct_write();
  }
  double total = seconds_since(t0);

  size_t rejected = list.rejected + n.refused;
  if (o.json) {
    nlohmann::json j_out{{"file", name},         {"jail", o.jail},
                         {"lines", list.lines},  {"added", n.added},
                         {"already", n.already}, {"duplicates", list.duplicates},
                         {"kept", n.kept},       {"rejected", list.rejected},
                         {"refused", n.refused}, {"normalised", list.normalised},
                         {"removed", n.removed}, {"not_loaded", n.not_loaded},
                         {"seconds", total},     {"daemon", via_daemon}};
    std::printf("%s\n", j_out.dump().c_str());
  } else {
    std::printf(
        "[%s] imported %s: %zu added, %zu already listed, %zu duplicate lines, %zu kept by other jails, "
        "%zu rejected%s%s in %.2f s\n",
        o.jail.c_str(), name.c_str(), n.added, n.already, list.duplicates, n.kept, rejected,
        o.replace ? (", " + std::to_string(n.removed) + " removed").c_str() : "",
        n.not_loaded ? (", " + std::to_string(n.not_loaded) + " not loaded (tables full)").c_str() : "",
        total);
  }
  if (n.not_loaded > 0) {
    size_t wanted = entries.size();
    std::fprintf(stderr, "xdpban: loaded %zu of %zu entries; %zu not loaded: %s%s\n", wanted - n.not_loaded,
                 wanted, n.not_loaded, n.not_loaded_reason.c_str(),
                 o.replace ? "; --replace removed nothing" : "");
  }
  if (g.verbose)
    std::fprintf(stderr, "xdpban: timing: read and parse %.3f s, checks %.3f s, %s %.3f s\n",
                 std::chrono::duration<double>(t_parse - t0).count(),
                 std::chrono::duration<double>(t_prep - t_parse).count(),
                 via_daemon ? "xdpband" : "write and remove",
                 std::chrono::duration<double>(t_write - t_prep).count());
  if (attachments().empty())
    std::fprintf(stderr,
                 "xdpban: note: the XDP program is not attached to any interface, so bans are stored but not "
                 "enforced; run 'xdpban attach IFACE'\n");
  return rejected > 0 || n.not_loaded > 0 ? kExitSomeRejected : kExitOk;
}

}  // namespace

void add_import_command(CLI::App& app, GlobalOptions& g) {
  static Options o;
  auto* cmd = app.add_subcommand(
      "import",
      "Bulk-load a blocklist into a jail: one address or network per line, '#' and ';' comments "
      "(Spamhaus DROP, FireHOL .netset, plain lists; CRLF is fine)");
  cmd->add_option("FILE", o.file, "The list, or - for standard input")->required();
  cmd->add_option("--jail", o.jail, "Jail the entries are listed under")->capture_default_str();
  cmd->add_option("--for", o.for_text, "How long (10m, 1h, 2d, 1w); default: permanent");
  cmd->add_flag(
      "--replace", o.replace,
      "The file is the jail's whole list: add the new entries first, then remove the jail's entries "
      "that are no longer listed (there is never a moment when neither set is enforced)");
  cmd->add_flag("--force", o.force,
                "Import even entries covering this host's own addresses or allow-listed ones, and let "
                "--replace empty the jail when the file has no entries");
  cmd->add_flag("--strict", o.strict, "Import nothing (exit 2) if any line is rejected");
  cmd->add_flag("--json", o.json, "Print the summary as one JSON object");
  cmd->footer(
      "Host bits of a network are cleared with a warning (203.0.113.7/24 -> 203.0.113.0/24). Entries "
      "already listed in the jail have their expiry refreshed; an entry another jail bans at least as "
      "long is left to that jail. While xdpband runs, the checked list goes through it (one writer, "
      "kept in its database); otherwise the pinned maps are written directly and the daemon adopts the "
      "entries when it starts.\n"
      "Lines longer than 4096 bytes are rejected lines.\n"
      "Exit codes: 0 every line imported; 4 a partial import: the good lines were imported, the rejected "
      "ones (bad lines, own or allow-listed addresses) are listed on stderr as FILE:LINE: why, or the ban "
      "tables filled up and stderr says 'loaded N of M entries; K not loaded: why' (the entries loaded are "
      "enforced; --replace then removes nothing); 2 bad input, nothing changed (unreadable file, bad --for "
      "or --jail, --strict with rejected lines, --replace with an empty list); 1 the operation failed (no "
      "permission, a map error other than full; --replace then removes nothing).");
  cmd->callback([&g] { g.exit_code = run_import(o, g); });
}

}  // namespace xdpban
