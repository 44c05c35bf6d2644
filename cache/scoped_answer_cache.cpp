#include "cache/scoped_answer_cache.h"

#include <algorithm>

namespace sextant::cache {

namespace {

unsigned family_width(uint8_t family) noexcept { return family == 1 ? 32 : family == 2 ? 128 : 0; }

}  // namespace

bool ScopedAnswerCache::make_key(const AnswerKey& key, uint8_t family, uint8_t scope,
                                 std::span<const uint8_t, 16> address, CacheKey& out) noexcept {
  out = make_answer_key(key);
  const unsigned bits = std::min<unsigned>(scope, family_width(family));
  const size_t octets = (bits + 7) / 8;
  if (out.size + 3 + octets > kMaxKeySize) return false;
  out.bytes[out.size++] = family;
  out.bytes[out.size++] = static_cast<uint8_t>(bits);
  for (size_t i = 0; i < octets; ++i) {
    uint8_t b = address[i];
    if (i == octets - 1 && bits % 8) b &= static_cast<uint8_t>(0xFF00u >> (bits % 8));
    out.bytes[out.size++] = b;
  }
  out.bytes[out.size++] = static_cast<uint8_t>(3 + octets);
  finish_key(out);
  return true;
}

bool ScopedAnswerCache::length_used(uint8_t family, unsigned length) const noexcept {
  if (family == 0) return lengths_[4].load(std::memory_order_relaxed) & 1;
  const size_t word = family == 1 ? 0 : 1 + length / 64;
  return (lengths_[word].load(std::memory_order_relaxed) >> (length % 64)) & 1;
}

void ScopedAnswerCache::mark_length(uint8_t family, unsigned length) noexcept {
  const size_t word = family == 0 ? 4 : family == 1 ? 0 : 1 + length / 64;
  const uint64_t bit = uint64_t{1} << (family == 0 ? 0 : length % 64);
  if (!(lengths_[word].load(std::memory_order_relaxed) & bit)) lengths_[word].fetch_or(bit, std::memory_order_relaxed);
}

template <typename Visit>
bool ScopedAnswerCache::for_each_scope(const AnswerKey& key, const SubnetKey& subnet, Visit&& visit) const {
  if (subnet.family > 2) return false;
  const unsigned longest = subnet.family == 0 ? 0 : std::min<unsigned>(subnet.bits, family_width(subnet.family));
  for (unsigned length = longest;; --length) {
    if (length_used(subnet.family, length) && (subnet.family == 0 || length > 0)) {
      CacheKey k;
      if (!make_key(key, subnet.family, static_cast<uint8_t>(length), subnet.address, k)) return false;
      if (visit(static_cast<const CacheKey&>(k), length)) return true;
    }
    if (length == 0 || subnet.family == 0) return false;
  }
}

AnswerCache::Result ScopedAnswerCache::insert(const AnswerKey& key, const SubnetKey& subnet, uint8_t scope,
                                              std::span<const uint8_t> packet, uint32_t ttl, DnssecStatus status,
                                              uint32_t now) {
  if (subnet.family > 2) return AnswerCache::Result::rejected;
  unsigned length = 0;
  if (subnet.family != 0) {
    length = std::min<unsigned>({scope, subnet.bits, family_width(subnet.family)});
    if (length == 0) return AnswerCache::Result::rejected;
  }
  CacheKey k;
  if (!make_key(key, subnet.family, static_cast<uint8_t>(length), subnet.address, k))
    return AnswerCache::Result::rejected;
  AnswerCache::Result r = answers_.insert(key, k, packet, ttl, status, now);
  if (r == AnswerCache::Result::stored) mark_length(subnet.family, length);
  return r;
}

bool ScopedAnswerCache::lookup(const AnswerKey& key, const SubnetKey& subnet, uint16_t id,
                               const wire::Name& qname_as_sent, uint32_t now, std::span<uint8_t> out,
                               size_t& out_len, AnswerHit& hit, uint8_t& scope, StalePolicy policy) {
  bool stale_available = false;
  const bool found = for_each_scope(key, subnet, [&](const CacheKey& k, unsigned length) {
    if (answers_.lookup(k, id, qname_as_sent, now, out, out_len, hit, policy)) {
      scope = static_cast<uint8_t>(length);
      return true;
    }
    stale_available = stale_available || hit.stale_available;
    return false;
  });
  if (!found) hit.stale_available = stale_available;
  return found;
}

void ScopedAnswerCache::finish_refresh(const AnswerKey& key, const SubnetKey& subnet) {
  for_each_scope(key, subnet, [&](const CacheKey& k, unsigned) {
    answers_.finish_refresh(k);
    return false;
  });
}

}  // namespace sextant::cache
