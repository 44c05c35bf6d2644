// The walker's state machine. Every query of a plan moves through
//
//   init ─▶ wait_priming ─▶ start_name ─▶ send ─▶ wait ─▶ (event) ─▶ ...
//                                           ▲                │
//                                           └────────────────┘
//   ... ─▶ finished
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
//   walker_failures.cpp    SERVFAIL with EDE, deadline, unreachable zones
//   walker_cache.cpp       answers from the shared cache, storing replies
//   walker_dnssec.cpp      validation and the DS/DNSKEY fetches it needs
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
  return p == UpstreamProtocol::udp ? "udp" : "tcp";
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
  return *r.queries.back();
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
  Resolution& ref = *r;
  resolutions_.emplace(id, std::move(r));
  in_flight_[key] = id;
  add_query(ref, kind, std::nullopt, question);
  ++stats_.resolutions;
  return ref;
}

void Walker::resolve(const wire::Question& question, const ResolveOptions& options,
                     ResolveCallback callback) {
  ResolutionKey key{question.name.lowercased(), question.type, question.qclass,
                    options.checking_disabled, false, options.client_subnet};
  if (auto it = in_flight_.find(key); it != in_flight_.end()) {
    if (Resolution* r = find_resolution(it->second); r && !r->finished) {
      r->waiters.push_back(std::move(callback));
      ++stats_.deduplicated;
      return;
    }
  }
  in_resolve_ = true;
  Resolution& r = start_resolution(key, question, options, QueryKind::client);
  r.waiters.push_back(std::move(callback));
  SubQuery& q = *r.queries[0];
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
  if (q.kind != QueryKind::priming && priming_needed()) {
    priming_waiters_.push_back({r.id, q.index});
    q.state = QueryState::wait_priming;
    if (!priming_running_) start_priming();
    return;
  }
  begin_name(q);
}

void Walker::state_start_name(Resolution& r, SubQuery& q) {
  if (q.kind != QueryKind::priming && answer_from_cache(r, q)) return;
  q.cut = q.kind == QueryKind::priming ? root_cut()
                                       : closest_cut(q.target, q.question.type == RRType::DS);
  bool minimise = options_.qname_minimisation && q.kind != QueryKind::priming;
  q.qmin = QnameMinimiser(minimise, options_.qmin_max_minimise_count,
                          options_.qmin_minimise_one_label);
  q.qmin.start(q.target, q.cut.zone, minimise);
  q.state = QueryState::send;
}

void Walker::state_send(Resolution& r, SubQuery& q) {
  const auto now = timers_.now();
  if (now >= r.deadline) {
    fail_query(r, q, EdeCode::NoReachableAuthority, "resolution deadline reached");
    return;
  }
  std::vector<ServerCandidate> candidates;
  bool private_skipped = false;
  // Whether every address we could ask at all (tries aside) is held down.
  bool every_usable_dead = true;
  bool any_usable = false;
  for (const auto& ns : q.cut.servers) {
    for (const auto& address : ns.addresses) {
      if ((address.is_ipv6() && !options_.use_ipv6) || (!address.is_ipv6() && !options_.use_ipv4)) {
        continue;
      }
      if (!options_.allow_private_servers && address.is_private_or_local()) {
        private_skipped = true;
        continue;
      }
      if (std::find(q.cut.excluded.begin(), q.cut.excluded.end(), address) !=
          q.cut.excluded.end()) {
        continue;
      }
      any_usable = true;
      if (!servers_.is_dead(address, now)) every_usable_dead = false;
      if (std::any_of(candidates.begin(), candidates.end(),
                      [&](const ServerCandidate& c) { return c.address == address; })) {
        continue;
      }
      uint32_t tries = 0;
      for (const auto& t : q.cut.tried) {
        if (t.address == address) tries = t.tries;
      }
      if (tries >= options_.limits.max_tries_per_server) continue;
      candidates.push_back({address, tries});
    }
  }
  if (private_skipped) ++q.tally.private_skipped;

  const bool all_dead = any_usable && every_usable_dead;
  const bool zone_unreachable = all_dead && remembered_unreachable(q.cut.zone, now);
  if (!candidates.empty() && q.cut.sends < options_.limits.max_sends_per_cut && !zone_unreachable) {
    if (auto pick = servers_.choose(candidates, now, options_.explore_one_in, all_dead)) {
      const ServerAddress address = candidates[*pick].address;
      const std::optional<ServerState> state = servers_.find(address);
      UpstreamProtocol protocol =
          state && state->mangles_case ? UpstreamProtocol::tcp : UpstreamProtocol::udp;
      bool edns = !(state && state->no_edns);
      if (send_attempt(r, q, address, protocol, edns)) q.state = QueryState::wait;
      return;
    }
  }
  // No address to ask now: learn addresses of NS names that came without glue.
  if (start_glueless_lookups(r, q)) {
    q.state = QueryState::wait;
    return;
  }
  if (has_live_attempts(q) || q.children_running > 0) {
    q.state = QueryState::wait;
    return;
  }
  if (!q.attempts.empty() && !all_dead) {
    q.state = QueryState::wait;  // only overdue packets left: give them their hard timeout
    return;
  }
  fail_unreachable(r, q);
}

void Walker::query_finished(Resolution& r, SubQuery& q) {
  if (q.reported) return;
  q.reported = true;
  q.state = QueryState::finished;
  cancel_all_attempts(q);
  if (q.kind == QueryKind::priming) priming_done(q);
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
  timers_.cancel(r.deadline_timer);
  r.deadline_timer = 0;
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
