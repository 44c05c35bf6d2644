#include "transports/doq_listener.h"

#include <ngtcp2/ngtcp2.h>

#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <vector>

#include "transports/quic_internal.h"
#include "transports/quic_server.h"
#include "transports/transport_metrics.h"

namespace sextant::transports {

namespace {

constexpr size_t kMaxQueryFrame = 2 + 65535;

// DoQ on one QUIC connection: each client-initiated bidirectional stream
// carries one query (two-octet length prefix, then FIN) and gets one answer.
class DoqApplication final : public QuicApplication {
 public:
  DoqApplication(QuicConnection& connection, unsigned max_streams)
      : connection_(connection), max_streams_(max_streams) {}

  void set_transport_params(ngtcp2_transport_params& params) const override {
    // One query per stream, at most 2 + 65535 octets: the stream window never
    // needs to grow. The connection window is extended as data is consumed.
    params.initial_max_stream_data_bidi_remote = kMaxQueryFrame;
    params.initial_max_stream_data_bidi_local = 0;
    params.initial_max_stream_data_uni = 0;
    params.initial_max_data = 1 << 20;  // octets of queries buffered per connection at most
    params.initial_max_streams_bidi = max_streams_;
    params.initial_max_streams_uni = 0;  // RFC 9250 uses no unidirectional streams
  }
  uint64_t no_error_code() const override { return static_cast<uint64_t>(DoqError::no_error); }

  int on_stream_open(int64_t stream_id) override {
    if (!ngtcp2_is_bidi_stream(stream_id)) {
      protocol_error_ = true;
      return 0;
    }
    streams_.try_emplace(stream_id).first->second.opened_at = quic_now();
    return 0;
  }

  int on_stream_data(int64_t stream_id, std::span<const uint8_t> data, bool fin) override {
    // Connection flow control is credited back only when a query leaves our
    // buffers (dispatched or its stream closed), so initial_max_data bounds
    // the memory one connection can pin.
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.dispatched) {
      protocol_error_ = true;  // data on a stream we do not know, or after the query
      return 0;
    }
    auto& stream = it->second;
    if (stream.query.size() + data.size() > kMaxQueryFrame) {
      protocol_error_ = true;
      return 0;
    }
    stream.query.insert(stream.query.end(), data.begin(), data.end());
    stream.received += data.size();
    if (fin && !stream.fin) {
      stream.fin = true;
      ready_.push_back(stream_id);
    }
    return 0;
  }

  int on_acked_stream_data(int64_t, uint64_t) override { return 0; }

  int on_stream_close(int64_t stream_id, uint64_t, bool) override {
    ngtcp2_conn* conn = connection_.conn();
    auto it = streams_.find(stream_id);
    if (it != streams_.end()) {
      if (it->second.waiting) --pending_;  // its Responder finds no stream later
      if (!it->second.credited) ngtcp2_conn_extend_max_offset(conn, it->second.received);
      streams_.erase(it);
    }
    for (auto q = send_queue_.begin(); q != send_queue_.end();) {
      q = *q == stream_id ? send_queue_.erase(q) : q + 1;
    }
    if (ngtcp2_is_bidi_stream(stream_id) && !ngtcp2_conn_is_local_stream(conn, stream_id)) {
      ngtcp2_conn_extend_max_streams_bidi(conn, 1);  // one finished, one more may open
    }
    return 0;
  }

  int on_stream_reset(int64_t stream_id, uint64_t final_size, uint64_t) override {
    auto it = streams_.find(stream_id);
    if (it != streams_.end() && !it->second.credited && final_size > it->second.received) {
      // Octets the client counted against the window but never delivered.
      ngtcp2_conn_extend_max_offset(connection_.conn(), final_size - it->second.received);
      it->second.received = final_size;
    }
    cancel(stream_id);
    return 0;
  }

  int on_stream_stop_sending(int64_t stream_id, uint64_t) override {
    cancel(stream_id);
    return 0;
  }

  int on_extend_max_stream_data(int64_t stream_id) override {
    auto it = streams_.find(stream_id);
    if (it != streams_.end() && it->second.sent < it->second.response.size()) queue_send(stream_id, it->second);
    return 0;
  }

  int on_handshake_completed() override {
    // Queries held back from 0-RTT run now (after_read dispatches them).
    ready_.insert(ready_.end(), held_until_handshake_.begin(), held_until_handshake_.end());
    held_until_handshake_.clear();
    return 0;
  }

  void after_read() override {
    flush_stream_shutdowns();
    dispatch_ready();
  }
  void prepare_write() override { flush_stream_shutdowns(); }

  int next_stream_data(StreamData& out) override {
    while (!send_queue_.empty()) {
      auto it = streams_.find(send_queue_.front());
      if (it != streams_.end() && it->second.sent < it->second.response.size()) {
        auto& stream = it->second;
        out.stream_id = it->first;
        out.vecs[0].base = stream.response.data() + stream.sent;
        out.vecs[0].len = stream.response.size() - stream.sent;
        out.count = 1;
        out.fin = true;
        return 0;
      }
      if (it != streams_.end()) it->second.queued = false;
      send_queue_.pop_front();
    }
    return 0;
  }

  int on_stream_data_written(int64_t stream_id, size_t length) override {
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return 0;
    auto& stream = it->second;
    stream.sent += length;
    if (stream.sent >= stream.response.size()) unqueue(stream_id, stream);
    return 0;
  }

  // Flow-controlled: extend_max_stream_data re-queues it. Reset: done.
  void on_stream_blocked(int64_t stream_id) override { unqueue_front(stream_id); }
  void on_stream_shut(int64_t stream_id) override { unqueue_front(stream_id); }

  size_t pending() const override { return pending_; }

  // A scan of the open streams (at most server.doq.max-streams); most
  // connections have none or a few.
  uint64_t oldest_partial_request() const override {
    uint64_t oldest = 0;
    for (const auto& [id, stream] : streams_) {
      if (!stream.fin && !stream.cancelled && (oldest == 0 || stream.opened_at < oldest)) oldest = stream.opened_at;
    }
    return oldest;
  }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    auto it = streams_.find(static_cast<int64_t>(token));
    if (it == streams_.end() || !it->second.waiting) return;
    auto& stream = it->second;
    stream.waiting = false;
    --pending_;
    auto& counters = connection_.counters();
    // A stream the client cancelled is no longer waiting: it never gets here.
    if (answer.size() > 65535 || answer.size() < 12) {
      counters.add(counters.errors);
      to_shutdown_.emplace_back(it->first, DoqError::internal_error);
    } else {
      stream.response.resize(2 + answer.size());
      stream.response[0] = static_cast<uint8_t>(answer.size() >> 8);
      stream.response[1] = static_cast<uint8_t>(answer.size());
      std::memcpy(stream.response.data() + 2, answer.data(), answer.size());
      stream.response[2] = stream.response[3] = 0;  // DoQ answers carry ID 0 whatever the resolver echoed
      counters.add(counters.responses);
      queue_send(it->first, stream);
    }
  }

  void abandon(uint64_t token) override {
    auto it = streams_.find(static_cast<int64_t>(token));
    if (it == streams_.end() || !it->second.waiting) return;
    it->second.waiting = false;
    --pending_;
    // The resolver will not answer: reset the stream instead of leaving the
    // client to time out.
    to_shutdown_.emplace_back(it->first, DoqError::request_cancelled);
  }

 private:
  struct Stream {
    std::vector<uint8_t> query;  // length prefix + message, as received
    bool fin = false;
    bool dispatched = false;
    bool waiting = false;        // handed to the resolver, not answered yet
    bool cancelled = false;      // the client reset the stream or asked us to stop
    std::vector<uint8_t> response;  // must stay put until acknowledged (ngtcp2 does not copy)
    size_t sent = 0;
    bool queued = false;
    uint64_t opened_at = 0;  // quic_now() when the client opened it (request timeout)
    size_t received = 0;     // octets taken from the connection's flow-control window
    bool credited = false;   // those octets were given back (extend_max_offset)
  };

  // The client reset the stream or asked us to stop sending. A query with
  // the resolver stops counting at once (eviction, the idle timer and
  // shutdown look at pending()), not only when ngtcp2 closes the stream
  // after our own reset is acknowledged; its answer, when it comes, is
  // dropped in deliver() and nothing is written to the stream.
  void cancel(int64_t stream_id) {
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.cancelled) return;
    auto& stream = it->second;
    stream.cancelled = true;
    if (stream.waiting) {
      stream.waiting = false;
      --pending_;
    }
    if (stream.response.empty()) to_shutdown_.emplace_back(stream_id, DoqError::request_cancelled);
  }

  void queue_send(int64_t stream_id, Stream& stream) {
    if (!stream.queued) {
      stream.queued = true;
      send_queue_.push_back(stream_id);
    }
  }
  void unqueue(int64_t stream_id, Stream& stream) {
    stream.queued = false;
    if (!send_queue_.empty() && send_queue_.front() == stream_id) send_queue_.pop_front();
  }
  void unqueue_front(int64_t stream_id) {
    if (stream_id < 0) return;
    auto it = streams_.find(stream_id);
    if (it != streams_.end()) {
      unqueue(stream_id, it->second);
    } else if (!send_queue_.empty() && send_queue_.front() == stream_id) {
      send_queue_.pop_front();
    }
  }

  void flush_stream_shutdowns() {
    if (!connection_.is_open()) return;
    for (auto [id, code] : to_shutdown_) ngtcp2_conn_shutdown_stream(connection_.conn(), id, static_cast<uint64_t>(code));
    to_shutdown_.clear();
  }

  void dispatch_ready() {
    std::vector<int64_t> ready;
    ready.swap(ready_);
    auto& counters = connection_.counters();
    for (int64_t id : ready) {
      if (protocol_error_ || !connection_.is_open()) break;
      auto it = streams_.find(id);
      if (it == streams_.end() || it->second.dispatched || it->second.cancelled) continue;
      auto& stream = it->second;
      const auto& q = stream.query;
      size_t length = q.size() >= 2 ? (static_cast<size_t>(q[0]) << 8 | q[1]) : 0;
      // Exactly one message per stream, at least a header, and ID 0 (RFC 9250 §4.2.1).
      if (q.size() < 2 || q.size() != 2 + length || length < 12 || q[2] != 0 || q[3] != 0) {
        protocol_error_ = true;
        break;
      }
      // Before the handshake completes, a server only reads 0-RTT data, which
      // an attacker may replay: only QUERY and NOTIFY are replay-safe (RFC 9250
      // §4.5); anything else runs once the handshake, which a replayer cannot
      // finish, has completed.
      const unsigned opcode = (q[4] >> 3) & 0x0F;
      if (opcode != 0 && opcode != 4 && !ngtcp2_conn_get_handshake_completed(connection_.conn())) {
        held_until_handshake_.push_back(id);
        continue;
      }
      stream.dispatched = true;
      stream.waiting = true;
      ++pending_;
      size_t consumed = q.size();
      counters.add(counters.queries);
      Request request;
      request.query = std::span<const uint8_t>(q.data() + 2, length);
      request.peer = connection_.remote();
      request.local = connection_.local();
      request.transport = Transport::doq;
      request.max_response_size = 65535;
      request.worker = connection_.worker().index;
      if (auto* handler = connection_.worker().handler) {
        handler->handle(request, Responder(&connection_, static_cast<uint64_t>(id)));
      } else {
        Responder(&connection_, static_cast<uint64_t>(id)).drop();
      }
      // The handler copied what it keeps: release the query and its credit.
      if (auto again = streams_.find(id); again != streams_.end()) {
        std::vector<uint8_t>().swap(again->second.query);
        again->second.credited = true;
      }
      if (connection_.is_open()) ngtcp2_conn_extend_max_offset(connection_.conn(), consumed);
    }
    if (protocol_error_ && connection_.is_open()) {
      counters.add(counters.errors);
      connection_.close_with_app_error(static_cast<uint64_t>(DoqError::protocol_error));
      return;
    }
    flush_stream_shutdowns();
  }

  QuicConnection& connection_;
  unsigned max_streams_;
  std::map<int64_t, Stream> streams_;
  std::vector<int64_t> ready_;
  std::vector<int64_t> held_until_handshake_;  // from 0-RTT, not replay-safe
  std::deque<int64_t> send_queue_;
  std::vector<std::pair<int64_t, DoqError>> to_shutdown_;
  size_t pending_ = 0;
  bool protocol_error_ = false;
};

QuicServerConfig quic_config(const DoqListenerConfig& config) {
  QuicServerConfig q;
  q.address = config.address;
  q.port = config.port;
  q.idle_timeout_ms = config.idle_timeout_ms;
  q.handshake_timeout_ms = config.handshake_timeout_ms;
  q.max_connections = config.max_connections;
  q.retry_threshold = config.retry_threshold;
  q.retry_token_lifetime_ms = config.retry_token_lifetime_ms;
  q.receive_buffer_bytes = config.receive_buffer_bytes;
  q.client_limits = config.client_limits;
  q.what = "DoQ listener";
  return q;
}

}  // namespace

DoqListener::DoqListener(const WorkerContext& worker, const DoqListenerConfig& config,
                         std::shared_ptr<QuicTlsContext> tls)
    : server_(new QuicServer(worker, quic_config(config), Transport::doq, std::move(tls),
                             [streams = config.max_streams_per_connection](QuicConnection& connection) {
                               return std::unique_ptr<QuicApplication>(
                                   std::make_unique<DoqApplication>(connection, streams));
                             })) {
  std::string error = server_->start();
  if (!error.empty()) {
    server_->orphan();  // closes the handles, then frees itself
    server_ = nullptr;
    throw std::runtime_error(error);
  }
}

DoqListener::~DoqListener() {
  if (server_) server_->orphan();
}

void DoqListener::shutdown(unsigned grace_ms, std::function<void()> done) { server_->shutdown(grace_ms, std::move(done)); }

uint16_t DoqListener::port() const noexcept { return server_->port(); }
size_t DoqListener::connection_count() const noexcept { return server_->connection_count(); }

std::shared_ptr<QuicTlsContext> make_doq_tls_context(const TlsFiles& files) {
  // 0-RTT on: DoqApplication holds back what is not replay-safe.
  return std::make_shared<QuicTlsContext>(files, std::vector<std::string>{"doq", "doq-i11"}, true);
}

ListenerFactory make_doq_listener_factory(DoqListenerConfig config, std::shared_ptr<QuicTlsContext> tls) {
  return [config = std::move(config), tls = std::move(tls)](const WorkerContext& worker) -> std::unique_ptr<Listener> {
    return std::make_unique<DoqListener>(worker, config, tls);
  };
}

}  // namespace sextant::transports
