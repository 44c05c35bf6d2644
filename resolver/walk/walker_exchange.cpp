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
#include "wire/question_case.h"

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

// Owner names a server wrote out in full with our question's 0x20 pattern
// (rather than as a pointer to the question, which the packet-level
// restore in on_reply() already covered): give the labels they share with
// the question back the case the walker meant.
void restore_case(Name& name, const Name& asked) {
  size_t shared = name.common_suffix_labels(asked);
  if (shared == 0) return;
  Name restored;
  if (name.replace_suffix(name.suffix(shared), asked.suffix(shared), restored)) name = restored;
}

void restore_owner_case(ClassifiedResponse& c, const Name& asked) {
  for (auto* sets : {&c.chain, &c.answers, &c.glue}) {
    for (auto& set : *sets) restore_case(set.owner, asked);
  }
  if (c.soa) restore_case(c.soa->owner, asked);
  if (c.referral_ns) restore_case(c.referral_ns->owner, asked);
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
  // The case the walker means is lower case: names the server compresses
  // against the question come back in it (on_reply), so the cache and
  // every client see one spelling, whatever the first client typed.
  a.asked_name = q.qmin.asked_name().lowercased();
  a.sent_type = a.minimised ? QnameMinimiser::kMinimisedType : q.question.type;
  a.sent_name = a.asked_name;
  // 0x20 guards plain UDP/TCP against off-path forgery; encryption does that better.
  if (options_.case_randomisation && !is_encrypted(protocol)) a.sent_name.apply_case_bits(random_->next_u64());
  a.message_id = random_->next_u16();
  a.edns = edns;
  a.sent_at = now;

  std::array<uint8_t, 512> buffer;
  wire::MessageBuilder builder(buffer);
  builder.header().id = a.message_id;
  builder.header().set_opcode(wire::Opcode::QUERY);
  if (q.cut.forward) {
    // A recursive upstream resolves it. We validate (or the client does,
    // CD=1), so it must hand over data even when its own validation fails;
    // its AD bit means nothing here. Only with validation off everywhere is
    // the upstream left to validate.
    builder.header().set_rd(true);
    builder.header().set_cd(validating(r) || r.options.checking_disabled);
    ++stats_.forwarded_queries;
  }
  if (builder.add_question(a.sent_name, a.sent_type, wire::RRClass::IN) != wire::WireError::ok ||
      (edns && builder.set_edns(wire::EdnsParams{.udp_payload_size = options_.edns_udp_size,
                                                 .dnssec_ok = options_.upstream_dnssec_ok}) !=
                   wire::WireError::ok) ||
      // RFC 8467: queries on encrypted transports padded to 128-octet blocks.
      (edns && is_encrypted(protocol) && builder.set_padding_block(128) != wire::WireError::ok)) {
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
  // A stream needs the handshake's round trip on top (a reused connection
  // soon lowers the smoothed RTT this starts from).
  if (is_stream(protocol)) rto *= 2;
  rto = std::min(rto, remaining);

  ++r.upstream_queries;
  ++stats_.upstream_queries;
  ++stats_.upstream_by_reason[static_cast<size_t>(upstream_reason(q, a))];
  ++q.cut.sends;
  if (r.trace) {
    trace_line(r, &q, fmt::format("sent {} {} to {} over {}{}{}, ID {}, 0x20 {} (query {} of {})",
                                  a.asked_name.to_text(), wire::to_string(a.sent_type),
                                  server.to_string(), to_string(protocol), edns ? "" : ", without EDNS",
                                  a.minimised ? ", minimised (RFC 9156)" : "", a.message_id,
                                  a.sent_name.to_text(), r.upstream_queries,
                                  options_.limits.max_upstream_queries));
  }
  bool counted = false;
  for (auto& t : q.cut.tried) {
    if (t.address == server) {
      ++t.tries;
      counted = true;
    }
  }
  if (!counted) q.cut.tried.push_back({server, 1});

  a.zone = q.cut.zone;
  a.rto_due = now + duration_cast<TimerService::Clock::duration>(rto);
  a.counted = a.zone_counted = true;
  outstanding_.add_server(a.server);
  outstanding_.add_zone(a.zone);
  lead_inflight(r, q, a);  // other requests may wait for this packet's reply
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
  release_attempt(a);
  if (a.leads_exchange) {
    a.leads_exchange = false;
    EndedExchange ended{*this, a, inflight_.end(a.id), std::nullopt};  // they ask themselves
  }
}

void Walker::release_attempt(Attempt& a) {
  if (a.zone_counted) outstanding_.remove_zone(a.zone);
  if (a.counted) outstanding_.remove_server(a.server);
  a.counted = a.zone_counted = false;
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
  note_zone_outcome(it->zone, ZoneOutcomes::Outcome::failed);
  // Still listening (and holding its socket), but no longer one of the
  // zone's queries in flight (outstanding_queries.h).
  if (it->zone_counted) {
    it->zone_counted = false;
    outstanding_.remove_zone(it->zone);
  }
  if (it->leads_exchange) {
    // Requests waiting for this packet ask for themselves, as this one does
    // (and still take its late reply).
    if (auto waiters = inflight_.overdue(it->id); !waiters.empty()) {
      restart_waiters(*it, std::move(waiters), it->server);
    }
  }
  if (q.cut.forward && is_stream(it->protocol)) {
    it->timeout_deferred = true;  // a queue behind other queries is no dead upstream
  } else {
    servers_.on_timeout(it->server, timers_.now(), it->sent_at);
  }
  ++stats_.upstream_timeouts;
  ++q.tally.timeouts;
  if (r->trace) {
    trace_line(*r, &q, fmt::format("no reply from {} within its retransmission timeout: asking "
                                   "another server, this query stays open for a late answer",
                                   it->server.to_string()));
  }
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
  release_attempt(a);
  a.network_id = 0;
  if (a.rto_timer) timers_.cancel(a.rto_timer);
  a.rto_timer = 0;
  const auto now = timers_.now();
  // Requests waiting for this packet: handed the reply if it passes the
  // checks below (handle_message), else they ask for themselves.
  EndedExchange shared{*this, a, {}, std::nullopt};
  if (a.leads_exchange) shared.waiters = inflight_.end(a.id);
  a.leads_exchange = false;
  if (reply.status == UpstreamReply::Status::timeout) shared.failed_server = a.server;

  auto try_next = [&] {
    if (q.state == QueryState::wait && !has_live_attempts(q)) {
      q.state = QueryState::send;
      step(*r, q);
    }
  };

  if (r->trace && reply.status != UpstreamReply::Status::ok) {
    const char* what = reply.status == UpstreamReply::Status::timeout ? "timed out"
                       : reply.status == UpstreamReply::Status::network_error
                           ? "failed (network error: the address is not asked again for this question)"
                           : "could not be sent (local error)";
    trace_line(*r, &q, fmt::format("the query to {} {}", a.server.to_string(), what));
  }
  switch (reply.status) {
    case UpstreamReply::Status::timeout:
      if (!a.overdue) {
        note_zone_outcome(a.zone, ZoneOutcomes::Outcome::failed);
        servers_.on_timeout(a.server, now, a.sent_at);
        ++stats_.upstream_timeouts;
        ++q.tally.timeouts;
      } else if (a.timeout_deferred) {
        servers_.on_timeout(a.server, now, a.sent_at);
      }
      try_next();
      return;
    case UpstreamReply::Status::local_error:
      ++q.tally.local_errors;
      try_next();
      return;
    case UpstreamReply::Status::network_error:
      if (!a.overdue) note_zone_outcome(a.zone, ZoneOutcomes::Outcome::failed);
      servers_.on_network_error(a.server, now);
      ++q.tally.network_errors;
      exclude_server(q, a.server);
      try_next();
      return;
    case UpstreamReply::Status::auth_failure:
      // Held down like an unreachable server; never asked in plaintext instead.
      servers_.on_network_error(a.server, now);
      ++q.tally.auth_failures;
      q.tally.auth_detail = reply.detail.empty() ? "authentication failed" : reply.detail;
      exclude_server(q, a.server);
      try_next();
      return;
    case UpstreamReply::Status::ok:
      break;
  }
  if (!(reply.from == a.server)) {
    // RFC 5452 §9.1: an answer must come from the address asked.
    if (r->trace) {
      trace_line(*r, &q, fmt::format("dropped a reply from {} to a query sent to {}",
                                     reply.from.to_string(), a.server.to_string()));
    }
    ++q.tally.spoofed;
    ++stats_.spoofed_dropped;
    try_next();
    return;
  }
  // 0x20: note whether the question's case came back exactly, then read
  // the reply as if it had been sent unrandomised (wire/question_case.h).
  const wire::QuestionCase question_case =
      wire::restore_question_case(reply.packet, a.sent_name, a.asked_name);
  wire::Message msg;
  if (const wire::WireError parsed = wire::Message::parse(reply.packet, msg);
      parsed != wire::WireError::ok) {
    if (r->trace) {
      trace_line(*r, &q, fmt::format("unreadable reply from {}: {}", a.server.to_string(),
                                     wire::to_string(parsed)));
    }
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
  handle_message(*r, q, a, msg, question_case.echoed_exactly, &shared);
}

void Walker::handle_message(Resolution& r, SubQuery& q, Attempt& a, const wire::Message& msg,
                            bool case_echoed, EndedExchange* shared) {
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

  // A reply is one to our query only with QR set, our ID and our opcode
  // (RFC 5452 §9.1; another opcode is as foreign as another ID).
  const bool id_ok = msg.header.qr() && msg.header.id == a.message_id &&
                     msg.header.opcode() == wire::Opcode::QUERY;
  // Servers without EDNS may answer FORMERR/NOTIMP without echoing the question.
  const bool edns_refusal = a.edns && (rcode == Rcode::FORMERR || rcode == Rcode::NOTIMP);
  bool question_ok = msg.questions.size() == 1 && msg.questions[0].type == a.sent_type &&
                     msg.questions[0].qclass == wire::RRClass::IN &&
                     msg.questions[0].name == a.asked_name;
  if (!id_ok || (!question_ok && !(edns_refusal && msg.questions.empty()))) {
    if (r.trace) {
      trace_line(r, &q, fmt::format("dropped a reply from {}: {} does not match the query "
                                    "(RFC 5452)",
                                    a.server.to_string(),
                                    !id_ok ? "its ID, opcode or QR bit" : "its question"));
    }
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
      !case_echoed) {
    // 0x20 not echoed: either a case-mangling server or a blind spoofer
    // that guessed the ID. TCP settles it (and is what we use from now on).
    ++stats_.case_mismatches;
    ++stats_.tcp_fallbacks;
    if (r.trace) {
      trace_line(r, &q, fmt::format("{} did not echo the 0x20 case of the question: asking again "
                                    "over TCP",
                                    a.server.to_string()));
    }
    servers_.set_mangles_case(a.server, now);
    resend(UpstreamProtocol::tcp, a.edns);
    return;
  }
  servers_.on_reply(a.server, duration_cast<microseconds>(now - a.sent_at), now);
  if (r.trace) {
    trace_line(r, &q, fmt::format("reply from {} in {} ms: {}", a.server.to_string(),
                                  duration_cast<milliseconds>(now - a.sent_at).count(),
                                  describe_reply(msg)));
  }
  if (msg.header.tc() && a.protocol == UpstreamProtocol::udp) {
    ++stats_.tcp_fallbacks;
    if (r.trace) trace_line(r, &q, "truncated: asking again over TCP");
    resend(UpstreamProtocol::tcp, a.edns);
    return;
  }
  if (edns_refusal) {
    if (r.trace) {
      trace_line(r, &q, fmt::format("{} refuses EDNS ({}): asking again without it",
                                    a.server.to_string(), wire::to_string(rcode)));
    }
    ++stats_.edns_fallbacks;
    servers_.set_no_edns(a.server, now);
    resend(a.protocol, false);
    return;
  }

  ClassifyRequest request;
  request.response = &msg;
  request.zone = q.cut.zone;
  // A forward upstream answers a DS question at its zone's apex from the
  // parent's side (DS lives there): judge it against the parent.
  if (q.cut.forward && a.sent_type == RRType::DS && a.asked_name == q.cut.zone && !q.cut.zone.is_root()) {
    request.zone = q.cut.zone.parent();
  }
  request.asked_name = a.asked_name;
  request.asked_type = a.sent_type;
  request.max_chain_links = options_.limits.max_cname_hops;
  request.from_recursive = q.cut.forward;
  ClassifiedResponse classified = classify_response(request);
  note_zone_reply(a, classified.kind);
  restore_owner_case(classified, a.asked_name);
  if (r.trace) trace_line(r, &q, fmt::format("judged as {}", describe_classified(classified)));
  if (shared && !shared->waiters.empty()) {
    ClassifiedResponse copy = classified;
    handle_classified(r, q, a, msg, std::move(classified));
    deliver_shared_reply(*shared, a, msg, copy);
    return;
  }
  handle_classified(r, q, a, msg, std::move(classified));
  (void)try_next;
}

}  // namespace sextant::resolver
