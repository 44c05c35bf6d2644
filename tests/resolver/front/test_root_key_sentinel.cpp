// RFC 8509 root-key-sentinel labels (resolver/front/root_key_sentinel.h):
// which names are sentinels, and which answers become SERVFAIL for a given
// set of root trust anchors. The pipeline applies it to secure A/AAAA
// answers only (checked end to end in tests/integration/sentinel_test.py).
#include <catch2/catch.hpp>

#include "dnssec/record_fields.h"
#include "resolver/front/root_key_sentinel.h"
#include "tests/dnssec/test_helpers.h"

using namespace sextant;
using namespace sextant::resolver;
using Kind = RootKeySentinel::Kind;

namespace {

RootKeySentinel parse(std::string_view name) {
  return parse_root_key_sentinel(wire::Name::from_text(name));
}

}  // namespace

TEST_CASE("root key sentinel: the two labels, five decimal digits", "[sentinel]") {
  auto s = parse("root-key-sentinel-is-ta-20326.example.");
  CHECK(s.kind == Kind::is_ta);
  CHECK(s.key_tag == 20326);
  s = parse("ROOT-Key-Sentinel-NOT-ta-00042.sub.example.");
  CHECK(s.kind == Kind::not_ta);
  CHECK(s.key_tag == 42);
  CHECK(parse("root-key-sentinel-is-ta-65535.").key_tag == 65535);
  // Not sentinels: other lengths, a tag above 65535, letters, the label
  // anywhere but first, other prefixes, the root.
  for (std::string_view name : {"root-key-sentinel-is-ta-2032.example.", "root-key-sentinel-is-ta-203260.example.",
                                "root-key-sentinel-is-ta-65536.example.", "root-key-sentinel-is-ta-2o326.example.",
                                "www.root-key-sentinel-is-ta-20326.example.",
                                "root-key-sentinel-xx-ta-20326.example.", "kskroll-sentinel-is-ta-20326.example.",
                                "www.example.", "."}) {
    INFO(name);
    CHECK(parse(name).kind == Kind::none);
  }
}

TEST_CASE("root key sentinel: SERVFAIL when is-ta names no trust anchor or not-ta names one",
          "[sentinel]") {
  dnssec::test::TestKey ksk(13, 257);
  dnssec::TrustAnchors anchors;
  anchors.add_ds(wire::Name(), ksk.ds(wire::Name()));
  anchors.add_ds(wire::Name::from_text("example."), dnssec::test::TestKey(13, 257).ds(wire::Name::from_text("example.")));
  const uint16_t trusted = ksk.tag();
  const uint16_t other = static_cast<uint16_t>(trusted + 1);
  CHECK_FALSE(sentinel_fails({Kind::is_ta, trusted}, &anchors));
  CHECK(sentinel_fails({Kind::not_ta, trusted}, &anchors));
  CHECK(sentinel_fails({Kind::is_ta, other}, &anchors));
  CHECK_FALSE(sentinel_fails({Kind::not_ta, other}, &anchors));
  CHECK_FALSE(sentinel_fails({Kind::none, trusted}, &anchors));
  // Only the root's anchors count.
  const auto* example = anchors.find(wire::Name::from_text("example."));
  dnssec::DsFields ds;
  REQUIRE(dnssec::read_ds(example->ds[0], ds));
  CHECK(sentinel_fails({Kind::is_ta, ds.key_tag}, &anchors) == (ds.key_tag != trusted));
  // No anchors at all: no root key is trusted.
  CHECK(sentinel_fails({Kind::is_ta, trusted}, nullptr));
  CHECK_FALSE(sentinel_fails({Kind::not_ta, trusted}, nullptr));
  // A managed root whose keys are all revoked trusts no key.
  dnssec::TrustAnchors revoked;
  revoked.add_zone(wire::Name());
  CHECK(sentinel_fails({Kind::is_ta, trusted}, &revoked));
}
