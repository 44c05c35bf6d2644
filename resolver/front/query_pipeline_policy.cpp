// The pipeline's policy hooks (resolver/policy/): the query stage before the
// answer cache, the answer stage when a resolution ends, CNAME chases of
// policy answers, and DNS64 synthesis.
#include <algorithm>

#include "resolver/front/query_pipeline.h"
#include "wire/message_builder.h"

namespace sextant::resolver {

using transports::Responder;
using wire::Rcode;

namespace {

// A policy answer as a resolution result (the walker's shape), with the
// question name as owner where the policy says so.
ResolutionResult result_from(const wire::Name& qname, const policy::PolicyAnswer& a) {
  ResolutionResult r;
  r.rcode = a.rcode;
  for (size_t i = 0; i < a.answer_count; ++i) {
    r.answer.push_back(*a.answer[i]);
    if (a.owner_is_qname) r.answer.back().owner = qname;
  }
  if (a.synthesised_cname && a.chase) {
    wire::RRset cname;
    cname.owner = qname;
    cname.type = wire::RRType::CNAME;
    cname.ttl = a.cname_ttl;
    auto w = a.chase->wire();
    cname.rdatas.emplace_back(w.begin(), w.end());
    r.answer.push_back(std::move(cname));
  }
  if (a.soa) r.authority.push_back(*a.soa);
  if (a.ede) r.ede = wire::ExtendedErrorOption{static_cast<uint16_t>(*a.ede), ""};
  r.validation = ValidationState::unchecked;  // a policy answer is never secure
  return r;
}

std::optional<wire::ExtendedErrorOption> ede_of(const policy::PolicyAnswer& a) {
  if (!a.ede) return std::nullopt;
  return wire::ExtendedErrorOption{static_cast<uint16_t>(*a.ede), ""};
}

}  // namespace

void QueryPipeline::count_policy(const Client& c, const policy::PolicyMatch& match) noexcept {
  if (settings_.policy_counters && match.counter_slot != policy::PolicyMatch::kNoSlot)
    settings_.policy_counters->add(c.worker, match.counter_slot, match.action);
}

bool QueryPipeline::apply_query_policy(Client& c, const ClientAddress* address, Responder& responder) {
  const policy::View& view = policy_->select(c.client_address, c.local_address);
  c.view_tag = view.cache_tag_for(c.client_address, c.dnssec_ok, c.query_header.cd());
  if (!view.active()) return false;
  c.policy_note.set_view(view.name);
  policy::LookupName qname(c.qname);
  view.prefetch(qname);

  // RFC 6147 §5.3.1: a PTR under the DNS64 prefix is a CNAME to the IPv4
  // address's in-addr.arpa name.
  if (view.dns64 && c.qtype == wire::RRType::PTR &&
      view.dns64->applies_to(c.client_address, c.dnssec_ok, c.query_header.cd())) {
    if (auto target = view.dns64->reverse_target(c.qname)) {
      policy::PolicyAnswer a;
      a.disposition = policy::Disposition::answer;
      a.chase = *target;
      a.synthesised_cname = true;
      a.cname_ttl = 600;
      a.match.kind = policy::PolicyKind::dns64;
      c.policy_note.set(a.match);
      decide_subnet(c, address);  // the chase is a miss: it goes with the client's subnet
      answer_from_policy(c, a, responder);
      return true;
    }
  }

  policy::QueryDecision d;
  view.check_query(qname, c.qtype, c.client_address, d);
  if (d.answer.match.kind != policy::PolicyKind::none) {
    c.policy_note.set(d.answer.match);
    count_policy(c, d.answer.match);
  }
  c.rpz_decided = d.rpz_decided;
  if (d.answer.disposition == policy::Disposition::pass) return false;
  // TCP-only: a stream client has done what was asked.
  if (d.answer.disposition == policy::Disposition::tcp_only && c.transport != transports::Transport::udp) return false;
  if (d.answer.chase) decide_subnet(c, address);  // the chase is a miss: it goes with the client's subnet
  answer_from_policy(c, d.answer, responder);
  return true;
}

void QueryPipeline::answer_from_policy(const Client& c, const policy::PolicyAnswer& a, Responder& responder) {
  stats_.policy_answers.fetch_add(1, std::memory_order_relaxed);
  std::optional<wire::ExtendedErrorOption> ede = ede_of(a);
  switch (a.disposition) {
    case policy::Disposition::pass: return;
    case policy::Disposition::drop:
      stats_.policy_dropped.fetch_add(1, std::memory_order_relaxed);
      if (c.log_event) log_event(c, {}, eventlog::EventReason::dropped_by_policy);
      responder.drop();
      return;
    case policy::Disposition::refuse:
      stats_.refused.fetch_add(1, std::memory_order_relaxed);
      respond_error(c, Rcode::REFUSED, responder, ede ? &*ede : nullptr);
      return;
    case policy::Disposition::tcp_only: {
      // An empty answer with TC=1 sends the client to TCP.
      stats_.truncated.fetch_add(1, std::memory_order_relaxed);
      wire::MessageBuilder b(buffer_, c.limit);
      b.header() = wire::response_header_for(c.query_header);
      b.header().set_ra(true);
      b.header().set_tc(true);
      b.add_question(c.qname, c.qtype, c.qclass);
      if (c.has_edns)
        b.set_edns(wire::EdnsParams{.udp_payload_size = settings_.edns_buffer_size, .dnssec_ok = c.dnssec_ok});
      send(c, responder, b.finish());
      return;
    }
    case policy::Disposition::answer: break;
  }
  if (a.chase) {
    chase(c, a, std::move(responder));
    return;
  }
  // Rendered straight from the policy's records: no copy, no allocation.
  wire::MessageBuilder b(buffer_, wire::MessageBuilder::kMaxMessageSize);
  b.header() = wire::response_header_for(c.query_header);
  b.header().set_ra(true);
  b.header().set_aa(a.authoritative);
  b.add_question(c.qname, c.qtype, c.qclass);
  b.set_rcode(a.rcode);
  for (size_t i = 0; i < a.answer_count; ++i) {
    const wire::RRset& set = *a.answer[i];
    b.add_rrset(wire::Section::answer, a.owner_is_qname ? c.qname : set.owner, set.type, set.rclass, set.ttl,
                set.rdatas);
  }
  if (a.soa) b.add_rrset(wire::Section::authority, *a.soa, false);
  std::span<const uint8_t> packet = b.finish();
  deliver(c, packet.size(), responder, false, ede ? &*ede : nullptr);
}

void QueryPipeline::chase(const Client& c, const policy::PolicyAnswer& a, Responder responder) {
  auto head = std::make_shared<ResolutionResult>(result_from(c.qname, a));
  const bool authoritative = a.authoritative;
  wire::Name target = *a.chase;
  // Local data of the client's view first: a local CNAME to a local name
  // is answered whole (at most 8 links).
  const policy::View& view = policy_->select(c.client_address, c.local_address);
  for (int hop = 0; hop < 8 && view.local_data; ++hop) {
    policy::PolicyAnswer next = view.local_data->lookup(policy::LookupName(target), c.qtype);
    if (next.disposition != policy::Disposition::answer) break;
    ResolutionResult part = result_from(target, next);
    head->answer.insert(head->answer.end(), part.answer.begin(), part.answer.end());
    if (!next.chase) {
      head->rcode = next.rcode;
      head->authority = part.authority;
      size_t length = render(c, *head, authoritative);
      deliver(c, length, responder, false, head->ede ? &*head->ede : nullptr);
      return;
    }
    target = *next.chase;
  }
  // Then the walker, for the target and the client's type.
  auto pending = std::make_shared<Pending>();
  pending->client = c;
  pending->responder = std::move(responder);
  pending->started = timers_.now();
  wire::Question question{target.lowercased(), c.qtype, c.qclass};
  // With the client's subnet (decided at the query stage, or on the miss
  // of a response-stage chase), like a plain miss. The combined answer is
  // not cached (the query stage answers it again), so a scoped result
  // needs only its scope echoed.
  walker_.resolve(question,
                  {.dnssec_ok = c.dnssec_ok, .checking_disabled = c.query_header.cd(), .client_subnet = c.subnet},
                  [this, pending, head, alive = alive_](const ResolutionResult& result) {
                    if (!*alive || !pending->responder) return;
                    ResolutionResult combined = *head;
                    combined.answer.insert(combined.answer.end(), result.answer.begin(), result.answer.end());
                    combined.rcode = result.rcode;
                    combined.authority = result.authority;
                    if (!combined.ede) combined.ede = result.ede;
                    const Client& client = pending->client;
                    client.cache_status = eventlog::CacheStatus::miss;
                    client.ecs_answer_scope = answer_scope(client, result);
                    size_t length = render(client, combined);
                    if (length == 0) {
                      respond_error(client, Rcode::SERVFAIL, pending->responder, nullptr);
                      return;
                    }
                    deliver(client, length, pending->responder, false, combined.ede ? &*combined.ede : nullptr);
                  });
}

bool QueryPipeline::apply_response_policy(const std::shared_ptr<Pending>& pending, const ResolutionResult& result) {
  Client& c = pending->client;
  // The policy current now: a reload may have replaced the one the query met.
  const policy::View& view = policy_->select(c.client_address, c.local_address);
  c.view_tag = view.cache_tag_for(c.client_address, c.dnssec_ok, c.query_header.cd());
  if (!view.has_response_stage()) return false;
  if ((result.rcode == Rcode::NOERROR || result.rcode == Rcode::NXDOMAIN) && !result.answer.empty()) {
    policy::LookupName qname(c.qname);
    policy::PolicyAnswer a = view.check_response(qname, c.qtype, result.answer, c.rpz_decided);
    if (a.match.kind != policy::PolicyKind::none) {
      c.policy_note.set(a.match);
      count_policy(c, a.match);
    }
    if (a.disposition != policy::Disposition::pass &&
        !(a.disposition == policy::Disposition::tcp_only && c.transport != transports::Transport::udp)) {
      stats_.policy_rewrites.fetch_add(1, std::memory_order_relaxed);
      if (a.disposition == policy::Disposition::answer && !a.chase) {
        // Stored under the view's tag and, when the rewritten answer held
        // for some clients only (ECS), by its scope: the rewrite was decided
        // by that answer.
        ResolutionResult rewritten = result_from(c.qname, a);
        rewritten.ecs_scope = result.ecs_scope;
        rewritten.ecs_withheld = result.ecs_withheld;
        finish_resolution(pending, rewritten, a.negative_ttl);
        return true;
      }
      // Dropped, refused, TC or chased: nothing to store.
      if (pending->stale_available || pending->refresh) release_refresh(c);
      if (pending->responder) answer_from_policy(c, a, pending->responder);
      return true;
    }
  }
  if (view.dns64 && c.qtype == wire::RRType::AAAA &&
      view.dns64->applies_to(c.client_address, c.dnssec_ok, c.query_header.cd())) {
    // RFC 6147 §5.1: NXDOMAIN stands; an empty answer (or AAAA only in
    // excluded prefixes) and any other error lead to the A query.
    bool due = result.rcode == Rcode::NOERROR ? view.dns64->lacks_usable_aaaa(result.answer)
                                              : result.rcode != Rcode::NXDOMAIN;
    if (due) {
      synthesise_dns64(pending, result, view);
      return true;
    }
  }
  return false;
}

void QueryPipeline::synthesise_dns64(const std::shared_ptr<Pending>& pending, const ResolutionResult& aaaa,
                                     const policy::View& view) {
  const Client& c = pending->client;
  // The A question is asked for the name at the end of the CNAME chain.
  wire::Name target = c.qname.lowercased();
  for (const auto& set : aaaa.answer) {
    if (set.type != wire::RRType::CNAME || !(set.owner == target) || set.rdatas.empty()) continue;
    size_t pos = 0;
    wire::Name next;
    if (wire::Name::parse_uncompressed(set.rdatas.front(), pos, next) == wire::WireError::ok) target = next.lowercased();
  }
  // RFC 6147 §5.1.7: the TTL is at most the AAAA denial's SOA TTL.
  uint32_t cap = 600;
  for (const auto& set : aaaa.authority)
    if (set.type == wire::RRType::SOA) cap = set.ttl;
  auto base = std::make_shared<ResolutionResult>(aaaa);
  base->answer = view.dns64->without_excluded(aaaa.answer);
  wire::Question question{target, wire::RRType::A, c.qclass};
  // The A question is part of the client's miss: it goes with the client's
  // subnet, and the synthesis holds for the clients both answers hold for
  // (the longer scope), stored by scope like a plain miss.
  walker_.resolve(question,
                  {.dnssec_ok = c.dnssec_ok, .checking_disabled = c.query_header.cd(), .client_subnet = c.subnet},
                  [this, pending, base, cap, alive = alive_](const ResolutionResult& a) {
                    if (!*alive) return;
                    Client& client = pending->client;
                    const policy::View& now = policy_->select(client.client_address, client.local_address);
                    ResolutionResult out = *base;
                    out.ecs_scope = std::max(out.ecs_scope, a.ecs_scope);
                    out.ecs_withheld = out.ecs_withheld || a.ecs_withheld;
                    if (a.rcode == Rcode::NOERROR && now.dns64) {
                      // The A answer meets the view's answer policy first.
                      policy::LookupName qname(client.qname);
                      policy::PolicyAnswer r = now.check_response(qname, wire::RRType::AAAA, a.answer, client.rpz_decided);
                      if (r.disposition != policy::Disposition::pass) {
                        client.policy_note.set(r.match);
                        count_policy(client, r.match);
                        if (r.disposition == policy::Disposition::answer && !r.chase) {
                          ResolutionResult rewritten = result_from(client.qname, r);
                          rewritten.ecs_scope = std::max(base->ecs_scope, a.ecs_scope);
                          rewritten.ecs_withheld = base->ecs_withheld || a.ecs_withheld;
                          finish_resolution(pending, rewritten, r.negative_ttl);
                        } else if (pending->responder) {
                          answer_from_policy(client, r, pending->responder);
                        }
                        return;
                      }
                      size_t synthesised = 0;
                      for (const auto& set : a.answer) {
                        if (set.type != wire::RRType::A) continue;
                        out.answer.push_back(now.dns64->synthesise(set, cap));
                        ++synthesised;
                      }
                      if (synthesised > 0) {
                        out.rcode = Rcode::NOERROR;
                        out.authority.clear();
                        out.ede.reset();
                        out.validation = ValidationState::unchecked;  // never AD (RFC 6147 §5.5)
                        stats_.dns64_synthesised.fetch_add(1, std::memory_order_relaxed);
                        if (client.policy_note.kind == policy::PolicyKind::none) {
                          policy::PolicyMatch m;
                          m.kind = policy::PolicyKind::dns64;
                          client.policy_note.set(m);
                        }
                      }
                    }
                    finish_resolution(pending, out);
                  });
}

}  // namespace sextant::resolver
