// wire::scan_packet: TTL offsets outside OPT, min TTL of answer+authority
// (with SOA MINIMUM), compression pointers skipped without being followed,
// and every malformed input rejected.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "wire/packet_scan.h"

using namespace sextant::wire;

namespace {

struct Writer {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void name(std::initializer_list<const char*> labels) {
    for (const char* l : labels) {
      size_t n = std::char_traits<char>::length(l);
      u8(static_cast<uint8_t>(n));
      b.insert(b.end(), l, l + n);
    }
    u8(0);
  }
  void pointer(uint16_t to) { u16(static_cast<uint16_t>(0xC000 | to)); }
  void header(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
    u16(0x1234);
    u16(0x8180);
    u16(qd);
    u16(an);
    u16(ns);
    u16(ar);
  }
  // type, class, ttl, then rdata
  void rr_fixed(RRType t, uint32_t ttl, uint16_t rdlen) {
    u16(static_cast<uint16_t>(t));
    u16(1);
    u32(ttl);
    u16(rdlen);
  }
};

// www.example.com A: answer CNAME (pointer owner) + A, authority SOA,
// additional A + OPT.
std::vector<uint8_t> sample(uint32_t soa_minimum = 300) {
  Writer w;
  w.header(1, 2, 1, 2);
  w.name({"www", "example", "com"});  // at 12
  w.u16(1);
  w.u16(1);
  // answer 1: owner = pointer to question, CNAME -> pointer (rdata 2)
  w.pointer(12);
  w.rr_fixed(RRType::CNAME, 3600, 2);
  w.pointer(16);  // example.com
  // answer 2: owner "example.com" by pointer, A
  w.pointer(16);
  w.rr_fixed(RRType::A, 1200, 4);
  w.u32(0xC0000201);
  // authority: SOA with compressed names
  w.pointer(16);
  w.rr_fixed(RRType::SOA, 900, 2 + 2 + 20);
  w.pointer(16);
  w.pointer(16);
  w.u32(1);
  w.u32(7200);
  w.u32(3600);
  w.u32(1209600);
  w.u32(soa_minimum);
  // additional: A for ns
  w.name({"ns", "example", "com"});
  w.rr_fixed(RRType::A, 50, 4);
  w.u32(0xC0000202);
  // OPT
  w.u8(0);
  w.u16(41);
  w.u16(1232);
  w.u32(0x00008000);
  w.u16(0);
  return w.b;
}

}  // namespace

TEST_CASE("packet_scan: TTL offsets, min TTL and OPT position", "[packet_scan]") {
  auto p = sample();
  PacketScan scan;
  std::array<uint16_t, 8> offsets{};
  REQUIRE(scan_packet(p, scan, offsets));
  CHECK(scan.qdcount == 1);
  CHECK(scan.ancount == 2);
  CHECK(scan.nscount == 1);
  CHECK(scan.arcount == 2);
  CHECK(scan.qname_size == 17);
  CHECK_FALSE(scan.qname_compressed);
  CHECK(scan.question_end == 12 + 17 + 4);
  REQUIRE(scan.ttl_count == 4);  // OPT excluded
  CHECK(scan.offsets_complete);
  const uint32_t expected[] = {3600, 1200, 900, 50};
  for (size_t i = 0; i < 4; ++i) {
    uint16_t at = offsets[i];
    uint32_t ttl = (uint32_t{p[at]} << 24) | (uint32_t{p[at + 1]} << 16) |
                   (uint32_t{p[at + 2]} << 8) | p[at + 3];
    CHECK(ttl == expected[i]);
  }
  // The additional section's 50 does not count; SOA MINIMUM 300 does.
  CHECK(scan.min_ttl == 300);
  CHECK(scan.has_opt);
  CHECK(scan.opt_end == p.size());
  CHECK(scan.opt_offset == p.size() - 11);
  CHECK(scan.end == p.size());
}

TEST_CASE("packet_scan: SOA TTL below MINIMUM wins", "[packet_scan]") {
  auto p = sample(5000);
  PacketScan scan;
  std::array<uint16_t, 8> offsets{};
  REQUIRE(scan_packet(p, scan, offsets));
  CHECK(scan.min_ttl == 900);
}

TEST_CASE("packet_scan: too small an offset buffer reports the true count", "[packet_scan]") {
  auto p = sample();
  PacketScan scan;
  std::array<uint16_t, 2> offsets{};
  REQUIRE(scan_packet(p, scan, offsets));
  CHECK(scan.ttl_count == 4);
  CHECK_FALSE(scan.offsets_complete);
  PacketScan none;
  REQUIRE(scan_packet(p, none, {}));
  CHECK(none.ttl_count == 4);
}

TEST_CASE("packet_scan: TTLs with the top bit set count as zero", "[packet_scan]") {
  Writer w;
  w.header(1, 1, 0, 0);
  w.name({"a"});
  w.u16(1);
  w.u16(1);
  w.pointer(12);
  w.rr_fixed(RRType::A, 0x80000000u, 4);
  w.u32(1);
  PacketScan scan;
  REQUIRE(scan_packet(w.b, scan, {}));
  CHECK(scan.min_ttl == 0);
}

TEST_CASE("packet_scan: empty sections give UINT32_MAX", "[packet_scan]") {
  Writer w;
  w.header(1, 0, 0, 0);
  w.name({"a"});
  w.u16(1);
  w.u16(1);
  PacketScan scan;
  REQUIRE(scan_packet(w.b, scan, {}));
  CHECK(scan.min_ttl == UINT32_MAX);
  CHECK(scan.ttl_count == 0);
  CHECK(scan.end == w.b.size());
}

TEST_CASE("packet_scan: malformed input is rejected", "[packet_scan]") {
  PacketScan scan;
  std::array<uint16_t, 8> offsets{};
  auto good = sample();

  SECTION("short header") {
    std::vector<uint8_t> p(good.begin(), good.begin() + 11);
    CHECK_FALSE(scan_packet(p, scan, offsets));
  }
  SECTION("every truncation") {
    for (size_t n = 12; n < good.size(); ++n) {
      std::vector<uint8_t> p(good.begin(), good.begin() + static_cast<long>(n));
      CHECK_FALSE(scan_packet(p, scan, offsets));
    }
  }
  SECTION("trailing octets") {
    auto p = good;
    p.push_back(0);
    CHECK_FALSE(scan_packet(p, scan, offsets));
  }
  SECTION("counts larger than the data") {
    auto p = good;
    p[7] = 200;  // ancount
    CHECK_FALSE(scan_packet(p, scan, offsets));
  }
  SECTION("reserved label type") {
    auto p = good;
    p[12] = 0x40 | 3;
    CHECK_FALSE(scan_packet(p, scan, offsets));
  }
  SECTION("OPT outside the additional section") {
    Writer w;
    w.header(1, 1, 0, 0);
    w.name({"a"});
    w.u16(1);
    w.u16(1);
    w.u8(0);
    w.rr_fixed(RRType::OPT, 0, 0);
    CHECK_FALSE(scan_packet(w.b, scan, offsets));
  }
  SECTION("two OPT records") {
    Writer w;
    w.header(1, 0, 0, 2);
    w.name({"a"});
    w.u16(1);
    w.u16(1);
    w.u8(0);
    w.rr_fixed(RRType::OPT, 0, 0);
    w.u8(0);
    w.rr_fixed(RRType::OPT, 0, 0);
    CHECK_FALSE(scan_packet(w.b, scan, offsets));
  }
  SECTION("a name longer than 255 octets") {
    Writer w;
    w.header(1, 0, 0, 0);
    for (int i = 0; i < 5; ++i) {
      w.u8(63);
      for (int k = 0; k < 63; ++k) w.u8('a');
    }
    w.u8(0);
    w.u16(1);
    w.u16(1);
    CHECK_FALSE(scan_packet(w.b, scan, offsets));
  }
}

TEST_CASE("packet_scan: pointer loops are skipped, not followed", "[packet_scan]") {
  // The question name is a pointer to itself; a follower would loop, the
  // scanner just steps over two octets.
  Writer w;
  w.header(1, 1, 0, 0);
  w.pointer(12);
  w.u16(1);
  w.u16(1);
  w.pointer(12);
  w.rr_fixed(RRType::A, 60, 4);
  w.u32(1);
  PacketScan scan;
  std::array<uint16_t, 4> offsets{};
  REQUIRE(scan_packet(w.b, scan, offsets));
  CHECK(scan.qname_compressed);
  CHECK(scan.qname_size == 2);
  CHECK(scan.ttl_count == 1);
  CHECK(scan.min_ttl == 60);
}

TEST_CASE("packet_scan: random mutations never read out of bounds", "[packet_scan]") {
  auto good = sample();
  std::mt19937 rng(12345);
  PacketScan scan;
  std::array<uint16_t, 16> offsets{};
  for (int round = 0; round < 20000; ++round) {
    auto p = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) p[rng() % p.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) p.resize(rng() % p.size());
    bool ok = scan_packet(p, scan, offsets);
    if (ok) {
      CHECK(scan.end == p.size());
      for (size_t i = 0; i < scan.ttl_count && i < offsets.size(); ++i) {
        CHECK(offsets[i] + 4u <= p.size());
      }
    }
  }
}

TEST_CASE("packet_scan: for_each_scanned_record visits records in order", "[packet_scan]") {
  auto p = sample();
  std::vector<RRType> types;
  std::vector<uint8_t> sections;
  REQUIRE(for_each_scanned_record(p, [&](const ScannedRecord& r) {
    types.push_back(r.type);
    sections.push_back(r.section);
    return true;
  }));
  CHECK(types == std::vector<RRType>{RRType::CNAME, RRType::A, RRType::SOA, RRType::A, RRType::OPT});
  CHECK(sections == std::vector<uint8_t>{1, 1, 2, 3, 3});
  size_t seen = 0;
  CHECK(for_each_scanned_record(p, [&](const ScannedRecord&) { return ++seen < 2; }));
  CHECK(seen == 2);
}
