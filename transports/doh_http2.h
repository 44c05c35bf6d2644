// DNS over HTTPS on HTTP/2 (RFC 8484 over RFC 9113): an nghttp2 server
// session per connection. Each stream carries one request; the rules of
// what is valid and what each error gets are doh_request.h's, shared with
// HTTP/1.1 and HTTP/3.
#pragma once

#include <memory>

#include "transports/doh_listener.h"
#include "transports/tls_stream.h"

namespace sextant::transports {

std::unique_ptr<StreamApplication> make_doh_http2_session(StreamConnection& connection,
                                                          std::shared_ptr<const DohListenerConfig> config);

}  // namespace sextant::transports
