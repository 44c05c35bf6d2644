// DNSSEC signature algorithms (RFC 8624 registry) and signature checks
// through OpenSSL 3 EVP.
//
// Supported: every algorithm RFC 8624 §3.1 lists as MUST or RECOMMENDED
// for validation: 5 RSA/SHA-1 and 7 RSA/SHA-1-NSEC3-SHA1 (RFC 3110;
// RFC 5155 §2: the same signatures, 7 only keeps NSEC3 zones away from
// validators that predate NSEC3), 8 RSA/SHA-256, 10 RSA/SHA-512 (RFC 5702),
// 13 ECDSA P-256/SHA-256, 14 ECDSA P-384/SHA-384 (RFC 6605), 15 Ed25519
// and 16 Ed448 (RFC 8080). Everything else (1 RSA/MD5 and 3/6 DSA: MUST NOT;
// 12 GOST: MAY; unknown and private numbers) is "unsupported": per
// RFC 4035 §5.2 and RFC 6840 §5.2 a zone that can only be validated with
// unsupported algorithms is insecure (EDE 1), never bogus. RSA keys under
// 1024 bits are unsupported too (RFC 8624 §3.1 deprecates them; factoring
// 512-bit keys is cheap), and so are RSA keys above 4096 bits or with
// exponents longer than 8 octets (RFC 3110 allows neither more than 4096
// bits nor expects huge exponents, and both only cost a validator CPU time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace sextant::dnssec {

enum class Algorithm : uint8_t {
  RSAMD5 = 1, DH = 2, DSA = 3, RSASHA1 = 5, DSA_NSEC3_SHA1 = 6, RSASHA1_NSEC3_SHA1 = 7,
  RSASHA256 = 8, RSASHA512 = 10, ECC_GOST = 12, ECDSAP256SHA256 = 13, ECDSAP384SHA384 = 14,
  ED25519 = 15, ED448 = 16,
};

// True for the algorithms this validator verifies (5, 7, 8, 10, 13, 14, 15, 16).
bool is_supported_algorithm(uint8_t algorithm) noexcept;

inline constexpr size_t kMinRsaModulusBits = 1024;
inline constexpr size_t kMaxRsaModulusBits = 4096;
inline constexpr size_t kMaxRsaExponentOctets = 8;

enum class KeyError : uint8_t {
  ok = 0,
  unsupported_algorithm,  // not one of the supported algorithms
  rsa_key_too_small,      // modulus below the minimum: treated as unsupported
  rsa_key_too_large,      // modulus above 4096 bits or exponent above 8 octets
  malformed_key,          // the public key field does not fit the algorithm
  crypto_error,           // OpenSSL refused the key (e.g. not a curve point)
};
const char* to_string(KeyError e) noexcept;

// True for the errors that make a key "unsupported" rather than broken:
// RFC 6840 §5.2 treats those like an unknown algorithm (insecure).
constexpr bool is_unsupported_key(KeyError e) noexcept {
  return e == KeyError::unsupported_algorithm || e == KeyError::rsa_key_too_small ||
         e == KeyError::rsa_key_too_large;
}

// A DNSKEY's public key loaded into OpenSSL once, so that every signature
// made with it is checked without decoding the key again. Copies share the
// same EVP_PKEY (reference-counted); OpenSSL 3 allows concurrent verification
// with one provider-native key, so a PublicKey may be used from several
// threads at once.
class PublicKey {
 public:
  PublicKey() = default;

  // Loads the public key field of a DNSKEY (RFC 3110 exponent/modulus for
  // RSA, X||Y for ECDSA, the raw key for EdDSA). `min_rsa_bits` exists so
  // tests can load the 512-bit keys of RFC 5702's examples; validation
  // always uses the default.
  static KeyError load(uint8_t algorithm, std::span<const uint8_t> public_key, PublicKey& out,
                       size_t min_rsa_bits = kMinRsaModulusBits);

  bool loaded() const noexcept { return key_ != nullptr; }
  uint8_t algorithm() const noexcept { return algorithm_; }
  // Modulus size for RSA, curve size for ECDSA/EdDSA.
  size_t bits() const noexcept { return bits_; }

  // Checks `signature` (the RRSIG signature field as sent: PKCS#1 v1.5 for
  // RSA, r||s for ECDSA, the raw EdDSA signature) over `signed_data`.
  // False for a wrong signature, a malformed one, or an unloaded key.
  bool verify(std::span<const uint8_t> signature, std::span<const uint8_t> signed_data) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  uint8_t algorithm_ = 0;
  size_t bits_ = 0;
};

// One-shot form: loads the key and checks one signature.
bool verify_signature(uint8_t algorithm, std::span<const uint8_t> public_key,
                      std::span<const uint8_t> signature, std::span<const uint8_t> signed_data);

}  // namespace sextant::dnssec
