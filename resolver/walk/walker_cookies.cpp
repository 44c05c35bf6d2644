// DNS cookies toward authoritative servers (RFC 7873 §5.1 and §5.3): an
// off-path spoofing defence on top of the random ID, 0x20 and the random
// source port. Each query over EDNS carries a client cookie, a function of
// a per-process secret and the server's address and port (RFC 9018 §3,
// wire/dns_cookie.h), followed by the server cookie that server last gave
// (remembered in the server state table, so every worker sends it).
//
// A reply whose client cookie is not ours is a forgery (or garbage): it is
// dropped, and the query asked again over TCP, where an off-path spoofer
// cannot answer (as for a 0x20 mismatch). A server that has sent cookies and now
// answers over UDP without one may be a spoofer's packet: the query is
// asked again over TCP (as BIND does), where a spoofer cannot answer, and a
// server that really stopped sending cookies still gets its answers
// through. BADCOOKIE means the server wants its fresh cookie back: the query
// is sent once more over UDP with it, then over TCP.
#include "resolver/walk/walker.h"
#include "wire/dns_cookie.h"

namespace sextant::resolver {

void Walker::add_client_cookie(wire::MessageBuilder& builder, Attempt& a) {
  a.client_cookie = wire::make_client_cookie(options_.cookie_secret, a.server.address_bytes(), a.server.port);
  std::array<uint8_t, wire::kClientCookieSize + 32> option{};
  std::copy(a.client_cookie.begin(), a.client_cookie.end(), option.begin());
  size_t size = wire::kClientCookieSize;
  if (auto state = servers_.find(a.server); state && state->server_cookie_size >= 8) {
    std::copy_n(state->server_cookie.begin(), state->server_cookie_size, option.begin() + size);
    size += state->server_cookie_size;
  }
  a.cookie_sent = builder.add_edns_option(static_cast<uint16_t>(wire::EdnsOptionCode::Cookie),
                                          std::span<const uint8_t>(option.data(), size)) == wire::WireError::ok;
}

Walker::CookieOutcome Walker::check_reply_cookie(const Attempt& a, const wire::Message& msg,
                                                 TimerService::TimePoint now) {
  const wire::EdnsOption* option = msg.edns ? msg.edns->find(wire::EdnsOptionCode::Cookie) : nullptr;
  const bool udp = a.protocol == UpstreamProtocol::udp;
  if (option == nullptr) {
    if (!udp) return CookieOutcome::ok;
    auto state = servers_.find(a.server);
    return state && state->sends_cookies ? CookieOutcome::retry_tcp : CookieOutcome::ok;
  }
  wire::CookieOption cookie;
  if (wire::decode_cookie(option->data, cookie) != wire::WireError::ok || cookie.client != a.client_cookie)
    return CookieOutcome::spoofed;
  if (cookie.server_size > 0) servers_.set_server_cookie(a.server, cookie.server_cookie(), now);
  if (msg.rcode() == wire::Rcode::BADCOOKIE) {
    if (udp && !a.cookie_retry && cookie.server_size > 0) return CookieOutcome::retry_udp;
    if (udp) return CookieOutcome::retry_tcp;
  }
  return CookieOutcome::ok;
}

}  // namespace sextant::resolver
