// Unpredictable bits for upstream queries: 16-bit IDs, 0x20 case patterns,
// server exploration. One instance per worker (not thread-safe).
//
// The output is a ChaCha20 keystream (OpenSSL EVP) under a key drawn from
// RAND_bytes: fast enough to spend per query, and unlike xorshift-style
// generators its state cannot be recovered from IDs an attacker observes
// on queries sent to an authority it runs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace sextant::resolver {

class QueryRandomness {
 public:
  // Seeded from OpenSSL's CSPRNG. Throws std::runtime_error if it fails.
  QueryRandomness();
  // Deterministic stream for tests.
  explicit QueryRandomness(std::span<const uint8_t, 32> key);
  ~QueryRandomness();
  QueryRandomness(const QueryRandomness&) = delete;
  QueryRandomness& operator=(const QueryRandomness&) = delete;

  uint16_t next_u16();
  uint32_t next_u32();
  uint64_t next_u64();
  // Uniform in [0, bound); bound 0 returns 0.
  uint32_t uniform(uint32_t bound);

 private:
  void init(std::span<const uint8_t, 32> key);
  void refill();
  void take(uint8_t* out, size_t n);

  struct Cipher;
  std::unique_ptr<Cipher> cipher_;
  std::array<uint8_t, 512> buffer_{};
  size_t used_ = 512;
};

}  // namespace sextant::resolver
