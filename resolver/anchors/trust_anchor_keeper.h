// Keeps a daemon's managed trust anchors (RFC 5011, dnssec.auto-trust-anchor-file),
// as Unbound's auto-trust-anchor-file does:
//
// - at start it reads the state file (Unbound's layout, dnssec/anchor_state_file.h);
//   a missing file starts from the configured anchors (the built-in root DS
//   or dnssec.trust-anchor-file) and is written at once, so a directory the
//   daemon cannot write is found at start;
// - on one worker's loop it probes each trust point's DNSKEY RRset through
//   that worker's walker (checking disabled, never from the cache) when its
//   RFC 5011 §2.3 refresh time comes, runs the state table
//   (dnssec/managed_anchor.h), rewrites the file (write to a temporary file,
//   then rename) and, when the set of trusted keys changed, hands the new
//   anchors to `publish` (the daemon gives them to every worker);
// - one process owns a state file: an advisory lock on FILE.lock; a second
//   process pointed at the same file reads it and probes, but does not write.
//
// Thread use: start(), stop() and the probes run on the owning worker's
// loop thread; anchors() and status() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dnssec/managed_anchor.h"
#include "dnssec/trust_anchors.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/walker.h"

namespace sextant::resolver {

class TrustAnchorKeeper {
 public:
  struct Settings {
    std::string state_file;
    dnssec::ManagedAnchorTimers timers;
    // Where notable events go (key state changes, probe failures, write
    // errors): warning = true for problems.
    std::function<void(bool warning, const std::string& message)> log;
  };

  struct AnchorStatus {
    wire::Name zone;
    std::vector<dnssec::ManagedKey> keys;
    size_t seeds = 0;
    uint32_t last_success = 0;
    uint32_t next_probe = 0;
    uint32_t query_failed = 0;
  };

  struct Counters {
    uint64_t probes_ok = 0;
    uint64_t probes_failed = 0;
    uint64_t write_errors = 0;
  };

  // Reads or creates the state file; `configured` are the anchors the
  // configuration gives. Throws std::runtime_error naming the file (and
  // line) when it cannot be read, parsed, or first written.
  TrustAnchorKeeper(Settings settings, const dnssec::TrustAnchors& configured);
  ~TrustAnchorKeeper();
  TrustAnchorKeeper(const TrustAnchorKeeper&) = delete;
  TrustAnchorKeeper& operator=(const TrustAnchorKeeper&) = delete;

  // The anchors to validate with: the configured ones, each managed zone
  // replaced by its trusted keys.
  std::shared_ptr<const dnssec::TrustAnchors> anchors() const;

  using Publish = std::function<void(std::shared_ptr<const dnssec::TrustAnchors>)>;
  // Probes from now on, on the loop of `walker` and `timers`; call on that
  // loop's thread. `publish` runs there whenever the trusted keys change.
  void start(Walker& walker, TimerService& timers, Publish publish);
  // No probe is sent or applied after this; call on the same thread.
  void stop();

  std::vector<AnchorStatus> status() const;
  Counters counters() const;
  // Before the daemon gives up root (server.user): the state file and its
  // lock become that user's, so it can rewrite them. An error message, or
  // empty. (The directory stays as the operator made it: when the daemon
  // cannot create a file there, it rewrites the state file in place.)
  std::string hand_over(uid_t uid, gid_t gid);
  // False when another process holds the state file's lock.
  bool owns_state_file() const noexcept { return lock_fd_ >= 0; }
  const std::string& state_file() const noexcept { return settings_.state_file; }

 private:
  void schedule_next();
  void probe_due();
  void on_probe(size_t index, const ResolutionResult& result);
  // Callers hold mu_.
  void write_state_locked();
  std::shared_ptr<const dnssec::TrustAnchors> build_locked() const;
  void log(bool warning, const std::string& message) const;

  Settings settings_;
  dnssec::TrustAnchors configured_;
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  // server.user's ids once hand_over() ran: a file written after it (maybe
  // still as root, before the daemon drops privileges) is given to them too.
  std::optional<std::pair<uid_t, gid_t>> owner_;
  std::vector<dnssec::ManagedAnchor> managed_;
  std::vector<bool> in_flight_;
  std::shared_ptr<const dnssec::TrustAnchors> current_;
  Counters counters_;

  // Loop-thread state.
  Walker* walker_ = nullptr;
  TimerService* timers_ = nullptr;
  Publish publish_;
  TimerService::TimerId timer_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(false);
};

}  // namespace sextant::resolver
