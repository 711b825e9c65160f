// ini.h - fail2ban's configuration dialect: Python-configparser style files
// (sections, indented continuation lines, # and ; comments, [DEFAULT]), the
// [INCLUDES] before/after chain with .local overrides, %(name)s and
// %(section/name)s interpolation. Does not know filters: see filter_config.h.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace xdpban {

// Bounds on %(name)s interpolation (and <tag> substitution, filter_config.h): a
// chain of options each naming the previous twice grows exponentially, so an
// expansion stops with an error once its text, or the text it had to read to
// get there, passes these sizes, or once references nest this deep.
constexpr size_t kMaxExpansionBytes = size_t{1} << 20;
constexpr size_t kMaxExpansionWork = size_t{16} << 20;
constexpr int kMaxInterpolationDepth = 10;

// Where configuration text comes from (disk in production, memory in tests).
class FileSource {
 public:
  virtual ~FileSource() = default;
  // The file's content, or nullopt if it does not exist or cannot be read.
  virtual std::optional<std::string> read(const std::string& path) const = 0;
};

// Reads files from the local file system.
class DiskFileSource : public FileSource {
 public:
  std::optional<std::string> read(const std::string& path) const override;
};

struct IniValue {
  std::string text;
  std::string where;  // "file:line" of the option's first line
};

using IniOptions = std::map<std::string, IniValue>;  // keys lower-cased, as configparser does

struct IniFile {
  std::string path;
  IniOptions defaults;
  std::vector<std::pair<std::string, IniOptions>> sections;  // in file order

  const IniOptions* section(std::string_view name) const;
  static Result<IniFile> parse(std::string_view text, const std::string& path);
};

// A stack of configuration files merged in include order.
class Config {
 public:
  // Reads `path` (expected to end in .conf) with its includes and the .local
  // files next to each of them. A missing `path` is an error; missing .local
  // or include files are skipped, as fail2ban does.
  static Result<Config> load(const std::string& path, const FileSource& files);
  // Merges several files in the given order (later ones override), each with
  // its [INCLUDES]; `with_local` also reads each file's .local right after it.
  // fail2ban's jail configuration is read this way: jail.conf, jail.d/*.conf,
  // jail.local, jail.d/*.local.
  static Result<Config> load_layers(const std::vector<std::string>& paths, const FileSource& files,
                                    bool with_local);

  bool has_section(const std::string& section) const { return sections_.count(section) > 0; }
  // Raw (uninterpolated) option of a section, falling back to [DEFAULT].
  const IniValue* raw(const std::string& section, const std::string& option) const;
  // Interpolated option; `vars` take precedence over the section and [DEFAULT].
  // nullopt if the option does not exist, an error if interpolation fails.
  Result<std::optional<std::string>> get(const std::string& section, const std::string& option,
                                         const std::map<std::string, std::string>& vars = {}) const;
  // Section names in the merged configuration (bookkeeping "KNOWN/..." ones too).
  std::vector<std::string> sections() const;
  // Option names defined in the section itself (not [DEFAULT]).
  std::vector<std::string> options(const std::string& section) const;
  const std::vector<std::string>& files() const { return files_; }

 private:
  Result<std::string> interpolate(const std::string& section, const std::string& value,
                                  const std::string& where, const std::map<std::string, std::string>& vars,
                                  int depth, size_t* work) const;
  std::optional<std::string> lookup_for_interpolation(const std::string& section, const std::string& name,
                                                      const std::map<std::string, std::string>& vars) const;

  IniOptions defaults_;
  std::map<std::string, IniOptions> sections_;  // includes "KNOWN/<name>" bookkeeping sections
  std::vector<std::string> files_;
};

std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
std::string trim(std::string_view s);

}  // namespace xdpban
