// fuzz_filter.cpp - libFuzzer target over failure matching (core/filter.h) and
// date detection (core/date_detector.h). The input is a filter .conf, a NUL
// byte, then log lines: the filter is built from the conf (from memory) and
// every line goes through it and through a default DateDetector.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/date_detector.h"
#include "core/filter.h"
#include "core/filter_config.h"
#include "mem_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xdpban;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto cut = in.find('\0');
  if (cut == std::string_view::npos) return 0;
  test::MemFiles fs;
  fs.files["/f/fuzz.conf"] = std::string(in.substr(0, cut));
  std::string_view lines = in.substr(cut + 1);
  constexpr double kNow = 1767225600;  // 2026-01-01, fixed: runs must repeat

  static DateDetector defaults = [] {
    auto d = DateDetector::create(std::nullopt, std::string("UTC"));
    if (!d) __builtin_trap();
    return std::move(*d);
  }();
  std::optional<Filter> filter;
  if (auto def = load_filter_definition("/f/fuzz.conf", {}, fs)) {
    if (auto f = Filter::create(*def)) filter.emplace(std::move(*f));
  }
  // Lines: split at newlines, as the tailer hands them over.
  size_t pos = 0;
  while (pos <= lines.size()) {
    size_t nl = lines.find('\n', pos);
    if (nl == std::string_view::npos) nl = lines.size();
    std::string_view line = lines.substr(pos, nl - pos);
    pos = nl + 1;
    if (auto m = defaults.match(line, kNow)) {
      if (m->start > m->end || m->end > line.size()) __builtin_trap();
    }
    if (filter) {
      auto r = filter->process_line(line, kNow);
      for (const auto& f : r.failures)
        if (f.addr) (void)f.addr->str();
    }
  }
  return 0;
}
