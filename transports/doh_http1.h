// DNS over HTTPS on HTTP/1.1 (RFC 8484 over RFC 9112), beside HTTP/2 on the
// same listener: GET and POST, keep-alive (a bounded number of requests
// per connection) and pipelining (requests of one connection go to the
// resolver together, up to a bound; answers leave in request order, as
// HTTP/1.1 requires). Requests are read by Http1RequestReader
// (http1_request_reader.h); this file is the connection's state: the queue
// of exchanges in request order, the limits, and writing the answers.
//
// A malformed request head or body framing gets its status (400, 413, 414,
// 431, 501, 505) with "Connection: close" and the connection ends; a
// well-framed request that DoH rejects (404, 405, 415, 400 for a bad dns=)
// keeps the connection. A POST body over 65535 octets announced by
// Content-Length gets 413 and is read and discarded, so the connection
// stays usable and the client is not reset mid-send.
#pragma once

#include <memory>

#include "transports/doh_listener.h"
#include "transports/tls_stream.h"

namespace sextant::transports {

std::unique_ptr<StreamApplication> make_doh_http1_session(StreamConnection& connection,
                                                          std::shared_ptr<const DohListenerConfig> config);

}  // namespace sextant::transports
