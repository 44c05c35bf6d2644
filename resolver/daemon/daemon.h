// The sextant daemon: builds the shared state (cache, access control,
// root hints) from a Config, starts one worker per thread — each with its
// own loop, upstream client, walker and query pipeline — and runs until
// SIGTERM or SIGINT, then stops gracefully.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "resolver/config/config.h"

namespace sextant::resolver {

class Daemon {
 public:
  // `config_path`: the file `config` came from, re-read by a reload (empty:
  // embedded defaults, nothing to reload).
  explicit Daemon(Config config, std::string config_path = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Opens every listener (throws std::runtime_error naming the address on
  // failure) and serves until a stop is requested; returns after a clean stop.
  void run();
  // Asks run() to return (async-signal-safe flag, checked by run()).
  void request_stop() noexcept;
  // Asks run() to reload (SIGHUP), as `sextant control reload` does: the
  // configuration file's access-control and log-level are applied, the TLS
  // certificate and key re-read (new DoT, DoH and DoQ connections use the
  // new pair, open ones keep theirs; a bad file keeps the old pair), the
  // cache is kept; other changed settings are logged as needing a restart.
  // Async-signal-safe.
  void request_reload() noexcept;

  // Opaque outside daemon.cpp (public only so that file's helpers can name it).
  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace sextant::resolver
