// prometheus.h - writes Prometheus' text exposition format (version 0.0.4):
// one HELP and TYPE line per metric family, then its samples, label values
// and help text escaped. Checks names as it goes (a bad name is a bug, so it
// is replaced, never emitted). Pure; does not serve HTTP (io/http_endpoint.h).
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xdpban {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PromWriter {
 public:
  enum class Type { kCounter, kGauge };
  // Starts a family; its samples follow. A counter's name should end in _total.
  void family(std::string_view name, Type type, std::string_view help);
  void sample(const Labels& labels, double value);
  template <std::unsigned_integral U>
  void sample(const Labels& labels, U value) {
    sample_count(labels, static_cast<uint64_t>(value));
  }
  void sample(double value) { sample(Labels{}, value); }
  template <std::unsigned_integral U>
  void sample(U value) {
    sample_count(Labels{}, static_cast<uint64_t>(value));
  }

  const std::string& text() const { return out_; }

  static bool valid_metric_name(std::string_view n);          // [a-zA-Z_:][a-zA-Z0-9_:]*
  static bool valid_label_name(std::string_view n);           // [a-zA-Z_][a-zA-Z0-9_]*, not __*
  static std::string escape_label_value(std::string_view v);  // \ " and newline
  static std::string escape_help(std::string_view v);         // \ and newline

 private:
  void sample_prefix(const Labels& labels);
  void sample_count(const Labels& labels, uint64_t value);
  std::string out_;
  std::string name_;
};

// Content-Type of the format.
inline constexpr const char* kPromContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace xdpban
