// filter_config.h - turns a fail2ban filter.d file plus `name[key=value,...]`
// arguments into the plain option values a Filter is built from: [Init]
// defaults, argument overrides and fail2ban's late <tag> substitution.
// Does not compile regexes (filter.h) or search directories (the caller does).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/ini.h"
#include "core/result.h"

namespace xdpban {

// "postfix[mode=auth, logtype=journal]" -> {"postfix", {mode: auth, logtype: journal}}.
struct FilterSpec {
  std::string name;
  std::map<std::string, std::string> args;

  static Result<FilterSpec> parse(std::string_view text);
};

struct FilterDefinition {
  std::string source;  // the .conf file it came from (or "<regex>")
  std::optional<std::string> prefregex;
  std::vector<std::string> failregex;
  std::vector<std::string> ignoreregex;
  std::optional<std::string> datepattern;  // newline-separated patterns, as in the file
  int maxlines = 1;
  std::vector<std::string> journalmatch;
  std::string usedns = "warn";
  std::optional<std::string> logtimezone;
  // The options asked for by load_filter_definition's `known` (fail2ban's
  // known/NAME), after substitution; absent if the filter has no such option.
  std::map<std::string, std::string> known;
};

// The non-empty lines of a multi-line option (failregex, ignoreregex, journalmatch).
std::vector<std::string> split_lines(const std::string& v);

// The filter file for `name`: itself when it is a path ("x/y.conf"), else
// NAME.conf in the first directory of `dirs` that has it; nullopt if none.
std::optional<std::string> find_filter_file(const std::string& name, const std::vector<std::string>& dirs,
                                            const FileSource& files);

// Loads `conf_path` (a .conf file; its .local and includes are read too).
// `known` names further [Definition]/[Init] options to return in
// FilterDefinition::known (what a jail's %(known/NAME)s refers to).
Result<FilterDefinition> load_filter_definition(const std::string& conf_path,
                                                const std::map<std::string, std::string>& args,
                                                const FileSource& files,
                                                const std::set<std::string>& known = {});

// fail2ban's <tag> substitution over `tags` (values may reference each other and,
// through `fallback`, other options). Unknown tags such as <HOST> stay as they are.
Result<std::map<std::string, std::string>> substitute_tags(
    const std::map<std::string, std::string>& tags,
    const std::function<Result<std::optional<std::string>>(const std::string&)>& fallback);

}  // namespace xdpban
