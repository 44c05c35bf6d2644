// Servers that serve bogus data (issue 13, section 3): after a validation
// failure the zone's other servers are asked before giving up, and the
// server that served the bogus data is avoided for that zone while others
// are left (for dnssec.bogus-ttl), as Unbound blacklists it. The retries are
// bounded; a zone whose only server is bad costs no extra query; a bad DNSKEY
// RRset from one server is fetched again from another.
#include <catch2/catch.hpp>

#include "signed_world.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using namespace sextant::resolver::testing::signed_world;
using std::chrono::milliseconds;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

namespace {

constexpr std::string_view kSecond = "192.0.2.54";

// example. delegated to two servers (kExample, kSecond) with its DS.
void delegate_to_two(World& world) {
  ScriptedReply referral;
  referral.aa = false;
  referral.authority.push_back(rr("example. 3600 IN NS ns1.example."));
  referral.authority.push_back(rr("example. 3600 IN NS ns2.example."));
  RRset ds = set_of("example.", RRType::DS, {});
  ds.rdatas.push_back(world.example.key.ds(N("example.")));
  add_records(referral.authority, world.root.sign(ds));
  referral.additional.push_back(rr(fmt::format("ns1.example. 3600 IN A {}", kExample)));
  referral.additional.push_back(rr(fmt::format("ns2.example. 3600 IN A {}", kSecond)));
  world.network.on_subtree(kRoot, "example.", referral);
}

ScriptedReply answer_of(const RRset& set) {
  ScriptedReply reply;
  add_records(reply.answer, set);
  return reply;
}

// Queries for (name, type) sent to `server`.
size_t asked(const World& world, std::string_view server, std::string_view name, RRType type) {
  size_t n = 0;
  for (const SentQuery& q : world.network.sent()) {
    if (q.server == address(server) && q.qname == N(name) && q.qtype == type) ++n;
  }
  return n;
}

ScriptedReply keys_of(const World& world) {
  ScriptedReply keys;
  add_records(keys.answer, world.example.dnskey_set());
  return keys;
}

}  // namespace

TEST_CASE("bogus servers: the other server is asked, and the bad one avoided for the zone",
          "[walker][dnssec][bogus-servers]") {
  const bool bad_is_first = GENERATE(true, false);
  const std::string_view bad = bad_is_first ? kExample : kSecond;
  const std::string_view good = bad_is_first ? kSecond : kExample;
  World world;
  delegate_to_two(world);
  for (auto server : {kExample, kSecond}) world.network.on(server, "example.", RRType::DNSKEY, keys_of(world));
  RRset www = world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}));
  RRset broken = www;
  broken.signatures[0].back() ^= 0x55;
  world.network.on(bad, "www.example.", RRType::A, answer_of(broken));
  world.network.on(good, "www.example.", RRType::A, answer_of(www));

  auto r = world.resolve("www.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  INFO(world.network.log());
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);
  REQUIRE(r.answer.size() == 1);
  CHECK(asked(world, good, "www.example.", RRType::A) == 1);
  if (asked(world, bad, "www.example.", RRType::A) > 0) {
    // The bad server was asked: one retry, then the good one.
    CHECK(asked(world, bad, "www.example.", RRType::A) == 1);
    CHECK(world.w().stats().bogus_retries == 1);
    // Avoided for example. while the good one is there: every name of the
    // zone goes to the good server.
    for (int i = 0; i < 4; ++i) {
      const std::string name = fmt::format("n{}.example.", i);
      world.network.on(kExample, name, RRType::A,
                       answer_of(world.example.sign(set_of(name, RRType::A, {"192.0.2.9"}))));
      world.network.on(kSecond, name, RRType::A,
                       answer_of(world.example.sign(set_of(name, RRType::A, {"192.0.2.9"}))));
      auto m = world.resolve(name, RRType::A);
      CHECK(m.validation == ValidationState::secure);
      CHECK(asked(world, bad, name, RRType::A) == 0);
    }
  } else {
    CHECK(world.w().stats().bogus_retries == 0);
  }
}

TEST_CASE("bogus servers: a zone whose only server serves bogus data fails without retries",
          "[walker][dnssec][bogus-servers]") {
  World world;
  world.delegate_example();
  world.serve_example_keys();
  RRset broken = world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}));
  broken.signatures[0].back() ^= 0x55;
  world.answer_www(broken);
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(ede_of(r) == 6);
  CHECK(asked(world, kExample, "www.example.", RRType::A) == 1);
  CHECK(world.w().stats().bogus_retries == 0);
  // The next name of the zone still goes to that server (no other left).
  ScriptedReply ok;
  add_records(ok.answer, world.example.sign(set_of("ok.example.", RRType::A, {"192.0.2.3"})));
  world.network.on(kExample, "ok.example.", RRType::A, ok);
  auto other = world.resolve("ok.example.", RRType::A);
  CHECK(other.validation == ValidationState::secure);
}

TEST_CASE("bogus servers: both servers bogus: bounded, SERVFAIL", "[walker][dnssec][bogus-servers]") {
  World world;
  delegate_to_two(world);
  for (auto server : {kExample, kSecond}) world.network.on(server, "example.", RRType::DNSKEY, keys_of(world));
  RRset broken = world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}));
  broken.signatures[0].back() ^= 0x55;
  for (auto server : {kExample, kSecond}) world.network.on(server, "www.example.", RRType::A, answer_of(broken));
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
  // Each server once: the retry went to the other one, then no server was left.
  CHECK(asked(world, kExample, "www.example.", RRType::A) == 1);
  CHECK(asked(world, kSecond, "www.example.", RRType::A) == 1);
  CHECK(world.w().stats().bogus_retries == 1);
}

TEST_CASE("bogus servers: a server with a wrong DNSKEY RRset, the other with the right one",
          "[walker][dnssec][bogus-servers]") {
  const bool bad_is_first = GENERATE(true, false);
  const std::string_view bad = bad_is_first ? kExample : kSecond;
  const std::string_view good = bad_is_first ? kSecond : kExample;
  World world;
  delegate_to_two(world);
  // The bad server publishes another key (a rollover it missed).
  SignedZone stale("example.", 13);
  world.network.on(bad, "example.", RRType::DNSKEY, [&] {
    ScriptedReply reply;
    add_records(reply.answer, stale.dnskey_set());
    return reply;
  }());
  world.network.on(good, "example.", RRType::DNSKEY, keys_of(world));
  RRset www = world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"}));
  for (auto server : {kExample, kSecond}) world.network.on(server, "www.example.", RRType::A, answer_of(www));
  auto r = world.resolve("www.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  INFO(world.network.log());
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);
  CHECK(asked(world, good, "example.", RRType::DNSKEY) == 1);
  CHECK(asked(world, bad, "example.", RRType::DNSKEY) <= 1);
  CHECK(world.w().stats().bogus_retries == asked(world, bad, "example.", RRType::DNSKEY));
}
