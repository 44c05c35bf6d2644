// EDNS Client Subnet toward authoritative servers (walker_ecs.cpp): where the
// client's subnet goes (listed zones and servers only, never with
// sub-queries, never to unlisted forwarders), what a reply's scope does to
// the shared caches, replies that do not echo the subnet, and in-flight
// deduplication that keeps subnets apart.
#include <catch2/catch.hpp>

#include "cache/cache.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

std::optional<wire::ClientSubnetOption> subnet_sent(const SentQuery& q) {
  for (const auto& o : q.options) {
    if (o.code != static_cast<uint16_t>(wire::EdnsOptionCode::ClientSubnet)) continue;
    wire::ClientSubnetOption s;
    REQUIRE(wire::decode_client_subnet(o.data, s) == wire::WireError::ok);
    return s;
  }
  return std::nullopt;
}

wire::ClientSubnetOption subnet(uint8_t a, uint8_t b, uint8_t c, uint8_t bits = 24) {
  const uint8_t full[4] = {a, b, c, 77};
  wire::ClientSubnetOption o;
  REQUIRE(wire::ClientSubnetOption::from_address(wire::ClientSubnetOption::kFamilyIPv4, full, bits, 0, o) ==
          wire::WireError::ok);
  return o;
}

// How the example.com servers treat ECS.
enum class Mode { by_subnet, ignore, wrong_address, scope_zero };

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  cache::Cache cache;
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  Mode mode = Mode::by_subnet;
  uint8_t scope = 24;

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
    options.ecs.zones.push_back(wire::Name::from_text("example.com."));
    // Like the lab's ecs zone: www's address carries the subnet's third
    // octet, and the reply echoes the option with a scope.
    network.set_reply_hook([this](const wire::Message& q, const ServerAddress& server, UpstreamProtocol,
                                  wire::Message& reply) {
      if (server != address(net::example_com_1) && server != address(net::example_com_2)) return;
      if (!q.edns || !reply.edns || mode == Mode::ignore) return;
      const wire::EdnsOption* sent = q.edns->find(wire::EdnsOptionCode::ClientSubnet);
      if (!sent) return;
      wire::ClientSubnetOption s;
      REQUIRE(wire::decode_client_subnet(sent->data, s) == wire::WireError::ok);
      for (auto& record : reply.answer)
        if (record.type == RRType::A) record.rdata = {203, 0, 113, s.address[2]};
      if (mode == Mode::wrong_address) s.address[2] ^= 1;
      s.scope_prefix = mode == Mode::scope_zero ? 0 : scope;
      reply.edns->add(wire::encode(s));
    });
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(9);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key), &cache);
    }
    return *walker;
  }
  void start(std::string_view name, std::optional<wire::ClientSubnetOption> s, ResultCapture& capture,
             RRType type = RRType::A) {
    ResolveOptions o;
    o.client_subnet = s;
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, o,
                [&capture](const ResolutionResult& r) { capture.results.push_back(r); });
  }
  ResolutionResult resolve(std::string_view name, std::optional<wire::ClientSubnetOption> s,
                           RRType type = RRType::A) {
    ResultCapture capture;
    start(name, s, capture, type);
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.last();
  }
  size_t subnets_sent_to(std::string_view server) const {
    size_t n = 0;
    for (const auto& q : network.sent())
      if (q.server == address(server) && subnet_sent(q)) ++n;
    return n;
  }
  bool in_rrset_cache(std::string_view name) {
    return cache.rrsets()
        .lookup(wire::Name::from_text(name), RRType::A, wire::RRClass::IN, loop.wall_seconds())
        .has_value();
  }
};

// One forward zone (configured_zones.h).
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

uint8_t last_octet(const ResolutionResult& r) {
  REQUIRE_FALSE(r.answer.empty());
  const auto& rdatas = r.answer.back().rdatas;
  REQUIRE(rdatas.size() == 1);
  return rdatas[0].back();
}

}  // namespace

TEST_CASE("walker ECS: the subnet goes to the listed zone's servers only, with the client's question only",
          "[walker][ecs]") {
  Fixture f;
  auto r = f.resolve("www.example.com.", subnet(198, 18, 7));
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(last_octet(r) == 7);
  CHECK(r.ecs_scope == 24);
  CHECK(f.subnets_sent_to(net::root_a) + f.subnets_sent_to(net::root_b) == 0);
  CHECK(f.subnets_sent_to(net::gtld) == 0);
  CHECK(f.subnets_sent_to(net::example_com_1) + f.subnets_sent_to(net::example_com_2) == 1);
  for (const auto& q : f.network.sent()) {
    if (auto s = subnet_sent(q)) {
      CHECK(q.qname.lowercased() == wire::Name::from_text("www.example.com."));
      CHECK(*s == subnet(198, 18, 7));
    }
  }
  CHECK(f.w().stats().ecs_queries == 1);
  CHECK(f.w().stats().ecs_scoped_answers == 1);
  // The scoped answer stayed out of the shared RRset cache.
  CHECK_FALSE(f.in_rrset_cache("www.example.com."));

  // An unlisted zone never sees it.
  auto net_r = f.resolve("www.example.net.", subnet(198, 18, 7));
  REQUIRE(net_r.rcode == Rcode::NOERROR);
  CHECK(f.subnets_sent_to(net::example_net) == 0);
  CHECK(net_r.ecs_scope == 0);
  CHECK(f.in_rrset_cache("www.example.net."));
}

TEST_CASE("walker ECS: another subnet is asked again and gets its own answer", "[walker][ecs]") {
  Fixture f;
  CHECK(last_octet(f.resolve("www.example.com.", subnet(198, 18, 7))) == 7);
  CHECK(last_octet(f.resolve("www.example.com.", subnet(198, 18, 9))) == 9);
  CHECK(f.subnets_sent_to(net::example_com_1) + f.subnets_sent_to(net::example_com_2) == 2);
}

TEST_CASE("walker ECS: scope 0 and servers that ignore the option give answers for everyone", "[walker][ecs]") {
  Fixture f;
  f.mode = GENERATE(Mode::scope_zero, Mode::ignore);
  auto r = f.resolve("www.example.com.", subnet(198, 18, 7));
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(r.ecs_scope == 0);
  CHECK_FALSE(r.ecs_withheld);
  CHECK(f.in_rrset_cache("www.example.com."));
}

TEST_CASE("walker ECS: a client without a subnet gets the default answer, kept out of the shared cache",
          "[walker][ecs]") {
  Fixture f;
  auto r = f.resolve("www.example.com.", std::nullopt);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(last_octet(r) == 80);  // the zone's own data
  CHECK(r.ecs_withheld);
  CHECK(f.subnets_sent_to(net::example_com_1) + f.subnets_sent_to(net::example_com_2) == 0);
  CHECK_FALSE(f.in_rrset_cache("www.example.com."));
}

TEST_CASE("walker ECS: a reply that does not echo our subnet is dropped", "[walker][ecs]") {
  Fixture f;
  f.mode = Mode::wrong_address;
  auto r = f.resolve("www.example.com.", subnet(198, 18, 7));
  CHECK(r.rcode == Rcode::SERVFAIL);
  CHECK(f.w().stats().ecs_mismatches >= 2);
  CHECK_FALSE(f.in_rrset_cache("www.example.com."));
}

TEST_CASE("walker ECS: a scope longer than the source prefix counts as the source prefix", "[walker][ecs]") {
  Fixture f;
  f.scope = 32;
  auto r = f.resolve("www.example.com.", subnet(198, 18, 7));
  CHECK(r.ecs_scope == 24);
}

TEST_CASE("walker ECS: questions of different subnets in flight are not merged", "[walker][ecs]") {
  Fixture f;
  ResultCapture a, b, c;
  f.start("www.example.com.", subnet(198, 18, 7), a);
  f.start("www.example.com.", subnet(198, 18, 9), b);
  f.start("www.example.com.", subnet(198, 18, 7), c);  // joins a
  for (int i = 0; i < 2000 && (a.results.empty() || b.results.empty() || c.results.empty()); ++i)
    f.loop.run_for(milliseconds{5});
  REQUIRE(a.results.size() == 1);
  REQUIRE(b.results.size() == 1);
  REQUIRE(c.results.size() == 1);
  CHECK(last_octet(a.last()) == 7);
  CHECK(last_octet(b.last()) == 9);
  CHECK(last_octet(c.last()) == 7);
  CHECK(f.w().stats().deduplicated == 1);
}

TEST_CASE("walker ECS: forwarders get the subnet only when listed as servers", "[walker][ecs]") {
  // A forward zone for example.com. (ecs.zones lists it) to example.com's
  // first server acting as a forwarder.
  Fixture f;
  f.options.configured = std::make_shared<OneForwardZone>("example.com.", net::example_com_1);
  SECTION("not listed") {
    f.resolve("www.example.com.", subnet(198, 18, 7));
    CHECK(f.subnets_sent_to(net::example_com_1) == 0);
  }
  SECTION("listed") {
    f.options.ecs.servers.push_back(address(net::example_com_1));
    auto r = f.resolve("www.example.com.", subnet(198, 18, 7));
    CHECK(f.subnets_sent_to(net::example_com_1) == 1);
    CHECK(last_octet(r) == 7);
  }
}
