#include "resolver/daemon/trust_anchor_report.h"

#include <fmt/format.h>

#include <ctime>

namespace sextant::resolver {

namespace {

std::string utc(uint32_t t) {
  if (t == 0) return "never";
  const std::time_t when = t;
  std::tm tm{};
  gmtime_r(&when, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

std::string trust_anchor_status(const TrustAnchorKeeper& keeper) {
  std::string out;
  for (const auto& a : keeper.status()) {
    const std::string zone = a.zone.to_text();
    out += fmt::format("trust-anchor {} file {} ({})\n", zone, keeper.state_file(),
                       keeper.owns_state_file() ? "maintained here" : "read only: another process owns it");
    out += fmt::format("trust-anchor {} last-success {} next-probe {} failures {}\n", zone,
                       utc(a.last_success), utc(a.next_probe), a.query_failed);
    for (const auto& k : a.keys) {
      out += fmt::format("trust-anchor {} key {} {} since {}\n", zone, k.tag(), dnssec::to_string(k.state),
                         utc(k.last_change));
    }
    if (a.seeds) out += fmt::format("trust-anchor {} ds-seeds {} (not yet matched to a key)\n", zone, a.seeds);
    if (a.keys.empty() && !a.seeds) out += fmt::format("trust-anchor {} no trusted key: SERVFAIL below it\n", zone);
  }
  return out;
}

}  // namespace sextant::resolver
