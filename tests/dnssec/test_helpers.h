// Shared helpers for the dnssec tests: building records from presentation
// text, and signing with keys generated in the test (OpenSSL), so that
// classification tests run real signatures without hard-coded answers.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dnssec/digests.h"
#include "dnssec/rrsig_verify.h"
#include "wire/base_encoding.h"
#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/record.h"

namespace sextant::dnssec::test {

inline wire::Name N(std::string_view text) { return wire::Name::from_text(text); }

inline wire::Rdata rd(wire::RRType type, std::string_view text) {
  return wire::rdata_from_text(type, text);
}

inline std::vector<uint8_t> b64(std::string_view text) {
  std::vector<uint8_t> out;
  wire::Base64Options options;
  options.skip_whitespace = true;
  if (wire::base64_decode(text, out, options) != wire::DecodeError::ok) {
    throw std::runtime_error("bad base64 in test");
  }
  return out;
}

inline std::vector<uint8_t> hex(std::string_view text) {
  std::vector<uint8_t> out;
  if (wire::hex_decode(text, out, true) != wire::DecodeError::ok) throw std::runtime_error("bad hex");
  return out;
}

inline wire::RRset rrset(std::string_view owner, wire::RRType type, uint32_t ttl,
                         std::vector<std::string_view> rdatas) {
  wire::RRset set;
  set.owner = N(owner);
  set.type = type;
  set.ttl = ttl;
  for (auto text : rdatas) set.rdatas.push_back(rd(type, text));
  return set;
}

// 2026-01-01 00:00:00 UTC: the "now" of the signing tests.
inline constexpr uint32_t kNow = 1767225600;

// A signing key generated in-process for one of the supported algorithms.
class TestKey {
 public:
  TestKey(uint8_t algorithm, uint16_t flags = 257, int rsa_bits = 2048) : algorithm_(algorithm) {
    EVP_PKEY* key = nullptr;
    switch (algorithm) {
      case 5:
      case 7:
      case 8:
      case 10: {
        EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
        EVP_PKEY_keygen_init(ctx);
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, rsa_bits);
        EVP_PKEY_generate(ctx, &key);
        EVP_PKEY_CTX_free(ctx);
        break;
      }
      case 13: key = EVP_EC_gen("P-256"); break;
      case 14: key = EVP_EC_gen("P-384"); break;
      case 15: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
      case 16: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"); break;
      default: throw std::runtime_error("no test key for this algorithm");
    }
    if (!key) throw std::runtime_error("key generation failed");
    key_.reset(key);
    dnskey_ = {static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 3, algorithm};
    const auto pub = public_key_field();
    dnskey_.insert(dnskey_.end(), pub.begin(), pub.end());
  }

  // A copy shares the private key (e.g. to publish it with other flags).
  TestKey(const TestKey& other)
      : algorithm_(other.algorithm_), key_(up_ref(other.key_.get())), dnskey_(other.dnskey_) {}
  TestKey& operator=(const TestKey&) = delete;

  const wire::Rdata& dnskey() const { return dnskey_; }
  // The same key published with other flags (e.g. the RFC 5011 REVOKE bit):
  // its tag, DS and signatures follow.
  void set_flags(uint16_t flags) {
    dnskey_[0] = static_cast<uint8_t>(flags >> 8);
    dnskey_[1] = static_cast<uint8_t>(flags);
  }
  uint16_t tag() const { return key_tag(dnskey_); }
  uint8_t algorithm() const { return algorithm_; }

  // DS rdata for this key under `owner`.
  wire::Rdata ds(const wire::Name& owner, uint8_t digest_type = 2) const {
    wire::Rdata out = {static_cast<uint8_t>(tag() >> 8), static_cast<uint8_t>(tag()), algorithm_,
                       digest_type};
    auto digest = ds_digest(digest_type, owner, dnskey_);
    out.insert(out.end(), digest->begin(), digest->end());
    return out;
  }

  // Adds an RRSIG over `set` made with this key, signer `signer`.
  void sign(wire::RRset& set, const wire::Name& signer, uint32_t inception = kNow - 86400,
            uint32_t expiration = kNow + 86400, int labels = -1) const {
    wire::Rdata rrsig;
    rrsig.reserve(18 + wire::Name::kMaxWireSize + 600);
    auto u16 = [&](uint16_t v) {
      rrsig.push_back(static_cast<uint8_t>(v >> 8));
      rrsig.push_back(static_cast<uint8_t>(v));
    };
    auto u32 = [&](uint32_t v) {
      u16(static_cast<uint16_t>(v >> 16));
      u16(static_cast<uint16_t>(v));
    };
    u16(static_cast<uint16_t>(set.type));
    rrsig.push_back(algorithm_);
    rrsig.push_back(static_cast<uint8_t>(labels >= 0 ? labels : set.owner.rrsig_label_count()));
    u32(set.ttl);
    u32(expiration);
    u32(inception);
    u16(tag());
    rrsig.insert(rrsig.end(), signer.wire().begin(), signer.wire().end());
    wire::Rdata with_placeholder = rrsig;
    with_placeholder.push_back(0);  // read_rrsig wants a non-empty signature
    const auto data = signed_data(set, with_placeholder);
    if (data.empty()) throw std::runtime_error("cannot build signed data");
    const auto signature = raw_sign(data);
    rrsig.insert(rrsig.end(), signature.begin(), signature.end());
    set.signatures.push_back(std::move(rrsig));
  }

 private:
  struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };

  static EVP_PKEY* up_ref(EVP_PKEY* key) {
    EVP_PKEY_up_ref(key);
    return key;
  }

  bool is_rsa() const { return algorithm_ == 5 || algorithm_ == 7 || algorithm_ == 8 || algorithm_ == 10; }

  static std::vector<uint8_t> bn_bytes(const BIGNUM* bn, size_t width = 0) {
    std::vector<uint8_t> out(width ? width : static_cast<size_t>(BN_num_bytes(bn)));
    if (width) {
      BN_bn2binpad(bn, out.data(), static_cast<int>(width));
    } else {
      BN_bn2bin(bn, out.data());
    }
    return out;
  }

  std::vector<uint8_t> public_key_field() const {
    std::vector<uint8_t> out;
    if (is_rsa()) {
      BIGNUM* n = nullptr;
      BIGNUM* e = nullptr;
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
      auto eb = bn_bytes(e);
      auto nb = bn_bytes(n);
      out.push_back(static_cast<uint8_t>(eb.size()));
      out.insert(out.end(), eb.begin(), eb.end());
      out.insert(out.end(), nb.begin(), nb.end());
      BN_free(n);
      BN_free(e);
    } else if (algorithm_ == 13 || algorithm_ == 14) {
      uint8_t point[200];
      size_t size = 0;
      EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                      sizeof point, &size);
      out.assign(point + 1, point + size);  // drop the 0x04 prefix
    } else {
      size_t size = 0;
      EVP_PKEY_get_raw_public_key(key_.get(), nullptr, &size);
      out.resize(size);
      EVP_PKEY_get_raw_public_key(key_.get(), out.data(), &size);
    }
    return out;
  }

  std::vector<uint8_t> raw_sign(const std::vector<uint8_t>& data) const {
    const EVP_MD* md = nullptr;
    if (algorithm_ == 5 || algorithm_ == 7) md = EVP_sha1();
    if (algorithm_ == 8 || algorithm_ == 13) md = EVP_sha256();
    if (algorithm_ == 10) md = EVP_sha512();
    if (algorithm_ == 14) md = EVP_sha384();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, md, nullptr, key_.get());
    size_t size = 0;
    EVP_DigestSign(ctx, nullptr, &size, data.data(), data.size());
    std::vector<uint8_t> sig(size);
    EVP_DigestSign(ctx, sig.data(), &size, data.data(), data.size());
    sig.resize(size);
    EVP_MD_CTX_free(ctx);
    if (algorithm_ == 13 || algorithm_ == 14) {
      // DER to r||s.
      const unsigned char* p = sig.data();
      ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      const size_t width = algorithm_ == 13 ? 32 : 48;
      auto r = bn_bytes(ECDSA_SIG_get0_r(ecdsa), width);
      auto s = bn_bytes(ECDSA_SIG_get0_s(ecdsa), width);
      ECDSA_SIG_free(ecdsa);
      r.insert(r.end(), s.begin(), s.end());
      return r;
    }
    return sig;
  }

  uint8_t algorithm_;
  std::unique_ptr<EVP_PKEY, Free> key_;
  wire::Rdata dnskey_;
};

}  // namespace sextant::dnssec::test
