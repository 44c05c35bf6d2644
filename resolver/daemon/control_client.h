// The client side of the control socket: `sextant control COMMAND`.
#pragma once

#include <string>

namespace sextant::resolver {

struct ControlReply {
  bool ok = false;     // false: could not talk to the daemon, or it answered "error: ..."
  std::string text;    // the daemon's reply, or why there is none
};

// Sends one command line and reads the whole reply (bounded by `timeout_ms`).
ControlReply send_control_command(const std::string& socket_path, const std::string& command,
                                  int timeout_ms = 30000);

// Writes `bytes` to `path` through a temporary file in the same directory
// renamed over it (a reader never sees half a file). Returns "" or why not.
std::string write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace sextant::resolver
