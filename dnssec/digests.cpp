#include "dnssec/digests.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>

#include "wire/rdata_views.h"

namespace sextant::dnssec {

namespace {

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};

const EVP_MD* md_for(uint8_t digest_type) noexcept {
  static const EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static const EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static const EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  switch (static_cast<DigestType>(digest_type)) {
    case DigestType::SHA1: return sha1;
    case DigestType::SHA256: return sha256;
    case DigestType::SHA384: return sha384;
    default: return nullptr;
  }
}

}  // namespace

bool is_supported_digest(uint8_t digest_type) noexcept { return digest_size(digest_type) != 0; }

size_t digest_size(uint8_t digest_type) noexcept {
  switch (static_cast<DigestType>(digest_type)) {
    case DigestType::SHA1: return 20;
    case DigestType::SHA256: return 32;
    case DigestType::SHA384: return 48;
    default: return 0;
  }
}

uint16_t key_tag(std::span<const uint8_t> rdata) noexcept {
  // One implementation of RFC 4034 Appendix B for the whole project.
  return wire::compute_key_tag(rdata);
}

std::optional<std::vector<uint8_t>> ds_digest(uint8_t digest_type, const wire::Name& owner,
                                              std::span<const uint8_t> dnskey_rdata) {
  const EVP_MD* md = md_for(digest_type);
  if (!md) return std::nullopt;
  const wire::Name canonical = owner.lowercased();
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  std::vector<uint8_t> out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int size = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.wire().data(), canonical.wire_size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), dnskey_rdata.data(), dnskey_rdata.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &size) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  out.resize(size);
  return out;
}

std::optional<Nsec3Hash> nsec3_hash(const wire::Name& name, std::span<const uint8_t> salt,
                                    uint16_t iterations) {
  static const EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  const wire::Name canonical = name.lowercased();
  Nsec3Hash hash{};
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned int size = 0;
  // IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt).
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), sha1, nullptr) == 1 &&
            EVP_DigestUpdate(ctx.get(), canonical.wire().data(), canonical.wire_size()) == 1 &&
            EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) == 1 &&
            EVP_DigestFinal_ex(ctx.get(), hash.data(), &size) == 1;
  for (uint32_t i = 0; ok && i < iterations; ++i) {
    ok = EVP_DigestInit_ex(ctx.get(), sha1, nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), hash.data(), hash.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), hash.data(), &size) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    return std::nullopt;
  }
  return hash;
}

}  // namespace sextant::dnssec
