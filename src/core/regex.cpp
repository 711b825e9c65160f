#include "core/regex.h"

#include <cctype>
#include <cstring>

namespace xdpban {

namespace {

constexpr uint32_t kMatchLimit = 1'000'000;
constexpr uint32_t kDepthLimit = 10'000;
constexpr size_t kJitStackMax = 4 * 1024 * 1024;

// One match context and JIT stack per thread; matching never shares them.
struct ThreadMatchContext {
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ThreadMatchContext() {
    ctx = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(ctx, kMatchLimit);
    pcre2_set_depth_limit(ctx, kDepthLimit);
    stack = pcre2_jit_stack_create(64 * 1024, kJitStackMax, nullptr);
    if (stack) pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~ThreadMatchContext() {
    if (stack) pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
  }
  ThreadMatchContext(const ThreadMatchContext&) = delete;
  ThreadMatchContext& operator=(const ThreadMatchContext&) = delete;
};

pcre2_match_context* match_context() {
  thread_local ThreadMatchContext tmc;
  return tmc.ctx;
}

}  // namespace

std::string translate_python_regex(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 8);
  size_t i = 0;
  const size_t n = p.size();
  while (i < n) {
    char c = p[i];
    if (c == '\\' && i + 1 < n) {
      if (p[i + 1] == 'Z') {
        out += "\\z";
      } else {
        out += p.substr(i, 2);
      }
      i += 2;
      continue;
    }
    if (c == '[') {
      // Copy a character class verbatim: a leading ']' (after an optional '^') is literal.
      size_t j = i + 1;
      if (j < n && p[j] == '^') ++j;
      if (j < n && p[j] == ']') ++j;
      while (j < n && p[j] != ']') j += (p[j] == '\\' && j + 1 < n) ? 2 : 1;
      size_t stop = j < n ? j + 1 : n;
      out += p.substr(i, stop - i);
      i = stop;
      continue;
    }
    if (c == '{' && i + 1 < n && p[i + 1] == ',') {
      size_t j = i + 2;
      while (j < n && std::isdigit(static_cast<unsigned char>(p[j]))) ++j;
      if (j > i + 2 && j < n && p[j] == '}') {
        out += "{0";
        out += p.substr(i + 1, j - i);
        i = j + 1;
        continue;
      }
    }
    if (c == '(' && i + 2 < n && p[i + 1] == '?' && std::islower(static_cast<unsigned char>(p[i + 2]))) {
      // Inline flags: "(?iu)" or "(?u:...)"; PCRE2 has no u/L/a (UTF+UCP are always on).
      size_t j = i + 2;
      std::string flags;
      while (j < n && std::isalpha(static_cast<unsigned char>(p[j]))) {
        if (p[j] != 'u' && p[j] != 'L' && p[j] != 'a') flags += p[j];
        ++j;
      }
      if (j < n && (p[j] == ')' || p[j] == ':' || p[j] == '-')) {
        if (p[j] == ')' && flags.empty()) {
          i = j + 1;  // "(?u)" alone: nothing left to say
          continue;
        }
        out += "(?";
        out += flags;
        i = j;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

Result<Regex> Regex::compile(std::string_view pattern, Options options) {
  uint32_t flags = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (options.multiline) flags |= PCRE2_MULTILINE;
  if (options.caseless) flags |= PCRE2_CASELESS;
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags, &err,
                                   &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    return invalid("regex '" + std::string(pattern) + "': " + reinterpret_cast<char*>(buf) + " at offset " +
                   std::to_string(offset));
  }
  Regex re;
  re.code_ = std::shared_ptr<pcre2_code>(code, CodeFree{});
  re.pattern_ = std::string(pattern);
  re.jit_ = options.jit && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;  // else the interpreter runs it
  // Only for an ASCII pattern: in byte mode "é?" would make only its last byte optional.
  if (re.jit_ && is_ascii(pattern)) {
    uint32_t byte_flags = flags & ~(PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF);
    pcre2_code* bytes = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                      byte_flags, &err, &offset, nullptr);
    if (bytes && pcre2_jit_compile(bytes, PCRE2_JIT_COMPLETE) == 0)
      re.ascii_code_ = std::shared_ptr<pcre2_code>(bytes, CodeFree{});
    else if (bytes)
      pcre2_code_free(bytes);
  }
  uint32_t captures = 0, name_count = 0, entry_size = 0;
  PCRE2_SPTR table = nullptr;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
  pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &name_count);
  pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
  re.captures_ = static_cast<int>(captures);
  for (uint32_t k = 0; k < name_count; ++k) {
    PCRE2_SPTR e = table + k * entry_size;
    int num = (e[0] << 8) | e[1];
    re.names_.emplace_back(reinterpret_cast<const char*>(e + 2), num);
  }
  return re;
}

bool is_ascii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t any = 0;
  if (n >= 8) {
    // 16 bytes a step, then what is left as one or two words, the last one
    // ending at the end (overlapping bytes already seen).
    for (; n >= 16; p += 16, n -= 16) {
      uint64_t a, b;
      std::memcpy(&a, p, 8);
      std::memcpy(&b, p + 8, 8);
      any |= a | b;
    }
    uint64_t w;
    if (n > 8) {
      std::memcpy(&w, p, 8);
      any |= w;
    }
    if (n > 0) {
      std::memcpy(&w, p + n - 8, 8);
      any |= w;
    }
    return (any & 0x8080808080808080ull) == 0;
  }
  for (; n > 0; ++p, --n) any |= static_cast<unsigned char>(*p);
  return (any & 0x8080808080808080ull) == 0;
}

bool Regex::search(std::string_view subject, MatchData& md, size_t start, bool ascii) const {
  md.subject_ = subject;
  if (ascii && ascii_code_) {
    int rc = pcre2_jit_match(ascii_code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                             start, 0, md.data_.get(), match_context());
    md.count_ = rc > 0 ? rc : 0;
    return rc > 0;
  }
  // pcre2_jit_match skips pcre2_match's per-call checks; both honour the limits.
  int rc = jit_ ? pcre2_jit_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                                  start, 0, md.data_.get(), match_context())
                : pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                              start, 0, md.data_.get(), match_context());
  md.count_ = rc > 0 ? rc : 0;
  return rc > 0;
}

std::bitset<256> Regex::first_bytes() const {
  std::bitset<256> all;
  all.set();
  uint32_t type = 0;
  if (pcre2_pattern_info(code_.get(), PCRE2_INFO_FIRSTCODETYPE, &type) != 0) return all;
  if (type == 1) {
    uint32_t cu = 0;
    pcre2_pattern_info(code_.get(), PCRE2_INFO_FIRSTCODEUNIT, &cu);
    if (cu >= 0x80) return all;
    std::bitset<256> bytes;
    bytes.set(cu);
    if (std::isalpha(static_cast<int>(cu))) {
      // PCRE2 does not report whether its first code unit is caseless, and with
      // UCP a caseless ASCII letter also matches non-ASCII ones (k: U+212A, s: U+017F).
      bytes.set(std::toupper(static_cast<int>(cu)));
      bytes.set(std::tolower(static_cast<int>(cu)));
      for (int b = 0x80; b < 0x100; ++b) bytes.set(b);
    }
    return bytes;
  }
  const uint8_t* map = nullptr;
  if (type != 0 || pcre2_pattern_info(code_.get(), PCRE2_INFO_FIRSTBITMAP, &map) != 0 || !map) return all;
  std::bitset<256> bytes;
  for (int b = 0; b < 256; ++b)
    if (map[b / 8] & (1u << (b % 8))) bytes.set(b);
  return bytes;
}

int Regex::group_index(std::string_view name) const {
  for (const auto& [n, num] : names_)
    if (n == name) return num;
  return -1;
}

MatchData::MatchData(const Regex& re)
    : data_(pcre2_match_data_create_from_pattern(re.code_.get(), nullptr)),
      ovector_(pcre2_get_ovector_pointer(data_.get())) {}

}  // namespace xdpban
