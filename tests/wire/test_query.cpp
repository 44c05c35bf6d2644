#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "tests/wire/test_message_helpers.h"
#include "wire/edns.h"
#include "wire/message.h"
#include "wire/query.h"

using namespace sextant::wire;
using sextant::wire::testing::PacketWriter;

// A counting global operator new for this test binary: counts only while a
// test switches counting on, so other tests are unaffected.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too, or a sanitizer runtime would pair its own new with our delete.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return ::operator new(size, std::nothrow);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

std::vector<uint8_t> typical_query() {
  // dig-style: RD + AD, EDNS 1232 with DO, a client cookie.
  std::vector<uint8_t> cookie_option = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  PacketWriter w;
  w.header(0x1234, 0x0120, 1, 0, 0, 1)
      .question("www.Example.com.", RRType::AAAA)
      .opt(".", 1232, 0x00008000, cookie_option);
  return w.bytes;
}

}  // namespace

TEST_CASE("a typical query parses with its EDNS fields", "[query]") {
  std::vector<uint8_t> packet = typical_query();
  ParsedQuery q;
  QueryParseResult r = parse_query(packet, q);
  REQUIRE(r.outcome == QueryOutcome::ok);
  CHECK(r.error == WireError::ok);
  CHECK(q.header.id == 0x1234);
  CHECK(q.header.rd());
  CHECK(q.header.ad());
  CHECK(q.qname.equals_exact(Name::from_text("www.Example.com.")));
  CHECK(q.qtype == RRType::AAAA);
  CHECK(q.qclass == RRClass::IN);
  CHECK(q.question_end == 12 + 17 + 4);
  CHECK(q.has_edns);
  CHECK(q.udp_payload_size == 1232);
  CHECK(q.dnssec_ok);
  CHECK(q.edns_version == 0);
  CHECK(q.opt_offset == q.question_end);
  CHECK(q.has_cookie);
  CHECK(q.cookie.size() == 8);
  CHECK(q.cookie[0] == 1);
  CHECK_FALSE(q.has_padding);
  CHECK_FALSE(q.has_tcp_keepalive);
  CHECK_FALSE(q.has_client_subnet);
  CHECK(q.option_count == 1);
  CHECK(q.edns_options.size() == 12);
  CookieOption cookie;
  CHECK(decode_cookie(q.cookie, cookie) == WireError::ok);
}

TEST_CASE("parsing an ordinary query allocates nothing", "[query][alloc]") {
  std::vector<uint8_t> packet = typical_query();
  ParsedQuery q;
  g_allocations = 0;
  g_counting = true;
  QueryParseResult r{};
  for (int i = 0; i < 100; ++i) r = parse_query(packet, q);
  g_counting = false;
  CHECK(r.outcome == QueryOutcome::ok);
  CHECK(g_allocations.load() == 0);

  // The counter does see allocations (the check above can fail).
  g_allocations = 0;
  g_counting = true;
  Message m;
  REQUIRE(Message::parse(packet, m) == WireError::ok);
  g_counting = false;
  CHECK(g_allocations.load() > 0);
}

TEST_CASE("query outcomes: drop, ignore, formerr", "[query]") {
  ParsedQuery q;
  SECTION("a short header is dropped") {
    std::vector<uint8_t> p = {0x12, 0x34, 0x01};
    QueryParseResult r = parse_query(p, q);
    CHECK(r.outcome == QueryOutcome::drop);
    CHECK(r.error == WireError::truncated_header);
  }
  SECTION("a response is ignored") {
    PacketWriter w;
    w.header(1, 0x8000, 1, 0, 0, 0).question("example.", RRType::A);
    QueryParseResult r = parse_query(w.bytes, q);
    CHECK(r.outcome == QueryOutcome::ignore);
    CHECK(r.error == WireError::not_a_query);
  }
  SECTION("zero or two questions are FORMERR") {
    PacketWriter none;
    none.header(1, 0, 0, 0, 0, 0);
    QueryParseResult r = parse_query(none.bytes, q);
    CHECK(r.outcome == QueryOutcome::formerr);
    CHECK(r.error == WireError::bad_question);
    CHECK(q.header.id == 1);
    PacketWriter two;
    two.header(2, 0, 2, 0, 0, 0).question("a.", RRType::A).question("b.", RRType::A);
    r = parse_query(two.bytes, q);
    CHECK(r.outcome == QueryOutcome::formerr);
    CHECK(r.error == WireError::bad_question);
  }
  SECTION("a truncated question is FORMERR without a question to echo") {
    PacketWriter w;
    w.header(3, 0, 1, 0, 0, 0).raw({3, 'w', 'w'});
    QueryParseResult r = parse_query(w.bytes, q);
    CHECK(r.outcome == QueryOutcome::formerr);
    CHECK(r.error == WireError::truncated_name);
    CHECK(q.question_end == 0);
  }
  SECTION("a bad OPT after a good question is FORMERR with the question kept") {
    PacketWriter w;
    w.header(4, 0, 1, 0, 0, 1).question("example.", RRType::A).opt("x.");
    QueryParseResult r = parse_query(w.bytes, q);
    CHECK(r.outcome == QueryOutcome::formerr);
    CHECK(r.error == WireError::bad_opt);
    CHECK(q.question_end == 12 + 9 + 4);
    CHECK(q.qname == Name::from_text("example."));
  }
  SECTION("trailing octets are FORMERR") {
    PacketWriter w;
    w.header(5, 0, 1, 0, 0, 0).question("example.", RRType::A).u8(0);
    CHECK(parse_query(w.bytes, q).error == WireError::trailing_data);
  }
  SECTION("broken option framing is FORMERR") {
    PacketWriter w;
    w.header(6, 0, 1, 0, 0, 1).question("example.", RRType::A).opt(".", 1232, 0, {0, 12, 0, 9, 0});
    QueryParseResult r = parse_query(w.bytes, q);
    CHECK(r.outcome == QueryOutcome::formerr);
    CHECK(r.error == WireError::bad_opt);
  }
}

TEST_CASE("query options are located, and other records skipped", "[query]") {
  std::vector<uint8_t> options = {0, 12, 0, 3, 0, 0, 0,            // padding
                                  0, 11, 0, 0,                     // keepalive
                                  0, 8, 0, 7, 0, 1, 24, 0, 10, 1, 2,  // ECS 10.1.2/24
                                  0xFD, 0xE9, 0, 1, 0x77};         // unknown 65001
  PacketWriter w;
  // NOTIFY-style query carrying an SOA in the answer section, and a TSIG-ish
  // unknown record after OPT in additional.
  w.header(9, 0x2000, 1, 1, 0, 2)
      .question("zone.example.", RRType::SOA)
      .name("zone.example.").fields(RRType::SOA, 1, 60,
                                    {0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
      .opt(".", 4096, 0x00010000, options)
      .pointer(12).fields(static_cast<RRType>(65280), 255, 0, {1, 2, 3});
  ParsedQuery q;
  QueryParseResult r = parse_query(w.bytes, q);
  REQUIRE(r.outcome == QueryOutcome::ok);
  CHECK(q.header.opcode() == Opcode::NOTIFY);
  CHECK(q.edns_version == 1);
  CHECK_FALSE(q.dnssec_ok);
  CHECK(q.udp_payload_size == 4096);
  CHECK(q.has_padding);
  CHECK(q.has_tcp_keepalive);
  CHECK(q.tcp_keepalive.empty());
  REQUIRE(q.has_client_subnet);
  ClientSubnetOption ecs;
  REQUIRE(decode_client_subnet(q.client_subnet, ecs) == WireError::ok);
  CHECK(ecs.source_prefix == 24);
  CHECK_FALSE(q.has_cookie);
  CHECK(q.option_count == 4);
}

TEST_CASE("parse_query agrees with Message::parse on queries", "[query]") {
  std::vector<uint8_t> packet = typical_query();
  Message m;
  REQUIRE(Message::parse(packet, m) == WireError::ok);
  ParsedQuery q;
  REQUIRE(parse_query(packet, q).outcome == QueryOutcome::ok);
  CHECK(q.qname.equals_exact(m.questions[0].name));
  CHECK(q.udp_payload_size == m.edns->udp_payload_size);
  CHECK(q.dnssec_ok == m.edns->dnssec_ok());
  CHECK(q.option_count == m.edns->options.size());
}
