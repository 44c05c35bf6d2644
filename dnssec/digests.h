// The hashes DNSSEC computes besides signatures: DNSKEY key tags
// (RFC 4034 Appendix B), DS digests (RFC 4034 §5.1.4, RFC 4509, RFC 6605)
// and NSEC3 owner hashes (RFC 5155 §5).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "wire/name.h"

namespace sextant::dnssec {

// DS digest types (IANA "Digest Algorithms").
enum class DigestType : uint8_t { SHA1 = 1, SHA256 = 2, GOST = 3, SHA384 = 4 };

// True for 1 (SHA-1), 2 (SHA-256) and 4 (SHA-384). GOST (3) is unsupported:
// a DS set made only of GOST digests leaves the zone insecure (RFC 6840 §5.2).
bool is_supported_digest(uint8_t digest_type) noexcept;
// Digest length in octets for the supported types, 0 otherwise.
size_t digest_size(uint8_t digest_type) noexcept;

// Key tag of a DNSKEY from its whole rdata (flags, protocol, algorithm, key).
// Algorithm 1 uses the RFC 4034 Appendix B.1 rule (bits of the modulus).
uint16_t key_tag(std::span<const uint8_t> dnskey_rdata) noexcept;

// digest(canonical owner name | DNSKEY rdata). nullopt for an unsupported
// digest type or an OpenSSL failure.
std::optional<std::vector<uint8_t>> ds_digest(uint8_t digest_type, const wire::Name& owner,
                                              std::span<const uint8_t> dnskey_rdata);

// The NSEC3 hash algorithm registry has one entry: 1 = SHA-1.
inline constexpr uint8_t kNsec3HashSha1 = 1;
inline constexpr size_t kNsec3HashSize = 20;
using Nsec3Hash = std::array<uint8_t, kNsec3HashSize>;

// IH(salt, owner, iterations) of RFC 5155 §5 over the canonical (lower-case)
// wire form of `name`. Only algorithm 1 exists; callers check the algorithm
// and bound `iterations` (RFC 9276) before calling: this does the work asked.
std::optional<Nsec3Hash> nsec3_hash(const wire::Name& name, std::span<const uint8_t> salt,
                                    uint16_t iterations);

}  // namespace sextant::dnssec
