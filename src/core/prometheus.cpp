#include "core/prometheus.h"

#include <charconv>
#include <cmath>

namespace xdpban {

namespace {
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

bool PromWriter::valid_metric_name(std::string_view n) {
  if (n.empty() || !(alpha(n[0]) || n[0] == ':')) return false;
  for (char c : n)
    if (!alpha(c) && !digit(c) && c != ':') return false;
  return true;
}

bool PromWriter::valid_label_name(std::string_view n) {
  if (n.empty() || !alpha(n[0]) || n.substr(0, 2) == "__") return false;
  for (char c : n)
    if (!alpha(c) && !digit(c)) return false;
  return true;
}

std::string PromWriter::escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string PromWriter::escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void PromWriter::family(std::string_view name, Type type, std::string_view help) {
  name_ = valid_metric_name(name) ? std::string(name) : "xdpban_invalid_metric_name";
  out_ += "# HELP " + name_ + " " + escape_help(help) + "\n";
  out_ += "# TYPE " + name_ + (type == Type::kCounter ? " counter\n" : " gauge\n");
}

void PromWriter::sample_prefix(const Labels& labels) {
  out_ += name_;
  if (labels.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += valid_label_name(k) ? k : "invalid_label_name";
    out_ += "=\"" + escape_label_value(v) + "\"";
  }
  out_ += '}';
}

void PromWriter::sample_count(const Labels& labels, uint64_t value) {
  sample_prefix(labels);
  out_ += ' ' + std::to_string(value) + '\n';
}

void PromWriter::sample(const Labels& labels, double value) {
  sample_prefix(labels);
  out_ += ' ';
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest form that reads back the same
    out_.append(buf, r.ptr);
  }
  out_ += '\n';
}

}  // namespace xdpban
