// The HTTP/3 side of one DoH-over-QUIC connection: an nghttp3 server
// session on a QuicConnection. Each request stream carries one DoH request;
// the control and QPACK streams are nghttp3's.
#pragma once

#include <memory>

#include "transports/doh3_listener.h"
#include "transports/quic_connection.h"

namespace sextant::transports {

std::unique_ptr<QuicApplication> make_doh_http3_application(QuicConnection& connection,
                                                            std::shared_ptr<const Doh3ListenerConfig> config);

}  // namespace sextant::transports
