// The per-worker QUIC endpoint shared by DoQ and DoH over HTTP/3: one UDP
// socket (SO_REUSEPORT; the kernel keeps a client's 4-tuple on one socket,
// so a connection stays on one worker), the connection-ID table, the
// stateless replies (Retry for address validation, Version Negotiation,
// CONNECTION_REFUSED over the connection limit), and shutdown.
//
// libuv 1.44 passes no IP_PKTINFO, and ngtcp2 needs each packet's local
// address, so the socket must be bound to a concrete address (127.0.0.1,
// 192.0.2.53, ::1), never the wildcard: the constructor refuses 0.0.0.0 and ::.
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <sys/socket.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "transports/connection_limits.h"
#include "transports/listener.h"
#include "transports/quic_connection.h"
#include "transports/quic_tls.h"
#include "transports/transport_metrics.h"

namespace sextant::transports {

struct QuicServerConfig {
  std::string address = "127.0.0.1";  // concrete address, see above
  uint16_t port = 0;
  unsigned idle_timeout_ms = 10000;       // QUIC max_idle_timeout
  unsigned handshake_timeout_ms = 5000;
  // Per worker. At the limit a new connection closes the least recently
  // answered idle one (CONNECTION_CLOSE); when none is idle it gets
  // CONNECTION_REFUSED.
  unsigned max_connections = 1000;
  // Address validation: at or above this many connections on the worker, a
  // client's first Initial gets a Retry and must come back with the token.
  // 0 means always Retry.
  unsigned retry_threshold = 200;
  unsigned retry_token_lifetime_ms = 10000;
  size_t receive_buffer_bytes = 4 << 20;  // SO_RCVBUF request
  // Connections per client, shared with the other listeners
  // (connection_limits.h); null: no cap. Over it: CONNECTION_REFUSED.
  std::shared_ptr<ClientConnectionTable> client_limits;
  const char* what = "QUIC listener";     // names the listener in errors
};

// Creates the protocol for a new connection.
using QuicApplicationFactory = std::function<std::unique_ptr<QuicApplication>(QuicConnection&)>;

class QuicServer {
 public:
  // Validates the config and binds the socket; throws std::runtime_error.
  QuicServer(const WorkerContext& worker, const QuicServerConfig& config, Transport transport,
             std::shared_ptr<QuicTlsContext> tls, QuicApplicationFactory factory);
  // Registers the handles with the loop; an error text on failure (then
  // call orphan() to release everything).
  std::string start();

  void shutdown(unsigned grace_ms, std::function<void()> done);
  // The owning listener is going away: finish (or shut down) and free.
  void orphan();

  // For connections.
  void send_packet(const uint8_t* data, size_t length, const sockaddr* to);
  void register_cid(const ngtcp2_cid& cid, QuicConnection* connection);
  void unregister_cid(const ngtcp2_cid& cid);
  void connection_gone(QuicConnection* connection);
  std::unique_ptr<QuicApplication> make_application(QuicConnection& connection) { return factory_(connection); }

  bool shutting_down() const noexcept { return shutting_down_; }
  const WorkerContext& worker() const noexcept { return worker_; }
  const QuicServerConfig& config() const noexcept { return config_; }
  QuicTlsContext& tls() const noexcept { return *tls_; }
  TransportCounters& counters() const noexcept { return *counters_; }
  const sockaddr* local() const noexcept { return reinterpret_cast<const sockaddr*>(&local_); }
  uint16_t port() const noexcept { return port_; }
  size_t connection_count() const noexcept { return connections_.size(); }

 private:
  void on_datagram(const uint8_t* data, size_t length, const sockaddr* from);
  void send_retry(const ngtcp2_pkt_hd& hd, const sockaddr* to);
  void send_stateless_close(const ngtcp2_pkt_hd& hd, uint64_t error, const sockaddr* to);
  void send_version_negotiation(const ngtcp2_version_cid& vc, const sockaddr* to);
  bool evict_oldest_idle();
  void maybe_finish_shutdown();
  void close_handles();

  WorkerContext worker_;
  QuicServerConfig config_;
  std::shared_ptr<QuicTlsContext> tls_;
  QuicApplicationFactory factory_;
  TransportCounters* counters_;
  int fd_ = -1;
  uv_udp_t udp_{};
  uv_timer_t grace_timer_{};
  unsigned open_handles_ = 0;
  bool handles_closing_ = false;
  sockaddr_storage local_{};
  uint16_t port_ = 0;
  std::unordered_map<std::string, QuicConnection*> cids_;
  // Each connection's share of the per-client cap (empty slot: no cap).
  std::unordered_map<QuicConnection*, ClientSlot> connections_;
  bool shutting_down_ = false;
  bool orphaned_ = false;
  bool finished_ = false;
  std::function<void()> shutdown_done_;
  std::vector<uint8_t> read_buffer_;
};

// Socket address length of an IPv4 or IPv6 address.
socklen_t quic_address_length(const sockaddr* address);

}  // namespace sextant::transports
