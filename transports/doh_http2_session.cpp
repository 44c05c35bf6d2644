#include "transports/doh_http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "transports/doh_metrics.h"
#include "transports/doh_response.h"
#include "transports/http2_flood_guard.h"

namespace sextant::transports {

namespace {

// Request bodies buffered at once on one connection (all streams): with 100
// streams of 64 KiB a client could otherwise pin 6.5 MB per connection.
constexpr size_t kMaxBufferedBodies = 512 * 1024;

struct DohStream {
  DohHttpRequest request;
  std::string forwarded_for;
  DohFormat format = DohFormat::dns_message;
  bool dispatched = false;  // handed to the resolver
  bool waiting = false;     // the resolver has not answered yet
  bool responded = false;   // a response has been submitted
  std::vector<uint8_t> response_body;
  size_t response_offset = 0;
};

class NgHttp2Session final : public DohHttp2Session {
 public:
  NgHttp2Session(DohHttp2Host& host, DohHttp2Settings settings) : host_(host), config_(std::move(settings)) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    // The peer's streams beyond our SETTINGS are refused even before it
    // acknowledges them, and rapid resets (CVE-2023-44487) are bounded.
    nghttp2_option_set_max_settings(option, 32);
    nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33);
    nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
  }

  ~NgHttp2Session() override {
    if (session_) nghttp2_session_del(session_);  // calls no stream-close callbacks
    buffer_shrank(host_.counters(), buffered_);
  }

  void start() override {
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, config_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 128 * 1024},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    flush();
  }

  bool receive(std::span<const uint8_t> data) override {
    in_recv_ = true;
    ssize_t consumed = nghttp2_session_mem_recv(session_, data.data(), data.size());
    in_recv_ = false;
    if (consumed < 0 || flooded_) {
      // Bad preface or an unrecoverable framing error: nghttp2 already
      // queued a GOAWAY where one makes sense; send it, then close.
      flush();
      return false;
    }
    flush();
    return true;
  }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    auto it = streams_.find(static_cast<int32_t>(token));
    if (it == streams_.end() || !it->second.waiting) return;  // the client reset the stream
    it->second.waiting = false;
    --pending_;
    auto& counters = host_.counters();
    counters.add(counters.responses);
    respond(it->first, it->second, doh_answer_response(answer, it->second.format));
    flush();
  }

  void abandon(uint64_t token) override {
    auto it = streams_.find(static_cast<int32_t>(token));
    if (it == streams_.end() || !it->second.waiting) return;
    it->second.waiting = false;
    --pending_;
    // The resolver chose not to answer (e.g. rate limit): tell the client
    // the request was cancelled rather than leaving the stream hanging.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, it->first, NGHTTP2_CANCEL);
    flush();
  }

  size_t pending() const override { return pending_; }
  size_t streams() const override { return streams_.size(); }
  size_t buffered() const override { return buffered_; }
  size_t library_buffered() const override {
    return nghttp2_session_get_hd_inflate_dynamic_table_size(session_) +
           nghttp2_session_get_hd_deflate_dynamic_table_size(session_);
  }

  // A stream whose request has begun (HEADERS seen) but not ended.
  bool partial_request() const override {
    for (const auto& [id, stream] : streams_)
      if (!stream.dispatched && !stream.responded) return true;
    return false;
  }

  void drain() override {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    flush();
  }

 private:
  static NgHttp2Session* self(void* user) { return static_cast<NgHttp2Session*>(user); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto* s = self(user);
    if (s->streams_.size() >= s->config_.max_concurrent_streams) {
      // Not tracked: its headers and data are ignored, and the client is
      // told it may retry.
      nghttp2_submit_rst_stream(s->session_, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    s->streams_.try_emplace(frame->hd.stream_id);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto* s = self(user);
    auto it = s->streams_.find(frame->hd.stream_id);
    if (it == s->streams_.end()) return 0;
    std::string_view key(reinterpret_cast<const char*>(name), namelen);
    std::string_view text(reinterpret_cast<const char*>(value), valuelen);
    if (!it->second.request.take_header(key, text) && key == "x-forwarded-for") {
      // Several header lines are one comma-separated list.
      auto& xff = it->second.forwarded_for;
      if (xff.size() + text.size() < DohHttpRequest::kMaxHeaderValue) {
        if (!xff.empty()) xff += ',';
        xff.append(text);
      }
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                           void* user) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end() || it->second.responded) return 0;
    auto& request = it->second.request;
    if (s->buffered_ + len > kMaxBufferedBodies) {
      // Over the connection's memory budget: refuse this stream (the client
      // may retry it later) instead of buffering more.
      s->host_.counters().add(s->host_.counters().errors);
      it->second.responded = true;
      nghttp2_submit_rst_stream(s->session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    if (request.body.size() + len > kMaxDnsMessageSize) {
      // Answer 413 at once instead of buffering the rest; later DATA is
      // consumed (flow control stays open) and discarded.
      request.body_too_large = true;
      count_doh_request(HttpVersion::http2, DohFormat::dns_message);
      s->fail_stream(stream_id, it->second, 413, "DNS message larger than 65535 octets");
      return 0;
    }
    request.body.insert(request.body.end(), data, data + len);
    s->buffered_ += len;
    buffer_grew(s->host_.counters(), len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* s = self(user);
    switch (frame->hd.type) {
      case NGHTTP2_PING:
      case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) break;
        [[fallthrough]];
      case NGHTTP2_PRIORITY:
      case NGHTTP2_RST_STREAM:
        if (!s->flood_guard_.spend()) s->end_flood();
        return 0;
      default:
        break;
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      auto it = s->streams_.find(frame->hd.stream_id);
      if (it != s->streams_.end() && !it->second.dispatched && !it->second.responded) {
        s->process(it->first, it->second);
      }
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end()) return 0;
    if (error_code == NGHTTP2_NO_ERROR && it->second.responded) s->flood_guard_.earn();
    if (it->second.waiting) --s->pending_;  // the Responder's later answer finds no stream
    const size_t held = std::min(s->buffered_, it->second.request.body.size());
    s->buffered_ -= held;
    buffer_shrank(s->host_.counters(), held);
    s->streams_.erase(it);
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* source, void*) {
    auto* stream = static_cast<DohStream*>(source->ptr);
    size_t left = stream->response_body.size() - stream->response_offset;
    size_t n = std::min(left, length);
    if (n > 0) std::memcpy(buf, stream->response_body.data() + stream->response_offset, n);
    stream->response_offset += n;
    if (stream->response_offset == stream->response_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // The flood budget is spent: GOAWAY ENHANCE_YOUR_CALM, then on_data
  // closes the connection once it is sent; nothing more is read.
  void end_flood() {
    if (flooded_) return;
    flooded_ = true;
    auto& counters = host_.counters();
    counters.add(counters.flood_closes);
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  }

  void process(int32_t stream_id, DohStream& stream) {
    host_.touch();  // a complete request is progress; its frames alone were not
    auto validation = validate_doh_request(stream.request, config_.endpoint);
    count_doh_request(HttpVersion::http2, validation.format);
    stream.format = validation.format;
    if (validation.status != 200) {
      fail_stream(stream_id, stream, validation.status, validation.reason);
      return;
    }
    stream.dispatched = true;
    stream.waiting = true;
    ++pending_;
    // Nothing may touch `stream` after this: an immediate answer can be
    // sent and the stream closed inside it.
    host_.dispatch(validation.query, stream.forwarded_for, static_cast<uint64_t>(stream_id));
  }

  void fail_stream(int32_t stream_id, DohStream& stream, unsigned status, std::string_view reason) {
    auto& counters = host_.counters();
    counters.add(counters.errors);
    respond(stream_id, stream, doh_error_response(status, reason, stream.format));
  }

  void respond(int32_t stream_id, DohStream& stream, DohResponse response) {
    if (stream.responded) return;
    stream.responded = true;
    count_doh_status(response.status);
    const DohHeaderFields fields(response, config_.alt_svc);
    stream.response_body = std::move(response.body);
    stream.response_offset = 0;
    std::vector<nghttp2_nv> headers;
    for (const auto& [name, value] : fields.fields()) {
      headers.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                                   value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.source.ptr = &stream;
    provider.read_callback = read_body;
    // nghttp2 copies the header strings; the body is read from `stream`,
    // which lives until on_stream_close.
    nghttp2_submit_response(session_, stream_id, headers.data(), headers.size(),
                            stream.response_body.empty() ? nullptr : &provider);
  }

  void flush() {
    if (in_recv_ || flushing_) return;  // on_data flushes after mem_recv returns
    flushing_ = true;
    std::vector<uint8_t> out;
    while (true) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out.insert(out.end(), data, data + n);
      if (out.size() >= 64 * 1024) {
        if (!host_.write(out)) break;
        out.clear();
      }
    }
    if (!out.empty()) host_.write(out);
    flushing_ = false;
    if (host_.is_open() && nghttp2_session_want_read(session_) == 0 &&
        nghttp2_session_want_write(session_) == 0) {
      host_.close(true);  // GOAWAY exchanged, or the peer is done
    }
  }

  DohHttp2Host& host_;
  DohHttp2Settings config_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, DohStream> streams_;
  size_t pending_ = 0;
  size_t buffered_ = 0;  // request body octets held across streams
  Http2FloodGuard flood_guard_;
  bool flooded_ = false;
  bool in_recv_ = false;
  bool flushing_ = false;
};

}  // namespace

std::unique_ptr<DohHttp2Session> make_doh_http2_memory_session(DohHttp2Host& host, DohHttp2Settings settings) {
  return std::make_unique<NgHttp2Session>(host, std::move(settings));
}

}  // namespace sextant::transports
