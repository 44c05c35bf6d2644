// A corpus of malformed packets, each rejected with its own named error by
// Message::parse and, where the packet is a query, by parse_query.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/wire/test_message_helpers.h"
#include "wire/message.h"
#include "wire/query.h"

using namespace sextant::wire;
using sextant::wire::testing::PacketWriter;

namespace {

struct MalformedCase {
  std::string what;
  std::vector<uint8_t> packet;
  WireError expected;
  bool in_rdata = false;  // found by rdata checks, which parse_query does not run
};

PacketWriter query_header(uint16_t an = 0, uint16_t ns = 0, uint16_t ar = 0) {
  PacketWriter w;
  w.header(0x0101, 0x0100, 1, an, ns, ar);
  return w;
}

std::vector<MalformedCase> corpus() {
  std::vector<MalformedCase> cases;
  auto add = [&](std::string what, const PacketWriter& w, WireError e) {
    cases.push_back({std::move(what), w.bytes, e});
  };

  add("empty packet", PacketWriter{}, WireError::truncated_header);
  add("truncated header", PacketWriter{}.raw({0x12, 0x34, 0x01, 0x00, 0x00}), WireError::truncated_header);

  add("question count with no question", query_header(), WireError::count_exceeds_data);
  add("truncated question name", query_header().raw({7, 'e', 'x', 'a'}), WireError::truncated_name);
  add("question without type and class", query_header().name("example.").u16(1),
      WireError::truncated_record);
  add("record without fixed fields", query_header(1).question("example.", RRType::A).name("example.").u16(1),
      WireError::truncated_record);
  add("truncated rdata",
      query_header(1).question("example.", RRType::A).name("example.").u16(1).u16(1).u32(60).u16(4).raw({192, 0}),
      WireError::truncated_rdata);
  add("A rdata of the wrong length",
      query_header(1).question("example.", RRType::A).record("example.", RRType::A, 60, {192, 0, 2}),
      WireError::truncated_rdata);
  cases.back().in_rdata = true;
  add("pointer to itself", query_header().pointer(12).u16(1).u16(1), WireError::forward_pointer);
  // The question "www" + a pointer into the header: labels made of the
  // counts (a query that was once answered NXDOMAIN for a name of bytes).
  add("question name pointing into the header", query_header().raw({3, 'w', 'w', 'w'}).pointer(4).u16(1).u16(1),
      WireError::pointer_into_header);
  add("question name that is only a pointer to the header", query_header().pointer(0).u16(1).u16(1),
      WireError::pointer_into_header);
  add("owner name pointing into the header",
      query_header(1).question("example.", RRType::A).pointer(2).fields(RRType::A, 1, 60, {192, 0, 2, 1}),
      WireError::pointer_into_header);
  add("rdata name pointing into the header",
      query_header(1).question("example.", RRType::NS).pointer(12).fields(RRType::NS, 1, 60, {2, 'n', 's', 0xC0, 6}),
      WireError::pointer_into_header);
  cases.back().in_rdata = true;
  add("forward pointer", query_header().pointer(14).name("example.").u16(1).u16(1),
      WireError::forward_pointer);
  {
    // Two names pointing at each other: the first points forward, which is
    // where the loop is cut.
    PacketWriter w = query_header(1);
    w.raw({1, 'a'}).pointer(18).u16(1).u16(1);  // question at 12: "a" -> 18
    w.raw({1, 'b'}).pointer(12);                // owner at 18: "b" -> 12
    w.u16(1).u16(1).u32(0).u16(0);
    add("mutual pointer loop", w, WireError::forward_pointer);
  }
  {
    // 130 questions, each a pointer to the one before: a backwards chain
    // longer than any name could need is a loop by another name.
    PacketWriter w;
    w.header(0, 0, 130, 0, 0, 0);
    w.u8(0).u16(1).u16(1);  // question 0 at 12: the root, 5 octets
    uint16_t previous = 12;
    for (int i = 1; i < 130; ++i) {
      uint16_t here = static_cast<uint16_t>(w.size());
      w.pointer(previous).u16(1).u16(1);
      previous = here;
    }
    add("pointer chain of 129 hops", w, WireError::pointer_loop);
  }
  // A length octet of 64..191 is a reserved label type: on the wire a label
  // cannot claim more than 63 octets without hitting one.
  add("label longer than 63 octets", query_header().u8(64).raw(std::vector<uint8_t>(64, 'a')).u8(0).u16(1).u16(1),
      WireError::bad_label_type);
  add("extended label type 0x80", query_header().raw({0x80, 0}).u16(1).u16(1), WireError::bad_label_type);
  {
    PacketWriter w = query_header();
    for (int i = 0; i < 5; ++i) w.u8(60).raw(std::vector<uint8_t>(60, 'n'));  // 305 octets
    w.u8(0).u16(1).u16(1);
    add("name longer than 255 octets", w, WireError::name_too_long);
  }
  add("answer count beyond the data",
      query_header(5).question("example.", RRType::A).record("example.", RRType::A, 60, {192, 0, 2, 1}),
      WireError::count_exceeds_data);
  add("additional count beyond the data",
      query_header(0, 0, 65535).question("example.", RRType::A), WireError::count_exceeds_data);
  add("OPT in the answer section", query_header(1).question("example.", RRType::A).opt(),
      WireError::bad_opt_placement);
  add("OPT in the authority section", query_header(0, 1).question("example.", RRType::A).opt(),
      WireError::bad_opt_placement);
  add("two OPT records", query_header(0, 0, 2).question("example.", RRType::A).opt().opt(),
      WireError::multiple_opt);
  add("OPT with a non-root owner", query_header(0, 0, 1).question("example.", RRType::A).opt("example."),
      WireError::bad_opt);
  add("truncated EDNS option",
      query_header(0, 0, 1).question("example.", RRType::A).opt(".", 1232, 0, {0, 10, 0, 8, 1, 2, 3, 4}),
      WireError::bad_opt);
  add("EDNS option header cut short",
      query_header(0, 0, 1).question("example.", RRType::A).opt(".", 1232, 0, {0, 10, 0}), WireError::bad_opt);
  add("trailing data", query_header().question("example.", RRType::A).raw({0, 0}), WireError::trailing_data);
  return cases;
}

}  // namespace

TEST_CASE("malformed packets are rejected with their named errors", "[malformed]") {
  for (const MalformedCase& c : corpus()) {
    INFO(c.what);
    Message m;
    CHECK(Message::parse(c.packet, m) == c.expected);

    // The same packet as a query: identical error, except where the query
    // parser judges earlier (QDCOUNT) or never looks (rdata contents).
    ParsedQuery q;
    QueryParseResult r = parse_query(c.packet, q);
    if (c.expected == WireError::truncated_header) {
      CHECK(r.outcome == QueryOutcome::drop);
    } else if (c.packet.size() >= 6 && (c.packet[4] != 0 || c.packet[5] != 1)) {
      CHECK(r.error == WireError::bad_question);
    } else if (c.in_rdata) {
      CHECK(r.outcome == QueryOutcome::ok);
    } else {
      CHECK(r.outcome == QueryOutcome::formerr);
      CHECK(r.error == c.expected);
    }
  }
}

TEST_CASE("every prefix of a valid response is rejected, none crashes", "[malformed]") {
  PacketWriter w;
  w.header(7, 0x8180, 1, 2, 1, 2)
      .question("www.example.", RRType::A)
      .pointer(12).fields(RRType::CNAME, 1, 60, {3, 'w', 'e', 'b', 0xC0, 16})
      .raw({3, 'w', 'e', 'b', 0xC0, 16}).fields(RRType::A, 1, 60, {192, 0, 2, 1})
      .pointer(16).fields(RRType::NS, 1, 60, {2, 'n', 's', 0xC0, 16})
      .raw({2, 'n', 's', 0xC0, 16}).fields(RRType::A, 1, 60, {192, 0, 2, 53})
      .opt(".", 1232, 0x8000, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  Message full;
  REQUIRE(Message::parse(w.bytes, full) == WireError::ok);
  CHECK(full.answer.size() == 2);
  CHECK(full.answer[0].rdata.size() == 4 + 9);  // CNAME target expanded
  for (size_t n = 0; n < w.bytes.size(); ++n) {
    std::vector<uint8_t> prefix(w.bytes.begin(), w.bytes.begin() + static_cast<ptrdiff_t>(n));
    Message m;
    INFO("prefix length " << n);
    CHECK(Message::parse(prefix, m) != WireError::ok);
  }
}
