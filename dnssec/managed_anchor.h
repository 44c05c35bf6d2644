// RFC 5011 automated updates of trust anchors: the state of one managed
// trust point (its SEP keys, each in one of the six states of RFC 5011 §4)
// and the step that moves it on from a probe of the zone's DNSKEY RRset.
// Pure: the caller fetches the RRset (with its RRSIGs, checking disabled),
// passes `now`, and stores the state (anchor_state_file.h).
//
//   Start --new key in a validated set--> AddPend
//   AddPend --hold-down over and seen at >= 2 probes--> Valid
//   AddPend --gone from the set--> (forgotten)
//   Valid --gone--> Missing --back--> Valid
//   Valid/Missing --REVOKE bit, self-signed--> Revoked --remove hold-down--> (forgotten)
//   Missing --keep-missing over, another key Valid--> (forgotten)
//
// A probed RRset counts only if a key in Valid or Missing state signed it
// (RFC 5011 §2.2); an anchor configured as DS records (a "seed", e.g. the
// built-in root DS) first lets the keys that match it sign, and those
// become Valid. A revocation counts when the revoked key signed the RRset
// itself (§2.1), whether or not another trusted key did.
//
// Choices:
// - Add hold-down: max(add_hold_down, the RRset's original TTL) (§2.4.1);
//   the key must also have been seen at two probes at least (as Unbound).
// - A trust point whose keys are all revoked or removed keeps its entry with
//   no key: names below it are SERVFAIL (EDE 9), not insecure. (Unbound
//   deletes such a trust point, which makes the zone insecure; failing
//   closed leaves the choice to the operator.)
// - Only SEP keys are tracked, at most kMaxManagedKeys per trust point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dnssec/trust_anchors.h"
#include "dnssec/validation_budget.h"
#include "wire/name.h"
#include "wire/record.h"

namespace sextant::dnssec {

// Numbered as Unbound writes them in its autotrust files.
enum class ManagedKeyState : uint8_t { start = 0, add_pending = 1, valid = 2, missing = 3, revoked = 4, removed = 5 };
const char* to_string(ManagedKeyState s) noexcept;

inline constexpr size_t kMaxManagedKeys = 32;

struct ManagedKey {
  wire::Rdata dnskey;            // DNSKEY rdata; the REVOKE bit is set once revoked
  ManagedKeyState state = ManagedKeyState::valid;
  uint32_t last_change = 0;      // when it entered its state (0: unknown)
  uint32_t pending_count = 0;    // probes that saw it while AddPend

  // The key's tag as published now (it changes with the REVOKE bit).
  uint16_t tag() const;
  // A trust anchor key: Valid or Missing.
  bool trusted() const noexcept {
    return state == ManagedKeyState::valid || state == ManagedKeyState::missing;
  }
};

struct ManagedAnchor {
  wire::Name zone;
  std::vector<ManagedKey> keys;      // SEP keys only
  std::vector<wire::Rdata> ds_seeds; // DS anchors not yet matched to a key by a probe
  // Probe bookkeeping (seconds since the epoch; 0 = never).
  uint32_t last_queried = 0;
  uint32_t last_success = 0;
  uint32_t next_probe = 0;
  uint32_t query_failed = 0;
  uint32_t query_interval = 0;
  uint32_t retry_time = 0;
};

struct ManagedAnchorTimers {
  uint32_t add_hold_down = 30 * 86400;     // RFC 5011 §2.4.1
  uint32_t remove_hold_down = 30 * 86400;  // §2.4.2
  uint32_t keep_missing = 366 * 86400;     // 0: keep Missing keys forever (Unbound's default too)
  // Fixed probe and retry interval; 0 = the formulas of §2.3 (1 hour to
  // 15 days from the TTL and signature lifetime; retries 1 hour to 1 day).
  uint32_t refresh = 0;
};

struct KeyTransition {
  uint16_t tag = 0;  // the tag before the change (a revoked key's old tag)
  ManagedKeyState from = ManagedKeyState::start;
  ManagedKeyState to = ManagedKeyState::start;
};

struct ProbeResult {
  bool validated = false;      // a trusted key signed the RRset
  bool trust_changed = false;  // the set of trusted keys (or seeds) changed
  bool state_changed = false;  // anything worth writing to the state file
  std::vector<KeyTransition> transitions;
  std::string reason;          // why the RRset was not accepted, or what changed
};

// A new managed trust point from configured anchor data (DS seeds and/or
// DNSKEYs, the latter Valid at once as the operator trusts them).
ManagedAnchor managed_anchor_from(const TrustAnchor& configured, std::span<const wire::Rdata> dnskeys = {});

// One probe: `dnskeys` is the zone's DNSKEY RRset with its RRSIGs as the
// zone's servers sent it. Moves the keys on, sets next_probe.
ProbeResult apply_probe(ManagedAnchor& anchor, const wire::RRset& dnskeys, uint32_t now,
                        const ManagedAnchorTimers& timers, ValidationBudget& budget);

// The probe could not fetch the RRset (timeout, SERVFAIL...): schedules a
// retry (§2.3 retryTime) and counts the failure; the keys do not change.
void apply_probe_failure(ManagedAnchor& anchor, uint32_t now, const ManagedAnchorTimers& timers);

// The anchor the validator uses: the Valid and Missing keys as SHA-256 DS,
// plus unmatched seeds. No key left: an entry without DS (bogus below).
TrustAnchor trust_anchor_of(const ManagedAnchor& anchor);

}  // namespace sextant::dnssec
