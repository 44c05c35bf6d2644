// The walker's building blocks on their own: server addresses, root hints,
// QNAME minimisation steps, server selection, response classification.
#include <catch2/catch.hpp>

#include "resolver/walk/qname_minimisation.h"
#include "resolver/walk/response_classifier.h"
#include "resolver/walk/root_hints.h"
#include "resolver/walk/server_address.h"
#include "resolver/walk/server_selection.h"
#include "scripted_network.h"
#include "wire/errors.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Name;
using wire::RRType;

TEST_CASE("server address: parsing and private ranges", "[walker-parts]") {
  CHECK(address("192.0.2.1").to_string() == "192.0.2.1");
  CHECK(address("2001:db8::1").is_ipv6());
  auto with_port = ServerAddress::parse("[2001:db8::1]:5353");
  REQUIRE(with_port);
  CHECK(with_port->port == 5353);
  CHECK(ServerAddress::parse("127.0.0.1:5300")->port == 5300);
  CHECK_FALSE(ServerAddress::parse("300.1.1.1"));
  CHECK_FALSE(ServerAddress::parse("1.2.3.4:0"));
  for (const char* p : {"10.1.2.3", "127.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
                        "::1", "::", "fd00::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1"}) {
    INFO(p);
    CHECK(address(p).is_private_or_local());
  }
  for (const char* p : {"198.41.0.4", "172.32.0.1", "100.128.0.1", "2001:503:ba3e::2:30",
                        "::ffff:198.41.0.4"}) {
    INFO(p);
    CHECK_FALSE(address(p).is_private_or_local());
  }
  CHECK(address("127.0.0.53").is_loopback());
  CHECK_FALSE(address("10.0.0.1").is_loopback());
}

TEST_CASE("root hints: the built-in set and files", "[walker-parts]") {
  RootHints hints = RootHints::embedded();
  CHECK(hints.servers.size() == 13);
  CHECK(hints.address_count() == 26);
  CHECK(hints.servers[0].name == Name::from_text("a.root-servers.net."));

  RootHints lab = RootHints::parse(
      "$TTL 1d\n. NS ns.lab.\nns.lab. A 127.0.0.10 ; comment\nother. A 127.0.0.99\n", "lab", 5300);
  REQUIRE(lab.servers.size() == 1);
  REQUIRE(lab.servers[0].addresses.size() == 1);
  CHECK(lab.servers[0].addresses[0].port == 5300);

  CHECK_THROWS_AS(RootHints::parse("com. NS a.gtld-servers.net.\n"), wire::TextError);
  CHECK_THROWS_AS(RootHints::parse(". NS a.root-servers.net.\n"), wire::TextError);
  CHECK_THROWS_AS(RootHints::parse(". NS a.root-servers.net.\na.root-servers.net. A bogus\n"),
                  wire::TextError);
  CHECK_THROWS_AS(RootHints::load_file("/nonexistent/root.hints"), wire::TextError);
  RootHints file = RootHints::load_file(SEXTANT_SOURCE_DIR "/root.hints");
  CHECK(file.address_count() == 26);
}

TEST_CASE("qname minimisation: one label at a time, then bigger steps", "[walker-parts]") {
  Name target = Name::from_text("a.b.c.d.e.f.g.h.example.com.");
  QnameMinimiser m(true, 10, 4);
  m.start(target, Name(), true);
  CHECK(m.asked_name() == Name::from_text("com."));
  m.enter_zone(Name::from_text("com."));
  CHECK(m.asked_name() == Name::from_text("example.com."));
  m.enter_zone(Name::from_text("example.com."));
  CHECK(m.asked_name() == Name::from_text("h.example.com."));
  m.advance();
  CHECK(m.asked_name() == Name::from_text("g.h.example.com."));
  size_t steps = 0;
  while (m.minimising() && steps < 20) {
    m.advance();
    ++steps;
  }
  CHECK(m.asked_name() == target);
  CHECK(m.steps() <= 10);

  QnameMinimiser off(false, 10, 4);
  off.start(target, Name(), false);
  CHECK(off.asked_name() == target);
  CHECK_FALSE(off.minimising());

  QnameMinimiser fallback(true, 10, 4);
  fallback.start(target, Name(), true);
  fallback.disable();
  CHECK(fallback.asked_name() == target);
}

TEST_CASE("server selection: RTT, backoff, dead hold-down", "[walker-parts]") {
  WalkerTimeouts timeouts;
  std::array<uint8_t, 32> key{};
  QueryRandomness random(key);
  ServerSelection selection(timeouts, random);
  FakeLoop loop;
  auto fast = address("192.0.2.1");
  auto slow = address("192.0.2.2");
  auto fresh = address("192.0.2.3");
  CHECK(selection.rto(fresh) == timeouts.initial_rto);
  selection.on_reply(fast, std::chrono::microseconds(20000), loop.now());
  selection.on_reply(slow, std::chrono::microseconds(200000), loop.now());
  std::vector<ServerCandidate> candidates{{slow, 0}, {fast, 0}, {fresh, 0}};
  for (int i = 0; i < 20; ++i) {
    auto pick = selection.choose(candidates, loop.now(), 0);
    REQUIRE(pick);
    CHECK(candidates[*pick].address == fast);
  }
  // Fewer tries first.
  candidates[1].tries = 1;
  auto pick = selection.choose(candidates, loop.now(), 0);
  REQUIRE(pick);
  CHECK(candidates[*pick].tries == 0);

  milliseconds before = selection.rto(fast);
  selection.on_timeout(fast, loop.now(), loop.now());
  CHECK(selection.rto(fast) == std::min(before * 2, timeouts.max_rto));
  CHECK_FALSE(selection.is_dead(fast, loop.now()));
  selection.on_timeout(fast, loop.now(), loop.now());
  CHECK(selection.is_dead(fast, loop.now()));
  std::vector<ServerCandidate> only_dead{{fast, 0}};
  CHECK_FALSE(selection.choose(only_dead, loop.now(), 0));
  loop.run_for(timeouts.dead_hold_down);
  CHECK_FALSE(selection.is_dead(fast, loop.now()));
  selection.on_reply(fast, std::chrono::microseconds(20000), loop.now());
  CHECK(selection.find(fast)->consecutive_timeouts == 0);
}

TEST_CASE("response classifier: bailiwick, referrals, chains", "[walker-parts]") {
  auto message = [](std::vector<wire::ResourceRecord> answer,
                    std::vector<wire::ResourceRecord> authority,
                    std::vector<wire::ResourceRecord> additional, bool aa, wire::Rcode rcode) {
    wire::Message m;
    m.header.set_qr(true);
    m.header.set_aa(aa);
    m.set_rcode(rcode);
    m.answer = std::move(answer);
    m.authority = std::move(authority);
    m.additional = std::move(additional);
    return m;
  };
  ClassifyRequest req;
  req.zone = Name::from_text("com.");
  req.asked_name = Name::from_text("www.example.com.");
  req.asked_type = RRType::A;

  SECTION("referral keeps in-bailiwick glue only") {
    auto m = message({},
                     {rr("example.com. 3600 IN NS ns1.example.com."),
                      rr("example.com. 3600 IN NS ns.other.net.")},
                     {rr("ns1.example.com. 3600 IN A 192.0.2.1"),
                      rr("ns.other.net. 3600 IN A 6.6.6.6")},
                     false, wire::Rcode::NOERROR);
    req.response = &m;
    auto c = classify_response(req);
    CHECK(c.kind == ResponseKind::referral);
    CHECK(c.referral_zone == Name::from_text("example.com."));
    REQUIRE(c.glue.size() == 1);
    CHECK(c.glue[0].owner == Name::from_text("ns1.example.com."));
  }
  SECTION("a referral to an unrelated zone is lame") {
    auto m = message({}, {rr("example.org. 3600 IN NS ns1.example.org.")}, {}, false,
                     wire::Rcode::NOERROR);
    req.response = &m;
    CHECK(classify_response(req).kind == ResponseKind::lame);
  }
  SECTION("answer records outside the zone are ignored") {
    req.zone = Name::from_text("example.com.");
    auto m = message({rr("www.example.com. 300 IN CNAME www.example.net."),
                      rr("www.example.net. 300 IN A 6.6.6.6")},
                     {}, {}, true, wire::Rcode::NOERROR);
    req.response = &m;
    auto c = classify_response(req);
    CHECK(c.kind == ResponseKind::chase);
    CHECK(c.final_name == Name::from_text("www.example.net."));
    CHECK(c.answers.empty());
  }
  SECTION("a CNAME loop inside one response") {
    req.zone = Name::from_text("example.com.");
    auto m = message({rr("www.example.com. 300 IN CNAME a.example.com."),
                      rr("a.example.com. 300 IN CNAME www.example.com.")},
                     {}, {}, true, wire::Rcode::NOERROR);
    req.response = &m;
    CHECK(classify_response(req).kind == ResponseKind::cname_loop);
  }
  SECTION("error rcodes") {
    auto m = message({}, {}, {}, false, wire::Rcode::REFUSED);
    req.response = &m;
    CHECK(classify_response(req).kind == ResponseKind::server_error);
  }
  SECTION("empty non-authoritative answer is lame") {
    auto m = message({}, {}, {}, false, wire::Rcode::NOERROR);
    req.response = &m;
    CHECK(classify_response(req).kind == ResponseKind::lame);
  }
  SECTION("an empty answer without SOA from a recursive upstream is NODATA") {
    // A forwarder passes on the NODATA it got without SOA, never with AA.
    auto m = message({}, {}, {}, false, wire::Rcode::NOERROR);
    req.response = &m;
    req.from_recursive = true;
    CHECK(classify_response(req).kind == ResponseKind::nodata);
  }
  SECTION("AA=1, no SOA and the root's NS set (an upward referral) is lame, not NODATA") {
    req.zone = Name::from_text("example.com.");
    for (auto rcode : {wire::Rcode::NOERROR, wire::Rcode::NXDOMAIN}) {
      auto m = message({}, {rr(". 518400 IN NS a.root-servers.net.")}, {}, true, rcode);
      req.response = &m;
      auto c = classify_response(req);
      CHECK(c.kind == ResponseKind::lame);
      CHECK(c.reason == "authoritative referral to . does not lead down from example.com.");
    }
    // ... the parent's NS set too, and a sideways one in the zone.
    auto up = message({}, {rr("com. 172800 IN NS a.gtld-servers.net.")}, {}, true, wire::Rcode::NOERROR);
    req.response = &up;
    CHECK(classify_response(req).kind == ResponseKind::lame);
    auto side = message({}, {rr("other.example.com. 3600 IN NS ns.other.example.com.")}, {}, true,
                        wire::Rcode::NOERROR);
    req.response = &side;
    CHECK(classify_response(req).kind == ResponseKind::lame);
  }
  SECTION("with an SOA, or with the zone's own NS set and AA, it is NODATA") {
    req.zone = Name::from_text("example.com.");
    auto with_soa = message({},
                            {rr(". 518400 IN NS a.root-servers.net."),
                             rr("example.com. 3600 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300")},
                            {}, true, wire::Rcode::NOERROR);
    req.response = &with_soa;
    CHECK(classify_response(req).kind == ResponseKind::nodata);
    auto own = message({},
                       {rr("example.com. 3600 IN NS ns1.example.com."),
                        rr(". 518400 IN NS a.root-servers.net.")},
                       {}, true, wire::Rcode::NOERROR);
    req.response = &own;
    CHECK(classify_response(req).kind == ResponseKind::nodata);
    auto own_without_aa = message({}, {rr("example.com. 3600 IN NS ns1.example.com.")}, {}, false,
                                  wire::Rcode::NOERROR);
    req.response = &own_without_aa;
    CHECK(classify_response(req).kind == ResponseKind::lame);
    auto bare = message({}, {}, {}, true, wire::Rcode::NOERROR);
    req.response = &bare;
    CHECK(classify_response(req).kind == ResponseKind::nodata);  // RFC 2308 NODATA type 3
  }
  SECTION("NS sets beside the referral do not hide it; the deepest referral wins") {
    auto m = message({},
                     {rr("other.com. 3600 IN NS ns.other.com."), rr(". 518400 IN NS a.root-servers.net."),
                      rr("example.com. 3600 IN NS ns1.example.com."),
                      rr("www.example.com. 3600 IN NS ns.www.example.com.")},
                     {rr("ns.www.example.com. 3600 IN A 192.0.2.9")}, false, wire::Rcode::NOERROR);
    req.response = &m;
    auto c = classify_response(req);
    REQUIRE(c.kind == ResponseKind::referral);
    CHECK(c.referral_zone == Name::from_text("www.example.com."));
    REQUIRE(c.glue.size() == 1);
  }
  SECTION("the zone's own NS set and its in-zone addresses: the child's view") {
    req.zone = Name::from_text("example.com.");
    auto answer = message({rr("www.example.com. 300 IN A 192.0.2.1")},
                          {rr("example.com. 3600 IN NS ns1.example.com."),
                           rr("example.com. 3600 IN NS ns.other.net.")},
                          {rr("ns1.example.com. 3600 IN A 192.0.2.53"),
                           rr("ns.other.net. 3600 IN A 6.6.6.6")},
                          true, wire::Rcode::NOERROR);
    req.response = &answer;
    auto c = classify_response(req);
    CHECK(c.kind == ResponseKind::answer);
    REQUIRE(c.zone_ns.has_value());
    CHECK(c.zone_ns->rdatas.size() == 2);
    REQUIRE(c.zone_ns_addresses.size() == 1);  // ns.other.net. is not this server's to say
    CHECK(c.zone_ns_addresses[0].owner == Name::from_text("ns1.example.com."));
    // The same without AA says nothing.
    answer.header.set_aa(false);
    CHECK_FALSE(classify_response(req).zone_ns.has_value());
    // Asked for the apex NS set: the answer is the view.
    req.asked_name = Name::from_text("example.com.");
    req.asked_type = RRType::NS;
    auto apex = message({rr("example.com. 3600 IN NS ns2.example.com.")}, {},
                        {rr("ns2.example.com. 3600 IN AAAA 2001:db8::53")}, true, wire::Rcode::NOERROR);
    req.response = &apex;
    c = classify_response(req);
    CHECK(c.kind == ResponseKind::answer);
    REQUIRE(c.zone_ns.has_value());
    CHECK(c.zone_ns_addresses.size() == 1);
  }
  SECTION("RRSIGs join the set they cover") {
    req.zone = Name::from_text("example.com.");
    auto m = message({rr("www.example.com. 300 IN A 192.0.2.1"),
                      rr("www.example.com. 300 IN RRSIG A 13 3 300 20300101000000 "
                         "20200101000000 12345 example.com. AAAA")},
                     {}, {}, true, wire::Rcode::NOERROR);
    req.response = &m;
    auto c = classify_response(req);
    REQUIRE(c.kind == ResponseKind::answer);
    REQUIRE(c.answers.size() == 1);
    CHECK(c.answers[0].signatures.size() == 1);
  }
}
