#include "resolver/walk/query_randomness.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace sextant::resolver {

struct QueryRandomness::Cipher {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~Cipher() { EVP_CIPHER_CTX_free(ctx); }
};

QueryRandomness::QueryRandomness() {
  std::array<uint8_t, 32> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no seed for query randomness");
  }
  init(key);
  OPENSSL_cleanse(key.data(), key.size());
}

QueryRandomness::QueryRandomness(std::span<const uint8_t, 32> key) { init(key); }

QueryRandomness::~QueryRandomness() = default;

void QueryRandomness::init(std::span<const uint8_t, 32> key) {
  cipher_ = std::make_unique<Cipher>();
  cipher_->ctx = EVP_CIPHER_CTX_new();
  // ChaCha20's IV is a 32-bit block counter followed by a 96-bit nonce.
  std::array<uint8_t, 16> iv{};
  if (!cipher_->ctx ||
      EVP_EncryptInit_ex(cipher_->ctx, EVP_chacha20(), nullptr, key.data(), iv.data()) != 1) {
    throw std::runtime_error("cannot initialise ChaCha20 for query randomness");
  }
}

void QueryRandomness::refill() {
  static const std::array<uint8_t, 512> kZeros{};
  int out_len = 0;
  if (EVP_EncryptUpdate(cipher_->ctx, buffer_.data(), &out_len, kZeros.data(),
                        static_cast<int>(kZeros.size())) != 1 ||
      out_len != static_cast<int>(buffer_.size())) {
    throw std::runtime_error("ChaCha20 keystream generation failed");
  }
  used_ = 0;
}

void QueryRandomness::take(uint8_t* out, size_t n) {
  if (buffer_.size() - used_ < n) refill();
  std::memcpy(out, buffer_.data() + used_, n);
  used_ += n;
}

uint16_t QueryRandomness::next_u16() {
  uint16_t v;
  take(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

uint32_t QueryRandomness::next_u32() {
  uint32_t v;
  take(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

uint64_t QueryRandomness::next_u64() {
  uint64_t v;
  take(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

uint32_t QueryRandomness::uniform(uint32_t bound) {
  if (bound == 0) return 0;
  // Rejection sampling: no modulo bias.
  uint32_t limit = UINT32_MAX - (UINT32_MAX % bound);
  uint32_t v;
  do {
    v = next_u32();
  } while (v >= limit);
  return v % bound;
}

}  // namespace sextant::resolver
