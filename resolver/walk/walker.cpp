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
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "resolver/walk/bailiwick.h"
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
// NS names taken from one referral: enough for any real zone, bounded
// against a referral that lists thousands.
constexpr size_t kMaxNameServersPerCut = 20;
constexpr size_t kMaxAddressesPerName = 8;

RRset capped(RRset set, uint32_t max_ttl) {
  set.ttl = std::min(set.ttl, max_ttl);
  return set;
}

std::vector<ServerAddress> addresses_from(const std::vector<RRset>& sets, const Name& owner,
                                          uint16_t port) {
  std::vector<ServerAddress> out;
  for (const auto& set : sets) {
    if (!(set.owner == owner) || (set.type != RRType::A && set.type != RRType::AAAA)) continue;
    for (const auto& rdata : set.rdatas) {
      auto address = ServerAddress::from_rdata(rdata, port);
      if (!address || (address->is_ipv6() != (set.type == RRType::AAAA))) continue;
      if (std::find(out.begin(), out.end(), *address) == out.end() &&
          out.size() < kMaxAddressesPerName) {
        out.push_back(*address);
      }
    }
  }
  return out;
}

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
                    options.checking_disabled, false};
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

// ---------------------------------------------------------------------------
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

bool Walker::start_glueless_lookups(Resolution& r, SubQuery& q) {
  for (const auto& ns : q.cut.servers) {
    if (ns.lookup == NameServerEntry::Lookup::running) return false;  // wait for it first
  }
  if (q.cut.glueless_started >= options_.limits.max_glueless_per_cut) return false;
  std::vector<size_t> open;
  for (size_t i = 0; i < q.cut.servers.size(); ++i) {
    if (q.cut.servers[i].lookup == NameServerEntry::Lookup::not_started) open.push_back(i);
  }
  while (!open.empty()) {
    size_t pick = random_->uniform(static_cast<uint32_t>(open.size()));
    NameServerEntry& ns = q.cut.servers[open[pick]];
    open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));

    // A query already resolving this name up the chain means a cycle
    // (a.example's NS in b.example, b.example's NS in a.example).
    bool cycle = false;
    for (std::optional<uint32_t> up = q.index; up; up = r.queries[*up]->parent) {
      const SubQuery& ancestor = *r.queries[*up];
      if (ancestor.kind == QueryKind::ns_address && ancestor.question.name == ns.name) cycle = true;
    }
    if (cycle || q.depth + 1 > options_.limits.max_subquery_depth) {
      ns.lookup = NameServerEntry::Lookup::failed;
      continue;
    }
    ns.lookup = NameServerEntry::Lookup::running;
    ++q.cut.glueless_started;
    std::vector<RRType> types;
    if (options_.use_ipv4) types.push_back(RRType::A);
    if (options_.use_ipv6) types.push_back(RRType::AAAA);
    for (RRType type : types) {
      SubQuery& child = add_query(r, QueryKind::ns_address, q.index,
                                  wire::Question{ns.name, type, wire::RRClass::IN});
      ++ns.lookups_running;
      ++q.children_running;
      // Started from a fresh loop turn, so that a child failing at once
      // cannot re-enter this query's step().
      QueryRef ref{r.id, child.index};
      defer([this, ref] {
        Resolution* plan = find_resolution(ref.resolution);
        if (!plan || plan->finished) return;
        step(*plan, *plan->queries[ref.query]);
      });
    }
    return !types.empty();
  }
  return false;
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
// Events

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

void Walker::handle_classified(Resolution& r, SubQuery& q, const Attempt& a,
                               const wire::Message& msg, ClassifiedResponse&& c) {
  if (!a.minimised || c.kind == ResponseKind::referral) remember_response(q, a, msg, c);
  auto resend_full_name = [&] {
    // Relaxed QNAME minimisation (RFC 9156 §2.3): this server mishandles
    // minimised names; ask it the full name.
    ++stats_.qmin_fallbacks;
    q.qmin.disable();
    cancel_all_attempts(q);
    if (!send_attempt(r, q, a.server, a.protocol, a.edns)) {
      step(r, q);
      return;
    }
    q.state = QueryState::wait;
  };
  auto next_server = [&] {
    exclude_server(q, a.server);
    if (q.state == QueryState::wait && !has_live_attempts(q)) {
      q.state = QueryState::send;
      step(r, q);
    }
  };

  switch (c.kind) {
    case ResponseKind::server_error:
    case ResponseKind::lame:
      if (a.minimised && q.qmin.enabled()) return resend_full_name();
      if (c.kind == ResponseKind::lame) {
        ++q.tally.lame;
      } else {
        ++q.tally.server_errors;
      }
      return next_server();

    case ResponseKind::referral:
      if (q.question.type == RRType::DS && c.referral_zone == q.target) {
        // The DS lives at the parent (RFC 4035 §3.1.4.1): never descend
        // into the zone itself for it.
        if (a.minimised && q.qmin.enabled()) return resend_full_name();
        ++q.tally.lame;
        return next_server();
      }
      cancel_all_attempts(q);
      enter_referral(r, q, c);
      step(r, q);
      return;

    case ResponseKind::answer:
    case ResponseKind::nodata:
      if (a.minimised) {
        // The minimised name exists and is no zone cut: one label deeper.
        cancel_all_attempts(q);
        if (!c.chain.empty()) {
          ++stats_.qmin_fallbacks;
          q.qmin.disable();
        } else {
          q.qmin.advance();
        }
        // A new question for the same servers: the per-server try count
        // restarts (lame servers stay excluded).
        q.cut.tried.clear();
        q.cut.sends = 0;
        q.state = QueryState::send;
        step(r, q);
        return;
      }
      cancel_all_attempts(q);
      if (q.kind == QueryKind::priming && c.kind == ResponseKind::answer) {
        // RFC 8109 §3: the root NS set from the answer, addresses from the
        // additional section.
        auto additional = group_rrsets(msg.additional);
        for (const auto& set : c.answers) {
          if (set.type != RRType::NS || !set.owner.is_root()) continue;
          ZoneCut cut;
          for (const auto& rdata : set.rdatas) {
            auto name = rdata_target_name(rdata);
            if (!name || cut.servers.size() >= kMaxNameServersPerCut) continue;
            NameServerEntry ns;
            ns.name = *name;
            ns.addresses = addresses_from(additional, *name, options_.upstream_port);
            ns.lookup = ns.addresses.empty() ? NameServerEntry::Lookup::not_started
                                             : NameServerEntry::Lookup::done;
            cut.servers.push_back(std::move(ns));
          }
          q.primed_root = std::move(cut);
          q.primed_ttl = set.ttl;
        }
      }
      if (q.kind != QueryKind::priming) {
        record_segment(r, q,
                       c.kind == ResponseKind::nodata ? dnssec::ResponseKind::nodata
                                                      : dnssec::ResponseKind::answer,
                       q.target, c);
      }
      append_chain(r, q, c.chain);
      if (q.reported || q.state == QueryState::finished) return step(r, q);
      complete_answer(r, q, Rcode::NOERROR, std::move(c.answers),
                      c.kind == ResponseKind::nodata ? std::move(c.soa) : std::nullopt);
      step(r, q);
      return;

    case ResponseKind::chase:
      if (a.minimised) return resend_full_name();
      cancel_all_attempts(q);
      record_segment(r, q, dnssec::ResponseKind::answer, q.target, c);
      append_chain(r, q, c.chain);
      if (q.state == QueryState::finished) return step(r, q);
      q.target = c.final_name;
      q.state = QueryState::start_name;
      step(r, q);
      return;

    case ResponseKind::nxdomain:
      if (a.minimised) return resend_full_name();
      cancel_all_attempts(q);
      record_segment(r, q, dnssec::ResponseKind::nxdomain, q.target, c);
      append_chain(r, q, c.chain);
      if (q.state == QueryState::finished) return step(r, q);
      complete_answer(r, q, Rcode::NXDOMAIN, {}, std::move(c.soa));
      step(r, q);
      return;

    case ResponseKind::cname_loop:
      fail_query(r, q, EdeCode::Other, c.reason);
      step(r, q);
      return;

    case ResponseKind::dname_overflow:
      cancel_all_attempts(q);
      record_segment(r, q, dnssec::ResponseKind::answer, q.target, c);
      append_chain(r, q, c.chain);
      if (q.state == QueryState::finished) return step(r, q);
      complete_answer(r, q, Rcode::YXDOMAIN, {}, std::nullopt);
      step(r, q);
      return;
  }
}

void Walker::append_chain(Resolution& r, SubQuery& q, const std::vector<RRset>& links) {
  for (const auto& set : links) {
    q.chain.push_back(capped(set, options_.max_ttl));
    if (set.type != RRType::CNAME) continue;  // a DNAME counts with its synthesised CNAME
    if (++q.chain_links > options_.limits.max_cname_hops) {
      fail_query(r, q, EdeCode::Other,
                 fmt::format("CNAME chain longer than {} links", options_.limits.max_cname_hops));
      return;
    }
    auto target = set.rdatas.empty() ? std::nullopt : rdata_target_name(set.rdatas[0]);
    if (!target) continue;
    if (std::find(q.visited.begin(), q.visited.end(), *target) != q.visited.end()) {
      fail_query(r, q, EdeCode::Other, fmt::format("CNAME loop at {}", target->to_text()));
      return;
    }
    q.visited.push_back(*target);
  }
}

void Walker::on_deadline(uint64_t resolution_id) {
  Resolution* r = find_resolution(resolution_id);
  if (!r || r->finished) return;
  ++stats_.deadline_expired;
  r->deadline_timer = 0;
  FailureTally total;
  for (const auto& sub : r->queries) {
    total.timeouts += sub->tally.timeouts;
    total.network_errors += sub->tally.network_errors;
  }
  SubQuery& q = *r->queries[0];
  EdeCode code = total.timeouts + total.network_errors > 0 ? EdeCode::NoReachableAuthority
                                                           : EdeCode::Other;
  fail_query(*r, q,
             code,
             fmt::format("no answer within the resolution deadline of {} ms ({} timeouts)",
                         options_.limits.resolution_deadline.count(), total.timeouts));
  step(*r, q);
}

// ---------------------------------------------------------------------------
// Outcomes

void Walker::enter_referral(Resolution& r, SubQuery& q, ClassifiedResponse& c) {
  if (++q.referrals > options_.limits.max_referrals) {
    fail_query(r, q, EdeCode::Other,
               fmt::format("more than {} referrals for {}", options_.limits.max_referrals,
                           q.target.to_text()));
    return;
  }
  record_referral(r, q, c);
  ZoneCut cut;
  cut.zone = c.referral_zone;
  for (const auto& rdata : c.referral_ns->rdatas) {
    auto name = rdata_target_name(rdata);
    if (!name || cut.servers.size() >= kMaxNameServersPerCut) continue;
    if (std::any_of(cut.servers.begin(), cut.servers.end(),
                    [&](const NameServerEntry& e) { return e.name == *name; })) {
      continue;
    }
    NameServerEntry ns;
    ns.name = *name;
    ns.addresses = addresses_from(c.glue, *name, options_.upstream_port);
    if (!ns.addresses.empty()) {
      ns.lookup = NameServerEntry::Lookup::done;
    } else if (name->is_subdomain_of(cut.zone)) {
      // In the child zone without glue: only the child could say where it
      // is, and reaching the child needs it. Unresolvable.
      ns.lookup = NameServerEntry::Lookup::failed;
    }
    cut.servers.push_back(std::move(ns));
  }
  q.cut = std::move(cut);
  q.qmin.enter_zone(q.cut.zone);
  // DNSSEC: the referral's DS/NSEC evidence was kept above (record_referral);
  // it is validated, and the child's DNSKEY fetched, only when an answer
  // needs the child's keys (walker_dnssec.cpp).
  q.state = QueryState::send;
}

void Walker::complete_answer(Resolution& r, SubQuery& q, Rcode rcode, std::vector<RRset> answers,
                             std::optional<RRset> soa) {
  ResolutionResult& result = q.result;
  result.rcode = rcode;
  result.answer = q.chain;
  if (q.kind == QueryKind::client && q.question.type == RRType::ANY && options_.minimal_any &&
      answers.size() > 1) {
    answers.resize(1);  // RFC 8482 §4.1: one RRset is a complete answer to ANY
  }
  for (auto& set : answers) result.answer.push_back(capped(std::move(set), options_.max_ttl));
  if (soa && !soa->rdatas.empty()) {
    // RFC 2308 §3: the negative TTL is min(SOA TTL, SOA MINIMUM).
    uint32_t ttl = soa->ttl;
    if (auto minimum = soa_minimum(soa->rdatas[0])) ttl = std::min(ttl, *minimum);
    soa->ttl = std::min(ttl, options_.max_negative_ttl);
    result.authority.push_back(std::move(*soa));
  }
  // The client's answer is validated before the query ends (state_validate);
  // DS/DNSKEY sub-queries are judged by the validation that asked for them.
  q.state = (q.index == 0 && q.kind == QueryKind::client && validating(r))
                ? QueryState::validate
                : QueryState::finished;
}

void Walker::fail_query(Resolution& r, SubQuery& q, EdeCode code, std::string text) {
  (void)r;
  cancel_all_attempts(q);
  q.result = ResolutionResult{};
  q.result.rcode = Rcode::SERVFAIL;
  q.result.ede = wire::ExtendedErrorOption{static_cast<uint16_t>(code), std::move(text)};
  q.state = QueryState::finished;
}

bool Walker::remembered_unreachable(const wire::Name& zone, TimerService::TimePoint now) const {
  auto it = unreachable_zones_.find(zone);
  return it != unreachable_zones_.end() && now < it->second;
}

void Walker::remember_unreachable(const wire::Name& zone, TimerService::TimePoint now) {
  // Bounded: expired entries go first, and a flood of distinct zones only
  // costs the memory of this cap.
  constexpr size_t kMaxRemembered = 4096;
  if (unreachable_zones_.size() >= kMaxRemembered) std::erase_if(unreachable_zones_, [&](const auto& e) { return e.second <= now; });
  if (unreachable_zones_.size() >= kMaxRemembered) unreachable_zones_.clear();
  unreachable_zones_[zone] = now + std::chrono::duration_cast<TimerService::Clock::duration>(
                                       options_.timeouts.unreachable_zone_memory);
}

void Walker::fail_unreachable(Resolution& r, SubQuery& q) {
  const FailureTally& t = q.tally;
  // Remembered only when the servers themselves failed: a query our own
  // side could not send (e.g. every upstream socket busy in a burst) must
  // not fail the zone's other questions for a while.
  if (t.timeouts + t.network_errors > 0 && t.lame + t.server_errors + t.local_errors == 0)
    remember_unreachable(q.cut.zone, timers_.now());
  std::string zone = q.cut.zone.to_text();
  bool any_address = std::any_of(q.cut.servers.begin(), q.cut.servers.end(),
                                 [](const NameServerEntry& e) { return !e.addresses.empty(); });
  if (!any_address && q.cut.servers.empty()) {
    fail_query(r, q, EdeCode::NoReachableAuthority, fmt::format("no name servers for {}", zone));
    return;
  }
  if (t.private_skipped > 0 && t.timeouts + t.network_errors + t.local_errors + t.lame + t.server_errors == 0) {
    fail_query(r, q, EdeCode::NoReachableAuthority,
               fmt::format("name servers of {} are on private or loopback addresses, which are "
                           "not queried",
                           zone));
    return;
  }
  EdeCode code = (t.network_errors > 0 && t.timeouts == 0) ? EdeCode::NetworkError
                                                           : EdeCode::NoReachableAuthority;
  std::string local = t.local_errors > 0 ? fmt::format(", {} not sent (local)", t.local_errors) : "";
  fail_query(r, q, code,
             fmt::format("no reachable authority for {} ({} timeouts, {} network errors, {} "
                         "lame, {} error replies, {} spoofed or malformed{})",
                         zone, t.timeouts, t.network_errors, t.lame, t.server_errors,
                         t.spoofed + t.malformed, local));
}

void Walker::child_finished(Resolution& r, SubQuery& child) {
  if (!child.parent) return;
  SubQuery& parent = *r.queries[*child.parent];
  if (parent.children_running > 0) --parent.children_running;
  parent.tally.timeouts += child.tally.timeouts;
  parent.tally.network_errors += child.tally.network_errors;
  parent.tally.local_errors += child.tally.local_errors;
  if (parent.state == QueryState::finished || parent.reported) return;
  if (child.kind == QueryKind::ds || child.kind == QueryKind::dnskey) {
    if (r.validation) {
      for (auto& fetch : r.validation->fetches) {
        if (fetch.query == child.index) fetch.done = true;
      }
    }
    if (parent.state == QueryState::wait_keys) {
      parent.state = QueryState::validate;
      step(r, parent);
    }
    return;
  }
  if (child.kind == QueryKind::ns_address) {
    for (auto& ns : parent.cut.servers) {
      if (!(ns.name == child.question.name) || ns.lookup != NameServerEntry::Lookup::running) {
        continue;
      }
      if (ns.lookups_running > 0) --ns.lookups_running;
      if (child.result.rcode == Rcode::NOERROR) {
        for (const auto& address :
             addresses_from(child.result.answer, child.target, options_.upstream_port)) {
          if (std::find(ns.addresses.begin(), ns.addresses.end(), address) ==
              ns.addresses.end()) {
            ns.addresses.push_back(address);
          }
        }
      }
      if (ns.lookups_running == 0) {
        ns.lookup = ns.addresses.empty() ? NameServerEntry::Lookup::failed
                                         : NameServerEntry::Lookup::done;
        remember_addresses(parent.cut.zone, ns);
      }
    }
  }
  if (parent.state == QueryState::wait && !has_live_attempts(parent)) {
    parent.state = QueryState::send;
    step(r, parent);
  }
}

void Walker::finish_resolution(Resolution& r, ResolutionResult result) {
  if (r.finished) return;
  r.finished = true;
  const auto now = timers_.now();
  result.upstream_queries = r.upstream_queries;
  result.elapsed = duration_cast<milliseconds>(now - r.started);
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

// ---------------------------------------------------------------------------
// Root priming (RFC 8109)

bool Walker::priming_needed() const {
  if (root_primed()) return false;
  return timers_.now() >= next_priming_;
}

void Walker::start_priming() {
  priming_running_ = true;
  ++stats_.primings;
  wire::Question question{Name(), RRType::NS, wire::RRClass::IN};
  ResolutionKey key{Name(), RRType::NS, wire::RRClass::IN, false, true};
  Resolution& r = start_resolution(key, question, ResolveOptions{}, QueryKind::priming);
  // From a fresh loop turn: the query that asked for priming is still on
  // the stack.
  uint64_t id = r.id;
  defer([this, id] {
    if (Resolution* plan = find_resolution(id); plan && !plan->finished) {
      step(*plan, *plan->queries[0]);
    }
  });
}

void Walker::priming_done(const SubQuery& q) {
  priming_running_ = false;
  const auto now = timers_.now();
  size_t addresses = 0;
  if (q.primed_root) {
    for (const auto& ns : q.primed_root->servers) addresses += ns.addresses.size();
  }
  if (addresses > 0) {
    primed_root_ = *q.primed_root;
    primed_root_->zone = Name();
    // At least a minute, so a zero TTL cannot make every query re-prime.
    uint32_t ttl = std::clamp<uint32_t>(q.primed_ttl, 60, options_.max_ttl);
    primed_until_ = now + std::chrono::seconds(ttl);
  } else {
    next_priming_ = now + duration_cast<TimerService::Clock::duration>(options_.priming_retry);
  }
  auto waiters = std::move(priming_waiters_);
  priming_waiters_.clear();
  defer([this, waiters = std::move(waiters)] {
    for (const auto& ref : waiters) {
      Resolution* r = find_resolution(ref.resolution);
      if (!r || r->finished) continue;
      SubQuery& waiting = *r->queries[ref.query];
      if (waiting.state != QueryState::wait_priming) continue;
      begin_name(waiting);
      step(*r, waiting);
    }
  });
}

ZoneCut Walker::root_cut() const {
  if (primed_root_) return *primed_root_;
  ZoneCut cut;
  for (const auto& hint : hints_.servers) {
    NameServerEntry ns;
    ns.name = hint.name;
    ns.addresses = hint.addresses;
    ns.lookup = ns.addresses.empty() ? NameServerEntry::Lookup::not_started
                                     : NameServerEntry::Lookup::done;
    cut.servers.push_back(std::move(ns));
  }
  return cut;
}

ZoneCut Walker::closest_cut(const Name& name, bool for_ds) const {
  if (cache_) {
    auto hit = cache_->delegations().find_closest(name, wire::RRClass::IN, timers_.wall_seconds(),
                                                  cache::StalePolicy::fresh_only, for_ds);
    // The root comes from priming, which this worker keeps itself.
    if (hit && !hit->delegation.zone.is_root()) {
      ZoneCut cut;
      cut.zone = hit->delegation.zone;
      for (const auto& server : hit->delegation.servers) {
        if (cut.servers.size() >= kMaxNameServersPerCut) break;
        NameServerEntry ns;
        ns.name = server.name;
        for (const auto& ip : server.addresses) {
          if (auto address = ServerAddress::from_rdata(ip.octets(), options_.upstream_port)) {
            if (ns.addresses.size() < kMaxAddressesPerName) ns.addresses.push_back(*address);
          }
        }
        if (!ns.addresses.empty()) {
          ns.lookup = NameServerEntry::Lookup::done;
        } else if (ns.name.is_subdomain_of(cut.zone)) {
          ns.lookup = NameServerEntry::Lookup::failed;
        }
        cut.servers.push_back(std::move(ns));
      }
      return cut;
    }
  }
  return root_cut();
}

// ---------------------------------------------------------------------------
// The cache

bool Walker::answer_from_cache(Resolution& r, SubQuery& q) {
  if (!cache_ || q.question.type == RRType::ANY) return false;
  // DS/DNSKEY answers are judged from their signatures by the validation
  // that asked for them; the per-worker trust memo spares repeated fetches.
  if (q.kind == QueryKind::ds || q.kind == QueryKind::dnskey) return false;
  if (q.kind == QueryKind::client && r.options.refresh) return false;
  const uint32_t now = timers_.wall_seconds();
  const RRType type = q.question.type;
  // A validating question takes only data whose validation is settled
  // (secure or insecure); anything else is asked again and validated.
  const bool validated_only = q.kind == QueryKind::client && validating(r);
  auto usable = [&](cache::DnssecStatus status) {
    return !validated_only || status == cache::DnssecStatus::secure ||
           status == cache::DnssecStatus::insecure;
  };
  for (uint32_t hops = 0; hops <= options_.limits.max_cname_hops; ++hops) {
    // Only answer-section data answers a question; glue and referral NS
    // sets (lower ranks) never do. The walker never prefetches: a due
    // refresh stays with the answer cache's hit path (RefreshClaim::none).
    if (auto hit = cache_->rrsets().lookup(q.target, type, wire::RRClass::IN, now,
                                           cache::StalePolicy::fresh_only,
                                           cache::Rank::answer_nonauth, cache::RefreshClaim::none);
        hit && usable(hit->rrset.status())) {
      RRset set = hit->rrset.to_rrset(hit->ttl);
      set.owner = q.target;
      if (validated_only) record_cached_segment(r, q, q.target, {set}, hit->rrset.status());
      complete_answer(r, q, Rcode::NOERROR, {std::move(set)}, std::nullopt);
      return true;
    }
    if (type != RRType::CNAME) {
      if (auto hit = cache_->rrsets().lookup(q.target, RRType::CNAME, wire::RRClass::IN, now,
                                             cache::StalePolicy::fresh_only,
                                             cache::Rank::answer_nonauth,
                                             cache::RefreshClaim::none);
          hit && usable(hit->rrset.status())) {
        RRset set = hit->rrset.to_rrset(hit->ttl);
        set.owner = q.target;
        if (validated_only) record_cached_segment(r, q, q.target, {set}, hit->rrset.status());
        auto target = set.rdatas.size() == 1 ? rdata_target_name(set.rdatas[0]) : std::nullopt;
        if (target) {
          append_chain(r, q, {set});
          if (q.state == QueryState::finished) return true;
          q.target = *target;
          continue;
        }
      }
    }
    if (auto hit = cache_->negatives().lookup(q.target, type, wire::RRClass::IN, now);
        hit && usable(hit->entry.status())) {
      RRset soa = hit->entry.soa();
      soa.ttl = hit->ttl;
      if (validated_only) {
        // The proofs go to DO clients with the SOA (records() starts with it).
        std::vector<RRset> proofs = hit->entry.records();
        std::erase_if(proofs, [](const RRset& s) { return s.type == RRType::SOA; });
        for (auto& p : proofs) p.ttl = std::min(p.ttl, hit->ttl);
        record_cached_segment(r, q, q.target, std::move(proofs), hit->entry.status());
      }
      complete_answer(r, q, hit->kind == cache::NegativeKind::nxdomain ? Rcode::NXDOMAIN
                                                                        : Rcode::NOERROR,
                      {}, std::move(soa));
      return true;
    }
    // RFC 8198: validated NSEC/NSEC3 records may already prove the answer.
    if (validated_only && synthesize_denial(r, q)) return true;
    return false;
  }
  fail_query(r, q, EdeCode::Other,
             fmt::format("CNAME chain longer than {} links", options_.limits.max_cname_hops));
  return true;
}

void Walker::remember_response(const SubQuery& q, const Attempt& a, const wire::Message& msg,
                               const ClassifiedResponse& c) {
  (void)q;
  if (!cache_) return;
  const uint32_t now = timers_.wall_seconds();
  // Everything here passed the bailiwick filter of the classifier.
  if (c.kind == ResponseKind::referral && c.referral_ns) {
    cache::Delegation d;
    d.zone = c.referral_zone;
    d.ttl = c.referral_ns->ttl;
    for (const auto& rdata : c.referral_ns->rdatas) {
      auto name = rdata_target_name(rdata);
      if (!name) continue;
      cache::DelegationServer server;
      server.name = *name;
      for (const auto& address : addresses_from(c.glue, *name, options_.upstream_port)) {
        cache::IpAddress ip;
        if (cache::IpAddress::from_rdata(address.address_bytes(), ip)) server.addresses.push_back(ip);
      }
      d.servers.push_back(std::move(server));
    }
    cache_->delegations().insert(d, cache::Rank::authority, cache::DnssecStatus::indeterminate, now);
    return;
  }
  const cache::Rank rank =
      msg.header.aa() ? cache::Rank::answer_authoritative : cache::Rank::answer_nonauth;
  for (size_t i = 0; i < c.chain.size(); ++i) {
    // The CNAME synthesised from a DNAME is ours, not the server's data.
    if (i > 0 && c.chain[i - 1].type == RRType::DNAME) continue;
    cache_->insert_rrset(c.chain[i], rank, cache::DnssecStatus::indeterminate, now);
  }
  for (const auto& set : c.answers) {
    cache_->insert_rrset(set, rank, cache::DnssecStatus::indeterminate, now);
  }
  if ((c.kind == ResponseKind::nxdomain || c.kind == ResponseKind::nodata) && c.soa) {
    cache_->negatives().insert(c.kind == ResponseKind::nxdomain ? cache::NegativeKind::nxdomain
                                                                : cache::NegativeKind::nodata,
                               c.final_name, a.sent_type, wire::RRClass::IN, *c.soa, {},
                               cache::DnssecStatus::indeterminate, now);
  }
}

void Walker::remember_addresses(const Name& zone, const NameServerEntry& ns) {
  if (!cache_ || ns.addresses.empty()) return;
  std::vector<cache::IpAddress> ips;
  for (const auto& address : ns.addresses) {
    cache::IpAddress ip;
    if (cache::IpAddress::from_rdata(address.address_bytes(), ip)) ips.push_back(ip);
  }
  cache_->delegations().set_addresses(zone, wire::RRClass::IN, ns.name, ips,
                                      cache::Rank::answer_authoritative, timers_.wall_seconds());
}

}  // namespace sextant::resolver
