#include "dnssec/algorithms.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cstdio>

#include <vector>

namespace sextant::dnssec {

namespace {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct EvpPkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};

// Digests fetched once: an implicit fetch on every EVP_DigestVerifyInit
// takes a lock in the provider store, which shows in the benchmark.
const EVP_MD* digest_for(uint8_t algorithm) noexcept {
  static const EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static const EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static const EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  static const EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA2-512", nullptr);
  switch (static_cast<Algorithm>(algorithm)) {
    case Algorithm::RSASHA1:
    case Algorithm::RSASHA1_NSEC3_SHA1:
      return sha1;
    case Algorithm::RSASHA256:
    case Algorithm::ECDSAP256SHA256:
      return sha256;
    case Algorithm::ECDSAP384SHA384:
      return sha384;
    case Algorithm::RSASHA512:
      return sha512;
    default:
      return nullptr;  // EdDSA hashes internally
  }
}

// Curve point size in octets of each coordinate / scalar.
size_t ecdsa_scalar_size(uint8_t algorithm) noexcept {
  return algorithm == static_cast<uint8_t>(Algorithm::ECDSAP256SHA256) ? 32 : 48;
}

EVP_PKEY* build_from_params(const char* type, OSSL_PARAM* params) {
  std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) return nullptr;
  return pkey;
}

KeyError load_rsa(std::span<const uint8_t> key, size_t min_bits, EVP_PKEY*& out, size_t& bits) {
  // RFC 3110 §2: exponent length in one octet, or zero and then two octets.
  if (key.empty()) return KeyError::malformed_key;
  size_t pos = 1;
  size_t exponent_size = key[0];
  if (exponent_size == 0) {
    if (key.size() < 3) return KeyError::malformed_key;
    exponent_size = (size_t{key[1]} << 8) | key[2];
    pos = 3;
  }
  if (exponent_size == 0 || key.size() <= pos + exponent_size) return KeyError::malformed_key;
  if (exponent_size > kMaxRsaExponentOctets) return KeyError::rsa_key_too_large;
  std::unique_ptr<BIGNUM, BnFree> e(BN_bin2bn(key.data() + pos, static_cast<int>(exponent_size), nullptr));
  pos += exponent_size;
  std::unique_ptr<BIGNUM, BnFree> n(
      BN_bin2bn(key.data() + pos, static_cast<int>(key.size() - pos), nullptr));
  if (!e || !n) return KeyError::crypto_error;
  if (BN_is_zero(e.get()) || BN_is_zero(n.get())) return KeyError::malformed_key;
  bits = static_cast<size_t>(BN_num_bits(n.get()));
  if (bits < min_bits) return KeyError::rsa_key_too_small;
  if (bits > kMaxRsaModulusBits) return KeyError::rsa_key_too_large;

  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return KeyError::crypto_error;
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return KeyError::crypto_error;
  out = build_from_params("RSA", params.get());
  return out ? KeyError::ok : KeyError::crypto_error;
}

KeyError load_ecdsa(uint8_t algorithm, std::span<const uint8_t> key, EVP_PKEY*& out, size_t& bits) {
  const size_t scalar = ecdsa_scalar_size(algorithm);
  if (key.size() != 2 * scalar) return KeyError::malformed_key;
  // SEC 1 uncompressed point: 0x04 || X || Y.
  std::vector<uint8_t> point(1 + key.size());
  point[0] = 0x04;
  std::copy(key.begin(), key.end(), point.begin() + 1);
  char group[16];
  const char* group_name = scalar == 32 ? "prime256v1" : "secp384r1";
  std::snprintf(group, sizeof group, "%s", group_name);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  // The import decodes the point and rejects one that is not on the curve.
  out = build_from_params("EC", params);
  bits = scalar * 8;
  return out ? KeyError::ok : KeyError::crypto_error;
}

KeyError load_eddsa(uint8_t algorithm, std::span<const uint8_t> key, EVP_PKEY*& out, size_t& bits) {
  const bool ed25519 = algorithm == static_cast<uint8_t>(Algorithm::ED25519);
  const size_t size = ed25519 ? 32 : 57;
  if (key.size() != size) return KeyError::malformed_key;
  out = EVP_PKEY_new_raw_public_key_ex(nullptr, ed25519 ? "ED25519" : "ED448", nullptr, key.data(),
                                       key.size());
  bits = ed25519 ? 256 : 456;
  return out ? KeyError::ok : KeyError::crypto_error;
}

// r||s (RFC 6605 §4) to the DER SEQUENCE OpenSSL verifies.
bool ecdsa_raw_to_der(std::span<const uint8_t> raw, size_t scalar, std::vector<uint8_t>& der) {
  if (raw.size() != 2 * scalar) return false;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(scalar), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + scalar, static_cast<int>(scalar), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return false;
  der.resize(static_cast<size_t>(size));
  unsigned char* p = der.data();
  return i2d_ECDSA_SIG(sig.get(), &p) == size;
}

}  // namespace

bool is_supported_algorithm(uint8_t algorithm) noexcept {
  switch (static_cast<Algorithm>(algorithm)) {
    case Algorithm::RSASHA1:
    case Algorithm::RSASHA1_NSEC3_SHA1:
    case Algorithm::RSASHA256:
    case Algorithm::RSASHA512:
    case Algorithm::ECDSAP256SHA256:
    case Algorithm::ECDSAP384SHA384:
    case Algorithm::ED25519:
    case Algorithm::ED448:
      return true;
    default:
      return false;
  }
}

const char* to_string(KeyError e) noexcept {
  switch (e) {
    case KeyError::ok: return "ok";
    case KeyError::unsupported_algorithm: return "unsupported algorithm";
    case KeyError::rsa_key_too_small: return "RSA key below 1024 bits";
    case KeyError::rsa_key_too_large: return "RSA key above 4096 bits or exponent too long";
    case KeyError::malformed_key: return "malformed public key";
    case KeyError::crypto_error: return "public key rejected by OpenSSL";
  }
  return "unknown key error";
}

KeyError PublicKey::load(uint8_t algorithm, std::span<const uint8_t> public_key, PublicKey& out,
                         size_t min_rsa_bits) {
  out = PublicKey();
  EVP_PKEY* pkey = nullptr;
  size_t bits = 0;
  KeyError error;
  switch (static_cast<Algorithm>(algorithm)) {
    case Algorithm::RSASHA1:
    case Algorithm::RSASHA1_NSEC3_SHA1:
    case Algorithm::RSASHA256:
    case Algorithm::RSASHA512:
      error = load_rsa(public_key, min_rsa_bits, pkey, bits);
      break;
    case Algorithm::ECDSAP256SHA256:
    case Algorithm::ECDSAP384SHA384:
      error = load_ecdsa(algorithm, public_key, pkey, bits);
      break;
    case Algorithm::ED25519:
    case Algorithm::ED448:
      error = load_eddsa(algorithm, public_key, pkey, bits);
      break;
    default:
      return KeyError::unsupported_algorithm;
  }
  if (error != KeyError::ok) {
    EVP_PKEY_free(pkey);
    ERR_clear_error();  // keep failures from piling up on the thread's queue
    return error;
  }
  out.key_ = std::shared_ptr<evp_pkey_st>(pkey, EvpPkeyFree());
  out.algorithm_ = algorithm;
  out.bits_ = bits;
  return KeyError::ok;
}

bool PublicKey::verify(std::span<const uint8_t> signature,
                       std::span<const uint8_t> signed_data) const {
  if (!key_ || signature.empty()) return false;
  std::span<const uint8_t> to_check = signature;
  std::vector<uint8_t> der;
  const auto alg = static_cast<Algorithm>(algorithm_);
  if (alg == Algorithm::ECDSAP256SHA256 || alg == Algorithm::ECDSAP384SHA384) {
    if (!ecdsa_raw_to_der(signature, ecdsa_scalar_size(algorithm_), der)) return false;
    to_check = der;
  }
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(algorithm_), nullptr, key_.get()) != 1) {
    return false;
  }
  const bool valid = EVP_DigestVerify(ctx.get(), to_check.data(), to_check.size(),
                                      signed_data.data(), signed_data.size()) == 1;
  if (!valid) ERR_clear_error();
  return valid;
}

bool verify_signature(uint8_t algorithm, std::span<const uint8_t> public_key,
                      std::span<const uint8_t> signature, std::span<const uint8_t> signed_data) {
  PublicKey key;
  if (PublicKey::load(algorithm, public_key, key) != KeyError::ok) return false;
  return key.verify(signature, signed_data);
}

}  // namespace sextant::dnssec
