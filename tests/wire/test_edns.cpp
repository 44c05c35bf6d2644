#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "tests/wire/test_message_helpers.h"
#include "wire/edns.h"
#include "wire/message.h"
#include "wire/message_builder.h"

using namespace sextant::wire;
using sextant::wire::testing::PacketWriter;

namespace {

// Puts `edns` into a query, builds it, parses it back and returns the Edns.
Edns through_the_wire(const Edns& edns) {
  Message m;
  m.header.id = 1;
  m.questions.push_back({Name::from_text("example."), RRType::A, RRClass::IN});
  m.edns = edns;
  std::vector<uint8_t> wire;
  REQUIRE(build_message(m, wire) == WireError::ok);
  Message parsed;
  REQUIRE(Message::parse(wire, parsed) == WireError::ok);
  REQUIRE(parsed.edns);
  return *parsed.edns;
}

}  // namespace

TEST_CASE("cookie option round-trips and rejects bad lengths", "[edns]") {
  CookieOption c;
  c.client = {1, 2, 3, 4, 5, 6, 7, 8};
  EdnsOption client_only = encode(c);
  CHECK(client_only.code == 10);
  CHECK(client_only.data.size() == 8);
  CookieOption back;
  REQUIRE(decode_cookie(client_only.data, back) == WireError::ok);
  CHECK(back == c);

  for (uint8_t server : {8, 17, 32}) {
    c.server_size = server;
    for (uint8_t i = 0; i < server; ++i) c.server[i] = static_cast<uint8_t>(i * 7);
    Edns e;
    e.add(encode(c));
    Edns parsed = through_the_wire(e);
    REQUIRE(decode_cookie(parsed.options.at(0).data, back) == WireError::ok);
    CHECK(back == c);
    CHECK(back.server_cookie().size() == server);
  }
  for (size_t bad : {0, 1, 7, 9, 15, 41, 64}) {
    std::vector<uint8_t> data(bad, 0x55);
    CHECK(decode_cookie(data, back) == WireError::bad_opt);
  }
}

TEST_CASE("client subnet option round-trips and enforces RFC 7871 layout", "[edns]") {
  const uint8_t v4[] = {198, 51, 100, 77};
  ClientSubnetOption o;
  REQUIRE(ClientSubnetOption::from_address(ClientSubnetOption::kFamilyIPv4, v4, 20, 0, o) ==
          WireError::ok);
  CHECK(o.address[0] == 198);
  CHECK(o.address[1] == 51);
  CHECK(o.address[2] == 96);  // 100 masked to 20 bits
  EdnsOption opt = encode(o);
  CHECK(opt.code == 8);
  CHECK(opt.data == std::vector<uint8_t>{0, 1, 20, 0, 198, 51, 96});
  ClientSubnetOption back;
  REQUIRE(decode_client_subnet(opt.data, back) == WireError::ok);
  CHECK(back == o);

  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  REQUIRE(ClientSubnetOption::from_address(ClientSubnetOption::kFamilyIPv6, v6, 56, 48, o) ==
          WireError::ok);
  Edns e;
  e.add(encode(o));
  Edns parsed = through_the_wire(e);
  REQUIRE(decode_client_subnet(parsed.options.at(0).data, back) == WireError::ok);
  CHECK(back == o);
  CHECK(parsed.options[0].data.size() == 4 + 7);

  // Source prefix 0: no address octets at all.
  REQUIRE(decode_client_subnet(std::vector<uint8_t>{0, 1, 0, 0}, back) == WireError::ok);

  CHECK(ClientSubnetOption::from_address(3, v4, 8, 0, o) == WireError::bad_opt);
  CHECK(ClientSubnetOption::from_address(1, v4, 33, 0, o) == WireError::bad_opt);
  CHECK(ClientSubnetOption::from_address(2, v4, 8, 0, o) == WireError::bad_opt);
  const std::vector<std::vector<uint8_t>> malformed = {
      {0, 1, 24},                        // too short for the fixed part
      {0, 3, 8, 0, 10},                  // unknown family
      {0, 1, 33, 0, 1, 2, 3, 4, 5},      // prefix beyond 32
      {0, 1, 8, 33, 10},                 // scope beyond 32
      {0, 1, 24, 0, 10, 0},              // address shorter than the prefix
      {0, 1, 8, 0, 10, 0},               // address longer than the prefix
      {0, 1, 20, 0, 198, 51, 100},       // bits set past the prefix
      {0, 2, 129, 0},                    // IPv6 prefix beyond 128
  };
  for (const auto& data : malformed) {
    INFO("option data size " << data.size());
    CHECK(decode_client_subnet(data, back) == WireError::bad_opt);
  }
}

TEST_CASE("padding option round-trips and accepts any content", "[edns]") {
  EdnsOption opt = encode(PaddingOption{37});
  CHECK(opt.code == 12);
  CHECK(opt.data == std::vector<uint8_t>(37, 0));
  PaddingOption back;
  REQUIRE(decode_padding(opt.data, back) == WireError::ok);
  CHECK(back.length == 37);
  REQUIRE(decode_padding(std::vector<uint8_t>{1, 2, 3}, back) == WireError::ok);
  CHECK(back.length == 3);
  Edns e;
  e.add(opt);
  CHECK(through_the_wire(e).options == e.options);
}

TEST_CASE("tcp keepalive option is empty or two octets", "[edns]") {
  TcpKeepaliveOption empty;
  EdnsOption opt = encode(empty);
  CHECK(opt.code == 11);
  CHECK(opt.data.empty());
  TcpKeepaliveOption back;
  back.timeout = 5;
  REQUIRE(decode_tcp_keepalive(opt.data, back) == WireError::ok);
  CHECK_FALSE(back.timeout);

  TcpKeepaliveOption timed{1200};
  Edns e;
  e.add(encode(timed));
  Edns parsed = through_the_wire(e);
  REQUIRE(decode_tcp_keepalive(parsed.options.at(0).data, back) == WireError::ok);
  REQUIRE(back.timeout);
  CHECK(*back.timeout == 1200);

  CHECK(decode_tcp_keepalive(std::vector<uint8_t>{1}, back) == WireError::bad_opt);
  CHECK(decode_tcp_keepalive(std::vector<uint8_t>{1, 2, 3}, back) == WireError::bad_opt);
}

TEST_CASE("extended DNS error round-trips and requires UTF-8 text", "[edns]") {
  ExtendedErrorOption ede{static_cast<uint16_t>(EdeCode::DnssecBogus), "signature expired \xE2\x9C\x97"};
  EdnsOption opt = encode(ede);
  CHECK(opt.code == 15);
  Edns e;
  e.add(opt);
  e.add_extended_error(EdeCode::NetworkError);
  Edns parsed = through_the_wire(e);
  REQUIRE(parsed.options.size() == 2);
  ExtendedErrorOption back;
  REQUIRE(decode_extended_error(parsed.options[0].data, back) == WireError::ok);
  CHECK(back == ede);
  CHECK(back.code() == EdeCode::DnssecBogus);
  REQUIRE(decode_extended_error(parsed.options[1].data, back) == WireError::ok);
  CHECK(back.code() == EdeCode::NetworkError);
  CHECK(back.extra_text.empty());

  CHECK(decode_extended_error(std::vector<uint8_t>{0}, back) == WireError::bad_opt);
  CHECK(decode_extended_error(std::vector<uint8_t>{0, 6, 0xFF}, back) == WireError::bad_opt);
  CHECK(decode_extended_error(std::vector<uint8_t>{0, 6, 0xC0, 0x80}, back) == WireError::bad_opt);  // overlong
  CHECK(decode_extended_error(std::vector<uint8_t>{0, 6, 0xED, 0xA0, 0x80}, back) == WireError::bad_opt);  // surrogate
  CHECK(decode_extended_error(std::vector<uint8_t>{0, 6, 0xE2, 0x9C}, back) == WireError::bad_opt);  // cut short
}

TEST_CASE("unknown options survive verbatim and in order", "[edns]") {
  Edns e;
  e.udp_payload_size = 4096;
  e.version = 0;
  e.flags = Edns::kDoBit | 0x0001;  // an unassigned Z bit is kept
  e.add(EdnsOption{65000, {9, 8, 7}});
  e.add(encode(PaddingOption{4}));
  e.add(EdnsOption{3, {}});  // NSID, empty
  e.add(EdnsOption{65000, {1}});
  Edns parsed = through_the_wire(e);
  CHECK(parsed == e);
  CHECK(parsed.validate_known_options() == WireError::ok);
  CHECK(parsed.find(65000)->data == std::vector<uint8_t>{9, 8, 7});
  CHECK(parsed.find(EdnsOptionCode::Cookie) == nullptr);
}

TEST_CASE("validate_known_options reports malformed known options", "[edns]") {
  Edns e;
  e.add(EdnsOption{static_cast<uint16_t>(EdnsOptionCode::Cookie), {1, 2, 3}});
  CHECK(e.validate_known_options() == WireError::bad_opt);
  // A message carrying it still parses: framing is fine, content is the
  // decoder's business.
  Edns parsed = through_the_wire(e);
  CHECK(parsed.validate_known_options() == WireError::bad_opt);
}

TEST_CASE("OPT fields decode from class and TTL", "[edns]") {
  Edns e;
  REQUIRE(Edns::from_opt_record(4096, 0x01008000, {}, e) == WireError::ok);
  CHECK(e.udp_payload_size == 4096);
  CHECK(e.extended_rcode == 1);
  CHECK(e.version == 0);
  CHECK(e.dnssec_ok());
  CHECK(e.opt_ttl() == 0x01008000);
  const std::vector<uint8_t> truncated_option = {0, 10, 0, 8, 1, 2, 3};
  CHECK(Edns::from_opt_record(1232, 0, truncated_option, e) == WireError::bad_opt);
  const std::vector<uint8_t> truncated_code = {0, 10, 0};
  CHECK(Edns::from_opt_record(1232, 0, truncated_code, e) == WireError::bad_opt);
}

TEST_CASE("EDNS version and flags survive a build", "[edns]") {
  Edns e;
  e.version = 1;
  e.udp_payload_size = 512;
  Edns parsed = through_the_wire(e);
  CHECK(parsed.version == 1);
  CHECK(parsed.udp_payload_size == 512);
  CHECK_FALSE(parsed.dnssec_ok());
  CHECK_THAT(parsed.to_text(), Catch::Contains("version: 1"));
}

TEST_CASE("EDE text is rendered without control characters", "[edns]") {
  Edns e;
  e.add_extended_error(EdeCode::Other, "line one\nline two");
  std::string text = e.to_text();
  CHECK_THAT(text, Catch::Contains("line one\\010line two"));
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);  // EDNS line + EDE line
}
