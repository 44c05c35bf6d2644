// The half of ngtcp2's callbacks that every QUIC client fills the same way:
// ngtcp2_crypto_* for the handshake, keys and retries, and GnuTLS's random
// source for connection IDs and reset tokens. Used by the DoQ upstreams and
// by the QUIC load tools and test clients, which add their own stream and
// handshake callbacks after it. Header-only so that bench/ tools can use it
// without linking the transports library.
#pragma once

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <cstddef>
#include <cstdint>

namespace sextant::transports {

inline void quic_client_random(uint8_t* out, size_t length) {
  // GNUTLS_RND_RANDOM can only fail if the library is broken; a nonce-grade
  // value is still better than zeros in a connection ID.
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out, length) != 0) gnutls_rnd(GNUTLS_RND_NONCE, out, length);
}

inline void set_quic_client_crypto_callbacks(ngtcp2_callbacks& cb) {
  cb.client_initial = ngtcp2_crypto_client_initial_cb;
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.rand = [](uint8_t* dest, size_t length, const ngtcp2_rand_ctx*) { quic_client_random(dest, length); };
  cb.get_new_connection_id = [](ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void*) {
    cid->datalen = cidlen;
    quic_client_random(cid->data, cidlen);
    quic_client_random(token, NGTCP2_STATELESS_RESET_TOKENLEN);
    return 0;
  };
}

}  // namespace sextant::transports
