// Answers that hold for one client subnet only (EDNS Client Subnet, RFC
// 7871): what an authoritative server tailored to the subnet the resolver
// sent, with a non-zero scope. They never go into the shared stores (an
// answer for one network must not reach another); they live here, keyed by
// the question and the client's source prefix, in a byte budget of their
// own carved out of the cache's (cache.memory).
//
// One probe per lookup: entries are keyed by the prefix the resolver sent
// (/24 or /56 by default), not by the scope the server returned. An answer
// whose scope is shorter (say /16) is therefore shared only within the /24
// it was asked for — less sharing than the scope allows, never more, and no
// scope index to keep. Answers with scope 0 hold for everyone and belong to
// the shared stores. Entries are always wire answers (never rendered from
// the RRset store), are not prefetched, and are not kept for serve-stale.
#pragma once

#include <cstdint>
#include <span>

#include "cache/answer_cache.h"

namespace sextant::cache {

// A client's source prefix as sent upstream: family (1 IPv4, 2 IPv6), the
// prefix length, and the address octets it covers (the rest zero).
struct SubnetKey {
  uint8_t family = 1;
  uint8_t bits = 0;
  uint8_t address[16] = {};
};

class ScopedAnswerCache {
 public:
  ScopedAnswerCache(const CacheConfig& config, size_t max_bytes) : answers_(config, nullptr, max_bytes) {}

  // The entry key: the answer key, then family, length and the prefix's
  // octets. False when it does not fit a cache key (a name longer than
  // about 235 octets): such answers are not cached.
  static bool make_key(const AnswerKey& key, const SubnetKey& subnet, CacheKey& out) noexcept;

  AnswerCache::Result insert(const AnswerKey& key, const SubnetKey& subnet, std::span<const uint8_t> packet,
                             uint32_t ttl, DnssecStatus status, uint32_t now);
  // A fresh answer for this question and subnet, as AnswerCache::lookup.
  bool lookup(const AnswerKey& key, const SubnetKey& subnet, uint16_t id, const wire::Name& qname_as_sent,
              uint32_t now, std::span<uint8_t> out, size_t& out_len, AnswerHit& hit);

  size_t flush_name(const wire::Name& name) { return answers_.flush_name(name); }
  size_t flush_subtree(const wire::Name& apex) { return answers_.flush_subtree(apex); }
  void clear() { answers_.clear(); }
  void dump(std::string& out, uint32_t now) const { answers_.dump(out, now); }
  const ShardedStore<AnswerEntry>& store() const noexcept { return answers_.store(); }

 private:
  AnswerCache answers_;
};

}  // namespace sextant::cache
