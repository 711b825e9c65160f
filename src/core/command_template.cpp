#include "core/command_template.h"

namespace xdpban {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool name_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

// A word that only a shell would understand: |, ||, &&, ;, >, >>, <, 2>&1, &>, (, ).
bool shell_syntax(const std::string& w) {
  size_t i = 0;
  while (i < w.size() && w[i] >= '0' && w[i] <= '9') ++i;
  size_t ops = i;
  while (i < w.size() && std::string_view("|&;<>()").find(w[i]) != std::string_view::npos) ++i;
  if (i == ops) return false;
  while (i < w.size() && w[i] >= '0' && w[i] <= '9') ++i;
  return i == w.size();
}

std::string known_list(const std::set<std::string>& known) {
  std::string out;
  for (const auto& k : known) out += (out.empty() ? "<" : ", <") + k + ">";
  return out.empty() ? "none" : out;
}

}  // namespace

Result<CommandTemplate> CommandTemplate::parse(std::string_view text, const std::set<std::string>& known) {
  CommandTemplate t;
  t.text_ = std::string(text);
  std::vector<Part> word;
  bool in_word = false;
  bool plain = true;    // no quote or escape in this word (shell syntax check)
  std::string literal;  // the word's text as written, for that check
  auto add_literal = [&](char c) {
    if (word.empty() || word.back().placeholder) word.push_back({false, ""});
    word.back().text += c;
  };
  auto end_word = [&]() -> Status {
    if (!in_word) return {};
    if (plain && shell_syntax(literal))
      return invalid("'" + literal +
                     "' is shell syntax, but commands run without a shell (use sh -c '...' explicitly, "
                     "passing placeholders as its arguments)");
    t.words_.push_back(std::move(word));
    word.clear();
    literal.clear();
    in_word = false;
    plain = true;
    return {};
  };
  // At text[i] == '<': a placeholder, a literal '<', or an error.
  auto placeholder_at = [&](size_t i, size_t* len) -> Result<bool> {
    size_t j = i + 1;
    while (j < text.size() && name_char(text[j])) ++j;
    if (j == i + 1 || j >= text.size() || text[j] != '>') return false;
    std::string name(text.substr(i + 1, j - i - 1));
    if (!known.count(name))
      return invalid("unknown placeholder <" + name + "> (known: " + known_list(known) +
                     "; write \\< for a literal '<')");
    word.push_back({true, name});
    *len = j - i + 1;
    return true;
  };
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
        continue;
      }
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
        continue;
      }
      if (c == '\\' && i + 1 < text.size() &&
          (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '<')) {
        add_literal(text[++i]);
        continue;
      }
    } else {
      if (blank(c)) {
        if (auto st = end_word(); !st) return st.error();
        continue;
      }
      in_word = true;
      if (c == '\'' || c == '"') {
        quote = c;
        plain = false;
        // An empty quoted word ('') is still a word.
        if (word.empty()) word.push_back({false, ""});
        continue;
      }
      if (c == '\\') {
        if (i + 1 >= text.size()) return invalid("a trailing backslash escapes nothing");
        plain = false;
        add_literal(text[++i]);
        continue;
      }
      literal += c;
    }
    if (c == '<') {
      size_t len = 0;
      auto p = placeholder_at(i, &len);
      if (!p) return p.error();
      if (*p) {
        if (!quote) literal += std::string(text.substr(i + 1, len - 1));
        i += len - 1;
        continue;
      }
    }
    add_literal(c);
  }
  if (quote) return invalid(std::string("unterminated ") + (quote == '"' ? "\"" : "'") + " quote");
  if (auto st = end_word(); !st) return st.error();
  return t;
}

std::vector<std::string> CommandTemplate::expand(const std::map<std::string, std::string>& values) const {
  std::vector<std::string> argv;
  argv.reserve(words_.size());
  for (const auto& w : words_) {
    std::string s;
    for (const auto& p : w) {
      if (!p.placeholder) {
        s += p.text;
        continue;
      }
      auto it = values.find(p.text);
      if (it == values.end()) continue;
      // execve takes C strings: a NUL would silently cut the word, so drop NULs.
      for (char c : it->second)
        if (c) s += c;
    }
    argv.push_back(std::move(s));
  }
  return argv;
}

std::set<std::string> CommandTemplate::placeholders() const {
  std::set<std::string> out;
  for (const auto& w : words_)
    for (const auto& p : w)
      if (p.placeholder) out.insert(p.text);
  return out;
}

}  // namespace xdpban
