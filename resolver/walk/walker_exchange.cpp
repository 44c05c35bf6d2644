// Sending one upstream query and reading what comes back: building the
// packet (ID, 0x20 case bits, EDNS), the retransmission timer, and the checks
// a reply must pass before it is believed (RFC 5452: source, ID, question,
// 0x20 echo), with the TCP and no-EDNS fallbacks. A reply that passes is
// classified (response_classifier.h) and handed to handle_classified().
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "resolver/walk/walker_internal.h"
#include "wire/message_builder.h"

namespace sextant::resolver {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using wire::EdeCode;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

namespace {

// Names compressed against our question carry its 0x20 pattern in the
// labels they share with it. Give those labels back the case the walker
// (and the client) used, in owners and in single-name rdata alike.
void restore_case(Name& name, const Name& asked) {
  size_t shared = name.common_suffix_labels(asked);
  if (shared == 0) return;
  Name restored;
  if (name.replace_suffix(name.suffix(shared), asked.suffix(shared), restored)) name = restored;
}

void restore_case(RRset& set, const Name& asked) {
  restore_case(set.owner, asked);
  if (set.type != RRType::CNAME && set.type != RRType::DNAME && set.type != RRType::NS &&
      set.type != RRType::PTR) {
    return;
  }
  for (auto& rdata : set.rdatas) {
    auto target = rdata_target_name(rdata);
    if (!target) continue;
    restore_case(*target, asked);
    auto w = target->wire();
    rdata.assign(w.begin(), w.end());
  }
}

void undo_case_randomisation(ClassifiedResponse& c, const Name& asked) {
  for (auto& set : c.chain) restore_case(set, asked);
  for (auto& set : c.answers) restore_case(set, asked);
  for (auto& set : c.glue) restore_case(set, asked);
  if (c.soa) restore_case(c.soa->owner, asked);
  if (c.referral_ns) restore_case(*c.referral_ns, asked);
  restore_case(c.referral_zone, asked);
  restore_case(c.final_name, asked);
}

}  // namespace

// Sending

bool Walker::send_attempt(Resolution& r, SubQuery& q, const ServerAddress& server,
                          UpstreamProtocol protocol, bool edns) {
  const auto now = timers_.now();
  if (r.upstream_queries >= options_.limits.max_upstream_queries) {
    fail_query(r, q, EdeCode::Other,
               fmt::format("upstream query budget ({}) exhausted",
                           options_.limits.max_upstream_queries));
    return false;
  }
  auto remaining = duration_cast<milliseconds>(r.deadline - now);
  if (remaining <= milliseconds{0}) {
    fail_query(r, q, EdeCode::NoReachableAuthority, "resolution deadline reached");
    return false;
  }

  Attempt a;
  a.id = next_attempt_id_++;
  a.server = server;
  a.protocol = protocol;
  a.minimised = q.qmin.minimising();
  a.asked_name = q.qmin.asked_name();
  a.sent_type = a.minimised ? QnameMinimiser::kMinimisedType : q.question.type;
  a.sent_name = a.asked_name;
  if (options_.case_randomisation) a.sent_name.apply_case_bits(random_->next_u64());
  a.message_id = random_->next_u16();
  a.edns = edns;
  a.sent_at = now;

  std::array<uint8_t, 512> buffer;
  wire::MessageBuilder builder(buffer);
  builder.header().id = a.message_id;
  builder.header().set_opcode(wire::Opcode::QUERY);
  if (builder.add_question(a.sent_name, a.sent_type, wire::RRClass::IN) != wire::WireError::ok ||
      (edns && builder.set_edns(wire::EdnsParams{.udp_payload_size = options_.edns_udp_size,
                                                 .dnssec_ok = options_.upstream_dnssec_ok}) !=
                   wire::WireError::ok)) {
    fail_query(r, q, EdeCode::Other, "internal error: cannot build an upstream query");
    return false;
  }
  if (edns && options_.client_cookies) add_client_cookie(builder, a);
  if (ecs_applies(r, q, server)) {
    if (edns && r.options.client_subnet) add_client_subnet(builder, r, a);
    else a.ecs_withheld = true;
  }
  std::span<const uint8_t> packet = builder.finish();

  QueryRef ref{r.id, q.index};
  uint64_t attempt_id = a.id;
  std::weak_ptr<bool> alive = alive_;
  milliseconds hard = std::min(options_.timeouts.exchange_timeout, remaining);
  milliseconds rto = servers_.rto(server);
  // A TCP exchange needs the handshake's round trip on top.
  if (protocol == UpstreamProtocol::tcp) rto *= 2;
  rto = std::min(rto, remaining);

  ++r.upstream_queries;
  ++stats_.upstream_queries;
  ++q.cut.sends;
  bool counted = false;
  for (auto& t : q.cut.tried) {
    if (t.address == server) {
      ++t.tries;
      counted = true;
    }
  }
  if (!counted) q.cut.tried.push_back({server, 1});

  q.attempts.push_back(a);
  // The network may not call back synchronously, but keep the vector
  // entry fully set up before handing out ids, whatever it does.
  q.attempts.back().network_id = network_.send(
      server, protocol, packet, hard, [this, alive, ref, attempt_id](UpstreamReply&& reply) {
        auto token = alive.lock();
        if (token && *token) on_reply(ref, attempt_id, std::move(reply));
      });
  for (auto& pending : q.attempts) {
    if (pending.id != attempt_id) continue;
    pending.rto_timer = timers_.schedule(rto, [this, alive, ref, attempt_id] {
      auto token = alive.lock();
      if (token && *token) on_rto(ref, attempt_id);
    });
  }
  return true;
}

void Walker::cancel_attempt(Attempt& a) {
  if (a.network_id) network_.cancel(a.network_id);
  if (a.rto_timer) timers_.cancel(a.rto_timer);
  a.network_id = 0;
  a.rto_timer = 0;
}

void Walker::cancel_all_attempts(SubQuery& q) {
  for (auto& a : q.attempts) cancel_attempt(a);
  q.attempts.clear();
}

bool Walker::has_live_attempts(const SubQuery& q) const {
  return std::any_of(q.attempts.begin(), q.attempts.end(),
                     [](const Attempt& a) { return !a.overdue; });
}

void Walker::exclude_server(SubQuery& q, const ServerAddress& server) {
  if (std::find(q.cut.excluded.begin(), q.cut.excluded.end(), server) == q.cut.excluded.end()) {
    q.cut.excluded.push_back(server);
  }
}

// ---------------------------------------------------------------------------
// Replies and retransmission timers

void Walker::on_rto(QueryRef ref, uint64_t attempt_id) {
  Resolution* r = find_resolution(ref.resolution);
  if (!r || r->finished) return;
  SubQuery& q = *r->queries[ref.query];
  auto it = std::find_if(q.attempts.begin(), q.attempts.end(),
                         [&](const Attempt& a) { return a.id == attempt_id; });
  if (it == q.attempts.end() || it->overdue) return;
  it->rto_timer = 0;
  it->overdue = true;
  servers_.on_timeout(it->server, timers_.now(), it->sent_at);
  ++stats_.upstream_timeouts;
  ++q.tally.timeouts;
  // Ask the next server now; this packet stays open for a late answer.
  if (q.state == QueryState::wait) {
    q.state = QueryState::send;
    step(*r, q);
  }
}

void Walker::on_reply(QueryRef ref, uint64_t attempt_id, UpstreamReply&& reply) {
  Resolution* r = find_resolution(ref.resolution);
  if (!r || r->finished) return;
  SubQuery& q = *r->queries[ref.query];
  auto it = std::find_if(q.attempts.begin(), q.attempts.end(),
                         [&](const Attempt& a) { return a.id == attempt_id; });
  if (it == q.attempts.end()) return;
  Attempt a = *it;
  q.attempts.erase(it);
  a.network_id = 0;
  if (a.rto_timer) timers_.cancel(a.rto_timer);
  a.rto_timer = 0;
  const auto now = timers_.now();

  auto try_next = [&] {
    if (q.state == QueryState::wait && !has_live_attempts(q)) {
      q.state = QueryState::send;
      step(*r, q);
    }
  };

  switch (reply.status) {
    case UpstreamReply::Status::timeout:
      if (!a.overdue) {
        servers_.on_timeout(a.server, now, a.sent_at);
        ++stats_.upstream_timeouts;
        ++q.tally.timeouts;
      }
      try_next();
      return;
    case UpstreamReply::Status::local_error:
      ++q.tally.local_errors;
      try_next();
      return;
    case UpstreamReply::Status::network_error:
      servers_.on_network_error(a.server, now);
      ++q.tally.network_errors;
      exclude_server(q, a.server);
      try_next();
      return;
    case UpstreamReply::Status::ok:
      break;
  }
  if (!(reply.from == a.server)) {
    // RFC 5452 §9.1: an answer must come from the address asked.
    ++q.tally.spoofed;
    ++stats_.spoofed_dropped;
    try_next();
    return;
  }
  wire::Message msg;
  if (wire::Message::parse(reply.packet, msg) != wire::WireError::ok) {
    wire::Header header;
    if (wire::Header::parse(reply.packet, header) == wire::WireError::ok &&
        header.id == a.message_id && header.tc() && a.protocol == UpstreamProtocol::udp) {
      ++stats_.tcp_fallbacks;  // a truncated packet need not parse
      if (send_attempt(*r, q, a.server, UpstreamProtocol::tcp, a.edns)) return;
      step(*r, q);
      return;
    }
    ++q.tally.malformed;
    exclude_server(q, a.server);
    try_next();
    return;
  }
  handle_message(*r, q, a, msg);
  (void)reply;
}

void Walker::handle_message(Resolution& r, SubQuery& q, Attempt& a, const wire::Message& msg) {
  const auto now = timers_.now();
  const Rcode rcode = msg.rcode();
  auto resend = [&](UpstreamProtocol protocol, bool edns) {
    if (!send_attempt(r, q, a.server, protocol, edns)) step(r, q);
  };
  auto try_next = [&] {
    if (q.state == QueryState::wait && !has_live_attempts(q)) {
      q.state = QueryState::send;
      step(r, q);
    }
  };

  const bool id_ok = msg.header.qr() && msg.header.id == a.message_id;
  // Servers without EDNS may answer FORMERR/NOTIMP without echoing the question.
  const bool edns_refusal = a.edns && (rcode == Rcode::FORMERR || rcode == Rcode::NOTIMP);
  bool question_ok = msg.questions.size() == 1 && msg.questions[0].type == a.sent_type &&
                     msg.questions[0].qclass == wire::RRClass::IN &&
                     msg.questions[0].name == a.sent_name;
  if (!id_ok || (!question_ok && !(edns_refusal && msg.questions.empty()))) {
    ++q.tally.spoofed;
    ++stats_.spoofed_dropped;
    try_next();
    return;
  }
  if (a.cookie_sent) {
    switch (check_reply_cookie(a, msg, now)) {
      case CookieOutcome::ok:
        break;
      case CookieOutcome::spoofed:
        // Not our cookie: a blind spoofer who guessed the ID and port (or
        // a broken server). Over UDP, TCP settles it, as for 0x20.
        ++q.tally.spoofed;
        ++stats_.spoofed_dropped;
        ++stats_.cookie_mismatches;
        if (a.protocol == UpstreamProtocol::udp) {
          ++stats_.tcp_fallbacks;
          resend(UpstreamProtocol::tcp, a.edns);
          return;
        }
        try_next();
        return;
      case CookieOutcome::retry_udp:
        ++stats_.badcookie_retries;
        if (send_attempt(r, q, a.server, UpstreamProtocol::udp, a.edns)) {
          q.attempts.back().cookie_retry = true;
        } else {
          step(r, q);
        }
        return;
      case CookieOutcome::retry_tcp:
        ++stats_.cookie_tcp_fallbacks;
        ++stats_.tcp_fallbacks;
        resend(UpstreamProtocol::tcp, a.edns);
        return;
    }
  }
  if (a.ecs_sent && !check_reply_subnet(a, r, msg)) {
    ++q.tally.spoofed;
    ++stats_.spoofed_dropped;
    ++stats_.ecs_mismatches;
    try_next();
    return;
  }
  if (a.ecs_scope > q.ecs_scope) q.ecs_scope = a.ecs_scope;
  if (a.ecs_withheld) q.ecs_withheld = true;
  if (question_ok && a.protocol == UpstreamProtocol::udp && options_.case_randomisation &&
      !msg.questions[0].name.equals_exact(a.sent_name)) {
    // 0x20 not echoed: either a case-mangling server or a blind spoofer
    // that guessed the ID. TCP settles it (and is what we use from now on).
    ++stats_.case_mismatches;
    ++stats_.tcp_fallbacks;
    servers_.set_mangles_case(a.server, now);
    resend(UpstreamProtocol::tcp, a.edns);
    return;
  }
  servers_.on_reply(a.server, duration_cast<microseconds>(now - a.sent_at), now);
  if (msg.header.tc() && a.protocol == UpstreamProtocol::udp) {
    ++stats_.tcp_fallbacks;
    resend(UpstreamProtocol::tcp, a.edns);
    return;
  }
  if (edns_refusal) {
    ++stats_.edns_fallbacks;
    servers_.set_no_edns(a.server, now);
    resend(a.protocol, false);
    return;
  }

  ClassifyRequest request;
  request.response = &msg;
  request.zone = q.cut.zone;
  request.asked_name = a.asked_name;
  request.asked_type = a.sent_type;
  request.max_chain_links = options_.limits.max_cname_hops;
  ClassifiedResponse classified = classify_response(request);
  undo_case_randomisation(classified, a.asked_name);
  handle_classified(r, q, a, msg, std::move(classified));
  (void)try_next;
}

}  // namespace sextant::resolver
