// The shared memory of validated denials (RFC 8198): closest enclosing
// zone, expiry, replacement and bounds.
#include <catch2/catch.hpp>

#include <vector>

#include "resolver/walk/denial_memory.h"

using namespace sextant;
using namespace sextant::resolver;
using wire::Name;
using wire::RRType;

namespace {

wire::RRset set_of(const char* owner, RRType type, uint32_t ttl) {
  wire::RRset s;
  s.owner = Name::from_text(owner);
  s.type = type;
  s.ttl = ttl;
  return s;
}

}  // namespace

TEST_CASE("denial memory: the closest enclosing zone, TTLs counted down, expiry", "[denials]") {
  DenialMemory memory;
  CHECK(memory.empty());
  CHECK_FALSE(memory.closest(Name::from_text("a.example."), 100));
  const auto soa = set_of("example.", RRType::SOA, 300);
  const auto nsec = set_of("a.example.", RRType::NSEC, 300);
  const auto nsec3 = set_of("abc.example.", RRType::NSEC3, 300);
  std::vector<DenialMemory::Denial> denials{{&nsec, 1000 + 200}, {&nsec3, 1000 + 50}};
  memory.remember(Name::from_text("example."), soa, 1000 + 300, denials);
  CHECK_FALSE(memory.empty());

  auto zone = memory.closest(Name::from_text("deep.below.Example."), 1000);
  REQUIRE(zone);
  CHECK(zone->soa.owner == Name::from_text("example."));
  CHECK(zone->soa.ttl == 300);
  REQUIRE(zone->nsec.size() == 1);
  CHECK(zone->nsec[0].ttl == 200);
  REQUIRE(zone->nsec3.size() == 1);
  CHECK(zone->nsec3[0].ttl == 50);

  // Another zone is not an ancestor.
  CHECK_FALSE(memory.closest(Name::from_text("www.example.net."), 1000));
  // The NSEC3 expires first, then everything with the SOA.
  zone = memory.closest(Name::from_text("x.example."), 1100);
  REQUIRE(zone);
  CHECK(zone->nsec3.empty());
  CHECK(zone->nsec.size() == 1);
  CHECK_FALSE(memory.closest(Name::from_text("x.example."), 1300));
}

TEST_CASE("denial memory: a record with the same owner and type replaces the older one; bounded",
          "[denials]") {
  DenialMemory memory;
  const auto soa = set_of("example.", RRType::SOA, 300);
  const auto first = set_of("a.example.", RRType::NSEC, 100);
  const auto again = set_of("a.example.", RRType::NSEC, 250);
  std::vector<DenialMemory::Denial> one{{&first, 100}};
  std::vector<DenialMemory::Denial> two{{&again, 250}};
  memory.remember(Name::from_text("example."), soa, 300, one);
  memory.remember(Name::from_text("example."), soa, 300, two);
  auto zone = memory.closest(Name::from_text("b.example."), 0);
  REQUIRE(zone);
  REQUIRE(zone->nsec.size() == 1);
  CHECK(zone->nsec[0].ttl == 250);

  // Past kMaxRecordsPerZone the oldest go.
  std::vector<wire::RRset> many;
  many.reserve(DenialMemory::kMaxRecordsPerZone + 10);
  for (size_t i = 0; i < DenialMemory::kMaxRecordsPerZone + 10; ++i) {
    many.push_back(set_of(("n" + std::to_string(i) + ".example.").c_str(), RRType::NSEC, 300));
  }
  std::vector<DenialMemory::Denial> denials;
  for (const auto& s : many) denials.emplace_back(&s, 300);
  memory.remember(Name::from_text("example."), soa, 300, denials);
  zone = memory.closest(Name::from_text("b.example."), 0);
  REQUIRE(zone);
  CHECK(zone->nsec.size() == DenialMemory::kMaxRecordsPerZone);
  CHECK(zone->nsec.back().owner == many.back().owner);
}

TEST_CASE("denial memory: flushing forgets zones below the name and the zone enclosing it",
          "[denials]") {
  DenialMemory memory;
  auto remember = [&](const char* zone) {
    const auto soa = set_of(zone, RRType::SOA, 300);
    const auto nsec = set_of(zone, RRType::NSEC, 300);
    std::vector<DenialMemory::Denial> denials{{&nsec, 1300}};
    memory.remember(Name::from_text(zone), soa, 1300, denials);
  };
  remember("example.");
  remember("sub.example.");
  remember("deep.sub.example.");
  remember("example.net.");

  // The enclosing zone (example.) can deny names below www.sub.example.'s
  // ancestors; so can sub.example. itself: flushing www.sub.example. drops
  // sub.example. (the closest enclosing zone) only.
  CHECK(memory.forget(Name::from_text("WWW.sub.example.")) == 1);
  auto zone = memory.closest(Name::from_text("www.sub.example."), 1000);
  REQUIRE(zone);
  CHECK(zone->soa.owner == Name::from_text("example."));
  CHECK(memory.closest(Name::from_text("x.deep.sub.example."), 1000)->soa.owner ==
        Name::from_text("deep.sub.example."));

  // A subtree: everything at or below, and the enclosing zone.
  CHECK(memory.forget(Name::from_text("sub.example.")) == 2);  // deep.sub.example. + example.
  CHECK_FALSE(memory.closest(Name::from_text("x.deep.sub.example."), 1000));
  CHECK(memory.closest(Name::from_text("www.example.net."), 1000));

  memory.clear();
  CHECK(memory.empty());
}
