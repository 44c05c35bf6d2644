// The daemon's running policy: load, reload with the previous copy as a
// fallback, the feed's zone replacement, swaps, flushes and the snapshot.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "cache/cache.h"
#include "resolver/config/config.h"
#include "resolver/daemon/policy_runtime.h"

using namespace sextant;
using namespace sextant::resolver;

namespace {

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/sextant-runtime-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { std::system(("rm -rf " + path).c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

PolicyConfig policy_of(const std::string& yaml) { return load_config_text(yaml, "rt.yaml").policy; }

std::vector<uint8_t> answer_packet(const char* name) {
  // header (QR, RD, RA), one question, one A record with a compressed owner
  std::vector<uint8_t> p = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
  auto n = wire::Name::from_text(name);
  p.insert(p.end(), n.wire().begin(), n.wire().end());
  p.insert(p.end(), {0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 1});
  return p;
}

}  // namespace

TEST_CASE("policy runtime: reload swaps, flushes what changed, keeps a broken zone's copy", "[policy][runtime]") {
  Dir dir;
  std::string list = dir.write("b.list", "a.example\n");
  std::string zone = dir.write("z.rpz", "$ORIGIN rpz.t.\n@ 300 SOA ns h 1 1 1 1 1\nx.example CNAME .\n");
  std::string yaml = fmt::format("policy:\n  blocklists: [{{name: b, file: {}}}]\n  rpz: [{{file: {}}}]\n", list, zone);
  cache::Cache cache;
  PolicyRuntime rt(2, cache);
  auto report = rt.load(policy_of(yaml));
  CHECK(report.errors.empty());
  auto first = rt.current();
  uint16_t tag = first->views().back().cache_tag;
  REQUIRE(tag != 0);

  // Two answers cached in the view: one naming a name the list will gain.
  for (const char* n : {"b.example.", "keep.example."}) {
    cache::AnswerKey k;
    k.qname = wire::Name::from_text(n);
    k.view = tag;
    REQUIRE(cache.answers().insert(k, answer_packet(n), 300, cache::DnssecStatus::insecure, 1000) ==
            cache::AnswerCache::Result::stored);
  }
  std::shared_ptr<const policy::Policy> switched_to;
  auto sw = [&](const std::shared_ptr<const policy::Policy>& p) {
    switched_to = p;
    return true;
  };
  dir.write("b.list", "a.example\nb.example\n");
  dir.write("z.rpz", "$ORIGIN rpz.t.\n@ 300 SOA ns h 2 1 1 1 1\nbroken A 1.2\n");
  std::string out = rt.reload(policy_of(yaml), sw);
  CHECK(out.find("z.rpz:3:") != std::string::npos);
  CHECK(out.find("previous copy stays") != std::string::npos);
  CHECK(out.find("1 cached answers flushed") != std::string::npos);
  REQUIRE(switched_to);
  CHECK(rt.current() == switched_to);
  CHECK(switched_to != first);
  CHECK(switched_to->views().back().rpz[0] == first->views().back().rpz[0]);
  CHECK(cache.answers().store().entries() == 1);  // keep.example. stays

  auto snap = rt.snapshot();
  CHECK(snap.swaps == 1);
  CHECK(snap.flushed_answers == 1);
  REQUIRE(snap.zones.size() == 1);
  CHECK(snap.zones[0].serial == 1u);  // the old copy's
  CHECK(snap.components.size() == 2);

  // The feed replaces the zone by name.
  policy::RpzOptions o;
  policy::RpzZoneBuilder b(wire::Name::from_text("rpz.t."), o, "transfer");
  b.add(wire::ResourceRecord{wire::Name::from_text("rpz.t."), wire::RRType::SOA, wire::RRClass::IN, 300,
                             [] {
                               wire::Rdata r = {0, 0};
                               for (int i = 0; i < 5; ++i) r.insert(r.end(), {0, 0, 0, static_cast<uint8_t>(i == 0 ? 9 : 1)});
                               return r;
                             }()});
  std::string feed_report;
  CHECK(rt.replace_rpz_zone("rpz.t.", b.finish(), sw, &feed_report));
  CHECK(rt.snapshot().zones[0].serial == 9u);
  CHECK(feed_report.find("replaced") != std::string::npos);
  CHECK_FALSE(rt.replace_rpz_zone("no-such-zone", nullptr, sw));
}

TEST_CASE("policy runtime: a start-up failure is an error naming the place", "[policy][runtime]") {
  cache::Cache cache;
  PolicyRuntime rt(1, cache);
  CHECK_THROWS_AS(rt.load(policy_of("policy:\n  rpz: [{file: /nonexistent.rpz}]\n")), policy::PolicyError);
  CHECK_FALSE(rt.current()->active());
}

TEST_CASE("policy runtime: a reload's flush reaches the ECS-scoped answers", "[policy][runtime][ecs]") {
  Dir dir;
  std::string list = dir.write("b.list", "a.example\n");
  std::string yaml = fmt::format("policy:\n  blocklists: [{{name: b, file: {}}}]\n", list);
  cache::CacheConfig config;
  config.scoped_answer_max_bytes = 1 << 20;
  cache::Cache cache(config);
  PolicyRuntime rt(1, cache);
  REQUIRE(rt.load(policy_of(yaml)).errors.empty());
  uint16_t tag = rt.current()->views().back().cache_tag;
  REQUIRE(tag != 0);
  cache::SubnetKey subnet;
  subnet.family = 1;
  subnet.bits = 24;
  subnet.address = {198, 18, 7};
  for (const char* n : {"b.example.", "keep.example."}) {
    cache::AnswerKey k;
    k.qname = wire::Name::from_text(n);
    k.view = tag;
    REQUIRE(cache.scoped_answers().insert(k, subnet, 24, answer_packet(n), 300, cache::DnssecStatus::insecure,
                                          1000) == cache::AnswerCache::Result::stored);
  }
  dir.write("b.list", "a.example\nb.example\n");
  std::string out = rt.reload(policy_of(yaml), [](const std::shared_ptr<const policy::Policy>&) { return true; });
  CHECK(out.find("1 cached answers flushed") != std::string::npos);
  CHECK(cache.scoped_answers().store().entries() == 1);  // keep.example. stays
}
