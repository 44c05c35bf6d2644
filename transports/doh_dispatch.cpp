#include "transports/doh_dispatch.h"

#include "transports/proxy_protocol.h"

namespace sextant::transports {

void dispatch_doh_query(StreamConnection& connection, const DohListenerConfig& config,
                        std::span<const uint8_t> query, std::string_view forwarded_for, uint64_t token) {
  auto& counters = connection.counters();
  counters.add(counters.queries);
  Request request;
  request.query = query;
  request.peer = connection.peer();
  if (connection.proxied()) {
    request.proxy = connection.tcp_peer();
    request.proxy_local = connection.proxy_local();
  }
  sockaddr_storage client{};
  if (config.trust_forwarded_for && !forwarded_for.empty() && config.stream.trusted_proxies &&
      config.stream.trusted_proxies->contains(connection.tcp_peer()) &&
      client_from_forwarded_for(forwarded_for, *config.stream.trusted_proxies, client)) {
    request.peer = reinterpret_cast<const sockaddr*>(&client);
    request.proxy = connection.tcp_peer();
  }
  request.local = connection.local();
  request.transport = Transport::doh;
  request.max_response_size = kMaxDnsMessageSize;
  request.worker = connection.worker().index;
  if (connection.worker().handler) {
    connection.worker().handler->handle(request, Responder(&connection, token));
  } else {
    Responder(&connection, token).drop();
  }
}

}  // namespace sextant::transports
