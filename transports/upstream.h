// The outgoing DNS client the iterative walker (resolver/) talks through.
//
// `Upstream` is the seam: the walker holds an Upstream& and tests inject a
// scripted one. `NetworkUpstream` is the real thing, one per worker, running
// on that worker's loop:
//   - UDP: a fresh socket per query, bound to port 0 (a kernel-chosen random
//     source port) and connect()ed to the server, so the kernel drops
//     datagrams from any other address. A datagram that does not carry the
//     query's ID and question is ignored (counted) and the wait goes on until
//     the right one or the timeout: a spoofed datagram cannot end the wait.
//   - TCP: connect, send one framed query, read one framed answer, close.
//     The timeout covers connect + send + receive.
// Bounded: at most `max_outstanding` sockets per instance. Cancellable.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "transports/listener_counters.h"

namespace sextant::transports {

enum class UpstreamStatus : uint8_t {
  ok,                   // `response` holds the server's answer (TC=1 included: the walker decides)
  timeout,              // no matching answer within timeout_ms
  network_error,        // connect/send/receive failed (e.g. ICMP port unreachable); see `error`
  bad_response,         // TCP: a zero-length or non-matching answer on the stream
  bad_query,            // the packet is not a DNS query we can match answers to, or bad address
  destination_refused,  // the loopback-only test guard refused a non-loopback server
  overloaded,           // max_outstanding sockets already in use
  cancelled,            // shutdown() ended the query before an answer came
  auth_failed,          // an encrypted upstream's certificate or pin did not match (UpstreamPool)
};
const char* to_string(UpstreamStatus status) noexcept;

struct UpstreamQuery {
  std::vector<uint8_t> packet;  // the complete DNS message (ID and question set by the walker)
  sockaddr_storage server{};    // AF_INET or AF_INET6 with the port (53)
  bool tcp = false;
  uint32_t timeout_ms = 2000;
  // 0x20: when set, the answer's question must repeat the query's letter
  // case exactly (a mismatch is treated like a spoofed datagram).
  bool match_question_case = false;
};

struct UpstreamResult {
  UpstreamStatus status = UpstreamStatus::timeout;
  std::vector<uint8_t> response;
  uint32_t rtt_ms = 0;          // query sent (TCP: connect started) to answer received
  sockaddr_storage from{};      // where the answer came from (the server)
  int error = 0;                // libuv error code for network_error (uv_strerror)
  uint32_t ignored_datagrams = 0;  // UDP datagrams dropped as not matching
  std::string detail;           // why it failed, when known (UpstreamPool)
};

// Called once per query on the loop thread — never from inside send() or
// cancel() — unless the query was cancelled.
using UpstreamCallback = std::function<void(UpstreamResult result)>;
using UpstreamQueryId = uint64_t;  // 0 never names a query

class Upstream {
 public:
  virtual ~Upstream() = default;
  // Starts a query; `done` runs later with the outcome. Returns an id for
  // cancel(), or 0 if the query was not accepted at all (after shutdown), in
  // which case `done` is never called.
  virtual UpstreamQueryId send(UpstreamQuery query, UpstreamCallback done) = 0;
  // Abandons a query: its callback will not be called and its socket is
  // closed. Returns false if the id is unknown or already finished.
  virtual bool cancel(UpstreamQueryId id) noexcept = 0;
};

struct UpstreamConfig {
  size_t max_outstanding = 1024;  // sockets per instance (per worker)
  uint32_t max_timeout_ms = 60000;  // longer per-query timeouts are cut to this
  // Test safety: refuse (destination_refused) every server outside
  // 127.0.0.0/8 and ::1. Off in production, where any address is reachable.
  bool loopback_only = false;
};

struct UpstreamCounters {
  RelaxedCounter sent_udp;
  RelaxedCounter sent_tcp;
  RelaxedCounter answered;
  RelaxedCounter timeouts;
  RelaxedCounter network_errors;
  RelaxedCounter bad_responses;
  RelaxedCounter ignored_datagrams;  // wrong ID / question / source: possible spoofing
  RelaxedCounter refused_destinations;
  RelaxedCounter overloaded;
  RelaxedCounter cancelled;
  RelaxedCounter sockets;  // gauge: sockets open (including closing)
};

// Process-wide latch for test binaries: once enabled, every NetworkUpstream
// behaves as if loopback_only were set. It cannot be disabled again.
void enable_upstream_loopback_guard() noexcept;
bool upstream_loopback_guard_enabled() noexcept;

class UpstreamCore;  // see upstream_exchange.h

class NetworkUpstream final : public Upstream {
 public:
  NetworkUpstream(uv_loop_t* loop, UpstreamConfig config = {});
  // Cancels whatever is outstanding (no callbacks). The sockets finish
  // closing when the loop next runs, so the loop must run afterwards.
  ~NetworkUpstream() override;
  NetworkUpstream(const NetworkUpstream&) = delete;
  NetworkUpstream& operator=(const NetworkUpstream&) = delete;

  UpstreamQueryId send(UpstreamQuery query, UpstreamCallback done) override;
  bool cancel(UpstreamQueryId id) noexcept override;

  // Ends every outstanding query with status `cancelled` (the callbacks run
  // inside this call), refuses new ones (send returns 0), and calls `done` on
  // the loop thread once every socket is closed. The NetworkUpstream may be
  // destroyed inside `done`.
  void shutdown(std::function<void()> done);

  size_t outstanding() const noexcept;  // queries not yet finished
  const UpstreamCounters& counters() const noexcept;

 private:
  UpstreamCore* core_;  // deletes itself when we are gone and its sockets are closed
};

}  // namespace sextant::transports
