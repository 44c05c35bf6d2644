// One server-side QUIC connection (ngtcp2 0.12 + GnuTLS), shared by DNS over
// QUIC and DNS over HTTP/3: the handshake, packet intake, the write loop
// with pacing, timers, connection IDs, and the closing and draining
// periods. What travels on the streams is a QuicApplication's business
// (doq_listener.cpp: one length-prefixed query per stream; doh_http3.cpp:
// HTTP/3 through nghttp3).
//
// Answers from the resolver arrive through ResponseChannel::deliver and go
// to the application, which queues stream data; the connection then writes
// packets (at once, or after the packet being read is processed).
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transports/listener.h"
#include "transports/query_handler.h"
#include "transports/quic_tls.h"
#include "transports/transport_metrics.h"

namespace sextant::transports {

class QuicConnection;
class QuicServer;

// The protocol on a connection's streams. Stream callbacks run inside
// ngtcp2_conn_read_pkt: they must not write packets or close the
// connection; after_read() runs once the packet is processed and may.
// Return 0, or an ngtcp2 error code (NGTCP2_ERR_CALLBACK_FAILURE) to close.
class QuicApplication {
 public:
  virtual ~QuicApplication() = default;

  // Stream limits and windows for the transport parameters (the
  // connection sets idle timeout, CIDs and tokens).
  virtual void set_transport_params(ngtcp2_transport_params& params) const = 0;
  // The application error code that means "no error" (CONNECTION_CLOSE on
  // shutdown or when idle): DoQ 0x0, HTTP/3 H3_NO_ERROR 0x100.
  virtual uint64_t no_error_code() const = 0;

  virtual int on_handshake_completed() { return 0; }
  virtual int on_stream_open(int64_t stream_id) = 0;
  virtual int on_stream_data(int64_t stream_id, std::span<const uint8_t> data, bool fin) = 0;
  virtual int on_acked_stream_data(int64_t stream_id, uint64_t length) = 0;
  // `app_error_code` is meaningful when `has_code` is set.
  virtual int on_stream_close(int64_t stream_id, uint64_t app_error_code, bool has_code) = 0;
  virtual int on_stream_reset(int64_t stream_id, uint64_t final_size, uint64_t app_error_code) = 0;
  virtual int on_stream_stop_sending(int64_t stream_id, uint64_t app_error_code) = 0;
  virtual int on_extend_max_stream_data(int64_t stream_id) = 0;
  virtual int on_extend_max_remote_streams_bidi(uint64_t) { return 0; }

  // After a packet was processed (and after an answer was delivered, as
  // prepare_write): hand ready queries to the resolver, apply deferred
  // stream shutdowns. May close the connection.
  virtual void after_read() = 0;
  virtual void prepare_write() {}

  // The write loop asks for the next stream data to put in a packet.
  struct StreamData {
    int64_t stream_id = -1;  // -1: nothing to send on streams
    std::array<ngtcp2_vec, 16> vecs{};
    size_t count = 0;
    bool fin = false;
  };
  virtual int next_stream_data(StreamData& out) = 0;
  // ngtcp2 accepted `length` octets of what next_stream_data offered.
  virtual int on_stream_data_written(int64_t stream_id, size_t length) = 0;
  // Flow control stopped the stream (extend_max_stream_data resumes it).
  virtual void on_stream_blocked(int64_t stream_id) = 0;
  // The stream can take no more data (reset, or gone).
  virtual void on_stream_shut(int64_t stream_id) = 0;

  // Requests with the resolver (shutdown and the idle timer wait for them).
  virtual size_t pending() const = 0;
  // When (quic_now()) the oldest request still incomplete began, 0 if none:
  // one not complete within the idle timeout closes the connection (a
  // request timeout), however busily the client keeps QUIC itself alive.
  virtual uint64_t oldest_partial_request() const { return 0; }
  virtual void deliver(uint64_t token, std::span<const uint8_t> answer) = 0;
  virtual void abandon(uint64_t token) = 0;
};

class QuicConnection final : public ResponseChannel {
 public:
  QuicConnection(QuicServer* server, const sockaddr* remote);

  // Creates the ngtcp2 connection and the TLS session for a client's first
  // Initial; false with `error` set on failure (then abort()).
  bool init(const ngtcp2_pkt_hd& hd, const ngtcp2_cid& original_dcid, bool after_retry, std::string& error);
  void on_packet(const uint8_t* data, size_t length, const sockaddr* from);
  // Sends CONNECTION_CLOSE with the application's no-error code and frees
  // the connection at once (listener shutdown).
  void close_now();
  // Frees the connection without sending anything (failed setup).
  void abort() { destroy(); }

  // For the application.
  ngtcp2_conn* conn() const noexcept { return conn_; }
  bool is_open() const noexcept { return state_ == State::open; }
  const sockaddr* remote() const noexcept { return reinterpret_cast<const sockaddr*>(&remote_); }
  const sockaddr* local() const noexcept;
  const WorkerContext& worker() const noexcept;
  TransportCounters& counters() const noexcept;
  // Closes with an application error (e.g. a protocol violation); safe
  // from after_read() and deliver(), not from stream callbacks.
  void close_with_app_error(uint64_t code);
  // Gives flow-control credit back for `length` octets of `stream_id` (and
  // of the connection) once the application is done with them.
  void extend_credit(int64_t stream_id, uint64_t length);
  size_t pending() const noexcept { return app_ ? app_->pending() : 0; }
  // Eviction when the server is full: open with nothing in flight, and when
  // it last had progress (created, or an answer delivered).
  bool idle_for_eviction() const noexcept { return state_ == State::open && pending() == 0; }
  uint64_t last_progress() const noexcept { return last_progress_; }

  // ResponseChannel
  void deliver(uint64_t token, std::span<const uint8_t> answer) override;
  void abandon(uint64_t token) override;

 protected:
  void on_last_release() override { delete this; }

 private:
  enum class State : uint8_t { open, closing, draining, closed };

  ~QuicConnection() override;

  ngtcp2_path path_to(const sockaddr* remote);
  void after_app_event();
  void write_packets();
  void schedule_timer();
  void on_timer();
  bool request_timed_out(uint64_t now);
  void handle_error(int liberr);
  void start_closing(const ngtcp2_connection_close_error& error);
  void start_draining();
  void destroy();

  // ngtcp2 callbacks
  static QuicConnection* self(void* user) { return static_cast<QuicConnection*>(user); }
  static int on_recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t, const uint8_t* data,
                                 size_t length, void* user, void*);
  static int on_acked_stream_data_offset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t length, void* user,
                                         void*);
  static int on_stream_open(ngtcp2_conn*, int64_t stream_id, void* user);
  static int on_stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t app_error_code, void* user,
                             void*);
  static int on_stream_reset(ngtcp2_conn*, int64_t stream_id, uint64_t final_size, uint64_t app_error_code, void* user,
                             void*);
  static int on_stream_stop_sending(ngtcp2_conn*, int64_t stream_id, uint64_t app_error_code, void* user, void*);
  static int on_extend_max_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user, void*);
  static int on_extend_max_remote_streams_bidi(ngtcp2_conn*, uint64_t max_streams, void* user);
  static int on_handshake_completed(ngtcp2_conn*, void* user);
  static int on_get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void* user);
  static int on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user);
  static void on_rand(uint8_t* dest, size_t length, const ngtcp2_rand_ctx*);

  QuicServer* server_;
  std::unique_ptr<QuicApplication> app_;
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t session_ = nullptr;
  QuicTlsContext::Credentials credentials_;
  ngtcp2_crypto_conn_ref ref_{};
  uv_timer_t timer_{};
  State state_ = State::open;
  sockaddr_storage remote_{};
  std::vector<ngtcp2_cid> cids_;
  std::vector<uint8_t> close_packet_;
  size_t close_resends_ = 0;
  bool in_read_ = false;      // inside ngtcp2_conn_read_pkt or after_read
  bool handshake_done_ = false;
  bool counted_ = false;
  uint64_t last_progress_ = 0;  // quic_now() at creation and at each answer
};

}  // namespace sextant::transports
