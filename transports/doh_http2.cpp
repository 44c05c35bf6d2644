#include "transports/doh_http2.h"

#include "transports/doh_dispatch.h"
#include "transports/doh_http2_session.h"

namespace sextant::transports {

namespace {

// The HTTP/2 session (doh_http2_session.h) on a StreamConnection: octets in
// and out through the connection, valid queries to the worker's handler.
class DohHttp2Application final : public StreamApplication, private DohHttp2Host {
 public:
  DohHttp2Application(StreamConnection& connection, std::shared_ptr<const DohListenerConfig> config)
      : connection_(connection), config_(std::move(config)) {
    DohHttp2Settings settings;
    settings.max_concurrent_streams = config_->max_concurrent_streams;
    settings.endpoint = config_->endpoint();
    settings.alt_svc = config_->alt_svc;
    session_ = make_doh_http2_memory_session(*this, std::move(settings));
  }

  // StreamApplication
  void on_ready() override { session_->start(); }
  bool on_data(std::span<const uint8_t> data) override { return session_->receive(data); }
  void deliver(uint64_t token, std::span<const uint8_t> answer) override { session_->deliver(token, answer); }
  void abandon(uint64_t token) override { session_->abandon(token); }
  size_t pending() const override { return session_->pending(); }
  size_t library_buffered() const override { return session_->library_buffered(); }
  bool partial_request() const override { return session_->partial_request(); }
  void on_drain() override { session_->drain(); }

 private:
  // DohHttp2Host
  bool write(std::span<const uint8_t> data) override { return connection_.write(data); }
  bool is_open() const override { return connection_.is_open(); }
  void close(bool graceful) override { connection_.close(graceful); }
  void touch() override { connection_.touch(); }
  TransportCounters& counters() override { return connection_.counters(); }
  void dispatch(std::span<const uint8_t> query, std::string_view forwarded_for, uint64_t token) override {
    dispatch_doh_query(connection_, *config_, query, forwarded_for, token);
  }

  StreamConnection& connection_;
  std::shared_ptr<const DohListenerConfig> config_;  // the connection may outlive the listener
  std::unique_ptr<DohHttp2Session> session_;  // last: destroyed first, it may still count through us
};

}  // namespace

std::unique_ptr<StreamApplication> make_doh_http2_session(StreamConnection& connection,
                                                          std::shared_ptr<const DohListenerConfig> config) {
  return std::make_unique<DohHttp2Application>(connection, std::move(config));
}

}  // namespace sextant::transports
