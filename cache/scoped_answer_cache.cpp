#include "cache/scoped_answer_cache.h"

namespace sextant::cache {

bool ScopedAnswerCache::make_key(const AnswerKey& key, const SubnetKey& subnet, CacheKey& out) noexcept {
  out = make_answer_key(key);
  const size_t max_bits = subnet.family == 2 ? 128 : 32;
  const size_t bits = subnet.bits > max_bits ? max_bits : subnet.bits;
  const size_t octets = (bits + 7) / 8;
  if (out.size + 2 + octets > kMaxKeySize) return false;
  out.bytes[out.size++] = subnet.family;
  out.bytes[out.size++] = static_cast<uint8_t>(bits);
  for (size_t i = 0; i < octets; ++i) {
    uint8_t b = subnet.address[i];
    if (i == octets - 1 && bits % 8) b &= static_cast<uint8_t>(0xFF00u >> (bits % 8));
    out.bytes[out.size++] = b;
  }
  finish_key(out);
  return true;
}

AnswerCache::Result ScopedAnswerCache::insert(const AnswerKey& key, const SubnetKey& subnet,
                                              std::span<const uint8_t> packet, uint32_t ttl, DnssecStatus status,
                                              uint32_t now) {
  CacheKey k;
  if (!make_key(key, subnet, k)) return AnswerCache::Result::rejected;
  return answers_.insert(key, k, packet, ttl, status, now);
}

bool ScopedAnswerCache::lookup(const AnswerKey& key, const SubnetKey& subnet, uint16_t id,
                               const wire::Name& qname_as_sent, uint32_t now, std::span<uint8_t> out,
                               size_t& out_len, AnswerHit& hit) {
  CacheKey k;
  if (!make_key(key, subnet, k)) return false;
  return answers_.lookup(k, id, qname_as_sent, now, out, out_len, hit, StalePolicy::fresh_only);
}

}  // namespace sextant::cache
