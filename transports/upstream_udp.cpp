// Upstream over UDP: one connected socket per query.
#include "transports/upstream_exchange.h"

namespace sextant::transports {

void UdpExchange::begin() {
  const auto* server = reinterpret_cast<const sockaddr*>(&query_.server);
  // Creating the socket now (not lazily) surfaces EMFILE and friends here.
  int rc = uv_udp_init_ex(core_->loop(), &udp_, server->sa_family);
  if (rc != 0) {
    fail_soon(UpstreamStatus::network_error, rc);
    return;
  }
  udp_.data = this;
  udp_initialized_ = true;
  socket_opened();
  // connect() binds the socket to an ephemeral port the kernel picks at
  // random, and makes the kernel drop datagrams from any other source.
  rc = uv_udp_connect(&udp_, server);
  if (rc == 0) rc = uv_udp_recv_start(&udp_, &Exchange::on_alloc, &on_recv);
  if (rc == 0) {
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(query_.packet.data()),
                               static_cast<unsigned>(query_.packet.size()));
    rc = uv_udp_try_send(&udp_, &buf, 1, nullptr);
    if (rc == UV_EAGAIN || rc == UV_ENOSYS) {
      // The packet lives in query_ until the exchange is deleted.
      send_req_.data = this;
      rc = uv_udp_send(&send_req_, &udp_, &buf, 1, nullptr, &on_sent);
    }
  }
  if (rc < 0) {
    fail_soon(UpstreamStatus::network_error, rc);
    return;
  }
  started_ns_ = uv_hrtime();
  core_->counters().sent_udp.add();
}

void UdpExchange::on_sent(uv_udp_send_t* req, int status) {
  auto* self = static_cast<UdpExchange*>(req->data);
  if (self->finished_ || status >= 0) return;
  UpstreamResult result;
  result.status = UpstreamStatus::network_error;
  result.error = status;
  self->finish(std::move(result), true);
}

void UdpExchange::on_recv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                          unsigned flags) {
  auto* self = static_cast<UdpExchange*>(handle->data);
  if (self->finished_ || (flags & UV_UDP_MMSG_FREE)) return;
  if (nread < 0) {
    // On a connected socket this is typically ECONNREFUSED from an ICMP
    // port unreachable: fail fast instead of waiting for the timeout.
    UpstreamResult result;
    result.status = UpstreamStatus::network_error;
    result.error = static_cast<int>(nread);
    self->finish(std::move(result), true);
    return;
  }
  if (addr == nullptr) return;  // nothing read
  std::span<const uint8_t> datagram(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  const auto* server = reinterpret_cast<const sockaddr*>(&self->query_.server);
  if ((flags & UV_UDP_PARTIAL) || !same_endpoint(addr, server) ||
      match_response(self->sent(), datagram, self->query_.match_question_case) != ResponseMatch::match) {
    // Late, stray or spoofed: keep waiting for the real answer.
    ++self->ignored_;
    self->core_->counters().ignored_datagrams.add();
    return;
  }
  self->finish(self->ok_result(datagram, addr), true);
}

void UdpExchange::close_socket() {
  if (!udp_initialized_) return;
  udp_initialized_ = false;
  // Closing also stops reading and cancels a queued send (its callback runs
  // before the close callback, while this exchange still exists).
  uv_close(reinterpret_cast<uv_handle_t*>(&udp_), &Exchange::on_handle_closed);
}

}  // namespace sextant::transports
