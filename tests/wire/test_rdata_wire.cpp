// Wire-side rdata: layout checks, name expansion from messages, the names a
// builder may compress, and the DNSSEC canonical form.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "wire/base_encoding.h"
#include "wire/rdata.h"

using namespace sextant::wire;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<uint8_t> out;
  for (int v : list) out.push_back(static_cast<uint8_t>(v));
  return out;
}

void append(std::vector<uint8_t>& out, std::span<const uint8_t> more) {
  out.insert(out.end(), more.begin(), more.end());
}

}  // namespace

TEST_CASE("expand_rdata follows compression pointers in NS, SOA and MX", "[rdata][wire]") {
  // A fake message: 12 octets of header, then "example.com." at offset 12.
  std::vector<uint8_t> packet(12, 0);
  Name zone = Name::from_text("example.com.");
  append(packet, zone.wire());  // offsets 12..24

  SECTION("NS: a label then a pointer to example.com.") {
    size_t rdata_at = packet.size();
    append(packet, bytes({3, 'n', 's', '1', 0xC0, 12}));
    Rdata out;
    REQUIRE(expand_rdata(RRType::NS, packet, rdata_at, 6, out) == WireError::ok);
    Name expected = Name::from_text("ns1.example.com.");
    CHECK(out == std::vector<uint8_t>(expected.wire().begin(), expected.wire().end()));
  }
  SECTION("SOA: two compressed names and five numbers") {
    size_t rdata_at = packet.size();
    append(packet, bytes({2, 'n', 's', 0xC0, 12, 4, 'h', 'o', 's', 't', 0xC0, 12}));
    append(packet, bytes({0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5}));
    Rdata out;
    REQUIRE(expand_rdata(RRType::SOA, packet, rdata_at, packet.size() - rdata_at, out) == WireError::ok);
    CHECK(rdata_to_text(RRType::SOA, out) == "ns.example.com. host.example.com. 1 2 3 4 5");
    std::array<uint16_t, 2> offsets{};
    REQUIRE(compressible_name_offsets(RRType::SOA, out, offsets) == 2);
    CHECK(offsets[0] == 0);
    CHECK(offsets[1] == Name::from_text("ns.example.com.").wire_size());
  }
  SECTION("MX: preference then a bare pointer") {
    size_t rdata_at = packet.size();
    append(packet, bytes({0, 10, 0xC0, 12}));
    Rdata out;
    REQUIRE(expand_rdata(RRType::MX, packet, rdata_at, 4, out) == WireError::ok);
    CHECK(rdata_to_text(RRType::MX, out) == "10 example.com.");
    std::array<uint16_t, 2> offsets{};
    REQUIRE(compressible_name_offsets(RRType::MX, out, offsets) == 1);
    CHECK(offsets[0] == 2);
  }
  SECTION("a compressed name in a type that forbids compression is rejected") {
    size_t rdata_at = packet.size();
    append(packet, bytes({0xC0, 12, 0, 6, 0x40, 0x01, 0, 0, 0, 0x08}));  // NSEC
    Rdata out;
    CHECK(expand_rdata(RRType::NSEC, packet, rdata_at, packet.size() - rdata_at, out) != WireError::ok);
    CHECK(out.empty());
  }
  SECTION("a pointer that points forwards is rejected") {
    size_t rdata_at = packet.size();
    append(packet, bytes({0xC0, static_cast<int>(rdata_at + 2), 0}));
    Rdata out;
    CHECK(expand_rdata(RRType::CNAME, packet, rdata_at, 2, out) == WireError::forward_pointer);
  }
  SECTION("a name that runs past rdlength is truncated rdata") {
    size_t rdata_at = packet.size();
    append(packet, bytes({3, 'f', 'o', 'o', 0}));
    Rdata out;
    CHECK(expand_rdata(RRType::CNAME, packet, rdata_at, 3, out) == WireError::truncated_rdata);
  }
  SECTION("rdlength beyond the packet") {
    Rdata out;
    CHECK(expand_rdata(RRType::A, packet, packet.size() - 2, 4, out) == WireError::truncated_rdata);
  }
  SECTION("unknown types are copied verbatim") {
    size_t rdata_at = packet.size();
    append(packet, bytes({0xC0, 12, 1, 2, 3}));
    Rdata out;
    REQUIRE(expand_rdata(static_cast<RRType>(65280), packet, rdata_at, 5, out) == WireError::ok);
    CHECK(out == bytes({0xC0, 12, 1, 2, 3}));
  }
}

TEST_CASE("validate_rdata names what is wrong", "[rdata][wire]") {
  CHECK(validate_rdata(RRType::A, bytes({192, 0, 2, 1})) == WireError::ok);
  CHECK(validate_rdata(RRType::A, bytes({192, 0, 2})) == WireError::truncated_rdata);
  CHECK(validate_rdata(RRType::A, bytes({192, 0, 2, 1, 0})) == WireError::trailing_data);
  CHECK(validate_rdata(RRType::AAAA, std::vector<uint8_t>(15, 0)) == WireError::truncated_rdata);
  CHECK(validate_rdata(RRType::MX, bytes({0, 10})) == WireError::truncated_rdata);
  CHECK(validate_rdata(RRType::MX, bytes({0, 10, 3, 'f', 'o'})) == WireError::truncated_name);
  CHECK(validate_rdata(RRType::MX, bytes({0, 10, 0xC0, 0})) != WireError::ok);
  Rdata long_name;  // five 63-octet labels: 321 octets
  for (int i = 0; i < 5; ++i) {
    long_name.push_back(63);
    long_name.resize(long_name.size() + 63, 'a');
  }
  long_name.push_back(0);
  CHECK(validate_rdata(RRType::NS, long_name) == WireError::name_too_long);
  CHECK(validate_rdata(RRType::NS, bytes({0x80, 'a'})) == WireError::bad_label_type);
  CHECK(validate_rdata(RRType::TXT, bytes({})) == WireError::truncated_rdata);
  CHECK(validate_rdata(RRType::TXT, bytes({3, 'a', 'b'})) == WireError::truncated_rdata);
  CHECK(validate_rdata(RRType::TXT, bytes({0, 1, 'x'})) == WireError::ok);
  CHECK(validate_rdata(RRType::DS, bytes({0, 1, 8})) == WireError::truncated_rdata);
  // Type bitmaps: windows out of order, zero-length and over-long blocks.
  CHECK(validate_rdata(RRType::NSEC, bytes({0, 0, 1, 0x40})) == WireError::ok);
  CHECK(validate_rdata(RRType::NSEC, bytes({0, 1, 1, 0x40, 0, 1, 0x40})) == WireError::bad_rdata);
  CHECK(validate_rdata(RRType::NSEC, bytes({0, 0, 33, 0x40})) == WireError::bad_rdata);
  CHECK(validate_rdata(RRType::NSEC, bytes({0, 0, 0})) == WireError::bad_rdata);
  CHECK(validate_rdata(RRType::NSEC, bytes({0, 0, 2, 0x40})) == WireError::truncated_rdata);
  // SVCB: keys must increase, values must have their key's format.
  CHECK(validate_rdata(RRType::SVCB, bytes({0, 1, 0, 0, 3, 0, 2, 0, 53})) == WireError::ok);
  CHECK(validate_rdata(RRType::SVCB, bytes({0, 1, 0, 0, 3, 0, 1, 53})) == WireError::bad_rdata);
  CHECK(validate_rdata(RRType::SVCB, bytes({0, 1, 0, 0, 3, 0, 2, 0, 53, 0, 3, 0, 2, 0, 54})) ==
        WireError::bad_rdata);
  CHECK(validate_rdata(RRType::SVCB, bytes({0, 1, 0, 0, 3, 0, 5, 0, 53})) == WireError::truncated_rdata);
  CHECK(validate_rdata(RRType::SVCB, bytes({0, 1, 0, 0, 2, 0, 1, 0})) == WireError::bad_rdata);
  CHECK(validate_rdata(RRType::SVCB, bytes({0, 1, 0, 0, 0, 0, 2, 0, 0})) == WireError::bad_rdata);
  // NSEC3 with an empty next hashed owner name is meaningless.
  CHECK(validate_rdata(RRType::NSEC3, bytes({1, 0, 0, 0, 0, 0})) == WireError::bad_rdata);
  // Unknown types are opaque.
  CHECK(validate_rdata(static_cast<RRType>(65534), bytes({1, 2, 3})) == WireError::ok);
}

TEST_CASE("compressible_name_offsets only for NS, CNAME, SOA, PTR and MX", "[rdata][wire]") {
  Name target = Name::from_text("Target.Example.");
  Rdata rdata(target.wire().begin(), target.wire().end());
  std::array<uint16_t, 2> offsets{};
  CHECK(compressible_name_offsets(RRType::CNAME, rdata, offsets) == 1);
  CHECK(compressible_name_offsets(RRType::PTR, rdata, offsets) == 1);
  CHECK(compressible_name_offsets(RRType::NS, rdata, offsets) == 1);
  CHECK(compressible_name_offsets(RRType::DNAME, rdata, offsets) == 0);
  Rdata srv = bytes({0, 1, 0, 2, 0, 3});
  append(srv, target.wire());
  CHECK(compressible_name_offsets(RRType::SRV, srv, offsets) == 0);
  // Malformed rdata gives nothing to compress.
  CHECK(compressible_name_offsets(RRType::MX, bytes({0, 1, 5, 'a'}), offsets) == 0);
}

TEST_CASE("canonical_rdata lower-cases names in the RFC 4034/6840 types only", "[rdata][wire]") {
  Name mixed = Name::from_text("MiXeD.ExAmPlE.");
  Name lower = Name::from_text("mixed.example.");
  auto w = [](const Name& n) { return Rdata(n.wire().begin(), n.wire().end()); };
  CHECK(canonical_rdata(RRType::CNAME, w(mixed)) == w(lower));
  CHECK(canonical_rdata(RRType::NS, w(mixed)) == w(lower));
  CHECK(canonical_rdata(RRType::DNAME, w(mixed)) == w(lower));
  Rdata mx = bytes({0, 10});
  append(mx, mixed.wire());
  Rdata mx_lower = bytes({0, 10});
  append(mx_lower, lower.wire());
  CHECK(canonical_rdata(RRType::MX, mx) == mx_lower);
  // RFC 6840 §5.1: NSEC's next name keeps its case.
  Rdata nsec = w(mixed);
  append(nsec, bytes({0, 1, 0x40}));
  CHECK(canonical_rdata(RRType::NSEC, nsec) == nsec);
  // Text fields are not names: TXT keeps its case.
  Rdata txt = bytes({3, 'A', 'b', 'C'});
  CHECK(canonical_rdata(RRType::TXT, txt) == txt);
  // SRV and NAPTR targets, and the RRSIG signer, are lower-cased.
  Rdata srv = bytes({0, 1, 0, 2, 0, 3});
  append(srv, mixed.wire());
  Rdata srv_lower = bytes({0, 1, 0, 2, 0, 3});
  append(srv_lower, lower.wire());
  CHECK(canonical_rdata(RRType::SRV, srv) == srv_lower);
  // Only names: the NAPTR regexp keeps its case.
  Rdata naptr = bytes({0, 1, 0, 2, 1, 'S', 1, 'X', 1, 'R'});
  append(naptr, mixed.wire());
  Rdata naptr_lower = bytes({0, 1, 0, 2, 1, 'S', 1, 'X', 1, 'R'});
  append(naptr_lower, lower.wire());
  CHECK(canonical_rdata(RRType::NAPTR, naptr) == naptr_lower);
}

TEST_CASE("older name-bearing types: expansion and canonical form", "[rdata][wire]") {
  auto w = [](const char* text) {
    Name n = Name::from_text(text);
    return Rdata(n.wire().begin(), n.wire().end());
  };
  // RP (17): two names, both lower-cased.
  Rdata rp = w("Admin.Example.");
  append(rp, w("TXT.Example."));
  Rdata rp_lower = w("admin.example.");
  append(rp_lower, w("txt.example."));
  CHECK(validate_rdata(static_cast<RRType>(17), rp) == WireError::ok);
  CHECK(canonical_rdata(static_cast<RRType>(17), rp) == rp_lower);
  CHECK(rdata_to_text(static_cast<RRType>(17), rp) == "Admin.Example. TXT.Example.");
  // AFSDB (18): subtype then a name; compressed names are expanded on input.
  std::vector<uint8_t> packet(12, 0);
  append(packet, w("Example."));
  size_t at = packet.size();
  append(packet, bytes({0, 1, 2, 'D', 'B', 0xC0, 12}));
  Rdata out;
  REQUIRE(expand_rdata(static_cast<RRType>(18), packet, at, 7, out) == WireError::ok);
  CHECK(rdata_to_text(static_cast<RRType>(18), out) == "1 DB.Example.");
  CHECK(canonical_rdata(static_cast<RRType>(18), out) == rdata_from_text(static_cast<RRType>(18), "1 db.example."));
  // A6 (38): prefix length 64 -> 8 suffix octets, then the prefix name.
  Rdata a6 = bytes({64, 0, 0, 0, 0, 0, 0, 0, 1});
  append(a6, w("Prefix.Example."));
  Rdata a6_lower = bytes({64, 0, 0, 0, 0, 0, 0, 0, 1});
  append(a6_lower, w("prefix.example."));
  CHECK(validate_rdata(static_cast<RRType>(38), a6) == WireError::ok);
  CHECK(canonical_rdata(static_cast<RRType>(38), a6) == a6_lower);
  CHECK(validate_rdata(static_cast<RRType>(38), bytes({129})) == WireError::bad_rdata);
  CHECK(validate_rdata(static_cast<RRType>(38), bytes({0, 1, 2})) == WireError::truncated_rdata);
  Rdata a6_full = bytes({0});
  a6_full.resize(17, 0);
  CHECK(validate_rdata(static_cast<RRType>(38), a6_full) == WireError::ok);  // no name when prefix is 0
  CHECK(rdata_to_text(static_cast<RRType>(38), a6) ==
        "\\# 25 " + hex_encode(a6));  // A6 has no typed text here
}
