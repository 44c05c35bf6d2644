// DNS Cookies on the server side (RFC 7873 §5.2), with the interoperable
// server cookie of RFC 9018 (wire/dns_cookie.h).
//
// A query's COOKIE option is judged once, early in the pipeline:
//   malformed    wrong length (RFC 7873 §5.2.2): FORMERR;
//   client_only  no server cookie yet: served, and taught one;
//   invalid      a server cookie we did not make, or too old: served as if
//                client_only (RFC 7873 §5.2.4), and taught a fresh one;
//   valid        the client proved it receives our answers at this address:
//                not rate-limited (query_defences.h).
// Every answer to a query with a well-formed cookie carries the client
// cookie and a server cookie (the one sent, or a fresh one once it is half
// an hour old). BADCOOKIE is sent only instead of a rate-limited client's
// truncated "slip" answer: the client then retries at once with the new
// cookie, which exempts it (RFC 7873 §5.4).
//
// Secrets: with `secret` set, that secret makes cookies and it or any of
// `accepted` verifies them (RFC 9018 §4.4 rollover: add the new secret to
// every server's accepted list, then make it the secret everywhere, then
// drop the old one), so that servers of an anycast group sharing them
// accept each other's cookies. Without one, a random per-process master
// secret is rotated every `rotation`: the secret of each period is derived
// from the master and the period's number (SipHash as a PRF), and the
// previous period's secret is still accepted, so a rotation invalidates no
// live cookie. One object per worker (it caches the period's secrets):
// nothing is shared, nothing is locked.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "resolver/front/client_address.h"
#include "wire/dns_cookie.h"

namespace sextant::resolver {

struct CookieSettings {
  bool enabled = true;
  std::optional<wire::SipKey> secret;   // configured: used as is
  std::vector<wire::SipKey> accepted;   // also verified (rollover)
  wire::SipKey master{};                // random per process when no secret is configured
  uint32_t rotation_seconds = 86400;
};

class ServerCookies {
 public:
  enum class Verdict : uint8_t { none, malformed, client_only, invalid, valid };
  static constexpr size_t kReplySize = wire::kClientCookieSize + wire::kInteropServerCookieSize;

  struct Judgement {
    Verdict verdict = Verdict::none;
    // The COOKIE option for the answer (client cookie + server cookie);
    // reply_size 0 when the answer carries none.
    std::array<uint8_t, kReplySize> reply{};
    uint8_t reply_size = 0;
  };

  explicit ServerCookies(CookieSettings settings) : settings_(std::move(settings)) {}

  // `option` is the COOKIE option's data (present in the query), `now` the
  // wall clock in seconds.
  Judgement judge(std::span<const uint8_t> option, const ClientAddress& client, uint64_t now) noexcept;

  bool enabled() const noexcept { return settings_.enabled; }
  // The secret cookies are made with at `now` (tests).
  wire::SipKey current_secret(uint64_t now) noexcept;

 private:
  void refresh_period(uint64_t now) noexcept;
  bool verifies(std::span<const uint8_t, wire::kClientCookieSize> client_cookie, std::span<const uint8_t> server,
                const ClientAddress& client, uint64_t now) noexcept;

  CookieSettings settings_;
  uint64_t period_ = UINT64_MAX;
  wire::SipKey period_secret_{};
  wire::SipKey previous_secret_{};
};

}  // namespace sextant::resolver
