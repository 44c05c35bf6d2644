// EDNS Client Subnet through the whole pipeline (query_pipeline_ecs.cpp):
// answers per subnet from a server that answers by subnet, the scoped
// cache, trusted and untrusted client options and the scope echoed, source
// prefix 0, malformed options, and unlisted zones in the shared cache.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "pipeline_fixture.h"
#include "resolver/config/config.h"
#include "resolver/policy/policy_builder.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using wire::Rcode;
using wire::RRType;

namespace {

wire::EdnsOption ecs_option(std::vector<uint8_t> data) {
  return wire::EdnsOption{static_cast<uint16_t>(wire::EdnsOptionCode::ClientSubnet), std::move(data)};
}

std::optional<wire::ClientSubnetOption> ecs_of(const wire::Message& m) {
  if (!m.edns) return std::nullopt;
  const wire::EdnsOption* o = m.edns->find(wire::EdnsOptionCode::ClientSubnet);
  if (!o) return std::nullopt;
  wire::ClientSubnetOption s;
  REQUIRE(wire::decode_client_subnet(o->data, s) == wire::WireError::ok);
  return s;
}

int last_octet(const std::optional<wire::Message>& m) {
  REQUIRE(m);
  REQUIRE(m->rcode() == Rcode::NOERROR);
  REQUIRE_FALSE(m->answer.empty());
  return m->answer.back().rdata.back();
}

struct EcsFixture : PipelineFixture {
  uint8_t scope = 24;
  std::vector<std::string> subnets_seen;  // what example.com's servers got ("" for none)

  EcsFixture() {
    settings.ecs.enabled = true;
    settings.ecs.add_for.emplace_back(parse_prefix("0.0.0.0/0"), true);
    settings.ecs.trusted = PrefixList({parse_prefix("192.0.2.1/32")});
    walker_options.ecs.zones.push_back(wire::Name::from_text("example.com."));
    network.set_reply_hook([this](const wire::Message& q, const ServerAddress& server, UpstreamProtocol,
                                  wire::Message& reply) {
      if (server != address(net::example_com_1) && server != address(net::example_com_2)) return;
      if (q.questions.empty() || q.questions[0].type != RRType::A) return;
      const wire::EdnsOption* sent = q.edns ? q.edns->find(wire::EdnsOptionCode::ClientSubnet) : nullptr;
      if (!sent) {
        subnets_seen.emplace_back();
        return;
      }
      wire::ClientSubnetOption s;
      REQUIRE(wire::decode_client_subnet(sent->data, s) == wire::WireError::ok);
      subnets_seen.push_back(std::to_string(s.address[0]) + "." + std::to_string(s.address[1]) + "." +
                             std::to_string(s.address[2]) + "/" + std::to_string(s.source_prefix));
      for (auto& record : reply.answer)
        if (record.type == RRType::A) record.rdata = {203, 0, 113, s.address[2]};
      s.scope_prefix = scope;
      if (reply.edns) reply.edns->add(wire::encode(s));
    });
  }
};

}  // namespace

TEST_CASE("pipeline ECS: answers per client subnet, the second client of a subnet from the scoped cache",
          "[pipeline][ecs]") {
  EcsFixture f;
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.7.10")) == 7);
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.9.10")) == 9);
  REQUIRE(f.subnets_seen == std::vector<std::string>{"198.18.7/24", "198.18.9/24"});
  auto again = f.ask(QuerySpec{}, "198.18.7.11");
  CHECK(last_octet(again) == 7);
  CHECK_FALSE(ecs_of(*again));  // the client sent no option: none comes back (RFC 7871 §7.2.2)
  CHECK(f.subnets_seen.size() == 2);
  CHECK(f.defence_stats.ecs_scoped_hits.load() == 1);
  CHECK(f.cache.stats().scoped_answers.entries == 2);
  CHECK(f.cache.stats().answers.entries == 0);
}

TEST_CASE("pipeline ECS: a /16 scope serves the whole /16 from the cache", "[pipeline][ecs]") {
  EcsFixture f;
  f.scope = 16;
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.7.10")) == 7);
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.200.10")) == 7);
  CHECK(last_octet(f.ask(QuerySpec{}, "198.19.7.10")) == 7);  // another /16: asked again
  CHECK(f.subnets_seen == std::vector<std::string>{"198.18.7/24", "198.19.7/24"});
}

TEST_CASE("pipeline ECS: a trusted client's option is sent on and echoed with the answer's scope",
          "[pipeline][ecs]") {
  EcsFixture f;
  QuerySpec q;
  q.options.push_back(ecs_option({0, 1, 32, 0, 203, 0, 113, 200}));
  auto m = f.ask(q, "192.0.2.1");
  CHECK(last_octet(m) == 113);
  CHECK(f.subnets_seen == std::vector<std::string>{"203.0.113/24"});  // cut to /24
  auto echo = ecs_of(*m);
  REQUIRE(echo);
  CHECK(echo->source_prefix == 32);  // the client's own option, echoed
  CHECK(echo->address[3] == 200);
  CHECK(echo->scope_prefix == 24);
  // Again, from the scoped cache: the same scope.
  auto hit = f.ask(q, "192.0.2.1");
  CHECK(last_octet(hit) == 113);
  REQUIRE(ecs_of(*hit));
  CHECK(ecs_of(*hit)->scope_prefix == 24);
  CHECK(f.subnets_seen.size() == 1);
  CHECK(f.defence_stats.ecs_client_honoured.load() == 2);
}

TEST_CASE("pipeline ECS: an untrusted client's option is ignored and echoed with scope 0", "[pipeline][ecs]") {
  EcsFixture f;
  QuerySpec q;
  q.options.push_back(ecs_option({0, 1, 24, 0, 203, 0, 113}));
  auto m = f.ask(q, "192.0.2.2");
  CHECK(last_octet(m) == 2);  // the answer for its own address's /24
  CHECK(f.subnets_seen == std::vector<std::string>{"192.0.2/24"});
  auto echo = ecs_of(*m);
  REQUIRE(echo);
  CHECK(echo->address[2] == 113);
  CHECK(echo->scope_prefix == 0);
  CHECK(f.defence_stats.ecs_client_ignored.load() == 1);
}

TEST_CASE("pipeline ECS: source prefix 0 means no subnet is sent, from anyone (RFC 7871 §7.1.2)",
          "[pipeline][ecs]") {
  EcsFixture f;
  QuerySpec q;
  q.options.push_back(ecs_option({0, 1, 0, 0}));
  auto m = f.ask(q, "198.18.7.10");
  CHECK(last_octet(m) == 80);  // the zone's default answer
  REQUIRE(f.subnets_seen == std::vector<std::string>{""});
  REQUIRE(ecs_of(*m));
  CHECK(ecs_of(*m)->scope_prefix == 0);
  // Clients without a subnet share that default answer (scoped cache,
  // family 0); clients with one do not get it.
  CHECK(last_octet(f.ask(q, "198.18.9.10")) == 80);
  CHECK(f.subnets_seen.size() == 1);
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.9.10")) == 9);
}

TEST_CASE("pipeline ECS: a malformed client option gets FORMERR", "[pipeline][ecs]") {
  EcsFixture f;
  for (auto data : {std::vector<uint8_t>{0, 1, 24, 0, 203, 0}, std::vector<uint8_t>{0, 1, 24, 8, 203, 0, 113},
                    std::vector<uint8_t>{0, 9, 24, 0, 203, 0, 113}, std::vector<uint8_t>{0, 1}}) {
    QuerySpec q;
    q.options.push_back(ecs_option(data));
    auto m = f.ask(q, "198.18.7.10");
    REQUIRE(m);
    CHECK(m->rcode() == Rcode::FORMERR);
  }
  CHECK(f.defence_stats.ecs_formerr.load() == 4);
  CHECK(f.subnets_seen.empty());
}

TEST_CASE("pipeline ECS: error answers echo the client's option too, with scope 0", "[pipeline][ecs]") {
  EcsFixture f;
  QuerySpec q;
  q.type = RRType::AXFR;
  q.options.push_back(ecs_option({0, 1, 24, 0, 203, 0, 113}));
  auto m = f.ask(q, "192.0.2.1");
  REQUIRE(m);
  CHECK(m->rcode() == Rcode::REFUSED);
  auto echo = ecs_of(*m);
  REQUIRE(echo);
  CHECK(echo->address[2] == 113);
  CHECK(echo->scope_prefix == 0);
}

TEST_CASE("pipeline ECS: zones not listed are cached for everyone", "[pipeline][ecs]") {
  EcsFixture f;
  QuerySpec q;
  q.name = "www.example.net.";
  REQUIRE(f.ask(q, "198.18.7.10"));
  const size_t sent = f.network.sent().size();
  auto m = f.ask(q, "10.9.9.9");
  REQUIRE(m);
  CHECK(m->rcode() == Rcode::NOERROR);
  CHECK(f.network.sent().size() == sent);  // a shared cache hit
  for (const auto& s : f.network.sent()) {
    for (const auto& o : s.options) CHECK(o.code != static_cast<uint16_t>(wire::EdnsOptionCode::ClientSubnet));
  }
}

TEST_CASE("pipeline ECS: off, a client's option is neither used nor echoed", "[pipeline][ecs]") {
  EcsFixture f;
  f.settings.ecs.enabled = false;
  f.walker_options.ecs.zones.clear();
  QuerySpec q;
  q.options.push_back(ecs_option({0, 1, 24, 8, 203, 0, 113}));  // even a malformed one
  auto m = f.ask(q, "192.0.2.1");
  CHECK(last_octet(m) == 80);
  CHECK_FALSE(ecs_of(*m));
}

namespace {

std::shared_ptr<const policy::Policy> policy_from(const std::string& yaml) {
  Config config = load_config_text(yaml, "test.yaml");
  policy::BuildContext ctx;
  policy::BuildReport report;
  auto p = policy::build_policy(config.policy, ctx, report);
  REQUIRE(report.errors.empty());
  return p;
}

// The last octet of the last AAAA of an answer (DNS64 embeds the IPv4
// address in the low 32 bits).
int last_aaaa_octet(const std::optional<wire::Message>& m) {
  REQUIRE(m);
  REQUIRE(m->rcode() == Rcode::NOERROR);
  for (auto it = m->answer.rbegin(); it != m->answer.rend(); ++it)
    if (it->type == RRType::AAAA) return it->rdata.back();
  FAIL("no AAAA in the answer");
  return -1;
}

}  // namespace

TEST_CASE("pipeline ECS: a local-data CNAME's target is resolved with the client's subnet", "[pipeline][ecs]") {
  EcsFixture f;
  f.p().set_policy(policy_from("policy:\n  local-data: [\"shop.corp. 60 CNAME www.example.com.\"]\n"));
  QuerySpec q;
  q.name = "shop.corp.";
  CHECK(last_octet(f.ask(q, "198.18.7.10")) == 7);
  CHECK(last_octet(f.ask(q, "198.18.9.10")) == 9);
  CHECK(f.subnets_seen == std::vector<std::string>{"198.18.7/24", "198.18.9/24"});
  // A trusted client's own option goes with the chase too, echoed with the scope.
  QuerySpec trusted = q;
  trusted.options.push_back(ecs_option({0, 1, 24, 0, 203, 0, 42}));
  auto m = f.ask(trusted, "192.0.2.1");
  CHECK(last_octet(m) == 42);
  REQUIRE(ecs_of(*m));
  CHECK(ecs_of(*m)->scope_prefix == 24);
  // The scoped answer stayed out of the shared caches: a plain question
  // for the target from a third subnet is asked upstream with its subnet.
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.11.10")) == 11);
}

TEST_CASE("pipeline ECS: DNS64's A question carries the client's subnet; the synthesis is stored by scope",
          "[pipeline][ecs]") {
  EcsFixture f;
  f.p().set_policy(policy_from("policy:\n  dns64: {prefix: 64:ff9b::/96}\n"));
  QuerySpec q;
  q.name = "a.b.c.d.e.f.g.example.com.";  // an A, no AAAA
  q.type = RRType::AAAA;
  // (Not /7: the zone's own A, the answer for clients without a subnet, is 192.0.2.7.)
  CHECK(last_aaaa_octet(f.ask(q, "198.18.5.10")) == 5);
  CHECK(last_aaaa_octet(f.ask(q, "198.18.9.10")) == 9);
  auto seen = [&f](const char* subnet) { return std::count(f.subnets_seen.begin(), f.subnets_seen.end(), subnet); };
  CHECK(seen("198.18.5/24") >= 1);
  CHECK(seen("198.18.9/24") >= 1);
  // The second client of a subnet: from the scoped cache, nothing asked.
  const size_t asked = f.subnets_seen.size();
  CHECK(last_aaaa_octet(f.ask(q, "198.18.5.99")) == 5);
  CHECK(f.subnets_seen.size() == asked);
  CHECK(f.defence_stats.ecs_scoped_hits.load() == 1);
}

namespace {

std::optional<uint16_t> ede_of(const wire::Message& m) {
  if (!m.edns) return std::nullopt;
  const wire::EdnsOption* o = m.edns->find(wire::EdnsOptionCode::ExtendedError);
  if (!o || o->data.size() < 2) return std::nullopt;
  return static_cast<uint16_t>(o->data[0] << 8 | o->data[1]);
}

void silence_example_com(EcsFixture& f) {
  ScriptedReply silent;
  silent.behaviour = Behaviour::silent;
  for (auto server : {net::example_com_1, net::example_com_2})
    f.network.on(server, "www.example.com.", RRType::A, silent);
}

}  // namespace

TEST_CASE("pipeline ECS: a scoped answer is served stale when its refresh fails (RFC 8767)", "[pipeline][ecs]") {
  EcsFixture f;
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.7.10")) == 7);
  f.loop.run_for(std::chrono::seconds(310));  // www's TTL is 300
  silence_example_com(f);
  auto m = f.ask(QuerySpec{}, "198.18.7.20");
  CHECK(last_octet(m) == 7);
  CHECK(ede_of(*m) == static_cast<uint16_t>(wire::EdeCode::StaleAnswer));
  CHECK(m->answer.back().ttl == 30);  // stale_answer_ttl
  CHECK(f.stats.stale_served.load() == 1);
  // Another subnet has no stale answer of its own: SERVFAIL, not 7's.
  auto other = f.ask(QuerySpec{}, "198.18.9.10");
  REQUIRE(other);
  CHECK(other->rcode() == Rcode::SERVFAIL);
}

TEST_CASE("pipeline ECS: a scoped answer is prefetched with its subnet and keeps serving it", "[pipeline][ecs]") {
  EcsFixture f;
  f.scope = 16;
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.7.10")) == 7);
  const size_t asked = f.subnets_seen.size();
  f.loop.run_for(std::chrono::seconds(285));  // in the last 10 % of 300 s
  // A client of another /24 of the /16 triggers the prefetch: it goes with
  // the entry's subnet (the /16), so its answer serves the whole /16.
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.200.10")) == 7);
  f.loop.run_for(std::chrono::seconds(1));
  REQUIRE(f.subnets_seen.size() == asked + 1);
  CHECK(f.subnets_seen.back() == "198.18.0/16");
  CHECK(f.stats.prefetches.load() == 1);
  f.loop.run_for(std::chrono::seconds(100));  // the old entry would have expired
  const size_t sent = f.network.sent().size();
  auto m = f.ask(QuerySpec{}, "198.18.3.10");
  CHECK(last_octet(m) == 0);  // the /16's refreshed answer (the hook answers with the third octet sent)
  CHECK(f.network.sent().size() == sent);
  CHECK(m->answer.back().ttl > 150);  // renewed at 286 s: about 200 left
}

TEST_CASE("pipeline ECS: a shared answer of an ECS zone is prefetched with the client's subnet", "[pipeline][ecs]") {
  EcsFixture f;
  f.scope = 0;  // the server says the answer holds for everyone
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.7.10")) == 7);
  CHECK(f.cache.stats().answers.entries == 1);
  f.loop.run_for(std::chrono::seconds(285));
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.9.10")) == 7);
  f.loop.run_for(std::chrono::seconds(1));
  CHECK(f.stats.prefetches.load() == 1);
  // Without the subnet the zone would give its default answer, which must
  // not be cached for subnet clients: the shared entry would not be renewed.
  CHECK(f.subnets_seen.back() == "198.18.9/24");
  f.loop.run_for(std::chrono::seconds(100));
  const size_t sent = f.network.sent().size();
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.11.10")) == 9);  // the refreshed shared answer
  CHECK(f.network.sent().size() == sent);
}

TEST_CASE("pipeline ECS: an RPZ response-IP rewrite of a scoped answer is stored by scope", "[pipeline][ecs]") {
  EcsFixture f;
  char dir_template[] = "/tmp/sextant-ecs-rpz-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string zone = dir + "/ip.rpz";
  std::ofstream(zone) << "$ORIGIN rpz.test.\n@ 300 SOA ns h 1 1 1 1 1\n32.7.113.0.203.rpz-ip CNAME .\n";
  f.p().set_policy(policy_from("policy:\n  rpz: [{file: " + zone + "}]\n"));
  // The /7 subnet's answer (203.0.113.7) is blocked: NXDOMAIN for that
  // subnet only; another subnet's answer stands.
  auto blocked = f.ask(QuerySpec{}, "198.18.7.10");
  REQUIRE(blocked);
  CHECK(blocked->rcode() == Rcode::NXDOMAIN);
  CHECK(last_octet(f.ask(QuerySpec{}, "198.18.9.10")) == 9);
  auto again = f.ask(QuerySpec{}, "198.18.7.20");
  REQUIRE(again);
  CHECK(again->rcode() == Rcode::NXDOMAIN);
  std::remove(zone.c_str());
  rmdir(dir.c_str());
}
