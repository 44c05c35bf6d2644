// Draining behind a load balancer: after SIGTERM, a Sextant behind dnsdist
// keeps answering its clients for server.drain-time but fails the balancer's
// health checks, so that the balancer marks it down and stops sending before
// the sockets close. dnsdist 1.7 marks a backend down on a SERVFAIL answer
// to its health check whatever its `mustResolve` setting (REFUSED and
// NXDOMAIN only count with mustResolve), or on a timeout; SERVFAIL with EDE
// 14 (Not Ready) is therefore the answer, and nothing times out.
//
// A health check is a query a trusted proxy sent with a PROXY v2 LOCAL header
// (dnsdist sends its checks that way when useProxyProtocol is on), or, from
// a client that did not come through a proxy, a query for one of the
// configured names (dnsdist's default checkName is a.root-servers.net.).
// Everything else is answered as usual until the listeners close.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "transports/query_handler.h"
#include "wire/name.h"
#include "wire/types.h"

namespace sextant::resolver {

class DrainState {
 public:
  explicit DrainState(std::vector<wire::Name> health_check_names = {});

  // From any thread (the daemon's main thread on SIGTERM).
  void start() noexcept { draining_.store(true, std::memory_order_relaxed); }
  bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

  // Whether this query is a load balancer's health check (see above).
  bool is_health_check(const transports::Request& request, const wire::Name& qname) const noexcept;
  // True, and counted, when the query must be failed now: a health check
  // while draining. One relaxed load when not draining.
  bool must_fail(const transports::Request& request, const wire::Name& qname) const noexcept;

  uint64_t health_checks_failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> draining_{false};
  std::vector<wire::Name> names_;
  mutable std::atomic<uint64_t> failed_{0};
};

}  // namespace sextant::resolver
