// Rebinding protection: which addresses count, how a resolution's answer is
// filtered, and what the client sees on misses and on cache hits (the RRset
// store still holds what the server sent).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include "resolver/front/rebinding_filter.h"
#include "tests/resolver/front/pipeline_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using wire::Rcode;
using wire::RRType;

namespace {

bool rebinding(const std::string& text) {
  uint8_t b[16];
  if (inet_pton(AF_INET, text.c_str(), b) == 1) return is_rebinding_address({b, 4});
  REQUIRE(inet_pton(AF_INET6, text.c_str(), b) == 1);
  return is_rebinding_address({b, 16});
}

ScriptedReply answering(std::vector<wire::ResourceRecord> records) {
  ScriptedReply r;
  r.answer = std::move(records);
  return r;
}

std::vector<uint16_t> ede_codes(const wire::Message& m) {
  std::vector<uint16_t> out;
  if (!m.edns) return out;
  for (const auto& o : m.edns->options) {
    if (o.code != static_cast<uint16_t>(wire::EdnsOptionCode::ExtendedError)) continue;
    wire::ExtendedErrorOption e;
    if (wire::decode_extended_error(o.data, e) == wire::WireError::ok) out.push_back(e.info_code);
  }
  return out;
}

std::vector<std::string> addresses(const wire::Message& m) {
  std::vector<std::string> out;
  for (const auto& r : m.answer) {
    char buf[64];
    if (r.type == RRType::A) out.push_back(inet_ntop(AF_INET, r.rdata.data(), buf, sizeof buf));
    if (r.type == RRType::AAAA) out.push_back(inet_ntop(AF_INET6, r.rdata.data(), buf, sizeof buf));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("rebinding: the address ranges, at their edges", "[rebinding]") {
  for (const char* yes : {"0.0.0.0", "0.255.255.255", "10.0.0.0", "10.255.255.255", "127.0.0.1", "127.255.0.9",
                          "100.64.0.0", "100.127.255.255", "169.254.0.1", "169.254.169.254", "172.16.0.0",
                          "172.31.255.255", "192.168.0.1", "::", "::1", "fc00::", "fd12:3456::1", "fe80::1",
                          "febf:ffff::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:192.168.1.1"}) {
    CAPTURE(yes);
    CHECK(rebinding(yes));
  }
  for (const char* no : {"1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
                         "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
                         "192.167.255.255", "192.169.0.0", "192.0.2.1", "8.8.8.8", "::2", "fbff::1", "fe00::1",
                         "fec0::1", "2001:db8::1", "::ffff:8.8.8.8", "64:ff9b::a00:1", "ff02::1"}) {
    CAPTURE(no);
    CHECK_FALSE(rebinding(no));
  }
}

TEST_CASE("rebinding: a result is filtered, refused, or exempt", "[rebinding]") {
  auto set = [](const std::string& owner, RRType type, std::vector<wire::Rdata> rdatas) {
    wire::RRset s;
    s.owner = wire::Name::from_text(owner);
    s.type = type;
    s.ttl = 300;
    s.rdatas = std::move(rdatas);
    s.signatures = {{1, 2, 3}};
    return s;
  };
  RebindingFilter filter(true, {wire::Name::from_text("Corp.Example.")});
  ResolutionResult mixed;
  mixed.rcode = Rcode::NOERROR;
  mixed.answer = {set("www.example.com.", RRType::A, {{10, 0, 0, 1}, {192, 0, 2, 5}})};
  ResolutionResult out;
  size_t removed = 0;
  CHECK(filter.filter(mixed, out, removed) == RebindingFilter::Verdict::filtered);
  CHECK(removed == 1);
  REQUIRE(out.answer.size() == 1);
  CHECK(out.answer[0].rdatas == std::vector<wire::Rdata>{{192, 0, 2, 5}});
  CHECK(out.answer[0].signatures.empty());

  ResolutionResult chain;
  chain.rcode = Rcode::NOERROR;
  chain.answer = {set("alias.example.com.", RRType::CNAME, {{0}}),
                  set("target.example.net.", RRType::AAAA, {std::vector<uint8_t>(15, 0)})};
  chain.answer[1].rdatas[0].push_back(1);  // ::1
  CHECK(filter.filter(chain, out, removed) == RebindingFilter::Verdict::refused);
  CHECK(removed == 1);

  ResolutionResult inside;
  inside.rcode = Rcode::NOERROR;
  inside.answer = {set("db.corp.example.", RRType::A, {{10, 1, 1, 1}})};
  CHECK(filter.filter(inside, out, removed) == RebindingFilter::Verdict::clean);
  CHECK(filter.filter(mixed, out, removed) == RebindingFilter::Verdict::filtered);

  RebindingFilter off;
  CHECK(off.filter(chain, out, removed) == RebindingFilter::Verdict::clean);
}

TEST_CASE("rebinding: a wire answer (cache hit) is checked record by record", "[rebinding]") {
  RebindingFilter filter(true, {wire::Name::from_text("corp.example.")});
  auto packet = [](std::vector<std::string> records) {
    wire::Message m;
    m.header.id = 1;
    m.header.set_qr(true);
    m.questions.push_back({wire::Name::from_text("q.example."), RRType::A, wire::RRClass::IN});
    for (const auto& r : records) m.answer.push_back(rr(r));
    std::vector<uint8_t> out;
    REQUIRE(wire::build_message(m, out) == wire::WireError::ok);
    return out;
  };
  CHECK(filter.answer_is_clean(packet({"q.example. 60 A 192.0.2.1", "q.example. 60 AAAA 2001:db8::1"})));
  CHECK_FALSE(filter.answer_is_clean(packet({"q.example. 60 A 192.0.2.1", "q.example. 60 A 172.20.0.1"})));
  CHECK_FALSE(filter.answer_is_clean(packet({"q.example. 60 CNAME x.example.", "x.example. 60 AAAA fe80::2"})));
  CHECK(filter.answer_is_clean(packet({"q.example. 60 CNAME db.corp.example.", "db.corp.example. 60 A 10.0.0.2"})));
  CHECK(filter.answer_is_clean(packet({"q.example. 60 TXT \"10.0.0.1\""})));
  CHECK(RebindingFilter().answer_is_clean(packet({"q.example. 60 A 10.0.0.1"})));
}

namespace {

// Stub zones as the walker's configured-zone table reports them.
struct StubZones final : ConfiguredZones {
  std::vector<wire::Name> stubs;
  const ConfiguredZone* find(const wire::Name&) const override { return nullptr; }
  bool inside_stub(const wire::Name& zone) const override {
    for (const auto& s : stubs)
      if (zone.is_subdomain_of(s)) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("rebinding: names in stub zones are exempt, as the configured zones say now", "[rebinding]") {
  RebindingFilter filter(true, {});
  StubZones configured;
  wire::RRset set;
  set.owner = wire::Name::from_text("db.internal.example.");
  set.type = RRType::A;
  set.ttl = 300;
  set.rdatas = {{10, 1, 1, 1}};
  ResolutionResult internal;
  internal.rcode = Rcode::NOERROR;
  internal.answer = {set};
  ResolutionResult out;
  size_t removed = 0;
  // No stub zone (yet): refused.
  CHECK(filter.filter(internal, out, removed, &configured) == RebindingFilter::Verdict::refused);
  wire::Message m;
  m.header.set_qr(true);
  m.questions.push_back({set.owner, RRType::A, wire::RRClass::IN});
  m.answer.push_back(rr("db.internal.example. 60 A 10.1.1.1"));
  m.answer.push_back(rr("db.internal.example. 60 A 192.168.7.7"));
  std::vector<uint8_t> packet;
  REQUIRE(wire::build_message(m, packet) == wire::WireError::ok);
  CHECK_FALSE(filter.answer_is_clean(packet, &configured));
  // A reload adds the stub zone: exempt at once, misses and cache hits.
  configured.stubs = {wire::Name::from_text("internal.example.")};
  CHECK(filter.filter(internal, out, removed, &configured) == RebindingFilter::Verdict::clean);
  CHECK(filter.answer_is_clean(packet, &configured));
  // Only at or below it.
  internal.answer[0].owner = wire::Name::from_text("internal.example.net.");
  CHECK(filter.filter(internal, out, removed, &configured) == RebindingFilter::Verdict::refused);
}

TEST_CASE("rebinding: through the pipeline, misses and cache hits alike", "[rebinding][pipeline]") {
  PipelineFixture f;
  const std::string s1(net::example_com_1), s2(net::example_com_2);
  for (const auto& s : {s1, s2}) {
    f.network.on(s, "private.example.com.", RRType::A, answering({rr("private.example.com. 300 A 10.1.2.3")}));
    f.network.on(s, "mixed.example.com.", RRType::A,
                 answering({rr("mixed.example.com. 300 A 192.168.1.1"), rr("mixed.example.com. 300 A 192.0.2.44")}));
    f.network.on(s, "v6.example.com.", RRType::AAAA, answering({rr("v6.example.com. 300 AAAA ::ffff:127.0.0.1")}));
    f.network.on(s, "db.corp.example.com.", RRType::A, answering({rr("db.corp.example.com. 300 A 10.9.9.9")}));
  }
  auto filter = std::make_shared<RebindingFilter>(true, std::vector<wire::Name>{wire::Name::from_text("corp.example.com.")});
  f.settings.rebinding = filter;

  for (int round = 0; round < 2; ++round) {  // a miss, then a hit
    CAPTURE(round);
    QuerySpec q;
    q.name = "private.example.com.";
    auto a = f.ask(q);
    REQUIRE(a);
    CHECK(a->rcode() == Rcode::REFUSED);
    CHECK(ede_codes(*a) == std::vector<uint16_t>{15});
    CHECK(a->answer.empty());

    q.name = "mixed.example.com.";
    a = f.ask(q);
    REQUIRE(a);
    CHECK(a->rcode() == Rcode::NOERROR);
    CHECK(addresses(*a) == std::vector<std::string>{"192.0.2.44"});

    q.name = "v6.example.com.";
    q.type = RRType::AAAA;
    a = f.ask(q);
    REQUIRE(a);
    CHECK(a->rcode() == Rcode::REFUSED);

    q.name = "db.corp.example.com.";
    q.type = RRType::A;
    a = f.ask(q);
    REQUIRE(a);
    CHECK(addresses(*a) == std::vector<std::string>{"10.9.9.9"});
  }
  // Each name went upstream once: the second round came from the cache.
  CHECK(f.network.sent_for("private.example.com.", RRType::A) == 1);
  CHECK(f.network.sent_for("mixed.example.com.", RRType::A) == 1);
  CHECK(f.defence_stats.rebinding_refused == 4);
  // 10.1.2.3, 192.168.1.1, ::ffff:127.0.0.1 at least once each (a hit the
  // walker answers from its RRset cache is filtered again).
  CHECK(f.defence_stats.rebinding_removed >= 3);

  // An answer the cache renders straight from its RRset store (validated
  // data, which takes no answer entry of its own) is checked as it leaves.
  wire::RRset stored;
  stored.owner = wire::Name::from_text("stored.example.com.");
  stored.type = RRType::A;
  stored.ttl = 300;
  stored.rdatas = {{169, 254, 169, 254}};
  REQUIRE(f.cache.rrsets().insert(stored, cache::Rank::answer_authoritative, cache::DnssecStatus::insecure,
                                  f.loop.wall_seconds()) == cache::RRsetCache::Result::stored);
  QuerySpec hit;
  hit.name = "stored.example.com.";
  auto from_store = f.ask(hit);
  REQUIRE(from_store);
  CHECK(from_store->rcode() == Rcode::REFUSED);
  CHECK(f.network.sent_for("stored.example.com.", RRType::A) == 0);  // it was a hit

  // Off: the private address goes through.
  PipelineFixture g;
  for (const auto& s : {s1, s2})
    g.network.on(s, "private.example.com.", RRType::A, answering({rr("private.example.com. 300 A 10.1.2.3")}));
  QuerySpec q;
  q.name = "private.example.com.";
  auto a = g.ask(q);
  REQUIRE(a);
  CHECK(addresses(*a) == std::vector<std::string>{"10.1.2.3"});
}
