#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/wire/test_message_helpers.h"
#include "wire/message.h"
#include "wire/message_builder.h"
#include "wire/query.h"

using namespace sextant::wire;
using sextant::wire::testing::make_rr;
using sextant::wire::testing::PacketWriter;

namespace {

// A response with every section filled, EDNS with a cookie, an EDE and an
// unknown option, and records whose rdata holds compressible names.
Message sample_response() {
  Message m;
  m.header.id = 0xBEEF;
  m.header.set_qr(true);
  m.header.set_rd(true);
  m.header.set_ra(true);
  m.header.set_ad(true);
  m.questions.push_back({Name::from_text("www.Example.com."), RRType::A, RRClass::IN});
  m.answer.push_back(make_rr("www.Example.com.", RRType::CNAME, 300, "web.example.com."));
  m.answer.push_back(make_rr("web.example.com.", RRType::A, 300, "192.0.2.1"));
  m.answer.push_back(make_rr("web.example.com.", RRType::A, 300, "192.0.2.2"));
  m.authority.push_back(make_rr("example.com.", RRType::NS, 3600, "ns1.example.com."));
  m.authority.push_back(make_rr("example.com.", RRType::NS, 3600, "NS2.example.net."));
  m.authority.push_back(make_rr("example.com.", RRType::SOA, 3600,
                                "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300"));
  m.additional.push_back(make_rr("ns1.example.com.", RRType::A, 3600, "192.0.2.53"));
  m.additional.push_back(make_rr("ns1.example.com.", RRType::AAAA, 3600, "2001:db8::53"));
  m.additional.push_back(make_rr("example.com.", RRType::MX, 3600, "10 mail.example.com."));
  Edns edns;
  edns.udp_payload_size = 1232;
  edns.set_dnssec_ok(true);
  CookieOption cookie;
  cookie.client = {1, 2, 3, 4, 5, 6, 7, 8};
  cookie.server_size = 16;
  for (uint8_t i = 0; i < 16; ++i) cookie.server[i] = static_cast<uint8_t>(0xA0 + i);
  edns.add(encode(cookie));
  edns.add(EdnsOption{65001, {0xDE, 0xAD}});
  edns.add_extended_error(EdeCode::StaleAnswer, "served stale");
  m.edns = edns;
  return m;
}

std::vector<uint8_t> build(const Message& m) {
  std::vector<uint8_t> wire;
  REQUIRE(build_message(m, wire) == WireError::ok);
  return wire;
}

}  // namespace

TEST_CASE("a message with all sections round-trips parse -> build -> parse", "[message]") {
  Message original = sample_response();
  std::vector<uint8_t> wire = build(original);
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  CHECK(parsed.same_content(original));
  CHECK(parsed.header.qdcount == 1);
  CHECK(parsed.header.ancount == 3);
  CHECK(parsed.header.nscount == 3);
  CHECK(parsed.header.arcount == 4);  // three records + OPT
  REQUIRE(parsed.edns);
  CHECK(parsed.edns->dnssec_ok());
  CHECK(parsed.edns->options.size() == 3);
  // Rebuilding the parsed message gives the same octets.
  CHECK(build(parsed) == wire);
  // The question keeps its case; so does rdata.
  CHECK(parsed.questions[0].name.equals_exact(Name::from_text("www.Example.com.")));
  CHECK(parsed.authority[1].rdata == original.authority[1].rdata);
}

TEST_CASE("rcode spans the header and OPT", "[message]") {
  Message m;
  m.header.set_qr(true);
  m.set_rcode(Rcode::BADVERS);
  REQUIRE(m.edns);
  CHECK(m.edns->extended_rcode == 1);
  CHECK(m.header.rcode_low() == 0);
  std::vector<uint8_t> wire = build(m);
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  CHECK(parsed.rcode() == Rcode::BADVERS);

  m.set_rcode(Rcode::NXDOMAIN);
  CHECK(m.rcode() == Rcode::NXDOMAIN);
  CHECK(m.edns->extended_rcode == 0);
}

TEST_CASE("header flag accessors map to the right bits", "[message]") {
  Header h;
  h.set_qr(true);
  h.set_opcode(Opcode::NOTIFY);
  h.set_aa(true);
  h.set_tc(true);
  h.set_rd(true);
  h.set_ra(true);
  h.set_z(true);
  h.set_ad(true);
  h.set_cd(true);
  h.set_rcode_low(static_cast<uint16_t>(Rcode::REFUSED));
  CHECK(h.flags == 0xA7F5);
  CHECK(h.opcode() == Opcode::NOTIFY);
  CHECK(h.rcode_low() == 5);
  h.set_aa(false);
  h.set_cd(false);
  CHECK_FALSE(h.aa());
  CHECK_FALSE(h.cd());
  CHECK(h.tc());
  std::array<uint8_t, 12> out{};
  h.id = 0x1234;
  h.qdcount = 1;
  h.write(out.data());
  Header back;
  REQUIRE(Header::parse(out, back) == WireError::ok);
  CHECK(back == h);
}

TEST_CASE("compression shrinks an answer of three A records", "[message][builder]") {
  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  b.header().id = 7;
  b.header().set_qr(true);
  Name owner = Name::from_text("www.example.com.");
  REQUIRE(b.add_question(owner, RRType::A, RRClass::IN) == WireError::ok);
  std::vector<Rdata> rdatas = {{192, 0, 2, 1}, {192, 0, 2, 2}, {192, 0, 2, 3}};
  REQUIRE(b.add_rrset(Section::answer, owner, RRType::A, RRClass::IN, 60, rdatas) == WireError::ok);
  auto wire = b.finish();
  // Header 12, question 17 + 4, each answer a 2-octet pointer + 10 + 4.
  CHECK(wire.size() == 12 + 21 + 3 * 16);
  size_t uncompressed = 12 + 21 + 3 * (17 + 10 + 4);
  CHECK(wire.size() < uncompressed);
  // Each owner is a pointer to the question name at offset 12.
  CHECK(wire[33] == 0xC0);
  CHECK(wire[34] == 12);
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  REQUIRE(parsed.answer.size() == 3);
  for (const auto& rr : parsed.answer) CHECK(rr.owner == owner);
}

TEST_CASE("names in rdata compress only on an exact-case match", "[message][builder]") {
  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  REQUIRE(b.add_question(Name::from_text("example.com."), RRType::NS, RRClass::IN) == WireError::ok);
  ResourceRecord same_case = make_rr("example.com.", RRType::NS, 60, "ns1.example.com.");
  ResourceRecord other_case = make_rr("example.com.", RRType::NS, 60, "ns2.EXAMPLE.com.");
  REQUIRE(b.add_record(Section::answer, same_case) == WireError::ok);
  size_t before = b.size();
  REQUIRE(b.add_record(Section::answer, other_case) == WireError::ok);
  // Owner pointer (2) + fixed (10) + "ns2" (4) + "EXAMPLE" (8) + pointer to "com." (2).
  CHECK(b.size() - before == 2 + 10 + 4 + 8 + 2);
  auto wire = b.finish();
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  REQUIRE(parsed.answer.size() == 2);
  CHECK(parsed.answer[0].rdata == same_case.rdata);
  CHECK(parsed.answer[1].rdata == other_case.rdata);
  // The first NS target compressed against the question: 4 + 2 octets.
  CHECK(parsed.answer[0].rdata.size() == 17);
}

TEST_CASE("owner names take the case of the earlier name they point to", "[message][builder]") {
  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  REQUIRE(b.add_question(Name::from_text("wWw.ExAmPlE.cOm."), RRType::A, RRClass::IN) == WireError::ok);
  REQUIRE(b.add_record(Section::answer, make_rr("www.example.com.", RRType::A, 5, "192.0.2.9")) ==
          WireError::ok);
  Message parsed;
  REQUIRE(Message::parse(b.finish(), parsed) == WireError::ok);
  CHECK(parsed.answer[0].owner.to_text() == "wWw.ExAmPlE.cOm.");
}

TEST_CASE("truncation stops at an RRset boundary, sets TC and keeps OPT", "[message][builder]") {
  std::array<uint8_t, 4096> buf{};
  MessageBuilder b(buf, 512);
  b.header().set_qr(true);
  REQUIRE(b.add_question(Name::from_text("big.example."), RRType::TXT, RRClass::IN) == WireError::ok);
  REQUIRE(b.set_edns(EdnsParams{1232, true, 0, 0}) == WireError::ok);

  RRset small;
  small.owner = Name::from_text("big.example.");
  small.type = RRType::A;
  small.ttl = 60;
  small.rdatas = {{192, 0, 2, 1}, {192, 0, 2, 2}};
  REQUIRE(b.add_rrset(Section::answer, small) == WireError::ok);

  RRset large = small;
  large.type = RRType::TXT;
  large.rdatas.clear();
  for (int i = 0; i < 20; ++i) large.rdatas.push_back(rdata_from_text(RRType::TXT, "\"" + std::string(40, 'x') + "\""));
  size_t before = b.size();
  CHECK(b.add_rrset(Section::answer, large) == WireError::too_large);
  CHECK(b.truncated());
  CHECK(b.size() == before);  // nothing of the large set was written
  // After TC everything is refused, additional included.
  CHECK(b.add_rrset(Section::additional, small) == WireError::too_large);

  auto wire = b.finish();
  CHECK(wire.size() <= 512);
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  CHECK(parsed.header.tc());
  CHECK(parsed.answer.size() == 2);
  CHECK(parsed.additional.empty());
  REQUIRE(parsed.edns);
  CHECK(parsed.edns->dnssec_ok());
}

TEST_CASE("an additional RRset that does not fit is omitted without TC", "[message][builder]") {
  std::array<uint8_t, 4096> buf{};
  MessageBuilder b(buf, 200);
  b.header().set_qr(true);
  REQUIRE(b.add_question(Name::from_text("example."), RRType::NS, RRClass::IN) == WireError::ok);
  REQUIRE(b.set_edns(EdnsParams{}) == WireError::ok);
  REQUIRE(b.add_record(Section::answer, make_rr("example.", RRType::NS, 60, "ns.example.")) == WireError::ok);
  RRset big;
  big.owner = Name::from_text("ns.example.");
  big.type = RRType::TXT;
  big.rdatas = {rdata_from_text(RRType::TXT, "\"" + std::string(200, 'y') + "\"")};
  CHECK(b.add_rrset(Section::additional, big) == WireError::too_large);
  CHECK_FALSE(b.truncated());
  RRset glue;
  glue.owner = Name::from_text("ns.example.");
  glue.type = RRType::A;
  glue.rdatas = {{192, 0, 2, 53}};
  CHECK(b.add_rrset(Section::additional, glue) == WireError::ok);
  Message parsed;
  REQUIRE(Message::parse(b.finish(), parsed) == WireError::ok);
  CHECK_FALSE(parsed.header.tc());
  CHECK(parsed.additional.size() == 1);
  CHECK(parsed.additional[0].type == RRType::A);
  CHECK(parsed.edns);
}

TEST_CASE("add_records groups RRsets with their RRSIGs", "[message][builder]") {
  std::vector<ResourceRecord> answer = {
      make_rr("a.example.", RRType::A, 60, "192.0.2.1"),
      make_rr("a.example.", RRType::A, 60, "192.0.2.2"),
      make_rr("a.example.", RRType::RRSIG, 60,
              "A 13 2 60 20300101000000 20200101000000 12345 example. AAAA"),
      make_rr("a.example.", RRType::TXT, 60,
              "\"" + std::string(150, 'z') + "\" \"" + std::string(150, 'z') + "\""),
  };
  std::array<uint8_t, 4096> buf{};
  // Room for the A set and its signature but not the TXT.
  MessageBuilder b(buf, 160);
  REQUIRE(b.add_question(Name::from_text("a.example."), RRType::ANY, RRClass::IN) == WireError::ok);
  CHECK(b.add_records(Section::answer, answer) == WireError::too_large);
  CHECK(b.truncated());
  Message parsed;
  REQUIRE(Message::parse(b.finish(), parsed) == WireError::ok);
  CHECK(parsed.header.tc());
  REQUIRE(parsed.answer.size() == 3);
  CHECK(parsed.answer[2].type == RRType::RRSIG);

  // With a limit that cuts the RRSIG, the A records go too.
  MessageBuilder c(buf, 80);
  REQUIRE(c.add_question(Name::from_text("a.example."), RRType::ANY, RRClass::IN) == WireError::ok);
  CHECK(c.add_records(Section::answer, answer) == WireError::too_large);
  REQUIRE(Message::parse(c.finish(), parsed) == WireError::ok);
  CHECK(parsed.answer.empty());
  CHECK(parsed.header.tc());
}

TEST_CASE("block-length padding makes the message a multiple of the block", "[message][builder][edns]") {
  std::array<uint8_t, 4096> buf{};
  MessageBuilder b(buf, 1232);
  REQUIRE(b.add_question(Name::from_text("example.org."), RRType::A, RRClass::IN) == WireError::ok);
  REQUIRE(b.set_edns(EdnsParams{}) == WireError::ok);
  REQUIRE(b.set_padding_block(468) == WireError::ok);
  REQUIRE(b.add_extended_error(EdeCode::Blocked, "policy") == WireError::ok);
  auto wire = b.finish();
  CHECK(wire.size() == 468);
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  REQUIRE(parsed.edns);
  REQUIRE(parsed.edns->options.size() == 2);
  ExtendedErrorOption ede;
  REQUIRE(decode_extended_error(parsed.edns->options[0].data, ede) == WireError::ok);
  CHECK(ede.code() == EdeCode::Blocked);
  CHECK(ede.extra_text == "policy");
  CHECK(parsed.edns->options[1].code == static_cast<uint16_t>(EdnsOptionCode::Padding));

  SECTION("padding stops at the size limit") {
    MessageBuilder small(buf, 300);
    REQUIRE(small.add_question(Name::from_text("example.org."), RRType::A, RRClass::IN) == WireError::ok);
    REQUIRE(small.set_edns(EdnsParams{}) == WireError::ok);
    REQUIRE(small.set_padding_block(468) == WireError::ok);
    CHECK(small.finish().size() == 300);
  }
}

TEST_CASE("OPT room is reserved before records", "[message][builder][edns]") {
  std::array<uint8_t, 4096> buf{};
  MessageBuilder b(buf, 100);
  REQUIRE(b.add_question(Name::from_text("example.org."), RRType::TXT, RRClass::IN) == WireError::ok);
  REQUIRE(b.set_edns(EdnsParams{}) == WireError::ok);
  std::vector<uint8_t> cookie(24, 0x42);
  REQUIRE(b.add_edns_option(static_cast<uint16_t>(EdnsOptionCode::Cookie), cookie) == WireError::ok);
  // 12 + 17 = 29 written, 11 + 28 reserved: 32 octets left for records.
  CHECK(b.remaining() == 100 - 29 - 39);
  ResourceRecord txt = make_rr("example.org.", RRType::TXT, 1, "\"" + std::string(20, 'q') + "\"");
  CHECK(b.add_rrset(Section::answer, txt.owner, txt.type, txt.rclass, txt.ttl,
                    std::vector<Rdata>{txt.rdata}) == WireError::too_large);
  CHECK(b.truncated());
  auto wire = b.finish();
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  REQUIRE(parsed.edns);
  CHECK(parsed.edns->options[0].data == cookie);
  CHECK(parsed.header.tc());
}

TEST_CASE("builder refuses misuse", "[message][builder]") {
  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  CHECK(b.set_rcode(Rcode::BADCOOKIE) == WireError::bad_opt);  // needs OPT
  CHECK(b.add_edns_option(10, {}) == WireError::bad_opt);
  REQUIRE(b.add_record(Section::authority, make_rr("x.", RRType::A, 1, "192.0.2.1")) == WireError::ok);
  CHECK_THROWS_AS(b.add_record(Section::answer, make_rr("x.", RRType::A, 1, "192.0.2.1")),
                  std::logic_error);
  CHECK_THROWS_AS(b.add_question(Name::from_text("x."), RRType::A, RRClass::IN), std::logic_error);

  std::array<uint8_t, 8> tiny{};
  MessageBuilder t(tiny);
  CHECK(t.add_question(Name(), RRType::A, RRClass::IN) == WireError::too_large);
  CHECK(t.finish().empty());
}

TEST_CASE("a response header and question come from the query", "[message][builder][query]") {
  PacketWriter q;
  // RD and CD set, opcode QUERY, mixed-case question.
  q.header(0x4242, 0x0110, 1, 0, 0, 1).question("ExAmple.NET.", RRType::AAAA).opt(".", 4096, 0x8000);
  ParsedQuery parsed_query;
  REQUIRE(parse_query(q.bytes, parsed_query).outcome == QueryOutcome::ok);

  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  REQUIRE(b.begin_response(parsed_query) == WireError::ok);
  REQUIRE(b.set_edns(EdnsParams{1232, parsed_query.dnssec_ok, 0, 0}) == WireError::ok);
  auto wire = b.finish();
  // The question octets are exactly the client's.
  REQUIRE(wire.size() >= parsed_query.question_end);
  CHECK(std::equal(wire.begin() + 12, wire.begin() + static_cast<ptrdiff_t>(parsed_query.question_end),
                   q.bytes.begin() + 12));
  Message m;
  REQUIRE(Message::parse(wire, m) == WireError::ok);
  CHECK(m.header.id == 0x4242);
  CHECK(m.header.qr());
  CHECK(m.header.rd());
  CHECK(m.header.cd());
  CHECK_FALSE(m.header.aa());
  CHECK(m.header.opcode() == Opcode::QUERY);
  CHECK(m.questions[0].name.equals_exact(Name::from_text("ExAmple.NET.")));
  CHECK(m.edns->dnssec_ok());

  Message from_message;
  MessageBuilder c(buf);
  REQUIRE(c.begin_response(m) == WireError::ok);
  REQUIRE(Message::parse(c.finish(), from_message) == WireError::ok);
  CHECK(from_message.questions == m.questions);
}

TEST_CASE("messages render as dig-like text", "[message]") {
  Message m = sample_response();
  std::string text = m.to_text();
  CHECK_THAT(text, Catch::Contains(";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 48879"));
  CHECK_THAT(text, Catch::Contains(";; flags: qr rd ra ad; QUERY: 1, ANSWER: 3, AUTHORITY: 3, ADDITIONAL: 4"));
  CHECK_THAT(text, Catch::Contains(";; OPT PSEUDOSECTION:"));
  CHECK_THAT(text, Catch::Contains("; EDNS: version: 0, flags: do; udp: 1232"));
  CHECK_THAT(text, Catch::Contains("; COOKIE: 0102030405060708a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"));
  CHECK_THAT(text, Catch::Contains("; OPT=65001: dead"));
  CHECK_THAT(text, Catch::Contains("; EDE: 3 "));
  CHECK_THAT(text, Catch::Contains(";; QUESTION SECTION:\n;www.Example.com.\t\tIN\tA\n"));
  CHECK_THAT(text, Catch::Contains(";; ANSWER SECTION:\n"));
  CHECK_THAT(text, Catch::Contains("web.example.com."));
  CHECK_THAT(text, Catch::Contains("192.0.2.2"));
  CHECK_THAT(text, Catch::Contains(";; AUTHORITY SECTION:\n"));
  CHECK_THAT(text, Catch::Contains(";; ADDITIONAL SECTION:\n"));
}

TEST_CASE("every fuzz seed parses and round-trips", "[message][corpus]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(SEXTANT_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  size_t seen = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> packet((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(entry.path().filename().string());
    Message m;
    if (entry.path().filename().string().rfind("malformed_", 0) == 0) {
      // Seeds that must be rejected (with a named error, never a crash).
      CHECK(Message::parse(packet, m) != WireError::ok);
      ParsedQuery q;
      CHECK(parse_query(packet, q).outcome == QueryOutcome::formerr);
      continue;
    }
    REQUIRE(Message::parse(packet, m) == WireError::ok);
    std::vector<uint8_t> wire = build(m);
    Message again;
    REQUIRE(Message::parse(wire, again) == WireError::ok);
    CHECK(again.same_content(m));
    if (!m.header.qr()) {
      ParsedQuery q;
      CHECK(parse_query(packet, q).outcome == QueryOutcome::ok);
    }
    ++seen;
  }
  CHECK(seen >= 30);
}

TEST_CASE("the builder writes the counts of what it wrote", "[message][builder]") {
  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  Header stale;
  stale.id = 99;
  stale.qdcount = 7;
  stale.ancount = 300;
  stale.arcount = 2;
  b.header() = stale;
  REQUIRE(b.add_question(Name::from_text("example."), RRType::A, RRClass::IN) == WireError::ok);
  REQUIRE(b.add_record(Section::answer, make_rr("example.", RRType::A, 1, "192.0.2.1")) == WireError::ok);
  auto wire = b.finish();
  Header h;
  REQUIRE(Header::parse(wire, h) == WireError::ok);
  CHECK(h.id == 99);
  CHECK(h.qdcount == 1);
  CHECK(h.ancount == 1);
  CHECK(h.nscount == 0);
  CHECK(h.arcount == 0);
  // finish() is idempotent.
  CHECK(b.finish().size() == wire.size());
  CHECK_THROWS_AS(b.add_record(Section::additional, make_rr("example.", RRType::A, 1, "192.0.2.1")),
                  std::logic_error);
}
