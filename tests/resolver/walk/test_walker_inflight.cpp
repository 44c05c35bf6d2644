// Identical upstream questions in flight, shared between one walker's
// concurrent requests (walker_inflight.cpp, inflight_questions.h): one
// packet for a QNAME-minimisation step two cold requests reach at once; a
// shared packet that times out sends its waiters to ask for themselves;
// packets that differ (ECS subnet, CD towards a forwarder) are never shared;
// the counters by reason still add up to the packets sent.
#include <catch2/catch.hpp>

#include "resolver/walk/inflight_questions.h"
#include "walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

void start(WalkerFixture& f, std::string_view name, RRType type, ResultCapture& capture, ResolveOptions o = {}) {
  f.w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, o,
                [&capture](const ResolutionResult& r) { capture.results.push_back(r); });
}

void run_until_answered(WalkerFixture& f, std::initializer_list<ResultCapture*> captures) {
  auto done = [&] {
    for (auto* c : captures) {
      if (c->results.empty()) return false;
    }
    return true;
  };
  for (int i = 0; i < 2000 && !done(); ++i) f.loop.run_for(milliseconds{5});
  INFO(f.network.log());
  for (auto* c : captures) REQUIRE(c->results.size() == 1);
}

void check_reasons_add_up(Walker& w) {
  uint64_t total = 0;
  for (uint64_t n : w.stats().upstream_by_reason) total += n;
  CHECK(total == w.stats().upstream_queries);
}

wire::ClientSubnetOption subnet(uint8_t third) {
  const uint8_t full[4] = {198, 18, third, 77};
  wire::ClientSubnetOption o;
  REQUIRE(wire::ClientSubnetOption::from_address(wire::ClientSubnetOption::kFamilyIPv4, full, 24, 0, o) ==
          wire::WireError::ok);
  return o;
}

// One forward zone to one upstream (configured_zones.h).
class OneForwardZone final : public ConfiguredZones {
 public:
  OneForwardZone(std::string_view zone, std::string_view upstream) {
    zone_.kind = ConfiguredZone::Kind::forward;
    zone_.zone = wire::Name::from_text(zone);
    zone_.servers.push_back({address(upstream), UpstreamProtocol::udp, wire::Name{}});
  }
  const ConfiguredZone* find(const wire::Name& name) const override {
    return name.is_subdomain_of(zone_.zone) ? &zone_ : nullptr;
  }
  bool inside_stub(const wire::Name&) const override { return false; }

 private:
  ConfiguredZone zone_;
};

}  // namespace

TEST_CASE("in-flight questions: two cold requests under one unknown cut send each step once",
          "[walker][inflight]") {
  WalkerFixture f;
  ResultCapture a, b;
  start(f, "www.example.com.", RRType::A, a);
  start(f, "www.example.com.", RRType::AAAA, b);
  run_until_answered(f, {&a, &b});
  CHECK(a.last().rcode == Rcode::NOERROR);
  CHECK(b.last().rcode == Rcode::NOERROR);
  CHECK(section_text(a.last().answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  CHECK(section_text(b.last().answer) == std::vector<std::string>{"www.example.com. AAAA 2001:db8::80"});
  // The minimised steps (`com. A` to a root server, `example.com. A` to the
  // gTLD server) left once; the two full questions differ.
  CHECK(f.network.sent_for("com.", RRType::A) == 1);
  CHECK(f.network.sent_for("example.com.", RRType::A) == 1);
  CHECK(f.network.sent_for("www.example.com.", RRType::A) == 1);
  CHECK(f.network.sent_for("www.example.com.", RRType::AAAA) == 1);
  CHECK(f.w().stats().shared_questions == 2);
  CHECK(f.w().stats().shared_question_retries == 0);
  check_reasons_add_up(f.w());
  // Nothing is left registered once every packet ended.
  CHECK(f.network.outstanding() == 0);
}

TEST_CASE("in-flight questions: the waiter of a shared step that times out asks for itself",
          "[walker][inflight]") {
  WalkerFixture f;
  // The gTLD server drops the first `example.com. A`, answers the next ones.
  f.network.on(net::gtld, "example.com.", RRType::A, silent(), 1);
  ResultCapture a, b;
  start(f, "www.example.com.", RRType::A, a);
  start(f, "www.example.com.", RRType::AAAA, b);
  run_until_answered(f, {&a, &b});
  CHECK(a.last().rcode == Rcode::NOERROR);
  CHECK(b.last().rcode == Rcode::NOERROR);
  // The waiter did not sit out the shared packet's hard timeout (2 s): it
  // was sent back at the retransmission timeout and finished beside the
  // request that sent the packet.
  const auto late = std::max(a.last().elapsed, b.last().elapsed);
  CHECK(late < f.options.timeouts.exchange_timeout);
  CHECK(f.w().stats().shared_question_retries == 1);
  // The silent packet, then one more for both (the waiter joined the
  // sender's second packet instead of sending a third).
  CHECK(f.network.sent_for("example.com.", RRType::A) == 2);
  check_reasons_add_up(f.w());
}

TEST_CASE("in-flight questions: other ECS subnets are never shared", "[walker][inflight][ecs]") {
  WalkerFixture f;
  // The com. servers get the client's subnet: the step `example.com. A`
  // carries it.
  f.options.ecs.zones.push_back(wire::Name::from_text("com."));
  ResultCapture a, b;
  ResolveOptions first, second;
  first.client_subnet = subnet(7);
  SECTION("another subnet: asked twice") {
    second.client_subnet = subnet(9);
    start(f, "www.example.com.", RRType::A, a, first);
    start(f, "www.example.com.", RRType::AAAA, b, second);
    run_until_answered(f, {&a, &b});
    CHECK(f.network.sent_for("example.com.", RRType::A) == 2);
  }
  SECTION("no subnet beside a subnet: asked twice") {
    start(f, "www.example.com.", RRType::A, a, first);
    start(f, "www.example.com.", RRType::AAAA, b, second);
    run_until_answered(f, {&a, &b});
    CHECK(f.network.sent_for("example.com.", RRType::A) == 2);
  }
  SECTION("the same subnet: asked once") {
    second.client_subnet = subnet(7);
    start(f, "www.example.com.", RRType::A, a, first);
    start(f, "www.example.com.", RRType::AAAA, b, second);
    run_until_answered(f, {&a, &b});
    CHECK(f.network.sent_for("example.com.", RRType::A) == 1);
  }
  CHECK(a.last().rcode == Rcode::NOERROR);
  CHECK(b.last().rcode == Rcode::NOERROR);
  // The root's step carries no subnet (com. is the ECS zone, not the root).
  CHECK(f.network.sent_for("com.", RRType::A) == 1);
  check_reasons_add_up(f.w());
}

TEST_CASE("in-flight questions: CD towards a forwarder is part of the packet, a client's CD is not",
          "[walker][inflight]") {
  WalkerFixture f;
  ResultCapture a, b;
  ResolveOptions checking, unchecked;
  unchecked.checking_disabled = true;
  SECTION("forwarded: CD=0 and CD=1 questions are two packets") {
    f.options.configured = std::make_shared<OneForwardZone>("example.com.", net::example_com_1);
    start(f, "www.example.com.", RRType::A, a, checking);
    start(f, "www.example.com.", RRType::A, b, unchecked);
    run_until_answered(f, {&a, &b});
    CHECK(f.network.sent_for("www.example.com.", RRType::A) == 2);
    size_t with_cd = 0;
    for (const auto& s : f.network.sent()) with_cd += s.checking_disabled ? 1 : 0;
    CHECK(with_cd == 1);
    CHECK(f.w().stats().shared_questions == 0);
  }
  SECTION("iterative: the same packet either way, asked once") {
    start(f, "www.example.com.", RRType::A, a, checking);
    start(f, "www.example.com.", RRType::A, b, unchecked);
    run_until_answered(f, {&a, &b});
    CHECK(f.network.sent_for("www.example.com.", RRType::A) == 1);
    CHECK(f.w().stats().shared_questions == 3);
  }
  CHECK(a.last().rcode == Rcode::NOERROR);
  CHECK(b.last().rcode == Rcode::NOERROR);
  CHECK(section_text(a.last().answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  CHECK(section_text(b.last().answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
  check_reasons_add_up(f.w());
}

TEST_CASE("in-flight questions: the table", "[inflight]") {
  InflightQuestions table;
  InflightKey key;
  key.zone = wire::Name::from_text("com.");
  key.qname = wire::Name::from_text("Example.COM.");
  key.type = RRType::A;
  REQUIRE(table.lead(key, 11, 1));
  CHECK_FALSE(table.lead(key, 12, 2));  // one packet per question
  InflightKey same = key;
  same.qname = wire::Name::from_text("example.com.");
  CHECK(table.join(same, 1, {1, 3}) == 0);  // not with its own request
  CHECK(table.join(same, 2, {2, 0}) == 11);
  InflightKey other = key;
  other.subnet = subnet(7);
  CHECK(table.join(other, 3, {3, 0}) == 0);
  other = key;
  other.flags = InflightKey::kCheckingDisabled;
  CHECK(table.join(other, 3, {3, 0}) == 0);
  for (uint64_t i = 0; i < InflightQuestions::kMaxWaiters; ++i) table.join(key, 100 + i, {100 + i, 0});
  auto waiters = table.end(11);
  CHECK(waiters.size() == InflightQuestions::kMaxWaiters);
  CHECK(waiters.front().resolution == 2);
  CHECK(table.empty());
  CHECK(table.end(11).empty());
  CHECK(table.join(key, 2, {2, 0}) == 0);
}
