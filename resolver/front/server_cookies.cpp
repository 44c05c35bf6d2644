#include "resolver/front/server_cookies.h"

#include <algorithm>

namespace sextant::resolver {

namespace {

// The secret of one rotation period: two SipHash outputs of the master
// secret over the period's number.
wire::SipKey derive(const wire::SipKey& master, uint64_t period) noexcept {
  wire::SipKey out{};
  for (uint8_t half = 0; half < 2; ++half) {
    uint8_t input[9];
    for (int i = 0; i < 8; ++i) input[i] = static_cast<uint8_t>(period >> (8 * i));
    input[8] = half;
    auto h = wire::siphash24_bytes(master, input);
    std::copy(h.begin(), h.end(), out.begin() + 8 * half);
  }
  return out;
}

}  // namespace

void ServerCookies::refresh_period(uint64_t now) noexcept {
  uint64_t period = now / std::max<uint32_t>(1, settings_.rotation_seconds);
  if (period == period_) return;
  period_ = period;
  period_secret_ = derive(settings_.master, period);
  previous_secret_ = derive(settings_.master, period - 1);
}

wire::SipKey ServerCookies::current_secret(uint64_t now) noexcept {
  if (settings_.secret) return *settings_.secret;
  refresh_period(now);
  return period_secret_;
}

bool ServerCookies::verifies(std::span<const uint8_t, wire::kClientCookieSize> client_cookie,
                             std::span<const uint8_t> server, const ClientAddress& client, uint64_t now) noexcept {
  if (settings_.secret) {
    if (wire::server_cookie_matches(*settings_.secret, client_cookie, server, client.octets())) return true;
    for (const auto& s : settings_.accepted)
      if (wire::server_cookie_matches(s, client_cookie, server, client.octets())) return true;
    return false;
  }
  refresh_period(now);
  return wire::server_cookie_matches(period_secret_, client_cookie, server, client.octets()) ||
         wire::server_cookie_matches(previous_secret_, client_cookie, server, client.octets());
}

ServerCookies::Judgement ServerCookies::judge(std::span<const uint8_t> option, const ClientAddress& client,
                                              uint64_t now) noexcept {
  Judgement j;
  if (!settings_.enabled) return j;
  const size_t n = option.size();
  const bool well_formed =
      n == wire::kClientCookieSize ||
      (n >= wire::kClientCookieSize + 8 && n <= wire::kClientCookieSize + 32);
  if (!well_formed) {
    j.verdict = Verdict::malformed;
    return j;
  }
  auto client_cookie = option.first<wire::kClientCookieSize>();
  std::span<const uint8_t> server = option.subspan(wire::kClientCookieSize);
  std::copy(client_cookie.begin(), client_cookie.end(), j.reply.begin());
  j.reply_size = kReplySize;
  const auto now32 = static_cast<uint32_t>(now);
  if (server.empty()) {
    j.verdict = Verdict::client_only;
  } else if (verifies(client_cookie, server, client, now)) {
    wire::CookieAge age = wire::cookie_age(wire::server_cookie_timestamp(server), now32);
    if (age == wire::CookieAge::fresh) {
      j.verdict = Verdict::valid;
      std::copy(server.begin(), server.end(), j.reply.begin() + wire::kClientCookieSize);
      return j;
    }
    j.verdict = age == wire::CookieAge::renew ? Verdict::valid : Verdict::invalid;
  } else {
    j.verdict = Verdict::invalid;
  }
  wire::ServerCookie fresh = wire::make_server_cookie(current_secret(now), client_cookie, client.octets(), now32);
  std::copy(fresh.begin(), fresh.end(), j.reply.begin() + wire::kClientCookieSize);
  return j;
}

}  // namespace sextant::resolver
