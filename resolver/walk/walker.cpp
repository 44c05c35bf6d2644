// The walker's state machine. Every query of a plan moves through
//
//   init ─▶ wait_priming ─▶ start_name ─▶ send ─▶ wait ─▶ (event) ─▶ ...
//                                           ▲                │
//                                           └────────────────┘
//   ... ─▶ finished
//
// With validation on, a client query that reaches a signed zone (start_name
// at a trust anchor's zone, or a referral carrying a usable DS) forks an
// early DNSKEY sub-query for that zone and goes on to send at once; the fork
// runs its own init ─▶ ... ─▶ finished beside the walk, and validation
// (validate ─▶ wait_keys) waits for it only if it needs those keys and it
// has not ended yet (walker_trust_prefetch.cpp):
//
//   start_name / referral ─┬─▶ send ─▶ wait ─▶ ... ─▶ validate ─▶ finished
//                          └─▶ (DNSKEY sub-query) ········▲ (only if needed)
//
// States are advanced only by step(); events (a reply, a retransmission
// timer, a sub-query ending, the root priming ending) update the query and
// call step() again. Nothing waits on a stack: all state lives in the
// Resolution/SubQuery objects (query_plan.h).
//
// The Walker class (walker.h) is implemented in parts, one phase each:
//   walker.cpp             plans, step() and the states that pick a server
//   walker_exchange.cpp    sending a query; checking and classifying a reply
//   walker_responses.cpp   referral, answer, denial, CNAME/DNAME chase
//   walker_subqueries.cpp  glueless NS addresses, sub-query results, priming
//   walker_failures.cpp    SERVFAIL with EDE, deadline
//   walker_shedding.cpp    flood defences: held-down zones fail at once,
//                          caps on queries in flight per zone and server
//   walker_cache.cpp       answers from the shared cache, storing replies
//   walker_dnssec.cpp      validation and the DS/DNSKEY fetches it needs
//   walker_trust_prefetch.cpp  DNSKEY sets fetched beside the walk; DS/DNSKEY
//                          fetches shared by the worker's concurrent requests
//   walker_upstream_reasons.cpp  why each upstream query is sent (counters)
//   walker_inflight.cpp    identical upstream questions in flight shared by
//                          the worker's concurrent requests
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>

namespace sextant::resolver {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using wire::EdeCode;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

const char* to_string(UpstreamProtocol p) noexcept {
  switch (p) {
    case UpstreamProtocol::udp: return "udp";
    case UpstreamProtocol::tcp: return "tcp";
    case UpstreamProtocol::tls: return "tls";
    case UpstreamProtocol::https: return "https";
    case UpstreamProtocol::quic: return "quic";
  }
  return "unknown";
}

const char* to_string(ValidationState v) noexcept {
  switch (v) {
    case ValidationState::unchecked: return "unchecked";
    case ValidationState::secure: return "secure";
    case ValidationState::insecure: return "insecure";
    case ValidationState::bogus: return "bogus";
    case ValidationState::indeterminate: return "indeterminate";
  }
  return "unknown";
}

const char* to_string(QueryKind k) noexcept {
  switch (k) {
    case QueryKind::client: return "client";
    case QueryKind::ns_address: return "ns-address";
    case QueryKind::priming: return "priming";
    case QueryKind::ds: return "ds";
    case QueryKind::dnskey: return "dnskey";
  }
  return "unknown";
}

const char* to_string(QueryState s) noexcept {
  switch (s) {
    case QueryState::init: return "init";
    case QueryState::wait_priming: return "wait-priming";
    case QueryState::start_name: return "start-name";
    case QueryState::send: return "send";
    case QueryState::wait: return "wait";
    case QueryState::validate: return "validate";
    case QueryState::wait_keys: return "wait-keys";
    case QueryState::finished: return "finished";
  }
  return "unknown";
}

namespace {

// Upper bound on state transitions in one step() call: each transition
// either sends, parks the query or ends it, so a handful suffice; the bound
// turns a logic error into a SERVFAIL instead of a hang.
constexpr int kMaxTransitionsPerStep = 64;

}  // namespace

Walker::Walker(UpstreamNetwork& network, TimerService& timers, WalkerOptions options,
               RootHints hints, cache::Cache* cache)
    : Walker(network, timers, std::move(options), std::move(hints),
             std::make_unique<QueryRandomness>(), cache) {}

Walker::Walker(UpstreamNetwork& network, TimerService& timers, WalkerOptions options,
               RootHints hints, std::unique_ptr<QueryRandomness> random, cache::Cache* cache)
    : network_(network),
      timers_(timers),
      cache_(cache),
      options_(std::move(options)),
      hints_(std::move(hints)),
      random_(std::move(random)),
      servers_(options_.timeouts, *random_, options_.servers) {
  if (!options_.denials) options_.denials = std::make_shared<DenialMemory>();
  // Without a shared table, ServerSelection made one of its own.
  if (!options_.servers) options_.servers = servers_.table();
  hints_.set_port(options_.upstream_port);
}

Walker::~Walker() {
  *alive_ = false;
  inflight_.clear();  // nobody is left to wait
  auto cancel_plan = [&](Resolution& r) {
    timers_.cancel(r.deadline_timer);
    for (auto& q : r.queries) cancel_all_attempts(*q);
  };
  for (auto& [id, r] : resolutions_) cancel_plan(*r);
  for (auto& r : finished_) cancel_plan(*r);
}

void Walker::defer(std::function<void()> fn) {
  std::weak_ptr<bool> alive = alive_;
  timers_.schedule(milliseconds{0}, [alive, fn = std::move(fn)] {
    auto token = alive.lock();
    if (token && *token) fn();
  });
}

bool Walker::root_primed() const {
  return primed_root_.has_value() && timers_.now() < primed_until_;
}

// ---------------------------------------------------------------------------
// Plans

Resolution* Walker::find_resolution(uint64_t id) {
  auto it = resolutions_.find(id);
  return it == resolutions_.end() ? nullptr : it->second.get();
}

SubQuery& Walker::add_query(Resolution& r, QueryKind kind, std::optional<uint32_t> parent,
                            const wire::Question& question) {
  auto q = std::make_unique<SubQuery>();
  q->index = static_cast<uint32_t>(r.queries.size());
  q->kind = kind;
  q->parent = parent;
  q->depth = parent ? r.queries[*parent]->depth + 1 : 0;
  q->question = question;
  q->target = question.name;
  r.queries.push_back(std::move(q));
  SubQuery& added = *r.queries.back();
  if (r.trace && parent) {
    trace_line(r, &added, fmt::format("sub-query of q{}: {} {} ({})", *parent, question.name.to_text(),
                                      wire::to_string(question.type), to_string(kind)));
  }
  return added;
}

Resolution& Walker::start_resolution(const ResolutionKey& key, const wire::Question& question,
                                     const ResolveOptions& options, QueryKind kind) {
  auto r = std::make_unique<Resolution>();
  r->id = next_resolution_id_++;
  r->key = key;
  r->options = options;
  r->started = timers_.now();
  r->deadline = r->started + duration_cast<TimerService::Clock::duration>(
                                 options_.limits.resolution_deadline);
  uint64_t id = r->id;
  std::weak_ptr<bool> alive = alive_;
  r->deadline_timer =
      timers_.schedule(options_.limits.resolution_deadline, [this, alive, id] {
        auto token = alive.lock();
        if (token && *token) on_deadline(id);
      });
  // A resolution with a trace of its own is not shared (ResolveOptions::trace).
  if (options.trace) {
    r->trace = options.trace;
  } else if (options_.trace && options_.trace->enabled()) {
    r->trace = options_.trace;
  }
  Resolution& ref = *r;
  resolutions_.emplace(id, std::move(r));
  if (!options.trace) in_flight_[key] = id;
  add_query(ref, kind, std::nullopt, question);
  ++stats_.resolutions;
  return ref;
}

void Walker::resolve(const wire::Question& question, const ResolveOptions& options,
                     ResolveCallback callback) {
  ResolutionKey key{question.name.lowercased(), question.type, question.qclass,
                    options.checking_disabled, false, options.client_subnet};
  if (auto it = in_flight_.find(key); it != in_flight_.end() && !options.trace) {
    if (Resolution* r = find_resolution(it->second); r && !r->finished) {
      r->waiters.push_back(std::move(callback));
      ++stats_.deduplicated;
      if (r->trace) trace_line(*r, nullptr, "an identical question joined this resolution");
      return;
    }
  }
  in_resolve_ = true;
  Resolution& r = start_resolution(key, question, options, QueryKind::client);
  r.waiters.push_back(std::move(callback));
  SubQuery& q = *r.queries[0];
  if (r.trace) {
    trace_line(r, &q, fmt::format("question {} {}{}{}{}", question.name.to_text(),
                                  wire::to_string(question.type), options.dnssec_ok ? ", DO" : "",
                                  options.checking_disabled ? ", CD (no validation)" : "",
                                  options.refresh ? "; its answer is not taken from the cache" : ""));
  }
  if (question.qclass != wire::RRClass::IN) {
    q.result.rcode = Rcode::REFUSED;
    q.result.ede = wire::ExtendedErrorOption{static_cast<uint16_t>(EdeCode::NotSupported),
                                             "only class IN is resolved"};
    q.state = QueryState::finished;
  } else if (wire::is_meta_type(question.type) && question.type != RRType::ANY) {
    q.result.rcode = Rcode::NOTIMP;
    q.result.ede = wire::ExtendedErrorOption{
        static_cast<uint16_t>(EdeCode::NotSupported),
        fmt::format("query type {} is not resolved", wire::to_string(question.type))};
    q.state = QueryState::finished;
  }
  step(r, q);
  in_resolve_ = false;
}

// ---------------------------------------------------------------------------
// The state machine

void Walker::step(Resolution& r, SubQuery& q) {
  for (int i = 0; i < kMaxTransitionsPerStep; ++i) {
    if (r.finished || q.reported) return;
    switch (q.state) {
      case QueryState::init: state_init(r, q); break;
      case QueryState::start_name: state_start_name(r, q); break;
      case QueryState::send: state_send(r, q); break;
      case QueryState::validate: state_validate(r, q); break;
      case QueryState::wait_priming:
      case QueryState::wait:
      case QueryState::wait_keys: return;
      case QueryState::finished: query_finished(r, q); return;
    }
  }
  fail_query(r, q, EdeCode::Other, "internal error: query state machine did not settle");
  query_finished(r, q);
}

void Walker::begin_name(SubQuery& q) {
  q.target = q.question.name;
  q.visited = {q.target};
  q.state = QueryState::start_name;
}

void Walker::state_init(Resolution& r, SubQuery& q) {
  if (q.kind != QueryKind::priming && priming_needed() && !configured_question(q)) {
    priming_waiters_.push_back({r.id, q.index});
    q.state = QueryState::wait_priming;
    if (r.trace) trace_line(r, &q, "waiting for the root priming (RFC 8109)");
    if (!priming_running_) start_priming();
    return;
  }
  begin_name(q);
}

void Walker::state_start_name(Resolution& r, SubQuery& q) {
  if (q.kind != QueryKind::priming && answer_from_cache(r, q)) return;
  q.cut = q.kind == QueryKind::priming
              ? root_cut()
              : closest_cut(q.target, q.question.type == RRType::DS, q.past_forward);
  if (r.trace) {
    const char* source = q.cut.forward          ? "a forward zone"
                         : !q.cut.zone.is_root() ? "the closest cut in the cache"
                         : primed_root_          ? "the primed root"
                                                 : "the root hints";
    trace_line(r, &q, fmt::format("{} {}: starting at {}, from {}", q.target.to_text(),
                                  wire::to_string(q.question.type), describe_cut(q.cut), source));
  }
  // A forward upstream resolves the whole name itself.
  bool minimise = options_.qname_minimisation && q.kind != QueryKind::priming && !q.cut.forward;
  q.qmin = QnameMinimiser(minimise, options_.qmin_max_minimise_count,
                          options_.qmin_minimise_one_label);
  q.qmin.start(q.target, q.cut.zone, minimise);
  prefetch_zone_keys(r, q);  // the anchor zone's keys, beside the first step
  q.state = QueryState::send;
}

void Walker::state_send(Resolution& r, SubQuery& q) {
  const auto now = timers_.now();
  if (now >= r.deadline) {
    fail_query(r, q, EdeCode::NoReachableAuthority, "resolution deadline reached");
    return;
  }
  // Another request is asking these servers the very same question right
  // now: wait for its reply (walker_inflight.cpp).
  if (join_inflight(r, q)) {
    q.state = QueryState::wait;
    return;
  }
  const WalkerLimits& limits = options_.limits;
  std::vector<ServerCandidate> candidates;
  // Every address we could ask at all (tries and caps aside), and whether
  // each of them is held down.
  std::vector<ServerAddress> usable;
  bool every_usable_dead = true;
  bool private_skipped = false;
  // A server not held down was left out because it is at its cap.
  bool server_full = false;
  // Held down, but its hold-down is over and no query probes it yet.
  std::vector<ServerAddress> probe_due;
  // A question that waited for another request's identical packet, which
  // then ended without a reply for it, was let in when it joined: its own
  // packet stands in for the retransmission it waited on, so the caps (which
  // turn away new questions) do not fail it now.
  const bool admitted_waiter = q.shared_failures > 0 && q.cut.sends == 0;
  for (const auto& ns : q.cut.servers) {
    for (const auto& address : ns.addresses) {
      if ((address.is_ipv6() && !options_.use_ipv6) || (!address.is_ipv6() && !options_.use_ipv4)) {
        continue;
      }
      if (!options_.allow_private_servers && !q.cut.private_ok && address.is_private_or_local()) {
        private_skipped = true;
        continue;
      }
      if (std::find(q.cut.excluded.begin(), q.cut.excluded.end(), address) !=
          q.cut.excluded.end()) {
        continue;
      }
      if (std::find(usable.begin(), usable.end(), address) != usable.end()) continue;
      usable.push_back(address);
      const bool dead = servers_.is_dead(address, now);
      if (!dead) every_usable_dead = false;
      uint32_t tries = 0;
      for (const auto& t : q.cut.tried) {
        if (t.address == address) tries = t.tries;
      }
      // Asking a forward upstream again on the same stream adds nothing: the
      // first query is still on its way (the stream is reliable).
      const uint32_t max_tries =
          q.cut.forward && is_stream(ns.protocol) ? 1 : limits.max_tries_per_server;
      if (tries >= max_tries) continue;
      if (limits.max_outstanding_per_server != 0 && !admitted_waiter &&
          outstanding_.for_server(address) >= limits.max_outstanding_per_server &&
          server_struggling(address, q.cut.zone, now)) {
        if (!dead) server_full = true;
        continue;
      }
      candidates.push_back({address, tries});
      if (!dead) {
        const std::optional<ServerState> state = servers_.find(address);
        if (state && state->dead) probe_due.push_back(address);
      }
    }
  }
  if (private_skipped) ++q.tally.private_skipped;
  avoid_bogus_servers(q.cut.zone, candidates, now);

  const bool all_dead = !usable.empty() && every_usable_dead;
  const bool zone_full = limits.max_outstanding_per_zone != 0 && !admitted_waiter &&
                         outstanding_.for_zone(q.cut.zone) >= limits.max_outstanding_per_zone &&
                         zone_struggling(q.cut.zone, usable, now);
  // A zone at its cap still lets a probe through: its answer is what can
  // revive the zone.
  if (zone_full) {
    std::erase_if(candidates, [&](const ServerCandidate& c) {
      return std::find(probe_due.begin(), probe_due.end(), c.address) == probe_due.end();
    });
  }
  if (!candidates.empty() && q.cut.sends < limits.max_sends_per_cut) {
    // Held-down servers are skipped; one whose hold-down ended is probed by
    // this query if no other query probes it already.
    if (auto pick = servers_.choose(candidates, now, options_.explore_one_in)) {
      const ServerAddress address = candidates[*pick].address;
      const std::optional<ServerState> state = servers_.find(address);
      UpstreamProtocol protocol =
          state && state->mangles_case ? UpstreamProtocol::tcp : UpstreamProtocol::udp;
      for (const auto& ns : q.cut.servers) {
        // A configured upstream's own transport (tcp, tls, https, quic).
        if (ns.protocol != UpstreamProtocol::udp &&
            std::find(ns.addresses.begin(), ns.addresses.end(), address) != ns.addresses.end()) {
          protocol = ns.protocol;
        }
      }
      bool edns = !(state && state->no_edns);
      if (r.trace) {
        trace_line(r, &q, fmt::format("choosing {}", describe_choice(q, address, candidates.size(),
                                                                    all_dead)));
      }
      if (send_attempt(r, q, address, protocol, edns)) q.state = QueryState::wait;
      return;
    }
  }
  // No address to ask now: learn addresses of NS names that came without glue.
  if (!zone_full && start_glueless_lookups(r, q)) {
    q.state = QueryState::wait;
    return;
  }
  if (has_live_attempts(q) || q.children_running > 0) {
    q.state = QueryState::wait;
    return;
  }
  // Only overdue packets left: give them their hard timeout. Also when every
  // server is held down, if one of them answered anything since our packet
  // went out: a starved loop runs the retransmission timers of a turn
  // before it reads the answers already waiting in the sockets, so a slow
  // but live server can look dead for a moment. A server that stopped
  // answering fails its questions at once.
  if ((!q.attempts.empty() || waits_on_shared(q)) && (!all_dead || answered_since_sent(q))) {
    q.state = QueryState::wait;
    return;
  }
  if (all_dead) {
    fail_held_down(r, q, std::move(usable));
  } else if (zone_full) {
    struggling_zones_.remember(q.cut.zone, std::move(usable));
    fail_over_limit(r, q, true);
  } else if (server_full && q.cut.sends < limits.max_sends_per_cut) {
    fail_over_limit(r, q, false);
  } else {
    fail_unreachable(r, q);
  }
}

void Walker::query_finished(Resolution& r, SubQuery& q) {
  if (q.reported) return;
  q.reported = true;
  q.state = QueryState::finished;
  cancel_all_attempts(q);
  if (q.kind == QueryKind::priming) priming_done(q);
  if (q.kind == QueryKind::ds || q.kind == QueryKind::dnskey) key_fetch_ended(r, q);
  if (r.trace && q.index != 0) {
    trace_line(r, &q, fmt::format("finished: {}", describe_result(q.result)));
  }
  if (q.index == 0) {
    finish_resolution(r, q.result);
  } else {
    child_finished(r, q);
  }
}

void Walker::finish_resolution(Resolution& r, ResolutionResult result) {
  if (r.finished) return;
  r.finished = true;
  const auto now = timers_.now();
  result.upstream_queries = r.upstream_queries;
  result.elapsed = duration_cast<milliseconds>(now - r.started);
  if (!r.queries.empty()) {
    result.ecs_scope = r.queries[0]->ecs_scope;
    result.ecs_withheld = r.queries[0]->ecs_withheld;
  }
  if (result.rcode == Rcode::SERVFAIL) ++stats_.servfails;
  if (r.trace) {
    trace_line(r, nullptr, fmt::format("done: {}; {} upstream queries in {} ms", describe_result(result),
                                       result.upstream_queries, result.elapsed.count()));
  }
  timers_.cancel(r.deadline_timer);
  r.deadline_timer = 0;
  release_key_fetches(r);  // other requests waiting on its DS/DNSKEY fetches ask themselves
  for (auto& q : r.queries) cancel_all_attempts(*q);
  if (auto it = in_flight_.find(r.key); it != in_flight_.end() && it->second == r.id) {
    in_flight_.erase(it);
  }
  auto waiters = std::move(r.waiters);
  r.waiters.clear();
  // Keep the plan alive until a fresh loop turn: callers up the stack
  // still hold references into it.
  if (auto node = resolutions_.extract(r.id)) finished_.push_back(std::move(node.mapped()));
  if (reap_timer_ == 0) {
    std::weak_ptr<bool> alive = alive_;
    reap_timer_ = timers_.schedule(milliseconds{0}, [this, alive] {
      auto token = alive.lock();
      if (!token || !*token) return;
      reap_timer_ = 0;
      finished_.clear();
    });
  }
  if (in_resolve_) {
    // Never call back from inside resolve().
    defer([waiters = std::move(waiters), result = std::move(result)] {
      for (const auto& callback : waiters) callback(result);
    });
    return;
  }
  for (const auto& callback : waiters) callback(result);
}

}  // namespace sextant::resolver
