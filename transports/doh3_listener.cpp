#include "transports/doh3_listener.h"

#include <stdexcept>

#include "transports/doh_http3.h"
#include "transports/quic_server.h"

namespace sextant::transports {

namespace {

QuicServerConfig quic_config(const Doh3ListenerConfig& config) {
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
  q.what = "DoH HTTP/3 listener";
  return q;
}

}  // namespace

Doh3Listener::Doh3Listener(const WorkerContext& worker, const Doh3ListenerConfig& config,
                           std::shared_ptr<QuicTlsContext> tls)
    : server_(new QuicServer(worker, quic_config(config), Transport::doh, std::move(tls),
                             [shared = std::make_shared<const Doh3ListenerConfig>(config)](QuicConnection& connection) {
                               return make_doh_http3_application(connection, shared);
                             })) {
  std::string error = server_->start();
  if (!error.empty()) {
    server_->orphan();  // closes the handles, then frees itself
    server_ = nullptr;
    throw std::runtime_error(error);
  }
}

Doh3Listener::~Doh3Listener() {
  if (server_) server_->orphan();
}

void Doh3Listener::shutdown(unsigned grace_ms, std::function<void()> done) {
  server_->shutdown(grace_ms, std::move(done));
}

uint16_t Doh3Listener::port() const noexcept { return server_->port(); }
size_t Doh3Listener::connection_count() const noexcept { return server_->connection_count(); }

std::shared_ptr<QuicTlsContext> make_doh3_tls_context(const TlsFiles& files) {
  return std::make_shared<QuicTlsContext>(files, std::vector<std::string>{"h3"});
}

ListenerFactory make_doh3_listener_factory(Doh3ListenerConfig config, std::shared_ptr<QuicTlsContext> tls) {
  return [config = std::move(config), tls = std::move(tls)](const WorkerContext& worker) -> std::unique_ptr<Listener> {
    return std::make_unique<Doh3Listener>(worker, config, tls);
  };
}

std::string doh3_alt_svc(uint16_t port) { return "h3=\":" + std::to_string(port) + "\"; ma=86400"; }

}  // namespace sextant::transports
