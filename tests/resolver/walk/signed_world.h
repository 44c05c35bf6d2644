// A signed little internet for whole-resolution DNSSEC tests: a signed root
// (the trust anchor), a signed "example." and an unsigned "plain.", signed
// in the test with keys generated for any supported algorithm
// (tests/dnssec/test_helpers.h), served by scripted rules.
#pragma once

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache.h"
#include "dnssec/digests.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"
#include "tests/dnssec/test_helpers.h"
#include "wire/base_encoding.h"

namespace sextant::resolver::testing::signed_world {

using dnssec::test::TestKey;
using std::chrono::milliseconds;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;


inline constexpr std::string_view kRoot = "198.41.0.4";
inline constexpr std::string_view kExample = "192.0.2.53";
inline constexpr std::string_view kPlain = "192.0.2.60";
// FakeLoop::wall_seconds() starts here; signatures are valid a day around it.
inline constexpr uint32_t kWallStart = 1'750'000'000u;
inline constexpr uint32_t kInception = kWallStart - 86400;
inline constexpr uint32_t kExpiration = kWallStart + 86400;

inline Name N(std::string_view text) { return Name::from_text(text); }

inline std::unique_ptr<QueryRandomness> seeded_random() {
  std::array<uint8_t, 32> key{};
  key.fill(3);
  return std::make_unique<QueryRandomness>(key);
}

inline RRset set_of(std::string_view owner, RRType type, std::vector<std::string> rdatas,
             uint32_t ttl = 3600) {
  RRset set;
  set.owner = N(owner);
  set.type = type;
  set.ttl = ttl;
  for (const auto& text : rdatas) set.rdatas.push_back(wire::rdata_from_text(type, text));
  return set;
}

// The RRset and its RRSIGs as records of a scripted reply.
inline void add_records(std::vector<wire::ResourceRecord>& out, const RRset& set) {
  for (const auto& rdata : set.rdatas) {
    out.push_back(wire::ResourceRecord{set.owner, set.type, wire::RRClass::IN, set.ttl, rdata});
  }
  for (const auto& sig : set.signatures) {
    out.push_back(wire::ResourceRecord{set.owner, RRType::RRSIG, wire::RRClass::IN, set.ttl, sig});
  }
}

struct SignedZone {
  Name origin;
  TestKey key;
  SignedZone(std::string_view name, uint8_t algorithm) : origin(N(name)), key(algorithm, 257) {}

  RRset sign(RRset set, uint32_t inception = kInception, uint32_t expiration = kExpiration) const {
    key.sign(set, origin, inception, expiration);
    return set;
  }
  RRset dnskey_set() const {
    RRset set;
    set.owner = origin;
    set.type = RRType::DNSKEY;
    set.ttl = 3600;
    set.rdatas.push_back(key.dnskey());
    return sign(set);
  }
  RRset soa() const {
    return sign(set_of(origin.to_text(), RRType::SOA,
                       {fmt::format("ns.{} hostmaster.{} 1 3600 600 86400 300", origin.to_text(),
                                    origin.to_text())}));
  }
};

struct World {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  cache::Cache* cache = nullptr;  // none unless a test sets one
  SignedZone root;
  SignedZone example;

  explicit World(uint8_t algorithm = 13, uint8_t child_algorithm = 13)
      : root(".", algorithm), example("example.", child_algorithm) {
    options.explore_one_in = 0;
    options.qname_minimisation = false;
    options.dnssec.enabled = true;
    auto anchors = std::make_shared<dnssec::TrustAnchors>();
    anchors->add_ds(Name(), root.key.ds(Name()));
    options.dnssec.anchors = anchors;

    // Priming and the root's keys.
    ScriptedReply priming;
    add_records(priming.answer, root.sign(set_of(".", RRType::NS, {"a.root-servers.net."})));
    priming.additional.push_back(rr(fmt::format("a.root-servers.net. 3600 IN A {}", kRoot)));
    network.on(kRoot, ".", RRType::NS, priming);
    ScriptedReply root_keys;
    add_records(root_keys.answer, root.dnskey_set());
    network.on(kRoot, ".", RRType::DNSKEY, root_keys);
    // Unsigned delegation: NSEC at the cut without DS, signed by the root.
    ScriptedReply plain;
    plain.aa = false;
    plain.authority.push_back(rr("plain. 3600 IN NS ns.plain."));
    add_records(plain.authority,
                root.sign(set_of("plain.", RRType::NSEC, {"zzz. NS RRSIG NSEC"})));
    plain.additional.push_back(rr(fmt::format("ns.plain. 3600 IN A {}", kPlain)));
    network.on_subtree(kRoot, "plain.", plain);
    ScriptedReply www;
    www.answer.push_back(rr("www.plain. 300 IN A 192.0.2.7"));
    network.on(kPlain, "www.plain.", RRType::A, www);
  }

  // The referral to example. with `ds` (the real key's by default).
  void delegate_example(std::optional<wire::Rdata> ds = std::nullopt) {
    ScriptedReply referral;
    referral.aa = false;
    referral.authority.push_back(rr("example. 3600 IN NS ns.example."));
    RRset ds_set;
    ds_set.owner = N("example.");
    ds_set.type = RRType::DS;
    ds_set.ttl = 3600;
    ds_set.rdatas.push_back(ds ? *ds : example.key.ds(N("example.")));
    add_records(referral.authority, root.sign(ds_set));
    referral.additional.push_back(rr(fmt::format("ns.example. 3600 IN A {}", kExample)));
    network.on_subtree(kRoot, "example.", referral);
  }
  void serve_example_keys() {
    ScriptedReply keys;
    add_records(keys.answer, example.dnskey_set());
    network.on(kExample, "example.", RRType::DNSKEY, keys);
  }
  void answer_www(RRset a) {
    ScriptedReply reply;
    add_records(reply.answer, a);
    network.on(kExample, "www.example.", RRType::A, reply);
  }
  void signed_example() {
    delegate_example();
    serve_example_keys();
    answer_www(example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
  }

  Walker& w() {
    if (!walker) {
      RootHints hints;
      NameServerHint hint;
      hint.name = N("a.root-servers.net.");
      hint.addresses.push_back(address(kRoot));
      hints.servers.push_back(hint);
      walker = std::make_unique<Walker>(network, loop, options, hints, seeded_random(), cache);
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type, bool cd = false) {
    ResultCapture capture;
    w().resolve(wire::Question{N(name), type, wire::RRClass::IN},
                ResolveOptions{.dnssec_ok = true, .checking_disabled = cd},
                [&capture](const ResolutionResult& r) { capture.results.push_back(r); });
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.results[0];
  }
};

inline uint16_t ede_of(const ResolutionResult& r) { return r.ede ? r.ede->info_code : 0xffff; }

inline bool has_type(const std::vector<RRset>& sets, RRType type) {
  return std::any_of(sets.begin(), sets.end(), [&](const RRset& s) { return s.type == type; });
}

inline std::string nsec3_owner(const Name& name, const Name& zone, uint16_t iterations) {
  auto hash = dnssec::nsec3_hash(name, {}, iterations);
  return fmt::format("{}.{}", wire::base32hex_encode(*hash), zone.to_text());
}


}  // namespace sextant::resolver::testing::signed_world
