#include "daemon/jail.h"

#include <spdlog/spdlog.h>

namespace xdpban {

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
  auto def = load_filter_definition(*path, args, files);
  if (!def) return def.error().wrap("[" + settings.name + "] filter " + *path);
  def->usedns = settings.usedns;
  auto filter = Filter::create(*def);
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
