// What the resolver knows about each authoritative server address, shared by
// the walkers of every worker thread.
//
// One table per daemon, like Unbound's infra cache: a server that stops
// answering is found dead once (not once per worker), and every worker's
// RTT samples feed one estimate. ServerSelection keeps the logic (RTO,
// backoff, hold-down, quirks); this class only stores ServerState safely.
//
// Threads: the table is touched on upstream sends, replies and timeouts,
// never on the cache-hit path, so plain mutexes are enough. It is split in
// kShards shards by address hash, one mutex each, so two workers rarely
// wait for each other. Nothing escapes a lock by reference: readers get a
// copy (get), writers run their read-modify-write under the shard's lock
// (update), so two workers' updates of one server never lose each other.
//
// Time: entries carry TimerService::TimePoint values from whichever worker
// wrote them. Mixing them is safe because every worker's LoopTimerService
// reads the same clock: uv_now() is libuv's CLOCK_MONOTONIC (or its
// _COARSE twin, used only when it has <= 1 ms granularity) in milliseconds,
// and LoopTimerService maps it onto steady_clock (also CLOCK_MONOTONIC on
// Linux) with a base taken right after uv_loop_init updated the loop's time.
// Two workers' "now" therefore differ only by how stale each loop's cached
// time is (its current turn, a few ms) — small against what the table
// compares: hold-downs of seconds, a lifetime of minutes. RTT samples never
// mix clocks: each is one worker's reply time minus its own send time.
//
// Bounded: each shard keeps at most max_entries / kShards servers; when one
// is full, entries not updated for the caller's lifetime are dropped first,
// then an arbitrary one (the table is a hint: a lost entry costs one
// exploration).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "resolver/walk/server_address.h"
#include "resolver/walk/timer_service.h"

namespace sextant::resolver {

struct ServerState {
  bool rtt_known = false;
  std::chrono::microseconds srtt{0};
  std::chrono::microseconds rttvar{0};
  uint32_t consecutive_timeouts = 0;
  // When the last timeout was counted: queries sent before it cannot add to
  // consecutive_timeouts (see ServerSelection::on_timeout).
  TimerService::TimePoint last_timeout_counted{};
  // When the query whose timeout was last counted had been sent: queries
  // sent within WalkerTimeouts::min_rto of it are the same burst.
  TimerService::TimePoint last_counted_sent{};
  // When it last answered anything: a query sent before that which times
  // out was lost, it does not make the server look dead.
  TimerService::TimePoint last_reply{};
  bool dead = false;
  TimerService::TimePoint dead_until{};
  // Hold-downs in a row without an answer: each one lasts twice the last.
  uint32_t hold_downs = 0;
  // After the hold-down, one query (from any worker) probes the server; it
  // claims the probe until then, and the others keep treating it as held
  // down. Cleared by the probe's reply or timeout; expires by itself if the
  // probe is cancelled before either (another server answered first).
  TimerService::TimePoint probe_claimed_until{};
  bool no_edns = false;       // answered FORMERR/NOTIMP/BADVERS-less garbage to EDNS
  bool mangles_case = false;  // did not echo the 0x20 question: go to TCP directly
  // DNS cookies (RFC 7873): the last server cookie it gave us, sent back in
  // our next queries; once it sent one, a UDP reply without one is suspect
  // (walker_cookies.cpp).
  std::array<uint8_t, 32> server_cookie{};
  uint8_t server_cookie_size = 0;
  bool sends_cookies = false;
  TimerService::TimePoint last_update{};
};

class ServerStateTable {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxEntries = 10000;  // the default bound (cache.server-state-entries)

  // At most about `max_entries` servers (max_entries / kShards per shard, at least 1).
  explicit ServerStateTable(size_t max_entries = kMaxEntries)
      : max_per_shard_(std::max<size_t>(1, max_entries / kShards)) {}
  ServerStateTable(const ServerStateTable&) = delete;
  ServerStateTable& operator=(const ServerStateTable&) = delete;

  // A copy of what is known about `address`; nullopt if nothing.
  std::optional<ServerState> get(const ServerAddress& address) const;

  // Runs `fn(ServerState&)` on the entry of `address` (created if missing,
  // its last_update set to `now`) under the shard's lock and returns what
  // `fn` returns. `stale_after`: entries older than this may be dropped to
  // make room. `fn` must not call back into the table.
  template <typename Fn>
  decltype(auto) update(const ServerAddress& address, TimerService::TimePoint now,
                        TimerService::Clock::duration stale_after, Fn&& fn) {
    Shard& shard = shard_for(address);
    std::lock_guard lock(shard.mu);
    return fn(shard.entry(address, now, stale_after, max_per_shard_));
  }

  // Calls fn(const ServerAddress&, const ServerState&) for every server,
  // one shard lock at a time (fn must not call back into the table).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      for (const auto& [address, state] : shard.states) fn(address, state);
    }
  }

  // Puts back what a snapshot saved of `address` (warm restart), unless the
  // table has learned something of it since: that is newer. The entry
  // counts as updated at `now`.
  void restore(const ServerAddress& address, const ServerState& state,
               TimerService::TimePoint now);

  // Servers known, over all shards (each shard counted under its lock, so
  // the sum is only a snapshot while others write).
  size_t size() const;
  // For the operator's flush: forgets every server.
  void clear();
  // For the operator's dump: one ";"-comment line per server (address, RTT,
  // timeouts, hold-down left, quirks), in no particular order.
  std::string dump(TimerService::TimePoint now) const;

 private:
  // Aligned so two shards' mutexes never share a cache line.
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<ServerAddress, ServerState, ServerAddressHash> states;
    // Caller holds `mu`.
    ServerState& entry(const ServerAddress& address, TimerService::TimePoint now,
                       TimerService::Clock::duration stale_after, size_t max_entries);
  };

  Shard& shard_for(const ServerAddress& address) const;

  size_t max_per_shard_;
  // mutable: get() and size() lock shards of a const table.
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace sextant::resolver
