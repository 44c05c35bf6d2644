// The front pipeline every client query goes through, whatever transport
// brought it: parse → access control → sanity (opcode, class, EDNS version)
// → answer cache → walker. One QueryPipeline per worker thread; it runs on
// that worker's event loop only.
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
#include "resolver/front/access_control.h"
#include "resolver/front/drain_state.h"
#include "resolver/front/client_subnet.h"
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
  // Query log (dnstap): client queries and responses, when set. Shared by
  // every worker; each logs into its own queue (Request::worker).
  transports::DnstapWriter* dnstap = nullptr;
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
    // ECS (client_subnet.h): the subnet sent upstream for this client, and
    // the client's own option to echo (with our scope) when it sent one.
    std::optional<wire::ClientSubnetOption> subnet;
    std::array<uint8_t, 20> ecs_echo{};
    uint8_t ecs_echo_size = 0;
    bool ecs_honoured = false;  // the echoed option is what we sent (a trusted proxy's)
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
  };

 private:
  struct Pending;
  // Where a resolution's answer is cached: for everyone, for the client's
  // subnet only, or nowhere (ECS).
  enum class Store : uint8_t { shared, scoped, none };

  // Answers from the cache into `responder`; false on a miss.
  bool answer_from_cache(const Client& client, cache::StalePolicy policy, transports::Responder& responder,
                         bool* stale_available = nullptr);
  void resolve(const Client& client, transports::Responder responder, bool stale_available);
  void start_refresh(const Client& client);
  void on_resolved(const std::shared_ptr<Pending>& pending, const ResolutionResult& result);
  // Renders a result as a cacheable wire answer (no OPT) into buffer_ and
  // stores it; returns its length, 0 if it could not be rendered.
  size_t render_and_store(const Client& client, const ResolutionResult& result, Store store = Store::shared);
  // Rebinding protection on a resolution's result: the result to use (the
  // given one, or `scratch` filtered), or null when it must be refused.
  const ResolutionResult* screen(const ResolutionResult& result, ResolutionResult& scratch);
  void refuse_rebinding(const Client& client, transports::Responder& responder);
  // Adds this client's RD/AD/OPT (EDE, padding) to the answer in buffer_
  // and sends it, falling back to an empty TC answer if it does not fit.
  void deliver(const Client& client, size_t length, transports::Responder& responder, bool secure,
               const wire::ExtendedErrorOption* ede, bool scoped = false);
  // An answer for this client's subnet from the ECS-scoped cache.
  bool answer_from_scoped_cache(const Client& client, transports::Responder& responder);
  static Store store_for(const Client& client, const ResolutionResult& result) noexcept;
  void respond_error(const Client& client, wire::Rcode rcode, transports::Responder& responder,
                     const wire::ExtendedErrorOption* ede, bool truncated = false);
  // Every answer leaves through here (logged to dnstap first when asked).
  void send(const Client& client, transports::Responder& responder, std::span<const uint8_t> answer);

  PipelineSettings settings_;
  const AccessControl* acl_;
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
};

}  // namespace sextant::resolver
