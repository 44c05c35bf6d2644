#include "transports/upstream_pool.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "transports/quic_client_tls.h"
#include "transports/socket_util.h"
#include "transports/upstream_connection.h"
#include "transports/upstream_tls.h"

namespace sextant::transports {

const char* to_string(UpstreamChannel c) noexcept {
  switch (c) {
    case UpstreamChannel::udp: return "udp";
    case UpstreamChannel::tcp: return "tcp";
    case UpstreamChannel::tls: return "tls";
    case UpstreamChannel::https: return "https";
    case UpstreamChannel::quic: return "quic";
  }
  return "unknown";
}

std::string UpstreamEndpoint::key() const {
  std::string out = fmt::format("{}|{}|{}|{}|{}|{}", to_string(channel),
                                format_address(reinterpret_cast<const sockaddr*>(&address)), tls_name, ca_file,
                                http_host, http_path);
  for (const auto& pin : spki_pins) {
    for (uint8_t b : pin) out += fmt::format("{:02x}", b);
    out += ',';
  }
  return out;
}

class UpstreamPoolCore final : public UpstreamConnectionOwner {
 public:
  UpstreamPoolCore(uv_loop_t* loop, UpstreamPoolConfig config) : loop_(loop), config_(config) {
    uv_timer_init(loop_, &deadline_timer_);
    deadline_timer_.data = this;
    uv_timer_init(loop_, &deferred_timer_);
    deferred_timer_.data = this;
    open_handles_ = 2;
  }

  uint32_t endpoint(const UpstreamEndpoint& spec) {
    const std::string key = spec.key();
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (endpoints_[i]->key == key) {
        endpoints_[i]->retired = false;
        return static_cast<uint32_t>(i + 1);
      }
    }
    auto ep = std::make_unique<Endpoint>();
    ep->spec = spec;
    ep->key = key;
    ep->stats.label = spec.label;
    ep->stats.channel = spec.channel;
    try {
      switch (spec.channel) {
        case UpstreamChannel::udp: throw std::runtime_error("UDP upstreams are not pooled (NetworkUpstream)");
        case UpstreamChannel::tcp: break;
        case UpstreamChannel::tls: ep->tls = std::make_unique<UpstreamTlsContext>(spec, std::vector<std::string>{"dot"}); break;
        case UpstreamChannel::https: ep->tls = std::make_unique<UpstreamTlsContext>(spec, std::vector<std::string>{"h2"}); break;
        case UpstreamChannel::quic: ep->quic_tls = std::make_unique<QuicClientTls>(spec); break;
      }
    } catch (const std::exception& e) {
      ep->setup_error = e.what();
    }
    endpoints_.push_back(std::move(ep));
    return static_cast<uint32_t>(endpoints_.size());
  }

  UpstreamQueryId send(uint32_t endpoint_id, std::vector<uint8_t> packet, uint32_t timeout_ms, UpstreamCallback done) {
    if (shutting_down_ || !owner_alive_ || endpoint_id == 0 || endpoint_id > endpoints_.size()) return 0;
    Endpoint& ep = *endpoints_[endpoint_id - 1];
    const UpstreamQueryId id = next_id_++;
    Query& q = queries_[id];
    q.id = id;
    q.endpoint = endpoint_id;
    q.packet = std::move(packet);
    q.done = std::move(done);
    q.started_ns = uv_hrtime();
    const uint64_t timeout = std::min(timeout_ms, config_.max_timeout_ms);
    q.deadline = deadlines_.emplace(q.started_ns + timeout * 1'000'000, id);
    arm_deadline();
    in_send_ = true;
    const bool guard = config_.loopback_only || upstream_loopback_guard_enabled();
    if (guard && !is_loopback(reinterpret_cast<const sockaddr*>(&ep.spec.address))) {
      finish(id, failure(UpstreamStatus::destination_refused, "not a loopback address"));
    } else if (queries_.size() > config_.max_outstanding) {
      finish(id, failure(UpstreamStatus::overloaded, "too many queries outstanding"));
    } else if (!ep.setup_error.empty()) {
      ++ep.stats.auth_failures;
      finish(id, failure(UpstreamStatus::auth_failed, ep.setup_error));
    } else if (q.packet.size() < 12 || q.packet.size() > 65535) {
      finish(id, failure(UpstreamStatus::bad_query, "not a DNS message"));
    } else {
      dispatch(id);
    }
    in_send_ = false;
    return id;
  }

  bool cancel(UpstreamQueryId id) noexcept {
    auto it = queries_.find(id);
    if (it == queries_.end()) return false;
    if (it->second.connection) it->second.connection->forget(id);
    deadlines_.erase(it->second.deadline);
    queries_.erase(it);
    return true;
  }

  void retain_only(const std::vector<uint32_t>& keep) {
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (std::find(keep.begin(), keep.end(), static_cast<uint32_t>(i + 1)) != keep.end()) continue;
      // Its connections take nothing new and close once idle.
      endpoints_[i]->retired = true;
      endpoints_[i]->current = nullptr;
    }
  }

  void shutdown(std::function<void()> done) {
    shutting_down_ = true;
    shutdown_done_ = std::move(done);
    run_deferred();  // answers already decided are still delivered
    std::vector<UpstreamQueryId> ids;
    for (const auto& [id, q] : queries_) ids.push_back(id);
    for (UpstreamQueryId id : ids) finish(id, failure(UpstreamStatus::cancelled, "shutting down"));
    close_everything();
  }

  // The UpstreamPool is gone: callbacks are dropped; the core deletes
  // itself once its handles are closed (maybe at once).
  void owner_gone() {
    owner_alive_ = false;
    shutting_down_ = true;
    shutdown_done_ = nullptr;
    queries_.clear();
    deadlines_.clear();
    deferred_.clear();
    close_everything();
    maybe_finished();
  }

  std::vector<UpstreamEndpointStats> stats() const {
    std::vector<UpstreamEndpointStats> out;
    for (const auto& ep : endpoints_) {
      UpstreamEndpointStats s = ep->stats;
      s.open_connections = 0;
      for (const auto& [conn, index] : connection_endpoint_) {
        if (endpoints_[index - 1].get() == ep.get()) ++s.open_connections;
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  size_t outstanding() const noexcept { return queries_.size(); }

  // UpstreamConnectionOwner
  void connection_answer(UpstreamQueryId id, std::span<const uint8_t> response) override {
    auto it = queries_.find(id);
    if (it == queries_.end()) return;
    it->second.connection = nullptr;  // it is done with the query
    Endpoint& ep = *endpoints_[it->second.endpoint - 1];
    UpstreamResult r;
    r.status = UpstreamStatus::ok;
    r.response.assign(response.begin(), response.end());
    const uint64_t elapsed_ns = uv_hrtime() - it->second.started_ns;
    r.rtt_ms = static_cast<uint32_t>(elapsed_ns / 1'000'000);
    r.from = ep.spec.address;
    ++ep.stats.answers;
    ep.stats.rtt_sum_us += elapsed_ns / 1000;
    finish(id, std::move(r));
  }

  void connection_failed(UpstreamQueryId id, UpstreamStatus status, const std::string& detail, bool retryable) override {
    auto it = queries_.find(id);
    if (it == queries_.end()) return;
    Query& q = it->second;
    Endpoint& ep = *endpoints_[q.endpoint - 1];
    q.connection = nullptr;
    if (status == UpstreamStatus::bad_response) ++ep.stats.protocol_errors;
    // RFC 7766 §6.2.1: a server may close a connection it considers idle
    // just as we send on it; one more try on a fresh connection.
    if (retryable && !q.retried && !shutting_down_ && uv_hrtime() < q.deadline->first) {
      q.retried = true;
      dispatch(id);
      return;
    }
    finish(id, failure(status, detail));
  }

  void connection_ready(UpstreamConnection* connection, bool resumed) override {
    auto it = connection_endpoint_.find(connection);
    if (it == connection_endpoint_.end()) return;
    Endpoint& ep = *endpoints_[it->second - 1];
    if (ep.spec.channel == UpstreamChannel::tcp) return;
    if (resumed) {
      ++ep.stats.resumed_handshakes;
    } else {
      ++ep.stats.handshakes;
    }
  }

  void connection_draining(UpstreamConnection* connection) override {
    for (auto& ep : endpoints_) {
      if (ep->current == connection) ep->current = nullptr;
    }
  }

  void connection_closed(UpstreamConnection* connection) override {
    auto index = connection_endpoint_.find(connection);
    if (index != connection_endpoint_.end()) {
      Endpoint& ep = *endpoints_[index->second - 1];
      if (ep.current == connection) ep.current = nullptr;
      switch (connection->failure()) {
        case ConnectionFailure::none: break;
        case ConnectionFailure::connect: ++ep.stats.connect_failures; break;
        case ConnectionFailure::handshake: ++ep.stats.handshake_failures; break;
        case ConnectionFailure::auth: ++ep.stats.auth_failures; break;
        case ConnectionFailure::protocol: ++ep.stats.protocol_errors; break;
        case ConnectionFailure::closed: ++ep.stats.closed_in_flight; break;
      }
      connection_endpoint_.erase(index);
    }
    submitted_.erase(connection);
    connections_.erase(connection);  // deletes it
    maybe_finished();
  }

 private:
  struct Endpoint {
    UpstreamEndpoint spec;
    std::string key;
    std::unique_ptr<UpstreamTlsContext> tls;
    std::unique_ptr<QuicClientTls> quic_tls;
    std::string setup_error;
    UpstreamConnection* current = nullptr;
    UpstreamEndpointStats stats;
    bool retired = false;
  };
  struct Query {
    UpstreamQueryId id = 0;
    uint32_t endpoint = 0;
    std::vector<uint8_t> packet;
    UpstreamCallback done;
    uint64_t started_ns = 0;
    std::multimap<uint64_t, UpstreamQueryId>::iterator deadline;
    UpstreamConnection* connection = nullptr;
    bool retried = false;
  };

  static UpstreamResult failure(UpstreamStatus status, std::string detail) {
    UpstreamResult r;
    r.status = status;
    r.detail = std::move(detail);
    return r;
  }

  UpstreamConnectionSettings connection_settings() const {
    UpstreamConnectionSettings s;
    s.idle_timeout_ms = config_.idle_timeout_ms;
    s.handshake_timeout_ms = config_.handshake_timeout_ms;
    s.max_in_flight = config_.max_in_flight_per_connection;
    return s;
  }

  void dispatch(UpstreamQueryId id) {
    Query& q = queries_.at(id);
    Endpoint& ep = *endpoints_[q.endpoint - 1];
    if (ep.retired) {
      finish(id, failure(UpstreamStatus::cancelled, "the upstream was removed"));
      return;
    }
    UpstreamConnection* conn = ep.current;
    if (!conn || !conn->accepting()) {
      std::unique_ptr<UpstreamConnection> fresh;
      switch (ep.spec.channel) {
        case UpstreamChannel::udp:  // refused at registration (setup_error): never here
          finish(id, failure(UpstreamStatus::bad_query, "UDP upstreams are not pooled"));
          return;
        case UpstreamChannel::tcp: fresh = make_stream_connection(loop_, *this, ep.spec, nullptr, connection_settings()); break;
        case UpstreamChannel::tls: fresh = make_stream_connection(loop_, *this, ep.spec, ep.tls.get(), connection_settings()); break;
        case UpstreamChannel::https: fresh = make_doh_connection(loop_, *this, ep.spec, *ep.tls, connection_settings()); break;
        case UpstreamChannel::quic: fresh = make_doq_connection(loop_, *this, ep.spec, *ep.quic_tls, connection_settings()); break;
      }
      conn = fresh.get();
      connection_endpoint_[conn] = q.endpoint;
      connections_[conn] = std::move(fresh);
      ep.current = conn;
      ++ep.stats.connections_opened;
      conn->start();
    }
    q.connection = conn;
    size_t& submitted = submitted_[conn];
    if (!conn->submit(id, q.packet)) {
      q.connection = nullptr;
      finish(id, failure(UpstreamStatus::overloaded, "the connection takes no more queries"));
      return;
    }
    if (submitted++ > 0) ++ep.stats.reused_queries;
    ++ep.stats.queries;
  }

  // Ends query `id` with `result`: its callback now, or on the next loop
  // turn when we are inside send().
  void finish(UpstreamQueryId id, UpstreamResult result) {
    auto it = queries_.find(id);
    if (it == queries_.end()) return;
    UpstreamCallback done = std::move(it->second.done);
    if (it->second.connection) it->second.connection->forget(id);
    deadlines_.erase(it->second.deadline);
    queries_.erase(it);
    if (result.status == UpstreamStatus::timeout) {
      // counted by the caller's endpoint (on_deadline)
    }
    if (in_send_) {
      deferred_.emplace_back(std::move(done), std::move(result));
      uv_timer_start(&deferred_timer_, [](uv_timer_t* t) { static_cast<UpstreamPoolCore*>(t->data)->run_deferred(); }, 0, 0);
      return;
    }
    if (done) done(std::move(result));
  }

  void run_deferred() {
    auto batch = std::move(deferred_);
    deferred_.clear();
    for (auto& [done, result] : batch) {
      if (done && owner_alive_) done(std::move(result));
    }
  }

  void arm_deadline() {
    if (deadlines_.empty() || closing_) {
      if (!closing_) uv_timer_stop(&deadline_timer_);
      return;
    }
    const uint64_t now = uv_hrtime();
    const uint64_t next = deadlines_.begin()->first;
    const uint64_t wait_ms = next > now ? (next - now + 999'999) / 1'000'000 : 0;
    uv_timer_start(&deadline_timer_, [](uv_timer_t* t) { static_cast<UpstreamPoolCore*>(t->data)->on_deadline(); },
                   wait_ms, 0);
  }

  void on_deadline() {
    const uint64_t now = uv_hrtime();
    std::vector<UpstreamQueryId> expired;
    for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) expired.push_back(it->second);
    for (UpstreamQueryId id : expired) {
      auto it = queries_.find(id);
      if (it == queries_.end()) continue;
      ++endpoints_[it->second.endpoint - 1]->stats.timeouts;
      finish(id, failure(UpstreamStatus::timeout, "no answer in time"));
    }
    arm_deadline();
  }

  void close_everything() {
    std::vector<UpstreamConnection*> all;
    for (const auto& [conn, owned] : connections_) all.push_back(conn);
    for (UpstreamConnection* conn : all) {
      if (connections_.count(conn)) conn->close();
    }
    if (!closing_) {
      closing_ = true;
      auto closed = [](uv_handle_t* h) {
        auto* self = static_cast<UpstreamPoolCore*>(h->data);
        --self->open_handles_;
        self->maybe_finished();
      };
      uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), closed);
      uv_close(reinterpret_cast<uv_handle_t*>(&deferred_timer_), closed);
    }
  }

  void maybe_finished() {
    if (!closing_ || open_handles_ > 0 || !connections_.empty()) return;
    if (shutdown_done_) {
      auto done = std::move(shutdown_done_);
      shutdown_done_ = nullptr;
      done();  // may destroy the UpstreamPool (owner_gone comes next)
      return;
    }
    if (!owner_alive_) delete this;
  }

 private:
  uv_loop_t* loop_;
  UpstreamPoolConfig config_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::unordered_map<UpstreamConnection*, std::unique_ptr<UpstreamConnection>> connections_;
  std::unordered_map<UpstreamConnection*, uint32_t> connection_endpoint_;
  std::unordered_map<UpstreamConnection*, size_t> submitted_;
  std::unordered_map<UpstreamQueryId, Query> queries_;
  std::multimap<uint64_t, UpstreamQueryId> deadlines_;
  std::vector<std::pair<UpstreamCallback, UpstreamResult>> deferred_;
  uv_timer_t deadline_timer_{};
  uv_timer_t deferred_timer_{};
  int open_handles_ = 0;
  UpstreamQueryId next_id_ = 1;
  bool in_send_ = false;
  bool owner_alive_ = true;
  bool shutting_down_ = false;
  bool closing_ = false;
  std::function<void()> shutdown_done_;
};

UpstreamPool::UpstreamPool(uv_loop_t* loop, UpstreamPoolConfig config) : core_(new UpstreamPoolCore(loop, config)) {}

UpstreamPool::~UpstreamPool() {
  UpstreamPoolCore* core = core_;
  core_ = nullptr;
  core->owner_gone();  // deletes the core once its handles are closed
}

uint32_t UpstreamPool::endpoint(const UpstreamEndpoint& endpoint) { return core_->endpoint(endpoint); }

UpstreamQueryId UpstreamPool::send(uint32_t endpoint, std::vector<uint8_t> packet, uint32_t timeout_ms,
                                   UpstreamCallback done) {
  return core_->send(endpoint, std::move(packet), timeout_ms, std::move(done));
}

bool UpstreamPool::cancel(UpstreamQueryId id) noexcept { return core_->cancel(id); }
void UpstreamPool::retain_only(const std::vector<uint32_t>& keep) { core_->retain_only(keep); }
void UpstreamPool::shutdown(std::function<void()> done) { core_->shutdown(std::move(done)); }
std::vector<UpstreamEndpointStats> UpstreamPool::stats() const { return core_->stats(); }
size_t UpstreamPool::outstanding() const noexcept { return core_->outstanding(); }

}  // namespace sextant::transports
