#include "core/filter_config.h"

#include <cctype>
#include <set>
#include <sstream>

namespace xdpban {

namespace {

constexpr int kMaxTagReplaceCount = 25;

bool is_arg_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Finds the next "<tag>" (no blanks or angle brackets inside) at or after `from`.
bool next_tag(const std::string& v, size_t from, size_t& start, size_t& end) {
  for (size_t i = v.find('<', from); i != std::string::npos; i = v.find('<', i + 1)) {
    size_t j = i + 1;
    while (j < v.size() && v[j] != '<' && v[j] != '>' && v[j] != ' ') ++j;
    if (j < v.size() && v[j] == '>' && j > i + 1) {
      start = i;
      end = j + 1;
      return true;
    }
  }
  return false;
}

// One pass into a new string: replacing in place moves the tail once per hit.
void replace_all(std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t done = 0;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, done)) {
    out.append(s, done, p - done);
    out += to;
    done = p + from.size();
    if (out.size() > kMaxExpansionBytes) break;  // the caller reports it
  }
  out.append(s, done, std::string::npos);
  s = std::move(out);
}

}  // namespace

std::vector<std::string> split_lines(const std::string& v) {
  std::vector<std::string> out;
  std::istringstream in(v);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

Result<FilterSpec> FilterSpec::parse(std::string_view text) {
  FilterSpec spec;
  std::string t = trim(text);
  auto open = t.find('[');
  spec.name = trim(t.substr(0, open));
  if (spec.name.empty()) return invalid("filter '" + t + "': missing name");
  if (open == std::string::npos) return spec;
  if (t.back() != ']') return invalid("filter '" + t + "': arguments must end with ']'");
  std::string body = t.substr(open + 1, t.size() - open - 2);
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && (std::isspace(static_cast<unsigned char>(body[i])) || body[i] == ',')) ++i;
    if (i >= body.size()) break;
    size_t k = i;
    while (i < body.size() && is_arg_name_char(body[i])) ++i;
    if (i == k || i >= body.size() || body[i] != '=')
      return invalid("filter '" + t + "': expected key=value at '" + body.substr(k, 20) + "'");
    std::string key = body.substr(k, i - k);
    ++i;
    std::string value;
    if (i < body.size() && (body[i] == '"' || body[i] == '\'')) {
      char q = body[i++];
      auto close = body.find(q, i);
      if (close == std::string::npos) return invalid("filter '" + t + "': unterminated quote in " + key);
      value = body.substr(i, close - i);
      i = close + 1;
    } else {
      size_t v = i;
      while (i < body.size() && body[i] != ',') ++i;
      value = trim(body.substr(v, i - v));
    }
    spec.args[key] = value;
  }
  return spec;
}

Result<std::map<std::string, std::string>> substitute_tags(
    const std::map<std::string, std::string>& tags,
    const std::function<Result<std::optional<std::string>>(const std::string&)>& fallback) {
  std::map<std::string, std::string> out = tags;
  std::map<std::string, std::optional<std::string>> fallback_cache;
  for (auto& [tag, value] : out) {
    std::map<std::string, int> counts;
    size_t work = 0;  // bytes scanned for this option (see kMaxExpansionWork)
    size_t s = 0, e = 0, from = 0;
    while (next_tag(value, from, s, e)) {
      std::string rtag = value.substr(s + 1, e - s - 2);
      if (rtag == tag || counts[rtag] > kMaxTagReplaceCount)
        return invalid("option '" + tag + "': self-referencing tag <" + rtag + "> cannot be resolved");
      std::optional<std::string> repl;
      if (auto it = tags.find(rtag); it != tags.end()) {
        repl = it->second;
      } else {
        auto c = fallback_cache.find(rtag);
        if (c == fallback_cache.end()) {
          auto r = fallback(rtag);
          if (!r) return r.error().wrap("option '" + tag + "'");
          c = fallback_cache.emplace(rtag, *r).first;
        }
        repl = c->second;
      }
      if (!repl) {
        from = e;
        continue;
      }
      replace_all(value, "<" + rtag + ">", *repl);
      if (value.size() > kMaxExpansionBytes)
        return invalid("option '" + tag + "': expansion exceeds " + std::to_string(kMaxExpansionBytes) +
                       " bytes (tags referencing each other many times over?)");
      work += value.size();
      if (work > kMaxExpansionWork)
        return invalid("option '" + tag + "': expansion reads more than " +
                       std::to_string(kMaxExpansionWork) +
                       " bytes (tags referencing each other many times over?)");
      ++counts[rtag];
      from = 0;  // the replacement may complete an enclosing tag: <lt_<logtype>/...>
    }
  }
  return out;
}

Result<FilterDefinition> load_filter_definition(const std::string& conf_path,
                                                const std::map<std::string, std::string>& args,
                                                const FileSource& files, const std::set<std::string>& known) {
  auto cfg_r = Config::load(conf_path, files);
  if (!cfg_r) return cfg_r.error();
  const Config& cfg = *cfg_r;
  std::map<std::string, std::string> vars;  // configparser lower-cases option names
  for (const auto& [k, v] : args) vars[to_lower(k)] = v;

  static const char* const kOptions[] = {"usedns",   "prefregex",   "ignoreregex", "failregex",
                                         "maxlines", "datepattern", "journalmatch"};
  std::map<std::string, std::string> combined;
  for (const char* opt : kOptions) {
    if (args.count(opt)) continue;
    auto v = cfg.get("Definition", opt, vars);
    if (!v) return v.error();
    if (*v) combined[opt] = **v;
  }
  std::map<std::string, std::string> init = args;
  if (cfg.has_section("Init")) {
    for (const auto& opt : cfg.options("Init")) {
      auto v = cfg.get("Init", opt);
      if (!v) return v.error();
      if (!*v) continue;
      if (opt.rfind("known/", 0) != 0) init["known/" + opt] = **v;
      if (!init.count(opt)) init[opt] = **v;
    }
  }
  for (const auto& [k, v] : init) combined[k] = v;
  for (const auto& name : known) {
    if (combined.count(name) || !cfg.has_section("Definition")) continue;
    auto v = cfg.get("Definition", name, vars);
    if (!v) return v.error();
    if (*v) combined[name] = **v;
  }

  auto fallback = [&](const std::string& tag) -> Result<std::optional<std::string>> {
    auto slash = tag.find('/');
    if (slash != std::string::npos && slash > 0) {
      std::string sec = tag.substr(0, slash), opt = tag.substr(slash + 1), lwr = to_lower(sec);
      std::vector<std::string> candidates;
      if (lwr == "known")
        candidates = {"KNOWN/Definition", "Definition"};
      else if (lwr == "default")
        candidates = {"DEFAULT"};
      else
        candidates = {sec};
      for (const auto& c : candidates) {
        if (c != "DEFAULT" && !cfg.has_section(c)) continue;
        auto v = cfg.get(c, opt, {});
        if (!v) return v.error();
        if (*v) return *v;
      }
    }
    return cfg.get("Definition", tag, vars);
  };
  auto subst = substitute_tags(combined, fallback);
  if (!subst) return subst.error().wrap(conf_path);
  const auto& o = *subst;

  FilterDefinition def;
  def.source = conf_path;
  for (const auto& name : known)
    if (auto it = o.find(name); it != o.end()) def.known[name] = it->second;
  if (auto it = o.find("prefregex"); it != o.end() && !trim(it->second).empty()) def.prefregex = it->second;
  if (auto it = o.find("failregex"); it != o.end()) def.failregex = split_lines(it->second);
  if (auto it = o.find("ignoreregex"); it != o.end()) def.ignoreregex = split_lines(it->second);
  if (auto it = o.find("datepattern"); it != o.end() && !trim(it->second).empty())
    def.datepattern = it->second;
  if (auto it = o.find("journalmatch"); it != o.end()) def.journalmatch = split_lines(it->second);
  if (auto it = o.find("usedns"); it != o.end() && !it->second.empty()) def.usedns = to_lower(it->second);
  if (auto it = o.find("logtimezone"); it != o.end() && !it->second.empty()) def.logtimezone = it->second;
  if (auto it = o.find("maxlines"); it != o.end()) {
    std::string m = trim(it->second);
    char* end = nullptr;
    long n = std::strtol(m.c_str(), &end, 10);
    if (m.empty() || *end != '\0' || n < 1 || n > 1000)
      return invalid(conf_path + ": maxlines: '" + m + "' is not a number of lines (1..1000)");
    def.maxlines = static_cast<int>(n);
  }
  return def;
}

std::optional<std::string> find_filter_file(const std::string& name, const std::vector<std::string>& dirs,
                                            const FileSource& files) {
  if (name.find('/') != std::string::npos || (name.size() > 5 && name.ends_with(".conf"))) {
    std::string path = name.ends_with(".conf") ? name : name + ".conf";
    if (files.read(path)) return path;
    return std::nullopt;
  }
  for (const auto& dir : dirs) {
    std::string path = dir + "/" + name + ".conf";
    if (files.read(path)) return path;
  }
  return std::nullopt;
}

}  // namespace xdpban
