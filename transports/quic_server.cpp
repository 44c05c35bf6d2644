#include "transports/quic_server.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include "transports/quic_internal.h"
#include "transports/tls_stream.h"  // bind_reuseport_socket, make_ip_socket_address

namespace sextant::transports {

namespace {

// recvmmsg through libuv: it fills buffer size / 64 KiB slots, at most 20
// (UV__MMSG_MAXWIDTH), so one read takes up to 20 datagrams.
constexpr size_t kReadSlots = 20;
constexpr size_t kReadBuffer = kReadSlots * 64 * 1024;

}  // namespace

socklen_t quic_address_length(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

QuicServer::QuicServer(const WorkerContext& worker, const QuicServerConfig& config, Transport transport,
                       std::shared_ptr<QuicTlsContext> tls, QuicApplicationFactory factory)
    : worker_(worker),
      config_(config),
      tls_(std::move(tls)),
      factory_(std::move(factory)),
      counters_(&transport_counters(transport)),
      read_buffer_(kReadBuffer) {
  if (!tls_) throw std::runtime_error(fmt::format("{}: no TLS context given", config_.what));
  sockaddr_storage address;
  if (!make_ip_socket_address(config_.address, config_.port, address)) {
    throw std::runtime_error(fmt::format("{}: '{}' is not an IP address", config_.what, config_.address));
  }
  bool wildcard = address.ss_family == AF_INET
                      ? reinterpret_cast<sockaddr_in*>(&address)->sin_addr.s_addr == htonl(INADDR_ANY)
                      : IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr);
  if (wildcard) {
    throw std::runtime_error(fmt::format(
        "{} {} port {}: bind a concrete address, not the wildcard (libuv 1.44 reports no packet "
        "destination address, which QUIC needs)",
        config_.what, config_.address, config_.port));
  }
  // Everything that can fail happens before any libuv handle exists, so a
  // throw leaves nothing registered with the loop.
  fd_ = bind_reuseport_socket(config_.address, config_.port, SOCK_DGRAM, config_.what);
  int size = static_cast<int>(config_.receive_buffer_bytes);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

std::string QuicServer::start() {
  uv_udp_init_ex(worker_.loop, &udp_, AF_UNSPEC | UV_UDP_RECVMMSG);
  udp_.data = this;
  uv_timer_init(worker_.loop, &grace_timer_);
  grace_timer_.data = this;
  open_handles_ = 2;
  if (int rc = uv_udp_open(&udp_, fd_); rc != 0) {
    ::close(fd_);
    return fmt::format("{} {} port {}: uv_udp_open: {}", config_.what, config_.address, config_.port, uv_strerror(rc));
  }
  int length = sizeof local_;
  uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&local_), &length);
  port_ = ntohs(local_.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&local_)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&local_)->sin6_port);
  int rc = uv_udp_recv_start(
      &udp_,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<QuicServer*>(h->data);
        buf->base = reinterpret_cast<char*>(self->read_buffer_.data());
        buf->len = self->read_buffer_.size();
      },
      [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned flags) {
        if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL)) return;
        static_cast<QuicServer*>(h->data)->on_datagram(reinterpret_cast<const uint8_t*>(buf->base),
                                                       static_cast<size_t>(nread), from);
      });
  if (rc != 0) {
    return fmt::format("{} {} port {}: recv: {}", config_.what, config_.address, config_.port, uv_strerror(rc));
  }
  return {};
}

void QuicServer::send_packet(const uint8_t* data, size_t length, const sockaddr* to) {
  if (handles_closing_) return;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data)), static_cast<unsigned>(length));
  // A full socket buffer drops the packet; QUIC loss recovery resends it.
  uv_udp_try_send(&udp_, &buf, 1, to);
}

void QuicServer::register_cid(const ngtcp2_cid& cid, QuicConnection* connection) {
  cids_[quic_cid_key(cid.data, cid.datalen)] = connection;
}

void QuicServer::unregister_cid(const ngtcp2_cid& cid) { cids_.erase(quic_cid_key(cid.data, cid.datalen)); }

void QuicServer::on_datagram(const uint8_t* data, size_t length, const sockaddr* from) {
  ngtcp2_version_cid vc;
  int rc = ngtcp2_pkt_decode_version_cid(&vc, data, length, kQuicScidLength);
  if (rc == NGTCP2_ERR_VERSION_NEGOTIATION) {
    send_version_negotiation(vc, from);
    return;
  }
  if (rc != 0) {
    counters_->add(counters_->errors);  // not QUIC
    return;
  }
  if (auto it = cids_.find(quic_cid_key(vc.dcid, vc.dcidlen)); it != cids_.end()) {
    it->second->on_packet(data, length, from);
    return;
  }
  if (shutting_down_) return;
  ngtcp2_pkt_hd hd;
  rc = ngtcp2_accept(&hd, data, length);
  if (rc == NGTCP2_ERR_RETRY) {
    send_retry(hd, from);
    return;
  }
  if (rc != 0) {
    // Short-header packets for unknown connections and junk end here. (No
    // stateless reset: not needed for a resolver, and it would answer junk.)
    counters_->add(counters_->errors);
    return;
  }
  if (connections_.size() >= config_.max_connections && !evict_oldest_idle()) {
    counters_->add(counters_->connections_refused);
    send_stateless_close(hd, NGTCP2_CONNECTION_REFUSED, from);
    return;
  }
  ClientSlot slot;
  if (!admit_client(config_.client_limits, from, slot)) {
    counters_->add(counters_->refused_per_client);
    send_stateless_close(hd, NGTCP2_CONNECTION_REFUSED, from);
    return;
  }
  ngtcp2_cid original_dcid = hd.dcid;
  bool after_retry = false;
  if (hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
    auto secret = tls_->secret();
    if (ngtcp2_crypto_verify_retry_token(&original_dcid, hd.token.base, hd.token.len, secret.data(), secret.size(),
                                         hd.version, from, quic_address_length(from), &hd.dcid,
                                         config_.retry_token_lifetime_ms * NGTCP2_MILLISECONDS, quic_now()) != 0) {
      counters_->add(counters_->errors);
      send_stateless_close(hd, NGTCP2_INVALID_TOKEN, from);
      return;
    }
    after_retry = true;
  } else if (connections_.size() >= config_.retry_threshold) {
    send_retry(hd, from);
    return;
  }
  auto* connection = new QuicConnection(this, from);
  connections_.emplace(connection, std::move(slot));
  std::string error;
  if (!connection->init(hd, original_dcid, after_retry, error)) {
    counters_->add(counters_->errors);
    connection->abort();
    return;
  }
  connection->on_packet(data, length, from);
}

// Full: the idle connection (nothing in flight) answered least recently
// makes room, so that idle connections kept alive by PINGs cannot lock new
// clients out. A scan of the worker's connections, only when it is full.
bool QuicServer::evict_oldest_idle() {
  QuicConnection* victim = nullptr;
  for (const auto& entry : connections_) {
    QuicConnection* c = entry.first;
    if (c->idle_for_eviction() && (!victim || c->last_progress() < victim->last_progress())) victim = c;
  }
  if (!victim) return false;
  counters_->add(counters_->evicted_idle);
  victim->close_now();
  return true;
}

void QuicServer::send_retry(const ngtcp2_pkt_hd& hd, const sockaddr* to) {
  ngtcp2_cid scid = quic_random_cid();
  std::array<uint8_t, NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN> token;
  auto secret = tls_->secret();
  ngtcp2_ssize token_length = ngtcp2_crypto_generate_retry_token(
      token.data(), secret.data(), secret.size(), hd.version, to, quic_address_length(to), &scid, &hd.dcid, quic_now());
  if (token_length < 0) return;
  std::array<uint8_t, kQuicMaxPacket> buffer;
  ngtcp2_ssize n = ngtcp2_crypto_write_retry(buffer.data(), buffer.size(), hd.version, &hd.scid, &scid, &hd.dcid,
                                             token.data(), static_cast<size_t>(token_length));
  if (n < 0) return;
  counters_->add(counters_->retries_sent);
  send_packet(buffer.data(), static_cast<size_t>(n), to);
}

void QuicServer::send_stateless_close(const ngtcp2_pkt_hd& hd, uint64_t error, const sockaddr* to) {
  std::array<uint8_t, kQuicMaxPacket> buffer;
  ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(buffer.data(), buffer.size(), hd.version, &hd.scid, &hd.dcid,
                                                        error, nullptr, 0);
  if (n > 0) send_packet(buffer.data(), static_cast<size_t>(n), to);
}

void QuicServer::send_version_negotiation(const ngtcp2_version_cid& vc, const sockaddr* to) {
  // Only for datagrams as large as a client Initial: no amplification.
  std::array<uint8_t, kQuicMaxPacket> buffer;
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  uint8_t unused;
  quic_random_bytes(&unused, 1);
  ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(buffer.data(), buffer.size(), unused, vc.scid, vc.scidlen,
                                                        vc.dcid, vc.dcidlen, versions, std::size(versions));
  if (n > 0) send_packet(buffer.data(), static_cast<size_t>(n), to);
}

void QuicServer::connection_gone(QuicConnection* connection) {
  connections_.erase(connection);
  maybe_finish_shutdown();
}

void QuicServer::shutdown(unsigned grace_ms, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  std::vector<QuicConnection*> all;
  for (const auto& entry : connections_) all.push_back(entry.first);
  for (auto* c : all) {
    if (c->pending() == 0) c->close_now();
  }
  uv_timer_start(
      &grace_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<QuicServer*>(t->data);
        std::vector<QuicConnection*> rest;
        for (const auto& entry : self->connections_) rest.push_back(entry.first);
        for (auto* c : rest) c->close_now();
      },
      grace_ms, 0);
  maybe_finish_shutdown();
}

void QuicServer::maybe_finish_shutdown() {
  if (!shutting_down_ || !connections_.empty() || handles_closing_) return;
  close_handles();
}

void QuicServer::close_handles() {
  handles_closing_ = true;
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<QuicServer*>(h->data);
    if (--self->open_handles_ > 0) return;
    self->finished_ = true;
    auto done = std::move(self->shutdown_done_);
    bool orphaned = self->orphaned_;
    if (done) done();
    if (orphaned) delete self;
  };
  uv_udp_recv_stop(&udp_);
  uv_close(reinterpret_cast<uv_handle_t*>(&udp_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&grace_timer_), on_close);
}

void QuicServer::orphan() {
  if (finished_) {
    delete this;
    return;
  }
  orphaned_ = true;
  if (!shutting_down_) shutdown(0, nullptr);
}

}  // namespace sextant::transports
