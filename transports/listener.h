// A listener is one front-end socket set (UDP, TCP, DoT, DoH or DoQ) living on
// one worker's event loop. Worker threads create their listeners through
// factories, so the pool never needs to know the concrete transport types.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>

#include "transports/query_handler.h"

namespace sextant::transports {

class Listener {
 public:
  virtual ~Listener() = default;
  // Stops accepting, closes idle connections, lets in-flight answers go out
  // for at most `grace_ms`, closes every handle, then calls `done` (on the
  // loop thread). The Listener may be destroyed after `done` runs.
  virtual void shutdown(unsigned grace_ms, std::function<void()> done) = 0;
};

// Everything a listener needs from the worker that hosts it.
struct WorkerContext {
  uv_loop_t* loop = nullptr;
  unsigned index = 0;          // worker number, 0-based
  QueryHandler* handler = nullptr;
};

// Creates one listener on a worker; throws std::runtime_error with a clear
// message (address, port, reason) when the socket cannot be set up.
using ListenerFactory = std::function<std::unique_ptr<Listener>(const WorkerContext&)>;

// A factory for listeners whose config has a SocketAddress `address`: with
// port 0 ("any free port", in tests) the first worker's socket picks the
// port and every later worker joins it, so all SO_REUSEPORT sockets share it.
template <typename ListenerType, typename Config>
ListenerFactory make_port_sharing_factory(Config config, std::function<void(ListenerType&)> on_open) {
  struct SharedPort {
    std::mutex mu;
    uint16_t port = 0;
  };
  auto shared = std::make_shared<SharedPort>();
  return [config = std::move(config), on_open = std::move(on_open),
          shared](const WorkerContext& ctx) -> std::unique_ptr<Listener> {
    std::unique_ptr<ListenerType> listener;
    {
      std::lock_guard lock(shared->mu);
      Config actual = config;
      if (config.address.port() == 0 && shared->port != 0) actual.address.set_port(shared->port);
      listener = ListenerType::open(ctx, actual);
      if (config.address.port() == 0 && shared->port == 0) shared->port = listener->local_address().port();
    }
    if (on_open) on_open(*listener);
    return listener;
  };
}

}  // namespace sextant::transports
