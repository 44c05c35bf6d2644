// What the walker knows about each authoritative server address, and the
// choice of which one to ask next.
//
// Per server: smoothed RTT and variance (RFC 6298), the retransmission
// timeout derived from them with exponential backoff after timeouts, a
// "dead" hold-down after consecutive timeouts (probed again with one query
// when it ends), and learned quirks: no EDNS (FORMERR/NOTIMP to OPT) and
// case mangling (0x20 answers not echoed, so the walker uses TCP).
//
// One table per worker, touched only by its loop. Bounded: entries not
// updated for server_state_lifetime are dropped when the table is full.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "resolver/query_randomness.h"
#include "resolver/resolver_limits.h"
#include "resolver/server_address.h"
#include "resolver/timer_service.h"

namespace sextant::resolver {

struct ServerState {
  bool rtt_known = false;
  std::chrono::microseconds srtt{0};
  std::chrono::microseconds rttvar{0};
  uint32_t consecutive_timeouts = 0;
  bool dead = false;
  TimerService::TimePoint dead_until{};
  bool no_edns = false;       // answered FORMERR/NOTIMP/BADVERS-less garbage to EDNS
  bool mangles_case = false;  // did not echo the 0x20 question: go to TCP directly
  TimerService::TimePoint last_update{};
};

// One address the caller may ask, with how often it was asked already for
// the current zone cut.
struct ServerCandidate {
  ServerAddress address;
  uint32_t tries = 0;
};

class ServerSelection {
 public:
  static constexpr size_t kMaxEntries = 10000;

  ServerSelection(const WalkerTimeouts& timeouts, QueryRandomness& random)
      : timeouts_(timeouts), random_(random) {}

  // nullptr if nothing is known about `address`.
  const ServerState* find(const ServerAddress& address) const;

  // A reply arrived after `rtt` (a real answer, lame or not).
  void on_reply(const ServerAddress& address, std::chrono::microseconds rtt,
                TimerService::TimePoint now);
  // The retransmission timer fired or the exchange timed out.
  void on_timeout(const ServerAddress& address, TimerService::TimePoint now);
  // The network could not send to it (unreachable, refused): dead at once.
  void on_network_error(const ServerAddress& address, TimerService::TimePoint now);
  void set_no_edns(const ServerAddress& address, TimerService::TimePoint now);
  void set_mangles_case(const ServerAddress& address, TimerService::TimePoint now);

  // Held down and not yet due for a probe.
  bool is_dead(const ServerAddress& address, TimerService::TimePoint now) const;
  // Retransmission timeout for the next query to `address`.
  std::chrono::milliseconds rto(const ServerAddress& address) const;

  // Picks the index of the candidate to ask next: the fewest tries first,
  // then the lowest expected RTT (unknown servers count as initial_rto),
  // ties and near-ties broken at random; one choice in `explore_one_in`
  // picks any live candidate. Dead servers are skipped; one whose hold-down
  // ended is eligible again (that query is its probe). nullopt if every
  // candidate is dead.
  // With `include_dead`, held-down servers are candidates too (used when
  // every server of a zone is held down).
  std::optional<size_t> choose(std::span<const ServerCandidate> candidates,
                               TimerService::TimePoint now, uint32_t explore_one_in,
                               bool include_dead = false);

  size_t size() const noexcept { return states_.size(); }

 private:
  ServerState& entry(const ServerAddress& address, TimerService::TimePoint now);
  std::chrono::microseconds expected_rtt(const ServerAddress& address) const;

  const WalkerTimeouts& timeouts_;
  QueryRandomness& random_;
  std::unordered_map<ServerAddress, ServerState, ServerAddressHash> states_;
};

}  // namespace sextant::resolver
