// command_template.h - a command line for an action or a report, split into
// argv words once (when the configuration is read) with shell-like quoting of
// the template only; <placeholders> are replaced inside single words. No shell
// ever sees it: a substituted value cannot add, split or join words, and is
// never interpreted. Does not run anything (io/spawn.h does).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace xdpban {

// Placeholders of ban_command / unban_command.
inline const std::set<std::string> kBanPlaceholders = {"ip",       "cidr",  "jail", "bantime",
                                                       "failures", "count", "time", "family"};
// Placeholders of report_command.
inline const std::set<std::string> kReportPlaceholders = {"subject", "hostname"};

class CommandTemplate {
 public:
  // Splits `text` into words: blanks separate words; '...' is literal; "..."
  // is literal except \" and \\; a backslash outside quotes takes the next
  // character literally (\< is a literal '<'). <name> is a placeholder when
  // name is in `known`, anywhere in a word, quoted or not; any other <name>
  // made of [a-z_] is an error (a typo would otherwise run silently). A word
  // that is only unquoted shell syntax (|, ;, &&, >, 2>&1, ...) is an error:
  // there is no shell. Empty text gives an empty template (no command).
  static Result<CommandTemplate> parse(std::string_view text, const std::set<std::string>& known);

  // argv for these values: each placeholder is replaced by its value (an
  // unknown or missing one by ""), inside its word only. One pass: a value
  // that contains "<ip>" stays as it is.
  std::vector<std::string> expand(const std::map<std::string, std::string>& values) const;

  bool empty() const { return words_.empty(); }
  const std::string& text() const { return text_; }  // as written
  // The placeholders it uses, for --check and the docs.
  std::set<std::string> placeholders() const;

 private:
  struct Part {
    bool placeholder = false;
    std::string text;  // literal text, or the placeholder's name
  };
  std::vector<std::vector<Part>> words_;
  std::string text_;
};

}  // namespace xdpban
