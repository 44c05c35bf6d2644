#include "resolver/front/rate_limiter.h"

#include <algorithm>
#include <bit>

namespace sextant::resolver {

namespace {

constexpr int kTimeBits = 44;  // microseconds: wraps after 203 days (handled below)
constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;
constexpr int kTagBits = 64 - kTimeBits;
constexpr int kCasRetries = 4;

// The difference a - b of two 44-bit times, read signed (they wrap).
int64_t time_diff(uint64_t a, uint64_t b) noexcept {
  uint64_t d = (a - b) & kTimeMask;
  return d >= (uint64_t{1} << (kTimeBits - 1)) ? static_cast<int64_t>(d) - (int64_t{1} << kTimeBits)
                                               : static_cast<int64_t>(d);
}

uint64_t pack(uint64_t tag, uint64_t tat) noexcept { return (tag << kTimeBits) | (tat & kTimeMask); }

}  // namespace

RateLimiter::RateLimiter(const RateLimitSettings& settings, const wire::SipKey& key)
    : settings_(settings), key_(key) {
  uint32_t rate = std::max<uint32_t>(1, settings.rate);
  uint32_t burst = settings.burst ? settings.burst : rate;
  interval_us_ = std::max<uint64_t>(1, 1'000'000 / rate);
  tolerance_us_ = interval_us_ * (burst - 1);
  size_t wanted = std::max<size_t>(1, settings.table_bytes / sizeof(Line));
  lines_ = std::bit_floor(wanted);
  table_ = std::make_unique<Line[]>(lines_);
  for (size_t i = 0; i < lines_; ++i)
    for (auto& s : table_[i].slot) s.store(0, std::memory_order_relaxed);
}

uint64_t RateLimiter::hash(const ClientAddress& client) const noexcept {
  // Family, then the address cut to the configured prefix.
  uint8_t key[17] = {};
  key[0] = static_cast<uint8_t>(client.size);
  unsigned bits = client.size == 4 ? std::min<unsigned>(settings_.ipv4_prefix, 32)
                                   : std::min<unsigned>(settings_.ipv6_prefix, 128);
  unsigned full = bits / 8;
  std::copy_n(client.bytes, full, key + 1);
  if (bits % 8) key[1 + full] = static_cast<uint8_t>(client.bytes[full] & (0xFF00u >> (bits % 8)));
  return wire::siphash24(key_, std::span<const uint8_t>(key, 1 + client.size));
}

bool RateLimiter::allow(const ClientAddress& client, uint64_t now_us) noexcept {
  const uint64_t h = hash(client);
  Line& line = table_[h & (lines_ - 1)];
  uint64_t tag = h >> kTimeBits;
  if (tag == 0) tag = 1;  // 0 marks an empty slot
  const uint64_t now = now_us & kTimeMask;

  for (int attempt = 0; attempt < kCasRetries; ++attempt) {
    std::atomic<uint64_t>* victim = nullptr;
    uint64_t victim_word = 0;
    int64_t victim_debt = 0;
    std::atomic<uint64_t>* mine = nullptr;
    uint64_t word = 0;
    for (auto& slot : line.slot) {
      uint64_t w = slot.load(std::memory_order_relaxed);
      if (w == 0) {
        if (!victim || victim_word != 0) {
          victim = &slot;
          victim_word = 0;
          victim_debt = INT64_MIN;
        }
        continue;
      }
      if ((w >> kTimeBits) == tag) {
        mine = &slot;
        word = w;
        break;
      }
      int64_t debt = time_diff(w & kTimeMask, now);
      if (debt > static_cast<int64_t>(tolerance_us_ + interval_us_)) debt = INT64_MIN;  // stale (wrapped)
      if (!victim || (victim_word != 0 && debt < victim_debt)) {
        victim = &slot;
        victim_word = w;
        victim_debt = debt;
      }
    }
    if (mine) {
      uint64_t tat = word & kTimeMask;
      int64_t debt = time_diff(tat, now);
      // More debt than the rules allow can only be a time that wrapped
      // around: the prefix has been idle for months.
      if (debt > static_cast<int64_t>(tolerance_us_ + interval_us_)) debt = 0;
      if (debt > static_cast<int64_t>(tolerance_us_)) return false;
      uint64_t next = (debt > 0 ? tat : now) + interval_us_;
      if (mine->compare_exchange_weak(word, pack(tag, next), std::memory_order_relaxed)) return true;
      continue;
    }
    uint64_t expected = victim_word;
    if (victim->compare_exchange_weak(expected, pack(tag, now + interval_us_), std::memory_order_relaxed))
      return true;
  }
  return true;  // contended beyond reason: let it through rather than spin
}

size_t RateLimiter::occupied() const noexcept {
  size_t n = 0;
  for (size_t i = 0; i < lines_; ++i)
    for (const auto& s : table_[i].slot) n += s.load(std::memory_order_relaxed) != 0;
  return n;
}

}  // namespace sextant::resolver
