// Small helpers shared by the QUIC server and its connections (not part of
// the transports library's interface).
#pragma once

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sextant::transports {

inline constexpr size_t kQuicScidLength = 18;
inline constexpr size_t kQuicMaxPacket = 1500;

// Nanoseconds, monotonic, like ngtcp2's clock.
inline ngtcp2_tstamp quic_now() { return uv_hrtime(); }

inline std::string quic_cid_key(const uint8_t* data, size_t length) {
  return std::string(reinterpret_cast<const char*>(data), length);
}

inline void quic_random_bytes(uint8_t* out, size_t length) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out, length) != 0) {
    // Never expected; fall back to a nonce-grade source rather than zeros.
    gnutls_rnd(GNUTLS_RND_NONCE, out, length);
  }
}

inline ngtcp2_cid quic_random_cid() {
  ngtcp2_cid cid;
  cid.datalen = kQuicScidLength;
  quic_random_bytes(cid.data, kQuicScidLength);
  return cid;
}

}  // namespace sextant::transports
