// EDNS Client Subnet in the pipeline (client_subnet.h): the client's own
// option, the subnet sent for it, the ECS-scoped cache and the scope its
// answer echoes.
//
// The shared cache holds only answers that are the same for everyone
// (scope 0, or zones that get no subnet), so it is asked first, exactly as
// with ECS off: hits pay nothing for ECS. On a miss the client's subnet is
// worked out and the scoped cache probed (cache/scoped_answer_cache.h).
#include <algorithm>

#include "resolver/front/query_pipeline.h"

namespace sextant::resolver {

using transports::Responder;

bool QueryPipeline::take_client_subnet(Client& c, const wire::ParsedQuery& q, const ClientAddress* address,
                                       Responder& responder) {
  wire::ClientSubnetOption sent;
  if (!ClientSubnetPolicy::valid_query_option(q.client_subnet, sent) || q.client_subnet.size() > c.ecs_echo.size()) {
    // RFC 7871 §7.1.1: a malformed option (or a scope set in a query).
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    defences_.count(&DefenceStats::ecs_formerr);
    respond_error(c, wire::Rcode::FORMERR, responder, nullptr);
    return false;
  }
  std::copy(q.client_subnet.begin(), q.client_subnet.end(), c.ecs_echo.begin());
  c.ecs_echo_size = static_cast<uint8_t>(q.client_subnet.size());
  if (sent.source_prefix == 0) {
    // §7.1.2: "do not reveal me"; it withholds, so anyone may ask it.
    c.ecs_decided = true;
    c.ecs_honoured = true;
    defences_.count(&DefenceStats::ecs_client_honoured);
  } else if (address != nullptr && ecs_.trusts(*address)) {
    c.subnet = ecs_.from_trusted(sent);
    c.ecs_decided = true;
    c.ecs_honoured = true;
    defences_.count(&DefenceStats::ecs_client_honoured);
  } else {
    defences_.count(&DefenceStats::ecs_client_ignored);
  }
  return true;
}

bool QueryPipeline::answer_for_subnet(Client& c, const ClientAddress* address, Responder& responder) {
  if (!c.ecs_decided && address != nullptr) c.subnet = ecs_.for_address(*address);
  cache::AnswerKey key{c.qname, c.qtype, c.qclass, c.dnssec_ok, c.query_header.cd(), c.view_tag};
  size_t length = 0;
  cache::AnswerHit hit;
  uint8_t scope = 0;
  if (!cache_.scoped_answers().lookup(key, subnet_key(c.subnet), c.query_header.id, c.qname,
                                      timers_.wall_seconds(), buffer_, length, hit, scope))
    return false;
  if (needs_rescreening(c, length)) return false;
  stats_.cache_hits.fetch_add(1, std::memory_order_relaxed);
  defences_.count(&DefenceStats::ecs_scoped_hits);
  c.cache_status = eventlog::CacheStatus::hit;
  c.ecs_answer_scope = scope;
  wire::ExtendedErrorOption hit_ede;
  const wire::ExtendedErrorOption* ede = nullptr;
  if (hit.info_ede) {
    hit_ede.info_code = static_cast<uint16_t>(*hit.info_ede);
    ede = &hit_ede;
  }
  deliver(c, length, responder, hit.status == cache::DnssecStatus::secure, ede);
  return true;
}

bool QueryPipeline::store_scoped(const Client& c, const ResolutionResult& result, std::span<const uint8_t> packet,
                                 uint32_t ttl) {
  // The walker dedups by subnet, so the result's scope is for c.subnet.
  const bool for_subnet = result.ecs_scope > 0 && c.subnet;
  const bool for_subnetless = result.ecs_withheld && !c.subnet;
  c.ecs_answer_scope = for_subnet ? std::min(result.ecs_scope, c.subnet->source_prefix) : uint8_t{0};
  if (!for_subnet && !for_subnetless) return false;
  if (ttl > 0) {
    cache::AnswerKey key{c.qname, c.qtype, c.qclass, c.dnssec_ok, c.query_header.cd(), c.view_tag};
    const cache::DnssecStatus status = result.validation == ValidationState::secure     ? cache::DnssecStatus::secure
                                       : result.validation == ValidationState::insecure ? cache::DnssecStatus::insecure
                                       : result.validation == ValidationState::bogus    ? cache::DnssecStatus::bogus
                                                                                        : cache::DnssecStatus::indeterminate;
    cache_.scoped_answers().insert(key, subnet_key(c.subnet), c.ecs_answer_scope, packet, ttl, status,
                                   timers_.wall_seconds());
  }
  return true;
}

}  // namespace sextant::resolver
