#include "resolver/front/query_pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "resolver/front/root_key_sentinel.h"
#include <fmt/format.h>

#include "wire/message_builder.h"

namespace sextant::resolver {

using transports::Responder;
using wire::EdeCode;
using wire::Rcode;

namespace {

constexpr uint8_t kFlagsLowAD = 0x20;  // in octet 3 of the header
constexpr uint8_t kFlagsLowCD = 0x10;
constexpr uint8_t kFlagsHighRD = 0x01;  // in octet 2
constexpr size_t kOptFixed = 11;
constexpr size_t kOptionHeader = 4;

void put16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t get16(const uint8_t* p) noexcept { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

cache::DnssecStatus to_cache_status(ValidationState v) noexcept {
  switch (v) {
    case ValidationState::secure: return cache::DnssecStatus::secure;
    case ValidationState::insecure: return cache::DnssecStatus::insecure;
    case ValidationState::bogus: return cache::DnssecStatus::bogus;
    case ValidationState::unchecked:
    case ValidationState::indeterminate: break;
  }
  return cache::DnssecStatus::indeterminate;
}

// Appends this client's OPT record (payload size, DO, then the options:
// cookie, TCP keepalive, EDE, block padding) to the answer in buf[0, len).
// An option that does not fit is left out (padding first, then EDE, then
// keepalive, then the cookie). Returns the new length, or 0 when even the
// bare OPT does not fit in `room`.
size_t append_opt(std::span<uint8_t> buf, size_t len, size_t room, uint16_t udp_size, bool dnssec_ok,
                  const wire::ExtendedErrorOption* ede, uint16_t padding_block, uint16_t keepalive_100ms,
                  std::span<const uint8_t> cookie, std::span<const uint8_t> ecs_echo = {},
                  uint8_t ecs_scope = 0) noexcept {
  const size_t limit = std::min(room, buf.size());
  if (len + kOptFixed > limit) return 0;
  size_t used = len + kOptFixed;
  bool with_cookie = !cookie.empty() && used + kOptionHeader + cookie.size() <= limit;
  if (with_cookie) used += kOptionHeader + cookie.size();
  bool with_ecs = ecs_echo.size() >= 4 && used + kOptionHeader + ecs_echo.size() <= limit;
  if (with_ecs) used += kOptionHeader + ecs_echo.size();
  const size_t keepalive_size = kOptionHeader + 2;
  bool keepalive = keepalive_100ms != 0 && used + keepalive_size <= limit;
  if (keepalive) used += keepalive_size;
  size_t ede_text = ede ? std::min<size_t>(ede->extra_text.size(), 256) : 0;
  bool with_ede = ede && used + kOptionHeader + 2 + ede_text <= limit;
  if (with_ede) used += kOptionHeader + 2 + ede_text;
  size_t pad = 0;
  bool padded = padding_block > 0 && used + kOptionHeader <= limit;
  if (padded) {
    size_t bare = used + kOptionHeader;
    size_t target = (bare + padding_block - 1) / padding_block * padding_block;
    pad = std::min(target, limit) - bare;
    used = bare + pad;
  }

  uint8_t* p = buf.data() + len;
  p[0] = 0;                                            // root owner
  put16(p + 1, static_cast<uint16_t>(wire::RRType::OPT));
  put16(p + 3, udp_size);                              // class = payload size
  p[5] = 0;                                            // extended rcode
  p[6] = 0;                                            // version
  put16(p + 7, dnssec_ok ? 0x8000 : 0);                // DO
  put16(p + 9, static_cast<uint16_t>(used - len - kOptFixed));
  p += kOptFixed;
  if (with_cookie) {
    put16(p, static_cast<uint16_t>(wire::EdnsOptionCode::Cookie));
    put16(p + 2, static_cast<uint16_t>(cookie.size()));
    std::memcpy(p + 4, cookie.data(), cookie.size());
    p += kOptionHeader + cookie.size();
  }
  if (with_ecs) {
    put16(p, static_cast<uint16_t>(wire::EdnsOptionCode::ClientSubnet));
    put16(p + 2, static_cast<uint16_t>(ecs_echo.size()));
    std::memcpy(p + 4, ecs_echo.data(), ecs_echo.size());
    p[4 + 3] = ecs_scope;  // SCOPE PREFIX-LENGTH (RFC 7871 §6)
    p += kOptionHeader + ecs_echo.size();
  }
  if (keepalive) {
    put16(p, static_cast<uint16_t>(wire::EdnsOptionCode::TcpKeepalive));
    put16(p + 2, 2);
    put16(p + 4, keepalive_100ms);
    p += keepalive_size;
  }
  if (with_ede) {
    put16(p, static_cast<uint16_t>(wire::EdnsOptionCode::ExtendedError));
    put16(p + 2, static_cast<uint16_t>(2 + ede_text));
    put16(p + 4, ede->info_code);
    std::memcpy(p + 6, ede->extra_text.data(), ede_text);
    p += kOptionHeader + 2 + ede_text;
  }
  if (padded) {
    put16(p, static_cast<uint16_t>(wire::EdnsOptionCode::Padding));
    put16(p + 2, static_cast<uint16_t>(pad));
    std::memset(p + 4, 0, pad);
  }
  uint8_t* arcount = buf.data() + 10;
  put16(arcount, static_cast<uint16_t>(get16(arcount) + 1));
  return used;
}

uint32_t min_ttl(const ResolutionResult& r) noexcept {
  uint32_t ttl = std::numeric_limits<uint32_t>::max();
  for (const auto& s : r.answer) ttl = std::min(ttl, s.ttl);
  for (const auto& s : r.authority) ttl = std::min(ttl, s.ttl);
  return ttl == std::numeric_limits<uint32_t>::max() ? 0 : ttl;
}

}  // namespace

namespace {

const std::shared_ptr<const policy::Policy>& no_policy() {
  static const auto empty = std::make_shared<const policy::Policy>();
  return empty;
}

}  // namespace

QueryPipeline::QueryPipeline(const PipelineSettings& settings, const AccessControl& acl, cache::Cache& cache,
                             Walker& walker, TimerService& timers, PipelineStats& stats)
    : settings_(settings),
      acl_(&acl),
      policy_(no_policy()),
      cache_(cache),
      walker_(walker),
      timers_(timers),
      stats_(stats),
      defences_(settings.defences),
      ecs_(settings.ecs) {}

QueryPipeline::~QueryPipeline() { *alive_ = false; }

namespace {

transports::DnstapEvent dnstap_event(transports::DnstapMessageType type, transports::Transport transport,
                                     const sockaddr* peer, const sockaddr* local, unsigned worker,
                                     std::span<const uint8_t> message, transports::DnstapTime time) {
  transports::DnstapEvent e;
  e.type = type;
  e.transport = transport;
  e.query_address = peer;
  e.response_address = local;
  e.message = message;
  e.time = time;
  e.worker = worker;
  return e;
}

// CLIENT_RESPONSE for an answer to a query received at `received`.
void log_client_response(transports::DnstapWriter& dnstap, transports::Transport transport, const sockaddr* peer,
                         const sockaddr* local, unsigned worker, transports::DnstapTime received,
                         std::span<const uint8_t> answer) {
  auto e = dnstap_event(transports::DnstapMessageType::client_response, transport, peer, local, worker, answer,
                        transports::DnstapTime::now());
  e.query_time = received;
  dnstap.log(e);
}

}  // namespace

void QueryPipeline::handle(const transports::Request& request, Responder responder) {
  stats_.queries.fetch_add(1, std::memory_order_relaxed);
  transports::DnstapTime received;
  transports::DnstapWriter* dnstap = settings_.dnstap;
  if (dnstap) {
    received = transports::DnstapTime::now();
    if (dnstap->wants(transports::DnstapMessageType::client_query))
      dnstap->log(dnstap_event(transports::DnstapMessageType::client_query, request.transport, request.peer,
                               request.local, request.worker, request.query, received));
  }
  const bool sampled = settings_.event_log && settings_.event_log->sample(request.worker);
  wire::ParsedQuery q;
  wire::QueryParseResult parsed = wire::parse_query(request.query, q);
  if (parsed.outcome == wire::QueryOutcome::drop || parsed.outcome == wire::QueryOutcome::ignore) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    // Not a query (too short, or a response sent to us): logged as malformed.
    if (sampled) log_dropped_packet(request, eventlog::EventReason::malformed);
    responder.drop();
    return;
  }
  AclAction action = acl_->decide(request.peer);
  if (action == AclAction::deny) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    if (sampled) log_dropped_packet(request, eventlog::EventReason::dropped_by_acl);
    responder.drop();
    return;
  }
  // Cookies, then UDP rate limiting (query_defences.h).
  ClientAddress client_address;
  const bool addressed = ClientAddress::from(request.peer, client_address);
  ServerCookies::Judgement cookie;
  if (parsed.outcome == wire::QueryOutcome::ok && q.has_cookie && addressed && defences_.cookies_enabled())
    cookie = defences_.judge_cookie(q.cookie, client_address, timers_.wall_seconds());
  bool slip = false;
  if (request.transport == transports::Transport::udp && addressed && !request.proxy_local &&
      defences_.rate_limiting() && action == AclAction::allow) {
    auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(timers_.now().time_since_epoch());
    QueryDefences::Admission admission = defences_.admit_udp(
        client_address, cookie.verdict == ServerCookies::Verdict::valid, static_cast<uint64_t>(now_us.count()));
    if (admission == QueryDefences::Admission::drop ||
        (admission == QueryDefences::Admission::slip && parsed.outcome != wire::QueryOutcome::ok)) {
      if (admission == QueryDefences::Admission::slip) defences_.count(&DefenceStats::rate_limited);
      responder.drop();
      return;
    }
    slip = admission == QueryDefences::Admission::slip;
  }
  if (parsed.outcome == wire::QueryOutcome::formerr) {
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    wire::MessageBuilder b(buffer_, request.transport == transports::Transport::udp ? 512 : 65535);
    if (b.begin_response(q) != wire::WireError::ok) {
      // The question itself is unreadable: answer with the bare header.
      b.header() = wire::response_header_for(q.header);
    }
    b.header().set_ra(true);
    b.set_rcode(Rcode::FORMERR);
    std::span<const uint8_t> answer = b.finish();
    if (dnstap && dnstap->wants(transports::DnstapMessageType::client_response))
      log_client_response(*dnstap, request.transport, request.peer, request.local, request.worker, received, answer);
    if (sampled) log_dropped_packet(request, eventlog::EventReason::malformed, answer);
    responder.respond(answer);
    return;
  }

  Client c;
  // Views, DNS64 and the event log decide by the addresses: read them only
  // when one of those is on (this is the cache-hit path).
  if (sampled || policy_->active()) {
    c.client_address = policy::Address::from_sockaddr(request.peer);
    c.local_address = policy::Address::from_sockaddr(request.local);
  }
  c.transport = request.transport;
  c.worker = request.worker;
  if (sampled) {
    c.log_event = true;
    c.received_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
    c.received_wall = dnstap ? received : transports::DnstapTime::now();
  }
  if (dnstap && dnstap->wants(transports::DnstapMessageType::client_response)) {
    c.origin.emplace(Client::Origin{transports::SocketAddress(request.peer),
                                    transports::SocketAddress(request.local), request.transport,
                                    request.worker, received});
  }
  c.query_header = q.header;
  c.qname = q.qname;
  c.qtype = q.qtype;
  c.qclass = q.qclass;
  c.has_edns = q.has_edns;
  c.dnssec_ok = q.dnssec_ok;
  c.wants_padding = q.has_padding && transports::is_encrypted(request.transport);
  c.wants_keepalive = q.has_tcp_keepalive && (request.transport == transports::Transport::tcp ||
                                              request.transport == transports::Transport::dot);
  if (request.transport == transports::Transport::udp) {
    size_t client_size = q.has_edns ? std::max<size_t>(512, q.udp_payload_size) : 512;
    c.limit = std::min({client_size, size_t{std::max<uint16_t>(512, settings_.edns_buffer_size)},
                        request.max_response_size});
  } else {
    c.limit = std::min<size_t>(65535, request.max_response_size);
  }

  if (cookie.reply_size) {
    c.cookie = cookie.reply;
    c.cookie_size = cookie.reply_size;
  }
  if (cookie.verdict == ServerCookies::Verdict::malformed) {
    // RFC 7873 §5.2.2.
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    respond_error(c, Rcode::FORMERR, responder, nullptr);
    return;
  }
  if (q.has_client_subnet && ecs_.enabled() && !take_client_subnet(c, q, addressed ? &client_address : nullptr,
                                                                     responder))
    return;
  if (slip) {
    // Over the rate limit: a client with a cookie learns a fresh one with
    // BADCOOKIE and retries with it (then exempt); others get TC=1 and
    // retry over TCP. Both answers are no larger than the query plus the
    // cookie, so a spoofed flood is not amplified.
    if (c.cookie_size) {
      defences_.count(&DefenceStats::badcookie);
      respond_error(c, Rcode::BADCOOKIE, responder, nullptr);
    } else {
      defences_.count(&DefenceStats::slipped);
      respond_error(c, Rcode::NOERROR, responder, nullptr, true);
    }
    return;
  }
  if (action == AclAction::refuse) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    wire::ExtendedErrorOption ede{static_cast<uint16_t>(EdeCode::Prohibited), ""};
    respond_error(c, Rcode::REFUSED, responder, &ede);
    return;
  }
  if (q.header.opcode() == wire::Opcode::NOTIFY) {
    answer_notify(c, request, responder);
    return;
  }
  if (q.header.opcode() != wire::Opcode::QUERY) {
    stats_.notimp.fetch_add(1, std::memory_order_relaxed);
    respond_error(c, Rcode::NOTIMP, responder, nullptr);
    return;
  }
  if (q.has_edns && q.edns_version != 0) {
    respond_error(c, Rcode::BADVERS, responder, nullptr);
    return;
  }
  if (c.qclass != wire::RRClass::IN) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    wire::ExtendedErrorOption ede{static_cast<uint16_t>(EdeCode::NotSupported), "only class IN is served"};
    respond_error(c, Rcode::REFUSED, responder, &ede);
    return;
  }
  if (c.qtype == wire::RRType::AXFR || c.qtype == wire::RRType::IXFR) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    wire::ExtendedErrorOption ede{static_cast<uint16_t>(EdeCode::NotSupported), "zone transfers are not served"};
    respond_error(c, Rcode::REFUSED, responder, &ede);
    return;
  }
  if (c.qtype == wire::RRType::OPT) {
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    respond_error(c, Rcode::FORMERR, responder, nullptr);
    return;
  }
  if (wire::is_meta_type(c.qtype) && c.qtype != wire::RRType::ANY) {
    stats_.notimp.fetch_add(1, std::memory_order_relaxed);
    respond_error(c, Rcode::NOTIMP, responder, nullptr);
    return;
  }

  if (settings_.drain && settings_.drain->must_fail(request, c.qname)) {
    stats_.servfail.fetch_add(1, std::memory_order_relaxed);
    wire::ExtendedErrorOption ede{static_cast<uint16_t>(EdeCode::NotReady), "shutting down"};
    respond_error(c, Rcode::SERVFAIL, responder, &ede);
    return;
  }
  if (policy_->active() && apply_query_policy(c, responder)) return;

  bool stale_available = false;
  if (answer_from_cache(c, cache::StalePolicy::fresh_only, responder, &stale_available)) return;
  // ECS costs nothing before this point: a shared answer holds for every
  // subnet (scope 0), so the subnet is worked out on a miss only.
  if (ecs_.enabled() && answer_for_subnet(c, addressed ? &client_address : nullptr, responder)) return;
  stats_.cache_misses.fetch_add(1, std::memory_order_relaxed);
  if (fail_fast(c, responder, stale_available)) return;
  resolve(c, std::move(responder), stale_available);
}

bool QueryPipeline::fail_fast(const Client& c, Responder& responder, bool stale_available) {
  Walker::QuickFailure failure = walker_.quick_failure(wire::Question{c.qname, c.qtype, c.qclass});
  if (!failure) return false;
  times_.record(std::chrono::microseconds{0});
  const bool held_down = failure.kind == Walker::QuickFailure::Kind::held_down;
  if (!held_down && walker_.options().limits.drop_over_limit) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    if (c.log_event) log_event(c, {}, eventlog::EventReason::dropped_over_limit);
    responder.drop();
    return true;
  }
  // RFC 8767: a failed refresh is answered from stale data when there is some.
  if (stale_available && settings_.serve_stale &&
      answer_from_cache(c, cache::StalePolicy::allow_stale, responder))
    return true;
  stats_.servfail.fetch_add(1, std::memory_order_relaxed);
  // The text is rendered again only when the zone or the reason changes, so
  // a flood of names under one zone allocates nothing here.
  const auto code = static_cast<uint16_t>(held_down ? EdeCode::NoReachableAuthority : EdeCode::Other);
  if (fast_failure_ede_.info_code != code || !(fast_failure_zone_ == failure.zone) ||
      fast_failure_ede_.extra_text.empty()) {
    fast_failure_ede_.info_code = code;
    fast_failure_zone_ = failure.zone;
    fast_failure_ede_.extra_text =
        held_down ? fmt::format("no reachable authority for {}: every server is held down after timeouts",
                                failure.zone.to_text())
                  : fmt::format("{} queries already in flight to {} (the per-zone cap)",
                                walker_.options().limits.max_outstanding_per_zone, failure.zone.to_text());
  }
  respond_error(c, Rcode::SERVFAIL, responder, &fast_failure_ede_);
  return true;
}

bool QueryPipeline::answer_from_cache(const Client& c, cache::StalePolicy policy, Responder& responder,
                                      bool* stale_available) {
  cache::CacheKey key =
      cache::make_answer_key(c.qname, c.qtype, c.qclass, c.dnssec_ok, c.query_header.cd(), c.view_tag);
  size_t length = 0;
  cache::AnswerHit hit;
  if (!cache_.answers().lookup(key, c.query_header.id, c.qname, timers_.wall_seconds(), buffer_, length, hit,
                               policy)) {
    if (stale_available) *stale_available = hit.stale_available;
    return false;
  }
  if (needs_rescreening(c, length)) return false;
  stats_.cache_hits.fetch_add(1, std::memory_order_relaxed);
  c.cache_status = hit.freshness == cache::Freshness::stale          ? eventlog::CacheStatus::stale
                   : hit.freshness == cache::Freshness::prefetch_due ? eventlog::CacheStatus::prefetch
                                                                     : eventlog::CacheStatus::hit;
  c.dnssec_status = hit.status == cache::DnssecStatus::secure     ? eventlog::DnssecStatus::secure
                    : hit.status == cache::DnssecStatus::insecure ? eventlog::DnssecStatus::insecure
                    : hit.status == cache::DnssecStatus::bogus    ? eventlog::DnssecStatus::bogus
                                                                  : eventlog::DnssecStatus::indeterminate;
  wire::ExtendedErrorOption hit_ede;
  const wire::ExtendedErrorOption* ede = nullptr;
  if (hit.freshness == cache::Freshness::stale) {
    stats_.stale_served.fetch_add(1, std::memory_order_relaxed);
    hit_ede.info_code = static_cast<uint16_t>(hit.stale_ede());
    ede = &hit_ede;
  } else if (hit.info_ede) {
    hit_ede.info_code = static_cast<uint16_t>(*hit.info_ede);
    ede = &hit_ede;
  }
  deliver(c, length, responder, hit.status == cache::DnssecStatus::secure, ede);
  if (hit.freshness == cache::Freshness::prefetch_due && hit.refresh_claimed && settings_.prefetch) start_refresh(c);
  return true;
}

void QueryPipeline::resolve(const Client& c, Responder responder, bool stale_available) {
  auto pending = std::make_shared<Pending>();
  pending->client = c;
  pending->responder = std::move(responder);
  pending->stale_available = stale_available && settings_.serve_stale;
  pending->started = timers_.now();
  if (pending->stale_available) {
    // RFC 8767 client response timer: if the refresh is slow, answer stale
    // now and let the resolution finish in the background.
    pending->stale_timer = timers_.schedule(settings_.stale_client_timeout, [this, pending, alive = alive_] {
      if (!*alive) return;
      pending->stale_timer = 0;
      if (pending->responder &&
          answer_from_cache(pending->client, cache::StalePolicy::allow_stale, pending->responder))
        times_.record(std::chrono::duration_cast<std::chrono::microseconds>(timers_.now() - pending->started));
    });
  }
  wire::Question question{c.qname.lowercased(), c.qtype, c.qclass};
  walker_.resolve(question,
                  {.dnssec_ok = c.dnssec_ok, .checking_disabled = c.query_header.cd(), .client_subnet = c.subnet},
                  [this, pending, alive = alive_](const ResolutionResult& result) {
                    if (*alive) on_resolved(pending, result);
                  });
}

void QueryPipeline::start_refresh(const Client& c) {
  stats_.prefetches.fetch_add(1, std::memory_order_relaxed);
  // No client waits: the result goes through the same end as a miss (the
  // view's policy on the answer, the store), then the claim is released.
  auto pending = std::make_shared<Pending>();
  pending->client = c;
  pending->client.log_event = false;
  pending->refresh = true;
  pending->started = timers_.now();
  wire::Question question{c.qname.lowercased(), c.qtype, c.qclass};
  walker_.resolve(question,
                  {.dnssec_ok = c.dnssec_ok, .checking_disabled = c.query_header.cd(), .refresh = true},
                  [this, pending, alive = alive_](const ResolutionResult& result) {
                    if (*alive) on_resolved(pending, result);
                  });
}

void QueryPipeline::on_resolved(const std::shared_ptr<Pending>& pending, const ResolutionResult& result) {
  if (pending->stale_timer != 0) {
    timers_.cancel(pending->stale_timer);
    pending->stale_timer = 0;
  }
  // Rebinding protection judges what the servers sent, before the policy's
  // answer stage: what policy writes (local data, walled gardens, DNS64) is
  // the operator's own and is not screened.
  ResolutionResult scratch;
  const ResolutionResult* screened = screen(result, scratch);
  if (!screened) {
    const Client& c = pending->client;
    if (pending->stale_available || pending->refresh)
      cache_.answers().finish_refresh({c.qname, c.qtype, c.qclass, c.dnssec_ok, c.query_header.cd(), c.view_tag});
    if (!pending->responder) return;
    times_.record(std::chrono::duration_cast<std::chrono::microseconds>(timers_.now() - pending->started));
    refuse_rebinding(c, pending->responder);
    return;
  }
  if (policy_->active() && apply_response_policy(pending, *screened)) return;
  finish_resolution(pending, *screened);
}

void QueryPipeline::finish_resolution(const std::shared_ptr<Pending>& pending, const ResolutionResult& result,
                                      uint32_t negative_ttl) {
  const Client& c = pending->client;
  size_t length = render_and_store(c, result, negative_ttl);
  if (pending->stale_available || pending->refresh)
    cache_.answers().finish_refresh({c.qname, c.qtype, c.qclass, c.dnssec_ok, c.query_header.cd(), c.view_tag});
  if (!pending->responder) return;  // a prefetch, or already answered from stale data
  if (result.drop) {
    // A cap on queries in flight refused it, and such questions are dropped.
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    if (c.log_event) log_event(c, {}, eventlog::EventReason::dropped_over_limit);
    pending->responder.drop();
    return;
  }
  times_.record(std::chrono::duration_cast<std::chrono::microseconds>(timers_.now() - pending->started));
  c.cache_status = eventlog::CacheStatus::miss;
  c.dnssec_status = static_cast<eventlog::DnssecStatus>(result.validation);
  if (result.rcode == Rcode::SERVFAIL) {
    stats_.servfail.fetch_add(1, std::memory_order_relaxed);
    if (pending->stale_available &&
        answer_from_cache(c, cache::StalePolicy::allow_stale, pending->responder))
      return;
  }
  if (length == 0) {
    respond_error(c, Rcode::SERVFAIL, pending->responder, result.ede ? &*result.ede : nullptr);
    return;
  }
  deliver(c, length, pending->responder, result.validation == ValidationState::secure,
          result.ede ? &*result.ede : nullptr);
}

const ResolutionResult* QueryPipeline::screen(const ResolutionResult& result, ResolutionResult& scratch) {
  if (!settings_.rebinding || !settings_.rebinding->enabled()) return &result;
  size_t removed = 0;
  switch (settings_.rebinding->filter(result, scratch, removed, walker_.options().configured.get())) {
    case RebindingFilter::Verdict::clean:
      return &result;
    case RebindingFilter::Verdict::filtered:
      defences_.count(&DefenceStats::rebinding_removed, removed);
      return &scratch;
    case RebindingFilter::Verdict::refused:
      defences_.count(&DefenceStats::rebinding_removed, removed);
      return nullptr;
  }
  return &result;
}

bool QueryPipeline::needs_rescreening(const Client& c, size_t length) const {
  // A stored answer with a private address is either the policy's own (an
  // RPZ response-IP rewrite: never screened) or was stored before rebinding
  // protection or its private zones changed by a reload. The cache cannot
  // tell which, so it is not served: the miss path decides again.
  return settings_.rebinding && settings_.rebinding->enabled() &&
         (c.qtype == wire::RRType::A || c.qtype == wire::RRType::AAAA || c.qtype == wire::RRType::ANY) &&
         !settings_.rebinding->answer_is_clean({buffer_.data(), length}, walker_.options().configured.get());
}

void QueryPipeline::refuse_rebinding(const Client& c, Responder& responder) {
  defences_.count(&DefenceStats::rebinding_refused);
  stats_.refused.fetch_add(1, std::memory_order_relaxed);
  wire::ExtendedErrorOption ede{static_cast<uint16_t>(EdeCode::Blocked),
                                "private address in a public zone (rebinding protection)"};
  respond_error(c, Rcode::REFUSED, responder, &ede);
}

size_t QueryPipeline::render(const Client& c, const ResolutionResult& result, bool authoritative, bool* truncated) {
  wire::MessageBuilder b(buffer_, wire::MessageBuilder::kMaxMessageSize);
  b.header() = wire::response_header_for(c.query_header);
  b.header().set_ra(true);
  b.header().set_aa(authoritative);
  if (b.add_question(c.qname, c.qtype, c.qclass) != wire::WireError::ok) return 0;
  b.set_rcode(result.rcode);
  for (const auto& set : result.answer) b.add_rrset(wire::Section::answer, set, c.dnssec_ok);
  for (const auto& set : result.authority) {
    // Denial proofs are for DNSSEC-aware clients only (RFC 4035 §3.2.1);
    // the result carries them because deduplicated clients share it.
    bool proof = set.type == wire::RRType::NSEC || set.type == wire::RRType::NSEC3;
    if (proof && !c.dnssec_ok) continue;
    b.add_rrset(wire::Section::authority, set, c.dnssec_ok);
  }
  std::span<const uint8_t> packet = b.finish();
  if (truncated) *truncated = b.truncated();
  return packet.size();
}

size_t QueryPipeline::render_and_store(const Client& c, const ResolutionResult& result, uint32_t negative_ttl) {
  bool truncated = false;
  size_t length = render(c, result, false, &truncated);
  if (length == 0 || truncated) return length;
  std::span<const uint8_t> packet(buffer_.data(), length);
  bool cacheable = result.rcode == Rcode::NOERROR || result.rcode == Rcode::NXDOMAIN;
  uint32_t ttl = result.answer.empty() && result.authority.empty() ? negative_ttl : min_ttl(result);
  const bool scoped = ecs_.enabled() && store_scoped(c, result, packet, cacheable ? ttl : 0);
  if (cacheable && ttl > 0 && !scoped) {
    cache::AnswerKey key{c.qname, c.qtype, c.qclass, c.dnssec_ok, c.query_header.cd(), c.view_tag};
    std::optional<wire::EdeCode> ede;
    if (result.ede) ede = result.ede->code();
    cache_.answers().insert(key, packet, ttl, to_cache_status(result.validation), timers_.wall_seconds(), ede);
  }
  return packet.size();
}

void QueryPipeline::deliver(const Client& c, size_t length, Responder& responder, bool secure,
                            const wire::ExtendedErrorOption* ede) {
  // RFC 8509 on secure A/AAAA answers, hits and misses alike: the first
  // label's length filters out every other name at once.
  if (secure && settings_.root_key_sentinel && !c.query_header.cd() &&
      (c.qtype == wire::RRType::A || c.qtype == wire::RRType::AAAA)) {
    const RootKeySentinel sentinel = parse_root_key_sentinel(c.qname);
    if (sentinel.kind != RootKeySentinel::Kind::none &&
        sentinel_fails(sentinel, walker_.options().dnssec.anchors.get())) {
      stats_.servfail.fetch_add(1, std::memory_order_relaxed);
      const wire::ExtendedErrorOption why{
          static_cast<uint16_t>(EdeCode::Other),
          fmt::format("root-key-sentinel: key {} {} a trust anchor", sentinel.key_tag,
                      sentinel.kind == RootKeySentinel::Kind::is_ta ? "is not" : "is")};
      respond_error(c, Rcode::SERVFAIL, responder, &why);
      return;
    }
  }
  uint8_t* p = buffer_.data();
  // The stored answer carries another client's RD/CD; AD is only for
  // clients that asked for DNSSEC (DO) or said they understand it (AD).
  p[2] = static_cast<uint8_t>((p[2] & ~kFlagsHighRD) | (c.query_header.rd() ? kFlagsHighRD : 0));
  bool ad = secure && (c.dnssec_ok || c.query_header.ad()) && !c.query_header.cd();
  p[3] = static_cast<uint8_t>((p[3] & ~(kFlagsLowAD | kFlagsLowCD)) | (ad ? kFlagsLowAD : 0) |
                              (c.query_header.cd() ? kFlagsLowCD : 0));
  size_t total = length;
  if (c.has_edns) {
    total = append_opt(buffer_, length, c.limit, settings_.edns_buffer_size, c.dnssec_ok, ede,
                       c.wants_padding ? settings_.padding_block : 0,
                       c.wants_keepalive ? settings_.tcp_keepalive_100ms : 0, {c.cookie.data(), c.cookie_size},
                       {c.ecs_echo.data(), c.ecs_echo_size}, c.ecs_honoured ? c.ecs_answer_scope : uint8_t{0});
  }
  if (total == 0 || total > c.limit) {
    // Too big for this client: the question with TC=1 sends it to TCP.
    stats_.truncated.fetch_add(1, std::memory_order_relaxed);
    auto rcode = static_cast<Rcode>(p[3] & 0x0F);
    wire::MessageBuilder b(buffer_, c.limit);
    b.header() = wire::response_header_for(c.query_header);
    b.header().set_ra(true);
    b.header().set_tc(true);
    b.add_question(c.qname, c.qtype, c.qclass);
    if (c.has_edns) {
      b.set_edns(wire::EdnsParams{.udp_payload_size = settings_.edns_buffer_size, .dnssec_ok = c.dnssec_ok});
      if (c.cookie_size)
        b.add_edns_option(static_cast<uint16_t>(wire::EdnsOptionCode::Cookie), {c.cookie.data(), c.cookie_size});
    }
    b.set_rcode(rcode);
    send(c, responder, b.finish());
    return;
  }
  send(c, responder, {buffer_.data(), total});
}

void QueryPipeline::respond_error(const Client& c, Rcode rcode, Responder& responder,
                                  const wire::ExtendedErrorOption* ede, bool truncated) {
  wire::MessageBuilder b(buffer_, c.limit);
  b.header() = wire::response_header_for(c.query_header);
  b.header().set_ra(true);
  if (truncated) b.header().set_tc(true);
  b.add_question(c.qname, c.qtype, c.qclass);
  if (c.has_edns) {
    b.set_edns(wire::EdnsParams{.udp_payload_size = settings_.edns_buffer_size, .dnssec_ok = c.dnssec_ok});
    if (c.cookie_size)
      b.add_edns_option(static_cast<uint16_t>(wire::EdnsOptionCode::Cookie), {c.cookie.data(), c.cookie_size});
    if (c.wants_keepalive && settings_.tcp_keepalive_100ms) {
      uint8_t timeout[2] = {static_cast<uint8_t>(settings_.tcp_keepalive_100ms >> 8),
                            static_cast<uint8_t>(settings_.tcp_keepalive_100ms)};
      b.add_edns_option(static_cast<uint16_t>(wire::EdnsOptionCode::TcpKeepalive), timeout);
    }
    // RFC 7871 §7.2.2: a query with ECS gets it back (scope 0: nothing here
    // depended on the subnet).
    if (c.ecs_echo_size)
      b.add_edns_option(static_cast<uint16_t>(wire::EdnsOptionCode::ClientSubnet), {c.ecs_echo.data(), c.ecs_echo_size});
    if (ede) b.add_extended_error(ede->code(), ede->extra_text);
    if (c.wants_padding) b.set_padding_block(settings_.padding_block);
  }
  b.set_rcode(rcode);
  send(c, responder, b.finish());
}

void QueryPipeline::send(const Client& c, Responder& responder, std::span<const uint8_t> answer) {
  // A responder already used (stale answer sent, then the resolution ended)
  // sends nothing, so nothing is logged either.
  if (!responder) return;
  if (c.origin && settings_.dnstap) dnstap_response(c, answer);
  if (c.log_event) log_event(c, answer, eventlog::EventReason::answered);
  responder.respond(answer);
}

}  // namespace sextant::resolver
