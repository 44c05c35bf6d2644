// The walker against what real authoritative servers send (issue 13,
// section 3): lame answers that look authoritative, extra records, negative
// answers without an SOA.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using wire::Rcode;
using wire::RRType;

namespace {

// An authoritative-looking reply (AA=1) with no answer, no SOA and the
// root's NS set in the authority section: an upward referral.
ScriptedReply upward_referral_with_aa() {
  ScriptedReply r;
  r.aa = true;
  r.authority.push_back(rr(". 518400 IN NS a.root-servers.net."));
  r.additional.push_back(rr("a.root-servers.net. 518400 IN A 198.41.0.4"));
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------
// Lameness

TEST_CASE("lame: AA=1 with an upward NS set and no SOA is lame, not NODATA", "[walker][lame]") {
  // Which of the two servers is asked first is random: several random
  // streams make sure the lame one is met, first or second.
  bool met_lame_server = false;
  for (uint8_t seed = 1; seed <= 6; ++seed) {
    WalkerFixture f;
    f.seed = seed;
    f.network.on_subtree(net::example_com_1, "example.com.", upward_referral_with_aa());
    for (auto [name, type, want] :
         {std::tuple{"www.example.com.", RRType::A, "www.example.com. A 192.0.2.80"},
          std::tuple{"www.example.com.", RRType::AAAA, "www.example.com. AAAA 2001:db8::80"},
          std::tuple{"www.example.com.", RRType::TXT, "www.example.com. TXT \"hello\""},
          std::tuple{"ns1.example.com.", RRType::A, "ns1.example.com. A 192.0.2.53"}}) {
      INFO("seed " << int(seed) << ": " << name << " " << wire::to_string(type));
      auto r = f.resolve(name, type);
      REQUIRE(r.rcode == Rcode::NOERROR);
      CHECK(section_text(r.answer) == std::vector<std::string>{want});
    }
    met_lame_server = met_lame_server || f.network.sent_to(net::example_com_1) > 0;
  }
  CHECK(met_lame_server);
}

TEST_CASE("lame: a server lame for one type only still answers the others", "[walker][lame]") {
  WalkerFixture f(false);
  f.network.on(net::example_com_1, "www.example.com.", RRType::AAAA, upward_referral_with_aa());
  auto a = f.resolve("www.example.com.", RRType::A);
  REQUIRE(a.rcode == Rcode::NOERROR);
  CHECK(section_text(a.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  // Whichever server it asks first, AAAA is not taken as NODATA.
  for (int i = 0; i < 4; ++i) {
    auto aaaa = f.resolve("www.example.com.", RRType::AAAA);
    REQUIRE(aaaa.rcode == Rcode::NOERROR);
    CHECK(section_text(aaaa.answer) ==
          std::vector<std::string>{"www.example.com. AAAA 2001:db8::80"});
  }
  CHECK(f.network.sent_for("www.example.com.", RRType::AAAA) >= 4);
  // The server that is lame for AAAA keeps answering A.
  size_t before = f.network.sent_to(net::example_com_1);
  f.network.on_subtree(net::example_com_2, "example.com.", silent());
  auto again = f.resolve("www.example.com.", RRType::A);
  CHECK(again.rcode == Rcode::NOERROR);
  CHECK(f.network.sent_to(net::example_com_1) > before);
}

TEST_CASE("lame: when every server is lame for the type, SERVFAIL and nothing cached",
          "[walker][lame]") {
  WalkerFixture f;
  f.network.on(net::example_com_1, "www.example.com.", RRType::AAAA, upward_referral_with_aa());
  f.network.on(net::example_com_2, "www.example.com.", RRType::AAAA, upward_referral_with_aa());
  auto r = f.resolve("www.example.com.", RRType::AAAA);
  CHECK(r.rcode == Rcode::SERVFAIL);
  REQUIRE(r.ede.has_value());
  CHECK(r.ede->code() == wire::EdeCode::NoReachableAuthority);
  CHECK_FALSE(f.cache->negatives()
                  .lookup(wire::Name::from_text("www.example.com."), RRType::AAAA,
                          wire::RRClass::IN, f.loop.wall_seconds())
                  .has_value());
}

TEST_CASE("lame: AA=1, no SOA, the zone's own NS set is a NODATA answer", "[walker][lame]") {
  // Servers that put their zone's NS set in the authority section of every
  // answer (RFC 2308 §2.2: NODATA type 3 conveys no TTL, but it is NODATA).
  WalkerFixture f(false);
  ScriptedReply nodata;
  nodata.aa = true;
  nodata.authority.push_back(rr("example.com. 3600 IN NS ns1.example.com."));
  f.network.on(net::example_com_1, "www.example.com.", RRType::MX, nodata);
  f.network.on(net::example_com_2, "www.example.com.", RRType::MX, nodata);
  auto r = f.resolve("www.example.com.", RRType::MX);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.answer.empty());
}

// ---------------------------------------------------------------------------
// Extra records

TEST_CASE("extra records: RRsets not asked for are scrubbed, the data asked for is kept",
          "[walker][scrub]") {
  WalkerFixture f;
  ScriptedReply noisy;
  noisy.answer.push_back(rr("www.example.com. 300 IN AAAA 2001:db8::66"));
  noisy.answer.push_back(rr("other.example.com. 300 IN A 192.0.2.66"));
  noisy.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  noisy.answer.push_back(rr("www.victim.org. 300 IN A 6.6.6.6"));
  noisy.answer.push_back(rr("www.example.com. 300 IN TXT \"extra\""));
  noisy.authority.push_back(rr("victim.org. 300 IN NS ns.evil.org."));
  noisy.authority.push_back(
      rr("example.org. 300 IN SOA ns.evil.org. h.evil.org. 1 3600 900 604800 300"));
  noisy.additional.push_back(rr("ns.evil.org. 300 IN A 6.6.6.6"));
  noisy.additional.push_back(rr("unrelated.example.com. 300 IN A 6.6.6.6"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, noisy);
  f.network.on(net::example_com_2, "www.example.com.", RRType::A, noisy);
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  CHECK(r.authority.empty());
  const uint32_t now = f.loop.wall_seconds();
  for (auto [name, type] : {std::pair{"www.victim.org.", RRType::A},
                            std::pair{"other.example.com.", RRType::A},
                            std::pair{"www.example.com.", RRType::TXT},
                            std::pair{"ns.evil.org.", RRType::A},
                            std::pair{"unrelated.example.com.", RRType::A}}) {
    INFO(name);
    CHECK_FALSE(f.cache->rrsets()
                    .lookup(wire::Name::from_text(name), type, wire::RRClass::IN, now)
                    .has_value());
  }
  // The others are asked for when a client wants them, and get their own data.
  auto txt = f.resolve("www.example.com.", RRType::TXT);
  CHECK(section_text(txt.answer) == std::vector<std::string>{"www.example.com. TXT \"hello\""});
}

TEST_CASE("extra records: NS sets beside the referral do not hide it", "[walker][scrub]") {
  WalkerFixture f(false);
  // com. answers with a sideways NS set (another com. child) before the
  // delegation asked for, and unrelated glue.
  ScriptedReply referral;
  referral.aa = false;
  referral.authority.push_back(rr("other.com. 172800 IN NS ns.other.com."));
  referral.authority.push_back(rr("example.com. 172800 IN NS ns1.example.com."));
  referral.authority.push_back(rr("example.com. 172800 IN NS ns2.example.com."));
  referral.additional.push_back(rr("ns.other.com. 172800 IN A 6.6.6.6"));
  referral.additional.push_back(rr("ns1.example.com. 172800 IN A 192.0.2.53"));
  referral.additional.push_back(rr("ns2.example.com. 172800 IN A 192.0.2.54"));
  f.network.on_subtree(net::gtld, "example.com.", referral);
  auto r = f.resolve("www.example.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  CHECK(f.network.sent_to("6.6.6.6") == 0);
}

TEST_CASE("extra records: a NODATA answer with unrelated records is still NODATA",
          "[walker][scrub]") {
  WalkerFixture f(false);
  ScriptedReply nodata;
  nodata.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  nodata.answer.push_back(rr("elsewhere.example.com. 300 IN MX 10 mail.example.com."));
  nodata.authority.push_back(rr("example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300"));
  nodata.authority.push_back(rr("example.com. 3600 IN NS ns1.example.com."));
  f.network.on(net::example_com_1, "www.example.com.", RRType::MX, nodata);
  f.network.on(net::example_com_2, "www.example.com.", RRType::MX, nodata);
  auto r = f.resolve("www.example.com.", RRType::MX);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.answer.empty());
  REQUIRE(r.authority.size() == 1);
  CHECK(r.authority[0].type == RRType::SOA);
}

// ---------------------------------------------------------------------------
// Negative answers without SOA

TEST_CASE("no SOA: NXDOMAIN without SOA is answered, and the same way on repeat",
          "[walker][negative]") {
  WalkerFixture f;
  ScriptedReply nx;
  nx.rcode = Rcode::NXDOMAIN;
  f.network.on(net::example_com_1, "gone.example.com.", RRType::A, nx);
  f.network.on(net::example_com_2, "gone.example.com.", RRType::A, nx);
  auto first = f.resolve("gone.example.com.", RRType::A);
  CHECK(first.rcode == Rcode::NXDOMAIN);
  CHECK(first.answer.empty());
  CHECK(first.authority.empty());
  for (int i = 0; i < 3; ++i) {
    f.loop.run_for(seconds{1});
    auto again = f.resolve("gone.example.com.", RRType::A);
    CHECK(again.rcode == Rcode::NXDOMAIN);
    CHECK(again.answer.empty());
    CHECK(again.authority.empty());
  }
  // Not kept as a negative entry: it has no TTL (RFC 2308 §5).
  CHECK_FALSE(f.cache->negatives()
                  .lookup(wire::Name::from_text("gone.example.com."), RRType::A,
                          wire::RRClass::IN, f.loop.wall_seconds())
                  .has_value());
  // Nor does it make the names below it vanish (RFC 8020 needs the SOA's TTL).
  auto below = f.resolve("x.gone.example.com.", RRType::A);
  CHECK(below.rcode == Rcode::NXDOMAIN);  // from the scripted zone, with its SOA
  CHECK(below.authority.size() == 1);
}

TEST_CASE("no SOA: NODATA without SOA is answered, and the same way on repeat",
          "[walker][negative]") {
  WalkerFixture f;
  ScriptedReply nodata;
  nodata.aa = true;
  f.network.on(net::example_com_1, "www.example.com.", RRType::CAA, nodata);
  f.network.on(net::example_com_2, "www.example.com.", RRType::CAA, nodata);
  for (int i = 0; i < 3; ++i) {
    auto r = f.resolve("www.example.com.", RRType::CAA);
    CHECK(r.rcode == Rcode::NOERROR);
    CHECK(r.answer.empty());
    CHECK(r.authority.empty());
    f.loop.run_for(seconds{1});
  }
  // The other types of the name are not affected.
  auto a = f.resolve("www.example.com.", RRType::A);
  CHECK(section_text(a.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
}
