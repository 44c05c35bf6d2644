// Upstream over TCP: connect, one framed query, one framed answer, close.
#include "transports/upstream_exchange.h"

namespace sextant::transports {

void TcpExchange::begin() {
  ignore_sigpipe();  // a server that resets while we write must not kill us
  const auto* server = reinterpret_cast<const sockaddr*>(&query_.server);
  int rc = uv_tcp_init_ex(core_->loop(), &tcp_, server->sa_family);
  if (rc != 0) {
    fail_soon(UpstreamStatus::network_error, rc);
    return;
  }
  tcp_.data = this;
  tcp_initialized_ = true;
  socket_opened();
  connect_req_.data = this;
  rc = uv_tcp_connect(&connect_req_, &tcp_, server, &on_connect);
  if (rc != 0) {
    fail_soon(UpstreamStatus::network_error, rc);
    return;
  }
  core_->counters().sent_tcp.add();
}

void TcpExchange::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<TcpExchange*>(req->data);
  if (self->finished_) return;  // also the UV_ECANCELED of a close
  auto fail = [self](int error) {
    UpstreamResult result;
    result.status = UpstreamStatus::network_error;
    result.error = error;
    self->finish(std::move(result), true);
  };
  if (status < 0) {
    fail(status);
    return;
  }
  uv_tcp_nodelay(&self->tcp_, 1);
  self->prefix_ = stream_length_prefix(self->query_.packet.size());
  uv_buf_t bufs[2] = {
      uv_buf_init(reinterpret_cast<char*>(self->prefix_.data()), 2),
      uv_buf_init(reinterpret_cast<char*>(self->query_.packet.data()),
                  static_cast<unsigned>(self->query_.packet.size()))};
  auto* stream = reinterpret_cast<uv_stream_t*>(&self->tcp_);
  self->write_req_.data = self;
  int rc = uv_write(&self->write_req_, stream, bufs, 2, &on_write);
  if (rc == 0) rc = uv_read_start(stream, &Exchange::on_alloc, &on_read);
  if (rc != 0) fail(rc);
}

void TcpExchange::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<TcpExchange*>(req->data);
  if (self->finished_ || status >= 0) return;
  UpstreamResult result;
  result.status = UpstreamStatus::network_error;
  result.error = status;
  self->finish(std::move(result), true);
}

void TcpExchange::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<TcpExchange*>(stream->data);
  if (self->finished_ || nread == 0) return;
  if (nread < 0) {
    // EOF or reset before a whole answer arrived.
    UpstreamResult result;
    result.status = UpstreamStatus::network_error;
    result.error = static_cast<int>(nread);
    self->finish(std::move(result), true);
    return;
  }
  self->decoder_.feed({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
  std::span<const uint8_t> frame;
  switch (self->decoder_.next(frame)) {
    case StreamFrameDecoder::Status::need_more:
      return;  // the decoder keeps the partial frame (at most 64 KiB)
    case StreamFrameDecoder::Status::zero_length: {
      UpstreamResult result;
      result.status = UpstreamStatus::bad_response;
      self->finish(std::move(result), true);
      return;
    }
    case StreamFrameDecoder::Status::frame:
      break;
  }
  // The stream is ours alone: an answer to another question means a broken
  // server, not a spoofer, so it ends the query.
  if (match_response(self->sent(), frame, self->query_.match_question_case) != ResponseMatch::match) {
    UpstreamResult result;
    result.status = UpstreamStatus::bad_response;
    result.response.assign(frame.begin(), frame.end());
    self->finish(std::move(result), true);
    return;
  }
  self->finish(self->ok_result(frame, reinterpret_cast<const sockaddr*>(&self->query_.server)), true);
}

void TcpExchange::close_socket() {
  if (!tcp_initialized_) return;
  tcp_initialized_ = false;
  // Pending connect/write requests get UV_ECANCELED before the close callback.
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Exchange::on_handle_closed);
}

}  // namespace sextant::transports
