// The UDP listener tests' fixtures: a worker pool of UDP listeners sharing
// one port, or one listener on the test's own loop.
#pragma once

#include <memory>
#include <utility>

#include "tests/transports/listener_pool_fixture.h"
#include "tests/transports/test_support.h"
#include "transports/udp_listener.h"

namespace sextant::transports::plain_test {

// A pool of `workers` UDP workers on `bind_to` (port 0: ephemeral, shared).
struct UdpServer : ListenerPoolFixture<UdpListener, UdpListenerConfig> {
  explicit UdpServer(QueryHandler& handler, unsigned workers = 1, UdpListenerConfig config = {},
                     SocketAddress bind_to = SocketAddress::ipv4_loopback(0))
      : ListenerPoolFixture(make_udp_listener_factory, handler, std::move(config), bind_to, workers, 500) {}

  // Counters are readable from any thread.
  const UdpCounters& counters(unsigned i = 0) const { return listeners[i]->counters(); }
};

// A UdpListener on `loop`, bound to 127.0.0.1 on an ephemeral port.
inline std::unique_ptr<UdpListener> open_udp_listener(TestLoop& loop, QueryHandler& handler,
                                                      UdpListenerConfig config = {}) {
  config.address = SocketAddress::ipv4_loopback(0);
  return UdpListener::open(WorkerContext{loop.get(), 0, &handler}, config);
}

}  // namespace sextant::transports::plain_test
