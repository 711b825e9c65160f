// mem_files.h - a FileSource over an in-memory map of path -> text, for unit
// tests of the INI reader and the configuration (no files on disk).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/ini.h"

namespace xdpban::test {

class MemFiles : public FileSource {
 public:
  std::map<std::string, std::string> files;
  std::optional<std::string> read(const std::string& path) const override {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace xdpban::test
