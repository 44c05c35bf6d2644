// The RPZ feed: response policy zones transferred from primaries (AXFR,
// then IXFR), refreshed at the SOA refresh interval and on NOTIFY, as a
// secondary server would (Unbound's `rpz: primary:`, BIND's
// `type secondary` response-policy zones).
//
// One thread of its own does every exchange (blocking TCP with a deadline,
// transports/zone_transfer_client.h), so a slow or huge transfer never
// holds a worker. A transfer is read whole aside (wire/zone_transfer.h into
// policy::RpzTransfer), applied to the zone's record set (an IXFR changes
// it; an AXFR replaces it), and the zone swapped in with
// PolicyRuntime::replace_rpz_zone (the answers that depended on it are
// flushed): an IXFR edits a copy of the running RpzZone (and the flush is
// planned from the names it touched); an AXFR, or an IXFR that cannot be
// applied in place, interprets the whole set. Anything that goes wrong (no answer, a broken stream,
// a zone the policy loader refuses) leaves the running copy as it is and is
// logged naming the primary, the serial and the message/record. An IXFR
// that the primary refuses, answers in full, or that does not apply falls
// back to AXFR.
//
// The optional zonefile cache (the zone's `file`) is written atomically
// after every good transfer and read at start, before the listeners
// answer, so a restart while the primary is down still filters.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "resolver/config/policy_config.h"
#include "resolver/front/notify_handler.h"
#include "resolver/policy/rpz_zone.h"

namespace sextant::resolver {

struct RpzFeedZoneStats {
  std::string name;
  std::optional<uint32_t> serial;       // of the copy being served
  int64_t last_transfer = 0;            // wall-clock seconds of the last good transfer (or cache load)
  int64_t last_check = 0;               // wall-clock seconds of the last successful SOA check
  uint64_t axfr_ok = 0, axfr_failed = 0, ixfr_ok = 0, ixfr_failed = 0;
  uint64_t checks_failed = 0;           // SOA checks no primary answered
  uint64_t notify_accepted = 0, notify_refused = 0;
  uint64_t expired_events = 0;          // times the zone passed its SOA expire without contact
  bool expired = false;
  std::string last_error;
};

class RpzFeed final : public NotifyHandler {
 public:
  // Swaps a new copy of zone `name` in; false if it was not installed.
  // `changed`: the QNAME triggers an IXFR touched (the cache flush is
  // planned from them), or null.
  using Install = std::function<bool(const std::string& name, std::shared_ptr<const policy::RpzZone> zone,
                                     std::shared_ptr<const policy::NameTable> changed)>;

  // The zones of `policy` (every view) that have primaries. Throws
  // std::invalid_argument for an address that does not parse.
  RpzFeed(const PolicyConfig& policy, Install install);
  ~RpzFeed() override;
  RpzFeed(const RpzFeed&) = delete;
  RpzFeed& operator=(const RpzFeed&) = delete;

  // A reload: zones whose configuration is unchanged keep their copy,
  // timers and counters; new or changed ones transfer at once (the running
  // copy serves meanwhile). Throws std::invalid_argument before changing
  // anything.
  void reconfigure(const PolicyConfig& policy);

  // Reads every zone's zonefile cache and installs what loads (a cache that
  // does not load is logged and skipped). Before start().
  void load_caches();
  void start();
  void stop();

  bool notify(const sockaddr* from, const wire::Name& zone) override;
  std::vector<RpzFeedZoneStats> stats() const;

  struct Zone;

 private:
  static std::vector<std::unique_ptr<Zone>> zones_of(const PolicyConfig& policy);
  void run();
  void refresh(Zone& z);

  Install install_;
  mutable std::mutex mu_;  // zones_ (the list), timers and stats of every zone, stopping_
  std::vector<std::unique_ptr<Zone>> zones_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};  // ends a transfer in progress (stop, reconfigure)
  std::thread thread_;
};

}  // namespace sextant::resolver
