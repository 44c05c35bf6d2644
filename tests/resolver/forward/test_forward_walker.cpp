// Whole resolutions through forward and stub zones against the scripted
// network: the configured zone wins over the walk, upstreams get RD=1 and
// their answers are final, failover within one retransmission timeout,
// forward-first, authentication failures, stub zones on private addresses.
#include <catch2/catch.hpp>

#include <algorithm>

#include "resolver/config/config.h"
#include "resolver/forward/forward_table.h"
#include "resolver/walk/walker.h"
#include "tests/resolver/walk/scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

constexpr std::string_view kUp1 = "10.0.0.53";
constexpr std::string_view kUp2 = "10.0.0.54";
constexpr std::string_view kInternal = "10.1.1.1";
constexpr std::string_view kInternalSub = "10.1.1.2";

constexpr std::string_view kCorpZone = R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ NS ns
ns A 10.0.0.1
www 300 A 10.20.30.40
alias CNAME www.example.com.
)";

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  milliseconds last_duration{0};

  explicit Fixture(const std::string& yaml) {
    build_small_internet(network);
    options.explore_one_in = 0;
    options.configured = ForwardTable::build(load_config_text(yaml, "test.yaml"));
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(7);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key));
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type) {
    ResultCapture capture;
    milliseconds start = loop.elapsed();
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, {},
                [&](const ResolutionResult& r) {
                  capture.results.push_back(r);
                  capture.at.push_back(loop.elapsed());
                });
    for (milliseconds waited{0}; capture.results.empty() && waited < milliseconds{10000};
         waited += milliseconds{5}) {
      loop.run_for(milliseconds{5});
    }
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    last_duration = capture.at[0] - start;
    return capture.last();
  }
  size_t sent_to_root() const { return network.sent_to(net::root_a) + network.sent_to(net::root_b); }
};

uint16_t ede_of(const ResolutionResult& r) { return r.ede ? r.ede->info_code : 0xffff; }

const char* kCorpForward = R"(
forward-zones:
  - zone: corp.example
    upstreams: ["10.0.0.53", "10.0.0.54"]
)";

}  // namespace

TEST_CASE("forward: a forward zone's questions go to its upstream with RD=1, not walked",
          "[forward][walker]") {
  Fixture f(kCorpForward);
  f.network.serve_zone(kUp1, "corp.example.", kCorpZone);
  f.network.serve_zone(kUp2, "corp.example.", kCorpZone);
  auto r = f.resolve("www.corp.example.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  REQUIRE(r.answer.size() == 1);
  CHECK(section_text(r.answer)[0] == "www.corp.example. A 10.20.30.40");
  // No root priming, no referral: one query, to an upstream, RD=1, the full
  // name (no QNAME minimisation), on a private address although
  // query-private-addresses is off.
  CHECK(f.sent_to_root() == 0);
  REQUIRE(f.network.sent().size() == 1);
  const SentQuery& q = f.network.sent()[0];
  CHECK(q.recursion_desired);
  CHECK(q.qname == wire::Name::from_text("www.corp.example."));
  CHECK(q.protocol == UpstreamProtocol::udp);
  CHECK(f.w().stats().forwarded_queries == 1);
  CHECK(f.w().stats().primings == 0);

  // Outside the forward zone the walk goes on as always (RD=0, from the root).
  auto walked = f.resolve("www.example.com.", RRType::A);
  CHECK(walked.rcode == Rcode::NOERROR);
  CHECK(f.sent_to_root() > 0);
  for (const auto& sent : f.network.sent()) {
    if (!(sent.server == address(kUp1)) && !(sent.server == address(kUp2))) CHECK_FALSE(sent.recursion_desired);
  }
}

TEST_CASE("forward: the longest configured suffix decides; a CNAME out of the zone is chased",
          "[forward][walker]") {
  Fixture f(R"(
forward-zones:
  - {zone: corp.example, upstreams: ["10.0.0.53"]}
  - {zone: lab.corp.example, upstreams: ["10.0.0.54"]}
)");
  f.network.serve_zone(kUp1, "corp.example.", kCorpZone);
  f.network.serve_zone(kUp2, "lab.corp.example.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ NS ns
ns A 10.0.0.2
host A 10.9.9.9
)");
  auto r = f.resolve("host.lab.corp.example.", RRType::A);
  CHECK(section_text(r.answer) == std::vector<std::string>{"host.lab.corp.example. A 10.9.9.9"});
  CHECK(f.network.sent_to(kUp2) == 1);
  CHECK(f.network.sent_to(kUp1) == 0);

  // alias.corp.example. -> www.example.com.: the upstream's word ends at the
  // zone's edge; the target is walked.
  auto chased = f.resolve("alias.corp.example.", RRType::A);
  CHECK(chased.rcode == Rcode::NOERROR);
  CHECK(section_text(chased.answer) ==
        std::vector<std::string>{"alias.corp.example. CNAME www.example.com.", "www.example.com. A 192.0.2.80"});
  CHECK(f.sent_to_root() > 0);
}

TEST_CASE("forward: an upstream that dies costs at most one retransmission timeout per question",
          "[forward][walker][failover]") {
  Fixture f(kCorpForward);
  f.options.timeouts.initial_rto = milliseconds{300};
  f.network.serve_zone(kUp1, "corp.example.", kCorpZone);
  f.network.serve_zone(kUp2, "corp.example.", kCorpZone);
  for (int i = 0; i < 6; ++i) {
    auto r = f.resolve("www.corp.example.", RRType::A);
    CHECK(r.rcode == Rcode::NOERROR);
    f.w();  // both learn an RTT over the questions (no cache here)
  }
  // Upstream 1 dies (silent from now on).
  ScriptedReply silent;
  silent.behaviour = Behaviour::silent;
  f.network.on_subtree(kUp1, "corp.example.", silent);
  const size_t before = f.network.sent_to(kUp1);
  for (int i = 0; i < 8; ++i) {
    auto r = f.resolve("n" + std::to_string(i) + ".corp.example.", RRType::A);
    CHECK(r.rcode == Rcode::NXDOMAIN);  // answered by the other
    // At most one retransmission timeout (after an RTT of 10 ms it is the
    // 50 ms floor, doubled after a timeout) plus the other's reply.
    CHECK(f.last_duration <= milliseconds{300 + 20});
  }
  // Two timeouts in a row hold it down: it is asked at most twice more.
  CHECK(f.network.sent_to(kUp1) - before <= 2);
  auto later = f.resolve("later.corp.example.", RRType::A);
  CHECK(later.rcode == Rcode::NXDOMAIN);
  CHECK(f.last_duration <= milliseconds{20});
}

TEST_CASE("forward: an upstream that refuses or refers is skipped; all failing is SERVFAIL + EDE",
          "[forward][walker][failover]") {
  Fixture f(kCorpForward);
  ScriptedReply referral;
  referral.aa = false;
  referral.authority.push_back(rr("corp.example. 3600 IN NS ns.corp.example."));
  referral.additional.push_back(rr("ns.corp.example. 3600 IN A 10.0.0.1"));
  f.network.on_subtree(kUp1, "corp.example.", referral);
  ScriptedReply refused;
  refused.rcode = Rcode::REFUSED;
  refused.aa = false;
  f.network.on_subtree(kUp2, "corp.example.", refused);
  auto r = f.resolve("www.corp.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(ede_of(r) == 22);
  // The referral was not followed.
  CHECK(f.network.sent_to("10.0.0.1") == 0);
  CHECK(f.sent_to_root() == 0);
}

TEST_CASE("forward: forward-only fails; forward-first walks when every upstream fails",
          "[forward][walker]") {
  SECTION("forward-only: SERVFAIL with EDE 22, nothing walked") {
    Fixture f(R"(
forward-zones:
  - {zone: example.com, upstreams: ["10.0.0.53"]}
)");
    auto r = f.resolve("www.example.com.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(ede_of(r) == 22);
    CHECK(f.sent_to_root() == 0);
    CHECK(f.w().stats().forward_fallbacks == 0);
  }
  SECTION("forward-first: the walk answers, and the next question walks at once") {
    Fixture f(R"(
forward-zones:
  - {zone: example.com, forward-first: true, upstreams: ["10.0.0.53"]}
)");
    auto r = f.resolve("www.example.com.", RRType::A);
    CHECK(r.rcode == Rcode::NOERROR);
    CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
    CHECK(f.w().stats().forward_fallbacks == 1);
    const size_t upstream = f.network.sent_to(kUp1);
    CHECK(upstream >= 1);
    auto again = f.resolve("mail.example.com.", RRType::A);
    CHECK(again.rcode == Rcode::NXDOMAIN);
    CHECK(f.network.sent_to(kUp1) == upstream);  // remembered unreachable: walked at once
  }
}

TEST_CASE("forward: an authentication failure is SERVFAIL + EDE 23, never plaintext",
          "[forward][walker][tls]") {
  Fixture f(R"(
forward-zones:
  - zone: corp.example
    upstreams: [{address: 10.0.0.53, transport: tls, spki-pin: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=}]
)");
  ScriptedReply bad_pin;
  bad_pin.behaviour = Behaviour::auth_failure;
  f.network.on_subtree("10.0.0.53:853", "corp.example.", bad_pin);
  auto r = f.resolve("www.corp.example.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(ede_of(r) == 23);
  REQUIRE(r.ede);
  CHECK_THAT(r.ede->extra_text, Catch::Contains("failed authentication") &&
                                    Catch::Contains("certificate does not match"));
  // Every packet went out as TLS: none in plaintext, none to port 53.
  for (const auto& q : f.network.sent()) {
    CHECK(q.protocol == UpstreamProtocol::tls);
    CHECK(q.server.port == 853);
  }
}

TEST_CASE("forward: encrypted upstreams get padded queries without 0x20", "[forward][walker][tls]") {
  Fixture f(R"(
forward-zones:
  - zone: corp.example
    upstreams:
      - {address: 10.0.0.53, transport: tls, tls-name: dns.corp.example}
      - {url: 'https://10.0.0.54/dns-query'}
)");
  f.network.serve_zone("10.0.0.53:853", "corp.example.", kCorpZone);
  auto r = f.resolve("www.corp.example.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  REQUIRE_FALSE(f.network.sent().empty());
  for (const auto& q : f.network.sent()) {
    CHECK((q.protocol == UpstreamProtocol::tls || q.protocol == UpstreamProtocol::https));
    CHECK(q.size % 128 == 0);  // RFC 8467 block padding
    CHECK(q.qname.equals_exact(wire::Name::from_text("www.corp.example.")));
    CHECK(q.edns);
  }
}

TEST_CASE("stub: the walk starts at configured servers on private addresses, RD=0",
          "[forward][stub][walker]") {
  Fixture f(R"(
stub-zones:
  - {zone: internal.test, servers: ["10.1.1.1"]}
)");
  REQUIRE_FALSE(f.options.allow_private_servers);
  f.network.serve_zone(kInternal, "internal.test.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ NS ns
ns A 10.1.1.1
www A 10.1.2.3
sub NS ns.sub
ns.sub A 10.1.1.2
)");
  f.network.serve_zone(kInternalSub, "sub.internal.test.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ NS ns
ns A 10.1.1.2
deep A 10.1.9.9
)");
  auto r = f.resolve("www.internal.test.", RRType::A);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.internal.test. A 10.1.2.3"});
  CHECK(f.sent_to_root() == 0);
  for (const auto& q : f.network.sent()) CHECK_FALSE(q.recursion_desired);
  // A referral below the stub zone to another private address is followed.
  auto deep = f.resolve("deep.sub.internal.test.", RRType::A);
  CHECK(section_text(deep.answer) == std::vector<std::string>{"deep.sub.internal.test. A 10.1.9.9"});
  CHECK(f.network.sent_to(kInternalSub) >= 1);
}

TEST_CASE("stub: servers given by name are resolved by the normal walk", "[forward][stub][walker]") {
  Fixture f(R"(
stub-zones:
  - {zone: internal.test, servers: ["ns.example.net."]}
)");
  // ns.example.net. is 198.51.100.53 in the small internet.
  f.network.serve_zone(net::example_net, "internal.test.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ NS ns.example.net.
www A 10.1.2.3
)");
  auto r = f.resolve("www.internal.test.", RRType::A);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.internal.test. A 10.1.2.3"});
  CHECK(f.network.sent_for("ns.example.net.", RRType::A) >= 1);
}

TEST_CASE("stub: private addresses stay refused outside stub zones", "[forward][stub][walker]") {
  Fixture f(R"(
stub-zones:
  - {zone: internal.test, servers: ["10.1.1.1"]}
)");
  // example.net. delegates priv.example.net. to a private address: still skipped.
  f.network.delegate(net::example_net, "priv.example.net.", {{"ns.priv.example.net.", "10.9.9.9"}});
  auto r = f.resolve("www.priv.example.net.", RRType::A);
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(f.network.sent_to("10.9.9.9") == 0);
}

TEST_CASE("forward table: longest suffix, stubs, profiles, changed zones", "[forward]") {
  Config before = load_config_text(R"(
forward-zones:
  - {zone: ., upstreams: ["192.0.2.1"]}
  - zone: corp.example
    upstreams: [{address: '10.0.0.53@8853', transport: tls, tls-name: dns.corp.example}]
stub-zones:
  - {zone: internal.test, servers: ["10.1.1.1", ns.internal.test]}
)", "t.yaml");
  auto table = ForwardTable::build(before);
  auto find = [&](std::string_view name) {
    const ConfiguredZone* z = table->find(wire::Name::from_text(name));
    return z ? z->zone.to_text() : std::string("none");
  };
  CHECK(find("www.corp.example.") == "corp.example.");
  CHECK(find("CORP.example.") == "corp.example.");
  CHECK(find("example.") == ".");
  CHECK(find("a.b.internal.test.") == "internal.test.");
  CHECK(table->inside_stub(wire::Name::from_text("b.internal.test.")));
  CHECK_FALSE(table->inside_stub(wire::Name::from_text("corp.example.")));
  const ConfiguredZone* stub = table->find(wire::Name::from_text("internal.test."));
  REQUIRE(stub);
  CHECK(stub->kind == ConfiguredZone::Kind::stub);
  CHECK(stub->servers.size() == 1);
  CHECK(stub->server_names.size() == 1);
  const UpstreamProfile* p = table->profile(address("10.0.0.53:8853"), UpstreamProtocol::tls);
  REQUIRE(p);
  CHECK(p->tls_name == "dns.corp.example");
  CHECK(p->label == "tls://10.0.0.53@8853#dns.corp.example");
  CHECK_FALSE(table->profile(address("10.0.0.53:8853"), UpstreamProtocol::quic));

  Config after = load_config_text(R"(
forward-zones:
  - {zone: ., upstreams: ["192.0.2.1"]}
  - {zone: new.example, upstreams: ["192.0.2.9"]}
stub-zones:
  - {zone: internal.test, servers: ["10.1.1.2", ns.internal.test]}
)", "t.yaml");
  auto changed = changed_zones(before, after);
  std::vector<std::string> names;
  for (const auto& n : changed) names.push_back(n.to_text());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"corp.example.", "internal.test.", "new.example."});
}

TEST_CASE("forward: questions failing fast on a remembered authentication failure keep EDE 23",
          "[forward][walker][tls]") {
  Fixture f(R"(
forward-zones:
  - zone: corp.example
    upstreams: [{address: 10.0.0.53, transport: tls, tls-name: dns.corp.example}]
)");
  ScriptedReply bad;
  bad.behaviour = Behaviour::auth_failure;
  f.network.on_subtree("10.0.0.53:853", "corp.example.", bad);
  auto first = f.resolve("a.corp.example.", RRType::A);
  CHECK(ede_of(first) == 23);
  const size_t sent = f.network.sent().size();
  auto second = f.resolve("b.corp.example.", RRType::A);
  CHECK(second.rcode == Rcode::SERVFAIL);
  CHECK(ede_of(second) == 23);
  REQUIRE(second.ede);
  CHECK_THAT(second.ede->extra_text, Catch::Contains("failed authentication") && Catch::Contains("remembered"));
  CHECK(f.network.sent().size() == sent);  // failed at once: no new handshake
}

TEST_CASE("forward: the DS at a forward zone's apex comes from the parent's side", "[forward][walker]") {
  // The upstream answers DS big.test. with test.'s SOA (a NODATA from the
  // parent): outside big.test. but exactly the right answer. It was taken
  // for a lame reply, and every name of the zone failed to validate.
  Fixture f(R"(
forward-zones:
  - {zone: corp.example, upstreams: ["10.0.0.53"]}
)");
  ScriptedReply nodata;
  nodata.aa = false;
  nodata.authority.push_back(rr("example. 300 IN SOA ns.example. hostmaster.example. 1 3600 900 604800 300"));
  f.network.on(kUp1, "corp.example.", RRType::DS, nodata);
  auto r = f.resolve("corp.example.", RRType::DS);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(r.answer.empty());
  REQUIRE(r.authority.size() == 1);
  CHECK(r.authority[0].owner == wire::Name::from_text("example."));
  CHECK(f.network.sent_to(kUp1) == 1);
}

TEST_CASE("forward: a slow stream upstream is waited for, not asked again nor held down",
          "[forward][walker][failover]") {
  // Under load, answers on a busy TLS connection come after the
  // retransmission timer. Asking again on the same stream only adds load;
  // charging the upstream timeouts held it down, and a burst of questions
  // then failed at once (SERVFAIL) for a second.
  Fixture f(R"(
forward-zones:
  - zone: corp.example
    upstreams: [{address: 10.0.0.53, transport: tls, tls-name: dns.corp.example}]
)");
  f.options.timeouts.initial_rto = milliseconds{300};
  ScriptedReply slow;
  slow.aa = false;
  slow.answer.push_back(rr("www.corp.example. 300 IN A 10.20.30.40"));
  slow.delay = milliseconds{900};  // beyond the first RTO (2 x 300 ms for a stream)
  f.network.on("10.0.0.53:853", "www.corp.example.", RRType::A, slow);
  ScriptedReply fast = slow;
  fast.answer = {rr("mail.corp.example. 300 IN A 10.20.30.41")};
  fast.delay = milliseconds{5};
  f.network.on("10.0.0.53:853", "mail.corp.example.", RRType::A, fast);
  for (int i = 0; i < 3; ++i) {
    auto r = f.resolve("www.corp.example.", RRType::A);
    CHECK(r.rcode == Rcode::NOERROR);
  }
  CHECK(f.network.sent().size() == 3);  // one query per question, none repeated
  auto other = f.resolve("mail.corp.example.", RRType::A);
  CHECK(other.rcode == Rcode::NOERROR);
  CHECK(f.last_duration <= milliseconds{20});
}
