// Published vectors: RFC 5702 §6 (RSA/SHA-256, RSA/SHA-512), RFC 6605 §6
// (ECDSA P-256, P-384), RFC 8080 §6 (Ed25519, Ed448), RFC 4034 §5.4 and
// RFC 4509 §2.3 (key tag and DS digests), RFC 5155 Appendix A (NSEC3 hashes).
#include <catch2/catch.hpp>

#include "dnssec/algorithms.h"
#include "dnssec/digests.h"
#include "dnssec/key_chain.h"
#include "dnssec/rrsig_verify.h"
#include "test_helpers.h"
#include "wire/base_encoding.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

// The RRSIG rdata before the signature, from its fields.
wire::Rdata rrsig_header(RRType covered, uint8_t alg, uint8_t labels, uint32_t ttl, uint32_t exp,
                         uint32_t inc, uint16_t tag, std::string_view signer) {
  wire::Rdata out;
  out.reserve(18 + wire::Name::kMaxWireSize);  // also keeps GCC 12 -Warray-bounds quiet
  auto u16 = [&](uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  };
  u16(static_cast<uint16_t>(covered));
  out.push_back(alg);
  out.push_back(labels);
  u16(static_cast<uint16_t>(ttl >> 16));
  u16(static_cast<uint16_t>(ttl));
  u16(static_cast<uint16_t>(exp >> 16));
  u16(static_cast<uint16_t>(exp));
  u16(static_cast<uint16_t>(inc >> 16));
  u16(static_cast<uint16_t>(inc));
  u16(tag);
  const auto name = N(signer);
  out.insert(out.end(), name.wire().begin(), name.wire().end());
  return out;
}

// An RRSIG rdata = header + signature.
wire::Rdata rrsig_rdata(const wire::Rdata& header, const std::vector<uint8_t>& signature) {
  wire::Rdata out = header;
  out.insert(out.end(), signature.begin(), signature.end());
  return out;
}

wire::Rdata dnskey_rdata(uint16_t flags, uint8_t alg, std::string_view key_b64) {
  wire::Rdata out = {static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 3, alg};
  const auto key = b64(key_b64);
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

// The RFC 5702 and RFC 6605 examples sign "www.example.net. 3600 IN A".
wire::RRset www_a(std::string_view address) {
  return rrset("www.example.net.", RRType::A, 3600, {address});
}

const char* kRsa256Key =
    "AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=";
const char* kRsa256Sig =
    "kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==";
const char* kRsa512Key =
    "AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7"
    "cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL";
const char* kRsa512Sig =
    "tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/"
    "zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=";
const char* kP256Key =
    "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==";
const char* kP256Sig =
    "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==";
const char* kP384Key =
    "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8"
    "/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40";
const char* kP384Sig =
    "/L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuz"
    "WTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm";

}  // namespace

TEST_CASE("RFC 5702 6.1: RSA/SHA-256 example verifies (512-bit key loaded for the test)",
          "[dnssec][algorithms]") {
  const auto key_rdata = dnskey_rdata(256, 8, kRsa256Key);
  CHECK(key_tag(key_rdata) == 9033);
  auto set = www_a("192.0.2.91");
  const auto header = rrsig_header(RRType::A, 8, 3, 3600, 1893456000, 946684800, 9033, "example.net.");
  const auto data = signed_data(set, rrsig_rdata(header, b64(kRsa256Sig)));
  REQUIRE(!data.empty());

  PublicKey key;
  // Policy: 512-bit RSA is unsupported in validation ...
  CHECK(PublicKey::load(8, b64(kRsa256Key), key) == KeyError::rsa_key_too_small);
  // ... but the arithmetic is checked with the RFC's key all the same.
  REQUIRE(PublicKey::load(8, b64(kRsa256Key), key, 512) == KeyError::ok);
  CHECK(key.bits() == 512);
  CHECK(key.verify(b64(kRsa256Sig), data));
  auto tampered = data;
  tampered.back() ^= 1;  // 192.0.2.91 -> 192.0.2.90
  CHECK_FALSE(key.verify(b64(kRsa256Sig), tampered));
}

TEST_CASE("RFC 5702 6.2: RSA/SHA-512 example verifies", "[dnssec][algorithms]") {
  const auto key_rdata = dnskey_rdata(256, 10, kRsa512Key);
  CHECK(key_tag(key_rdata) == 3740);
  auto set = www_a("192.0.2.91");
  const auto header =
      rrsig_header(RRType::A, 10, 3, 3600, 1893456000, 946684800, 3740, "example.net.");
  const auto data = signed_data(set, rrsig_rdata(header, b64(kRsa512Sig)));
  PublicKey key;
  REQUIRE(PublicKey::load(10, b64(kRsa512Key), key) == KeyError::ok);  // 1024 bits: allowed
  CHECK(key.bits() == 1024);
  CHECK(key.verify(b64(kRsa512Sig), data));
  CHECK_FALSE(key.verify(b64(kRsa256Sig), data));

  // And through the RRset verifier, with the RFC's times.
  set.signatures.push_back(rrsig_rdata(header, b64(kRsa512Sig)));
  ZoneKeySet keys(N("example.net."), std::vector<wire::Rdata>{key_rdata});
  ValidationBudget budget;
  const auto result = verify_rrset(set, keys, 1000000000, budget);
  CHECK(result.status == RrsetStatus::secure);
  CHECK_FALSE(result.wildcard_expanded);
}

TEST_CASE("RFC 6605 6.1: ECDSA P-256 example verifies; DS digest matches", "[dnssec][algorithms]") {
  const auto key_rdata = dnskey_rdata(257, 13, kP256Key);
  CHECK(key_tag(key_rdata) == 55648);
  auto set = www_a("192.0.2.1");
  const auto header =
      rrsig_header(RRType::A, 13, 3, 3600, 1284026679, 1281607479, 55648, "example.net.");
  set.signatures.push_back(rrsig_rdata(header, b64(kP256Sig)));
  CHECK(verify_signature(13, b64(kP256Key), b64(kP256Sig), signed_data(set, set.signatures[0])));

  const auto digest = ds_digest(2, N("example.net."), key_rdata);
  REQUIRE(digest);
  CHECK(wire::hex_encode(*digest) ==
        "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17");

  ZoneKeySet keys(N("example.net."), std::vector<wire::Rdata>{key_rdata});
  ValidationBudget budget;
  CHECK(verify_rrset(set, keys, 1282000000, budget).secure());
  // Outside the validity period.
  CHECK(verify_rrset(set, keys, 1290000000, budget).status == RrsetStatus::signature_expired);
  CHECK(verify_rrset(set, keys, 1270000000, budget).status ==
        RrsetStatus::signature_not_yet_valid);
}

TEST_CASE("RFC 6605 6.2: ECDSA P-384 example verifies; SHA-384 DS digest matches",
          "[dnssec][algorithms]") {
  const auto key_rdata = dnskey_rdata(257, 14, kP384Key);
  CHECK(key_tag(key_rdata) == 10771);
  auto set = www_a("192.0.2.1");
  const auto header =
      rrsig_header(RRType::A, 14, 3, 3600, 1284027625, 1281608425, 10771, "example.net.");
  const auto data = signed_data(set, rrsig_rdata(header, b64(kP384Sig)));
  CHECK(verify_signature(14, b64(kP384Key), b64(kP384Sig), data));
  auto wrong = b64(kP384Sig);
  wrong[10] ^= 0x40;
  CHECK_FALSE(verify_signature(14, b64(kP384Key), wrong, data));

  const auto digest = ds_digest(4, N("example.net."), key_rdata);
  REQUIRE(digest);
  CHECK(wire::hex_encode(*digest) ==
        "72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0"
        "563a9b5f4d288405c3008a946df983d6");
}

TEST_CASE("RFC 8080 6: Ed25519 and Ed448 examples verify", "[dnssec][algorithms]") {
  // The RFC's RRSIGs carry labels 3 for the two-label owner example.com (an
  // erratum); the signatures were computed over that rdata, so the signed
  // data is assembled here as the signer did: header + the canonical MX RR.
  auto build = [](const wire::Rdata& header) {
    std::vector<uint8_t> data = header;
    const auto owner = N("example.com.");
    data.insert(data.end(), owner.wire().begin(), owner.wire().end());
    const auto mx = rd(RRType::MX, "10 mail.example.com.");
    const uint8_t fixed[] = {0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, static_cast<uint8_t>(mx.size())};
    data.insert(data.end(), std::begin(fixed), std::end(fixed));
    data.insert(data.end(), mx.begin(), mx.end());
    return data;
  };
  SECTION("Ed25519") {
    const char* key = "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=";
    const char* sig =
        "Edk+IB9KNNWg0HAjm7FazXyrd5m3Rk8zNZbvNpAcM+eysqcUOMIjWoevFkjH5GaMWeG96GUVZu6ECKOQmemHDg==";
    CHECK(key_tag(dnskey_rdata(257, 15, key)) == 3613);
    const auto data =
        build(rrsig_header(RRType::MX, 15, 3, 3600, 1440021600, 1438207200, 3613, "example.com."));
    CHECK(verify_signature(15, b64(key), b64(sig), data));
    auto other = data;
    other[other.size() - 5] ^= 0x20;  // "mail" -> "mAil"
    CHECK_FALSE(verify_signature(15, b64(key), b64(sig), other));
  }
  SECTION("Ed448") {
    const char* key =
        "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA";
    const char* sig =
        "Nmc0rgGKpr3GKYXcB1JmqqS4NYwhmechvJTqVzt3jR+Qy/lSLFoIk1L+9e39GPL+5tVzDPN3f9kAwiu8KCuPPjtl22"
        "7ayaCZtRKZuJax7n9NuYlZJIusX0SOIOKBGzG+yWYtz1/jjbzl5GGkWvREUCUA";
    CHECK(key_tag(dnskey_rdata(257, 16, key)) == 9713);
    const auto data =
        build(rrsig_header(RRType::MX, 16, 3, 3600, 1440021600, 1438207200, 9713, "example.com."));
    CHECK(verify_signature(16, b64(key), b64(sig), data));
    CHECK_FALSE(verify_signature(16, b64(key), b64(sig), std::vector<uint8_t>(data.begin(), data.end() - 1)));
  }
}

TEST_CASE("RFC 4034 5.4 and RFC 4509 2.3: key tag and DS digests of dskey.example.com",
          "[dnssec][digests]") {
  const auto key = dnskey_rdata(
      256, 5,
      "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd"
      "/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==");
  CHECK(key_tag(key) == 60485);
  const auto sha1 = ds_digest(1, N("dskey.example.com."), key);
  REQUIRE(sha1);
  CHECK(wire::hex_encode(*sha1) == "2bb183af5f22588179a53b0a98631fad1a292118");
  // Owner case must not matter: the digest uses the canonical name.
  const auto sha256 = ds_digest(2, N("DSKEY.Example.COM."), key);
  REQUIRE(sha256);
  CHECK(wire::hex_encode(*sha256) ==
        "d4b7d520e7bb5f0f67674a0cceb1e3e0614b93c4f9e99b8383f6a1e4469da50a");
  CHECK_FALSE(ds_digest(3, N("dskey.example.com."), key));  // GOST: unsupported
  const auto ds = rd(RRType::DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118");
  CHECK(ds_matches_dnskey(N("dskey.example.com."), ds, key));
  CHECK_FALSE(ds_matches_dnskey(N("other.example.com."), ds, key));
}

TEST_CASE("the embedded root DS records match the root KSK DNSKEYs", "[dnssec][digests]") {
  // /usr/share/dns/root.key (KSK-2017); tag and SHA-256 digest as IANA publishes.
  const auto ksk2017 = rd(
      RRType::DNSKEY,
      "257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4"
      "+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK"
      "/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnX"
      "GXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=");
  CHECK(key_tag(ksk2017) == 20326);
  CHECK(ds_matches_dnskey(
      wire::Name(), rd(RRType::DS, "20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"),
      ksk2017));
}

TEST_CASE("algorithm and key support", "[dnssec][algorithms]") {
  // RFC 8624 §3.1: MUST or RECOMMENDED for validation.
  for (uint8_t alg : {5, 7, 8, 10, 13, 14, 15, 16}) CHECK(is_supported_algorithm(alg));
  // RSAMD5 and DSA (MUST NOT), GOST (MAY), unassigned, private.
  for (uint8_t alg : {0, 1, 2, 3, 6, 12, 17, 253, 254}) CHECK_FALSE(is_supported_algorithm(alg));
  PublicKey key;
  CHECK(PublicKey::load(3, b64(kRsa256Key), key) == KeyError::unsupported_algorithm);
  CHECK(PublicKey::load(12, std::vector<uint8_t>(64, 7), key) == KeyError::unsupported_algorithm);
  CHECK(PublicKey::load(5, b64(kRsa256Key), key) == KeyError::rsa_key_too_small);  // 512 bits
  CHECK(PublicKey::load(7, b64(kRsa256Key), key) == KeyError::rsa_key_too_small);
  CHECK(PublicKey::load(5, b64(kRsa512Key), key) == KeyError::ok);  // 1024 bits
  CHECK(PublicKey::load(13, b64(kP384Key), key) == KeyError::malformed_key);  // wrong size
  std::vector<uint8_t> off_curve(64, 0x01);
  CHECK(PublicKey::load(13, off_curve, key) == KeyError::crypto_error);
  CHECK(PublicKey::load(8, std::vector<uint8_t>{}, key) == KeyError::malformed_key);
  CHECK(PublicKey::load(8, std::vector<uint8_t>{0, 0}, key) == KeyError::malformed_key);
  CHECK(PublicKey::load(8, std::vector<uint8_t>{3, 1, 0, 1}, key) == KeyError::malformed_key);
  std::vector<uint8_t> long_exponent = {9, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  long_exponent.resize(10 + 128, 0xff);
  CHECK(PublicKey::load(8, long_exponent, key) == KeyError::rsa_key_too_large);
  CHECK(PublicKey::load(15, std::vector<uint8_t>(31, 1), key) == KeyError::malformed_key);
  CHECK_FALSE(verify_signature(13, b64(kP256Key), std::vector<uint8_t>(63, 1), std::vector<uint8_t>{1}));
  CHECK(is_supported_digest(1));
  CHECK(is_supported_digest(2));
  CHECK(is_supported_digest(4));
  CHECK_FALSE(is_supported_digest(3));
  CHECK_FALSE(is_supported_digest(0));
}

TEST_CASE("generated keys of every supported algorithm sign and verify", "[dnssec][algorithms]") {
  for (uint8_t alg : {5, 7, 8, 10, 13, 14, 15, 16}) {
    TestKey key(alg, 256, 1024);
    auto set = rrset("www.example.", RRType::A, 300, {"192.0.2.1", "192.0.2.2"});
    key.sign(set, N("example."));
    ZoneKeySet keys(N("example."), std::vector<wire::Rdata>{key.dnskey()});
    ValidationBudget budget;
    INFO("algorithm " << int(alg));
    CHECK(verify_rrset(set, keys, kNow, budget).secure());
  }
}

// Signed by another implementation: ldns 1.8.3 (ldns-keygen -a RSASHA1 /
// RSASHA1-NSEC3-SHA1 -b 1024, ldns-signzone -i 20251201000000
// -e 20360101000000), DS digests by ldns-key2ds -1 / -2.
TEST_CASE("RSA/SHA-1 (5) and RSASHA1-NSEC3-SHA1 (7) signatures made by ldns verify; SHA-1 DS match",
          "[dnssec][algorithms]") {
  struct Vector {
    const char* zone;
    uint8_t algorithm;
    uint16_t tag;
    const char* key;
    const char* rrsig;
    const char* ds_sha1;
  };
  const Vector vectors[] = {
      {"sha1.example.", 5, 37986,
       "AwEAAcDK3tttJKupDg9f1wRaqhnNQbYOrV1a/2pl1aOnjaQi/FYg4yRjm2TX94QdUdwK/jLFYOzjw0/P1gaWtVvrJrUo"
       "ZfhCy60CnWM4Eqe9iiRPGtZugUYF62480i14aRN22zD01AZjcLe8+gbpaFTeOug1dO0T/2B4Pujk+CPDLjcj",
       "A 5 3 3600 20360101000000 20251201000000 37986 sha1.example. kh6zPJnkzAOuSZOURrS6pGrjJxMPs97Mt"
       "Z7Erh+8+eF95WUxzZ13+ysx74+EFoaJjCiQHDFyWcqPQumdUiosas/RInBH3lRpKBoRWsLyaRrG54Wgyou79H4pUFZzDqfH"
       "jzWR/ynU2iuqm9TMCEBXo1C1DKg5DGeSmqrvw2iZMzo=",
       "37986 5 1 1bad8c918b63d3516903b26387eac0ba84ec729f"},
      {"nsec3sha1.example.", 7, 39464,
       "AwEAAc+LGJhQcF2LahmnMScGGWo6hjRq1t+L4auvWhxxgtlz0ZPxLMD5j9eaCrsATK9NpE8Prq9DVbfBkkECAhWrSCOe"
       "vJpWu9iCXDgkcCy/oE2BLJVQUxmpwzcGk9SkPlygsqXPbcUOuIvo+/tltcbq5HW74S3O2tS3KbJ1kOHXDwjP",
       "A 7 3 3600 20360101000000 20251201000000 39464 nsec3sha1.example. YrgKVUG4vQz/mRcYbJbl92kWrIB5q"
       "hvXAWPmdm8Qv1Jz4ii/hCQ2lxnynzA45P0nxHwO7AThVaRAtv9EATcVZG0d8YqUMdspBiHOu2DIRmu5ZVYwDtKJ5YbKdZ+Z"
       "LJADgi+IZrJuqvHVchh0B54A+xSB5bxIG4zMC6JgThsPmeM=",
       "39464 7 1 56bdba21ddde17ad5957645f232e5790d220ae5f"},
  };
  for (const Vector& v : vectors) {
    INFO(v.zone);
    const wire::Rdata dnskey = dnskey_rdata(256, v.algorithm, v.key);
    CHECK(key_tag(dnskey) == v.tag);
    auto www = rrset(std::string("www.") + v.zone, RRType::A, 3600, {"192.0.2.1", "192.0.2.2"});
    www.signatures.push_back(rd(RRType::RRSIG, v.rrsig));
    ZoneKeySet keys(N(v.zone), std::vector<wire::Rdata>{dnskey});
    ValidationBudget budget;
    const auto check = verify_rrset(www, keys, kNow, budget);
    INFO(check.reason);
    CHECK(check.secure());
    // One bit off in the data: the signature no longer holds.
    auto forged = www;
    forged.rdatas[1] = rd(RRType::A, "192.0.2.3");
    CHECK_FALSE(verify_rrset(forged, keys, kNow, budget).secure());
    // SHA-1 DS (digest type 1) is a supported digest: it matches the key.
    CHECK(ds_matches_dnskey(N(v.zone), rd(RRType::DS, v.ds_sha1), dnskey));
  }
}

TEST_CASE("RFC 5155 Appendix A: NSEC3 hashes", "[dnssec][digests]") {
  const auto salt = hex("aabbccdd");
  const std::pair<const char*, const char*> vectors[] = {
      {"example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
      {"a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
      {"ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"},
      {"ns1.example", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
      {"ns2.example", "q04jkcevqvmu85r014c7dkba38o0ji5r"},
      {"w.example", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
      {"*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
      {"x.w.example", "b4um86eghhds6nea196smvmlo4ors995"},
      {"y.w.example", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"},
      {"x.y.w.example", "2vptu5timamqttgl4luu9kg21e0aor3s"},
      {"xx.example", "t644ebqk9bibcna874givr6joj62mlhv"},
      {"2t7b4g4vsa5smi47k61mv5bv1a22bojr.example", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi"},
      {"X.W.EXAMPLE", "b4um86eghhds6nea196smvmlo4ors995"},
  };
  for (const auto& [name, expected] : vectors) {
    const auto hash = nsec3_hash(N(name), salt, 12);
    REQUIRE(hash);
    CHECK(wire::base32hex_encode(*hash) == expected);
  }
}
