// DNS over HTTPS upstream (RFC 8484): HTTP/2 over TLS (ALPN h2) with
// nghttp2's client session, one POST stream per query, many streams on one
// connection. The message ID is sent as 0 (RFC 8484 §4.1: cache friendly;
// the stream identifies the answer) and the query's own ID is put back in
// the answer.
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <string>
#include <unordered_map>

#include <fmt/format.h>

#include "transports/stream_framing.h"
#include "transports/upstream_stream.h"

namespace sextant::transports {

namespace {

constexpr char kDnsMessage[] = "application/dns-message";

class DohConnection final : public StreamClient {
 public:
  DohConnection(uv_loop_t* loop, UpstreamConnectionOwner& owner, const UpstreamEndpoint& endpoint,
                UpstreamTlsContext& tls, const UpstreamConnectionSettings& settings)
      : StreamClient(loop, owner, endpoint, &tls, settings) {}

  ~DohConnection() override {
    if (session_) nghttp2_session_del(session_);
  }

  bool submit(UpstreamQueryId id, std::span<const uint8_t> packet) override {
    if (!accepting() || packet.size() < 12 || packet.size() > kMaxStreamMessage) return false;
    Query q;
    q.id = id;
    q.original_id = static_cast<uint16_t>(packet[0] << 8 | packet[1]);
    q.body.assign(packet.begin(), packet.end());
    q.body[0] = q.body[1] = 0;
    if (!session_) {
      waiting_.push_back(std::move(q));
      return true;
    }
    return start_stream(std::move(q));
  }

  void forget(UpstreamQueryId id) override {
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
      if (it->id == id) {
        waiting_.erase(it);
        return;
      }
    }
    auto it = stream_of_.find(id);
    if (it == stream_of_.end()) return;
    int32_t stream = it->second;
    stream_of_.erase(it);
    streams_.erase(stream);
    if (session_ && is_open()) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, NGHTTP2_CANCEL);
      flush();
    }
    update_idle();
  }

  bool accepting() const override {
    if (draining() || !(is_open() || is_starting())) return false;
    size_t limit = settings_.max_in_flight;
    if (session_) {
      limit = std::min<size_t>(limit, nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
    }
    return in_flight() < limit;
  }
  size_t in_flight() const override { return waiting_.size() + streams_.size(); }

 private:
  struct Query {
    UpstreamQueryId id = 0;
    uint16_t original_id = 0;
    std::vector<uint8_t> body;
    size_t sent = 0;
    int status = 0;
    std::string content_type;
    std::vector<uint8_t> response;
    bool too_big = false;
  };

  void on_open() override {
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl(), &alpn, &alpn_length);
    if (alpn_length != 2 || std::memcmp(alpn, "h2", 2) != 0) {
      fail(ConnectionFailure::protocol, UpstreamStatus::bad_response,
           fmt::format("{}: the server did not agree to HTTP/2 (ALPN)", endpoint_.label));
      return;
    }
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& q : waiting) {
      UpstreamQueryId id = q.id;
      if (!start_stream(std::move(q))) {
        owner_.connection_failed(id, UpstreamStatus::network_error, endpoint_.label + ": cannot open a stream", false);
      }
      if (!is_open()) return;
    }
    flush();
  }

  bool start_stream(Query q) {
    const std::string length = std::to_string(q.body.size());
    auto nv = [](const char* name, const std::string& value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), std::strlen(name), value.size(),
                        NGHTTP2_NV_FLAG_NONE};
    };
    const std::string method = "POST", scheme = "https", type = kDnsMessage;
    nghttp2_nv headers[] = {
        nv(":method", method),          nv(":scheme", scheme),     nv(":authority", endpoint_.http_host),
        nv(":path", endpoint_.http_path), nv("content-type", type), nv("accept", type),
        nv("content-length", length),
    };
    nghttp2_data_provider provider{};
    provider.read_callback = read_body;
    int32_t stream = nghttp2_submit_request(session_, nullptr, headers, std::size(headers), &provider, nullptr);
    if (stream < 0) return false;
    stream_of_[q.id] = stream;
    streams_.emplace(stream, std::move(q));
    update_idle();
    flush();
    return true;
  }

  bool on_bytes(std::span<const uint8_t> data) override {
    if (!session_) return false;
    in_recv_ = true;
    ssize_t consumed = nghttp2_session_mem_recv(session_, data.data(), data.size());
    in_recv_ = false;
    if (consumed < 0) return false;
    flush();
    update_idle();
    return true;
  }

  void flush() {
    if (!session_ || in_recv_) return;
    while (is_open() && nghttp2_session_want_write(session_)) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      if (!write(std::span<const uint8_t>(data, static_cast<size_t>(n)))) return;
    }
    if (is_open() && !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      fail(ConnectionFailure::closed, UpstreamStatus::network_error, endpoint_.label + ": HTTP/2 session ended");
    }
  }

  void fail_queries(UpstreamStatus status, const std::string& detail, bool retryable) override {
    std::vector<UpstreamQueryId> ids;
    for (const auto& q : waiting_) ids.push_back(q.id);
    for (const auto& [stream, q] : streams_) ids.push_back(q.id);
    waiting_.clear();
    streams_.clear();
    stream_of_.clear();
    for (UpstreamQueryId id : ids) owner_.connection_failed(id, status, detail, retryable);
  }

  // nghttp2 callbacks
  static DohConnection* self(void* user) { return static_cast<DohConnection*>(user); }

  static ssize_t read_body(nghttp2_session*, int32_t stream, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* user) {
    auto it = self(user)->streams_.find(stream);
    if (it == self(user)->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    Query& q = it->second;
    size_t n = std::min(length, q.body.size() - q.sent);
    std::memcpy(buf, q.body.data() + q.sent, n);
    q.sent += n;
    if (q.sent == q.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto it = self(user)->streams_.find(frame->hd.stream_id);
    if (it == self(user)->streams_.end()) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      int status = 0;
      for (char ch : v) status = (ch >= '0' && ch <= '9' && status < 1000) ? status * 10 + (ch - '0') : 1000;
      it->second.status = status;
    } else if (n == "content-type") {
      it->second.content_type.assign(v.substr(0, 128));
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len, void* user) {
    auto it = self(user)->streams_.find(stream);
    if (it == self(user)->streams_.end()) return 0;
    Query& q = it->second;
    if (q.response.size() + len > kMaxStreamMessage) {
      q.too_big = true;
      return 0;
    }
    q.response.insert(q.response.end(), data, data + len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_GOAWAY) self(user)->drain();  // streams in flight still complete
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream, uint32_t error_code, void* user) {
    DohConnection* c = self(user);
    auto it = c->streams_.find(stream);
    if (it == c->streams_.end()) return 0;
    Query q = std::move(it->second);
    c->streams_.erase(it);
    c->stream_of_.erase(q.id);
    const bool dns = q.content_type.rfind(kDnsMessage, 0) == 0;
    if (error_code == NGHTTP2_NO_ERROR && q.status == 200 && dns && !q.too_big && q.response.size() >= 12) {
      q.response[0] = static_cast<uint8_t>(q.original_id >> 8);
      q.response[1] = static_cast<uint8_t>(q.original_id);
      ++c->answered_;
      c->owner_.connection_answer(q.id, q.response);
    } else {
      std::string why = error_code != NGHTTP2_NO_ERROR ? fmt::format("stream reset ({})", nghttp2_http2_strerror(error_code))
                        : q.status != 200            ? fmt::format("HTTP status {}", q.status)
                        : !dns                       ? fmt::format("content-type '{}'", q.content_type)
                                                     : "a body that is no DNS message";
      c->owner_.connection_failed(q.id, UpstreamStatus::bad_response, fmt::format("{}: {}", c->endpoint_.label, why),
                                  false);
    }
    return 0;
  }

  nghttp2_session* session_ = nullptr;
  bool in_recv_ = false;
  std::vector<Query> waiting_;  // before the session exists
  std::unordered_map<int32_t, Query> streams_;
  std::unordered_map<UpstreamQueryId, int32_t> stream_of_;
};

}  // namespace

std::unique_ptr<UpstreamConnection> make_doh_connection(uv_loop_t* loop, UpstreamConnectionOwner& owner,
                                                        const UpstreamEndpoint& endpoint, UpstreamTlsContext& tls,
                                                        const UpstreamConnectionSettings& settings) {
  return std::make_unique<DohConnection>(loop, owner, endpoint, tls, settings);
}

}  // namespace sextant::transports
