// Identical upstream questions in flight, shared by this worker's requests
// (issue 17; the table is inflight_questions.h).
//
// On a cold resolver, concurrent questions under the same unknown zone cut
// each sent the same QNAME-minimisation step, NS address lookup or question
// to the same servers before any reply had reached the cache: in the cold
// path bench, most of the queries Sextant sent beyond the peers'. Now:
//
//   request A: send ─▶ packet P registered by what it asks ─▶ wait ─▶ reply
//   request B: send ─▶ P asks the same: wait for P (no packet) ───────┤
//                                                                     ▼
//              A checks the reply (source, ID, question, 0x20 case, cookie,
//              ECS echo) and classifies it; A handles it, then B handles the
//              same classified reply as if it had sent P (its own state:
//              minimised or not, its own target, its own validation).
//
// Only a whole exchange is shared, and only while it is young. When P's
// retransmission timer fires, B is sent back to ask for itself (from a fresh
// loop turn, counting P's server as tried), as A asks the next server; like
// A, B still takes a late reply to P. When P fails, is dropped, needs asking
// again (TC, EDNS, cookie, 0x20 mismatch) or is cancelled (A ended), B asks
// for itself too. A query waits at most kMaxSharedFailures times per step,
// and only before it sent anything itself at its current cut, so sharing
// never adds a round trip to a query that has started on its own.
// Nothing is shared between workers (each has its own loop), within one
// request, or with the root priming.
#include <fmt/format.h>

#include <algorithm>

#include "resolver/walk/walker.h"

namespace sextant::resolver {

namespace {

// Shared packets that failed one query at one step before it asks itself.
constexpr uint8_t kMaxSharedFailures = 2;

}  // namespace

std::optional<InflightKey> Walker::inflight_key(const Resolution& r, const SubQuery& q) const {
  if (q.kind == QueryKind::priming) return std::nullopt;
  InflightKey key;
  key.zone = q.cut.zone;
  key.qname = q.qmin.asked_name();
  key.type = q.qmin.minimising() ? QnameMinimiser::kMinimisedType : q.question.type;
  if (options_.upstream_dnssec_ok) key.flags |= InflightKey::kDnssecOk;
  if (q.cut.forward) {
    key.flags |= InflightKey::kRecursion;
    if (validating(r) || r.options.checking_disabled) key.flags |= InflightKey::kCheckingDisabled;
  }
  if (q.cut.private_ok) key.flags |= InflightKey::kPrivateOk;
  if (q.cut.forward || q.cut.private_ok) {
    // Order-independent: two lists of the same servers give the same digest.
    for (const auto& ns : q.cut.servers) {
      for (const auto& address : ns.addresses) {
        key.servers += (ServerAddressHash{}(address) | 1) * (static_cast<uint64_t>(ns.protocol) + 1);
      }
    }
  }
  // ECS: the subnet goes in the key whenever the query may carry one (the
  // cut is in an ECS zone, or one of its servers is listed), so requests of
  // different subnets, or with and without one, never share.
  bool ecs_possible = false;
  for (const auto& ns : q.cut.servers) {
    for (const auto& address : ns.addresses) ecs_possible = ecs_possible || ecs_applies(r, q, address);
  }
  if (!ecs_possible && q.kind == QueryKind::client && !q.cut.forward) {
    const auto& zones = options_.ecs.zones;
    ecs_possible = std::any_of(zones.begin(), zones.end(),
                               [&](const wire::Name& zone) { return q.cut.zone.is_subdomain_of(zone); });
  }
  if (ecs_possible) {
    if (r.options.client_subnet) {
      key.subnet = r.options.client_subnet;
    } else {
      key.flags |= InflightKey::kEcsWithheld;
    }
  }
  return key;
}

bool Walker::join_inflight(Resolution& r, SubQuery& q) {
  if (q.joined_exchange != 0) {
    const InflightQuestions::State joined = inflight_.state(q.joined_exchange);
    if (joined == InflightQuestions::State::live) return true;  // (woken by something else: still waiting)
    if (joined == InflightQuestions::State::closed) q.joined_exchange = 0;
  }
  // A request with a trace of its own walks alone, as it resolves alone.
  if (inflight_.empty() || q.kind == QueryKind::priming || r.options.trace || !q.attempts.empty() ||
      q.children_running > 0 || q.cut.sends > 0 || q.shared_failures >= kMaxSharedFailures) {
    return false;
  }
  std::optional<InflightKey> key = inflight_key(r, q);
  if (!key) return false;
  const uint64_t attempt = inflight_.join(*key, r.id, InflightWaiter{r.id, q.index});
  if (attempt == 0) return false;
  // (It stops listening to an overdue shared packet: this one is its retry.)
  q.joined_exchange = attempt;
  if (r.trace) {
    trace_line(r, &q, fmt::format("{} {} is in flight to the servers of {} for another request: waiting "
                                  "for its reply instead of asking again",
                                  key->qname.to_text(), wire::to_string(key->type), q.cut.zone.to_text()));
  }
  return true;
}

bool Walker::waits_on_shared(const SubQuery& q) const {
  return q.joined_exchange != 0 && inflight_.state(q.joined_exchange) != InflightQuestions::State::closed;
}

void Walker::lead_inflight(const Resolution& r, const SubQuery& q, Attempt& a) {
  if (q.kind == QueryKind::priming || r.options.trace || inflight_.size() >= InflightQuestions::kMaxExchanges) {
    return;
  }
  std::optional<InflightKey> key = inflight_key(r, q);
  if (!key) return;
  // The packet as built: its ECS option (or its lack) is what the key says.
  key->qname = a.asked_name;
  key->type = a.sent_type;
  key->subnet.reset();
  key->flags &= static_cast<uint8_t>(~InflightKey::kEcsWithheld);
  if (a.ecs_sent) key->subnet = r.options.client_subnet;
  if (a.ecs_withheld) key->flags |= InflightKey::kEcsWithheld;
  if (!a.edns) key->flags &= static_cast<uint8_t>(~InflightKey::kDnssecOk);
  a.leads_exchange = inflight_.lead(*key, a.id, r.id);
}

Walker::EndedExchange::~EndedExchange() {
  if (!waiters.empty()) walker.restart_waiters(sent, std::move(waiters), failed_server);
}

bool Walker::still_asks(const SubQuery& q, const Attempt& a) {
  const wire::RRType type = q.qmin.minimising() ? QnameMinimiser::kMinimisedType : q.question.type;
  return type == a.sent_type && q.cut.zone == a.zone && q.qmin.asked_name() == a.asked_name;
}

void Walker::deliver_shared_reply(EndedExchange& ended, const Attempt& a, const wire::Message& msg,
                                  const ClassifiedResponse& c) {
  std::vector<InflightWaiter> waiters = std::move(ended.waiters);
  ended.waiters.clear();
  // What the sender's handle_classified() stored in the cache already.
  const bool remembered = !a.minimised || c.kind == ResponseKind::referral;
  for (const InflightWaiter& w : waiters) {
    Resolution* r = find_resolution(w.resolution);
    if (!r || r->finished) continue;
    SubQuery& q = *r->queries[w.query];
    if (q.joined_exchange != a.id) continue;
    q.joined_exchange = 0;
    // (A waiter sent back at the packet's retransmission timeout may have
    // packets of its own out: like the sender, it takes the late reply,
    // unless it moved on meanwhile.)
    if (q.reported || q.state != QueryState::wait || !still_asks(q, a)) continue;
    Attempt copy;
    copy.server = a.server;
    copy.protocol = a.protocol;
    copy.asked_name = a.asked_name;
    copy.sent_name = a.sent_name;
    copy.sent_type = a.sent_type;
    copy.message_id = a.message_id;
    copy.edns = a.edns;
    copy.minimised = q.qmin.minimising();
    copy.sent_at = a.sent_at;
    copy.ecs_sent = a.ecs_sent;
    copy.ecs_scope = a.ecs_scope;
    copy.ecs_withheld = a.ecs_withheld;
    copy.zone = a.zone;
    copy.remembered = remembered;
    if (copy.ecs_scope > q.ecs_scope) q.ecs_scope = copy.ecs_scope;
    if (copy.ecs_withheld) q.ecs_withheld = true;
    ++stats_.shared_questions;
    if (r->trace) {
      trace_line(*r, &q, fmt::format("took the reply from {} to the identical query of another request",
                                     a.server.to_string()));
    }
    handle_classified(*r, q, copy, msg, ClassifiedResponse(c));
  }
}

void Walker::restart_waiters(const Attempt& sent, std::vector<InflightWaiter> waiters,
                             std::optional<ServerAddress> failed_server) {
  Attempt asked;  // what it asked, for still_asks()
  asked.zone = sent.zone;
  asked.asked_name = sent.asked_name;
  asked.sent_type = sent.sent_type;
  defer([this, attempt = sent.id, asked = std::move(asked), waiters = std::move(waiters), failed_server] {
    // Overdue: they ask for themselves but still take a late reply to it.
    const bool listening = inflight_.state(attempt) != InflightQuestions::State::closed;
    for (const InflightWaiter& w : waiters) {
      Resolution* r = find_resolution(w.resolution);
      if (!r || r->finished) continue;
      SubQuery& q = *r->queries[w.query];
      if (q.joined_exchange != attempt) continue;
      if (!listening) q.joined_exchange = 0;
      if (q.reported || q.state != QueryState::wait || !q.attempts.empty()) continue;
      if (!still_asks(q, asked)) {
        q.joined_exchange = 0;
        continue;
      }
      ++q.shared_failures;
      ++stats_.shared_question_retries;
      if (failed_server) {
        // As if it had asked there itself: its next pick prefers another server.
        auto tried = std::find_if(q.cut.tried.begin(), q.cut.tried.end(),
                                  [&](const ServerCandidate& t) { return t.address == *failed_server; });
        if (tried != q.cut.tried.end()) {
          ++tried->tries;
        } else {
          q.cut.tried.push_back({*failed_server, 1});
        }
        ++q.tally.timeouts;
      }
      if (r->trace) {
        trace_line(*r, &q, fmt::format("the identical query it waited for {}: asking itself",
                                       failed_server ? fmt::format("timed out at {}", failed_server->to_string())
                                                     : std::string("ended without a usable reply")));
      }
      q.state = QueryState::send;
      step(*r, q);
    }
  });
}

}  // namespace sextant::resolver
