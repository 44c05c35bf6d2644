#include "transports/dot_listener.h"

#include "transports/stream_framing.h"

#include <cstring>
#include <vector>

namespace sextant::transports {

namespace {

constexpr size_t kDnsHeaderSize = 12;

// The DNS stream protocol on top of one decrypted TLS connection.
class DotSession final : public StreamApplication {
 public:
  DotSession(StreamConnection& connection, size_t max_pending)
      : connection_(connection), max_pending_(max_pending == 0 ? 1 : max_pending) {}

  void on_ready() override {}

  bool on_data(std::span<const uint8_t> data) override {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
    return process();
  }

  void deliver(uint64_t, std::span<const uint8_t> answer) override {
    if (pending_ > 0) --pending_;
    auto& counters = connection_.counters();
    std::vector<uint8_t> framed;
    framed.reserve(answer.size() + 2);
    if (!append_framed(framed, answer)) {
      counters.add(counters.errors);  // cannot be framed; the client will time out this query
    } else {
      counters.add(counters.responses);  // before the write: a reader of the counter may race the client
      connection_.write(framed);
    }
    after_answer();
  }

  void abandon(uint64_t) override {
    if (pending_ > 0) --pending_;
    after_answer();
  }

  size_t pending() const override { return pending_; }
  bool partial_request() const override { return !buffer_.empty(); }

  void on_drain() override {
    draining_ = true;
    connection_.pause_reading();
  }

 private:
  void after_answer() {
    if (processing_ || draining_ || !connection_.is_open()) return;
    if (pending_ < max_pending_) {
      // Queries may be waiting in the buffer from before the pause.
      if (!process()) {
        connection_.close(true);
      }
    }
  }

  // Hands every complete frame to the resolver, up to the pending limit.
  // Returns false on a framing error (the connection is then closed).
  bool process() {
    processing_ = true;
    size_t offset = 0;
    bool ok = true;
    while (connection_.is_open() && !draining_ && pending_ < max_pending_ && buffer_.size() - offset >= 2) {
      size_t length = static_cast<size_t>(buffer_[offset]) << 8 | buffer_[offset + 1];
      if (length < kDnsHeaderSize) {  // cannot be a DNS message: the stream is out of sync
        ok = false;
        break;
      }
      if (buffer_.size() - offset - 2 < length) break;
      dispatch(std::span<const uint8_t>(buffer_.data() + offset + 2, length));
      offset += 2 + length;
    }
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(offset));
    processing_ = false;
    if (!ok) return false;
    if (pending_ >= max_pending_) {
      connection_.pause_reading();
    } else if (!draining_ && connection_.is_open()) {
      connection_.resume_reading();
    }
    return true;
  }

  void dispatch(std::span<const uint8_t> query) {
    auto& counters = connection_.counters();
    counters.add(counters.queries);
    ++pending_;
    connection_.touch();
    Request request;
    request.query = query;
    request.peer = connection_.peer();
    request.local = connection_.local();
    if (connection_.proxied()) {
      request.proxy = connection_.tcp_peer();
      request.proxy_local = connection_.proxy_local();
    }
    request.transport = Transport::dot;
    request.max_response_size = 65535;
    request.worker = connection_.worker().index;
    uint64_t token = next_token_++;
    if (connection_.worker().handler) {
      connection_.worker().handler->handle(request, Responder(&connection_, token));
    } else {
      Responder(&connection_, token).drop();
    }
  }

  StreamConnection& connection_;
  size_t max_pending_;
  std::vector<uint8_t> buffer_;
  size_t pending_ = 0;
  uint64_t next_token_ = 1;
  bool processing_ = false;
  bool draining_ = false;
};

}  // namespace

std::shared_ptr<TlsServerContext> make_dot_tls_context(const TlsFiles& files) {
  TlsServerOptions options;
  options.files = files;
  options.alpn = {"dot"};
  options.refuse_unknown_alpn = true;
  return std::make_shared<TlsServerContext>(std::move(options));
}

DotListener::DotListener(const WorkerContext& worker, const DotListenerConfig& config,
                         std::shared_ptr<TlsServerContext> tls)
    : server_(worker, config.stream, Transport::dot, std::move(tls),
              [max_pending = config.max_pending_per_connection](StreamConnection& connection) {
                return std::make_unique<DotSession>(connection, max_pending);
              }) {}

void DotListener::shutdown(unsigned grace_ms, std::function<void()> done) {
  server_.shutdown(grace_ms, std::move(done));
}

ListenerFactory make_dot_listener_factory(DotListenerConfig config, std::shared_ptr<TlsServerContext> tls) {
  return [config = std::move(config), tls = std::move(tls)](const WorkerContext& worker) -> std::unique_ptr<Listener> {
    return std::make_unique<DotListener>(worker, config, tls);
  };
}

}  // namespace sextant::transports
