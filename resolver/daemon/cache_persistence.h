// Warm restart, the daemon's side of cache snapshots (cache/cache_snapshot.h):
// the file, the settings a snapshot is valid under, the loader thread at
// start, and the saves (at stop, every cache.warm-restart.save-interval, and
// the bytes of `sextant control dump-cache --to FILE`).
//
// Start: the file is read at once (before privileges are dropped), then
// restored on a thread of its own into the sharded stores, which the workers
// read meanwhile; Daemon::run() gives the load a head start of at most
// kLoadHeadStart before it opens the listeners, so a usual cache is in place
// before the first question, and a huge one is still being loaded while
// Sextant answers (a miss then resolves as on a cold start).
//
// What makes a snapshot unusable: another format version, damage, truncation
// (cache/), or other DNSSEC settings (validation on/off, the trust anchors,
// nsec3-max-iterations: statuses computed under other settings would be
// wrong). A change of negative trust anchors only skips the names below the
// anchors that came or went, and a change of forward or stub zones the
// names at and below the zones that came, went or changed (what a reload
// flushes: their answers came from other servers). Each case is logged as a
// warning and the start goes on cold.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache.h"
#include "cache/cache_snapshot.h"
#include "dnssec/trust_anchors.h"
#include "resolver/config/config.h"
#include "resolver/walk/server_state_table.h"
#include "wire/name.h"

namespace sextant::resolver {

// The settings the cached data was obtained under: DNSSEC (statuses) and
// the forward and stub zones (where answers came from).
struct SnapshotContext {
  // A forward or stub zone and a fingerprint of its settings (hex).
  struct ConfiguredZone {
    wire::Name zone;
    std::string fingerprint;
    bool operator==(const ConfiguredZone&) const = default;
  };

  bool validation = true;
  std::string anchors;  // fingerprint of the trust anchors' DS sets (hex)
  unsigned nsec3_max_iterations = 0;
  std::vector<wire::Name> negative_anchors;
  std::vector<ConfiguredZone> zones;

  static SnapshotContext of(bool validation, const dnssec::TrustAnchors* anchors,
                            unsigned nsec3_max_iterations,
                            std::span<const wire::Name> negative_anchors);
  // The forward-zones and stub-zones of `config`.
  static std::vector<ConfiguredZone> zones_of(const Config& config);
  // Text lines ("validation on", "nta example.com.", "zone FINGERPRINT
  // corp.example." ...).
  std::vector<uint8_t> encode() const;
  static std::optional<SnapshotContext> decode(std::span<const uint8_t> bytes);
  // Why a snapshot written under `saved` cannot be used now; empty if it can.
  std::string incompatibility(const SnapshotContext& saved) const;
  // The negative trust anchors in one list and not the other.
  std::vector<wire::Name> changed_negative_anchors(const SnapshotContext& saved) const;
  // The forward and stub zones in one list and not the other, or with other
  // settings.
  std::vector<wire::Name> changed_zones(const SnapshotContext& saved) const;
};

struct WarmRestartStats {
  std::atomic<uint64_t> restored_entries{0};  // at this start (cache entries and servers)
  std::atomic<uint64_t> saves_ok{0};
  std::atomic<uint64_t> saves_failed{0};
  std::atomic<uint64_t> last_save_entries{0};
  std::atomic<bool> loading{false};
};

class CachePersistence {
 public:
  // How long Daemon::run() waits for the load before opening the listeners.
  static constexpr std::chrono::milliseconds kLoadHeadStart{1000};
  // Records restored per slice (the loader checks for a stop between them).
  static constexpr size_t kRecordsPerSlice = 4096;

  // `file` empty: no loading and no saving to a file (snapshot() still works).
  CachePersistence(std::string file, uint32_t save_interval_ms, uint64_t max_file_bytes,
                   cache::Cache& cache, SnapshotContext context);
  ~CachePersistence();
  CachePersistence(const CachePersistence&) = delete;
  CachePersistence& operator=(const CachePersistence&) = delete;

  // The per-worker server tables (saved and restored with the cache); set
  // before start_loading().
  void set_server_tables(std::vector<ServerStateTable*> tables) { tables_ = std::move(tables); }

  // Creates the file's directory if it is missing and its parent exists,
  // owned by uid/gid when they are >= 0 (server.user). Never touches a
  // directory that exists.
  void prepare_directory(int uid, int gid);
  // Reads the file now (with the caller's privileges) and restores it on a
  // thread. A missing file is a first start (logged at info).
  void start_loading();
  // Waits at most `max` for the loader; true if it has finished.
  bool wait_loaded(std::chrono::milliseconds max);
  // Stops the loader (between two slices) and joins it.
  void stop_loading();

  // The running cache as a snapshot (control dump-cache --to FILE).
  std::vector<uint8_t> snapshot(cache::SnapshotCounts* counts = nullptr);
  // Writes snapshot() to the file (a temporary file renamed over it) and
  // logs what happened; false on failure (the old file stays).
  bool save(const char* why);
  // From the daemon's main loop: saves when save-interval has passed.
  void on_tick(std::chrono::steady_clock::time_point now);
  // At stop, after the workers: saves, unless a load was cut short (the
  // file then still holds more than the cache does).
  void save_at_stop();

  const WarmRestartStats& stats() const noexcept { return stats_; }

 private:
  void load(std::vector<uint8_t> bytes);

  std::string file_;
  uint32_t save_interval_ms_;
  uint64_t max_file_bytes_;
  cache::Cache& cache_;
  SnapshotContext context_;
  std::vector<uint8_t> context_bytes_;
  std::vector<ServerStateTable*> tables_;
  WarmRestartStats stats_;
  std::thread loader_;
  std::atomic<bool> stop_loader_{false};
  std::atomic<bool> load_interrupted_{false};
  std::mutex loaded_mu_;
  std::condition_variable loaded_cv_;
  bool load_finished_ = true;
  std::chrono::steady_clock::time_point last_save_;
  std::mutex save_mu_;  // one save at a time (main loop, stop)
};

}  // namespace sextant::resolver
