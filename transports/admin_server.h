// The operator's side door: a control socket (Unix domain, one text command
// per connection, as unbound-control and knotc use) and HTTP/1.1 listeners
// for Prometheus' /metrics. Both run on one libuv loop in a thread of their
// own, away from the workers, so a slow scrape or a large cache dump never
// delays an answer.
//
//   AdminServer admin(config, {.control = run_command, .metrics = render});
//   admin.start();                 // throws naming the socket/address on failure
//   ...
//   admin.stop();                  // closes everything, joins the thread
//
// Handlers run on the admin thread, one at a time; they may take a while
// (a cache dump) but should not wait on the network.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transports/socket_util.h"

namespace sextant::transports {

struct AdminServerConfig {
  std::string control_socket;               // Unix socket path; empty: no control socket
  unsigned control_socket_mode = 0660;      // who may run commands is who may open the file
  int control_socket_uid = -1;              // owner of the socket file (-1: as created)
  int control_socket_gid = -1;
  std::vector<SocketAddress> metrics;       // HTTP listeners; port 0 picks one (tests)
  std::string metrics_path = "/metrics";
  uint32_t idle_timeout_ms = 5000;          // a connection that sends nothing this long is closed
  size_t max_connections = 64;              // beyond this, new connections are closed at once
  size_t max_command_bytes = 4096;          // a longer control line is refused
};

struct AdminHandlers {
  // One command line (without its newline) -> the whole reply text.
  std::function<std::string(std::string_view command)> control;
  // The body of GET /metrics (Prometheus text exposition format 0.0.4).
  std::function<std::string()> metrics;
};

class AdminServer {
 public:
  AdminServer(AdminServerConfig config, AdminHandlers handlers);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds everything, then serves on a new thread. Throws std::runtime_error
  // naming the path or address if any of them cannot be opened.
  void start();
  // Closes the listeners and open connections and joins the thread; removes
  // the control socket file. Idempotent.
  void stop();

  // The bound port of metrics listener i (after start), for tests that bind port 0.
  uint16_t metrics_port(size_t i) const;

  uint64_t commands_served() const noexcept;
  uint64_t scrapes_served() const noexcept;
  uint64_t bad_requests() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sextant::transports
