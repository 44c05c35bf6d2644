// A listener is one front-end socket set (UDP, TCP, DoT, DoH or DoQ) living on
// one worker's event loop. Worker threads create their listeners through
// factories, so the pool never needs to know the concrete transport types.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

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

}  // namespace sextant::transports
