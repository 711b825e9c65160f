#include "core/failure_tracker.h"

#include <algorithm>
#include <cstring>

namespace xdpban {

namespace {
// Times are kept as seconds since 2000-01-01 in 32 bits (good until 2136).
constexpr int64_t kBase = 946684800;
uint32_t compact(int64_t t) { return static_cast<uint32_t>(std::clamp<int64_t>(t - kBase, 0, UINT32_MAX)); }
constexpr int kInline = 8;
}  // namespace

size_t AddressHash::operator()(const Address& a) const noexcept {
  uint64_t lo, hi;
  std::memcpy(&lo, a.bytes.data(), 8);
  std::memcpy(&hi, a.bytes.data() + 8, 8);
  uint64_t h = lo * 0x9e3779b97f4a7c15ull ^ (hi + static_cast<uint64_t>(a.family)) * 0xc2b2ae3d27d4eb4full;
  return static_cast<size_t>(h ^ (h >> 29));
}

// The newest failure times of one address, sorted ascending; at most maxretry
// are needed to decide. Small windows stay inline (no second allocation).
struct FailureTracker::Entry {
  uint32_t inline_times[kInline];
  std::unique_ptr<uint32_t[]> heap_times;  // grown with the count, never past maxretry
  uint32_t n = 0;
  uint32_t heap_cap = 0;
  Map::value_type* prev = nullptr;
  Map::value_type* next = nullptr;

  uint32_t* times() { return heap_times ? heap_times.get() : inline_times; }
  uint32_t capacity() const { return heap_times ? heap_cap : kInline; }
  uint32_t newest() { return n ? times()[n - 1] : 0; }
  // Room for one more time (a large maxretry costs memory only for addresses
  // that really failed that often).
  void grow(uint32_t limit) {
    uint32_t cap = std::min(limit, std::max<uint32_t>(2 * kInline, 2 * capacity()));
    auto bigger = std::make_unique<uint32_t[]>(cap);
    std::memcpy(bigger.get(), times(), sizeof(uint32_t) * n);
    heap_times = std::move(bigger);
    heap_cap = cap;
  }
};

FailureTracker::FailureTracker(TrackerLimits limits) : limits_(limits) {}
FailureTracker::~FailureTracker() = default;

void FailureTracker::unlink(Map::value_type* node) {
  Entry& e = node->second;
  (e.prev ? e.prev->second.next : lru_head_) = e.next;
  (e.next ? e.next->second.prev : lru_tail_) = e.prev;
  e.prev = e.next = nullptr;
}

void FailureTracker::push_back(Map::value_type* node) {
  Entry& e = node->second;
  e.prev = lru_tail_;
  e.next = nullptr;
  (lru_tail_ ? lru_tail_->second.next : lru_head_) = node;
  lru_tail_ = node;
}

void FailureTracker::evict_oldest() {
  if (!lru_head_) return;
  auto* node = lru_head_;
  unlink(node);
  map_.erase(node->first);
  ++evicted_;
}

FailureTracker::Outcome FailureTracker::record(const Address& a, int64_t t, int attempts) {
  int cap = std::max(1, limits_.maxretry);
  auto it = map_.find(a);
  if (it == map_.end()) {
    while (!map_.empty() && map_.size() >= limits_.max_entries) evict_oldest();
    it = map_.try_emplace(a).first;
    push_back(&*it);
  } else {
    unlink(&*it);
    push_back(&*it);
  }
  Entry& e = it->second;
  for (int k = 0; k < std::max(1, attempts); ++k) {
    if (e.n < static_cast<uint32_t>(cap) && e.n == e.capacity()) e.grow(static_cast<uint32_t>(cap));
    uint32_t* times = e.times();
    // Insert in order; when full, the oldest time falls out.
    uint32_t v = compact(t);
    int pos = static_cast<int>(e.n);
    while (pos > 0 && times[pos - 1] > v) --pos;
    if (e.n == static_cast<uint32_t>(cap)) {
      if (pos == 0) continue;  // older than everything kept: cannot matter
      std::memmove(times, times + 1, sizeof(uint32_t) * static_cast<size_t>(pos - 1));
      times[pos - 1] = v;
    } else {
      std::memmove(times + pos + 1, times + pos, sizeof(uint32_t) * (e.n - static_cast<uint32_t>(pos)));
      times[pos] = v;
      ++e.n;
    }
  }
  // Window: (newest - findtime, newest].
  uint32_t* times = e.times();
  uint32_t newest = e.newest();
  int64_t floor = static_cast<int64_t>(newest) - limits_.findtime_s;
  uint32_t first = 0;
  while (first < e.n && static_cast<int64_t>(times[first]) <= floor) ++first;
  if (first > 0) {
    std::memmove(times, times + first, sizeof(uint32_t) * (e.n - first));
    e.n -= first;
  }
  Outcome out{static_cast<int>(e.n), static_cast<int>(e.n) >= limits_.maxretry};
  if (out.ban) {
    unlink(&*it);
    map_.erase(it);
  }
  return out;
}

void FailureTracker::forget(const Address& a) {
  auto it = map_.find(a);
  if (it == map_.end()) return;
  unlink(&*it);
  map_.erase(it);
}

size_t FailureTracker::expire(int64_t now) {
  size_t n = 0;
  int64_t floor = now - limits_.findtime_s;
  // Most recently failed addresses sit at the tail; expire from the head.
  while (lru_head_ && static_cast<int64_t>(lru_head_->second.newest()) + kBase <= floor) {
    auto* node = lru_head_;
    unlink(node);
    map_.erase(node->first);
    ++n;
  }
  return n;
}

int FailureTracker::count(const Address& a) const {
  auto it = map_.find(a);
  return it == map_.end() ? 0 : static_cast<int>(it->second.n);
}

void FailureTracker::set_limits(const TrackerLimits& limits) {
  bool reshape = limits.maxretry != limits_.maxretry;
  limits_ = limits;
  if (reshape) {  // the per-address buffers are sized by maxretry: start counting afresh
    map_.clear();
    lru_head_ = lru_tail_ = nullptr;
  }
  while (map_.size() > limits_.max_entries) evict_oldest();
}

}  // namespace xdpban
