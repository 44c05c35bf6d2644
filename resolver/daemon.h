// The sextant daemon: builds the shared state (cache, access control,
// root hints) from a Config, starts one worker per thread — each with its
// own loop, upstream client, walker and query pipeline — and runs until
// SIGTERM or SIGINT, then stops gracefully.
#pragma once

#include <atomic>
#include <memory>

#include "resolver/config.h"

namespace sextant::resolver {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Opens every listener (throws std::runtime_error naming the address on
  // failure) and serves until a stop is requested; returns after a clean stop.
  void run();
  // Asks run() to return (async-signal-safe flag, checked by run()).
  void request_stop() noexcept;
  // Asks run() to re-read the TLS certificate and key (SIGHUP): new DoT, DoH
  // and DoQ connections use the new pair, open ones keep theirs; a bad file
  // keeps the old pair and is logged. Async-signal-safe.
  void request_tls_reload() noexcept;

  // Opaque outside daemon.cpp (public only so that file's helpers can name it).
  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace sextant::resolver
