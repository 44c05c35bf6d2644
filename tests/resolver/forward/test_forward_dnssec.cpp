// DNSSEC through a forwarder (everything forwarded to one scripted
// recursive upstream): answers are validated from the trust anchor down with
// DS and DNSKEY asked of the same upstream; the upstream's AD bit counts for
// nothing; unsigned answers are placed in their zone by DS queries; per-zone
// trust anchors and negative trust anchors from the forward block.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "resolver/config/config.h"
#include "resolver/forward/forward_table.h"
#include "resolver/walk/walker.h"
#include "tests/dnssec/test_helpers.h"
#include "tests/resolver/walk/scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using dnssec::test::TestKey;
using std::chrono::milliseconds;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

namespace {

constexpr std::string_view kFwd = "10.0.0.53";
constexpr uint32_t kWallStart = 1'750'000'000u;  // FakeLoop::wall_seconds() starts here
constexpr uint32_t kInception = kWallStart - 86400;
constexpr uint32_t kExpiration = kWallStart + 86400;

Name N(std::string_view text) { return Name::from_text(text); }

RRset set_of(std::string_view owner, RRType type, std::vector<std::string> rdatas, uint32_t ttl = 3600) {
  RRset set;
  set.owner = N(owner);
  set.type = type;
  set.ttl = ttl;
  for (const auto& text : rdatas) set.rdatas.push_back(wire::rdata_from_text(type, text));
  return set;
}

void add_records(std::vector<wire::ResourceRecord>& out, const RRset& set) {
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
  explicit SignedZone(std::string_view name) : origin(N(name)), key(13, 257) {}
  RRset sign(RRset set) const {
    key.sign(set, origin, kInception, kExpiration);
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
    const std::string apex = origin.is_root() ? "" : origin.to_text();
    return sign(set_of(origin.to_text(), RRType::SOA,
                       {fmt::format("ns.{} hostmaster.{} 1 3600 600 86400 300", apex, apex)}));
  }
  RRset ds_of(const SignedZone& child) const {
    RRset ds;
    ds.owner = child.origin;
    ds.type = RRType::DS;
    ds.ttl = 3600;
    ds.rdatas.push_back(child.key.ds(child.origin));
    return sign(ds);
  }
};

// One recursive upstream that knows a signed root, a signed "example." and
// an unsigned delegation "plain.", and answers with AD set (as a validating
// resolver would): the walker must not care.
struct World {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  SignedZone root{"."};
  SignedZone example{"example."};

  explicit World(const std::string& extra_yaml = "") {
    options.explore_one_in = 0;
    options.dnssec.enabled = true;
    auto table = ForwardTable::build(load_config_text(
        "forward-zones:\n  - {zone: ., upstreams: ['10.0.0.53']}\n" + extra_yaml, "t.yaml"));
    auto anchors = std::make_shared<dnssec::TrustAnchors>();
    anchors->add_ds(Name(), root.key.ds(Name()));
    table->add_trust_anchors(*anchors);
    options.dnssec.anchors = anchors;
    auto ntas = std::make_shared<dnssec::NegativeTrustAnchors>();
    for (const auto& name : table->negative_anchors()) ntas->add(name);
    options.dnssec.negative_anchors = ntas;
    options.configured = table;

    answer(".", RRType::DNSKEY, {root.dnskey_set()});
    answer("example.", RRType::DS, {root.ds_of(example)});
    answer("example.", RRType::DNSKEY, {example.dnskey_set()});
    // plain. is an unsigned delegation: the root's NSEC at it has NS, no DS.
    nodata("plain.", RRType::DS, root, {root.sign(set_of("plain.", RRType::NSEC, {"zzz. NS RRSIG NSEC"}))});
  }

  void answer(std::string_view name, RRType type, std::vector<RRset> sets, bool ad = true) {
    ScriptedReply reply;
    reply.aa = false;
    reply.ad = ad;
    for (const auto& set : sets) add_records(reply.answer, set);
    network.on(kFwd, name, type, reply);
  }
  void nodata(std::string_view name, RRType type, const SignedZone& zone, std::vector<RRset> denial) {
    ScriptedReply reply;
    reply.aa = false;
    reply.ad = true;
    add_records(reply.authority, zone.soa());
    for (const auto& set : denial) add_records(reply.authority, set);
    network.on(kFwd, name, type, reply);
  }

  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(5);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key));
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type) {
    ResultCapture capture;
    w().resolve(wire::Question{N(name), type, wire::RRClass::IN}, ResolveOptions{.dnssec_ok = true},
                [&capture](const ResolutionResult& r) { capture.results.push_back(r); });
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.results[0];
  }
};

uint16_t ede_of(const ResolutionResult& r) { return r.ede ? r.ede->info_code : 0xffff; }

}  // namespace

TEST_CASE("forward dnssec: a signed answer is validated with keys asked of the upstream",
          "[forward][dnssec]") {
  World world;
  world.answer("www.example.", RRType::A, {world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}))});
  auto r = world.resolve("www.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);
  // Everything went to the upstream, RD=1 and CD=1 (so that it hands over
  // what it would itself judge bogus); the root was never primed.
  for (const auto& q : world.network.sent()) {
    CHECK(q.server == address(kFwd));
    CHECK(q.recursion_desired);
    CHECK(q.checking_disabled);
    CHECK(q.dnssec_ok);
  }
  CHECK(world.network.sent_for(".", RRType::DNSKEY) == 1);
  CHECK(world.network.sent_for("example.", RRType::DS) == 1);
  CHECK(world.network.sent_for("example.", RRType::DNSKEY) == 1);
  CHECK(world.w().stats().primings == 0);
}

TEST_CASE("forward dnssec: a bad signature is bogus though the upstream set AD", "[forward][dnssec]") {
  World world;
  RRset a = world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}));
  a.signatures[0].back() ^= 0x55;
  world.answer("www.example.", RRType::A, {a}, /*ad=*/true);
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK(ede_of(r) == 6);
}

TEST_CASE("forward dnssec: unsigned data in a signed zone is bogus (found by a DS query)",
          "[forward][dnssec]") {
  World world;
  world.answer("www.example.", RRType::A, {set_of("www.example.", RRType::A, {"192.0.2.66"})});
  // www.example. is no zone cut: its NSEC has no NS.
  world.nodata("www.example.", RRType::DS, world.example,
               {world.example.sign(set_of("www.example.", RRType::NSEC, {"zzz.example. A RRSIG NSEC"}))});
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK(world.network.sent_for("www.example.", RRType::DS) == 1);
  CHECK(world.w().stats().zone_cut_probes >= 1);
}

TEST_CASE("forward dnssec: unsigned data below an unsigned delegation is insecure", "[forward][dnssec]") {
  World world;
  world.answer("www.plain.", RRType::A, {set_of("www.plain.", RRType::A, {"192.0.2.7"})});
  world.answer("mail.plain.", RRType::A, {set_of("mail.plain.", RRType::A, {"192.0.2.8"})});
  auto r = world.resolve("www.plain.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::insecure);
  CHECK(world.network.sent_for("plain.", RRType::DS) == 1);
  // The worker remembers plain. is unsigned: no second DS query.
  auto again = world.resolve("mail.plain.", RRType::A);
  CHECK(again.validation == ValidationState::insecure);
  CHECK(world.network.sent_for("plain.", RRType::DS) == 1);
}

TEST_CASE("forward dnssec: a chain across zones in one forwarded answer", "[forward][dnssec]") {
  World world;
  world.answer("alias.example.", RRType::A,
               {world.example.sign(set_of("alias.example.", RRType::CNAME, {"www.plain."})),
                set_of("www.plain.", RRType::A, {"192.0.2.7"})});
  auto r = world.resolve("alias.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.answer.size() == 2);
  CHECK(r.validation == ValidationState::insecure);  // the signed link, then an unsigned zone

  SECTION("a forged link in the signed zone makes it bogus") {
    world.answer("forged.example.", RRType::A,
                 {set_of("forged.example.", RRType::CNAME, {"www.plain."}), set_of("www.plain.", RRType::A, {"192.0.2.7"})});
    world.nodata("forged.example.", RRType::DS, world.example,
                 {world.example.sign(set_of("forged.example.", RRType::NSEC, {"zzz.example. CNAME RRSIG NSEC"}))});
    auto forged = world.resolve("forged.example.", RRType::A);
    CHECK(forged.rcode == Rcode::SERVFAIL);
    CHECK(forged.validation == ValidationState::bogus);
  }
}

TEST_CASE("forward dnssec: a signed NXDOMAIN is secure", "[forward][dnssec]") {
  World world;
  ScriptedReply nx;
  nx.aa = false;
  nx.rcode = Rcode::NXDOMAIN;
  add_records(nx.authority, world.example.soa());
  add_records(nx.authority, world.example.sign(set_of("example.", RRType::NSEC, {"www.example. SOA NS DNSKEY RRSIG NSEC"})));
  world.network.on(kFwd, "nope.example.", RRType::A, nx);
  auto r = world.resolve("nope.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NXDOMAIN);
  CHECK(r.validation == ValidationState::secure);
}

TEST_CASE("forward dnssec: a zone's own trust anchor and negative trust anchor", "[forward][dnssec]") {
  SignedZone corp("corp.");
  const std::string ds = wire::rdata_to_text(RRType::DS, corp.key.ds(N("corp.")));
  SECTION("trust-anchor: secure without the root's word") {
    World world("  - zone: corp.\n    upstreams: ['10.0.0.53']\n    trust-anchor: 'corp. DS " + ds + "'\n");
    world.answer("corp.", RRType::DNSKEY, {corp.dnskey_set()});
    world.answer("www.corp.", RRType::A, {corp.sign(set_of("www.corp.", RRType::A, {"10.1.1.1"}))});
    auto r = world.resolve("www.corp.", RRType::A);
    INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
    CHECK(r.validation == ValidationState::secure);
    CHECK(world.network.sent_for("corp.", RRType::DS) == 0);
  }
  SECTION("negative-trust-anchor: not validated, EDE 33") {
    World world("  - zone: corp.\n    upstreams: ['10.0.0.53']\n    negative-trust-anchor: true\n");
    world.answer("www.corp.", RRType::A, {set_of("www.corp.", RRType::A, {"10.1.1.1"})});
    auto r = world.resolve("www.corp.", RRType::A);
    CHECK(r.rcode == Rcode::NOERROR);
    CHECK(r.validation == ValidationState::insecure);
    CHECK(ede_of(r) == 33);
  }
}
