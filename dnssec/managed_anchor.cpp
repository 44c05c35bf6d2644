#include "dnssec/managed_anchor.h"

#include <fmt/format.h>

#include <algorithm>

#include "dnssec/digests.h"
#include "dnssec/key_chain.h"
#include "dnssec/record_fields.h"
#include "dnssec/rrsig_verify.h"
#include "dnssec/zone_key_set.h"

namespace sextant::dnssec {

namespace {

constexpr uint32_t kHour = 3600;
constexpr uint32_t kDay = 86400;

uint16_t flags_of(const wire::Rdata& dnskey) {
  return dnskey.size() >= 2 ? static_cast<uint16_t>((dnskey[0] << 8) | dnskey[1]) : 0;
}

bool is_sep(const wire::Rdata& dnskey) { return (flags_of(dnskey) & kDnskeyFlagSep) != 0; }
bool is_revoked(const wire::Rdata& dnskey) { return (flags_of(dnskey) & kDnskeyFlagRevoke) != 0; }

// Keys are the same key with or without the REVOKE bit (RFC 5011 §2.1).
bool same_key(const wire::Rdata& a, const wire::Rdata& b) {
  if (a.size() != b.size() || a.size() < 2) return false;
  return a[0] == b[0] && (a[1] | 0x80) == (b[1] | 0x80) && std::equal(a.begin() + 2, a.end(), b.begin() + 2);
}

uint32_t elapsed(uint32_t now, uint32_t since) { return serial_before(since, now) ? now - since : 0; }

// The RRSIGs over the DNSKEY set by the zone: the earliest expiration.
uint32_t signature_lifetime(const wire::RRset& dnskeys, const wire::Name& zone, uint32_t now) {
  uint32_t lifetime = 0;
  bool any = false;
  for (const wire::Rdata& rdata : dnskeys.signatures) {
    RrsigFields sig;
    if (!read_rrsig(rdata, sig) || sig.type_covered != wire::RRType::DNSKEY || !(sig.signer == zone)) continue;
    const uint32_t left = serial_before(now, sig.expiration) ? sig.expiration - now : 0;
    lifetime = any ? std::min(lifetime, left) : left;
    any = true;
  }
  return lifetime;
}

// RFC 5011 §2.3 active refresh intervals.
void set_intervals(ManagedAnchor& anchor, uint32_t ttl, uint32_t sig_lifetime, const ManagedAnchorTimers& t) {
  if (t.refresh) {
    anchor.query_interval = anchor.retry_time = t.refresh;
    return;
  }
  anchor.query_interval = std::max(kHour, std::min({15 * kDay, ttl / 2, sig_lifetime / 2}));
  anchor.retry_time = std::max(kHour, std::min({kDay, ttl / 10, sig_lifetime / 10}));
}

// Did `key` (revoked) sign the DNSKEY RRset itself?
bool self_signed(const wire::RRset& dnskeys, const wire::Name& zone, const ZoneKey& key, uint32_t now,
                 ValidationBudget& budget) {
  if (key.load_error != KeyError::ok) return false;
  const uint32_t skew = budget.limits().clock_skew_seconds;
  uint32_t tried = 0;
  for (const wire::Rdata& rdata : dnskeys.signatures) {
    RrsigFields sig;
    if (!read_rrsig(rdata, sig) || sig.type_covered != wire::RRType::DNSKEY || !(sig.signer == zone) ||
        sig.key_tag != key.tag || sig.algorithm != key.algorithm) {
      continue;
    }
    if (serial_before(sig.expiration, sig.inception) || serial_before(sig.expiration, now - skew) ||
        serial_before(now + skew, sig.inception)) {
      continue;
    }
    if (++tried > budget.limits().max_signatures_per_rrset || !budget.take_verification()) return false;
    const std::vector<uint8_t> data = signed_data(dnskeys, rdata);
    if (!data.empty() && key.key.verify(sig.signature, data)) return true;
  }
  return false;
}

bool matches_seed(const wire::Name& zone, const wire::Rdata& dnskey, std::span<const wire::Rdata> seeds) {
  for (const wire::Rdata& ds : seeds) {
    if (ds_matches_dnskey(zone, ds, dnskey)) return true;
  }
  return false;
}

void move_to(ManagedKey& key, ManagedKeyState to, uint32_t now, ProbeResult& result) {
  result.transitions.push_back({key.tag(), key.state, to});
  if (key.trusted() != (to == ManagedKeyState::valid || to == ManagedKeyState::missing)) {
    result.trust_changed = true;
  }
  key.state = to;
  key.last_change = now;
  if (to != ManagedKeyState::add_pending) key.pending_count = 0;
  result.state_changed = true;
}

}  // namespace

const char* to_string(ManagedKeyState s) noexcept {
  switch (s) {
    case ManagedKeyState::start: return "START";
    case ManagedKeyState::add_pending: return "ADDPEND";
    case ManagedKeyState::valid: return "VALID";
    case ManagedKeyState::missing: return "MISSING";
    case ManagedKeyState::revoked: return "REVOKED";
    case ManagedKeyState::removed: return "REMOVED";
  }
  return "?";
}

uint16_t ManagedKey::tag() const { return key_tag(dnskey); }

ManagedAnchor managed_anchor_from(const TrustAnchor& configured, std::span<const wire::Rdata> dnskeys) {
  ManagedAnchor anchor;
  anchor.zone = configured.zone;
  for (const wire::Rdata& key : dnskeys) {
    if (anchor.keys.size() < kMaxManagedKeys) anchor.keys.push_back({key, ManagedKeyState::valid, 0, 0});
  }
  // DS anchors that stand for one of the DNSKEYs given are not seeds.
  for (const wire::Rdata& ds : configured.ds) {
    const bool covered = std::any_of(dnskeys.begin(), dnskeys.end(), [&](const wire::Rdata& key) {
      return ds_matches_dnskey(configured.zone, ds, key);
    });
    if (!covered) anchor.ds_seeds.push_back(ds);
  }
  return anchor;
}

ProbeResult apply_probe(ManagedAnchor& anchor, const wire::RRset& dnskeys, uint32_t now,
                        const ManagedAnchorTimers& timers, ValidationBudget& budget) {
  ProbeResult result;
  anchor.last_queried = now;
  const std::string zone = anchor.zone.to_text();
  if (!(dnskeys.owner == anchor.zone) || dnskeys.type != wire::RRType::DNSKEY || dnskeys.rdatas.empty()) {
    result.reason = fmt::format("{}: no DNSKEY RRset in the answer", zone);
    apply_probe_failure(anchor, now, timers);
    return result;
  }
  const ZoneKeySet published(anchor.zone, dnskeys.rdatas);

  // 1. Revocations: a trusted key published with the REVOKE bit that
  //    signed the RRset itself is never trusted again (§2.1).
  for (const ZoneKey& key : published.keys()) {
    if (!is_sep(key.rdata) || !is_revoked(key.rdata)) continue;
    for (ManagedKey& managed : anchor.keys) {
      if (!managed.trusted() || !same_key(managed.dnskey, key.rdata)) continue;
      if (self_signed(dnskeys, anchor.zone, key, now, budget)) {
        move_to(managed, ManagedKeyState::revoked, now, result);
        managed.dnskey = key.rdata;
      }
    }
  }

  // 2. The RRset must be signed by a trusted key, or by a key a DS seed names.
  std::vector<const ZoneKey*> signers;
  for (const ZoneKey& key : published.keys()) {
    if (is_revoked(key.rdata)) continue;
    const bool trusted = std::any_of(anchor.keys.begin(), anchor.keys.end(), [&](const ManagedKey& m) {
      return m.trusted() && m.dnskey == key.rdata;
    });
    if (trusted || matches_seed(anchor.zone, key.rdata, anchor.ds_seeds)) signers.push_back(&key);
  }
  const RrsetVerification check =
      signers.empty() ? RrsetVerification{} : verify_rrset_with(dnskeys, anchor.zone, signers, now, budget);
  if (!check.secure()) {
    result.reason = signers.empty()
                        ? fmt::format("{}: no trusted key in the DNSKEY RRset", zone)
                        : fmt::format("{}: the DNSKEY RRset is not signed by a trusted key: {}", zone,
                                      check.reason);
    apply_probe_failure(anchor, now, timers);
    return result;
  }
  result.validated = true;

  // 3. Seeds become keys: the SEP keys they name are trusted at once. A
  //    seed that names no SEP key (a DS for a ZSK) stays a seed: RFC 5011
  //    tracks key-signing keys only, and dropping it would leave no anchor.
  if (!anchor.ds_seeds.empty()) {
    std::vector<wire::Rdata> kept;
    for (const wire::Rdata& seed : anchor.ds_seeds) {
      bool became_key = false;
      for (const ZoneKey& key : published.keys()) {
        if (!is_sep(key.rdata) || is_revoked(key.rdata) || !ds_matches_dnskey(anchor.zone, seed, key.rdata)) {
          continue;
        }
        became_key = true;
        const bool known = std::any_of(anchor.keys.begin(), anchor.keys.end(),
                                       [&](const ManagedKey& m) { return same_key(m.dnskey, key.rdata); });
        if (known || anchor.keys.size() >= kMaxManagedKeys) continue;
        ManagedKey added{key.rdata, ManagedKeyState::start, now, 0};
        move_to(added, ManagedKeyState::valid, now, result);
        anchor.keys.push_back(std::move(added));
      }
      if (!became_key) kept.push_back(seed);
    }
    if (kept.size() != anchor.ds_seeds.size()) {
      anchor.ds_seeds = std::move(kept);
      result.trust_changed = true;
      result.state_changed = true;
    }
  }

  // 4. The state table for every known key.
  auto present = [&](const wire::Rdata& rdata) {
    return std::any_of(published.keys().begin(), published.keys().end(), [&](const ZoneKey& key) {
      return is_sep(key.rdata) && !is_revoked(key.rdata) && key.rdata == rdata;
    });
  };
  const uint32_t hold_down = std::max(timers.add_hold_down, dnskeys.ttl);
  const bool any_valid = std::any_of(anchor.keys.begin(), anchor.keys.end(),
                                     [](const ManagedKey& m) { return m.state == ManagedKeyState::valid; });
  for (ManagedKey& key : anchor.keys) {
    const bool seen = present(key.dnskey);
    switch (key.state) {
      case ManagedKeyState::add_pending:
        if (!seen) {
          move_to(key, ManagedKeyState::start, now, result);
          break;
        }
        ++key.pending_count;
        result.state_changed = true;
        if (elapsed(now, key.last_change) >= hold_down && key.pending_count >= 2) {
          move_to(key, ManagedKeyState::valid, now, result);
        }
        break;
      case ManagedKeyState::valid:
        if (!seen) {
          move_to(key, ManagedKeyState::missing, now, result);
        } else if (key.last_change == 0) {
          key.last_change = now;  // read from a file without a date
          result.state_changed = true;
        }
        break;
      case ManagedKeyState::missing:
        if (seen) {
          move_to(key, ManagedKeyState::valid, now, result);
        } else if (timers.keep_missing && any_valid && elapsed(now, key.last_change) >= timers.keep_missing) {
          move_to(key, ManagedKeyState::removed, now, result);
        }
        break;
      case ManagedKeyState::revoked:
        if (elapsed(now, key.last_change) >= timers.remove_hold_down) {
          move_to(key, ManagedKeyState::removed, now, result);
        }
        break;
      case ManagedKeyState::start:
      case ManagedKeyState::removed:
        break;
    }
  }
  std::erase_if(anchor.keys, [](const ManagedKey& k) {
    return k.state == ManagedKeyState::start || k.state == ManagedKeyState::removed;
  });

  // 5. New SEP keys start their add hold-down.
  for (const ZoneKey& key : published.keys()) {
    if (!is_sep(key.rdata) || is_revoked(key.rdata) || !key.is_zone_key()) continue;
    const bool known = std::any_of(anchor.keys.begin(), anchor.keys.end(),
                                   [&](const ManagedKey& m) { return same_key(m.dnskey, key.rdata); });
    if (known) continue;
    if (anchor.keys.size() >= kMaxManagedKeys) {
      result.reason = fmt::format("{}: more than {} SEP keys; new ones are not tracked", zone, kMaxManagedKeys);
      break;
    }
    ManagedKey added{key.rdata, ManagedKeyState::start, now, 0};
    move_to(added, ManagedKeyState::add_pending, now, result);
    added.pending_count = 1;
    anchor.keys.push_back(std::move(added));
  }

  anchor.last_success = now;
  if (anchor.query_failed) result.state_changed = true;
  anchor.query_failed = 0;
  set_intervals(anchor, dnskeys.ttl, signature_lifetime(dnskeys, anchor.zone, now), timers);
  anchor.next_probe = now + anchor.query_interval;
  return result;
}

void apply_probe_failure(ManagedAnchor& anchor, uint32_t now, const ManagedAnchorTimers& timers) {
  anchor.last_queried = now;
  ++anchor.query_failed;
  uint32_t retry = timers.refresh ? timers.refresh : anchor.retry_time;
  if (retry == 0) retry = kHour;
  anchor.next_probe = now + retry;
}

TrustAnchor trust_anchor_of(const ManagedAnchor& anchor) {
  TrustAnchors built;
  built.add_zone(anchor.zone);
  for (const ManagedKey& key : anchor.keys) {
    if (key.trusted()) built.add_dnskey(anchor.zone, key.dnskey);
  }
  for (const wire::Rdata& ds : anchor.ds_seeds) built.add_ds(anchor.zone, ds);
  return built.anchors().front();
}

}  // namespace sextant::dnssec
