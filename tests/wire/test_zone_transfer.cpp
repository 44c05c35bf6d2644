// The zone transfer stream parser (AXFR, IXFR): every accepted form, and
// every broken stream refused with the message and record named.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "wire/message.h"
#include "wire/rdata.h"
#include "wire/rdata_views.h"
#include "wire/zone_reader.h"
#include "wire/zone_transfer.h"

using namespace sextant;
using namespace sextant::wire;

namespace {

Name N(const char* t) { return Name::from_text(t); }

ResourceRecord rr(const std::string& text) {
  ZoneReaderOptions o;
  o.origin = N("rpz.test.");
  o.default_ttl = 300;
  return read_zone_text(text, "test", o).at(0);
}

ResourceRecord soa(uint32_t serial) { return rr(fmt::format("@ SOA ns admin {} 3600 600 86400 60", serial)); }

struct Recorder : XfrSink {
  std::vector<std::string> events;
  void full_record(const ResourceRecord& r) override { events.push_back("full " + record_to_text(r)); }
  void diff_begin(uint32_t from) override { events.push_back(fmt::format("begin {}", from)); }
  void diff_additions(uint32_t to, const ResourceRecord&) override { events.push_back(fmt::format("to {}", to)); }
  void diff_delete(const ResourceRecord& r) override { events.push_back("del " + r.owner.to_text()); }
  void diff_add(const ResourceRecord& r) override { events.push_back("add " + r.owner.to_text()); }
};

std::vector<uint8_t> message(uint16_t id, RRType qtype, const std::vector<ResourceRecord>& answer,
                             bool question = true, Rcode rcode = Rcode::NOERROR) {
  Message m;
  m.header.id = id;
  m.header.set_qr(true);
  m.header.set_aa(true);
  if (question) m.questions.push_back({N("rpz.test."), qtype, RRClass::IN});
  m.answer = answer;
  m.set_rcode(rcode);
  std::vector<uint8_t> out;
  REQUIRE(build_message(m, out) == WireError::ok);
  return out;
}

std::string error_of(XfrParser& p, const std::vector<std::vector<uint8_t>>& messages, bool finish = true) {
  try {
    for (const auto& m : messages) p.feed(m);
    if (finish) p.finish();
  } catch (const XfrError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("AXFR over two messages: the SOA once, then every record") {
  Recorder r;
  XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
  p.feed(message(7, RRType::AXFR, {soa(5), rr("a.example CNAME .")}));
  CHECK_FALSE(p.done());
  p.feed(message(7, RRType::AXFR, {rr("b.example CNAME *."), soa(5)}, false));
  CHECK(p.done());
  p.finish();
  CHECK(p.outcome() == XfrParser::Outcome::full);
  CHECK(p.serial() == 5);
  CHECK(p.messages() == 2);
  REQUIRE(r.events.size() == 3);
  CHECK(r.events[0].find("SOA") != std::string::npos);
  CHECK(r.events[1].find("a.example.rpz.test.") != std::string::npos);
}

TEST_CASE("a broken AXFR is refused, naming the message and record") {
  Recorder r;
  SECTION("truncated: the stream ends before the final SOA") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    CHECK(error_of(p, {message(7, RRType::AXFR, {soa(5), rr("a.example CNAME .")})}).find("truncated") !=
          std::string::npos);
  }
  SECTION("another message ID") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    CHECK(error_of(p, {message(8, RRType::AXFR, {soa(5)})}).find("message ID 8") != std::string::npos);
  }
  SECTION("another question") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    CHECK(error_of(p, {message(7, RRType::IXFR, {soa(5)})}).find("not the one asked") != std::string::npos);
  }
  SECTION("the first record is not the SOA") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    CHECK(error_of(p, {message(7, RRType::AXFR, {rr("a.example CNAME ."), soa(5)})}).find("not the zone's SOA") !=
          std::string::npos);
  }
  SECTION("a record outside the zone, in message 2 record 1") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    std::string e = error_of(p, {message(7, RRType::AXFR, {soa(5)}),
                                 message(7, RRType::AXFR, {rr("evil.example. CNAME ."), soa(5)}, false)});
    CHECK(e.find("message 2, record 1") != std::string::npos);
    CHECK(e.find("outside the zone") != std::string::npos);
  }
  SECTION("a final SOA of another serial") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    CHECK(error_of(p, {message(7, RRType::AXFR, {soa(5), rr("a CNAME ."), soa(6)})}).find("serial 6") !=
          std::string::npos);
  }
  SECTION("records after the final SOA") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    CHECK(error_of(p, {message(7, RRType::AXFR, {soa(5), soa(5), rr("a CNAME .")})}).find("after the final SOA") !=
          std::string::npos);
  }
  SECTION("the primary refuses: its rcode is kept") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    try {
      p.feed(message(7, RRType::AXFR, {}, true, Rcode::REFUSED));
      FAIL("accepted");
    } catch (const XfrError& e) {
      CHECK(e.rcode() == Rcode::REFUSED);
    }
  }
  SECTION("more records than the limit") {
    XfrLimits limits;
    limits.max_records = 2;
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r, limits);
    CHECK(error_of(p, {message(7, RRType::AXFR, {soa(5), rr("a CNAME ."), soa(5)})}).find("more than 2") !=
          std::string::npos);
  }
  SECTION("bytes that do not parse") {
    XfrParser p(N("rpz.test."), XfrKind::axfr, 7, 0, r);
    std::vector<uint8_t> junk = message(7, RRType::AXFR, {soa(5)});
    junk.resize(junk.size() - 3);
    CHECK(error_of(p, {junk}).find("does not parse") != std::string::npos);
  }
}

TEST_CASE("IXFR: up to date, in full, and by differences") {
  Recorder r;
  SECTION("one SOA no newer than ours: up to date") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    p.feed(message(1, RRType::IXFR, {soa(5)}));
    p.finish();
    CHECK(p.outcome() == XfrParser::Outcome::up_to_date);
    CHECK(r.events.empty());
  }
  SECTION("one SOA newer than ours and nothing else: refused") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    CHECK(error_of(p, {message(1, RRType::IXFR, {soa(6)})}).find("no differences") != std::string::npos);
  }
  SECTION("answered in full (AXFR form)") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    p.feed(message(1, RRType::IXFR, {soa(9), rr("a CNAME ."), soa(9)}));
    p.finish();
    CHECK(p.outcome() == XfrParser::Outcome::full);
    CHECK(r.events.size() == 2);
  }
  SECTION("two difference sequences, across messages") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    p.feed(message(1, RRType::IXFR, {soa(7), soa(5), rr("old CNAME ."), soa(6), rr("new CNAME .")}));
    p.feed(message(1, RRType::IXFR, {soa(6), soa(7), rr("newer CNAME ."), soa(7)}, false));
    CHECK(p.done());
    p.finish();
    CHECK(p.outcome() == XfrParser::Outcome::incremental);
    CHECK(p.serial() == 7);
    std::vector<std::string> want{"begin 5", "del old.rpz.test.", "to 6",          "add new.rpz.test.",
                                  "begin 6", "to 7",              "add newer.rpz.test."};
    CHECK(r.events == want);
  }
  SECTION("differences from another serial than ours") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    CHECK(error_of(p, {message(1, RRType::IXFR, {soa(7), soa(4), soa(7), soa(7)})}).find("not at ours (5)") !=
          std::string::npos);
  }
  SECTION("a sequence that does not start where the previous ended") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    CHECK(error_of(p, {message(1, RRType::IXFR, {soa(8), soa(5), soa(6), soa(7), soa(8), soa(8)})})
              .find("not where the previous ended (6)") != std::string::npos);
  }
  SECTION("the final SOA missing") {
    XfrParser p(N("rpz.test."), XfrKind::ixfr, 1, 5, r);
    CHECK(error_of(p, {message(1, RRType::IXFR, {soa(6), soa(5), rr("a CNAME ."), soa(6)})}).find("truncated") !=
          std::string::npos);
  }
}

TEST_CASE("serial arithmetic (RFC 1982)") {
  CHECK(serial_newer(2, 1));
  CHECK_FALSE(serial_newer(1, 1));
  CHECK_FALSE(serial_newer(1, 2));
  CHECK(serial_newer(1, 0xFFFFFFF0u));  // wrapped
  CHECK_FALSE(serial_newer(0xFFFFFFF0u, 1));
}
