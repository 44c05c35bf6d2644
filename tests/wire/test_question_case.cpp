// restore_question_case(): the 0x20 case of a reply's question is checked
// and replaced in the packet, so that names compressed against it parse in
// the case the resolver meant.
#include <catch2/catch.hpp>

#include "tests/wire/test_message_helpers.h"
#include "wire/message.h"
#include "wire/question_case.h"
#include "wire/rdata.h"

using namespace sextant::wire;
using sextant::wire::testing::PacketWriter;

namespace {

// A reply to "<qname> MX" whose exchange is "mail" + a pointer to the question.
std::vector<uint8_t> mx_reply(std::string_view qname) {
  PacketWriter w;
  w.header(0x4242, 0x8400, 1, 1, 0, 0).question(qname, RRType::MX);
  w.pointer(12).fields(RRType::MX, 1, 300, {0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12});
  return w.bytes;
}

}  // namespace

TEST_CASE("question case: an exact echo is reported and replaced", "[question-case]") {
  Name sent = Name::from_text("eXaMpLe.CoM.");
  Name meant = Name::from_text("example.com.");
  auto packet = mx_reply("eXaMpLe.CoM.");
  QuestionCase c = restore_question_case(packet, sent, meant);
  CHECK(c.found);
  CHECK(c.echoed_exactly);
  Message m;
  REQUIRE(Message::parse(packet, m) == WireError::ok);
  CHECK(m.questions[0].name.equals_exact(meant));
  CHECK(m.answer[0].owner.equals_exact(meant));
  CHECK(rdata_to_text(RRType::MX, m.answer[0].rdata) == "10 mail.example.com.");
}

TEST_CASE("question case: a changed case is reported, and replaced too", "[question-case]") {
  auto packet = mx_reply("example.com.");
  QuestionCase c = restore_question_case(packet, Name::from_text("eXaMpLe.CoM."),
                                         Name::from_text("Example.Com."));
  CHECK(c.found);
  CHECK_FALSE(c.echoed_exactly);
  Message m;
  REQUIRE(Message::parse(packet, m) == WireError::ok);
  CHECK(rdata_to_text(RRType::MX, m.answer[0].rdata) == "10 mail.Example.Com.");
}

TEST_CASE("question case: another name, no question or a short packet is left alone",
          "[question-case]") {
  Name sent = Name::from_text("eXaMpLe.CoM.");
  Name meant = Name::from_text("example.com.");
  for (auto other : {"example.net.", "example.co.", "www.example.com.", "com."}) {
    INFO(other);
    auto packet = mx_reply(other);
    auto before = packet;
    CHECK_FALSE(restore_question_case(packet, sent, meant).found);
    CHECK(packet == before);
  }
  // Same octets, another layout: "example.com" as one label with a dot
  // inside is not the same name.
  PacketWriter w;
  w.header(1, 0x8400, 1, 0, 0, 0).raw({11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0});
  w.u16(15).u16(1);
  auto before = w.bytes;
  CHECK_FALSE(restore_question_case(w.bytes, sent, meant).found);
  CHECK(w.bytes == before);

  PacketWriter none;
  none.header(1, 0x8405, 0, 0, 0, 0);  // REFUSED without a question
  CHECK_FALSE(restore_question_case(none.bytes, sent, meant).found);
  std::vector<uint8_t> tiny = {0x12, 0x34, 0x81};
  CHECK_FALSE(restore_question_case(tiny, sent, meant).found);
  // A question that is a pointer (malformed) is not touched.
  PacketWriter pointer;
  pointer.header(1, 0x8400, 1, 0, 0, 0).pointer(12).u16(15).u16(1);
  CHECK_FALSE(restore_question_case(pointer.bytes, sent, meant).found);
}

TEST_CASE("question case: the root and names with non-letters", "[question-case]") {
  PacketWriter w;
  w.header(1, 0x8400, 1, 0, 0, 0).question(".", RRType::NS);
  CHECK(restore_question_case(w.bytes, Name(), Name()).echoed_exactly);
  PacketWriter d;
  d.header(1, 0x8400, 1, 0, 0, 0).question("_sip._tcp.x-1.EXAMPLE.", RRType::SRV);
  QuestionCase c = restore_question_case(d.bytes, Name::from_text("_SIP._TCP.X-1.example."),
                                         Name::from_text("_sip._tcp.x-1.example."));
  CHECK(c.found);
  CHECK_FALSE(c.echoed_exactly);
}
