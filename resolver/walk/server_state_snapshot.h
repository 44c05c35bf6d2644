// The server table (RTT, EDNS and 0x20 quirks, hold-downs) in a cache
// snapshot: extension records of cache/cache_snapshot.h, one per server, so
// that a restarted resolver picks the fast servers at once instead of
// exploring again.
//
// Record kind kServerStateRecordKind, payload (big-endian):
//   u8 family (4|6)  4|16 address octets  u16 port
//   u8 flags (1 RTT known, 2 no EDNS, 4 mangles 0x20 case, 8 held down)
//   u32 srtt_us  u32 rttvar_us  u32 consecutive timeouts  u32 hold-down left (ms)
//
// Monotonic time does not survive a restart: a hold-down is saved as what
// was left of it and comes back shortened by the wall-clock time that passed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cache/cache_snapshot.h"
#include "resolver/walk/server_state_table.h"

namespace sextant::resolver {

inline constexpr uint8_t kServerStateRecordKind = cache::kSnapshotFirstExtensionKind;

// Appends one record per server known to any of `tables` (the daemon has
// one per worker); a server several tables know is written once, as the
// table that updated it last has it.
void add_server_states(cache::SnapshotWriter& writer,
                       std::span<const ServerStateTable* const> tables,
                       TimerService::TimePoint now);

// Puts one record back into every table of `tables` (ServerStateTable::
// restore: what a table learned since the start wins). `elapsed_ms`: wall
// time since the snapshot was written. False if the payload is malformed.
bool restore_server_state(std::span<const uint8_t> payload, uint64_t elapsed_ms,
                          std::span<ServerStateTable* const> tables,
                          TimerService::TimePoint now);

}  // namespace sextant::resolver
