// An RRSIG names its signer, and the validator fetches that zone's keys. A
// signer below the zone the answer came from must be a real zone cut: the
// parent's denial of a DS proves an unsigned delegation only when the
// denial shows a delegation there (NS in the NSEC/NSEC3 bitmap, RFC 6840
// §4.4, or an opt-out span). A name that exists without NS, or does not
// exist at all, is no zone, so data "signed" by it is bogus; otherwise a
// forger could make any answer of a signed zone insecure by naming a
// signer one label down.
#include <catch2/catch.hpp>

#include "signed_world.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using namespace sextant::resolver::testing::signed_world;
using dnssec::test::TestKey;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

namespace {

// An A RRset signed by an attacker's key, the RRSIG naming `signer`.
RRset forged_a(std::string_view owner, std::string_view signer) {
  TestKey attacker(13, 257);
  RRset set = set_of(owner, RRType::A, {"203.0.113.66"});
  attacker.sign(set, N(signer), kInception, kExpiration);
  return set;
}

}  // namespace

TEST_CASE("zone cuts: a signer that the parent's NSEC shows is no delegation is bogus",
          "[walker][dnssec][cuts]") {
  World world;
  world.signed_example();
  std::string signer;
  ScriptedReply ds_denial;
  SECTION("the signer exists without NS: DS NODATA, NSEC A RRSIG NSEC") {
    signer = "host.example.";
    add_records(ds_denial.authority, world.example.soa());
    add_records(ds_denial.authority, world.example.sign(set_of(
                                         "host.example.", RRType::NSEC, {"zzz.example. A RRSIG NSEC"}, 300)));
  }
  SECTION("the signer does not exist: DS NXDOMAIN") {
    signer = "evil.example.";
    ds_denial.rcode = Rcode::NXDOMAIN;
    add_records(ds_denial.authority, world.example.soa());
    add_records(ds_denial.authority,
                world.example.sign(set_of("example.", RRType::NSEC,
                                          {"www.example. NS SOA RRSIG NSEC DNSKEY"}, 300)));
  }
  world.network.on(kExample, signer, RRType::DS, ds_denial);
  ScriptedReply answer;
  add_records(answer.answer, forged_a(signer, signer));
  world.network.on(kExample, signer, RRType::A, answer);
  auto r = world.resolve(signer, RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  CHECK(r.answer.empty());
}

TEST_CASE("zone cuts: the same forgery with NSEC3 denials is bogus", "[walker][dnssec][cuts]") {
  World world;
  world.signed_example();
  const Name zone = N("example.");
  const std::string signer = "host.example.";
  ScriptedReply ds_denial;
  add_records(ds_denial.authority, world.example.soa());
  // The NSEC3 matching host.example. lists A only: no delegation.
  add_records(ds_denial.authority,
              world.example.sign(set_of(nsec3_owner(N(signer), zone, 0), RRType::NSEC3,
                                        {"1 0 0 - 00000000000000000000000000000000 A RRSIG"}, 300)));
  world.network.on(kExample, signer, RRType::DS, ds_denial);
  ScriptedReply answer;
  add_records(answer.answer, forged_a(signer, signer));
  world.network.on(kExample, signer, RRType::A, answer);
  auto r = world.resolve(signer, RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
}

TEST_CASE("zone cuts: a DS denial at a real delegation still makes the child insecure",
          "[walker][dnssec][cuts]") {
  World world;
  world.signed_example();
  // sub.example. is delegated without DS; its server answers unsigned.
  constexpr std::string_view kSub = "192.0.2.80";
  ScriptedReply referral;
  referral.aa = false;
  referral.authority.push_back(rr("sub.example. 3600 IN NS ns.sub.example."));
  add_records(referral.authority, world.example.sign(set_of(
                                      "sub.example.", RRType::NSEC, {"www.example. NS RRSIG NSEC"}, 300)));
  referral.additional.push_back(rr(fmt::format("ns.sub.example. 3600 IN A {}", kSub)));
  world.network.on_subtree(kExample, "sub.example.", referral);
  ScriptedReply ds_denial;
  add_records(ds_denial.authority, world.example.soa());
  add_records(ds_denial.authority, world.example.sign(set_of(
                                       "sub.example.", RRType::NSEC, {"www.example. NS RRSIG NSEC"}, 300)));
  world.network.on(kExample, "sub.example.", RRType::DS, ds_denial);
  ScriptedReply www;
  www.answer.push_back(rr("www.sub.example. 300 IN A 192.0.2.81"));
  world.network.on(kSub, "www.sub.example.", RRType::A, www);
  auto r = world.resolve("www.sub.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::insecure);
  // A client's own DS question for a name that is no delegation is a
  // plain secure NODATA.
  ScriptedReply www_ds;
  add_records(www_ds.authority, world.example.soa());
  add_records(www_ds.authority, world.example.sign(set_of(
                                    "www.example.", RRType::NSEC, {"zzz.example. A RRSIG NSEC"}, 300)));
  world.network.on(kExample, "www.example.", RRType::DS, www_ds);
  auto ds = world.resolve("www.example.", RRType::DS);
  CHECK(ds.rcode == Rcode::NOERROR);
  CHECK(ds.validation == ValidationState::secure);
  CHECK(ds.answer.empty());
}

TEST_CASE("zone cuts: an unsigned child served by its parent's servers is insecure, not bogus",
          "[walker][dnssec][cuts]") {
  // No referral is ever seen: example.'s server answers for sub.example.
  // itself. The validator finds the cut by DS, as RFC 4035 5.2 walks it.
  World world;
  world.signed_example();
  ScriptedReply ds_denial;
  add_records(ds_denial.authority, world.example.soa());
  add_records(ds_denial.authority, world.example.sign(set_of(
                                       "sub.example.", RRType::NSEC, {"www.example. NS RRSIG NSEC"}, 300)));
  world.network.on(kExample, "sub.example.", RRType::DS, ds_denial);
  ScriptedReply www;
  www.answer.push_back(rr("www.sub.example. 300 IN A 192.0.2.82"));
  world.network.on(kExample, "www.sub.example.", RRType::A, www);
  ScriptedReply nodata;
  nodata.authority.push_back(rr("sub.example. 300 IN SOA ns.sub.example. h.sub.example. 1 3600 600 86400 300"));
  world.network.on(kExample, "www.sub.example.", RRType::MX, nodata);

  auto r = world.resolve("www.sub.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::insecure);
  CHECK(r.answer.size() == 1);
  auto n = world.resolve("www.sub.example.", RRType::MX);
  INFO(n.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(n.rcode == Rcode::NOERROR);
  CHECK(n.validation == ValidationState::insecure);

  // Unsigned data of the signed zone itself stays bogus: the DS denial at
  // the name shows no cut.
  ScriptedReply host_ds;
  add_records(host_ds.authority, world.example.soa());
  add_records(host_ds.authority, world.example.sign(set_of(
                                     "plainhost.example.", RRType::NSEC, {"sub.example. A RRSIG NSEC"}, 300)));
  world.network.on(kExample, "plainhost.example.", RRType::DS, host_ds);
  ScriptedReply unsigned_host;
  unsigned_host.answer.push_back(rr("plainhost.example. 300 IN A 203.0.113.9"));
  world.network.on(kExample, "plainhost.example.", RRType::A, unsigned_host);
  auto bad = world.resolve("plainhost.example.", RRType::A);
  CHECK(bad.rcode == Rcode::SERVFAIL);
  CHECK(bad.validation == ValidationState::bogus);
}
