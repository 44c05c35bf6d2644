// When an RPZ zone fed by a primary is next checked (RFC 1035 §4.3.5's
// secondary timers): the SOA query every `refresh` seconds after a
// successful check, every `retry` seconds after a failed one, at once on
// NOTIFY (at most one check per `min_interval`, so a burst of NOTIFYs is
// one transfer), and `expired` once `expire` seconds pass without a
// successful contact. An expired zone is still served (the last good copy
// filters better than none); the feed counts and logs it.
//
// Pure: every call takes "now" in seconds (steady clock), nothing reads a
// clock here.
#pragma once

#include <cstdint>
#include <optional>

namespace sextant::resolver::policy {

struct SoaTimers {
  uint32_t refresh = 3600;
  uint32_t retry = 600;
  uint32_t expire = 604800;
};

class RpzFeedTimers {
 public:
  // Bounds on the primary's figures, so a SOA with refresh 0 cannot make
  // the feed spin and one with refresh 2^31 cannot freeze it.
  static constexpr uint32_t kMinInterval = 1;
  static constexpr uint32_t kMaxInterval = 86400;

  explicit RpzFeedTimers(uint32_t min_interval = kMinInterval) : min_interval_(min_interval) {}

  // Start-up: check at once (a copy from the zonefile cache is served
  // meanwhile; `loaded` says whether there is one).
  void start(double now, bool loaded);
  // The SOA was read (and the transfer, if one was needed, succeeded).
  void succeeded(double now, const SoaTimers& soa);
  // No primary answered or the transfer failed.
  void failed(double now);
  // A NOTIFY from an allowed primary: check soon.
  void notified(double now);

  bool due(double now) const noexcept { return now >= next_; }
  double next_check() const noexcept { return next_; }
  // True once `expire` has passed since the last successful contact (or
  // since start without any).
  bool expired(double now) const noexcept;
  std::optional<double> last_success() const noexcept { return last_success_; }
  uint32_t consecutive_failures() const noexcept { return failures_; }

 private:
  static uint32_t clamp(uint32_t v) noexcept;
  uint32_t min_interval_;
  SoaTimers soa_;
  double next_ = 0;
  double started_ = 0;
  double last_check_ = -1e18;
  std::optional<double> last_success_;
  uint32_t failures_ = 0;
};

}  // namespace sextant::resolver::policy
