// Answers that hold for some clients only (EDNS Client Subnet, RFC 7871):
// what an authoritative server tailored to the client subnet the resolver
// sent, with a non-zero scope, and the default answers such a server gave
// when no subnet was sent. They never go into the shared stores (an answer
// for one network must not reach another); they live here, in a byte budget
// of their own carved out of the cache's (cache.memory, ecs.cache-share).
//
// Entries are keyed by the question and the SCOPE the server returned (RFC
// 7871 §7.3.1): an answer scoped /16 is stored under the /16 and serves
// every client of that /16, whatever /24 it was asked for. A lookup probes,
// from the longest to the shortest, each scope length that an entry of the
// family has ever been stored with (a bit mask per family, RFC 7871 §7.3.2:
// the longest match wins), never longer than the client's source prefix.
// Servers use one or two scope lengths in practice, so that is one or two
// probes. Answers with scope 0 hold for everyone and belong to the shared
// stores, not here. Entries are always wire answers (never rendered from
// the RRset store). Stale answers (RFC 8767) and prefetch claims work as
// in the shared answer cache (the same CacheConfig): the caller refreshes
// an entry with the entry's own subnet (the client's cut to the scope).
//
// Family 0 is "no subnet sent" (a client whose address is not revealed, or
// that asked for none with source prefix 0, RFC 7871 §7.1.2): the default
// answer of an ECS zone, shared by those clients only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

#include "cache/answer_cache.h"

namespace sextant::cache {

// A client's subnet: family (0 none, 1 IPv4, 2 IPv6), prefix length in bits,
// and the address (only the bits of the prefix matter).
struct SubnetKey {
  uint8_t family = 0;
  uint8_t bits = 0;
  std::array<uint8_t, 16> address{};
};

class ScopedAnswerCache {
 public:
  ScopedAnswerCache(const CacheConfig& config, size_t max_bytes) : answers_(config, nullptr, max_bytes, true) {}

  // The entry key: the answer key, then family, scope length, the address
  // octets the scope covers (bits past it zero) and the count of these
  // octets (AnswerCache's suffixed keys). False when it does
  // not fit a cache key (a name longer than about 235 octets): such answers
  // are not cached.
  static bool make_key(const AnswerKey& key, uint8_t family, uint8_t scope, std::span<const uint8_t, 16> address,
                       CacheKey& out) noexcept;

  // Stores `packet` for the clients of `subnet` cut to `scope` bits (at
  // most subnet.bits; ignored for family 0). Scope 0 with a family is
  // rejected: such an answer is for everyone (the shared cache).
  AnswerCache::Result insert(const AnswerKey& key, const SubnetKey& subnet, uint8_t scope,
                             std::span<const uint8_t> packet, uint32_t ttl, DnssecStatus status, uint32_t now);
  // A fresh answer for this question and client subnet: the longest stored
  // scope that covers it. `scope` gets the entry's scope on a hit.
  // With allow_stale, the longest stored scope that has fresh or stale
  // data; a fresh_only miss sets hit.stale_available when some scope has
  // stale data.
  bool lookup(const AnswerKey& key, const SubnetKey& subnet, uint16_t id, const wire::Name& qname_as_sent,
              uint32_t now, std::span<uint8_t> out, size_t& out_len, AnswerHit& hit, uint8_t& scope,
              StalePolicy policy = StalePolicy::fresh_only);
  // Releases the refresh claim of every entry that serves `subnet`.
  void finish_refresh(const AnswerKey& key, const SubnetKey& subnet);

  size_t flush_name(const wire::Name& name) { return answers_.flush_name(name); }
  size_t flush_subtree(const wire::Name& apex) { return answers_.flush_subtree(apex); }
  // A policy change's flush of a view's answers (AnswerCache::flush_view).
  size_t flush_view(uint16_t view, const std::function<bool(const wire::Name&)>& names = {}) {
    return answers_.flush_view(view, names);
  }
  void clear() { answers_.clear(); }
  void dump(std::string& out, uint32_t now) const { answers_.dump(out, now); }
  const ShardedStore<AnswerEntry>& store() const noexcept { return answers_.store(); }

 private:
  // Scope lengths stored so far: bit L of [0] for IPv4, bit L%64 of
  // [1 + L/64] for IPv6 (L up to 128); bit 0 of [4]: a family-0 entry. Only ever set (cleared
  // by nothing but a restart): a stale bit costs one probe that misses.
  bool length_used(uint8_t family, unsigned length) const noexcept;
  // Calls visit(key, length) for each stored scope length that covers
  // `subnet`, longest first, until it returns true (then true).
  template <typename Visit>
  bool for_each_scope(const AnswerKey& key, const SubnetKey& subnet, Visit&& visit) const;
  void mark_length(uint8_t family, unsigned length) noexcept;
  std::array<std::atomic<uint64_t>, 5> lengths_{};

  AnswerCache answers_;
};

}  // namespace sextant::cache
