// The front pipeline's defences against spoofed and abusive clients, in one
// per-worker object with one entry point per decision (the pipeline calls
// them; query_pipeline.cpp keeps only the hooks):
//   - DNS cookies (server_cookies.h): judge the query's COOKIE option;
//   - response rate limiting on UDP (rate_limiter.h): answer, drop, or
//     "slip" (a truncated answer, or BADCOOKIE for a client that sent a
//     cookie) every Nth limited query.
// Clients that proved their address are never limited: anything but UDP,
// a valid server cookie, a load balancer's own health check (PROXY v2
// LOCAL), and the `exempt` prefixes.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "resolver/front/client_address.h"
#include "resolver/front/rate_limiter.h"
#include "resolver/front/server_cookies.h"

namespace sextant::resolver {

// Counters shared by every worker (relaxed atomics).
struct DefenceStats {
  std::atomic<uint64_t> rate_limited{0};  // UDP queries dropped by the rate limiter
  std::atomic<uint64_t> slipped{0};       // ... answered TC=1 instead
  std::atomic<uint64_t> badcookie{0};     // ... answered BADCOOKIE instead (clients with a cookie)
  std::atomic<uint64_t> rate_exempt{0};   // over the limit but exempt (listed prefix)
  // Rebinding protection (rebinding_filter.h).
  std::atomic<uint64_t> rebinding_removed{0};  // private addresses taken out of answers
  std::atomic<uint64_t> rebinding_refused{0};  // answers refused: nothing public was left
  // Queries by cookie verdict (ServerCookies::Verdict), `none` not counted.
  std::array<std::atomic<uint64_t>, 5> cookies{};
  // EDNS Client Subnet (client_subnet.h, query_pipeline_ecs.cpp).
  std::atomic<uint64_t> ecs_client_honoured{0};  // client options used (trusted, or source prefix 0)
  std::atomic<uint64_t> ecs_client_ignored{0};   // client options from untrusted clients: ignored
  std::atomic<uint64_t> ecs_formerr{0};          // malformed client options: FORMERR
  std::atomic<uint64_t> ecs_scoped_hits{0};      // answers from the ECS-scoped cache
};

struct DefenceSettings {
  CookieSettings cookies;
  // Shared by every worker; null: no rate limiting.
  std::shared_ptr<RateLimiter> rate_limiter;
  uint32_t slip = 2;   // every Nth limited query gets a small answer; 0: never, 1: always
  PrefixList exempt;   // never rate-limited
  DefenceStats* stats = nullptr;  // null: not counted
};

class QueryDefences {
 public:
  enum class Admission : uint8_t { answer, drop, slip };

  explicit QueryDefences(DefenceSettings settings)
      : settings_(std::move(settings)), cookies_(settings_.cookies) {}

  ServerCookies::Judgement judge_cookie(std::span<const uint8_t> option, const ClientAddress& client,
                                        uint64_t now_seconds) noexcept {
    ServerCookies::Judgement j = cookies_.judge(option, client, now_seconds);
    if (settings_.stats && j.verdict != ServerCookies::Verdict::none)
      settings_.stats->cookies[static_cast<size_t>(j.verdict)].fetch_add(1, std::memory_order_relaxed);
    return j;
  }

  bool cookies_enabled() const noexcept { return cookies_.enabled(); }
  bool rate_limiting() const noexcept { return settings_.rate_limiter != nullptr; }

  // For a UDP query from `client` (whose cookie was judged valid or not):
  // answer it, drop it, or send the small slip answer.
  Admission admit_udp(const ClientAddress& client, bool valid_cookie, uint64_t now_us) noexcept {
    if (!settings_.rate_limiter || valid_cookie) return Admission::answer;
    if (settings_.rate_limiter->allow(client, now_us)) return Admission::answer;
    if (!settings_.exempt.empty() && settings_.exempt.contains(client)) {
      count(&DefenceStats::rate_exempt);
      return Admission::answer;
    }
    if (settings_.slip != 0 && ++limited_ % settings_.slip == 0) return Admission::slip;
    count(&DefenceStats::rate_limited);
    return Admission::drop;
  }

  void count(std::atomic<uint64_t> DefenceStats::*counter, uint64_t n = 1) noexcept {
    if (settings_.stats) (settings_.stats->*counter).fetch_add(n, std::memory_order_relaxed);
  }

 private:
  DefenceSettings settings_;
  ServerCookies cookies_;
  uint64_t limited_ = 0;  // this worker's limited queries, for the slip ratio
};

}  // namespace sextant::resolver
