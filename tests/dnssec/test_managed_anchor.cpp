// RFC 5011 trust anchor maintenance (dnssec/managed_anchor.h) and its state
// file (dnssec/anchor_state_file.h): a key rollover with the add hold-down,
// a revocation, missing keys, forged key sets, the probe intervals of
// §2.3, and the file format (Unbound's layout) with its errors.
#include <catch2/catch.hpp>

#include <algorithm>

#include "dnssec/anchor_state_file.h"
#include "dnssec/managed_anchor.h"
#include "dnssec/record_fields.h"
#include "test_helpers.h"
#include "wire/errors.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

constexpr uint32_t kDay = 86400;

// The zone's DNSKEY RRset made of `published` keys, signed by `signers`.
wire::RRset key_set(std::initializer_list<const TestKey*> published,
                    std::initializer_list<const TestKey*> signers, uint32_t now, uint32_t ttl = 5) {
  wire::RRset set = rrset(".", RRType::DNSKEY, ttl, {});
  for (const TestKey* k : published) set.rdatas.push_back(k->dnskey());
  for (const TestKey* k : signers) k->sign(set, wire::Name(), now - 3600, now + 10 * kDay);
  return set;
}

const ManagedKey* find(const ManagedAnchor& a, const TestKey& k) {
  for (const ManagedKey& m : a.keys) {
    if (m.dnskey.size() == k.dnskey().size() &&
        std::equal(m.dnskey.begin() + 2, m.dnskey.end(), k.dnskey().begin() + 2)) {
      return &m;
    }
  }
  return nullptr;
}

ManagedKeyState state_of(const ManagedAnchor& a, const TestKey& k) {
  const ManagedKey* m = find(a, k);
  return m ? m->state : ManagedKeyState::start;
}

bool anchored(const ManagedAnchor& a, const TestKey& k) {
  const TrustAnchor t = trust_anchor_of(a);
  return std::any_of(t.ds.begin(), t.ds.end(), [&](const wire::Rdata& ds) { return ds == k.ds(wire::Name()); });
}

ManagedAnchor anchor_with(const TestKey& key) {
  TrustAnchor configured{wire::Name(), {}};
  return managed_anchor_from(configured, std::vector<wire::Rdata>{key.dnskey()});
}

ManagedAnchorTimers short_timers() {
  ManagedAnchorTimers t;
  t.add_hold_down = 10;
  t.remove_hold_down = 20;
  t.keep_missing = 30;
  t.refresh = 2;
  return t;
}

}  // namespace

TEST_CASE("RFC 5011: a DS seed is matched to its key at the first probe", "[dnssec][rfc5011]") {
  TestKey k1(13, 257);
  TestKey zsk(13, 256);
  TrustAnchor configured{wire::Name(), {k1.ds(wire::Name())}};
  ManagedAnchor a = managed_anchor_from(configured);
  CHECK(a.keys.empty());
  CHECK(a.ds_seeds.size() == 1);
  CHECK(trust_anchor_of(a).ds == configured.ds);
  ValidationBudget budget;
  const uint32_t now = kNow;
  auto r = apply_probe(a, key_set({&k1, &zsk}, {&k1}, now), now, short_timers(), budget);
  INFO(r.reason);
  CHECK(r.validated);
  CHECK(r.trust_changed);
  CHECK(a.ds_seeds.empty());
  REQUIRE(a.keys.size() == 1);  // the ZSK is not a SEP key: not managed
  CHECK(state_of(a, k1) == ManagedKeyState::valid);
  CHECK(anchored(a, k1));
  CHECK(a.next_probe == now + 2);
}

TEST_CASE("RFC 5011: a DS seed that names a ZSK stays a seed", "[dnssec][rfc5011]") {
  TestKey ksk(13, 257);
  TestKey zsk(13, 256);
  TrustAnchor configured{wire::Name(), {zsk.ds(wire::Name())}};
  ManagedAnchor a = managed_anchor_from(configured);
  ValidationBudget budget;
  auto r = apply_probe(a, key_set({&ksk, &zsk}, {&zsk}, kNow), kNow, short_timers(), budget);
  CHECK(r.validated);
  CHECK(a.ds_seeds.size() == 1);  // not dropped: the anchor still holds
  CHECK(trust_anchor_of(a).ds == configured.ds);
  CHECK(state_of(a, ksk) == ManagedKeyState::add_pending);  // a new SEP key, on probation
}

TEST_CASE("RFC 5011: a key rollover, then the old key revoked", "[dnssec][rfc5011]") {
  TestKey k1(13, 257);
  TestKey k2(13, 257);
  ManagedAnchor a = anchor_with(k1);
  const ManagedAnchorTimers timers = short_timers();
  ValidationBudget budget({.max_verifications_per_request = 1000});
  uint32_t now = kNow;

  // The new key is published, signed by the old one: add hold-down starts.
  auto r = apply_probe(a, key_set({&k1, &k2}, {&k1}, now), now, timers, budget);
  CHECK(r.validated);
  CHECK(state_of(a, k2) == ManagedKeyState::add_pending);
  CHECK_FALSE(anchored(a, k2));
  REQUIRE(r.transitions.size() >= 1);
  CHECK(r.transitions.back().to == ManagedKeyState::add_pending);

  // Seen again inside the hold-down: still pending.
  now += 5;
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now), now, timers, budget);
  CHECK(state_of(a, k2) == ManagedKeyState::add_pending);

  // The hold-down is over and the key still there: a trust anchor now.
  now += 6;
  r = apply_probe(a, key_set({&k1, &k2}, {&k1}, now), now, timers, budget);
  CHECK(state_of(a, k2) == ManagedKeyState::valid);
  CHECK(r.trust_changed);
  CHECK(anchored(a, k2));

  // The zone signs with the new key and revokes the old one: the revoked
  // key signs the set itself (RFC 5011 2.1).
  TestKey k1_revoked = k1;
  k1_revoked.set_flags(257 | kDnskeyFlagRevoke);
  now += 2;
  r = apply_probe(a, key_set({&k1_revoked, &k2}, {&k2, &k1_revoked}, now), now, timers, budget);
  INFO(r.reason);
  CHECK(r.validated);
  CHECK(r.trust_changed);
  CHECK(state_of(a, k1) == ManagedKeyState::revoked);
  CHECK_FALSE(anchored(a, k1));
  CHECK(anchored(a, k2));
  // The revoked key's tag changed; the transition names the old one.
  bool saw = false;
  for (const auto& t : r.transitions) saw = saw || (t.tag == k1.tag() && t.to == ManagedKeyState::revoked);
  CHECK(saw);

  // Publishing it again without the bit does not bring it back.
  now += 2;
  apply_probe(a, key_set({&k1, &k2}, {&k2}, now), now, timers, budget);
  CHECK(state_of(a, k1) == ManagedKeyState::revoked);
  CHECK_FALSE(anchored(a, k1));

  // After the remove hold-down it is forgotten.
  now += timers.remove_hold_down;
  apply_probe(a, key_set({&k2}, {&k2}, now), now, timers, budget);
  CHECK(find(a, k1) == nullptr);
  CHECK(a.keys.size() == 1);
}

TEST_CASE("RFC 5011: key sets a trusted key did not sign change nothing", "[dnssec][rfc5011]") {
  TestKey k1(13, 257);
  TestKey attacker(13, 257);
  ManagedAnchor a = anchor_with(k1);
  ValidationBudget budget;
  uint32_t now = kNow;
  SECTION("a set signed only by a new key") {
    auto r = apply_probe(a, key_set({&k1, &attacker}, {&attacker}, now), now, short_timers(), budget);
    CHECK_FALSE(r.validated);
    CHECK(find(a, attacker) == nullptr);
    CHECK(a.query_failed == 1);
    CHECK(a.next_probe == now + 2);
  }
  SECTION("a forged set without the trusted key") {
    auto r = apply_probe(a, key_set({&attacker}, {&attacker}, now), now, short_timers(), budget);
    CHECK_FALSE(r.validated);
    CHECK(state_of(a, k1) == ManagedKeyState::valid);
  }
  SECTION("a REVOKE bit the key did not sign itself is no revocation") {
    TestKey k1_revoked = k1;
    k1_revoked.set_flags(257 | kDnskeyFlagRevoke);
    TestKey k2(13, 257);
    // Signed by k1 (unrevoked form) only: the revocation is not proven.
    wire::RRset set = key_set({&k1_revoked, &k1}, {&k1}, now);
    auto r = apply_probe(a, set, now, short_timers(), budget);
    CHECK(r.validated);
    CHECK(state_of(a, k1) == ManagedKeyState::valid);
  }
  SECTION("no answer at all") {
    apply_probe_failure(a, now, short_timers());
    CHECK(a.query_failed == 1);
    CHECK(state_of(a, k1) == ManagedKeyState::valid);
  }
}

TEST_CASE("RFC 5011: missing keys, pending keys that go away, all keys revoked", "[dnssec][rfc5011]") {
  TestKey k1(13, 257);
  TestKey k2(13, 257);
  ManagedAnchor a = anchor_with(k1);
  a.keys.push_back({k2.dnskey(), ManagedKeyState::valid, kNow, 0});
  const ManagedAnchorTimers timers = short_timers();
  ValidationBudget budget({.max_verifications_per_request = 1000});
  uint32_t now = kNow;

  // k2 disappears: Missing, still a trust anchor; it comes back: Valid.
  apply_probe(a, key_set({&k1}, {&k1}, now), now, timers, budget);
  CHECK(state_of(a, k2) == ManagedKeyState::missing);
  CHECK(anchored(a, k2));
  now += 1;
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now), now, timers, budget);
  CHECK(state_of(a, k2) == ManagedKeyState::valid);
  // Missing longer than keep-missing while k1 is Valid: forgotten.
  now += 1;
  apply_probe(a, key_set({&k1}, {&k1}, now), now, timers, budget);
  now += timers.keep_missing;
  apply_probe(a, key_set({&k1}, {&k1}, now), now, timers, budget);
  CHECK(find(a, k2) == nullptr);

  // A pending key that leaves before its hold-down is forgotten.
  TestKey k3(13, 257);
  now += 1;
  apply_probe(a, key_set({&k1, &k3}, {&k1}, now), now, timers, budget);
  CHECK(state_of(a, k3) == ManagedKeyState::add_pending);
  now += 1;
  apply_probe(a, key_set({&k1}, {&k1}, now), now, timers, budget);
  CHECK(find(a, k3) == nullptr);

  // The last trusted key revoked: the trust point keeps no key.
  TestKey k1_revoked = k1;
  k1_revoked.set_flags(257 | kDnskeyFlagRevoke);
  now += 1;
  auto r = apply_probe(a, key_set({&k1_revoked}, {&k1_revoked}, now), now, timers, budget);
  CHECK(state_of(a, k1) == ManagedKeyState::revoked);
  CHECK(r.trust_changed);
  const TrustAnchor t = trust_anchor_of(a);
  CHECK(t.zone == wire::Name());
  CHECK(t.ds.empty());
}

TEST_CASE("RFC 5011: the add hold-down is at least the RRset's TTL; refresh intervals (2.3)",
          "[dnssec][rfc5011]") {
  TestKey k1(13, 257);
  TestKey k2(13, 257);
  ManagedAnchor a = anchor_with(k1);
  ManagedAnchorTimers timers = short_timers();
  ValidationBudget budget({.max_verifications_per_request = 1000});
  uint32_t now = kNow;
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now, 100), now, timers, budget);
  now += 50;
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now, 100), now, timers, budget);
  CHECK(state_of(a, k2) == ManagedKeyState::add_pending);  // 50 s < TTL 100
  now += 51;
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now, 100), now, timers, budget);
  CHECK(state_of(a, k2) == ManagedKeyState::valid);

  // Without a fixed refresh: queryInterval = max(1h, min(15d, TTL/2,
  // lifetime/2)), retryTime = max(1h, min(1d, TTL/10, lifetime/10)).
  timers.refresh = 0;
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now, 172800), now, timers, budget);
  CHECK(a.query_interval == 86400);  // TTL/2; the signatures last 10 days
  CHECK(a.retry_time == 17280);
  CHECK(a.next_probe == now + 86400);
  apply_probe(a, key_set({&k1, &k2}, {&k1}, now, 600), now, timers, budget);
  CHECK(a.query_interval == 3600);  // never below one hour
  CHECK(a.retry_time == 3600);
  apply_probe_failure(a, now, timers);
  CHECK(a.next_probe == now + 3600);
}

TEST_CASE("RFC 5011 state file: written and read back; Unbound's layout", "[dnssec][rfc5011][file]") {
  TestKey k1(13, 257);
  TestKey k2(8, 257, 1024);
  TestKey k3(13, 257);
  ManagedAnchor a = anchor_with(k1);
  a.keys.push_back({k2.dnskey(), ManagedKeyState::add_pending, kNow - 5, 3});
  k3.set_flags(257 | kDnskeyFlagRevoke);
  a.keys.push_back({k3.dnskey(), ManagedKeyState::revoked, kNow - 7, 0});
  a.ds_seeds.push_back(TestKey(15, 257).ds(wire::Name()));
  a.last_queried = kNow;
  a.last_success = kNow - 1;
  a.next_probe = kNow + 3600;
  a.query_failed = 2;
  a.query_interval = 43200;
  a.retry_time = 8640;
  ManagedAnchor b;
  b.zone = wire::Name::from_text("example.");  // a trust point with every key gone
  const std::vector<ManagedAnchor> both = {a, b};
  const std::string text = write_anchor_state(both);
  INFO(text);
  const auto back = read_anchor_state(text, "state");
  REQUIRE(back.size() == 2);
  const ManagedAnchor& r = back[0];
  CHECK(r.zone == a.zone);
  REQUIRE(r.keys.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(r.keys[i].dnskey == a.keys[i].dnskey);
    CHECK(r.keys[i].state == a.keys[i].state);
    CHECK(r.keys[i].last_change == a.keys[i].last_change);
    CHECK(r.keys[i].pending_count == a.keys[i].pending_count);
  }
  CHECK(r.ds_seeds == a.ds_seeds);
  CHECK(r.last_queried == a.last_queried);
  CHECK(r.last_success == a.last_success);
  CHECK(r.next_probe == a.next_probe);
  CHECK(r.query_failed == 2);
  CHECK(r.query_interval == 43200);
  CHECK(r.retry_time == 8640);
  CHECK(back[1].zone == b.zone);
  CHECK(back[1].keys.empty());
  CHECK(trust_anchor_of(back[1]).ds.empty());

  // As Unbound writes it (its comment text differs from ours), and a plain
  // root.key: a DNSKEY without state is a Valid anchor.
  const std::string key_text = wire::rdata_to_text(RRType::DNSKEY, k1.dnskey());
  const std::string unbound =
      "; autotrust trust anchor file\n"
      ";;id: . 1\n"
      ";;last_queried: 1700000000 ;;Tue Nov 14 22:13:20 2023\n"
      ";;last_success: 1700000000 ;;Tue Nov 14 22:13:20 2023\n"
      ";;next_probe_time: 1700040000 ;;Wed Nov 15 09:20:00 2023\n"
      ";;query_failed: 0\n"
      ";;query_interval: 43200\n"
      ";;retry_time: 8640\n"
      ".\t172800\tIN\tDNSKEY\t" + key_text +
      " ;{id = 12345 (ksk), size = 256b} ;;state=2 [  VALID  ] ;;count=0 ;;lastchange=1690000000 ;;Sat Jul 22\n";
  const auto u = read_anchor_state(unbound, "root.key");
  REQUIRE(u.size() == 1);
  REQUIRE(u[0].keys.size() == 1);
  CHECK(u[0].keys[0].state == ManagedKeyState::valid);
  CHECK(u[0].keys[0].last_change == 1690000000);
  CHECK(u[0].next_probe == 1700040000);
  const auto plain = read_anchor_state(". 172800 IN DNSKEY " + key_text + "\n", "root.key");
  REQUIRE(plain[0].keys.size() == 1);
  CHECK(plain[0].keys[0].state == ManagedKeyState::valid);
  CHECK(plain[0].keys[0].last_change == 0);
}

TEST_CASE("RFC 5011 state file: errors name the line", "[dnssec][rfc5011][file]") {
  TestKey k1(13, 257);
  TestKey zsk(13, 256);
  const std::string key = wire::rdata_to_text(RRType::DNSKEY, k1.dnskey());
  auto error_of = [](const std::string& text) {
    try {
      read_anchor_state(text, "state.key");
    } catch (const wire::TextError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("") == "state.key: no trust anchors");
  CHECK(error_of("; only a comment\n") == "state.key: no trust anchors");
  CHECK(error_of(";;id: . 1\n\n. IN DNSKEY " + key + " ;;state=9\n").rfind("state.key:3: state=9", 0) == 0);
  CHECK(error_of(";;query_interval: 5\n").rfind("state.key:1: ';;query_interval:' before", 0) == 0);
  CHECK(error_of(";;id: . 1\n;;query_failed: many\n").rfind("state.key:2:", 0) == 0);
  CHECK(error_of(". IN A 192.0.2.1\n").rfind("state.key:1: a A record", 0) == 0);
  CHECK(error_of(". IN DNSKEY " + wire::rdata_to_text(RRType::DNSKEY, zsk.dnskey()) + "\n")
            .rfind("state.key:1: the DNSKEY is not a SEP key", 0) == 0);
  CHECK(error_of("$ORIGIN .\n").rfind("state.key:1: directives", 0) == 0);
  CHECK(error_of("\n. IN DNSKEY 257 3 13 !!!\n").rfind("state.key:2:", 0) == 0);
  CHECK(error_of(". IN DNSKEY " + key + "\n. IN DNSKEY " + key + "\n").rfind("state.key:2: the same key twice", 0) == 0);
  CHECK(error_of(". IN DNSKEY " + key + " ;;state=x\n").rfind("state.key:1:", 0) == 0);
  CHECK(error_of(std::string(2 * 1024 * 1024, ';')) == "state.key: larger than 1048576 bytes");
  // Start and Removed keys are dropped, as Unbound does.
  const auto dropped = read_anchor_state(". IN DNSKEY " + key + " ;;state=5\n;;id: example. 1\n", "s");
  CHECK(dropped[0].keys.empty());
}
