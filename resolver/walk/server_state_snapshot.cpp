#include "resolver/walk/server_state_snapshot.h"

#include <algorithm>
#include <unordered_map>

#include "cache/snapshot_bytes.h"

namespace sextant::resolver {

namespace {

enum Flags : uint8_t { kRttKnown = 1, kNoEdns = 2, kManglesCase = 4, kHeldDown = 8 };

uint32_t clamp_u32(int64_t v) {
  return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, UINT32_MAX));
}

}  // namespace

void add_server_states(cache::SnapshotWriter& writer,
                       std::span<const ServerStateTable* const> tables,
                       TimerService::TimePoint now) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  std::unordered_map<ServerAddress, ServerState, ServerAddressHash> merged;
  for (const ServerStateTable* table : tables) {
    table->for_each([&](const ServerAddress& address, const ServerState& state) {
      auto [it, inserted] = merged.emplace(address, state);
      if (!inserted && state.last_update > it->second.last_update) it->second = state;
    });
  }
  std::vector<uint8_t> payload;
  for (const auto& [address, st] : merged) {
    payload.clear();
    cache::ByteWriter w(payload);
    w.u8(address.is_ipv6() ? 6 : 4);
    w.bytes(address.address_bytes());
    w.u16(address.port);
    const bool held = st.dead && st.dead_until > now;
    w.u8(static_cast<uint8_t>((st.rtt_known ? kRttKnown : 0) | (st.no_edns ? kNoEdns : 0) |
                              (st.mangles_case ? kManglesCase : 0) | (held ? kHeldDown : 0)));
    w.u32(clamp_u32(duration_cast<microseconds>(st.srtt).count()));
    w.u32(clamp_u32(duration_cast<microseconds>(st.rttvar).count()));
    w.u32(st.consecutive_timeouts);
    w.u32(held ? clamp_u32(duration_cast<milliseconds>(st.dead_until - now).count()) : 0);
    writer.add_extension(kServerStateRecordKind, payload);
  }
}

bool restore_server_state(std::span<const uint8_t> payload, uint64_t elapsed_ms,
                          std::span<ServerStateTable* const> tables,
                          TimerService::TimePoint now) {
  cache::ByteReader r(payload);
  uint8_t family = r.u8();
  if (family != 4 && family != 6) return false;
  auto octets = r.bytes(family == 4 ? 4 : 16);
  uint16_t port = r.u16();
  uint8_t flags = r.u8();
  uint32_t srtt_us = r.u32();
  uint32_t rttvar_us = r.u32();
  uint32_t timeouts = r.u32();
  uint32_t hold_ms = r.u32();
  if (!r.at_end() || (flags & ~0x0F) != 0) return false;
  ServerAddress address = family == 4 ? ServerAddress::ipv4(octets.first<4>(), port)
                                      : ServerAddress::ipv6(octets.first<16>(), port);
  ServerState state;
  state.rtt_known = flags & kRttKnown;
  state.srtt = std::chrono::microseconds(srtt_us);
  state.rttvar = std::chrono::microseconds(rttvar_us);
  state.no_edns = flags & kNoEdns;
  state.mangles_case = flags & kManglesCase;
  state.consecutive_timeouts = timeouts;
  state.last_timeout_counted = now;
  if ((flags & kHeldDown) && hold_ms > elapsed_ms) {
    state.dead = true;
    state.dead_until = now + std::chrono::milliseconds(hold_ms - elapsed_ms);
  }
  for (ServerStateTable* table : tables) table->restore(address, state, now);
  return true;
}

}  // namespace sextant::resolver
