#include "transports/doh_listener.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "transports/doh_http1.h"
#include "transports/doh_http2.h"

namespace sextant::transports {

namespace {

// RFC 9113 §3.4: what every HTTP/2 client sends first.
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Chooses HTTP/2 or HTTP/1.1 for one connection, then hands everything to
// that session: by ALPN when TLS negotiated one, else by the first octets
// (the HTTP/2 preface, or anything else for HTTP/1.1).
class DohProtocolSelector final : public StreamApplication {
 public:
  DohProtocolSelector(StreamConnection& connection, std::shared_ptr<const DohListenerConfig> config)
      : connection_(connection), config_(std::move(config)) {}

  void on_ready() override {
    std::string alpn = connection_.alpn();
    if (alpn == "h2") {
      choose(false);
    } else if (alpn == "http/1.1" && config_->http1) {
      choose(true);
    }
    // No ALPN (cleartext, or a TLS client that sent none): wait for octets.
  }

  bool on_data(std::span<const uint8_t> data) override {
    if (session_) return session_->on_data(data);
    size_t take = std::min(data.size(), kHttp2Preface.size() - sniffed_.size());
    sniffed_.insert(sniffed_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
    bool matches = std::memcmp(sniffed_.data(), kHttp2Preface.data(), sniffed_.size()) == 0;
    if (matches && sniffed_.size() < kHttp2Preface.size()) return true;  // need more to tell
    // Without HTTP/1.1, anything that is not HTTP/2 is nghttp2's to reject.
    choose(!matches && config_->http1);
    std::vector<uint8_t> first;
    first.swap(sniffed_);
    if (!session_->on_data(first)) return false;
    if (take < data.size() && connection_.is_open()) return session_->on_data(data.subspan(take));
    return true;
  }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    if (session_) session_->deliver(token, answer);
  }
  void abandon(uint64_t token) override {
    if (session_) session_->abandon(token);
  }
  size_t pending() const override { return session_ ? session_->pending() : 0; }
  size_t library_buffered() const override { return session_ ? session_->library_buffered() : 0; }
  bool partial_request() const override { return session_ ? session_->partial_request() : !sniffed_.empty(); }
  void on_closing() override {
    if (session_) session_->on_closing();
  }
  void on_drain() override {
    if (session_) session_->on_drain();
  }

 private:
  void choose(bool http1) {
    session_ = http1 ? make_doh_http1_session(connection_, config_) : make_doh_http2_session(connection_, config_);
    session_->on_ready();
  }

  StreamConnection& connection_;
  std::shared_ptr<const DohListenerConfig> config_;
  std::unique_ptr<StreamApplication> session_;
  std::vector<uint8_t> sniffed_;  // at most the preface's 24 octets
};

std::shared_ptr<TlsServerContext> checked_tls(const DohListenerConfig& config, std::shared_ptr<TlsServerContext> tls) {
  if (config.tls && !tls) throw std::runtime_error("DoH listener: TLS is on but no TLS context was given");
  return config.tls ? std::move(tls) : nullptr;
}

}  // namespace

std::shared_ptr<TlsServerContext> make_doh_tls_context(const TlsFiles& files) {
  return make_doh_tls_context(files, true);
}

std::shared_ptr<TlsServerContext> make_doh_tls_context(const TlsFiles& files, bool http1) {
  TlsServerOptions options;
  options.files = files;
  options.alpn = {"h2"};
  if (http1) options.alpn.push_back("http/1.1");
  options.refuse_unknown_alpn = true;
  return std::make_shared<TlsServerContext>(std::move(options));
}

DohListener::DohListener(const WorkerContext& worker, const DohListenerConfig& config,
                         std::shared_ptr<TlsServerContext> tls)
    : server_(worker, config.stream, Transport::doh, checked_tls(config, std::move(tls)),
              [config = std::make_shared<const DohListenerConfig>(config)](StreamConnection& connection) {
                return std::unique_ptr<StreamApplication>(std::make_unique<DohProtocolSelector>(connection, config));
              }) {}

void DohListener::shutdown(unsigned grace_ms, std::function<void()> done) {
  server_.shutdown(grace_ms, std::move(done));
}

ListenerFactory make_doh_listener_factory(DohListenerConfig config, std::shared_ptr<TlsServerContext> tls) {
  return [config = std::move(config), tls = std::move(tls)](const WorkerContext& worker) -> std::unique_ptr<Listener> {
    return std::make_unique<DohListener>(worker, config, tls);
  };
}

}  // namespace sextant::transports
