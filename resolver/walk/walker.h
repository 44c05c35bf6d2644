// The iterative walker: resolves questions from the root down (RFC 1034
// §5.3.3), one Walker per worker thread, driven by that worker's event
// loop through the injected UpstreamNetwork and TimerService.
//
//   Walker walker(network, timers, options, RootHints::embedded());
//   walker.resolve(question, {.dnssec_ok = do_bit}, [](const ResolutionResult& r) { ... });
//
// - Identical questions in flight (name, type, class, CD) share one
//   resolution; every caller's callback runs when it ends.
// - Callbacks never run from inside resolve(); they run from a network or
//   timer event, on the loop, exactly once per resolve() call.
// - Every resolution ends by its deadline (WalkerLimits::resolution_deadline)
//   with an answer or a SERVFAIL carrying an Extended DNS Error.
// - No packet is sent before the first resolve(): the root is primed
//   (RFC 8109) lazily by the first question.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/cache.h"
#include "resolver/walk/configured_zones.h"
#include "resolver/walk/denial_memory.h"
#include "resolver/walk/inflight_questions.h"
#include "resolver/walk/zone_servers_memo.h"
#include "resolver/walk/outstanding_queries.h"
#include "resolver/walk/query_plan.h"
#include "resolver/walk/query_randomness.h"
#include "resolver/walk/resolution_result.h"
#include "resolver/walk/resolver_limits.h"
#include "resolver/walk/response_classifier.h"
#include "resolver/walk/root_hints.h"
#include "resolver/walk/server_selection.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/upstream_network.h"
#include "resolver/walk/upstream_reasons.h"
#include "resolver/walk/walk_trace.h"
#include "resolver/walk/zone_outcomes.h"
#include "wire/message.h"
#include "wire/message_builder.h"

namespace sextant::resolver {

struct WalkerStats {
  uint64_t resolutions = 0;        // started (not counting deduplicated joins)
  uint64_t deduplicated = 0;       // resolve() calls that joined one in flight
  uint64_t upstream_queries = 0;   // packets sent
  uint64_t upstream_timeouts = 0;  // retransmission timers fired
  uint64_t spoofed_dropped = 0;    // replies with wrong ID/question/source
  uint64_t case_mismatches = 0;    // 0x20 not echoed -> TCP
  uint64_t tcp_fallbacks = 0;      // TC=1 or case mismatch -> TCP
  uint64_t edns_fallbacks = 0;     // FORMERR/NOTIMP to EDNS -> plain DNS
  uint64_t qmin_fallbacks = 0;     // relaxed QNAME minimisation gave up on a name
  uint64_t primings = 0;
  uint64_t servfails = 0;
  uint64_t deadline_expired = 0;
  // DNSSEC (client questions validated, by outcome; DS/DNSKEY sub-queries).
  uint64_t validated_secure = 0;
  uint64_t validated_insecure = 0;
  uint64_t validated_bogus = 0;
  uint64_t validated_indeterminate = 0;
  uint64_t key_queries = 0;
  uint64_t aggressive_answers = 0;  // RFC 8198 NXDOMAIN/NODATA without asking
  // DNS cookies to authoritative servers (walker_cookies.cpp).
  uint64_t cookie_mismatches = 0;     // replies with another client cookie: dropped
  uint64_t cookie_tcp_fallbacks = 0;  // a cookie server's UDP reply without one -> TCP
  uint64_t badcookie_retries = 0;     // BADCOOKIE: asked again with the new server cookie
  // EDNS Client Subnet (walker_ecs.cpp).
  uint64_t ecs_queries = 0;           // queries sent with the client's subnet
  uint64_t ecs_scoped_answers = 0;    // replies scoped to it (kept out of the shared caches)
  uint64_t ecs_mismatches = 0;        // replies whose option did not echo ours: dropped
  uint64_t bogus_retries = 0;       // questions / DNSKEY sets asked again of another server
  // Forward zones (walker_forward.cpp).
  uint64_t forwarded_queries = 0;   // packets sent to forward upstreams
  uint64_t forward_fallbacks = 0;   // forward-first questions walked after every upstream failed
  uint64_t zone_cut_probes = 0;     // DS queries to find the zone of unsigned forwarded data
  // Flood defences (walker_shedding.cpp).
  uint64_t held_down_failures = 0;  // questions failed at once: every server of the zone held down
  uint64_t over_limit_zone = 0;     // questions refused: too many queries in flight to the zone
  uint64_t over_limit_server = 0;   // ... to every server of the zone that was left to ask
  uint64_t glueless_limited = 0;    // NS names left unresolved by the NXNS caps
  // upstream_queries again, by why each was sent (upstream_reasons.h).
  UpstreamReasonCounts upstream_by_reason{};
  // Identical questions in flight (walker_inflight.cpp): walk steps that
  // took the reply of another request's identical query instead of sending
  // their own, and those whose shared query failed (they asked themselves).
  uint64_t shared_questions = 0;
  uint64_t shared_question_retries = 0;
};

class Walker {
 public:
  // `cache` (shared by all workers, thread-safe) supplies and receives
  // delegations, RRsets and negative answers; without one every name is
  // walked from the root.
  Walker(UpstreamNetwork& network, TimerService& timers, WalkerOptions options, RootHints hints,
         cache::Cache* cache = nullptr);
  // For tests: a deterministic random stream.
  Walker(UpstreamNetwork& network, TimerService& timers, WalkerOptions options, RootHints hints,
         std::unique_ptr<QueryRandomness> random, cache::Cache* cache = nullptr);
  // Cancels every packet and timer; pending callbacks are dropped unanswered.
  ~Walker();
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  void resolve(const wire::Question& question, const ResolveOptions& options,
               ResolveCallback callback);

  // Whether `question` would fail at once, found with a few hash look-ups
  // and no allocation, before any walker state is built for it: its zone
  // (the closest cached cut) has every server held down, or struggles and
  // has as many queries in flight as WalkerLimits::max_outstanding_per_zone
  // allows. The front
  // pipeline asks this on a cache miss, so that a flood of random names
  // under a dead or slow zone costs about what a cache hit costs. Counted
  // in stats() like the same failures found by resolve().
  struct QuickFailure {
    enum class Kind : uint8_t { none, held_down, over_limit };
    Kind kind = Kind::none;
    wire::Name zone;
    explicit operator bool() const noexcept { return kind != Kind::none; }
  };
  QuickFailure quick_failure(const wire::Question& question);
  // Queries in flight upstream, per zone and server.
  const OutstandingQueries& outstanding() const noexcept { return outstanding_; }
  const ZoneOutcomes& zone_outcomes() const noexcept { return zone_outcomes_; }

  size_t in_flight() const noexcept { return resolutions_.size(); }
  const WalkerStats& stats() const noexcept { return stats_; }
  const WalkerOptions& options() const noexcept { return options_; }
  // The operator changed the negative trust anchors (RFC 7646): used from
  // the next validation on. Call on this walker's loop thread.
  void set_negative_trust_anchors(std::shared_ptr<const dnssec::NegativeTrustAnchors> ntas) noexcept {
    options_.dnssec.negative_anchors = std::move(ntas);
  }
  // A reload's forward and stub zones (null: none), from the next question
  // on. Call on this walker's loop thread.
  void set_configured_zones(std::shared_ptr<const ConfiguredZones> zones) noexcept {
    options_.configured = std::move(zones);
  }
  // The trust anchors changed, used from the next validation on. RFC 5011
  // maintenance (`forget_trust`) drops all this worker remembered of zone
  // trust, so the chain is built again from the new keys; a reload forgets
  // only the zones it changed (forget_zone), since clearing everything under
  // load failed questions (sextant_forward_reload: 10-21 % SERVFAIL). Call
  // on this walker's loop thread.
  void set_trust_anchors(std::shared_ptr<const dnssec::TrustAnchors> anchors, bool forget_trust) {
    options_.dnssec.anchors = std::move(anchors);
    if (forget_trust) trust_memo_.clear();
  }
  // Forgets what this worker remembers of `apex` and below (zone trust,
  // unreachable zones): its configuration changed.
  void forget_zone(const wire::Name& apex);
  const ServerSelection& servers() const noexcept { return servers_; }
  // True once a priming answer was accepted and has not expired.
  bool root_primed() const;

 private:
  struct QueryRef {
    uint64_t resolution = 0;
    uint32_t query = 0;
  };

  // Plan management.
  Resolution* find_resolution(uint64_t id);
  Resolution& start_resolution(const ResolutionKey& key, const wire::Question& question,
                               const ResolveOptions& options, QueryKind kind);
  SubQuery& add_query(Resolution& r, QueryKind kind, std::optional<uint32_t> parent,
                      const wire::Question& question);

  // The state machine.
  void step(Resolution& r, SubQuery& q);
  void state_init(Resolution& r, SubQuery& q);
  void state_start_name(Resolution& r, SubQuery& q);
  void state_send(Resolution& r, SubQuery& q);
  void query_finished(Resolution& r, SubQuery& q);

  // DNS cookies (walker_cookies.cpp).
  enum class CookieOutcome : uint8_t { ok, spoofed, retry_udp, retry_tcp };
  void add_client_cookie(wire::MessageBuilder& builder, Attempt& a);
  CookieOutcome check_reply_cookie(const Attempt& a, const wire::Message& msg, TimerService::TimePoint now);
  // EDNS Client Subnet (walker_ecs.cpp).
  bool ecs_applies(const Resolution& r, const SubQuery& q, const ServerAddress& server) const;
  void add_client_subnet(wire::MessageBuilder& builder, const Resolution& r, Attempt& a);
  // False when the reply's option does not echo ours (it must be dropped);
  // else sets a.ecs_scope.
  bool check_reply_subnet(Attempt& a, const Resolution& r, const wire::Message& msg);

  // Sending.
  bool send_attempt(Resolution& r, SubQuery& q, const ServerAddress& server,
                    UpstreamProtocol protocol, bool edns);
  bool start_glueless_lookups(Resolution& r, SubQuery& q);
  void cancel_attempt(Attempt& a);
  // Takes a packet that stops being in flight off the per-zone/server counts.
  void release_attempt(Attempt& a);
  void cancel_all_attempts(SubQuery& q);
  bool has_live_attempts(const SubQuery& q) const;

  // Identical questions in flight, shared between this worker's requests
  // (walker_inflight.cpp, inflight_questions.h).
  std::optional<InflightKey> inflight_key(const Resolution& r, const SubQuery& q) const;
  // True when `q` now waits for another request's identical query.
  bool join_inflight(Resolution& r, SubQuery& q);
  // `q` still listens for the reply to another request's packet.
  bool waits_on_shared(const SubQuery& q) const;
  void lead_inflight(const Resolution& r, const SubQuery& q, Attempt& a);
  // The waiters of a packet that stopped being shared: handed its reply
  // (deliver), or else sent to ask for themselves when this goes out of
  // scope (after `failed_server` if it timed out).
  struct EndedExchange {
    Walker& walker;
    const Attempt& sent;
    std::vector<InflightWaiter> waiters;
    std::optional<ServerAddress> failed_server;
    ~EndedExchange();
  };
  void deliver_shared_reply(EndedExchange& ended, const Attempt& a, const wire::Message& msg,
                            const ClassifiedResponse& c);
  void restart_waiters(const Attempt& sent, std::vector<InflightWaiter> waiters,
                       std::optional<ServerAddress> failed_server);
  // `q` still asks what packet `a` asked, at the same cut (a query that
  // moved on meanwhile ignores the packet's late reply).
  static bool still_asks(const SubQuery& q, const Attempt& a);

  // Events.
  void on_reply(QueryRef ref, uint64_t attempt_id, UpstreamReply&& reply);
  void on_rto(QueryRef ref, uint64_t attempt_id);
  void on_deadline(uint64_t resolution_id);
  // `case_echoed`: the question came back in the exact 0x20 case sent.
  // `shared`: the requests waiting for this packet's reply, if any.
  void handle_message(Resolution& r, SubQuery& q, Attempt& a, const wire::Message& msg,
                      bool case_echoed, EndedExchange* shared = nullptr);
  void handle_classified(Resolution& r, SubQuery& q, const Attempt& a, const wire::Message& msg,
                         ClassifiedResponse&& c);

  // Outcomes.
  void enter_referral(Resolution& r, SubQuery& q, ClassifiedResponse& c);
  void complete_answer(Resolution& r, SubQuery& q, wire::Rcode rcode,
                       std::vector<wire::RRset> answers, std::optional<wire::RRset> soa);
  // A DO client that validates itself (CD=1) gets the NSEC/NSEC3 records
  // the server sent with a negative or wildcard answer (RFC 4035 §3.2.2).
  void pass_on_denial(Resolution& r, SubQuery& q, const std::vector<wire::RRset>& denial);
  void fail_query(Resolution& r, SubQuery& q, wire::EdeCode code, std::string text);
  void fail_unreachable(Resolution& r, SubQuery& q);
  // Flood defences (walker_shedding.cpp).
  bool all_held_down(const std::vector<ServerAddress>& servers, TimerService::TimePoint now) const;
  // Held down, timed out with no answer since, or slower than
  // WalkerLimits::struggling_rtt (false for a server never asked); the caps
  // on queries in flight apply only to struggling servers and zones.
  bool struggling(const ServerAddress& address, TimerService::TimePoint now) const;
  // Whether a server `q` has a packet open to answered anything (any query)
  // since that packet was sent: slow, not dead.
  bool answered_since_sent(const SubQuery& q) const;
  // Every one of `servers` struggling (false for an empty list).
  bool all_struggling(const std::vector<ServerAddress>& servers, TimerService::TimePoint now) const;
  // The per-server cap's test, asking `address` about `zone`: the server
  // struggling and the zone's recent replies mostly fruitless.
  bool server_struggling(const ServerAddress& address, const wire::Name& zone,
                         TimerService::TimePoint now) const;
  // The per-zone cap's test: every one of `servers` struggling and the
  // zone's recent replies mostly fruitless (zone_outcomes.h).
  bool zone_struggling(const wire::Name& zone, const std::vector<ServerAddress>& servers,
                       TimerService::TimePoint now) const;
  // Tells the zone's outcome window what a reply (or its absence) was; a
  // packet counts as failed when its retransmission timer fires, and its
  // late reply takes that back.
  void note_zone_outcome(const wire::Name& zone, ZoneOutcomes::Outcome outcome);
  void note_zone_reply(const Attempt& a, ResponseKind kind);
  void fail_held_down(Resolution& r, SubQuery& q, std::vector<ServerAddress> servers);
  void fail_over_limit(Resolution& r, SubQuery& q, bool per_zone);
  void child_finished(Resolution& r, SubQuery& child);
  // Starts the AAAA lookup parked until `child` (the A lookup of the same
  // NS name) ended.
  void start_parked_sibling(Resolution& r, const SubQuery& child);
  void finish_resolution(Resolution& r, ResolutionResult result);
  void exclude_server(SubQuery& q, const ServerAddress& server);
  void append_chain(Resolution& r, SubQuery& q, const std::vector<wire::RRset>& links);
  void begin_name(SubQuery& q);
  // Runs `fn` on a later loop turn if the walker still exists.
  void defer(std::function<void()> fn);

  // DNSSEC validation (walker_dnssec.cpp).
  enum class KeyState : uint8_t { known, waiting };
  bool validating(const Resolution& r) const;
  void record_segment(Resolution& r, SubQuery& q, dnssec::ResponseKind kind,
                      const wire::Name& qname, const ClassifiedResponse& c);
  void record_cached_segment(Resolution& r, SubQuery& q, const wire::Name& qname,
                             std::vector<wire::RRset> sets, cache::DnssecStatus status);
  void record_referral(Resolution& r, SubQuery& q, const ClassifiedResponse& c);
  ValidationContext& validation_context(Resolution& r);
  void state_validate(Resolution& r, SubQuery& q);
  // Validates `response`, establishing the keys it needs; false when a
  // DS/DNSKEY sub-query must end first (the query is parked in wait_keys).
  bool validate_settled(Resolution& r, SubQuery& q, const dnssec::ResponseToValidate& response,
                        dnssec::ResponseValidation& out, int depth);
  KeyState establish_zone(Resolution& r, SubQuery& q, const wire::Name& zone, int depth);
  // The chain of trust fetched beside the walk (walker_trust_prefetch.cpp):
  // when a client query reaches a zone that is signed (its trust anchor, or
  // a referral with a usable DS), the zone's DNSKEY set is fetched at once.
  void prefetch_zone_keys(Resolution& r, SubQuery& q);
  // DS/DNSKEY fetches shared by this worker's requests: a request that
  // needs a zone's keys while another request's fetch of them is in flight
  // waits for that one instead of asking again (walker_trust_prefetch.cpp).
  void start_key_fetch(Resolution& r, SubQuery& child);
  void key_fetch_ended(Resolution& r, const SubQuery& q);
  void release_key_fetches(Resolution& r);
  void restart_key_fetches(std::vector<QueryRef> joined);
  // Why `q` sends the packet it is about to send (and remembers it).
  UpstreamReason upstream_reason(SubQuery& q, const Attempt& a);
  // The DS/DNSKEY sub-query for (zone, type): done (`out` set), waiting
  // (spawned or still running), or refused (the request's fetch limit).
  enum class FetchStatus : uint8_t { done, waiting, refused };
  FetchStatus key_fetch(Resolution& r, SubQuery& q, const wire::Name& zone, wire::RRType type,
                        const SubQuery*& out);
  void conclude_zone(ValidationContext& ctx, const wire::Name& zone, const dnssec::Verdict& verdict,
                     std::shared_ptr<const dnssec::ZoneKeySet> keys, uint32_t ttl);
  void finish_validation(Resolution& r, SubQuery& q);
  // Data that failed validation: its server is remembered as serving bogus
  // data for the zone, and the question asked again (of the zone's other
  // servers) if some are left and the request's retries allow.
  bool retry_after_bogus(Resolution& r, SubQuery& q);
  bool served_bogus(const wire::Name& zone, const ServerAddress& server,
                    TimerService::TimePoint now) const;
  void remember_bogus_server(const wire::Name& zone, const ServerAddress& server,
                             TimerService::TimePoint now);
  // Drops the zone's servers that served bogus data lately, unless that
  // would leave none.
  void avoid_bogus_servers(const wire::Name& zone, std::vector<ServerCandidate>& candidates,
                           TimerService::TimePoint now) const;
  void cache_validated(const SubQuery& q);
  // RFC 8198: keeps the secure NSEC/NSEC3 records of validated answers per
  // zone, and answers NXDOMAIN/NODATA from them when they prove it.
  void remember_denials(const SubQuery& q);
  bool synthesize_denial(Resolution& r, SubQuery& q);

  // Tracing (walker_trace.cpp): callers test `r.trace` first, so nothing
  // is formatted for a resolution nobody traces.
  void trace_line(const Resolution& r, const SubQuery* q, std::string_view text) const;
  std::string describe_cut(const ZoneCut& cut) const;
  std::string describe_choice(const SubQuery& q, const ServerAddress& address,
                              size_t candidates, bool all_dead) const;
  static std::string describe_reply(const wire::Message& msg);
  static std::string describe_classified(const ClassifiedResponse& c);
  static std::string describe_result(const ResolutionResult& result);
  static std::string describe_sets(const std::vector<wire::RRset>& sets);
  // The DNSSEC verdict of a client answer (one line from finish_validation).
  void trace_validation(const Resolution& r, const SubQuery& q, const dnssec::Verdict* decisive,
                        bool indeterminate) const;
  // Forward and stub zones (walker_forward.cpp).
  // The cut of the configured zone closest to `name`, unless the delegation
  // cache knows a deeper one below a stub zone (`cached`) or the query
  // walks past a failed forward zone (`past_forward`).
  std::optional<ZoneCut> configured_cut(const wire::Name& name, bool for_ds, const wire::Name* cached,
                                        const std::optional<wire::Name>& past_forward) const;
  // Whether a cut at `zone` (from a referral or the cache) may be asked on
  // private addresses: it is at or below a stub zone.
  bool private_allowed(const wire::Name& zone) const;
  // A question a forward or stub zone answers needs no root priming.
  bool configured_question(const SubQuery& q) const;
  // forward-first: every upstream failed; walk instead (true: q restarts).
  bool fall_back_from_forward(Resolution& r, SubQuery& q);
  // A forwarded response as validation segments, one per zone.
  void record_forwarded(Resolution& r, SubQuery& q, dnssec::ResponseKind kind, const wire::Name& qname,
                        const ClassifiedResponse& c);
  // The trust state of the zone holding unsigned forwarded data at `name`
  // (zone cuts found by DS queries from the closest anchor down).
  KeyState locate_zone(Resolution& r, SubQuery& q, const wire::Name& name, int depth);
  bool zone_to_locate(const ValidationContext& ctx, const wire::Name& zone) const;

  // Root priming (RFC 8109).
  bool priming_needed() const;
  void start_priming();
  void priming_done(const SubQuery& q);
  ZoneCut root_cut() const;
  // `for_ds`: a DS query needs the parent's servers, so a cut at the name
  // itself does not count.
  ZoneCut closest_cut(const wire::Name& name, bool for_ds,
                      const std::optional<wire::Name>& past_forward = std::nullopt) const;

  // The cache (all no-ops without one).
  bool answer_from_cache(Resolution& r, SubQuery& q);
  void remember_response(const Resolution& r, const SubQuery& q, const Attempt& a,
                         const wire::Message& msg, const ClassifiedResponse& c);
  void remember_addresses(const wire::Name& zone, const NameServerEntry& ns);
  // What an authoritative reply of the zone's servers says about them (its
  // NS set, their addresses), added to the cached cut beside the parent's.
  void remember_child_view(const Resolution& r, const SubQuery& q, const wire::Message& msg,
                           const ClassifiedResponse& c, uint32_t now);

  UpstreamNetwork& network_;
  TimerService& timers_;
  cache::Cache* cache_ = nullptr;
  WalkerOptions options_;
  RootHints hints_;
  std::unique_ptr<QueryRandomness> random_;
  ServerSelection servers_;
  WalkerStats stats_;

  uint64_t next_resolution_id_ = 1;
  uint64_t next_attempt_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Resolution>> resolutions_;
  std::unordered_map<ResolutionKey, uint64_t, ResolutionKeyHash> in_flight_;
  // Finished plans are destroyed from a fresh loop turn, never under the
  // stack frames still using them.
  std::vector<std::unique_ptr<Resolution>> finished_;
  TimerService::TimerId reap_timer_ = 0;
  bool in_resolve_ = false;

  // Zone trust learned by earlier requests of this worker (secure keys,
  // proven insecure, briefly: bogus), keyed by the lower-cased zone.
  struct TrustMemo {
    dnssec::ZoneTrust trust;
    uint32_t expires = 0;  // wall seconds
  };
  std::unordered_map<wire::Name, TrustMemo, wire::NameHash> trust_memo_;
  // DS (index 0) and DNSKEY (1) fetches in flight, by lower-cased zone: the
  // request's sub-query that asks, and the other requests' sub-queries
  // parked until it ends (walker_trust_prefetch.cpp).
  struct SharedKeyFetch {
    QueryRef leader;
    std::vector<QueryRef> joined;
  };
  std::array<std::unordered_map<wire::Name, SharedKeyFetch, wire::NameHash>, 2> shared_key_fetches_;
  // Upstream packets other requests may wait for (walker_inflight.cpp).
  InflightQuestions inflight_;

  // Servers that answered a zone's questions with data that failed
  // validation, avoided for that zone while others are left, for
  // dnssec.bogus-ttl (as Unbound blacklists them and marks them DNSSEC-lame).
  struct BogusServer {
    wire::Name zone;
    ServerAddress server;
    TimerService::TimePoint until{};
  };
  std::vector<BogusServer> bogus_servers_;
  // Zones found with every server held down, and packets in flight per
  // zone and server (walker_shedding.cpp).
  ZoneServersMemo held_down_zones_;
  // Forward zones whose upstreams all failed authentication just now, and
  // why (walker_failures.cpp): a question failing fast on the hold-down
  // gives the same EDE 23 and reason.
  struct AuthFailureMemo {
    std::string why;
    TimerService::TimePoint until{};
  };
  std::unordered_map<wire::Name, AuthFailureMemo, wire::NameHash> auth_failure_memory_;
  ZoneServersMemo struggling_zones_;  // struggling and found at the per-zone cap
  OutstandingQueries outstanding_;
  ZoneOutcomes zone_outcomes_{options_.limits.zone_outcomes};  // what each zone answered lately

  std::optional<ZoneCut> primed_root_;
  TimerService::TimePoint primed_until_{};
  TimerService::TimePoint next_priming_{};
  bool priming_running_ = false;
  std::vector<QueryRef> priming_waiters_;

  // Every callback handed to the network or the timers holds this; once the
  // walker is gone it reads false and the callback does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sextant::resolver
