// The chain of trust fetched beside the walk (walker_trust_prefetch.cpp):
// a signed zone's DNSKEY query leaves as soon as the zone's servers are
// known, before the walk's next answer arrives; the total is then about the
// walk's own round trips; no query is added; unsigned and unsupported
// delegations fetch nothing early; and the upstream counters by reason
// (priming, question, qmin step, DNSKEY, early DNSKEY, retry) add up.
#include <catch2/catch.hpp>

#include "signed_world.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using namespace sextant::resolver::testing::signed_world;
using std::chrono::milliseconds;
using wire::RRType;

namespace {

uint64_t by_reason(Walker& w, UpstreamReason reason) {
  return w.stats().upstream_by_reason[static_cast<size_t>(reason)];
}

const SentQuery* first_sent(const ScriptedNetwork& network, std::string_view server, std::string_view name,
                            RRType type) {
  for (const auto& s : network.sent()) {
    if (s.qtype == type && s.qname.lowercased() == N(name) && s.server == address(server)) return &s;
  }
  return nullptr;
}

// The signed world with a shared cache (as the daemon has) and real round
// trips: the root answers after 10 ms, example.'s server after 30 ms.
struct SlowWorld : World {
  cache::Cache shared{cache::CacheConfig{}};
  SlowWorld() {
    cache = &shared;
    signed_example();
  }
  void slow_example() {
    // Later rules of equal specificity do not override: replace them.
    network.forget_rules(kExample, "example.");
    network.forget_rules(kExample, "www.example.");
    ScriptedReply keys;
    add_records(keys.answer, example.dnskey_set());
    keys.delay = milliseconds{30};
    network.on(kExample, "example.", RRType::DNSKEY, keys);
    ScriptedReply www;
    add_records(www.answer, example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
    www.delay = milliseconds{30};
    network.on(kExample, "www.example.", RRType::A, www);
  }
};

}  // namespace

TEST_CASE("trust prefetch: the DNSKEY queries leave beside the walk, not after the answer",
          "[walker][dnssec][prefetch]") {
  SlowWorld world;
  world.slow_example();
  auto r = world.resolve("www.example.", RRType::A);
  INFO(world.network.log());
  REQUIRE(r.rcode == wire::Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);

  // (qname minimisation is off in this world: the root is asked the full name)
  const SentQuery* to_root = first_sent(world.network, kRoot, "www.example.", RRType::A);
  const SentQuery* www = first_sent(world.network, kExample, "www.example.", RRType::A);
  const SentQuery* example_keys = first_sent(world.network, kExample, "example.", RRType::DNSKEY);
  const SentQuery* root_keys = first_sent(world.network, kRoot, ".", RRType::DNSKEY);
  REQUIRE(to_root);
  REQUIRE(www);
  REQUIRE(example_keys);
  REQUIRE(root_keys);
  // example.'s keys are asked in the same loop turn as www.example. (right
  // after the referral), not after its answer, 30 ms later.
  CHECK(example_keys->at < www->at + milliseconds{30});
  CHECK(example_keys->at <= www->at + milliseconds{1});
  // The root's keys leave with the first question to the root, after the
  // priming.
  CHECK(root_keys->at == to_root->at);
  // Priming 10 ms, the referral 10 ms, the answer 30 ms: the keys cost no
  // round trip of their own (they were a 40 ms tail before).
  CHECK(r.elapsed <= milliseconds{55});

  // No query added: the root's referral, the answer, two key sets (and the
  // priming, in a resolution of its own).
  CHECK(r.upstream_queries == 4);
  CHECK(by_reason(world.w(), UpstreamReason::priming) == 1);
  CHECK(by_reason(world.w(), UpstreamReason::question) == 2);
  CHECK(by_reason(world.w(), UpstreamReason::dnskey_early) == 2);
  CHECK(by_reason(world.w(), UpstreamReason::dnskey) == 0);
  CHECK(by_reason(world.w(), UpstreamReason::retry) == 0);

  SECTION("a name whose referral chain and keys are known needs no key fetch") {
    ScriptedReply mail;
    add_records(mail.answer, world.example.sign(set_of("mail.example.", RRType::A, {"192.0.2.2"})));
    world.network.on(kExample, "mail.example.", RRType::A, mail);
    const uint64_t keys = world.w().stats().key_queries;
    auto again = world.resolve("mail.example.", RRType::A);
    CHECK(again.validation == ValidationState::secure);
    CHECK(again.upstream_queries == 1);
    CHECK(world.w().stats().key_queries == keys);
  }
}

TEST_CASE("trust prefetch: a bad key set found early is still bogus", "[walker][dnssec][prefetch]") {
  SlowWorld world;
  TestKey other(13, 257);
  world.network.forget_rules(kExample, "example.");
  ScriptedReply keys;
  RRset wrong;
  wrong.owner = N("example.");
  wrong.type = RRType::DNSKEY;
  wrong.ttl = 3600;
  wrong.rdatas.push_back(other.dnskey());
  other.sign(wrong, N("example."), kInception, kExpiration);
  add_records(keys.answer, wrong);
  world.network.on(kExample, "example.", RRType::DNSKEY, keys);
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.rcode == wire::Rcode::SERVFAIL);
  CHECK(r.validation == ValidationState::bogus);
}

TEST_CASE("trust prefetch: unsigned and unsupported delegations fetch no keys early",
          "[walker][dnssec][prefetch]") {
  SECTION("unsigned (NSEC at the cut, no DS)") {
    SlowWorld world;
    auto r = world.resolve("www.plain.", RRType::A);
    CHECK(r.validation == ValidationState::insecure);
    CHECK(world.network.sent_for("plain.", RRType::DNSKEY) == 0);
    CHECK(world.network.sent_for(".", RRType::DNSKEY) == 1);  // the NSEC is the root's
  }
  SECTION("a DS of an algorithm not validated") {
    World world;
    cache::Cache shared{cache::CacheConfig{}};
    world.cache = &shared;
    wire::Rdata ds = world.example.key.ds(N("example."));
    ds[2] = 200;
    world.delegate_example(ds);
    world.serve_example_keys();
    world.answer_www(world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
    auto r = world.resolve("www.example.", RRType::A);
    CHECK(r.validation == ValidationState::insecure);
    CHECK(world.network.sent_for("example.", RRType::DNSKEY) == 0);
  }
  SECTION("validation off or CD=1: nothing early") {
    SlowWorld world;
    auto r = world.resolve("www.example.", RRType::A, true);
    CHECK(r.validation == ValidationState::unchecked);
    CHECK(world.network.sent_for("example.", RRType::DNSKEY) == 0);
    CHECK(world.network.sent_for(".", RRType::DNSKEY) == 0);
  }
}

TEST_CASE("trust prefetch: a failed early fetch fails validation as a late one did, once",
          "[walker][dnssec][prefetch]") {
  // example.'s key server never answers: the early fetch times out, and
  // validation takes that outcome (remembered briefly, as before) instead of
  // asking again.
  SlowWorld world;
  world.network.forget_rules(kExample, "example.");
  ScriptedReply silent;
  silent.behaviour = Behaviour::silent;
  world.network.on(kExample, "example.", RRType::DNSKEY, silent);
  auto r = world.resolve("www.example.", RRType::A);
  // The answer needs example.'s keys: the fetch failed, so it is not secure.
  CHECK(r.validation != ValidationState::secure);
  CHECK(r.rcode == wire::Rcode::SERVFAIL);
  CHECK(ede_of(r) == 9);  // DNSKEY missing
  CHECK(by_reason(world.w(), UpstreamReason::dnskey_early) >= 1);
  CHECK(by_reason(world.w(), UpstreamReason::dnskey) == 0);
}

TEST_CASE("upstream reasons: a timeout's second packet counts as a retry", "[walker][prefetch]") {
  SlowWorld world;
  world.network.forget_rules(kExample, "www.example.");
  ScriptedReply silent;
  silent.behaviour = Behaviour::silent;
  world.network.on(kExample, "www.example.", RRType::A, silent, 1);
  ScriptedReply www;
  add_records(www.answer, world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
  world.network.on(kExample, "www.example.", RRType::A, www);
  auto r = world.resolve("www.example.", RRType::A);
  CHECK(r.validation == ValidationState::secure);
  CHECK(by_reason(world.w(), UpstreamReason::retry) == 1);
  uint64_t total = 0;
  for (uint64_t n : world.w().stats().upstream_by_reason) total += n;
  CHECK(total == world.w().stats().upstream_queries);
}

TEST_CASE("shared key fetches: concurrent requests under one zone ask its keys once",
          "[walker][dnssec][prefetch]") {
  SlowWorld world;
  world.slow_example();
  for (const char* name : {"a.example.", "b.example.", "c.example."}) {
    ScriptedReply reply;
    add_records(reply.answer, world.example.sign(set_of(name, RRType::A, {"192.0.2.9"})));
    reply.delay = milliseconds{30};
    world.network.on(kExample, name, RRType::A, reply);
  }
  std::vector<ResolutionResult> results;
  for (const char* name : {"www.example.", "a.example.", "b.example.", "c.example."}) {
    world.w().resolve(wire::Question{N(name), RRType::A, wire::RRClass::IN},
                      ResolveOptions{.dnssec_ok = true},
                      [&results](const ResolutionResult& r) { results.push_back(r); });
  }
  for (int i = 0; i < 2000 && results.size() < 4; ++i) world.loop.run_for(milliseconds{5});
  INFO(world.network.log());
  REQUIRE(results.size() == 4);
  for (const auto& r : results) CHECK(r.validation == ValidationState::secure);
  CHECK(world.network.sent_for("example.", RRType::DNSKEY) == 1);
  CHECK(world.network.sent_for(".", RRType::DNSKEY) == 1);
}

TEST_CASE("shared key fetches: a failed shared fetch leaves the others to ask themselves",
          "[walker][dnssec][prefetch]") {
  SlowWorld world;
  // The first DNSKEY query for example. gets SERVFAIL, the next ones the keys.
  world.network.forget_rules(kExample, "example.");
  ScriptedReply fail;
  fail.rcode = wire::Rcode::SERVFAIL;
  world.network.on(kExample, "example.", RRType::DNSKEY, fail, 1);
  ScriptedReply keys;
  add_records(keys.answer, world.example.dnskey_set());
  world.network.on(kExample, "example.", RRType::DNSKEY, keys);
  ScriptedReply mail;
  add_records(mail.answer, world.example.sign(set_of("mail.example.", RRType::A, {"192.0.2.2"})));
  world.network.on(kExample, "mail.example.", RRType::A, mail);
  std::vector<ResolutionResult> results;
  for (const char* name : {"www.example.", "mail.example."}) {
    world.w().resolve(wire::Question{N(name), RRType::A, wire::RRClass::IN},
                      ResolveOptions{.dnssec_ok = true},
                      [&results](const ResolutionResult& r) { results.push_back(r); });
  }
  for (int i = 0; i < 2000 && results.size() < 2; ++i) world.loop.run_for(milliseconds{5});
  INFO(world.network.log());
  REQUIRE(results.size() == 2);
  // mail.example.'s request did not take the failure: it asked itself (and
  // got the keys). Its verdict is still the worker's: the failed fetch was
  // remembered as a transient failure for a few seconds (as before), so both
  // answers are bogus (EDE 9) until then.
  CHECK(world.network.sent_for("example.", RRType::DNSKEY) == 2);
  for (const auto& r : results) CHECK(ede_of(r) == 9);
}

TEST_CASE("trust prefetch: a glueless signed zone validates while its NS name's AAAA lookup runs",
          "[walker][dnssec][prefetch][glueless]") {
  // example. is served by ns.plain. (no glue). The A lookup of ns.plain.
  // gives example.'s server; its AAAA lookup (started after the A lookup)
  // is still running when the answer arrives. The DNSKEY fetch that
  // validation then starts must find the A lookup's address in the cache,
  // not take the running lookup for a glueless cycle.
  World world;
  cache::Cache shared{cache::CacheConfig{}};
  world.cache = &shared;
  ScriptedReply referral;
  referral.aa = false;
  referral.authority.push_back(rr("example. 3600 IN NS ns.plain."));
  RRset ds_set;
  ds_set.owner = N("example.");
  ds_set.type = RRType::DS;
  ds_set.ttl = 3600;
  ds_set.rdatas.push_back(world.example.key.ds(N("example.")));
  add_records(referral.authority, world.root.sign(ds_set));
  world.network.on_subtree(kRoot, "example.", referral);
  world.serve_example_keys();
  world.answer_www(world.example.sign(set_of("www.example.", RRType::A, {"192.0.2.1"})));
  ScriptedReply a;
  a.answer.push_back(rr(fmt::format("ns.plain. 300 IN A {}", kExample)));
  world.network.on(kPlain, "ns.plain.", RRType::A, a);
  ScriptedReply aaaa;
  aaaa.authority.push_back(rr("plain. 300 IN SOA ns.plain. hostmaster.plain. 1 3600 600 86400 300"));
  aaaa.delay = milliseconds{300};
  world.network.on(kPlain, "ns.plain.", RRType::AAAA, aaaa);
  auto r = world.resolve("www.example.", RRType::A);
  INFO(r.ede.value_or(wire::ExtendedErrorOption{}).extra_text);
  CHECK(r.rcode == wire::Rcode::NOERROR);
  CHECK(r.validation == ValidationState::secure);
  CHECK(r.elapsed < milliseconds{300});
}
