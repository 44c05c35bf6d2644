// The ECS-scoped answer store (scoped_answer_cache.h): entries keyed by the
// scope the server returned, longest match first, subnet-less clients
// apart, bounded in bytes.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cache/cache.h"
#include "wire/message.h"

using namespace sextant;
using namespace sextant::cache;

namespace {

std::vector<uint8_t> answer(const std::string& name, uint8_t last) {
  wire::Message m;
  m.header.id = 1;
  m.header.set_qr(true);
  m.questions.push_back({wire::Name::from_text(name), wire::RRType::A, wire::RRClass::IN});
  wire::ResourceRecord r;
  r.owner = wire::Name::from_text(name);
  r.type = wire::RRType::A;
  r.rclass = wire::RRClass::IN;
  r.ttl = 300;
  r.rdata = {203, 0, 113, last};
  m.answer.push_back(r);
  std::vector<uint8_t> out;
  REQUIRE(wire::build_message(m, out) == wire::WireError::ok);
  return out;
}

SubnetKey v4(uint8_t a, uint8_t b, uint8_t c, uint8_t bits = 24) {
  SubnetKey k;
  k.family = 1;
  k.bits = bits;
  k.address = {a, b, c, 0};
  return k;
}

struct Fixture {
  CacheConfig config;
  std::unique_ptr<ScopedAnswerCache> store;
  std::array<uint8_t, 4096> out{};
  explicit Fixture(size_t bytes = 1 << 20) {
    config.shards = 1;
    store = std::make_unique<ScopedAnswerCache>(config, bytes);
  }
  AnswerKey key(const std::string& name = "www.example.com.") {
    return AnswerKey{wire::Name::from_text(name), wire::RRType::A, wire::RRClass::IN, false, false, 0};
  }
  // The last octet of the A record served to `subnet`, or -1 on a miss.
  int served(const SubnetKey& subnet, uint8_t* scope_out = nullptr, const std::string& name = "www.example.com.") {
    size_t len = 0;
    AnswerHit hit;
    uint8_t scope = 0xff;
    if (!store->lookup(key(name), subnet, 7, wire::Name::from_text(name), 1000, out, len, hit, scope)) return -1;
    if (scope_out) *scope_out = scope;
    wire::Message m;
    REQUIRE(wire::Message::parse({out.data(), len}, m) == wire::WireError::ok);
    CHECK(m.header.id == 7);
    REQUIRE(m.answer.size() == 1);
    return m.answer[0].rdata.back();
  }
  AnswerCache::Result put(const SubnetKey& subnet, uint8_t scope, uint8_t last,
                          const std::string& name = "www.example.com.") {
    return store->insert(key(name), subnet, scope, answer(name, last), 300, DnssecStatus::indeterminate, 1000);
  }
};

}  // namespace

TEST_CASE("scoped cache: an answer scoped /24 serves that /24 only", "[cache][ecs]") {
  Fixture f;
  REQUIRE(f.put(v4(198, 18, 7), 24, 7) == AnswerCache::Result::stored);
  uint8_t scope = 0;
  CHECK(f.served(v4(198, 18, 7), &scope) == 7);
  CHECK(scope == 24);
  CHECK(f.served(v4(198, 18, 8)) == -1);
  CHECK(f.served(v4(10, 18, 7)) == -1);
}

TEST_CASE("scoped cache: an answer scoped /16 serves every /24 of the /16", "[cache][ecs]") {
  Fixture f;
  REQUIRE(f.put(v4(198, 18, 7), 16, 16) == AnswerCache::Result::stored);
  uint8_t scope = 0;
  CHECK(f.served(v4(198, 18, 200), &scope) == 16);
  CHECK(scope == 16);
  CHECK(f.served(v4(198, 19, 7)) == -1);
}

TEST_CASE("scoped cache: the longest scope that covers the client wins", "[cache][ecs]") {
  Fixture f;
  REQUIRE(f.put(v4(198, 18, 7), 16, 16) == AnswerCache::Result::stored);
  REQUIRE(f.put(v4(198, 18, 9), 24, 9) == AnswerCache::Result::stored);
  CHECK(f.served(v4(198, 18, 9)) == 9);
  CHECK(f.served(v4(198, 18, 10)) == 16);
}

TEST_CASE("scoped cache: the scope is capped at the client's source prefix", "[cache][ecs]") {
  Fixture f;
  REQUIRE(f.put(v4(198, 18, 7), 32, 7) == AnswerCache::Result::stored);  // stored as /24
  uint8_t scope = 0;
  CHECK(f.served(v4(198, 18, 7), &scope) == 7);
  CHECK(scope == 24);
  // A client that sent only /16 is not served a /24 answer.
  CHECK(f.served(v4(198, 18, 7, 16)) == -1);
}

TEST_CASE("scoped cache: scope 0 belongs to the shared cache", "[cache][ecs]") {
  Fixture f;
  CHECK(f.put(v4(198, 18, 7), 0, 7) == AnswerCache::Result::rejected);
  CHECK(f.served(v4(198, 18, 7)) == -1);
}

TEST_CASE("scoped cache: clients without a subnet have their own default answer", "[cache][ecs]") {
  Fixture f;
  REQUIRE(f.put(SubnetKey{}, 0, 254) == AnswerCache::Result::stored);
  CHECK(f.served(SubnetKey{}) == 254);
  CHECK(f.served(v4(198, 18, 7)) == -1);
  REQUIRE(f.put(v4(198, 18, 7), 24, 7) == AnswerCache::Result::stored);
  CHECK(f.served(SubnetKey{}) == 254);
}

TEST_CASE("scoped cache: IPv6 scopes, and families kept apart", "[cache][ecs]") {
  Fixture f;
  SubnetKey a;
  a.family = 2;
  a.bits = 56;
  a.address = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 2};
  REQUIRE(f.put(a, 48, 48) == AnswerCache::Result::stored);
  SubnetKey b = a;
  b.address[6] = 99;  // another /56 of the same /48
  CHECK(f.served(b) == 48);
  b.address[5] = 2;  // another /48
  CHECK(f.served(b) == -1);
  CHECK(f.served(v4(0x20, 0x01, 0x0d)) == -1);
}

TEST_CASE("scoped cache: bounded in bytes", "[cache][ecs]") {
  Fixture f(64 * 1024);
  for (int i = 0; i < 2000; ++i)
    f.put(v4(10, static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i % 256)), 24, 1);
  CHECK(f.store->store().bytes() <= 64 * 1024);
  CHECK(f.store->store().entries() > 10);
  CHECK(f.store->store().entries() < 2000);
}

TEST_CASE("scoped cache: part of the Cache (flush, stats)", "[cache][ecs]") {
  CacheConfig config;
  config.scoped_answer_max_bytes = 1 << 20;
  Cache cache(config);
  AnswerKey key{wire::Name::from_text("www.example.com."), wire::RRType::A, wire::RRClass::IN, false, false, 0};
  REQUIRE(cache.scoped_answers().insert(key, v4(198, 18, 7), 24, answer("www.example.com.", 7), 300,
                                        DnssecStatus::indeterminate, 1000) == AnswerCache::Result::stored);
  CHECK(cache.stats().scoped_answers.entries == 1);
  CHECK(cache.flush_name(wire::Name::from_text("www.example.com.")) == 1);
  CHECK(cache.stats().scoped_answers.entries == 0);
}

TEST_CASE("scoped cache: a policy change's view flush reaches scoped answers", "[cache][ecs]") {
  Fixture f;
  auto tagged = [&f](const std::string& name, uint16_t view) {
    AnswerKey k = f.key(name);
    k.view = view;
    return k;
  };
  for (uint16_t view : {uint16_t{0}, uint16_t{3}, uint16_t{4}}) {
    for (const char* name : {"www.example.com.", "mail.example.org."}) {
      REQUIRE(f.store->insert(tagged(name, view), v4(198, 18, 7), 24, answer(name, 7), 300,
                              DnssecStatus::indeterminate, 1000) == AnswerCache::Result::stored);
    }
  }
  // A subnet-less client's default answer too (family 0).
  REQUIRE(f.store->insert(tagged("www.example.com.", 3), SubnetKey{}, 0, answer("www.example.com.", 80), 300,
                          DnssecStatus::indeterminate, 1000) == AnswerCache::Result::stored);
  CHECK(f.store->store().entries() == 7);
  CHECK(f.store->flush_view(3, [](const wire::Name& n) { return n.is_subdomain_of(wire::Name::from_text("example.com.")); }) == 2);
  CHECK(f.store->store().entries() == 5);
  CHECK(f.store->flush_view(4) == 2);
  CHECK(f.store->flush_view(0) == 0);  // the shared space is never a view's
  CHECK(f.store->store().entries() == 3);
  // What is left still serves its subnet.
  size_t len = 0;
  AnswerHit hit;
  uint8_t scope = 0;
  CHECK(f.store->lookup(tagged("mail.example.org.", 3), v4(198, 18, 7), 7, wire::Name::from_text("mail.example.org."),
                        1000, f.out, len, hit, scope));
  CHECK_FALSE(f.store->lookup(tagged("www.example.com.", 3), v4(198, 18, 7), 7,
                              wire::Name::from_text("www.example.com."), 1000, f.out, len, hit, scope));
  CHECK(f.served(v4(198, 18, 7)) == 7);  // view 0
}

TEST_CASE("scoped cache: the dump names the view and the flags", "[cache][ecs]") {
  Fixture f;
  AnswerKey k = f.key();
  k.view = 5;
  k.dnssec_ok = true;
  REQUIRE(f.store->insert(k, v4(198, 18, 7), 24, answer("www.example.com.", 7), 300, DnssecStatus::indeterminate,
                          1000) == AnswerCache::Result::stored);
  std::string out;
  f.store->dump(out, 1000);
  CHECK(out.find("www.example.com. IN A +do view=5") != std::string::npos);
}
