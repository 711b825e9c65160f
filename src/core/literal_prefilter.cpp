#include "core/literal_prefilter.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstring>

namespace xdpban {

namespace {

// Strings of which a match contains at least one; empty: none known.
using Factor = std::vector<std::string>;

size_t shortest(const Factor& f) {
  size_t n = SIZE_MAX;
  for (const auto& s : f) n = std::min(n, s.size());
  return n;
}

// Whether `a` rules out more lines than `b`: a longer shortest string, then fewer strings.
bool better(const Factor& a, const Factor& b) {
  if (a.empty()) return false;
  if (b.empty()) return true;
  if (shortest(a) != shortest(b)) return shortest(a) > shortest(b);
  return a.size() < b.size();
}

// What a group or branch contributes: its best factor, and when it is nothing
// but literal text (no classes, quantifiers, ...), every string it can match.
struct Part {
  Factor best;
  std::optional<Factor> exact;
};

constexpr size_t kMaxStrings = 64;  // cap on the strings a literal alternation expands to

// A recursive-descent reading of the pattern that only tracks which literal text
// is required; it sets `fail` on anything it does not follow.
struct Parser {
  std::string_view p;
  size_t i = 0;
  bool fail = false;

  bool at(char c) const { return i < p.size() && p[i] == c; }

  // Branches separated by '|' up to ')' or the end: the union of each branch's
  // best factor, or none if a branch has none.
  Part alternation() {
    Factor all;
    std::optional<Factor> exact = Factor{};
    bool usable = true;
    for (;;) {
      Part b = sequence();
      if (fail) return {};
      if (b.best.empty())
        usable = false;
      else
        all.insert(all.end(), b.best.begin(), b.best.end());
      if (exact && b.exact)
        exact->insert(exact->end(), b.exact->begin(), b.exact->end());
      else
        exact.reset();
      if (!at('|')) break;
      ++i;
    }
    if (exact && exact->size() > kMaxStrings) exact.reset();
    return Part{usable ? all : Factor{}, exact};
  }

  // 0: no quantifier; 1: the atom may be absent; 2: present at least once.
  int quantifier() {
    if (i >= p.size()) return 0;
    int q = 0;
    char c = p[i];
    if (c == '?' || c == '*') {
      q = 1;
      ++i;
    } else if (c == '+') {
      q = 2;
      ++i;
    } else if (c == '{') {
      size_t j = i + 1, lo = j;
      while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j]))) ++j;
      if (j == lo) {
        if (j < p.size() && p[j] == ',') fail = true;  // "{,n}": PCRE2 versions disagree
        return 0;                                      // a literal '{'
      }
      int min = std::atoi(std::string(p.substr(lo, j - lo)).c_str());
      if (j < p.size() && p[j] == ',') {
        ++j;
        while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j]))) ++j;
      }
      if (j >= p.size() || p[j] != '}') return 0;  // not a quantifier: a literal '{'
      i = j + 1;
      q = min == 0 ? 1 : 2;
    } else {
      return 0;
    }
    if (at('?') || at('+')) ++i;  // lazy or possessive
    if (at('?') || at('*') || at('+') || at('{')) fail = true;
    return q;
  }

  bool skip_class() {
    size_t j = i + 1;
    if (j < p.size() && p[j] == '^') ++j;
    if (j < p.size() && p[j] == ']') ++j;
    while (j < p.size() && p[j] != ']') {
      if (p[j] == '\\') {
        if (j + 1 < p.size() && (p[j + 1] == 'Q' || p[j + 1] == 'E')) return false;
        j += 2;
      } else if (p[j] == '[' && j + 1 < p.size() && std::strchr(":.=", p[j + 1])) {
        return false;  // POSIX class: its ']' is not the end
      } else {
        ++j;
      }
    }
    if (j >= p.size()) return false;
    i = j + 1;
    return true;
  }

  // At '(': the factor the group contributes where it stands (none for lookarounds,
  // conditionals and backreferences, which are parsed only to find their end).
  Part group() {
    ++i;
    bool keep = true;
    if (at('*')) {
      fail = true;
      return {};
    }
    if (at('?')) {
      ++i;
      if (i >= p.size()) {
        fail = true;
        return {};
      }
      char c = p[i];
      if (c == ':' || c == '>') {
        ++i;
      } else if (c == '=' || c == '!') {
        ++i;
        keep = false;
      } else if (c == '<' && i + 1 < p.size() && (p[i + 1] == '=' || p[i + 1] == '!')) {
        i += 2;
        keep = false;
      } else if (c == 'P' && i + 1 < p.size() && p[i + 1] == '=') {
        size_t close = p.find(')', i);
        if (close == std::string_view::npos) {
          fail = true;
          return {};
        }
        i = close + 1;
        return {};
      } else if ((c == 'P' && i + 1 < p.size() && p[i + 1] == '<') || c == '<' || c == '\'') {
        char end = c == '\'' ? '\'' : '>';
        size_t close = p.find(end, i + (c == 'P' ? 2 : 1));
        if (close == std::string_view::npos) {
          fail = true;
          return {};
        }
        i = close + 1;
      } else if (c == '(') {
        // Conditional: "(?(name)yes|no)"; an assertion as condition is not followed.
        if (i + 1 < p.size() && p[i + 1] == '?') {
          fail = true;
          return {};
        }
        size_t close = p.find(')', i);
        if (close == std::string_view::npos) {
          fail = true;
          return {};
        }
        i = close + 1;
        keep = false;
      } else {
        fail = true;  // inline flags (caseless, extended, ...), comments, branch reset
        return {};
      }
    }
    Part f = alternation();
    if (fail || !at(')')) {
      fail = true;
      return {};
    }
    ++i;
    return keep ? f : Part{};
  }

  // Atoms up to '|', ')' or the end: the best of its literal runs and required
  // groups. A run goes through groups of literal alternatives: "(?:a|b)c" -> ac, bc.
  Part sequence() {
    Factor best;
    Factor run{""};  // the strings that must end where the parser is
    bool exact = true;
    auto flush = [&] {
      if (!run.empty() && shortest(run) > 0 && better(run, best)) best = run;
      run.assign(1, "");
    };
    while (i < p.size() && !fail) {
      char c = p[i];
      if (c == '|' || c == ')') break;
      enum { kLiteral, kGroup, kOther } kind = kOther;
      char lit = 0;
      Part inner;
      auto u = static_cast<unsigned char>(c);
      if (c == '\\') {
        if (i + 1 >= p.size()) {
          fail = true;
          break;
        }
        auto e = static_cast<unsigned char>(p[i + 1]);
        if (e < 0x80 && !std::isalnum(e)) {
          kind = kLiteral;
          lit = static_cast<char>(e);
        } else if (e < 0x80 && std::strchr("dDsSwWbBAzZGhHvVRXKntrfea", static_cast<char>(e))) {
          kind = kOther;
        } else {
          fail = true;  // \x.., \p{..}, \Q, backreferences, \N{..}, ...
          break;
        }
        i += 2;
      } else if (c == '[') {
        if (!skip_class()) {
          fail = true;
          break;
        }
      } else if (c == '(') {
        inner = group();
        if (fail) break;
        kind = kGroup;
      } else if (c == '.' || c == '^' || c == '$' || c == '\n') {  // a newline may be where the subject ends
        ++i;
      } else if (c == '?' || c == '*' || c == '+') {
        fail = true;
        break;
      } else if (u >= 0x80) {
        ++i;  // one UTF-8 character, never part of a run (a quantifier takes all of it)
        while (i < p.size() && (static_cast<unsigned char>(p[i]) & 0xC0) == 0x80) ++i;
      } else {
        kind = kLiteral;
        lit = c;
        ++i;
      }
      int q = quantifier();
      if (fail) break;
      if (kind == kLiteral && q == 0) {
        for (auto& r : run) r += lit;
        continue;
      }
      if (kind == kGroup && q == 0 && inner.exact) {
        if (run.size() * inner.exact->size() > kMaxStrings) flush();
        Factor next;
        for (const auto& r : run)
          for (const auto& e : *inner.exact) next.push_back(r + e);
        run = std::move(next);
        continue;
      }
      exact = false;
      if (kind == kLiteral && q == 2)
        for (auto& r : run) r += lit;  // "ab+" still requires "ab"
      flush();
      if (kind == kGroup && q != 1 && better(inner.best, best)) best = std::move(inner.best);
    }
    Part out;
    if (exact) out.exact = run;
    flush();
    out.best = std::move(best);
    return out;
  }
};

}  // namespace

std::optional<std::vector<std::string>> required_literals(std::string_view pattern) {
  Parser ps{pattern};
  Factor f = ps.alternation().best;
  if (ps.fail || ps.i != pattern.size() || f.empty()) return std::nullopt;
  std::sort(f.begin(), f.end());
  f.erase(std::unique(f.begin(), f.end()), f.end());
  return f;
}

namespace {

// How common a byte is in log text, by English letter frequency (space first):
// a window of rare bytes makes fewer false probe hits.
int commonness(char c) {
  static constexpr std::string_view kByFrequency = " etaoinsrhldcumfpgwybvkxjqz";
  auto at = kByFrequency.find(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return at == std::string_view::npos ? 0 : static_cast<int>(kByFrequency.size() - at);
}

// The window of `literal` (kKeep bytes, or all of it) with the rarest bytes: a
// text containing the literal contains the window, and common words such as
// " for " or "user" would make the scan stop to compare on most lines.
std::string_view rarest_window(std::string_view literal) {
  constexpr size_t kKeep = 7;
  if (literal.size() <= kKeep) return literal;
  size_t best = 0;
  int best_score = INT32_MAX;
  for (size_t at = 0; at + kKeep <= literal.size(); ++at) {
    int score = 0;
    for (size_t k = 0; k < kKeep; ++k) score += commonness(literal[at + k]);
    if (score < best_score) {
      best_score = score;
      best = at;
    }
  }
  return literal.substr(best, kKeep);
}

}  // namespace

bool LiteralSet::add(std::string_view literal) {
  if (literal.size() < kMinLength) return false;
  literal = rarest_window(literal);
  auto index = static_cast<uint32_t>(literals_.size());
  literals_.emplace_back(literal);
  size_t old = grams_.size();
  for (size_t o = 0; o + 4 <= literal.size(); ++o) {
    uint32_t w;
    std::memcpy(&w, literal.data() + o, 4);
    uint32_t h = hash(w);
    seen_[h / 64] |= uint64_t{1} << (h % 64);
    grams_.push_back(Gram{h, index, static_cast<uint32_t>(o)});
  }
  std::sort(grams_.begin() + static_cast<std::ptrdiff_t>(old), grams_.end());
  std::inplace_merge(grams_.begin(), grams_.begin() + static_cast<std::ptrdiff_t>(old), grams_.end());
  for (size_t b = 0, g = 0; b < block_start_.size(); ++b) {
    while (g < grams_.size() && grams_[g].hash < 64 * b) ++g;
    block_start_[b] = static_cast<uint32_t>(g);
  }
  shortest_ = std::min(shortest_, literal.size());
  stride_ = shortest_ - 3;
  return true;
}

bool LiteralSet::contains_any(std::string_view text) const {
  const size_t n = text.size();
  if (n < shortest_) return false;
  const char* s = text.data();
  for (size_t i = 0; i + 4 <= n; i += stride_) {
    uint32_t w;
    std::memcpy(&w, s + i, 4);
    uint32_t h = hash(w);
    if (!(seen_[h / 64] >> (h % 64) & 1)) continue;
    const Gram* g = grams_.data() + block_start_[h / 64];
    const Gram* hi = grams_.data() + block_start_[h / 64 + 1];
    for (; g != hi; ++g) {
      if (g->hash != h || g->offset > i) continue;
      const std::string& lit = literals_[g->literal];
      size_t start = i - g->offset;
      if (lit.size() <= n - start && std::memcmp(s + start, lit.data(), lit.size()) == 0) return true;
    }
  }
  return false;
}

}  // namespace xdpban
