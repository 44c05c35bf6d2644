#include "transports/upstream.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>

#include "transports/upstream_exchange.h"

namespace sextant::transports {

namespace {
std::atomic<bool> g_loopback_guard{false};
constexpr size_t kScratchSize = 64 * 1024;  // one datagram / one TCP read
}  // namespace

void enable_upstream_loopback_guard() noexcept { g_loopback_guard.store(true); }
bool upstream_loopback_guard_enabled() noexcept { return g_loopback_guard.load(); }

const char* to_string(UpstreamStatus status) noexcept {
  switch (status) {
    case UpstreamStatus::ok: return "ok";
    case UpstreamStatus::timeout: return "timeout";
    case UpstreamStatus::network_error: return "network error";
    case UpstreamStatus::bad_response: return "bad response";
    case UpstreamStatus::bad_query: return "bad query";
    case UpstreamStatus::destination_refused: return "destination refused (loopback-only guard)";
    case UpstreamStatus::overloaded: return "overloaded";
    case UpstreamStatus::cancelled: return "cancelled";
    case UpstreamStatus::auth_failed: return "authentication failed";
  }
  return "unknown";
}

// ---------------------------------------------------------------- core

UpstreamCore::UpstreamCore(uv_loop_t* loop, UpstreamConfig config)
    : loop_(loop), config_(config), scratch_(new uint8_t[kScratchSize]) {}

uv_buf_t UpstreamCore::scratch() noexcept {
  return uv_buf_init(reinterpret_cast<char*>(scratch_.get()), kScratchSize);
}

UpstreamQueryId UpstreamCore::send(UpstreamQuery query, UpstreamCallback done) {
  if (shutting_down_ || !owner_alive_ || !done) return 0;
  // Every refusal found here is reported from the loop, never from inside
  // send(): the walker may be in the middle of iterating its own state.
  std::optional<UpstreamStatus> refusal;
  const auto* server = reinterpret_cast<const sockaddr*>(&query.server);
  if (server->sa_family != AF_INET && server->sa_family != AF_INET6) {
    refusal = UpstreamStatus::bad_query;
  } else if ((config_.loopback_only || upstream_loopback_guard_enabled()) && !is_loopback(server)) {
    refusal = UpstreamStatus::destination_refused;
  } else if (sockets_ >= config_.max_outstanding) {
    refusal = UpstreamStatus::overloaded;
  }
  const uint32_t timeout = std::min(query.timeout_ms, config_.max_timeout_ms);

  const UpstreamQueryId id = next_id_++;
  Exchange* exchange;
  if (query.tcp) exchange = new TcpExchange(this, id, std::move(query), std::move(done));
  else exchange = new UdpExchange(this, id, std::move(query), std::move(done));
  ++live_exchanges_;
  active_.emplace(id, exchange);
  exchange->start(timeout, refusal);
  return id;
}

bool UpstreamCore::cancel(UpstreamQueryId id) noexcept {
  auto it = active_.find(id);
  if (it == active_.end()) return false;
  Exchange* exchange = it->second;
  counters_.cancelled.add();
  UpstreamResult none;
  none.status = UpstreamStatus::cancelled;
  exchange->finish(std::move(none), /*notify=*/false);
  return true;
}

void UpstreamCore::shutdown(std::function<void()> done) {
  if (shutting_down_) {
    if (done) {
      if (live_exchanges_ == 0) done();
      else shutdown_done_ = std::move(done);
    }
    return;
  }
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  // Each callback may cancel other queries: iterate over a snapshot of ids.
  std::vector<UpstreamQueryId> ids;
  for (auto& [id, exchange] : active_) ids.push_back(id);
  for (UpstreamQueryId id : ids) {
    auto it = active_.find(id);
    if (it == active_.end()) continue;
    counters_.cancelled.add();
    UpstreamResult result;
    result.status = UpstreamStatus::cancelled;
    it->second->finish(std::move(result), /*notify=*/true);
  }
  maybe_done();
}

void UpstreamCore::owner_gone() {
  owner_alive_ = false;
  std::vector<UpstreamQueryId> ids;
  for (auto& [id, exchange] : active_) ids.push_back(id);
  for (UpstreamQueryId id : ids) cancel(id);
  shutdown_done_ = nullptr;  // nobody left to tell
  maybe_done();
}

void UpstreamCore::socket_opened() noexcept {
  ++sockets_;
  counters_.sockets.add();
}

void UpstreamCore::exchange_closed(bool had_socket) noexcept {
  --live_exchanges_;
  if (had_socket) {
    --sockets_;
    counters_.sockets.sub();
  }
  maybe_done();
}

void UpstreamCore::maybe_done() {
  if (live_exchanges_ > 0) return;
  if (shutting_down_ && shutdown_done_) {
    std::function<void()> done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    // `done` may destroy the NetworkUpstream, which then deletes us.
    if (!owner_alive_) {
      delete this;
      done();
      return;
    }
    done();
    return;
  }
  if (!owner_alive_) delete this;
}

// ---------------------------------------------------------------- exchange

Exchange::Exchange(UpstreamCore* core, UpstreamQueryId id, UpstreamQuery query, UpstreamCallback done)
    : core_(core), id_(id), query_(std::move(query)), done_(std::move(done)) {}

void Exchange::start(uint32_t timeout_ms, std::optional<UpstreamStatus> refusal) {
  uv_timer_init(core_->loop(), &timer_);
  timer_.data = this;
  count_handle();
  started_ns_ = uv_hrtime();
  // The loop's cached time may be stale (send() after a long computation in
  // the same turn); refresh it so the deadline is not silently shortened.
  uv_update_time(core_->loop());
  uv_timer_start(&timer_, &on_timer, timeout_ms, 0);
  if (refusal) {
    fail_soon(*refusal);
    return;
  }
  if (query_.packet.size() > kMaxStreamMessage || !read_sent_question(query_.packet, sent_)) {
    fail_soon(UpstreamStatus::bad_query);
    return;
  }
  begin();
}

void Exchange::fail_soon(UpstreamStatus status, int error) {
  if (finished_ || failure_pending_) return;
  failure_pending_ = true;
  failure_status_ = status;
  failure_error_ = error;
  uv_timer_start(&timer_, &on_timer, 0, 0);
}

void Exchange::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<Exchange*>(timer->data);
  if (self->finished_) return;
  UpstreamResult result;
  result.status = self->failure_pending_ ? self->failure_status_ : UpstreamStatus::timeout;
  result.error = self->failure_error_;
  self->finish(std::move(result), /*notify=*/true);
}

void Exchange::finish(UpstreamResult result, bool notify) {
  if (finished_) return;
  finished_ = true;
  result.ignored_datagrams = ignored_;
  UpstreamCounters& c = core_->counters();
  switch (result.status) {
    case UpstreamStatus::ok: c.answered.add(); break;
    case UpstreamStatus::timeout: c.timeouts.add(); break;
    case UpstreamStatus::network_error: c.network_errors.add(); break;
    case UpstreamStatus::bad_response: c.bad_responses.add(); break;
    case UpstreamStatus::destination_refused: c.refused_destinations.add(); break;
    case UpstreamStatus::overloaded: c.overloaded.add(); break;
    case UpstreamStatus::bad_query:
    case UpstreamStatus::auth_failed:  // not a NetworkUpstream outcome
    case UpstreamStatus::cancelled: break;
  }
  core_->forget(id_);
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &on_handle_closed);
  close_socket();
  // The handles close on a later loop phase, so `this` stays valid while the
  // callback runs (even if it sends, cancels or shuts the upstream down).
  if (notify && done_) {
    UpstreamCallback done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }
}

void Exchange::on_handle_closed(uv_handle_t* handle) {
  auto* self = static_cast<Exchange*>(handle->data);
  if (--self->open_handles_ > 0) return;
  UpstreamCore* core = self->core_;
  const bool had_socket = self->has_socket_;
  delete self;
  core->exchange_closed(had_socket);
}

void Exchange::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  *buf = static_cast<Exchange*>(handle->data)->core_->scratch();
}

void Exchange::socket_opened() noexcept {
  count_handle();
  has_socket_ = true;
  core_->socket_opened();
}

uint32_t Exchange::elapsed_ms() const noexcept {
  return static_cast<uint32_t>((uv_hrtime() - started_ns_) / 1000000);
}

UpstreamResult Exchange::ok_result(std::span<const uint8_t> response, const sockaddr* from) const {
  UpstreamResult result;
  result.status = UpstreamStatus::ok;
  result.response.assign(response.begin(), response.end());
  result.rtt_ms = elapsed_ms();
  std::memcpy(&result.from, from, sockaddr_length(from));
  return result;
}

// ---------------------------------------------------------------- facade

NetworkUpstream::NetworkUpstream(uv_loop_t* loop, UpstreamConfig config)
    : core_(new UpstreamCore(loop, config)) {}

NetworkUpstream::~NetworkUpstream() { core_->owner_gone(); }

UpstreamQueryId NetworkUpstream::send(UpstreamQuery query, UpstreamCallback done) {
  return core_->send(std::move(query), std::move(done));
}

bool NetworkUpstream::cancel(UpstreamQueryId id) noexcept { return core_->cancel(id); }

void NetworkUpstream::shutdown(std::function<void()> done) { core_->shutdown(std::move(done)); }

size_t NetworkUpstream::outstanding() const noexcept { return core_->outstanding(); }

const UpstreamCounters& NetworkUpstream::counters() const noexcept { return core_->counters(); }

}  // namespace sextant::transports
