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

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/cache.h"
#include "resolver/walk/denial_memory.h"
#include "resolver/walk/query_plan.h"
#include "resolver/walk/query_randomness.h"
#include "resolver/walk/resolution_result.h"
#include "resolver/walk/resolver_limits.h"
#include "resolver/walk/response_classifier.h"
#include "resolver/walk/root_hints.h"
#include "resolver/walk/server_selection.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/upstream_network.h"
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

  size_t in_flight() const noexcept { return resolutions_.size(); }
  const WalkerStats& stats() const noexcept { return stats_; }
  const WalkerOptions& options() const noexcept { return options_; }
  // The operator changed the negative trust anchors (RFC 7646): used from
  // the next validation on. Call on this walker's loop thread.
  void set_negative_trust_anchors(std::shared_ptr<const dnssec::NegativeTrustAnchors> ntas) noexcept {
    options_.dnssec.negative_anchors = std::move(ntas);
  }
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
  void cancel_all_attempts(SubQuery& q);
  bool has_live_attempts(const SubQuery& q) const;

  // Events.
  void on_reply(QueryRef ref, uint64_t attempt_id, UpstreamReply&& reply);
  void on_rto(QueryRef ref, uint64_t attempt_id);
  void on_deadline(uint64_t resolution_id);
  void handle_message(Resolution& r, SubQuery& q, Attempt& a, const wire::Message& msg);
  void handle_classified(Resolution& r, SubQuery& q, const Attempt& a, const wire::Message& msg,
                         ClassifiedResponse&& c);

  // Outcomes.
  void enter_referral(Resolution& r, SubQuery& q, ClassifiedResponse& c);
  void complete_answer(Resolution& r, SubQuery& q, wire::Rcode rcode,
                       std::vector<wire::RRset> answers, std::optional<wire::RRset> soa);
  void fail_query(Resolution& r, SubQuery& q, wire::EdeCode code, std::string text);
  void fail_unreachable(Resolution& r, SubQuery& q);
  void child_finished(Resolution& r, SubQuery& child);
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
  // The DS/DNSKEY sub-query for (zone, type): done (`out` set), waiting
  // (spawned or still running), or refused (the request's fetch limit).
  enum class FetchStatus : uint8_t { done, waiting, refused };
  FetchStatus key_fetch(Resolution& r, SubQuery& q, const wire::Name& zone, wire::RRType type,
                        const SubQuery*& out);
  void conclude_zone(ValidationContext& ctx, const wire::Name& zone, const dnssec::Verdict& verdict,
                     std::shared_ptr<const dnssec::ZoneKeySet> keys, uint32_t ttl);
  void finish_validation(Resolution& r, SubQuery& q);
  void cache_validated(const SubQuery& q);
  // RFC 8198: keeps the secure NSEC/NSEC3 records of validated answers per
  // zone, and answers NXDOMAIN/NODATA from them when they prove it.
  void remember_denials(const SubQuery& q);
  bool synthesize_denial(Resolution& r, SubQuery& q);

  // Root priming (RFC 8109).
  bool priming_needed() const;
  void start_priming();
  void priming_done(const SubQuery& q);
  ZoneCut root_cut() const;
  // `for_ds`: a DS query needs the parent's servers, so a cut at the name
  // itself does not count.
  ZoneCut closest_cut(const wire::Name& name, bool for_ds) const;

  // The cache (all no-ops without one).
  bool answer_from_cache(Resolution& r, SubQuery& q);
  void remember_response(const SubQuery& q, const Attempt& a, const wire::Message& msg,
                         const ClassifiedResponse& c);
  void remember_addresses(const wire::Name& zone, const NameServerEntry& ns);

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

  // Zones whose servers all failed to answer a question just now (see
  // WalkerTimeouts::unreachable_zone_memory).
  bool remembered_unreachable(const wire::Name& zone, TimerService::TimePoint now) const;
  void remember_unreachable(const wire::Name& zone, TimerService::TimePoint now);
  std::unordered_map<wire::Name, TimerService::TimePoint, wire::NameHash> unreachable_zones_;

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
