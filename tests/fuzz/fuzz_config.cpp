// fuzz_config.cpp - libFuzzer target over the configuration reader (core/ini.h,
// core/filter_config.h) and the jail layer (daemon/config.h load_jails), all
// from memory. The input is up to four files split at NUL bytes: jail.conf,
// jail.local, common.conf, common.local in one directory (includes resolve).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/filter_config.h"
#include "core/ini.h"
#include "daemon/config.h"
#include "mem_files.h"

namespace {

// A directory that does not exist on disk: load_jails lists jail.d there.
constexpr const char* kDir = "/nonexistent-xdpban-fuzz";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xdpban;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  test::MemFiles fs;
  static const char* const kNames[] = {"jail.conf", "jail.local", "common.conf", "common.local"};
  for (const char* name : kNames) {
    auto cut = in.find('\0');
    fs.files[std::string(kDir) + "/" + name] = std::string(in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
  }
  const std::string main = std::string(kDir) + "/jail.conf";

  if (auto file = IniFile::parse(fs.files[main], main)) (void)file->section("Definition");

  // Every option of every section, interpolated, the way the jail layer asks.
  if (auto cfg = Config::load(main, fs)) {
    for (const auto& section : cfg->sections())
      for (const auto& opt : cfg->options(section)) {
        auto v = cfg->get(section, opt, {{"__name__", section}, {"mode", "aggressive"}});
        if (v && *v && (*v)->size() > kMaxExpansionBytes) __builtin_trap();  // the bound must hold
      }
  }

  // The file as a filter, with and without arguments.
  (void)load_filter_definition(main, {}, fs);
  (void)load_filter_definition(main, {{"mode", "aggressive"}, {"logtype", "journal"}}, fs);

  // The file as jail.conf (jail.local too): every jail's settings.
  (void)load_jails(kDir, fs);
  return 0;
}
