#include "resolver/daemon/defence_wiring.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace sextant::resolver {

wire::SipKey random_sip_key() {
  wire::SipKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    throw std::runtime_error("RAND_bytes failed: no random secret for cookies and rate limiting");
  return key;
}

namespace {

wire::SipKey key_from_hex(const std::string& text) {
  uint8_t bytes[16];
  parse_secret_hex(text, bytes);
  wire::SipKey key{};
  std::copy(std::begin(bytes), std::end(bytes), key.begin());
  return key;
}

}  // namespace

DefenceSettings defence_settings_from(const Config& c, DefenceStats* stats) {
  DefenceSettings d;
  d.stats = stats;
  d.cookies.enabled = c.cookies.server;
  if (!c.cookies.secret.empty()) d.cookies.secret = key_from_hex(c.cookies.secret);
  for (const auto& s : c.cookies.accept_secrets) d.cookies.accepted.push_back(key_from_hex(s));
  d.cookies.master = random_sip_key();
  d.cookies.rotation_seconds = c.cookies.rotation_s;
  if (c.rate_limit.rate > 0) {
    RateLimitSettings rl;
    rl.rate = c.rate_limit.rate;
    rl.burst = c.rate_limit.burst;
    rl.ipv4_prefix = static_cast<uint8_t>(c.rate_limit.ipv4_prefix);
    rl.ipv6_prefix = static_cast<uint8_t>(c.rate_limit.ipv6_prefix);
    rl.table_bytes = static_cast<size_t>(c.rate_limit.table_bytes);
    d.rate_limiter = std::make_shared<RateLimiter>(rl, random_sip_key());
  }
  d.slip = c.rate_limit.slip;
  std::vector<Prefix> exempt;
  for (const auto& p : c.rate_limit.exempt) exempt.push_back(parse_prefix(p));
  d.exempt = PrefixList(std::move(exempt));
  return d;
}

std::shared_ptr<const RebindingFilter> rebinding_filter_from(const Config& c) {
  std::vector<wire::Name> zones;
  for (const auto& text : c.rebinding.private_zones) zones.push_back(wire::Name::from_text(text));
  auto filter = std::make_shared<RebindingFilter>(c.rebinding.enabled, zones);
  // Local data is the operator's own: when the policy feature is wired in,
  // its zones belong here too (filter->exempt_zone(zone) for each), so that
  // their private addresses are not removed. Stub zones are exempt through
  // the walker's configured zones (rebinding_filter.h).
  return filter;
}

EcsSettings ecs_settings_from(const Config& c) {
  EcsSettings e;
  e.enabled = c.ecs.enabled;
  e.ipv4_prefix = static_cast<uint8_t>(c.ecs.ipv4_prefix);
  e.ipv6_prefix = static_cast<uint8_t>(c.ecs.ipv6_prefix);
  for (const auto& text : c.ecs.add_for) {
    bool exclude = !text.empty() && text[0] == '!';
    e.add_for.emplace_back(parse_prefix(exclude ? text.substr(1) : text), !exclude);
  }
  std::vector<Prefix> trusted;
  for (const auto& text : c.ecs.trusted_clients) trusted.push_back(parse_prefix(text));
  e.trusted = PrefixList(std::move(trusted));
  return e;
}

void apply_walker_defences(const Config& c, WalkerOptions& o) {
  o.client_cookies = c.cookies.client;
  if (c.cookies.client) o.cookie_secret = random_sip_key();
  if (c.ecs.enabled) {
    for (const auto& zone : c.ecs.zones) o.ecs.zones.push_back(wire::Name::from_text(zone).lowercased());
    for (const auto& text : c.ecs.servers) {
      Endpoint ep = parse_endpoint(text, 53);
      if (auto a = ServerAddress::parse(ep.address, ep.port)) o.ecs.servers.push_back(*a);
    }
  }
}

void report_defences(MetricsReport& r, const DefenceStats& s) {
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  const char* limited = "UDP queries over rate-limit.rate, by what they got: dropped, a truncated answer "
                        "(slip), BADCOOKIE (slip to a client with a cookie), or answered (exempt prefix).";
  r.counter("sextant_rate_limited_total", limited, load(s.rate_limited), {{"action", "dropped"}});
  r.counter("sextant_rate_limited_total", limited, load(s.slipped), {{"action", "truncated"}});
  r.counter("sextant_rate_limited_total", limited, load(s.badcookie), {{"action", "badcookie"}});
  r.counter("sextant_rate_limited_total", limited, load(s.rate_exempt), {{"action", "exempt"}});
  const char* rebinding = "Rebinding protection: private addresses removed from answers of public zones, "
                          "and answers refused (REFUSED, EDE 15) because no address was left.";
  r.counter("sextant_rebinding_total", rebinding, load(s.rebinding_removed), {{"action", "removed"}});
  r.counter("sextant_rebinding_total", rebinding, load(s.rebinding_refused), {{"action", "refused"}});
  const char* ecs = "Client queries with an ECS option (RFC 7871), by what was done with it: used (a "
                    "trusted client, or source prefix 0), ignored (untrusted), or FORMERR (malformed).";
  r.counter("sextant_ecs_client_options_total", ecs, load(s.ecs_client_honoured), {{"action", "used"}});
  r.counter("sextant_ecs_client_options_total", ecs, load(s.ecs_client_ignored), {{"action", "ignored"}});
  r.counter("sextant_ecs_client_options_total", ecs, load(s.ecs_formerr), {{"action", "formerr"}});
  r.counter("sextant_ecs_scoped_cache_hits_total",
            "Answers from the ECS-scoped cache (answers for one client subnet, or for clients without one).",
            load(s.ecs_scoped_hits));
  const char* cookies = "Client queries with a DNS cookie, by verdict (RFC 7873 §5.2).";
  using V = ServerCookies::Verdict;
  const std::pair<V, const char*> verdicts[] = {
      {V::client_only, "client_only"}, {V::valid, "valid"}, {V::invalid, "invalid"}, {V::malformed, "malformed"}};
  for (const auto& [v, name] : verdicts)
    r.counter("sextant_cookie_queries_total", cookies, load(s.cookies[static_cast<size_t>(v)]), {{"verdict", name}});
}

}  // namespace sextant::resolver
