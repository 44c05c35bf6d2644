#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "wire/name.h"

using sextant::wire::Name;
using sextant::wire::TextError;
using sextant::wire::WireError;

TEST_CASE("names round-trip through presentation text", "[name]") {
  CHECK(Name::from_text("www.Example.COM.").to_text() == "www.Example.COM.");
  CHECK(Name::from_text(".").to_text() == ".");
  CHECK(Name::from_text("a\\.b.c.").label_count() == 2);
  CHECK(Name::from_text("a\\.b.c.").to_text() == "a\\.b.c.");
  CHECK(Name::from_text("\\000\\255.x.").to_text() == "\\000\\255.x.");
  CHECK(Name::from_text("\\065bc.").to_text() == "Abc.");
  Name origin = Name::from_text("example.com.");
  CHECK(Name::from_text("www", &origin).to_text() == "www.example.com.");
}

TEST_CASE("name limits are enforced with clear errors", "[name]") {
  std::string label63(63, 'a');
  std::string label64(64, 'a');
  CHECK_NOTHROW(Name::from_text(label63 + "."));
  CHECK_THROWS_WITH(Name::from_text(label64 + "."), Catch::Contains("63 octets"));
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += label63 + ".";  // 4*64 + 1 = 257 > 255
  CHECK_THROWS_WITH(Name::from_text(long_name), Catch::Contains("255 octets"));
  CHECK_THROWS_AS(Name::from_text("a..b."), TextError);
  CHECK_THROWS_AS(Name::from_text(""), TextError);
  CHECK_THROWS_AS(Name::from_text("a\\25"), TextError);
  CHECK_THROWS_AS(Name::from_text("a\\256."), TextError);
}

TEST_CASE("compressed names parse, hostile pointers do not", "[name]") {
  // header (12) + "example.com." at 12, then "www" + pointer to 12 at 25.
  std::vector<uint8_t> pkt(12, 0);
  const uint8_t base[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  pkt.insert(pkt.end(), base, base + sizeof base);
  const uint8_t www[] = {3, 'w', 'w', 'w', 0xC0, 12};
  pkt.insert(pkt.end(), www, www + sizeof www);
  size_t pos = 25;
  Name n;
  REQUIRE(Name::parse(pkt, pos, n) == WireError::ok);
  CHECK(n.to_text() == "www.example.com.");
  CHECK(pos == 31);

  SECTION("a pointer to itself is a forward pointer") {
    std::vector<uint8_t> p(12, 0);
    p.push_back(0xC0);
    p.push_back(12);
    size_t at = 12;
    CHECK(Name::parse(p, at, n) == WireError::forward_pointer);
  }
  SECTION("a pointer forwards is rejected") {
    std::vector<uint8_t> p(12, 0);
    p.insert(p.end(), {0xC0, 14, 0});
    size_t at = 12;
    CHECK(Name::parse(p, at, n) == WireError::forward_pointer);
  }
  SECTION("a pointer into the header is rejected, wherever it points") {
    for (uint8_t target = 0; target < 12; ++target) {
      std::vector<uint8_t> p(12, 0);
      p.insert(p.end(), {3, 'w', 'w', 'w', 0xC0, target});
      size_t at = 12;
      INFO("pointer to " << int(target));
      CHECK(Name::parse(p, at, n) == WireError::pointer_into_header);
    }
    // ... also when reached through another pointer.
    std::vector<uint8_t> p(12, 0);
    p.insert(p.end(), {1, 'a', 0xC0, 4, 1, 'b', 0xC0, 12});
    size_t at = 16;
    CHECK(Name::parse(p, at, n) == WireError::pointer_into_header);
  }
  SECTION("truncated label") {
    std::vector<uint8_t> p = {5, 'a', 'b'};
    size_t at = 0;
    CHECK(Name::parse(p, at, n) == WireError::truncated_name);
  }
  SECTION("reserved label types") {
    std::vector<uint8_t> p = {0x41, 'a', 0};
    size_t at = 0;
    CHECK(Name::parse(p, at, n) == WireError::bad_label_type);
  }
  SECTION("labels from three places, joined through a chain of pointers") {
    std::vector<uint8_t> p = pkt;  // "example.com." at 12, "www" + pointer at 25
    const uint8_t more[] = {2, 'a', 'b', 0xC0, 25};  // "ab" + pointer to "www..." at 31
    p.insert(p.end(), more, more + sizeof more);
    size_t at = 31;
    REQUIRE(Name::parse(p, at, n) == WireError::ok);
    CHECK(n.to_text() == "ab.www.example.com.");
    CHECK(n.label_count() == 4);
    CHECK(n.wire().size() == 20);
    CHECK(at == 36);
  }
  SECTION("exactly 255 octets through pointers is accepted, 256 is not") {
    // 3 labels of 63 (192 octets) + a 61-octet label + root = 255.
    std::vector<uint8_t> p(12, 0);
    for (int i = 0; i < 3; ++i) {
      p.push_back(63);
      p.insert(p.end(), 63, 'x');
    }
    p.push_back(0);  // 12..204: a 193-octet name
    const size_t tail = p.size();
    p.push_back(61);
    p.insert(p.end(), 61, 'y');
    p.push_back(0xC0);
    p.push_back(12);
    size_t at = tail;
    REQUIRE(Name::parse(p, at, n) == WireError::ok);
    CHECK(n.wire().size() == 255);
    std::vector<uint8_t> q(12, 0);
    for (int i = 0; i < 3; ++i) {
      q.push_back(63);
      q.insert(q.end(), 63, 'x');
    }
    q.push_back(0);
    const size_t tail2 = q.size();
    q.push_back(62);
    q.insert(q.end(), 62, 'y');
    q.push_back(0xC0);
    q.push_back(12);
    at = tail2;
    CHECK(Name::parse(q, at, n) == WireError::name_too_long);
  }
  SECTION("a name longer than 255 octets built from pointers") {
    std::vector<uint8_t> p;
    // 5 labels of 63 at the start, then a pointer chain reusing them.
    for (int i = 0; i < 5; ++i) {
      p.push_back(63);
      p.insert(p.end(), 63, 'x');
    }
    p.push_back(0);
    size_t at = 0;
    CHECK(Name::parse(p, at, n) == WireError::name_too_long);
  }
}

TEST_CASE("case-insensitive equality and hashing, exact equality for 0x20", "[name]") {
  Name a = Name::from_text("WwW.ExAmple.com.");
  Name b = Name::from_text("www.example.COM.");
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  CHECK_FALSE(a.equals_exact(b));
  CHECK(a.lowercased().equals_exact(b.lowercased()));
  Name c = b;
  c.apply_case_bits(~0ull);
  CHECK(c == b);
  CHECK(c.to_text() == "WWW.EXAMPLE.com.");
}

TEST_CASE("label operations", "[name]") {
  Name n = Name::from_text("a.b.example.com.");
  CHECK(n.label_count() == 4);
  CHECK(n.label(0) == "a");
  CHECK(n.label(3) == "com");
  CHECK(n.parent().to_text() == "b.example.com.");
  CHECK(n.suffix(2).to_text() == "example.com.");
  CHECK(n.suffix(0).is_root());
  CHECK(Name().parent().is_root());
  CHECK(n.is_subdomain_of(Name::from_text("EXAMPLE.com.")));
  CHECK(n.is_subdomain_of(n));
  CHECK(n.is_subdomain_of(Name()));
  CHECK_FALSE(n.is_subdomain_of(Name::from_text("ample.com.")));
  CHECK_FALSE(Name::from_text("com.").is_subdomain_of(n));
  CHECK(n.common_suffix_labels(Name::from_text("x.example.com.")) == 2);
  CHECK(Name::from_text("*.example.com.").rrsig_label_count() == 2);
  CHECK(Name::from_text("*.example.com.").is_wildcard());
  CHECK(Name::from_text("www", nullptr).prepend("x").to_text() == "x.www.");
  Name out;
  REQUIRE(Name::from_text("a.b.old.").replace_suffix(Name::from_text("old."), Name::from_text("new.example."), out));
  CHECK(out.to_text() == "a.b.new.example.");
}

TEST_CASE("RFC 4034 section 6.1 canonical order", "[name]") {
  const char* ordered[] = {"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
                           "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.",
                           "\\200.z.example."};
  std::vector<Name> names;
  for (auto* t : ordered) names.push_back(Name::from_text(t));
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    INFO(ordered[i] << " < " << ordered[i + 1]);
    CHECK(names[i].canonical_compare(names[i + 1]) < 0);
    CHECK(names[i + 1].canonical_compare(names[i]) > 0);
    // The lookup key orders the same way.
    uint8_t ka[Name::kMaxLookupKeySize], kb[Name::kMaxLookupKeySize];
    size_t la = names[i].write_lookup_key(ka), lb = names[i + 1].write_lookup_key(kb);
    int c = std::memcmp(ka, kb, std::min(la, lb));
    CHECK((c < 0 || (c == 0 && la < lb)));
  }
  std::vector<Name> shuffled(names.rbegin(), names.rend());
  std::sort(shuffled.begin(), shuffled.end());
  for (size_t i = 0; i < names.size(); ++i) CHECK(shuffled[i] == names[i]);
}
