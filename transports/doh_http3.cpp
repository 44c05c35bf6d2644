#include "transports/doh_http3.h"

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include <map>
#include <string>
#include <vector>

#include "transports/doh_metrics.h"
#include "transports/doh_response.h"

namespace sextant::transports {

namespace {

constexpr uint64_t kMaxFieldSection = 128 * 1024;
// Request bodies held at once on one connection (all streams), as on HTTP/2.
constexpr size_t kMaxBufferedBodies = 512 * 1024;
// A request stream's window: headers plus a 65535-octet body, with room.
constexpr uint64_t kStreamWindow = 128 * 1024;

struct H3Stream {
  DohHttpRequest request;
  DohFormat format = DohFormat::dns_message;
  bool complete = false;    // end_stream seen
  bool dispatched = false;  // handed to the resolver (or answered with an error)
  bool waiting = false;     // the resolver has not answered yet
  bool responded = false;
  bool rejected = false;    // reset by us (over budget, or the resolver dropped it)
  std::vector<uint8_t> response_body;  // must stay put until acknowledged
  bool body_sent = false;
};

class DohHttp3Application final : public QuicApplication {
 public:
  DohHttp3Application(QuicConnection& connection, std::shared_ptr<const Doh3ListenerConfig> config)
      : connection_(connection), config_(std::move(config)) {}

  ~DohHttp3Application() override {
    if (h3_) nghttp3_conn_del(h3_);
  }

  void set_transport_params(ngtcp2_transport_params& params) const override {
    params.initial_max_stream_data_bidi_remote = kStreamWindow;
    params.initial_max_stream_data_bidi_local = 0;
    params.initial_max_stream_data_uni = 64 * 1024;  // the client's control and QPACK streams
    params.initial_max_data = 1 << 20;
    params.initial_max_streams_bidi = config_->max_streams_per_connection;
    params.initial_max_streams_uni = 3;  // control, QPACK encoder, QPACK decoder
  }
  uint64_t no_error_code() const override { return NGHTTP3_H3_NO_ERROR; }

  int on_handshake_completed() override { return setup() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE; }

  int on_stream_open(int64_t) override { return 0; }

  int on_stream_data(int64_t stream_id, std::span<const uint8_t> data, bool fin) override {
    if (!setup()) return NGTCP2_ERR_CALLBACK_FAILURE;
    nghttp3_ssize consumed = nghttp3_conn_read_stream(h3_, stream_id, data.data(), data.size(), fin ? 1 : 0);
    if (consumed < 0) {
      // An HTTP/3 protocol error: close with its code once the packet is read.
      if (close_code_ == 0) close_code_ = nghttp3_err_infer_quic_app_error_code(static_cast<int>(consumed));
      return 0;
    }
    // Request bodies are credited in recv_data; this is framing and QPACK.
    connection_.extend_credit(stream_id, static_cast<uint64_t>(consumed));
    return 0;
  }

  int on_acked_stream_data(int64_t stream_id, uint64_t length) override {
    if (h3_ && nghttp3_conn_add_ack_offset(h3_, stream_id, length) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
  }

  int on_stream_close(int64_t stream_id, uint64_t app_error_code, bool has_code) override {
    if (!has_code) app_error_code = NGHTTP3_H3_NO_ERROR;
    if (h3_) {
      int rv = nghttp3_conn_close_stream(h3_, stream_id, app_error_code);
      if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
        if (close_code_ == 0) close_code_ = nghttp3_err_infer_quic_app_error_code(rv);
      }
    }
    forget(stream_id);  // nghttp3's stream_close may not have seen it (never opened in HTTP/3)
    if (ngtcp2_is_bidi_stream(stream_id) && !ngtcp2_conn_is_local_stream(connection_.conn(), stream_id)) {
      ngtcp2_conn_extend_max_streams_bidi(connection_.conn(), 1);  // one finished, one more may open
    }
    return 0;
  }

  int on_stream_reset(int64_t stream_id, uint64_t, uint64_t) override {
    if (h3_ && nghttp3_conn_shutdown_stream_read(h3_, stream_id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
  }

  int on_stream_stop_sending(int64_t stream_id, uint64_t) override {
    if (h3_ && nghttp3_conn_shutdown_stream_read(h3_, stream_id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
  }

  int on_extend_max_stream_data(int64_t stream_id) override {
    if (h3_ && nghttp3_conn_unblock_stream(h3_, stream_id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
  }

  int on_extend_max_remote_streams_bidi(uint64_t max_streams) override {
    if (h3_) nghttp3_conn_set_max_client_streams_bidi(h3_, max_streams);
    return 0;
  }

  void after_read() override {
    if (close_code_ != 0) {
      auto& counters = connection_.counters();
      counters.add(counters.errors);
      connection_.close_with_app_error(close_code_);
      return;
    }
    flush_stream_shutdowns();
    dispatch_ready();
    flush_stream_shutdowns();
  }
  void prepare_write() override { flush_stream_shutdowns(); }

  int next_stream_data(StreamData& out) override {
    if (!h3_ || ngtcp2_conn_get_max_data_left(connection_.conn()) == 0) return 0;
    nghttp3_vec vecs[16];
    int fin = 0;
    int64_t stream_id = -1;
    nghttp3_ssize count = nghttp3_conn_writev_stream(h3_, &stream_id, &fin, vecs, std::size(vecs));
    if (count < 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    out.stream_id = stream_id;
    out.fin = fin != 0;
    out.count = static_cast<size_t>(count);
    for (size_t i = 0; i < out.count; ++i) out.vecs[i] = ngtcp2_vec{vecs[i].base, vecs[i].len};
    return 0;
  }

  int on_stream_data_written(int64_t stream_id, size_t length) override {
    if (h3_ && nghttp3_conn_add_write_offset(h3_, stream_id, length) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
  }
  void on_stream_blocked(int64_t stream_id) override {
    if (h3_ && stream_id >= 0) nghttp3_conn_block_stream(h3_, stream_id);
  }
  void on_stream_shut(int64_t stream_id) override {
    if (h3_ && stream_id >= 0) nghttp3_conn_shutdown_stream_write(h3_, stream_id);
  }

  size_t pending() const override { return pending_; }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    auto it = streams_.find(static_cast<int64_t>(token));
    if (it == streams_.end() || !it->second.waiting) return;
    it->second.waiting = false;
    --pending_;
    auto& counters = connection_.counters();
    counters.add(counters.responses);
    respond(it->first, it->second, doh_answer_response(answer, it->second.format));
  }

  void abandon(uint64_t token) override {
    auto it = streams_.find(static_cast<int64_t>(token));
    if (it == streams_.end() || !it->second.waiting) return;
    it->second.waiting = false;
    --pending_;
    // The resolver chose not to answer: cancel the request rather than
    // leave it hanging.
    reject(it->first, it->second, NGHTTP3_H3_REQUEST_CANCELLED);
  }

 private:
  static DohHttp3Application* self(void* user) { return static_cast<DohHttp3Application*>(user); }

  // The HTTP/3 session and our three unidirectional streams, once the
  // client's transport parameters allow them.
  bool setup() {
    if (h3_) return true;
    ngtcp2_conn* conn = connection_.conn();
    if (ngtcp2_conn_get_streams_uni_left(conn) < 3) return false;
    nghttp3_callbacks callbacks{};
    callbacks.acked_stream_data = nullptr;  // bodies live until the stream closes
    callbacks.stream_close = cb_stream_close;
    callbacks.recv_data = cb_recv_data;
    callbacks.deferred_consume = cb_deferred_consume;
    callbacks.begin_headers = cb_begin_headers;
    callbacks.recv_header = cb_recv_header;
    callbacks.end_stream = cb_end_stream;
    callbacks.stop_sending = cb_stop_sending;
    callbacks.reset_stream = cb_reset_stream;
    nghttp3_settings settings;
    nghttp3_settings_default(&settings);
    settings.max_field_section_size = kMaxFieldSection;
    if (nghttp3_conn_server_new(&h3_, &callbacks, &settings, nghttp3_mem_default(), this) != 0) {
      h3_ = nullptr;
      return false;
    }
    const ngtcp2_transport_params* params = ngtcp2_conn_get_local_transport_params(conn);
    nghttp3_conn_set_max_client_streams_bidi(h3_, params->initial_max_streams_bidi);
    int64_t control = -1, encoder = -1, decoder = -1;
    if (ngtcp2_conn_open_uni_stream(conn, &control, nullptr) != 0 ||
        nghttp3_conn_bind_control_stream(h3_, control) != 0 ||
        ngtcp2_conn_open_uni_stream(conn, &encoder, nullptr) != 0 ||
        ngtcp2_conn_open_uni_stream(conn, &decoder, nullptr) != 0 ||
        nghttp3_conn_bind_qpack_streams(h3_, encoder, decoder) != 0) {
      return false;
    }
    return true;
  }

  // ---- nghttp3 callbacks (inside read_stream: no packets written here)

  static int cb_begin_headers(nghttp3_conn*, int64_t stream_id, void* user, void*) {
    self(user)->streams_.try_emplace(stream_id);
    return 0;
  }

  static int cb_recv_header(nghttp3_conn*, int64_t stream_id, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value,
                            uint8_t, void* user, void*) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end()) return 0;
    nghttp3_vec n = nghttp3_rcbuf_get_buf(name);
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    std::string_view key(reinterpret_cast<const char*>(n.base), n.len);
    std::string_view text(reinterpret_cast<const char*>(v.base), v.len);
    it->second.request.take_header(key, text);
    return 0;
  }

  static int cb_recv_data(nghttp3_conn*, int64_t stream_id, const uint8_t* data, size_t length, void* user, void*) {
    auto* s = self(user);
    // Body octets are consumed here: give their credit back at once; the
    // budget below bounds what one connection may hold.
    s->connection_.extend_credit(stream_id, length);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end() || it->second.rejected) return 0;
    auto& stream = it->second;
    auto& body = stream.request.body;
    if (body.size() + length > kMaxDnsMessageSize) {
      stream.request.body_too_large = true;  // 413 at the end of the request
      return 0;
    }
    if (s->buffered_ + length > kMaxBufferedBodies) {
      s->connection_.counters().add(s->connection_.counters().errors);
      s->reject(stream_id, stream, NGHTTP3_H3_REQUEST_REJECTED);
      return 0;
    }
    body.insert(body.end(), data, data + length);
    s->buffered_ += length;
    return 0;
  }

  static int cb_deferred_consume(nghttp3_conn*, int64_t stream_id, size_t consumed, void* user, void*) {
    self(user)->connection_.extend_credit(stream_id, consumed);
    return 0;
  }

  static int cb_end_stream(nghttp3_conn*, int64_t stream_id, void* user, void*) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it != s->streams_.end() && !it->second.complete) {
      it->second.complete = true;
      s->ready_.push_back(stream_id);
    }
    return 0;
  }

  static int cb_stream_close(nghttp3_conn*, int64_t stream_id, uint64_t, void* user, void*) {
    self(user)->forget(stream_id);
    return 0;
  }

  static int cb_stop_sending(nghttp3_conn*, int64_t stream_id, uint64_t code, void* user, void*) {
    auto* s = self(user);
    if (ngtcp2_conn_shutdown_stream_read(s->connection_.conn(), stream_id, code) != 0) return NGHTTP3_ERR_CALLBACK_FAILURE;
    return 0;
  }

  static int cb_reset_stream(nghttp3_conn*, int64_t stream_id, uint64_t code, void* user, void*) {
    auto* s = self(user);
    if (ngtcp2_conn_shutdown_stream_write(s->connection_.conn(), stream_id, code) != 0) return NGHTTP3_ERR_CALLBACK_FAILURE;
    return 0;
  }

  static nghttp3_ssize read_body(nghttp3_conn*, int64_t stream_id, nghttp3_vec* vec, size_t veccnt, uint32_t* flags,
                                 void* user, void*) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    if (it == s->streams_.end() || it->second.body_sent || veccnt == 0) return 0;
    it->second.body_sent = true;
    vec[0].base = it->second.response_body.data();
    vec[0].len = it->second.response_body.size();
    return 1;
  }

  // ---- requests

  void forget(int64_t stream_id) {
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;
    if (it->second.waiting) --pending_;  // its Responder's answer finds no stream
    buffered_ -= std::min(buffered_, it->second.request.body.size());
    streams_.erase(it);
  }

  void reject(int64_t stream_id, H3Stream& stream, uint64_t code) {
    if (stream.rejected || stream.responded) return;
    stream.rejected = true;
    buffered_ -= std::min(buffered_, stream.request.body.size());
    std::vector<uint8_t>().swap(stream.request.body);
    to_shutdown_.emplace_back(stream_id, code);
  }

  void flush_stream_shutdowns() {
    if (!connection_.is_open()) return;
    for (auto [id, code] : to_shutdown_) ngtcp2_conn_shutdown_stream(connection_.conn(), id, code);
    to_shutdown_.clear();
  }

  void dispatch_ready() {
    std::vector<int64_t> ready;
    ready.swap(ready_);
    for (int64_t id : ready) {
      if (!connection_.is_open()) return;
      auto it = streams_.find(id);
      if (it == streams_.end() || it->second.dispatched || it->second.rejected) continue;
      auto& stream = it->second;
      stream.dispatched = true;
      auto validation = validate_doh_request(stream.request, config_->endpoint);
      count_doh_request(HttpVersion::http3, validation.format);
      stream.format = validation.format;
      buffered_ -= std::min(buffered_, stream.request.body.size());
      std::vector<uint8_t>().swap(stream.request.body);
      if (validation.status != 200) {
        auto& counters = connection_.counters();
        counters.add(counters.errors);
        respond(id, stream, doh_error_response(validation.status, validation.reason, stream.format));
        continue;
      }
      stream.waiting = true;
      ++pending_;
      auto& counters = connection_.counters();
      counters.add(counters.queries);
      Request request;
      request.query = validation.query;
      request.peer = connection_.remote();
      request.local = connection_.local();
      request.transport = Transport::doh;
      request.max_response_size = kMaxDnsMessageSize;
      request.worker = connection_.worker().index;
      // `stream` may be gone after this (an immediate answer to a stream
      // the client has reset meanwhile).
      if (auto* handler = connection_.worker().handler) {
        handler->handle(request, Responder(&connection_, static_cast<uint64_t>(id)));
      } else {
        Responder(&connection_, static_cast<uint64_t>(id)).drop();
      }
    }
  }

  void respond(int64_t stream_id, H3Stream& stream, DohResponse response) {
    if (stream.responded || stream.rejected || !h3_) return;
    stream.responded = true;
    count_doh_status(response.status);
    const DohHeaderFields fields(response, /*alt_svc=*/"");
    stream.response_body = std::move(response.body);
    std::vector<nghttp3_nv> headers;
    for (const auto& [name, value] : fields.fields()) {
      headers.push_back(nghttp3_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                                   value.size(), NGHTTP3_NV_FLAG_NONE});
    }
    nghttp3_data_reader reader{read_body};
    // nghttp3 copies the header fields; the body is read from `stream`,
    // which lives until the stream closes (after the client acknowledged it).
    if (nghttp3_conn_submit_response(h3_, stream_id, headers.data(), headers.size(),
                                     stream.response_body.empty() ? nullptr : &reader) != 0) {
      reject(stream_id, stream, NGHTTP3_H3_INTERNAL_ERROR);
    }
  }

  QuicConnection& connection_;
  std::shared_ptr<const Doh3ListenerConfig> config_;
  nghttp3_conn* h3_ = nullptr;
  std::map<int64_t, H3Stream> streams_;
  std::vector<int64_t> ready_;
  std::vector<std::pair<int64_t, uint64_t>> to_shutdown_;
  size_t pending_ = 0;
  size_t buffered_ = 0;     // request body octets held across streams
  uint64_t close_code_ = 0;  // an HTTP/3 error seen while reading
};

}  // namespace

std::unique_ptr<QuicApplication> make_doh_http3_application(QuicConnection& connection,
                                                            std::shared_ptr<const Doh3ListenerConfig> config) {
  return std::make_unique<DohHttp3Application>(connection, std::move(config));
}

}  // namespace sextant::transports
