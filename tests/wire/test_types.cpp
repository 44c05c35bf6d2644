#include <catch2/catch.hpp>

#include "wire/types.h"

using namespace sextant::wire;

TEST_CASE("RR type mnemonics both ways", "[types]") {
  CHECK(to_string(RRType::A) == "A");
  CHECK(to_string(RRType::NSEC3PARAM) == "NSEC3PARAM");
  CHECK(to_string(RRType::HTTPS) == "HTTPS");
  CHECK(to_string(RRType::CAA) == "CAA");
  CHECK(to_string(static_cast<RRType>(29)) == "LOC");
  CHECK(to_string(static_cast<RRType>(65534)) == "TYPE65534");
  CHECK(to_string(static_cast<RRType>(0)) == "TYPE0");
  CHECK(rrtype_from_text("aaaa") == RRType::AAAA);
  CHECK(rrtype_from_text("NSEC3param") == RRType::NSEC3PARAM);
  CHECK(rrtype_from_text("TYPE1") == RRType::A);
  CHECK(rrtype_from_text("type65535") == static_cast<RRType>(65535));
  CHECK(rrtype_from_text("NSAP-PTR") == static_cast<RRType>(23));
  CHECK_FALSE(rrtype_from_text("TYPE65536"));
  CHECK_FALSE(rrtype_from_text("TYPE"));
  CHECK_FALSE(rrtype_from_text("TYPE1x"));
  CHECK_FALSE(rrtype_from_text("TYPE-1"));
  CHECK_FALSE(rrtype_from_text("TYPE0000001"));
  CHECK_FALSE(rrtype_from_text(""));
  CHECK_FALSE(rrtype_from_text("BOGUS"));
  // Every mnemonic reads back as itself.
  for (unsigned v = 0; v <= 0xFFFF; ++v) {
    auto t = static_cast<RRType>(v);
    auto back = rrtype_from_text(to_string(t));
    REQUIRE(back);
    REQUIRE(*back == t);
  }
}

TEST_CASE("RR class mnemonics both ways", "[types]") {
  CHECK(to_string(RRClass::IN) == "IN");
  CHECK(to_string(RRClass::CH) == "CH");
  CHECK(to_string(static_cast<RRClass>(42)) == "CLASS42");
  CHECK(rrclass_from_text("in") == RRClass::IN);
  CHECK(rrclass_from_text("CLASS3") == RRClass::CH);
  CHECK(rrclass_from_text("ANY") == RRClass::ANY);
  CHECK_FALSE(rrclass_from_text("CLASS70000"));
  CHECK_FALSE(rrclass_from_text("INET"));
  for (unsigned v = 0; v <= 0xFFFF; ++v) {
    auto c = static_cast<RRClass>(v);
    REQUIRE(rrclass_from_text(to_string(c)) == c);
  }
}

TEST_CASE("rcode, opcode and EDE names", "[types]") {
  CHECK(to_string(Rcode::NXDOMAIN) == "NXDOMAIN");
  CHECK(to_string(Rcode::BADCOOKIE) == "BADCOOKIE");
  CHECK(to_string(static_cast<Rcode>(11)) == "RCODE11");
  CHECK(to_string(Opcode::NOTIFY) == "NOTIFY");
  CHECK(to_string(static_cast<Opcode>(3)) == "OPCODE3");
  CHECK(std::string(to_string(EdeCode::DnssecBogus)) == "DNSSEC Bogus");
  CHECK(std::string(to_string(EdeCode::NoReachableAuthority)) == "No Reachable Authority");
  CHECK(std::string(to_string(static_cast<EdeCode>(500))) == "Unassigned");
}

TEST_CASE("meta types", "[types]") {
  CHECK(is_meta_type(RRType::OPT));
  CHECK(is_meta_type(RRType::ANY));
  CHECK(is_meta_type(RRType::AXFR));
  CHECK_FALSE(is_meta_type(RRType::CAA));
  CHECK_FALSE(is_meta_type(RRType::A));
}
