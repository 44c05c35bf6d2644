// The HTTP/2 side of DoH (RFC 8484 over RFC 9113) without sockets or TLS:
// an nghttp2 server session that takes the client's plaintext octets in and
// hands the octets to send back to a host. doh_http2.cpp plugs it into a
// StreamConnection; the fuzz target (tests/fuzz/fuzz_doh_http2.cpp) and unit
// tests plug it into memory. Each stream carries one request; what is valid
// and what each error gets are doh_request.h's rules, shared with HTTP/1.1
// and HTTP/3.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "transports/doh_request.h"
#include "transports/transport_metrics.h"

namespace sextant::transports {

// What the session needs from the connection under it.
class DohHttp2Host {
 public:
  virtual ~DohHttp2Host() = default;
  // Sends plaintext to the client; false once the connection is closed.
  virtual bool write(std::span<const uint8_t> data) = 0;
  virtual bool is_open() const = 0;
  virtual void close(bool graceful) = 0;
  // A complete request: progress for the idle timer.
  virtual void touch() = 0;
  virtual TransportCounters& counters() = 0;
  // A valid query for the resolver; its answer comes back through
  // DohHttp2Session::deliver or abandon with `token`, possibly before this
  // returns.
  virtual void dispatch(std::span<const uint8_t> query, std::string_view forwarded_for, uint64_t token) = 0;
};

struct DohHttp2Settings {
  uint32_t max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS, enforced on HEADERS too
  DohEndpoint endpoint;
  std::string alt_svc;  // sent on every answer when not empty
};

class DohHttp2Session {
 public:
  virtual ~DohHttp2Session() = default;
  // Sends the server's SETTINGS.
  virtual void start() = 0;
  // The client's octets (the connection preface first). False: the
  // connection must close (bad preface, framing error, flood budget spent);
  // whatever nghttp2 queued (GOAWAY) was written first.
  virtual bool receive(std::span<const uint8_t> data) = 0;
  // The resolver's answer for `token`, or its refusal to answer. A stream
  // the client reset meanwhile gets nothing: no frame goes to a dead stream.
  virtual void deliver(uint64_t token, std::span<const uint8_t> answer) = 0;
  virtual void abandon(uint64_t token) = 0;
  // Dispatched requests whose stream is still open and unanswered: a reset
  // stream stops counting at once.
  virtual size_t pending() const = 0;
  // Streams open (counted against max_concurrent_streams).
  virtual size_t streams() const = 0;
  // A stream whose request has begun (HEADERS seen) but not ended.
  virtual bool partial_request() const = 0;
  // GOAWAY: no new streams (listener shutdown).
  virtual void drain() = 0;
  // Octets of request bodies held across streams.
  virtual size_t buffered() const = 0;
  // Octets nghttp2 holds in its HPACK tables (the client sizes its own
  // side's, up to our SETTINGS_HEADER_TABLE_SIZE).
  virtual size_t library_buffered() const = 0;
};

std::unique_ptr<DohHttp2Session> make_doh_http2_memory_session(DohHttp2Host& host, DohHttp2Settings settings);

}  // namespace sextant::transports
