// The record set of a transferred RPZ zone: IXFR differences applied all or
// nothing, the zone rebuilt from it, the zonefile cache's text read back.
#include <catch2/catch.hpp>

#include <string>

#include "resolver/policy/lookup_name.h"
#include "resolver/policy/rpz_records.h"
#include "wire/errors.h"
#include "wire/zone_reader.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

wire::Name N(const char* t) { return wire::Name::from_text(t); }

wire::ResourceRecord rr(const std::string& text) {
  wire::ZoneReaderOptions o;
  o.origin = N("rpz.test.");
  o.default_ttl = 300;
  return wire::read_zone_text(text, "test", o).at(0);
}

wire::ResourceRecord soa(uint32_t serial) {
  return rr("@ SOA ns admin " + std::to_string(serial) + " 3600 600 86400 60");
}

bool blocks(const RpzZone& z, const char* name) {
  RpzHit hit;
  LookupName l(N(name));
  return z.match_qname(l, hit);
}

RpzRecordSet sample() {
  RpzRecordSet set(N("rpz.test."));
  set.add(soa(1));
  set.add(rr("a.example CNAME ."));
  set.add(rr("b.example CNAME ."));
  return set;
}

}  // namespace

TEST_CASE("a record set builds the zone it holds; one SOA at a time") {
  RpzRecordSet set = sample();
  CHECK(set.size() == 3);
  CHECK(set.serial() == 1u);
  set.add(soa(2));
  CHECK(set.size() == 3);
  CHECK(set.serial() == 2u);
  CHECK_FALSE(set.remove(soa(2)));  // the SOA is replaced, never removed
  auto zone = set.build(RpzOptions{}, "test");
  CHECK(zone->serial() == 2u);
  CHECK(blocks(*zone, "a.example"));
  CHECK(blocks(*zone, "b.example"));
  CHECK_FALSE(blocks(*zone, "c.example"));
}

TEST_CASE("IXFR differences apply in order, or not at all") {
  RpzRecordSet set = sample();
  SECTION("two sequences") {
    RpzTransfer t(N("rpz.test."));
    t.diff_begin(1);
    t.diff_delete(rr("a.example CNAME ."));
    t.diff_additions(2, soa(2));
    t.diff_add(rr("c.example CNAME ."));
    t.diff_begin(2);
    t.diff_additions(3, soa(3));
    t.diff_add(rr("d.example CNAME ."));
    std::string error;
    REQUIRE(t.apply_to(set, error));
    CHECK(t.changes() == 3);
    CHECK(set.serial() == 3u);
    auto zone = set.build(RpzOptions{}, "test");
    CHECK_FALSE(blocks(*zone, "a.example"));
    CHECK(blocks(*zone, "c.example"));
    CHECK(blocks(*zone, "d.example"));
  }
  SECTION("a deletion of a record we do not hold: nothing changes") {
    RpzTransfer t(N("rpz.test."));
    t.diff_begin(1);
    t.diff_delete(rr("a.example CNAME ."));
    t.diff_additions(2, soa(2));
    t.diff_add(rr("c.example CNAME ."));
    t.diff_begin(2);
    t.diff_delete(rr("zz.example CNAME ."));
    t.diff_additions(3, soa(3));
    std::string error;
    CHECK_FALSE(t.apply_to(set, error));
    CHECK(error.find("zz.example.rpz.test.") != std::string::npos);
    CHECK(set.serial() == 1u);
    CHECK(set.size() == 3);
    auto zone = set.build(RpzOptions{}, "test");
    CHECK(blocks(*zone, "a.example"));
    CHECK_FALSE(blocks(*zone, "c.example"));
  }
  SECTION("differences from another serial") {
    RpzTransfer t(N("rpz.test."));
    t.diff_begin(7);
    t.diff_additions(8, soa(8));
    std::string error;
    CHECK_FALSE(t.apply_to(set, error));
    CHECK(set.serial() == 1u);
  }
}

TEST_CASE("a set the policy loader refuses throws, naming the record") {
  RpzRecordSet set = sample();
  set.add(rr("a.example A 10.0.0.1"));  // beside "CNAME ."
  CHECK_THROWS_WITH(set.build(RpzOptions{}, "test"), Catch::Contains("a.example.rpz.test."));
  RpzRecordSet empty(N("rpz.test."));
  CHECK_THROWS_AS(empty.build(RpzOptions{}, "test"), wire::TextError);
}

TEST_CASE("the zonefile cache's text reads back to the same zone") {
  RpzRecordSet set = sample();
  set.add(rr("local.example A 192.0.2.1"));
  std::string text = "$ORIGIN rpz.test.\n" + set.to_text();
  CHECK(text.find("SOA") < text.find("CNAME"));
  auto zone = load_rpz_text(text, "cache", N("rpz.test."), RpzOptions{});
  CHECK(zone->serial() == 1u);
  CHECK(blocks(*zone, "a.example"));
  CHECK(blocks(*zone, "local.example"));
  CHECK(zone->records() == 4);
}

TEST_CASE("IXFR differences edit a copy of the zone in place") {
  RpzRecordSet set = sample();
  set.add(rr("local.example A 192.0.2.1"));
  set.add(rr("local.example A 192.0.2.2"));
  set.add(rr("*.wild.example CNAME *."));
  auto base = set.build(RpzOptions{}, "base");
  RpzTransfer t(N("rpz.test."));
  t.diff_begin(1);
  t.diff_delete(rr("a.example CNAME ."));            // a trigger goes
  t.diff_delete(rr("local.example A 192.0.2.1"));    // one of two records
  t.diff_delete(rr("*.wild.example CNAME *."));       // a wildcard goes
  t.diff_additions(2, soa(2));
  t.diff_add(rr("c.example CNAME ."));               // a new trigger
  t.diff_begin(2);
  t.diff_additions(3, soa(3));
  t.diff_add(rr("a.example A 10.0.0.1"));            // the removed trigger back, as local data
  std::string error;
  REQUIRE(t.apply_to(set, error));
  auto edited = t.edit(*base, "edited");
  REQUIRE(edited);
  auto rebuilt = set.build(RpzOptions{}, "rebuilt");
  CHECK(edited->serial() == 3u);
  CHECK(edited->qname_triggers() == rebuilt->qname_triggers());
  CHECK(edited->records() == rebuilt->records());
  for (const char* name : {"a.example", "b.example", "c.example", "local.example", "x.wild.example", "d.example"}) {
    CAPTURE(name);
    RpzHit h1, h2;
    LookupName l(N(name));
    bool m1 = edited->match_qname(l, h1), m2 = rebuilt->match_qname(l, h2);
    CHECK(m1 == m2);
    if (m1 && m2) CHECK(h1.action == h2.action);
  }
  RpzHit hit;
  LookupName l(N("local.example"));
  REQUIRE(edited->match_qname(l, hit));
  PolicyAnswer out;
  edited->apply(hit, l, wire::RRType::A, out);
  REQUIRE(out.answer_count == 1);
  CHECK(base->qname_triggers() == 4);  // the base is untouched
  RpzHit base_hit;
  LookupName la(N("a.example"));
  CHECK(base->match_qname(la, base_hit));
  CHECK(base_hit.action == RpzAction::nxdomain);
}

TEST_CASE("an IXFR that cannot be applied in place asks for a rebuild") {
  RpzRecordSet set = sample();
  set.add(rr("32.1.2.0.192.rpz-ip CNAME ."));
  auto base = set.build(RpzOptions{}, "base");
  RpzTransfer t(N("rpz.test."));
  t.diff_begin(1);
  t.diff_delete(rr("32.1.2.0.192.rpz-ip CNAME ."));  // IP triggers are not removed in place
  t.diff_additions(2, soa(2));
  CHECK(t.edit(*base, "edited") == nullptr);
  RpzTransfer bad(N("rpz.test."));
  bad.diff_begin(1);
  bad.diff_additions(2, soa(2));
  bad.diff_add(rr("b.example A 10.0.0.1"));  // beside "CNAME .": refused, as a full build would
  CHECK_THROWS_WITH(bad.edit(*base, "edited"), Catch::Contains("b.example.rpz.test."));
}

TEST_CASE("the QNAME triggers an IXFR touched plan the cache flush; IP triggers do not") {
  RpzTransfer t(N("rpz.test."));
  t.diff_begin(1);
  t.diff_delete(rr("a.example CNAME ."));
  t.diff_additions(2, soa(2));
  t.diff_add(rr("*.wild.example CNAME *."));
  auto changed = t.changed_triggers();
  REQUIRE(changed);
  CHECK(changed->size() == 2);
  CHECK(changed->find(N("a.example.")) != NameTable::kNotFound);
  CHECK(changed->find(N("wild.example.")) != NameTable::kNotFound);  // the wildcard's "*." removed
  RpzTransfer ip(N("rpz.test."));
  ip.diff_begin(1);
  ip.diff_additions(2, soa(2));
  ip.diff_add(rr("32.1.2.0.192.rpz-ip CNAME ."));
  CHECK(ip.changed_triggers() == nullptr);
}
