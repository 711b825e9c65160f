#include "core/ini.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace xdpban {

namespace {

constexpr size_t kMaxIncludeDepth = 16;
constexpr size_t kMaxIncludeVisits = 10000;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (!name.empty() && name[0] == '/') return name;
  if (dir.empty() || dir == ".") return name;
  return dir + "/" + name;
}

std::string replace_extension(const std::string& path, const std::string& ext) {
  auto slash = path.rfind('/');
  auto dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path + ext;
  return path.substr(0, dot) + ext;
}

// A `name?cond` section stores its options as `option?cond` in section `name`.
bool split_conditional(const std::string& name, std::string& base, std::string& cond) {
  auto q = name.find('?');
  if (q == std::string::npos || q == 0 || q + 1 >= name.size()) return false;
  for (size_t i = 0; i < q; ++i)
    if (!std::isalnum(static_cast<unsigned char>(name[i])) && name[i] != '_') return false;
  base = name.substr(0, q);
  cond = name.substr(q);
  return true;
}

}  // namespace

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<std::string> DiskFileSource::read(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

const IniOptions* IniFile::section(std::string_view name) const {
  for (const auto& [n, opts] : sections)
    if (n == name) return &opts;
  return nullptr;
}

Result<IniFile> IniFile::parse(std::string_view text, const std::string& path) {
  IniFile file;
  file.path = path;
  IniOptions* current = nullptr;
  std::string option;                // option whose value continuation lines extend
  std::vector<std::string> pending;  // lines of the current value
  size_t indent_level = 0;
  auto flush = [&]() {
    if (current && !option.empty()) {
      while (!pending.empty() && pending.back().empty()) pending.pop_back();
      std::string v;
      for (size_t i = 0; i < pending.size(); ++i) {
        if (i) v += '\n';
        v += pending[i];
      }
      (*current)[option].text = std::move(v);
    }
    option.clear();
    pending.clear();
  };

  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (nl == text.size() && line.empty()) break;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    size_t comment_start = std::string_view::npos;
    std::string stripped = trim(line);
    if (!stripped.empty() && (stripped[0] == '#' || stripped[0] == ';')) {
      comment_start = 0;
    } else {
      // Inline comments: ';' preceded by white space.
      for (size_t i = 1; i < line.size(); ++i)
        if (line[i] == ';' && is_space(line[i - 1])) {
          comment_start = i - 1;
          break;
        }
    }
    std::string value = trim(line.substr(0, std::min(comment_start, line.size())));
    if (value.empty()) {
      if (comment_start == std::string_view::npos && current && !option.empty()) pending.emplace_back();
      continue;
    }
    size_t indent = 0;
    while (indent < line.size() && is_space(line[indent])) ++indent;
    if (current && !option.empty() && indent > indent_level) {
      pending.push_back(value);
      continue;
    }
    flush();
    indent_level = indent;
    if (value[0] == '[') {
      auto close = value.rfind(']');
      if (close == std::string::npos || close < 2)
        return invalid(path + ":" + std::to_string(lineno) + ": malformed section header '" + value + "'");
      std::string name = value.substr(1, close - 1);
      if (name == "DEFAULT") {
        current = &file.defaults;
      } else {
        auto it = std::find_if(file.sections.begin(), file.sections.end(),
                               [&](const auto& s) { return s.first == name; });
        if (it == file.sections.end()) {
          file.sections.emplace_back(name, IniOptions{});
          it = std::prev(file.sections.end());
        }
        current = &it->second;
      }
      continue;
    }
    if (!current)
      return invalid(path + ":" + std::to_string(lineno) + ": '" + value + "' is outside of any [section]");
    auto delim = value.find_first_of("=:");
    if (delim == std::string::npos || delim == 0)
      return invalid(path + ":" + std::to_string(lineno) + ": expected 'name = value', got '" + value + "'");
    option = to_lower(trim(value.substr(0, delim)));
    pending.clear();
    pending.push_back(trim(value.substr(delim + 1)));
    (*current)[option].where = path + ":" + std::to_string(lineno);
  }
  flush();
  return file;
}

namespace {

struct IncludeWalker {
  const FileSource& files;
  std::map<std::string, std::optional<IniFile>> cache;
  std::vector<std::string> errors;
  size_t visits = 0;

  const IniFile* parse(const std::string& path) {
    auto it = cache.find(path);
    if (it == cache.end()) {
      std::optional<IniFile> parsed;
      if (auto text = files.read(path)) {
        auto r = IniFile::parse(*text, path);
        if (r)
          parsed = std::move(*r);
        else
          errors.push_back(r.error().message);
      }
      it = cache.emplace(path, std::move(parsed)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  std::vector<std::string> includes(const std::vector<std::string>& names,
                                    const std::vector<std::string>& seen) {
    std::vector<std::string> expanded;
    for (const auto& n : names) {
      expanded.push_back(n);
      auto local = replace_extension(n, ".local");
      if (std::find(names.begin(), names.end(), local) == names.end() && files.read(local))
        expanded.push_back(local);
    }
    std::vector<std::string> out;
    for (const auto& f : expanded) {
      auto one = uncached(f, seen);
      out.insert(out.end(), one.begin(), one.end());
    }
    return out;
  }

  std::vector<std::string> uncached(const std::string& resource, const std::vector<std::string>& seen) {
    // A file already being read further up is a cycle (a.local including
    // a.conf, whose .local comes along again): read it once.
    if (std::find(seen.begin(), seen.end(), resource) != seen.end()) return {};
    if (++visits > kMaxIncludeVisits) {
      if (visits == kMaxIncludeVisits + 1)
        errors.push_back(resource + ": [INCLUDES] read more than " + std::to_string(kMaxIncludeVisits) +
                         " files (the same files included many times over?)");
      return {};
    }
    if (seen.size() >= kMaxIncludeDepth) {
      errors.push_back(resource + ": [INCLUDES] nested deeper than " + std::to_string(kMaxIncludeDepth) +
                       " files");
      return {};
    }
    const IniFile* file = parse(resource);
    if (!file) return {};
    std::vector<std::string> before, after;
    if (const IniOptions* inc = file->section("INCLUDES")) {
      for (auto* which : {&before, &after}) {
        auto it = inc->find(which == &before ? "before" : "after");
        if (it == inc->end()) continue;
        std::istringstream lines(it->second.text);
        std::string name;
        while (std::getline(lines, name)) {
          name = trim(name);
          if (name.empty()) continue;
          std::string r = join_path(dirname_of(resource), name);
          if (std::find(seen.begin(), seen.end(), r) != seen.end()) continue;
          auto s = seen;
          s.push_back(resource);
          auto sub = includes({r}, s);
          which->insert(which->end(), sub.begin(), sub.end());
        }
      }
    }
    before.push_back(resource);
    before.insert(before.end(), after.begin(), after.end());
    return before;
  }
};

}  // namespace

Result<Config> Config::load(const std::string& path, const FileSource& files) {
  if (!files.read(path)) return make_error(ENOENT, path + ": cannot read configuration file");
  return load_layers({path}, files, true);
}

Result<Config> Config::load_layers(const std::vector<std::string>& paths, const FileSource& files,
                                   bool with_local) {
  IncludeWalker walker{files, {}, {}};
  std::vector<std::string> order;
  for (const auto& p : paths) {
    auto one = with_local ? walker.includes({p}, {}) : walker.uncached(p, {});
    order.insert(order.end(), one.begin(), one.end());
  }
  if (!walker.errors.empty()) return invalid(walker.errors.front());
  Config cfg;
  for (const auto& f : order) {
    const IniFile* file = walker.parse(f);
    if (!file) continue;
    cfg.files_.push_back(f);
    for (const auto& [k, v] : file->defaults) cfg.defaults_[k] = v;
    for (const auto& [name, opts] : file->sections) {
      std::string base = name, cond;
      IniOptions s = opts;
      if (split_conditional(name, base, cond)) {
        s.clear();
        for (const auto& [k, v] : opts) s[k + cond] = v;
      }
      auto it = cfg.sections_.find(base);
      if (it != cfg.sections_.end()) {
        auto& known = cfg.sections_["KNOWN/" + base];
        for (const auto& [k, v] : it->second)
          if (s.count(k)) known[k] = v;
        for (const auto& [k, v] : s) it->second[k] = v;
      } else {
        cfg.sections_.emplace(base, std::move(s));
      }
    }
  }
  return cfg;
}

const IniValue* Config::raw(const std::string& section, const std::string& option) const {
  auto s = sections_.find(section);
  if (s != sections_.end()) {
    auto o = s->second.find(option);
    if (o != s->second.end()) return &o->second;
  }
  auto d = defaults_.find(option);
  return d != defaults_.end() ? &d->second : nullptr;
}

std::vector<std::string> Config::sections() const {
  std::vector<std::string> out;
  for (const auto& [name, opts] : sections_) out.push_back(name);
  return out;
}

std::vector<std::string> Config::options(const std::string& section) const {
  std::vector<std::string> out;
  auto s = sections_.find(section);
  if (s != sections_.end())
    for (const auto& [k, v] : s->second) out.push_back(k);
  return out;
}

std::optional<std::string> Config::lookup_for_interpolation(
    const std::string& section, const std::string& name,
    const std::map<std::string, std::string>& vars) const {
  if (auto v = vars.find(name); v != vars.end()) return v->second;
  auto slash = name.find('/');
  if (slash != std::string::npos && slash > 0) {
    std::string sec = name.substr(0, slash), opt = name.substr(slash + 1);
    std::string seclwr = to_lower(sec);
    const IniOptions* from = nullptr;
    if (seclwr == "known") {
      auto k = sections_.find("KNOWN/" + section);
      if (k != sections_.end() && k->second.count(opt)) from = &k->second;
    } else if (seclwr != "default") {
      auto s = sections_.find(sec);
      if (s == sections_.end()) return std::nullopt;
      if (s->second.count(opt)) from = &s->second;
    }
    if (from) return from->at(opt).text;
    if (auto d = defaults_.find(opt); d != defaults_.end()) return d->second.text;
    return std::nullopt;
  }
  if (const IniValue* v = raw(section, name)) return v->text;
  return std::nullopt;
}

Result<std::string> Config::interpolate(const std::string& section, const std::string& value,
                                        const std::string& where,
                                        const std::map<std::string, std::string>& vars, int depth,
                                        size_t* work) const {
  if (depth > kMaxInterpolationDepth)
    return invalid(where + ": interpolation too deep (recursive %(...)s reference?)");
  // Counts every byte read, so that many references to empty options are bounded too.
  *work += value.size();
  if (*work > kMaxExpansionWork)
    return invalid(where + ": expansion reads more than " + std::to_string(kMaxExpansionWork) +
                   " bytes (options referencing each other many times over?)");
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    auto pct = value.find('%', i);
    if (pct == std::string::npos) {
      out.append(value, i, std::string::npos);
      break;
    }
    out.append(value, i, pct - i);
    if (pct + 1 < value.size() && value[pct + 1] == '%') {
      out += '%';
      i = pct + 2;
      continue;
    }
    if (pct + 1 < value.size() && value[pct + 1] == '(') {
      auto close = value.find(')', pct + 2);
      if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != 's')
        return invalid(where + ": bad interpolation syntax in '" + value.substr(pct, 40) + "'");
      std::string name = to_lower(value.substr(pct + 2, close - pct - 2));
      auto v = lookup_for_interpolation(section, name, vars);
      if (!v) return invalid(where + ": '%(" + name + ")s' refers to an option that does not exist");
      if (v->find('%') != std::string::npos) {
        auto sub = interpolate(section, *v, where, vars, depth + 1, work);
        if (!sub) return sub.error();
        out += *sub;
      } else {
        *work += v->size();
        out += *v;
      }
      if (out.size() > kMaxExpansionBytes)
        return invalid(where + ": expansion exceeds " + std::to_string(kMaxExpansionBytes) +
                       " bytes (options referencing each other many times over?)");
      i = close + 2;
      continue;
    }
    return invalid(where + ": '%' must be followed by '%' or '(' in '" + value.substr(pct, 40) + "'");
  }
  return out;
}

Result<std::optional<std::string>> Config::get(const std::string& section, const std::string& option,
                                               const std::map<std::string, std::string>& vars) const {
  std::string key = to_lower(option);
  std::string text, where;
  if (auto v = vars.find(key); v != vars.end()) {
    text = v->second;
    where = "argument " + key;
  } else if (const IniValue* raw_value = raw(section, key)) {
    text = raw_value->text;
    where = raw_value->where + ": " + key;
  } else {
    return std::optional<std::string>{};
  }
  if (text.find('%') == std::string::npos) return std::optional<std::string>{std::move(text)};
  size_t work = 0;
  auto r = interpolate(section, text, where, vars, 1, &work);
  if (!r) return r.error();
  return std::optional<std::string>{std::move(*r)};
}

}  // namespace xdpban
