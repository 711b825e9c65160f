// config_ops.cpp - xdpban.conf's options for actions, reports and metrics
// (OpsConfig) and the jails' ban_command / unban_command. Kept apart from
// config.cpp so those features add options without touching its parser.
#include "core/duration.h"
#include "daemon/config.h"
#include "io/http_endpoint.h"

namespace xdpban {

namespace {

bool is_off(const std::string& v) {
  std::string l = to_lower(trim(v));
  return l.empty() || l == "off" || l == "no" || l == "false" || l == "none" || l == "0";
}

}  // namespace

Result<CommandTemplate> parse_jail_command(const std::string& text) {
  return CommandTemplate::parse(text, kBanPlaceholders);
}

Result<bool> parse_ops_option(const std::string& key, const IniValue& val, OpsConfig* ops) {
  auto bad = [&](const Error& e) { return invalid(val.where + ": " + key + ": " + e.message); };
  const std::string& v = val.text;
  if (key == "ban_command" || key == "unban_command") {
    auto t = CommandTemplate::parse(v, kBanPlaceholders);
    if (!t) return bad(t.error());
    (key == "ban_command" ? ops->ban_command : ops->unban_command) = *t;
  } else if (key == "report_command") {
    auto t = CommandTemplate::parse(v, kReportPlaceholders);
    if (!t) return bad(t.error());
    ops->report_command = *t;
  } else if (key == "command_timeout") {
    auto d = parse_duration(v);
    if (!d) return bad(d.error());
    if (*d < 1 || *d > 86400) return bad(invalid("'" + v + "' must be from 1s to 1d"));
    ops->command_timeout = *d;
  } else if (key == "command_max_running") {
    auto n = parse_int(v, 1, 256);
    if (!n) return bad(n.error());
    ops->command_max_running = static_cast<size_t>(*n);
  } else if (key == "command_max_queued") {
    auto n = parse_int(v, 0, 1000000);
    if (!n) return bad(n.error());
    ops->command_max_queued = static_cast<size_t>(*n);
  } else if (key == "report") {
    std::string l = to_lower(trim(v));
    if (is_off(l)) {
      ops->report_interval = 0;
    } else if (l == "daily") {
      ops->report_interval = 86400;
    } else if (l == "weekly") {
      ops->report_interval = 7 * 86400;
    } else {
      auto d = parse_duration(l);
      if (!d || *d < 1)
        return bad(invalid("'" + v + "' is not off, daily, weekly or a duration such as 12h"));
      ops->report_interval = *d;
    }
  } else if (key == "report_mailto" || key == "report_mailfrom") {
    std::string t = trim(v);
    // A header value: a line break would start a header (or the body) of its own.
    if (t.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
      return bad(invalid("must be one line"));
    (key == "report_mailto" ? ops->report_mailto : ops->report_mailfrom) = t;
  } else if (key == "report_top") {
    auto n = parse_int(v, 1, 1000);
    if (!n) return bad(n.error());
    ops->report_top = static_cast<size_t>(*n);
  } else if (key == "reportretention") {
    auto d = parse_duration(v);
    if (!d) return bad(d.error());
    if (*d < 3600) return bad(invalid("'" + v + "' is shorter than 1h"));
    ops->reportretention = *d;
  } else if (key == "metrics") {
    if (is_off(v)) {
      ops->metrics.clear();
    } else {
      auto a = ListenAddress::parse(trim(v));
      if (!a) return bad(a.error());
      ops->metrics = a->str();
    }
  } else {
    return false;
  }
  return true;
}

Status check_ops(const DaemonConfig& c) {
  const OpsConfig& o = c.ops;
  if (o.report_interval > 0 && o.report_command.empty())
    return invalid(c.path + ": report = " + format_duration(o.report_interval) +
                   " needs report_command (e.g. /usr/sbin/sendmail -t with report_mailto)");
  if (o.report_interval > o.reportretention)
    return invalid(c.path + ": reportretention (" + format_duration(o.reportretention) +
                   ") is shorter than the report period (" + format_duration(o.report_interval) + ")");
  return {};
}

}  // namespace xdpban
