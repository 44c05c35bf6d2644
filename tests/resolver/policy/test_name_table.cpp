// The name table and the prepared lookup name behind every policy list.
#include <catch2/catch.hpp>

#include <string>

#include "resolver/policy/address_match.h"
#include "resolver/policy/lookup_name.h"
#include "resolver/policy/name_table.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {
wire::Name N(const char* t) { return wire::Name::from_text(t); }
}  // namespace

TEST_CASE("lookup name: suffixes and their hashes match the stored names' hashes", "[policy][names]") {
  LookupName l(N("WWW.Example.COM."));
  REQUIRE(l.labels() == 3);
  CHECK(wire::Name::from_wire(l.suffix(1)) == N("example.com."));
  CHECK(l.suffix(3).size() == 1);  // the root
  for (size_t i = 0; i <= 3; ++i) CHECK(l.suffix_hash(i) == name_hash(l.suffix(i)));
  // "*." + suffix hashes like the wildcard name itself.
  LookupName w(N("*.example.com."));
  CHECK(l.wildcard_hash(1) == w.suffix_hash(0));
  // Case does not matter.
  CHECK(LookupName(N("www.example.com.")).suffix_hash(0) == l.suffix_hash(0));
}

TEST_CASE("name table: insert, find, suffixes, wildcards, growth", "[policy][names]") {
  NameTable t;
  CHECK(t.find(N("example.com.")) == NameTable::kNotFound);
  auto r = t.insert(N("Example.COM."), 7);
  CHECK(r.inserted);
  CHECK_FALSE(t.insert(N("example.com."), 9).inserted);  // the first value stays
  CHECK(t.find(N("EXAMPLE.com.")) == 7);
  t.set_value(r.position, 8);
  CHECK(t.find(N("example.com.")) == 8);
  t.insert(N("*.wild.test."), 3);

  LookupName q(N("a.b.example.com."));
  CHECK(t.find_suffix(q, 0) == NameTable::kNotFound);
  CHECK(t.find_suffix(q, 2) == 8);
  LookupName w(N("x.wild.test."));
  CHECK(t.find_wildcard(w, 1) == 3);
  CHECK(t.find_suffix(w, 1) == NameTable::kNotFound);

  // Thousands of names: every one found, none invented.
  NameTable big;
  for (int i = 0; i < 20000; ++i) big.insert(N(("n" + std::to_string(i) + ".big.test.").c_str()), static_cast<uint32_t>(i));
  CHECK(big.size() == 20000);
  for (int i = 0; i < 20000; i += 997) CHECK(big.find(N(("n" + std::to_string(i) + ".big.test.").c_str())) == static_cast<uint32_t>(i));
  CHECK(big.find(N("n20000.big.test.")) == NameTable::kNotFound);
  CHECK(big.find(N("big.test.")) == NameTable::kNotFound);
  size_t seen = 0;
  big.for_each([&](std::span<const uint8_t>, uint32_t) { ++seen; });
  CHECK(seen == 20000);
  CHECK(big.memory_bytes() > 0);
}

TEST_CASE("prefix table: longest match over IPv4 and IPv6", "[policy][addresses]") {
  PrefixTable t;
  CHECK(t.insert(*AddressPrefix::parse("10.0.0.0/8"), 1));
  CHECK(t.insert(*AddressPrefix::parse("10.1.0.0/16"), 2));
  CHECK_FALSE(t.insert(*AddressPrefix::parse("10.1.2.3/16"), 5));  // same prefix once host bits are cleared
  CHECK(t.insert(*AddressPrefix::parse("2001:db8::/32"), 3));
  uint8_t a[4] = {10, 1, 9, 9};
  AddressPrefix m;
  CHECK(t.longest_match(Address::v4(a), &m) == 2);
  CHECK(m.to_text() == "10.1.0.0/16");
  uint8_t b[4] = {10, 2, 0, 1};
  CHECK(t.longest_match(Address::v4(b)) == 1);
  uint8_t c[4] = {11, 0, 0, 1};
  CHECK(t.longest_match(Address::v4(c)) == PrefixTable::kNotFound);
  auto v6 = AddressPrefix::parse("2001:db8::1");
  CHECK(t.longest_match(Address::v6(v6->bytes)) == 3);
  CHECK(t.find_exact(*AddressPrefix::parse("10.1.0.0/16")) == 2);
  CHECK(t.find_exact(*AddressPrefix::parse("10.1.0.0/24")) == PrefixTable::kNotFound);
  // An IPv4-mapped IPv6 address is matched as IPv4.
  auto mapped = AddressPrefix::parse("::ffff:10.1.0.1");
  CHECK(t.longest_match(Address::v6(mapped->bytes)) == 2);
  CHECK_FALSE(AddressPrefix::parse("10.0.0.0/33"));
  CHECK_FALSE(AddressPrefix::parse("nonsense"));
}
