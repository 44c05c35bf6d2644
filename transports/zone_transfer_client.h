// The client side of a zone transfer or SOA query over TCP (RFC 7766
// framing): connect, send one query, read length-prefixed messages until
// the caller has what it wants, the server closes, or a bound is reached.
//
// Blocking, with one deadline for the whole exchange (connect included):
// it runs on the RPZ feed's own thread, never on a worker. It knows nothing
// about what the messages say; wire/zone_transfer.h reads them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "transports/socket_util.h"

namespace sextant::transports {

struct StreamExchangeLimits {
  std::chrono::milliseconds timeout{60000};  // the whole exchange
  size_t max_bytes = 512u << 20;             // all messages together
  const std::atomic<bool>* cancel = nullptr;  // set: give up within 200 ms (shutdown, reload)
};

struct StreamExchangeResult {
  bool ok = false;            // the callback said it was done
  bool closed = false;        // the server closed the stream cleanly between messages
  std::string error;          // why it stopped otherwise ("connect: ...", "timed out after ...")
  size_t messages = 0;
  size_t bytes = 0;
};

// Sends `query` to `server` and hands each answer message to `on_message`,
// which returns true when it needs no more (then the connection is closed).
// Exceptions from `on_message` propagate (the socket is closed first).
StreamExchangeResult stream_exchange(const SocketAddress& server, std::span<const uint8_t> query,
                                     const StreamExchangeLimits& limits,
                                     const std::function<bool(std::span<const uint8_t>)>& on_message);

}  // namespace sextant::transports
