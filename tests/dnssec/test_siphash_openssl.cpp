// wire/siphash against OpenSSL's SipHash (EVP_MAC "SIPHASH", 8-octet
// output), for every message length from 0 to 64 octets and several keys.
// Here rather than in tests/wire because this folder's test links OpenSSL.
#include <catch2/catch.hpp>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <vector>

#include "wire/siphash.h"

namespace {

std::array<uint8_t, 8> openssl_siphash(const sextant::wire::SipKey& key, const std::vector<uint8_t>& data) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  REQUIRE(mac != nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  REQUIRE(ctx != nullptr);
  unsigned int size = 8;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
  REQUIRE(EVP_MAC_init(ctx, key.data(), key.size(), params) == 1);
  REQUIRE(EVP_MAC_update(ctx, data.data(), data.size()) == 1);
  std::array<uint8_t, 8> out{};
  size_t written = 0;
  REQUIRE(EVP_MAC_final(ctx, out.data(), &written, out.size()) == 1);
  REQUIRE(written == 8);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return out;
}

}  // namespace

TEST_CASE("SipHash-2-4 agrees with OpenSSL for every length up to 64", "[siphash]") {
  for (uint8_t seed : {0, 0x5a, 0xff}) {
    sextant::wire::SipKey key{};
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed + i * 7);
    std::vector<uint8_t> data;
    for (size_t len = 0; len <= 64; ++len) {
      CAPTURE(int(seed), len);
      CHECK(sextant::wire::siphash24_bytes(key, data) == openssl_siphash(key, data));
      data.push_back(static_cast<uint8_t>(len * 31 + seed));
    }
  }
}
