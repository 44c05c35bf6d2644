// EDNS Client Subnet (RFC 7871) on the walker's side. A client question may
// carry the client's source prefix (ResolveOptions::client_subnet, /24 or
// /56 of its address, worked out by the front pipeline). It is sent only
// with the client's own question (never with NS address, DS or DNSKEY
// sub-queries), and only to the servers of the zones WalkerOptions::ecs
// lists (and zones below them) or to the servers it lists: RFC 7871 §12
// asks resolvers not to reveal client networks to every server on the way.
// Forward zones' upstreams get it only when listed as servers.
//
// The reply must echo the family, source prefix length and address we sent
// (§7.3, else it is dropped). Its scope says for which clients the answer
// holds: 0 for everyone (cached as usual), otherwise only for that subnet:
// the walker then keeps the reply out of its shared caches (RRsets,
// negative answers, validated data) and reports the scope in the result,
// so the front pipeline stores the answer per subnet
// (cache/scoped_answer_cache.h). A reply without the option means the
// server ignored it: the answer holds for everyone.
//
// A client without a subnet (its address is not to be revealed) asking such
// a zone gets the server's default answer, which must not reach clients
// that have one: that reply is "withheld" too, kept out of the shared
// caches and flagged in the result (the pipeline then does not cache it).
#include <algorithm>

#include "resolver/walk/walker.h"

namespace sextant::resolver {

bool Walker::ecs_applies(const Resolution& r, const SubQuery& q, const ServerAddress& server) const {
  (void)r;
  if (q.kind != QueryKind::client) return false;
  const auto& ecs = options_.ecs;
  if (std::find(ecs.servers.begin(), ecs.servers.end(), server) != ecs.servers.end()) return true;
  // A forwarder is another resolver, not the zone's server: it gets the
  // subnet only when ecs.servers lists it, whatever ecs.zones says.
  if (q.cut.forward) return false;
  return std::any_of(ecs.zones.begin(), ecs.zones.end(),
                     [&](const wire::Name& zone) { return q.cut.zone.is_subdomain_of(zone); });
}

void Walker::add_client_subnet(wire::MessageBuilder& builder, const Resolution& r, Attempt& a) {
  wire::EdnsOption option = wire::encode(*r.options.client_subnet);
  a.ecs_sent = builder.add_edns_option(option) == wire::WireError::ok;
  if (a.ecs_sent) ++stats_.ecs_queries;
}

bool Walker::check_reply_subnet(Attempt& a, const Resolution& r, const wire::Message& msg) {
  a.ecs_scope = 0;
  const wire::EdnsOption* option = msg.edns ? msg.edns->find(wire::EdnsOptionCode::ClientSubnet) : nullptr;
  if (option == nullptr) return true;  // the server ignored it: for everyone
  wire::ClientSubnetOption echoed;
  const wire::ClientSubnetOption& sent = *r.options.client_subnet;
  if (wire::decode_client_subnet(option->data, echoed) != wire::WireError::ok || echoed.family != sent.family ||
      echoed.source_prefix != sent.source_prefix || echoed.address != sent.address)
    return false;
  // A scope longer than what we sent cannot be honoured more finely than
  // the prefix we have (§7.3.1): it holds for that prefix.
  a.ecs_scope = std::min(echoed.scope_prefix, sent.source_prefix);
  if (a.ecs_scope > 0) ++stats_.ecs_scoped_answers;
  return true;
}

}  // namespace sextant::resolver
