// What the walker believes of a reply (issue 13, section 4): names an
// authority compressed against the 0x20-randomised question come back in
// the case of the question as the walker means it, whatever the record
// type; a reply whose opcode is not the query's is dropped like one with a
// wrong ID.
#include <catch2/catch.hpp>

#include <memory>

#include "cache/cache.h"
#include "resolver/walk/walker.h"
#include "scripted_network.h"
#include "tests/wire/test_message_helpers.h"
#include "wire/rdata.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using sextant::wire::testing::PacketWriter;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  cache::Cache cache;
  WalkerOptions options;
  std::unique_ptr<Walker> walker;

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(9);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key), &cache);
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type) {
    ResultCapture capture;
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, {},
                [&](const ResolutionResult& r) { capture.results.push_back(r); });
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.last();
  }
  // On both example.com servers.
  void on_both(std::string_view name, RRType type, const ScriptedReply& reply) {
    network.on(net::example_com_1, name, type, reply);
    network.on(net::example_com_2, name, type, reply);
  }
};

// The rdata of every record of `sets`, in presentation format, case kept.
std::vector<std::string> rdata_text(const std::vector<wire::RRset>& sets) {
  std::vector<std::string> out;
  for (const auto& set : sets) {
    for (const auto& rdata : set.rdatas) out.push_back(wire::rdata_to_text(set.type, rdata));
  }
  return out;
}

// A reply as a server that compresses every name it can against the
// question writes it: header (ID of the query, QR AA), the question as
// sent (0x20 case), then `records(writer, question_name_offset)`.
ScriptedReply compressed_reply(uint16_t ancount,
                               std::function<void(PacketWriter&, const wire::Name&)> records) {
  ScriptedReply r;
  r.raw = [ancount, records](const wire::Message& query) {
    PacketWriter w;
    w.header(query.header.id, 0x8400, 1, ancount, 0, 0);
    const auto& q = query.questions.at(0);
    w.raw(std::vector<uint8_t>(q.name.wire().begin(), q.name.wire().end()));
    w.u16(static_cast<uint16_t>(q.type)).u16(1);
    records(w, q.name);
    return w.bytes;
  };
  return r;
}

// Offset in the packet of the question's label `i` (0 = leftmost).
uint16_t label_offset(const wire::Name& qname, size_t i) {
  uint16_t at = 12;
  for (size_t k = 0; k < i; ++k) at = static_cast<uint16_t>(at + 1 + qname.label(k).size());
  return at;
}

}  // namespace

TEST_CASE("0x20: an MX exchange compressed into the question keeps the unrandomised case",
          "[walker][0x20]") {
  Fixture f;
  // example.com. MX 10 mail.<pointer to the question>
  f.on_both("example.com.", RRType::MX, compressed_reply(1, [](PacketWriter& w, const wire::Name&) {
              w.pointer(12).fields(RRType::MX, 1, 300, {0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12});
            }));
  auto r = f.resolve("example.com.", RRType::MX);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(rdata_text(r.answer) == std::vector<std::string>{"10 mail.example.com."});
  // The cache holds what the client gets.
  auto cached = f.resolve("example.com.", RRType::MX);
  CHECK(rdata_text(cached.answer) == std::vector<std::string>{"10 mail.example.com."});
  CHECK(cached.upstream_queries == 0);
}

TEST_CASE("0x20: the unrandomised case is the lower-cased question, whatever the client's case",
          "[walker][0x20]") {
  Fixture f;
  f.on_both("example.com.", RRType::MX, compressed_reply(1, [](PacketWriter& w, const wire::Name&) {
              w.pointer(12).fields(RRType::MX, 1, 300, {0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12});
            }));
  auto r = f.resolve("ExAmPlE.CoM.", RRType::MX);
  CHECK(rdata_text(r.answer) == std::vector<std::string>{"10 mail.example.com."});
}

TEST_CASE("0x20: an SRV target compressed into the middle of the question", "[walker][0x20]") {
  Fixture f;
  // _sip._tcp.example.com. SRV 0 5 5060 sip1.<pointer to "example.com" in the question>
  f.on_both("_sip._tcp.example.com.", RRType::SRV,
            compressed_reply(1, [](PacketWriter& w, const wire::Name& q) {
              uint8_t to = static_cast<uint8_t>(label_offset(q, 2));
              w.pointer(12).fields(RRType::SRV, 1, 300,
                                   {0, 0, 0, 5, 0x13, 0xC4, 4, 's', 'i', 'p', '1', 0xC0, to});
            }));
  auto r = f.resolve("_sip._tcp.example.com.", RRType::SRV);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(rdata_text(r.answer) == std::vector<std::string>{"0 5 5060 sip1.example.com."});
}

TEST_CASE("0x20: a CNAME target and an NS target compressed into the question",
          "[walker][0x20]") {
  Fixture f;
  // alias2.example.com. CNAME www.<pointer to "example.com">; the walker
  // then asks for www.example.com. A itself.
  f.on_both("alias2.example.com.", RRType::A,
            compressed_reply(1, [](PacketWriter& w, const wire::Name& q) {
              uint8_t to = static_cast<uint8_t>(label_offset(q, 1));
              w.pointer(12).fields(RRType::CNAME, 1, 300, {3, 'w', 'w', 'w', 0xC0, to});
            }));
  auto cname = f.resolve("alias2.example.com.", RRType::A);
  REQUIRE(cname.rcode == Rcode::NOERROR);
  REQUIRE(cname.answer.size() == 2);
  CHECK(rdata_text({cname.answer[0]}) == std::vector<std::string>{"www.example.com."});
  CHECK(cname.answer[1].owner.equals_exact(wire::Name::from_text("www.example.com.")));

  f.on_both("example.com.", RRType::NS, compressed_reply(2, [](PacketWriter& w, const wire::Name&) {
              w.pointer(12).fields(RRType::NS, 1, 300, {3, 'n', 's', '1', 0xC0, 12});
              w.pointer(12).fields(RRType::NS, 1, 300, {3, 'n', 's', '2', 0xC0, 12});
            }));
  auto ns = f.resolve("example.com.", RRType::NS);
  REQUIRE(ns.rcode == Rcode::NOERROR);
  CHECK(rdata_text(ns.answer) ==
        std::vector<std::string>{"ns1.example.com.", "ns2.example.com."});
}

TEST_CASE("0x20: names compressed through another record's name still come out unrandomised",
          "[walker][0x20]") {
  Fixture f;
  // Two MX records: the second exchange points into the first's rdata,
  // which points into the question.
  f.on_both("example.com.", RRType::MX, compressed_reply(2, [](PacketWriter& w, const wire::Name& q) {
              uint16_t first_rdata = static_cast<uint16_t>(12 + q.wire_size() + 4 + 2 + 10);
              w.pointer(12).fields(RRType::MX, 1, 300, {0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12});
              // "backup" + pointer to "mail.<question>" (after the preference)
              uint8_t to = static_cast<uint8_t>(first_rdata + 2);
              w.pointer(12).fields(RRType::MX, 1, 300,
                                   {0, 20, 6, 'b', 'a', 'c', 'k', 'u', 'p', 0xC0, to});
            }));
  auto r = f.resolve("example.com.", RRType::MX);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(rdata_text(r.answer) ==
        std::vector<std::string>{"10 mail.example.com.", "20 backup.mail.example.com."});
}

TEST_CASE("0x20: a server that mangles the question's case is still caught", "[walker][0x20]") {
  Fixture f;
  ScriptedReply mangled;
  mangled.behaviour = Behaviour::mangle_case;
  mangled.answer.push_back(rr("www.example.com. 300 IN A 192.0.2.80"));
  f.network.on(net::example_com_1, "www.example.com.", RRType::A, mangled);
  f.network.on(net::example_com_2, "www.example.com.", RRType::A, mangled);
  auto r = f.resolve("www.example.com.", RRType::A);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(f.w().stats().case_mismatches >= 1);
  bool tcp = false;
  for (const auto& q : f.network.sent()) tcp = tcp || q.protocol == UpstreamProtocol::tcp;
  CHECK(tcp);
}

TEST_CASE("opcode: a reply with another opcode is dropped like one with a wrong ID",
          "[walker][spoof]") {
  Fixture f;
  ScriptedReply forged;
  forged.behaviour = Behaviour::wrong_opcode;
  forged.answer.push_back(rr("www.example.com. 300 IN A 6.6.6.6"));
  SECTION("one server forges, the other answers") {
    f.network.on(net::example_com_1, "www.example.com.", RRType::A, forged);
    auto r = f.resolve("www.example.com.", RRType::A);
    REQUIRE(r.rcode == Rcode::NOERROR);
    CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
    if (f.network.sent_to(net::example_com_1) > 0) CHECK(f.w().stats().spoofed_dropped >= 1);
  }
  SECTION("every reply has the wrong opcode: SERVFAIL, never the forged data") {
    f.network.on(net::example_com_1, "www.example.com.", RRType::A, forged);
    f.network.on(net::example_com_2, "www.example.com.", RRType::A, forged);
    auto r = f.resolve("www.example.com.", RRType::A);
    CHECK(r.rcode == Rcode::SERVFAIL);
    CHECK(r.answer.empty());
    CHECK(f.w().stats().spoofed_dropped >= 2);
    CHECK_FALSE(f.cache.rrsets()
                    .lookup(wire::Name::from_text("www.example.com."), RRType::A,
                            wire::RRClass::IN, f.loop.wall_seconds())
                    .has_value());
  }
}
