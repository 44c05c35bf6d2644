// Persistent connections to configured upstream resolvers, one pool per
// worker (on that worker's loop; no locks): plain TCP, DNS over TLS, DNS over
// HTTPS and DNS over QUIC. Each endpoint keeps one open connection that
// carries many queries at once (pipelined and answered out of order on
// TCP/TLS, one HTTP/2 stream or one QUIC stream per query), resumes its TLS
// session when it reconnects, and is closed after an idle period.
//
//   UpstreamPool pool(loop);
//   uint32_t ep = pool.endpoint(endpoint);           // once per endpoint
//   pool.send(ep, packet, 1500, [](UpstreamResult r) { ... });
//
// Same contract as NetworkUpstream (upstream.h): the callback runs once, on
// the loop, never from inside send(); cancel() silences it. Authentication
// failures come back as UpstreamStatus::auth_failed and nothing of the query
// was sent; there is no plaintext fallback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transports/upstream.h"
#include "transports/upstream_endpoint.h"

namespace sextant::transports {

struct UpstreamPoolConfig {
  uint32_t idle_timeout_ms = 10000;      // an idle connection closes after this long
  uint32_t handshake_timeout_ms = 5000;  // connect + handshake
  size_t max_in_flight_per_connection = 256;
  size_t max_outstanding = 4096;         // queries in the whole pool
  uint32_t max_timeout_ms = 60000;
  bool loopback_only = false;            // test safety, as UpstreamConfig
};

class UpstreamPoolCore;

class UpstreamPool {
 public:
  explicit UpstreamPool(uv_loop_t* loop, UpstreamPoolConfig config = {});
  // Closes every connection; callbacks of outstanding queries are dropped.
  // The handles finish closing when the loop next runs.
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // The id of `endpoint` (registered on first use; the same key gives the
  // same id). An endpoint whose TLS setup fails (CA bundle unreadable) is
  // registered anyway: its queries fail with auth_failed and the reason.
  uint32_t endpoint(const UpstreamEndpoint& endpoint);
  // Starts a query to a registered endpoint; 0 if refused outright (after
  // shutdown, unknown endpoint). The query's own ID comes back in the answer.
  UpstreamQueryId send(uint32_t endpoint, std::vector<uint8_t> packet, uint32_t timeout_ms, UpstreamCallback done);
  bool cancel(UpstreamQueryId id) noexcept;
  // Closes the connections of endpoints not in `keep` (a reload removed them).
  void retain_only(const std::vector<uint32_t>& keep);
  // Ends outstanding queries (cancelled), refuses new ones, calls `done` once
  // every handle is closed. The pool may be destroyed inside `done`.
  void shutdown(std::function<void()> done);

  std::vector<UpstreamEndpointStats> stats() const;
  size_t outstanding() const noexcept;

 private:
  UpstreamPoolCore* core_;  // deletes itself once we are gone and its handles are closed
};

}  // namespace sextant::transports
