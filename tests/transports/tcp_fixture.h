// The TCP listener tests' fixtures: a worker pool of TCP listeners on
// 127.0.0.1, or one listener on the test's own loop.
#pragma once

#include <memory>
#include <utility>

#include "tests/transports/listener_pool_fixture.h"
#include "tests/transports/test_support.h"
#include "transports/tcp_listener.h"

namespace sextant::transports::plain_test {

struct TcpServerFixture : ListenerPoolFixture<TcpListener, TcpListenerConfig> {
  explicit TcpServerFixture(QueryHandler& handler, TcpListenerConfig config = {}, unsigned workers = 1,
                            unsigned grace_ms = 500)
      : ListenerPoolFixture(make_tcp_listener_factory, handler, std::move(config), SocketAddress::ipv4_loopback(0),
                            workers, grace_ms) {}

  const TcpCounters& counters() const { return listeners[0]->counters(); }
};

// A TcpListener on `loop`, bound to 127.0.0.1 on an ephemeral port.
inline std::unique_ptr<TcpListener> open_tcp_listener(TestLoop& loop, QueryHandler& handler,
                                                      TcpListenerConfig config = {}) {
  config.address = SocketAddress::ipv4_loopback(0);
  return TcpListener::open(WorkerContext{loop.get(), 0, &handler}, config);
}

}  // namespace sextant::transports::plain_test
