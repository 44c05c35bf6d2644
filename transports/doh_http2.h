// DNS over HTTPS on HTTP/2 (RFC 8484 over RFC 9113) on a StreamConnection:
// the nghttp2 session of doh_http2_session.h, with the connection's octets
// and the worker's query handler.
#pragma once

#include <memory>

#include "transports/doh_listener.h"
#include "transports/tls_stream.h"

namespace sextant::transports {

std::unique_ptr<StreamApplication> make_doh_http2_session(StreamConnection& connection,
                                                          std::shared_ptr<const DohListenerConfig> config);

}  // namespace sextant::transports
