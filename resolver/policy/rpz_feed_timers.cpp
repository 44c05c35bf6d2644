#include "resolver/policy/rpz_feed_timers.h"

#include <algorithm>

namespace sextant::resolver::policy {

uint32_t RpzFeedTimers::clamp(uint32_t v) noexcept { return std::clamp(v, kMinInterval, kMaxInterval); }

void RpzFeedTimers::start(double now, bool loaded) {
  (void)loaded;
  started_ = now;
  next_ = now;
}

void RpzFeedTimers::succeeded(double now, const SoaTimers& soa) {
  soa_ = soa;
  last_success_ = now;
  last_check_ = now;
  failures_ = 0;
  next_ = now + clamp(soa.refresh);
}

void RpzFeedTimers::failed(double now) {
  last_check_ = now;
  ++failures_;
  // Before any success the SOA's retry is unknown: start at the default
  // and back off (doubling, up to the refresh) so a dead primary is not
  // hammered.
  uint32_t wait = clamp(soa_.retry);
  if (!last_success_) {
    uint32_t backoff = std::min<uint32_t>(failures_ > 8 ? 256 : (1u << (failures_ - 1)), 256);
    wait = clamp(std::min<uint32_t>(backoff * 5, soa_.retry));
  }
  next_ = now + wait;
}

void RpzFeedTimers::notified(double now) {
  next_ = std::min(next_, std::max(now, last_check_ + min_interval_));
}

bool RpzFeedTimers::expired(double now) const noexcept {
  double since = last_success_ ? *last_success_ : started_;
  return now - since >= soa_.expire;
}

}  // namespace sextant::resolver::policy
