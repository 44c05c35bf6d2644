// A blocking HTTP/2 client for the DoH tests, over TLS (TlsTestClient) or
// a plain socket (h2c).
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <nghttp2/nghttp2.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tests/transports/tls_test_client.h"

namespace sextant::transports::test {

// A blocking HTTP/2 client (nghttp2 client session) over any byte pipe:
// a TlsTestClient, or a plain socket for h2c (optionally after a PROXY
// header). Drives many streams at once and can reset them mid-request.
class H2TestClient {
 public:
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::vector<uint8_t> body;
    bool closed = false;
    uint32_t error_code = 0;  // RST_STREAM code when reset
  };
  using Send = std::function<bool(std::span<const uint8_t>)>;
  using Receive = std::function<ssize_t(uint8_t*, size_t)>;  // >0 data, 0 closed, -1 nothing yet

  H2TestClient(Send send, Receive receive) : send_(std::move(send)), receive_(std::move(receive)) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* user) -> int {
          auto& r = static_cast<H2TestClient*>(user)->responses[frame->hd.stream_id];
          std::string key(reinterpret_cast<const char*>(name), namelen);
          std::string text(reinterpret_cast<const char*>(value), valuelen);
          if (key == ":status") r.status = std::atoi(text.c_str());
          r.headers[key] = text;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) -> int {
          auto& r = static_cast<H2TestClient*>(user)->responses[id];
          r.body.insert(r.body.end(), data, data + len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t code, void* user) -> int {
          auto& r = static_cast<H2TestClient*>(user)->responses[id];
          r.closed = true;
          r.error_code = code;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, void* user) -> int {
          if (frame->hd.type == NGHTTP2_GOAWAY)
            static_cast<H2TestClient*>(user)->goaway_error_ = static_cast<int>(frame->goaway.error_code);
          return 0;
        });
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2TestClient() { nghttp2_session_del(session_); }
  H2TestClient(const H2TestClient&) = delete;
  H2TestClient& operator=(const H2TestClient&) = delete;

  // Submits a request; with `end_stream` false the body stays open (the
  // test may then reset the stream).
  int32_t submit(const std::string& method, const std::string& path,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 std::vector<uint8_t> body = {}, bool end_stream = true) {
    std::vector<std::pair<std::string, std::string>> all = {
        {":method", method}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}};
    all.insert(all.end(), headers.begin(), headers.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [k, v] : all) {
      nv.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    }
    auto body_holder = std::make_shared<Body>();
    body_holder->data = std::move(body);
    body_holder->end_stream = end_stream;
    nghttp2_data_provider provider{};
    provider.source.ptr = body_holder.get();
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source* source, void*) -> ssize_t {
      auto* b = static_cast<Body*>(source->ptr);
      size_t n = std::min(length, b->data.size() - b->offset);
      std::memcpy(buf, b->data.data() + b->offset, n);
      b->offset += n;
      if (b->offset == b->data.size()) {
        if (b->end_stream) {
          *flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
          return NGHTTP2_ERR_DEFERRED;
        }
      }
      return static_cast<ssize_t>(n);
    };
    bool has_body = !body_holder->data.empty() || !end_stream;
    int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), has_body ? &provider : nullptr,
                                        nullptr);
    bodies_.push_back(body_holder);
    responses[id];
    return id;
  }
  void reset(int32_t id) { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }
  // Frames that ask the server for work without a request (flood tests).
  void ping() { nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr); }
  void settings() { nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0); }
  // The error code of the peer's GOAWAY, -1 before one arrived.
  int goaway_error() const { return goaway_error_; }

  // Exchanges frames until every submitted stream is closed, the peer
  // closes, or `timeout_ms` passes. Returns true if all streams closed.
  bool run(unsigned timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!flush()) return all_closed();
      if (all_closed()) return true;
      uint8_t buffer[16384];
      ssize_t n = receive_(buffer, sizeof buffer);
      if (n == 0) {
        peer_closed = true;
        return all_closed();
      }
      if (n > 0 && nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(n)) < 0) return false;
    }
    return all_closed();
  }
  // Keeps reading (answering PINGs/SETTINGS) until the peer closes the
  // connection or `timeout_ms` passes; true if it closed.
  bool wait_for_peer_close(unsigned timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!flush()) return peer_closed = true;
      uint8_t buffer[16384];
      ssize_t n = receive_(buffer, sizeof buffer);
      if (n == 0) return peer_closed = true;
      if (n > 0 && nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(n)) < 0) return false;
    }
    return false;
  }
  // Sends what is queued, then takes in whatever the peer has sent, without
  // waiting (a peer in memory). False if the peer closed or sent garbage.
  bool exchange() {
    if (!flush()) return false;
    uint8_t buffer[16384];
    ssize_t n;
    while ((n = receive_(buffer, sizeof buffer)) > 0) {
      if (nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(n)) < 0) return false;
    }
    return n != 0 && flush();
  }
  bool flush() {
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      if (!send_({data, static_cast<size_t>(n)})) return false;
    }
    return true;
  }
  bool all_closed() const {
    for (auto& [id, r] : responses) {
      if (!r.closed) return false;
    }
    return true;
  }

  std::map<int32_t, Response> responses;
  bool peer_closed = false;

 private:
  struct Body {
    std::vector<uint8_t> data;
    size_t offset = 0;
    bool end_stream = true;
  };
  nghttp2_session* session_ = nullptr;
  Send send_;
  Receive receive_;
  std::vector<std::shared_ptr<Body>> bodies_;
  int goaway_error_ = -1;
};

// Send/Receive over a plain blocking socket with a short poll timeout.
inline H2TestClient::Send socket_sender(int fd) {
  return [fd](std::span<const uint8_t> d) { return ::send(fd, d.data(), d.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(d.size()); };
}
inline H2TestClient::Receive socket_receiver(int fd) {
  timeval tv{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return [fd](uint8_t* out, size_t n) -> ssize_t {
    ssize_t r = ::recv(fd, out, n, 0);
    if (r > 0) return r;
    if (r == 0) return 0;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : 0;
  };
}
inline H2TestClient::Send tls_sender(TlsTestClient& tls) {
  return [&tls](std::span<const uint8_t> d) { return tls.write(d); };
}
inline H2TestClient::Receive tls_receiver(TlsTestClient& tls) {
  tls.set_read_timeout(100);
  return [&tls](uint8_t* out, size_t n) { return tls.read_some(out, n); };
}

}  // namespace sextant::transports::test
