// The set-up the TCP and UDP listener tests share beneath their fixtures
// (TcpServerFixture in tcp_fixture.h, UdpServer in udp_fixture.h): a
// WorkerPool whose workers each open one listener on the same address
// (port 0: one ephemeral port, shared by all workers), and the listeners
// it opened, so that tests can read their counters.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "transports/query_handler.h"
#include "transports/socket_util.h"
#include "transports/worker_pool.h"

namespace sextant::transports::plain_test {

template <typename ListenerType, typename Config>
class ListenerPoolFixture {
 public:
  // make_tcp_listener_factory, make_udp_listener_factory.
  using MakeFactory = ListenerFactory (*)(Config, std::function<void(ListenerType&)>);

  ListenerPoolFixture(const ListenerPoolFixture&) = delete;
  ListenerPoolFixture& operator=(const ListenerPoolFixture&) = delete;
  ~ListenerPoolFixture() { pool->stop(); }

  std::mutex mu;
  std::vector<ListenerType*> listeners;  // valid until stop()
  SocketAddress address;                 // where the listeners are bound
  std::unique_ptr<WorkerPool> pool;

 protected:
  ListenerPoolFixture(MakeFactory make_factory, QueryHandler& handler, Config config, const SocketAddress& bind_to,
                      unsigned workers, unsigned grace_ms) {
    config.address = bind_to;
    pool = std::make_unique<WorkerPool>(
        WorkerPoolConfig{.workers = workers, .shutdown_grace_ms = grace_ms},
        std::vector<ListenerFactory>{make_factory(config,
                                                  [this](ListenerType& l) {
                                                    std::lock_guard lock(mu);
                                                    listeners.push_back(&l);
                                                  })},
        handler);
    pool->start();
    REQUIRE(listeners.size() == workers);
    address = listeners[0]->local_address();
  }
};

}  // namespace sextant::transports::plain_test
