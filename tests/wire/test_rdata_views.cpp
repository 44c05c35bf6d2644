// Typed read views over rdata, the type-bitmap helper and the builders.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "wire/base_encoding.h"
#include "wire/rdata.h"
#include "wire/rdata_views.h"

using namespace sextant::wire;

namespace {

const char* kRootKsk20326 =
    "257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5"
    "xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+"
    "sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB"
    "5qihylGa8subX2Nn6UwNR1AkUTV74bU=";

// Every proper prefix of valid rdata must parse to nothing for the views
// whose layout has no open-ended tail, and must never read out of bounds.
template <typename View>
void check_prefixes_rejected(const Rdata& rdata) {
  for (size_t n = 0; n < rdata.size(); ++n) {
    INFO("prefix of " << n << " octets");
    CHECK_FALSE(View::parse(std::span(rdata).first(n)));
  }
  Rdata longer = rdata;
  longer.push_back(0);
  CHECK_FALSE(View::parse(longer));
}

}  // namespace

TEST_CASE("SOA, MX, SRV and single-name views", "[rdata][views]") {
  Rdata soa = rdata_from_text(RRType::SOA, "a.root-servers.net. nstld.verisign-grs.com. 2024041801 1800 900 604800 86400");
  auto view = SoaView::parse(soa);
  REQUIRE(view);
  CHECK(view->mname == Name::from_text("a.root-servers.net."));
  CHECK(view->rname == Name::from_text("nstld.verisign-grs.com."));
  CHECK(view->serial == 2024041801);
  CHECK(view->refresh == 1800);
  CHECK(view->retry == 900);
  CHECK(view->expire == 604800);
  CHECK(view->minimum == 86400);
  check_prefixes_rejected<SoaView>(soa);
  CHECK(make_soa_rdata(view->mname, view->rname, 2024041801, 1800, 900, 604800, 86400) == soa);

  Rdata mx = rdata_from_text(RRType::MX, "10 smtp.google.com.");
  auto mxv = MxView::parse(mx);
  REQUIRE(mxv);
  CHECK(mxv->preference == 10);
  CHECK(mxv->exchange == Name::from_text("smtp.google.com."));
  check_prefixes_rejected<MxView>(mx);
  CHECK(make_mx_rdata(10, mxv->exchange) == mx);

  Rdata srv = rdata_from_text(RRType::SRV, "1 5 5060 sip.example.com.");
  auto srvv = SrvView::parse(srv);
  REQUIRE(srvv);
  CHECK(srvv->priority == 1);
  CHECK(srvv->weight == 5);
  CHECK(srvv->port == 5060);
  CHECK(srvv->target == Name::from_text("sip.example.com."));
  check_prefixes_rejected<SrvView>(srv);

  Rdata cname = make_cname_rdata(Name::from_text("Target.Example."));
  CHECK(rdata_to_text(RRType::CNAME, cname) == "Target.Example.");
  auto target = TargetNameView::parse(cname);
  REQUIRE(target);
  CHECK(target->target.equals_exact(Name::from_text("Target.Example.")));
  check_prefixes_rejected<TargetNameView>(cname);
}

TEST_CASE("DNSKEY view: the root KSK and its key tag", "[rdata][views][dnssec]") {
  Rdata key = rdata_from_text(RRType::DNSKEY, kRootKsk20326);
  auto view = DnskeyView::parse(key);
  REQUIRE(view);
  CHECK(view->flags == 257);
  CHECK(view->protocol == 3);
  CHECK(view->algorithm == 8);
  CHECK(view->is_zone_key());
  CHECK(view->is_sep());
  CHECK_FALSE(view->revoked());
  CHECK(view->public_key.size() == 260);
  CHECK(view->key_tag() == 20326);
  CHECK(compute_key_tag(key) == 20326);
  // Setting the REVOKE bit changes the tag (RFC 5011 §3: by 128).
  Rdata revoked = key;
  revoked[1] |= 0x80;
  auto rv = DnskeyView::parse(revoked);
  REQUIRE(rv);
  CHECK(rv->revoked());
  CHECK(rv->key_tag() == 20326 + 128);
  CHECK_FALSE(DnskeyView::parse(std::span(key).first(3)));
  // A ZSK-shaped key: zone key without SEP.
  auto zsk = DnskeyView::parse(rdata_from_text(RRType::DNSKEY, "256 3 13 AQID"));
  REQUIRE(zsk);
  CHECK(zsk->is_zone_key());
  CHECK_FALSE(zsk->is_sep());
}

TEST_CASE("DS view", "[rdata][views][dnssec]") {
  Rdata ds = rdata_from_text(RRType::DS, "20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D");
  auto view = DsView::parse(ds);
  REQUIRE(view);
  CHECK(view->key_tag == 20326);
  CHECK(view->algorithm == 8);
  CHECK(view->digest_type == 2);
  CHECK(hex_encode(view->digest, true) == "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D");
  CHECK_FALSE(DsView::parse(std::span(ds).first(3)));
}

TEST_CASE("RRSIG view and the prefix a validator hashes", "[rdata][views][dnssec]") {
  Rdata sig = rdata_from_text(RRType::RRSIG, "SOA 8 0 86400 20240501170000 20240418160000 5613 Example. AQIDBA==");
  auto view = RrsigView::parse(sig);
  REQUIRE(view);
  CHECK(view->type_covered == RRType::SOA);
  CHECK(view->algorithm == 8);
  CHECK(view->labels == 0);
  CHECK(view->original_ttl == 86400);
  CHECK(view->expiration == 1714582800);  // 2024-05-01 17:00:00 UTC
  CHECK(view->inception == 1713456000);   // 2024-04-18 16:00:00 UTC
  CHECK(view->key_tag == 5613);
  CHECK(view->signer.equals_exact(Name::from_text("Example.")));
  CHECK(view->signature.size() == 4);
  CHECK(view->signature[0] == 1);
  CHECK(view->signature_offset == 18 + Name::from_text("Example.").wire_size());
  CHECK(view->signature_offset + view->signature.size() == sig.size());
  // The canonical prefix has the signer lower-cased, the rest unchanged.
  Rdata canonical = canonical_rdata(RRType::RRSIG, sig);
  Rdata prefix(canonical.begin(), canonical.begin() + static_cast<std::ptrdiff_t>(view->signature_offset));
  Rdata expected_prefix(sig.begin(), sig.begin() + static_cast<std::ptrdiff_t>(view->signature_offset));
  expected_prefix[19] = 'e';  // "Example." -> "example." (after 18 fixed octets and the length octet)
  CHECK(prefix == expected_prefix);
  for (size_t n = 0; n < view->signature_offset; ++n) CHECK_FALSE(RrsigView::parse(std::span(sig).first(n)));
}

TEST_CASE("type bitmaps: parse, has_type, build", "[rdata][views]") {
  // RFC 4034 §4.3: "host.example.com. A MX RRSIG NSEC TYPE1234".
  Rdata nsec = rdata_from_text(RRType::NSEC, "host.example.com. A MX RRSIG NSEC TYPE1234");
  Rdata expected_wire;
  REQUIRE(hex_decode("04686f7374076578616d706c6503636f6d00"
                     "0006400100000003041b000000000000000000000000000000000000000000000000000020",
                     expected_wire) == DecodeError::ok);
  CHECK(nsec == expected_wire);
  auto view = NsecView::parse(nsec);
  REQUIRE(view);
  CHECK(view->next == Name::from_text("host.example.com."));
  for (RRType t : {RRType::A, RRType::MX, RRType::RRSIG, RRType::NSEC, static_cast<RRType>(1234)})
    CHECK(view->types.has_type(t));
  for (RRType t : {RRType::NS, RRType::AAAA, RRType::DS, RRType::CAA, static_cast<RRType>(1235),
                   static_cast<RRType>(65535), static_cast<RRType>(0)})
    CHECK_FALSE(view->types.has_type(t));
  CHECK(view->types.types() ==
        std::vector<RRType>{RRType::A, RRType::MX, RRType::RRSIG, RRType::NSEC, static_cast<RRType>(1234)});
  std::vector<RRType> unordered = {static_cast<RRType>(1234), RRType::NSEC, RRType::A, RRType::RRSIG, RRType::MX, RRType::A};
  CHECK(make_nsec_rdata(Name::from_text("host.example.com."), unordered) == nsec);
  CHECK(build_type_bitmap(std::vector<RRType>{}).empty());
  CHECK(build_type_bitmap(std::vector<RRType>{static_cast<RRType>(65535)}) ==
        Rdata{0xFF, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  CHECK_FALSE(TypeBitmapView::parse(Rdata{0, 0}));
  CHECK_FALSE(TypeBitmapView::parse(Rdata{1, 1, 0x40, 0, 1, 0x40}));
  CHECK_FALSE(NsecView::parse(std::span(nsec).first(nsec.size() - 1)));
}

TEST_CASE("NSEC3 and NSEC3PARAM views (RFC 5155 Appendix A)", "[rdata][views][dnssec]") {
  Rdata nsec3 = rdata_from_text(RRType::NSEC3,
                                "1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )");
  auto view = Nsec3View::parse(nsec3);
  REQUIRE(view);
  CHECK(view->hash_algorithm == 1);
  CHECK(view->flags == 1);
  CHECK(view->opt_out());
  CHECK(view->iterations == 12);
  CHECK(hex_encode(view->salt) == "aabbccdd");
  CHECK(view->next_hashed_owner.size() == 20);
  CHECK(base32hex_encode(view->next_hashed_owner) == "2t7b4g4vsa5smi47k61mv5bv1a22bojr");
  CHECK(view->types.has_type(RRType::NSEC3PARAM));
  CHECK(view->types.has_type(RRType::SOA));
  CHECK_FALSE(view->types.has_type(RRType::DS));
  auto no_types = Nsec3View::parse(rdata_from_text(RRType::NSEC3, "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s"));
  REQUIRE(no_types);
  CHECK_FALSE(no_types->opt_out());
  CHECK(no_types->salt.empty());
  CHECK(no_types->types.empty());
  for (size_t n = 0; n < 30; ++n) CHECK_FALSE(Nsec3View::parse(std::span(nsec3).first(n)));

  Rdata param = rdata_from_text(RRType::NSEC3PARAM, "1 0 12 aabbccdd");
  auto pv = Nsec3ParamView::parse(param);
  REQUIRE(pv);
  CHECK(pv->hash_algorithm == 1);
  CHECK(pv->flags == 0);
  CHECK(pv->iterations == 12);
  CHECK(pv->salt.size() == 4);
  check_prefixes_rejected<Nsec3ParamView>(param);
}

TEST_CASE("builders for synthesised rdata", "[rdata][views]") {
  CHECK(rdata_to_text(RRType::A, make_a_rdata({127, 0, 0, 1})) == "127.0.0.1");
  CHECK(rdata_to_text(RRType::AAAA, make_aaaa_rdata({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})) == "::1");
  CHECK(rdata_to_text(RRType::PTR, make_ptr_rdata(Name::from_text("localhost."))) == "localhost.");
  std::vector<std::string_view> strings = {"Sextant", ""};
  CHECK(rdata_to_text(RRType::TXT, make_txt_rdata(strings)) == "\"Sextant\" \"\"");
  std::string long_string(256, 'x');
  std::vector<std::string_view> too_long = {long_string};
  CHECK_THROWS_AS(make_txt_rdata(too_long), TextError);
  CHECK_THROWS_AS(make_txt_rdata(std::span<const std::string_view>()), TextError);
}
