// The step the HTTP/1.1 and HTTP/2 DoH sessions share once a request is
// valid: hand the DNS query to the worker's handler as transport doh, with
// the client's address (from X-Forwarded-For when the TCP peer is a trusted
// proxy, else the connection's peer, itself from PROXY v2 when trusted) and,
// behind a proxy, the proxy (Request::proxy, proxy_local).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "transports/doh_listener.h"
#include "transports/tls_stream.h"

namespace sextant::transports {

// Counts the query; the handler may answer (connection.deliver(token, ...))
// before this returns.
void dispatch_doh_query(StreamConnection& connection, const DohListenerConfig& config,
                        std::span<const uint8_t> query, std::string_view forwarded_for, uint64_t token);

}  // namespace sextant::transports
