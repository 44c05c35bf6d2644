// Keys of the cache stores: the owner name's lower-cased uncompressed wire
// form followed by type, class and (for the answer cache) a view tag when
// not 0, and a flags octet.
//
// Two hashes come with every key: `name_hash` over the name alone picks the
// shard, so all entries of one name share a shard and "flush this name"
// touches one shard; `hash` over the whole key picks the bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "wire/name.h"
#include "wire/types.h"

namespace sextant::cache {

inline constexpr size_t kMaxKeySize = wire::Name::kMaxWireSize + 7;

inline uint64_t mix64(uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// Word-at-a-time multiplicative hash with a final avalanche, so the low bits
// (bucket) and the high bits (shard) are both well mixed.
inline uint64_t hash_bytes(const uint8_t* data, size_t size, uint64_t seed = 0) noexcept {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ seed ^ (size * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * 0x100000001B3ull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  for (size_t k = 0; i < size; ++i, k += 8) tail |= uint64_t{data[i]} << k;
  h = (h ^ tail) * 0x100000001B3ull;
  return mix64(h);
}

// ASCII lower-casing of 8 octets at once: sets bit 5 of every octet in
// 'A'..'Z' and leaves all others (including octets >= 0x80) alone.
inline uint64_t ascii_lower_word(uint64_t w) noexcept {
  constexpr uint64_t k01 = 0x0101010101010101ull;
  constexpr uint64_t k7f = 0x7F * k01;
  constexpr uint64_t k80 = 0x80 * k01;
  uint64_t heptets = w & k7f;
  uint64_t ge_a = heptets + (0x80 - 'A') * k01;     // high bit set where >= 'A'
  uint64_t gt_z = heptets + (0x7F - 'Z') * k01;     // high bit set where > 'Z'
  uint64_t upper = ~w & (ge_a ^ gt_z) & k80;
  return w | (upper >> 2);
}

struct CacheKey {
  uint8_t bytes[kMaxKeySize];
  uint16_t size = 0;
  uint16_t name_size = 0;
  uint64_t name_hash = 0;
  uint64_t hash = 0;

  std::span<const uint8_t> view() const noexcept { return {bytes, size}; }
  std::span<const uint8_t> name_wire() const noexcept { return {bytes, name_size}; }
};

// Writes the lower-cased wire form of `name` into key.bytes and hashes it.
inline void set_key_name(const wire::Name& name, CacheKey& key) noexcept {
  auto w = name.wire();
  size_t i = 0;
  for (; i + 8 <= w.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, w.data() + i, 8);
    word = ascii_lower_word(word);
    std::memcpy(key.bytes + i, &word, 8);
  }
  for (; i < w.size(); ++i) key.bytes[i] = wire::ascii_lower(w[i]);
  key.name_size = static_cast<uint16_t>(w.size());
  key.size = key.name_size;
  key.name_hash = hash_bytes(key.bytes, key.name_size);
}

inline void append_u16(CacheKey& key, uint16_t v) noexcept {
  key.bytes[key.size++] = static_cast<uint8_t>(v >> 8);
  key.bytes[key.size++] = static_cast<uint8_t>(v);
}

inline void finish_key(CacheKey& key) noexcept {
  key.hash = hash_bytes(key.bytes + key.name_size, key.size - key.name_size, key.name_hash);
}

// (name, type, class).
inline CacheKey make_key(const wire::Name& name, uint16_t type, uint16_t rclass) noexcept {
  CacheKey key;
  set_key_name(name, key);
  append_u16(key, type);
  append_u16(key, rclass);
  finish_key(key);
  return key;
}

// Size of the uncompressed name at the start of `key` (trusted input).
inline size_t key_name_size(std::span<const uint8_t> key) noexcept {
  size_t pos = 0;
  while (pos < key.size() && key[pos] != 0) pos += key[pos] + 1u;
  return pos + 1;
}

// The owner name stored at the start of a key.
inline wire::Name key_name(std::span<const uint8_t> key) noexcept {
  wire::Name name;
  size_t pos = 0;
  (void)wire::Name::parse_uncompressed(key, pos, name);
  return name;
}

// Copies a short run of octets (a name, short rdata). A variable-size
// memcpy of ~20 octets compiles to `rep movs`, whose start-up cost
// dominated the hit path; fixed 8-octet moves do not have it.
inline void copy_short(uint8_t* dst, const uint8_t* src, size_t n) noexcept {
  if (n > 64) {
    std::memcpy(dst, src, n);
    return;
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) std::memcpy(dst + i, src + i, 8);
  for (; i < n; ++i) dst[i] = src[i];
}

inline uint16_t read_u16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t read_u32(const uint8_t* p) noexcept {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint8_t* write_u16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
  return p + 2;
}
inline uint8_t* write_u32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
  return p + 4;
}

}  // namespace sextant::cache
