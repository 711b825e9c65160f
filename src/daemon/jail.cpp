#include "daemon/jail.h"

#include <spdlog/spdlog.h>

#include <set>

namespace xdpban {

namespace {

// A jail override's text with each known/NAME marker replaced by the filter's
// NAME, else by the value known/NAME had in earlier jail files.
Result<std::string> resolve_known(const std::string& jail, const std::string& opt,
                                  const JailSettings::FilterOverride& o, const FilterDefinition& def) {
  std::string out;
  for (size_t p = 0;;) {
    size_t m = o.text.find('\x1f', p);
    if (m == std::string::npos) {
      out.append(o.text, p);
      return out;
    }
    out.append(o.text, p, m - p);
    size_t end = o.text.find('\x1f', m + 1);
    std::string name = o.text.substr(m + 1, end - m - 1);
    if (auto k = def.known.find(name); k != def.known.end())
      out += k->second;
    else if (auto f = o.known_fallback.find(name); f != o.known_fallback.end())
      out += f->second;
    else
      return invalid(o.where + ": [" + jail + "] " + opt + ": '%(known/" + name + ")s': the filter " +
                     def.source + " has no option '" + name + "'");
    p = end + 1;
  }
}

// One jail-level filter option in place of the filter's (fail2ban semantics:
// the jail's value replaces the filter's; empty clears it).
Status apply_override(const std::string& opt, const std::string& text, FilterDefinition& def) {
  if (opt == "failregex") {
    def.failregex = split_lines(text);
  } else if (opt == "ignoreregex") {
    def.ignoreregex = split_lines(text);
  } else if (opt == "prefregex" || opt == "datepattern" || opt == "logtimezone") {
    std::optional<std::string>& dest = opt == "prefregex"     ? def.prefregex
                                       : opt == "datepattern" ? def.datepattern
                                                              : def.logtimezone;
    if (trim(text).empty())
      dest.reset();
    else
      dest = opt == "logtimezone" ? trim(text) : text;
  } else if (opt == "maxlines") {
    auto n = parse_int(text, 1, 1000);
    if (!n) return n.error();
    def.maxlines = static_cast<int>(*n);
  }
  return {};
}

}  // namespace

Jail::Jail(JailSettings s, Filter f)
    : settings_(std::move(s)),
      filter_(std::move(f)),
      tracker_(TrackerLimits{settings_.maxretry, settings_.findtime, settings_.maxtracked}) {
  journalmatch_ = settings_.journalmatch.empty() ? filter_.definition().journalmatch : settings_.journalmatch;
}

Result<std::unique_ptr<Jail>> Jail::create(const JailSettings& settings,
                                           const std::vector<std::string>& filter_path,
                                           const FileSource& files) {
  auto path = find_filter_file(settings.filter.name, filter_path, files);
  if (!path) {
    std::string dirs;
    for (const auto& d : filter_path) dirs += (dirs.empty() ? "" : ", ") + d;
    return make_error(ENOENT, settings.where + ": [" + settings.name + "] filter '" + settings.filter.name +
                                  "' not found (searched " + dirs + ")");
  }
  auto args = settings.filter.args;
  if (!args.count("logtype") && settings.backend == JailSettings::Backend::kSystemd)
    args["logtype"] = "journal";
  std::set<std::string> known;
  for (const auto& [opt, o] : settings.filter_overrides)
    for (size_t p = 0; (p = o.text.find('\x1f', p)) != std::string::npos;) {
      size_t end = o.text.find('\x1f', p + 1);
      known.insert(o.text.substr(p + 1, end - p - 1));
      p = end + 1;
    }
  auto def = load_filter_definition(*path, args, files, known);
  if (!def) return def.error().wrap("[" + settings.name + "] filter " + *path);
  def->usedns = settings.usedns;
  // A regex of the jail's that does not compile is reported at the jail's option.
  std::string first_where, overridden;
  for (const auto& [opt, o] : settings.filter_overrides) {
    auto text = resolve_known(settings.name, opt, o, *def);
    if (!text) return text.error();
    if (auto st = apply_override(opt, *text, *def); !st)
      return invalid(o.where + ": [" + settings.name + "] " + opt + ": " + st.error().message);
    if (first_where.empty()) first_where = o.where;
    overridden += (overridden.empty() ? "" : ", ") + opt + " (" + o.where + ")";
  }
  auto filter = Filter::create(*def);
  if (!filter && !overridden.empty())
    return invalid(first_where + ": [" + settings.name + "] the jail's " + overridden + " with filter " +
                   *path + ": " + filter.error().message);
  if (!filter) return filter.error().wrap("[" + settings.name + "] filter " + *path);
  return std::unique_ptr<Jail>(new Jail(settings, std::move(*filter)));
}

std::optional<BanRequest> Jail::on_line(std::string_view line, double now, std::optional<double> known_time) {
  ++lines_;
  auto result = filter_.process_line(line, now, known_time);
  std::optional<BanRequest> out;
  for (const auto& f : result.failures) {
    if (f.nofail || !f.has_id) continue;
    if (!f.addr) {
      spdlog::debug("[{}] Found '{}': not an IP address, ignored (no DNS lookups in the matcher)",
                    settings_.name, f.host);
      continue;
    }
    double t = f.time.value_or(now);
    if (t > now + 300) t = now;
    if (t < now - static_cast<double>(settings_.findtime)) {
      spdlog::debug("[{}] Ignore {} by time: {:.0f}s old", settings_.name, f.host, now - t);
      continue;
    }
    const Address& a = f.addr->addr;
    ++total_failed_;
    int attempts = std::max(1, f.attempts);
    auto o = tracker_.record(a, static_cast<int64_t>(t), attempts);
    spdlog::info("[{}] Found {} - {} failures in {}", settings_.name, a.str(), o.count,
                 settings_.findtime >= 60 ? std::to_string(settings_.findtime / 60) + "m"
                                          : std::to_string(settings_.findtime) + "s");
    if (o.ban) {
      int prefix = a.family == Family::V4 ? settings_.banprefix4 : settings_.banprefix6;
      Cidr target = f.addr->is_host() ? Cidr::network_of(a, prefix) : *f.addr;
      out = BanRequest{target, a, o.count};
    }
  }
  return out;
}

}  // namespace xdpban
