// A TCP server whose connections run TLS (or plain text) through OpenSSL
// memory BIOs on a libuv loop, with an application protocol on top.
//
// Layers (as in Knot Resolver's session2): uv_tcp -> [PROXY v2] -> [TLS] ->
// StreamApplication (DoT framing, or HTTP/2 for DoH). libuv reads ciphertext
// into the read BIO, SSL_read hands plaintext to the application, and what
// the application writes goes through SSL_write into the write BIO and out
// with uv_write. No socket I/O happens inside OpenSSL, so a slow or hostile
// peer can never block the loop.
//
// Each connection is the ResponseChannel for the queries it carries. It
// holds one reference on itself while its libuv handles are open; a
// Responder held by the resolver holds another, so a connection closed
// while a resolution is pending is freed only when both are gone.
#pragma once

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transports/connection_limits.h"
#include "transports/listener.h"
#include "transports/proxy_protocol.h"
#include "transports/query_handler.h"
#include "transports/tls_context.h"
#include "transports/transport_metrics.h"

namespace sextant::transports {

struct StreamServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  // No query in flight and no complete request or answer for this long.
  // Bytes that do not complete a request (slow headers, a DNS message sent
  // one octet at a time, HTTP/2 PINGs) do not restart it.
  unsigned idle_timeout_ms = 10000;
  unsigned handshake_timeout_ms = 5000;   // TCP accept to TLS handshake done, however the bytes trickle
  // Per worker. At the limit a new connection closes the least recently
  // active idle one (nothing in flight, nothing queued); when none is idle
  // the new one is closed at once.
  unsigned max_connections = 1000;
  // Connections per client across every listener sharing the table
  // (connection_limits.h); null: no cap. Trusted PROXY peers are exempt.
  std::shared_ptr<ClientConnectionTable> client_limits;
  int backlog = 256;
  size_t max_write_queue_bytes = 1 << 20; // stop reading while the peer does not read answers
  // With a non-empty list, connections from these peers must begin with a
  // PROXY v2 header whose source address then replaces the TCP peer (and
  // its destination the local address); a connection from anyone else that
  // starts with one is closed. Both are counted (TransportCounters::proxy).
  bool proxy_protocol = false;
  std::shared_ptr<const TrustedProxies> trusted_proxies;
};

class StreamConnection;

// The protocol spoken over the decrypted byte stream of one connection.
class StreamApplication {
 public:
  virtual ~StreamApplication() = default;
  // The TLS handshake completed (at once for plain text).
  virtual void on_ready() = 0;
  // Plaintext arrived. Return false to close the connection (protocol error).
  virtual bool on_data(std::span<const uint8_t> data) = 0;
  // The resolver answers or abandons a request carried by this connection.
  virtual void deliver(uint64_t token, std::span<const uint8_t> answer) = 0;
  virtual void abandon(uint64_t token) = 0;
  // Requests handed to the resolver and not yet answered (the idle timer and
  // graceful shutdown wait for them).
  virtual size_t pending() const = 0;
  // The connection is closing: drop any state that refers to it.
  virtual void on_closing() {}
  // A request has begun but is not complete (the idle timer then counts a
  // request timeout rather than an idle connection).
  virtual bool partial_request() const { return false; }
  // The listener is shutting down: stop taking new requests (e.g. GOAWAY).
  virtual void on_drain() {}
  // Octets the protocol library holds for this connection beyond what the
  // application counts itself (HTTP/2: the HPACK tables), for the
  // buffered-bytes gauge.
  virtual size_t library_buffered() const { return 0; }
};

class StreamServer;

class StreamConnection final : public ResponseChannel {
 public:
  enum class State : uint8_t { proxy_header, handshake, open, closing, closed };

  // Writes plaintext (encrypted first when TLS is on). Returns false when the
  // connection is no longer open.
  bool write(std::span<const uint8_t> data);
  // Application-driven flow control (e.g. too many pending queries).
  void pause_reading();
  void resume_reading();
  // Closes the connection: gracefully (TLS close_notify, then FIN) or at once.
  void close(bool graceful);
  // Progress (a complete request or an answer): re-arms the idle timer and
  // makes this the most recently active connection of its server.
  void touch();

  bool is_open() const noexcept { return state_ == State::open; }
  State state() const noexcept { return state_; }
  const sockaddr* peer() const noexcept { return reinterpret_cast<const sockaddr*>(&peer_); }
  const sockaddr* local() const noexcept { return reinterpret_cast<const sockaddr*>(&local_); }
  // The TCP peer itself, even when a PROXY header supplied another address.
  const sockaddr* tcp_peer() const noexcept { return reinterpret_cast<const sockaddr*>(&tcp_peer_); }
  // A trusted proxy's PROXY v2 header opened the connection (then tcp_peer()
  // is the proxy), and whether it was a LOCAL one (the proxy's own queries).
  bool proxied() const noexcept { return proxied_; }
  bool proxy_local() const noexcept { return proxy_local_; }
  const WorkerContext& worker() const noexcept { return worker_; }
  TransportCounters& counters() const noexcept { return *counters_; }
  const StreamServerOptions& options() const noexcept { return *options_; }
  // Negotiated ALPN, empty when none.
  std::string alpn() const;
  // Whether TLS resumed a session (tests check ticket resumption).
  bool session_reused() const noexcept;
  // Write-queue bytes not yet on the socket.
  size_t write_queue_bytes() const noexcept;

  // ResponseChannel
  void deliver(uint64_t token, std::span<const uint8_t> answer) override;
  void abandon(uint64_t token) override;

 protected:
  void on_last_release() override { delete this; }

 private:
  friend class StreamServer;
  StreamConnection(StreamServer* server, const WorkerContext& worker,
                   std::shared_ptr<const StreamServerOptions> options, TransportCounters* counters,
                   std::shared_ptr<SSL_CTX> tls);
  ~StreamConnection() override;

  bool start();  // after uv_accept
  bool idle_for_eviction() const;
  void on_read(ssize_t nread, const uv_buf_t* buf);
  bool consume_proxy_header(std::span<const uint8_t>& data);
  bool feed_tls(std::span<const uint8_t> data);
  bool flush_tls();
  bool send_raw(std::span<const uint8_t> data);
  void fail(bool handshake_failure);
  void on_timer();
  void arm_timer(unsigned ms);
  void update_reading();
  void on_handle_closed();
  void finish_handshake();
  void account_library_buffers();

  StreamServer* server_;  // null once the connection has left the server
  WorkerContext worker_;
  std::shared_ptr<const StreamServerOptions> options_;
  TransportCounters* counters_;
  std::shared_ptr<SSL_CTX> tls_ctx_;
  SSL* ssl_ = nullptr;
  BIO* read_bio_ = nullptr;   // ciphertext from the network, read by OpenSSL
  BIO* write_bio_ = nullptr;  // ciphertext produced by OpenSSL, for the network
  std::unique_ptr<StreamApplication> app_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  unsigned open_handles_ = 0;
  State state_ = State::handshake;
  bool app_paused_ = false;
  bool backpressure_paused_ = false;
  bool reading_ = false;
  bool counted_ = false;  // connection_opened() was called
  bool proxied_ = false;
  bool proxy_local_ = false;
  std::unique_ptr<ProxyStreamReader> proxy_reader_;  // while a trusted proxy's header is due
  ProxySignatureSniffer proxy_sniffer_;              // everyone else's first octets
  sockaddr_storage peer_{};
  sockaddr_storage tcp_peer_{};
  sockaddr_storage local_{};
  ClientSlot client_slot_;            // this connection's share of the per-client cap
  size_t library_buffered_ = 0;       // OpenSSL's and the application library's octets, as last counted
  StreamConnection* prev_ = nullptr;  // server's intrusive list, most recently active first
  StreamConnection* next_ = nullptr;
};

// Creates the application for a new connection.
using StreamApplicationFactory = std::function<std::unique_ptr<StreamApplication>(StreamConnection&)>;

// A listening socket (SO_REUSEPORT, so every worker binds its own) and the
// connections accepted on it. Lives on one worker's loop.
class StreamServer {
 public:
  // `tls` null means plain text (h2c behind a proxy). Throws
  // std::runtime_error naming the address and reason if the socket fails.
  StreamServer(const WorkerContext& worker, StreamServerOptions options, Transport transport,
               std::shared_ptr<TlsServerContext> tls, StreamApplicationFactory factory);
  ~StreamServer();
  // Destroying a server that was not shut down (or not finished) closes
  // its connections at once; handles are released by the loop later.
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  void shutdown(unsigned grace_ms, std::function<void()> done);
  size_t connection_count() const noexcept { return connections_; }
  uint16_t bound_port() const noexcept { return bound_port_; }

 private:
  friend class StreamConnection;
  void on_connection(int status);
  void remove(StreamConnection* connection);
  void link_front(StreamConnection* connection);
  void unlink(StreamConnection* connection);
  void mark_active(StreamConnection* connection);
  bool evict_oldest_idle();
  void maybe_finish_shutdown();

  WorkerContext worker_;
  std::shared_ptr<const StreamServerOptions> options_;
  Transport transport_;
  TransportCounters* counters_;
  std::shared_ptr<TlsServerContext> tls_;
  StreamApplicationFactory factory_;
  uv_tcp_t* listen_ = nullptr;  // heap: see the constructor's failure path
  uv_timer_t* grace_timer_ = nullptr;  // heap, like listen_
  bool listen_open_ = false;
  bool grace_timer_open_ = false;
  bool shutting_down_ = false;
  std::function<void()> shutdown_done_;
  StreamConnection* head_ = nullptr;  // most recently active
  StreamConnection* tail_ = nullptr;  // least recently active
  size_t connections_ = 0;
  uint16_t bound_port_ = 0;
};

// socket() + SO_REUSEPORT (+ SO_REUSEADDR) + bind() for TCP or UDP; returns
// the fd or throws std::runtime_error naming the address and errno.
int bind_reuseport_socket(const std::string& address, uint16_t port, int type, const char* what);
// Fills `out` from "127.0.0.1"/"::1" and a port; false if not an address.
bool make_ip_socket_address(const std::string& address, uint16_t port, sockaddr_storage& out);

}  // namespace sextant::transports
