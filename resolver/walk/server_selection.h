// What the walker knows about each authoritative server address, and the
// choice of which one to ask next.
//
// Per server: smoothed RTT and variance (RFC 6298), the retransmission
// timeout derived from them with exponential backoff after timeouts, a
// "dead" hold-down after consecutive timeouts (probed again with one query
// when it ends), and learned quirks: no EDNS (FORMERR/NOTIMP to OPT) and
// case mangling (0x20 answers not echoed, so the walker uses TCP).
//
// The states live in a ServerStateTable, normally one shared by the walkers
// of every worker (WalkerOptions::servers): what one worker learns steers
// the others. Each ServerSelection only adds its worker's timeouts and
// random stream. The single probe after a hold-down is claimed in the
// table, so it is one query across all workers, not one per worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "resolver/walk/query_randomness.h"
#include "resolver/walk/resolver_limits.h"
#include "resolver/walk/server_address.h"
#include "resolver/walk/server_state_table.h"
#include "resolver/walk/timer_service.h"

namespace sextant::resolver {

// One address the caller may ask, with how often it was asked already for
// the current zone cut.
struct ServerCandidate {
  ServerAddress address;
  uint32_t tries = 0;
};

class ServerSelection {
 public:
  // `table`: the states shared with other walkers; null gives this
  // selection a table of its own.
  ServerSelection(const WalkerTimeouts& timeouts, QueryRandomness& random,
                  std::shared_ptr<ServerStateTable> table = nullptr);

  // A copy of what is known about `address` (other workers may change the
  // table at any moment); nullopt if nothing.
  std::optional<ServerState> find(const ServerAddress& address) const;

  // A reply arrived after `rtt` (a real answer, lame or not).
  void on_reply(const ServerAddress& address, std::chrono::microseconds rtt,
                TimerService::TimePoint now);
  // The retransmission timer fired or the exchange timed out, for a query
  // sent at `sent_at`. Queries sent before the last counted timeout fired
  // and within min_rto of the query it counted bring no new evidence and
  // are not counted: a burst of
  // queries sent together to a slow, busy server times out together, and
  // must not look like a run of consecutive failures and hold it down for
  // every worker. Nor is a query sent before the server's last reply (it
  // answers, so that packet was lost).
  void on_timeout(const ServerAddress& address, TimerService::TimePoint now,
                  TimerService::TimePoint sent_at);
  // The network could not send to it (unreachable, refused): dead at once.
  void on_network_error(const ServerAddress& address, TimerService::TimePoint now);
  void set_no_edns(const ServerAddress& address, TimerService::TimePoint now);
  void set_mangles_case(const ServerAddress& address, TimerService::TimePoint now);
  // The server sent this server cookie (8..32 octets) in a reply.
  void set_server_cookie(const ServerAddress& address, std::span<const uint8_t> cookie, TimerService::TimePoint now);

  // Held down and not yet due for a probe, or its probe is claimed.
  bool is_dead(const ServerAddress& address, TimerService::TimePoint now) const;
  // Retransmission timeout for the next query to `address`.
  std::chrono::milliseconds rto(const ServerAddress& address) const;

  // Picks the index of the candidate to ask next: the fewest tries first,
  // then the lowest expected RTT (unknown servers count as initial_rto),
  // ties and near-ties broken at random; one choice in `explore_one_in`
  // picks any live candidate. Dead servers are skipped; one whose hold-down
  // ended is eligible again: choosing it claims its probe in the table, and
  // if another query (of any worker) claimed it first, it counts as dead
  // and the choice is made again without it. nullopt if every candidate is
  // dead.
  // With `include_dead`, held-down servers are candidates too, no probe is
  // claimed (used when every server of a zone is held down: they are asked
  // anyway).
  std::optional<size_t> choose(std::span<const ServerCandidate> candidates,
                               TimerService::TimePoint now, uint32_t explore_one_in,
                               bool include_dead = false);

  size_t size() const { return table_->size(); }
  const std::shared_ptr<ServerStateTable>& table() const noexcept { return table_; }

 private:
  // Runs `fn(ServerState&)` on the entry under its shard's lock.
  template <typename Fn>
  decltype(auto) update(const ServerAddress& address, TimerService::TimePoint now, Fn&& fn);
  // Claims the probe of a server whose hold-down ended; false if another
  // query claimed it first (or it was held down again meanwhile).
  bool claim_probe(const ServerAddress& address, TimerService::TimePoint now);
  void mark_dead(ServerState& s, TimerService::TimePoint now) const;
  std::chrono::milliseconds rto_of(const std::optional<ServerState>& s) const;
  std::chrono::microseconds expected_rtt_of(const std::optional<ServerState>& s) const;

  const WalkerTimeouts& timeouts_;
  QueryRandomness& random_;
  std::shared_ptr<ServerStateTable> table_;
};

}  // namespace sextant::resolver
