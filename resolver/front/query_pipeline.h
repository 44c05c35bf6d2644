// The front pipeline every client query goes through, whatever transport
// brought it: parse → access control → sanity (opcode, class, EDNS version)
// → policy (view, local data, lists, RPZ; query_pipeline_policy.cpp) →
// answer cache → walker → policy on the answer (CNAME targets, RPZ response
// IP, DNS64). One QueryPipeline per worker thread; it runs on that
// worker's event loop only. Every answer leaves through send(), which
// writes the dnstap frame and the event-log line (query_pipeline_events.cpp).
//
// The cache-hit path copies a stored wire answer into a per-worker buffer,
// patches it and appends this client's OPT record: no message is built and
// nothing is allocated. A miss hands the question to the walker; its result
// is rendered once into a wire answer (without OPT), stored in the answer
// cache, and then delivered to each waiting client through the same
// patch-and-append path as a hit, so hits and misses cannot drift apart.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "cache/cache.h"
#include "resolver/eventlog/event_log.h"
#include "resolver/front/access_control.h"
#include "resolver/policy/policy.h"
#include "resolver/policy/policy_counters.h"
#include "resolver/front/drain_state.h"
#include "resolver/front/client_subnet.h"
#include "resolver/front/notify_handler.h"
#include "resolver/front/query_defences.h"
#include "resolver/front/rebinding_filter.h"
#include "resolver/walk/resolution_result.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/walker.h"
#include "transports/dnstap_writer.h"
#include "transports/listener_counters.h"
#include "transports/query_handler.h"
#include "transports/socket_util.h"
#include "wire/query.h"

namespace sextant::resolver {

struct PipelineSettings {
  uint16_t edns_buffer_size = 1232;  // our UDP answer ceiling and advertised size
  uint16_t padding_block = 468;      // RFC 8467 response block on encrypted transports
  // RFC 7828: the idle timeout advertised (in 100 ms units) to stream
  // clients that send edns-tcp-keepalive; 0 = never advertise.
  uint16_t tcp_keepalive_100ms = 100;
  bool serve_stale = true;
  std::chrono::milliseconds stale_client_timeout{1800};
  bool prefetch = true;
  // RFC 8509: SERVFAIL for root-key-sentinel-is-ta/-not-ta questions whose
  // key tag is not / is a root trust anchor (root_key_sentinel.h).
  bool root_key_sentinel = true;
  // Query log (dnstap): client queries and responses, when set. Shared by
  // every worker; each logs into its own queue (Request::worker).
  transports::DnstapWriter* dnstap = nullptr;
  // The per-query JSON event log, when set (shared; per-worker queues).
  eventlog::EventLog* event_log = nullptr;
  // Hits per list, zone and action, when set.
  policy::PolicyCounters* policy_counters = nullptr;
  // NOTIFY (RFC 1996) for the RPZ feed; null: NOTIFY is REFUSED.
  NotifyHandler* notify = nullptr;
  // Shutting down behind a load balancer: health checks get SERVFAIL (EDE
  // 14) while draining (drain_state.h). Null: never.
  const DrainState* drain = nullptr;
  // Cookies and UDP rate limiting (query_defences.h).
  DefenceSettings defences;
  // Rebinding protection (rebinding_filter.h), shared by every worker;
  // null or disabled: off.
  std::shared_ptr<const RebindingFilter> rebinding;
  // EDNS Client Subnet (client_subnet.h); off by default.
  EcsSettings ecs;
};

// Counters shared by every worker's pipeline (relaxed atomics: statistics).
struct PipelineStats {
  std::atomic<uint64_t> queries{0};
  std::atomic<uint64_t> cache_hits{0};
  std::atomic<uint64_t> cache_misses{0};
  std::atomic<uint64_t> stale_served{0};
  std::atomic<uint64_t> prefetches{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> formerr{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> notimp{0};
  std::atomic<uint64_t> servfail{0};
  std::atomic<uint64_t> truncated{0};
  std::atomic<uint64_t> policy_answers{0};     // answered by policy before the cache
  std::atomic<uint64_t> policy_rewrites{0};    // walker answers rewritten by policy
  std::atomic<uint64_t> policy_dropped{0};     // dropped by policy (deny zones, RPZ DROP)
  std::atomic<uint64_t> dns64_synthesised{0};  // AAAA answers synthesised (RFC 6147)
};

// How long this worker's cache misses took to be answered (by the walker,
// or from stale data after the client timer): one bucket per upper bound,
// plus one beyond the last. Written by the worker only; relaxed atomics so
// the metrics exporter may read them.
struct ResolutionTimes {
  static constexpr std::array<uint32_t, 11> kBoundsMs{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000};
  std::array<transports::RelaxedCounter, kBoundsMs.size() + 1> buckets;
  transports::RelaxedCounter total_us;

  void record(std::chrono::microseconds elapsed) noexcept {
    size_t i = 0;
    while (i < kBoundsMs.size() && elapsed > std::chrono::milliseconds(kBoundsMs[i])) ++i;
    buckets[i].add();
    total_us.add(static_cast<uint64_t>(std::max<int64_t>(0, elapsed.count())));
  }
};

class QueryPipeline final : public transports::QueryHandler {
 public:
  QueryPipeline(const PipelineSettings& settings, const AccessControl& acl, cache::Cache& cache,
                Walker& walker, TimerService& timers, PipelineStats& stats);
  ~QueryPipeline() override;

  void handle(const transports::Request& request, transports::Responder responder) override;

  // A reload's new rules, from the next query on (call on this pipeline's
  // loop thread; `acl` must outlive its use here).
  void set_access_control(const AccessControl& acl) noexcept { acl_ = &acl; }
  // The policy from the next query on (on this pipeline's loop thread).
  // Resolutions in flight apply the policy current when they end.
  void set_policy(std::shared_ptr<const policy::Policy> p) noexcept { policy_ = std::move(p); }

  const ResolutionTimes& resolution_times() const noexcept { return times_; }

  // What the pipeline remembers of a client query once its packet is gone.
  struct Client {
    wire::Header query_header;
    wire::Name qname;  // as the client wrote it (0x20 echo)
    wire::RRType qtype = wire::RRType::A;
    wire::RRClass qclass = wire::RRClass::IN;
    bool has_edns = false;
    bool dnssec_ok = false;
    bool wants_padding = false;  // padded query on an encrypted transport
    bool wants_keepalive = false;  // edns-tcp-keepalive over TCP or DoT (RFC 7828)
    size_t limit = 512;          // the largest answer this client can take
    // The COOKIE option every answer carries (client + server cookie), when
    // the query had a well-formed one (server_cookies.h).
    std::array<uint8_t, ServerCookies::kReplySize> cookie{};
    uint8_t cookie_size = 0;
    // ECS (client_subnet.h, query_pipeline_ecs.cpp): the subnet sent
    // upstream for this client (none: no subnet is revealed), and the
    // client's own option, echoed in the answer with a scope: the answer's
    // when the option was used (a trusted client), else 0 (RFC 7871 §7.2.2).
    std::optional<wire::ClientSubnetOption> subnet;
    std::array<uint8_t, 20> ecs_echo{};
    uint8_t ecs_echo_size = 0;
    bool ecs_honoured = false;
    bool ecs_decided = false;  // by the client's own option (else by its address, on a miss)
    mutable uint8_t ecs_answer_scope = 0;  // set where the answer is made
    // Where the query came from, kept only while dnstap logs responses
    // (the request's addresses are gone by the time a resolution ends).
    struct Origin {
      transports::SocketAddress peer;
      transports::SocketAddress local;
      transports::Transport transport = transports::Transport::udp;
      unsigned worker = 0;
      transports::DnstapTime received;
    };
    std::optional<Origin> origin;

    // Policy: where the query came from (views and DNS64 decide by it),
    // the answer-cache tag of its view, and whether an RPZ PASSTHRU already
    // decided (the answer's checks then skip RPZ).
    policy::Address client_address;
    policy::Address local_address;
    transports::Transport transport = transports::Transport::udp;
    unsigned worker = 0;
    uint16_t view_tag = 0;
    bool rpz_decided = false;
    // Sampled for the event log: when it arrived.
    bool log_event = false;
    int64_t received_ns = 0;
    transports::DnstapTime received_wall;
    // Notes for the event log and dnstap, written where the answer is made
    // (by paths that only see a const Client, hence mutable).
    mutable eventlog::CacheStatus cache_status = eventlog::CacheStatus::none;
    mutable eventlog::DnssecStatus dnssec_status = eventlog::DnssecStatus::unchecked;
    mutable eventlog::PolicyNote policy_note;
  };

 private:
  // A question handed to the walker, and who waits for it.
  struct Pending {
    Client client;
    transports::Responder responder;
    TimerService::TimePoint started;
    bool stale_available = false;
    bool refresh = false;  // a prefetch: no client waits; the entry's refresh claim is released at the end
    TimerService::TimerId stale_timer = 0;
  };

  // Answers from the cache into `responder`; false on a miss.
  bool answer_from_cache(const Client& client, cache::StalePolicy policy, transports::Responder& responder,
                         bool* stale_available = nullptr);
  // Answers at once (SERVFAIL, stale data, or nothing) a miss whose zone
  // the walker knows would fail (Walker::quick_failure): no walker state,
  // no allocation. False when the walker must be asked.
  bool fail_fast(const Client& client, transports::Responder& responder, bool stale_available);
  void resolve(const Client& client, transports::Responder responder, bool stale_available);
  void start_refresh(const Client& client);
  void on_resolved(const std::shared_ptr<Pending>& pending, const ResolutionResult& result);
  // Renders a result as a cacheable wire answer (no OPT) into buffer_ and
  // stores it; returns its length, 0 if it could not be rendered.
  size_t render_and_store(const Client& client, const ResolutionResult& result, uint32_t negative_ttl = 0);
  // The rendering alone (answers that are not cached).
  size_t render(const Client& client, const ResolutionResult& result, bool authoritative = false,
                bool* truncated = nullptr);
  // Rebinding protection on a resolution's result: the result to use (the
  // given one, or `scratch` filtered), or null when it must be refused.
  const ResolutionResult* screen(const ResolutionResult& result, ResolutionResult& scratch);
  bool needs_rescreening(const Client& client, size_t stored_length) const;
  void refuse_rebinding(const Client& client, transports::Responder& responder);

  // Policy (query_pipeline_policy.cpp). The query stage: true when the
  // query was answered, dropped or handed on (a CNAME chase); false to go
  // on to the cache.
  bool apply_query_policy(Client& client, transports::Responder& responder);
  void answer_from_policy(const Client& client, const policy::PolicyAnswer& answer,
                          transports::Responder& responder);
  // Resolves a policy CNAME's target and answers with the CNAME and what
  // the target resolves to.
  void chase(const Client& client, const policy::PolicyAnswer& answer, transports::Responder responder);
  // The answer stage, when a resolution ends: true when it took over the
  // answer (rewritten, dropped, or DNS64 synthesis started).
  bool apply_response_policy(const std::shared_ptr<Pending>& pending, const ResolutionResult& result);
  // `negative_ttl`: how long an answer without records may be cached
  // (policy rewrites carry no SOA to take it from).
  void finish_resolution(const std::shared_ptr<Pending>& pending, const ResolutionResult& result,
                         uint32_t negative_ttl = 0);
  void synthesise_dns64(const std::shared_ptr<Pending>& pending, const ResolutionResult& aaaa,
                        const policy::View& view);
  void count_policy(const Client& client, const policy::PolicyMatch& match) noexcept;

  // The event log (query_pipeline_events.cpp).
  void log_event(const Client& client, std::span<const uint8_t> answer, eventlog::EventReason reason);
  void log_dropped_packet(const transports::Request& request, eventlog::EventReason reason,
                          std::span<const uint8_t> answer = {});
  void dnstap_response(const Client& client, std::span<const uint8_t> answer);
  // Adds this client's RD/AD/OPT (EDE, padding) to the answer in buffer_
  // and sends it, falling back to an empty TC answer if it does not fit.
  void deliver(const Client& client, size_t length, transports::Responder& responder, bool secure,
               const wire::ExtendedErrorOption* ede);
  // A NOTIFY: NOERROR with AA when the handler accepts it, else REFUSED
  // (query_pipeline_notify.cpp).
  void answer_notify(const Client& client, const transports::Request& request, transports::Responder& responder);

  // ECS (query_pipeline_ecs.cpp). The client's own option and the subnet
  // sent for it: false when the query was answered (FORMERR).
  bool take_client_subnet(Client& client, const wire::ParsedQuery& query, const ClientAddress* address,
                          transports::Responder& responder);
  // After a miss in the shared cache: the client's subnet (from its
  // address unless its option decided), then an answer for that subnet (or
  // for clients without one) from the ECS-scoped cache.
  bool answer_for_subnet(Client& client, const ClientAddress* address, transports::Responder& responder);
  // Sets the scope the client's answer echoes; stores a rendered answer
  // in the ECS-scoped cache (ttl > 0) when it is for some clients only.
  // False when it belongs to the shared cache.
  bool store_scoped(const Client& client, const ResolutionResult& result, std::span<const uint8_t> packet,
                    uint32_t ttl);
  void respond_error(const Client& client, wire::Rcode rcode, transports::Responder& responder,
                     const wire::ExtendedErrorOption* ede, bool truncated = false);
  // Every answer leaves through here (logged to dnstap first when asked).
  void send(const Client& client, transports::Responder& responder, std::span<const uint8_t> answer);

  PipelineSettings settings_;
  const AccessControl* acl_;
  std::shared_ptr<const policy::Policy> policy_;
  cache::Cache& cache_;
  Walker& walker_;
  TimerService& timers_;
  PipelineStats& stats_;
  QueryDefences defences_;
  ClientSubnetPolicy ecs_;
  // Answers are assembled here; every use is synchronous within one call.
  std::array<uint8_t, 65535> buffer_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  ResolutionTimes times_;
  // The EDE of the last fast failure and the zone it names (kept, so that
  // its text is not rendered again for every question of a flood).
  wire::ExtendedErrorOption fast_failure_ede_;
  wire::Name fast_failure_zone_;
};

}  // namespace sextant::resolver
