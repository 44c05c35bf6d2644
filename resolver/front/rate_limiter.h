// Response rate limiting for UDP clients: a token bucket of answers per
// second per client prefix (/24 for IPv4, /56 for IPv6 by default), as Knot
// Resolver 6's `rate-limiting` and Unbound's `ip-ratelimit` do. Over the
// limit a query is dropped, and every Nth such query gets a truncated answer
// ("slip", query_defences.h) so that a real client behind the prefix retries
// over TCP, where it is not limited.
//
// One table for all workers: SO_REUSEPORT spreads one client's datagrams
// over every worker, so per-worker tables would multiply the limit by the
// number of workers. The table is fixed in size (bytes / 8 slots, set at
// start) and lock-free: each slot is one 64-bit word holding a 20-bit tag
// of the prefix and its bucket state, updated with compare-and-swap. Slots
// are grouped 8 to a cache line; a prefix hashes (SipHash with a per-process
// key, so clients cannot aim at one line) to one line and takes any slot in
// it. A full line gives up the slot that owes least: a prefix whose bucket
// is full again has nothing to remember, so under a flood of many prefixes
// the ones being limited are the last to be forgotten.
//
// The bucket is GCRA (a token bucket kept as one "theoretical arrival
// time"): with rate r and burst b, a prefix may send b queries at once and
// then r per second. Nothing here allocates, locks or calls the clock: the
// caller passes the worker's loop time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "resolver/front/client_address.h"
#include "wire/siphash.h"

namespace sextant::resolver {

struct RateLimitSettings {
  uint32_t rate = 0;   // answers per second per prefix; 0: off
  uint32_t burst = 0;  // 0: same as rate
  uint8_t ipv4_prefix = 24;
  uint8_t ipv6_prefix = 56;
  size_t table_bytes = 4 << 20;
};

class RateLimiter {
 public:
  static constexpr size_t kSlotsPerLine = 8;

  // `key` keys the prefix hash (random per process in the daemon).
  RateLimiter(const RateLimitSettings& settings, const wire::SipKey& key);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token for the client's prefix at `now_us` (any monotonic
  // microsecond clock shared by the callers); false when the prefix is over
  // its limit. Thread-safe and wait-free in practice (a few CAS retries at
  // most; after them the query is let through rather than spun on).
  bool allow(const ClientAddress& client, uint64_t now_us) noexcept;

  size_t slots() const noexcept { return lines_ * kSlotsPerLine; }
  size_t memory_bytes() const noexcept { return lines_ * sizeof(Line); }
  // Prefixes currently remembered (a scan: for tests and the dump).
  size_t occupied() const noexcept;

 private:
  struct alignas(64) Line {
    std::atomic<uint64_t> slot[kSlotsPerLine];
  };
  static_assert(sizeof(Line) == 64);

  uint64_t hash(const ClientAddress& client) const noexcept;

  RateLimitSettings settings_;
  wire::SipKey key_;
  uint64_t interval_us_;   // 1 s / rate
  uint64_t tolerance_us_;  // (burst - 1) intervals
  size_t lines_;
  std::unique_ptr<Line[]> table_;
};

}  // namespace sextant::resolver
