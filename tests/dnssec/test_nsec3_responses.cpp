// Whole responses with NSEC3 denial through validate_response (signatures
// checked): every example of RFC 5155 Appendix B, with the zone of
// Appendix A (salt aabbccdd, 12 iterations) re-signed with generated keys
// (the RFC's keys are 512-bit RSA, which this validator does not accept).
// Each response is secure as the RFC gives it, and bogus (EDE 12, NSEC
// Missing) when one of the NSEC3 records it needs is left out: the closest
// encloser, the next closer name's cover, or the wildcard's. CNAME chains
// through wildcards need the wildcard proof of every expanded link plus the
// denial at the end of the chain.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>

#include "dnssec/key_chain.h"
#include "dnssec/validator.h"
#include "test_helpers.h"
#include "wire/base_encoding.h"

using namespace sextant;
using namespace sextant::dnssec;
using namespace sextant::dnssec::test;
using wire::RRType;

namespace {

// RFC 5155 Appendix A: the NSEC3 chain of "example." (hash -> next hash and
// types), and which name each hash belongs to.
struct Appendix {
  const char* hash;
  const char* name;
  const char* next_and_types;
};
const Appendix kChain[] = {
    {"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "example.",
     "2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG"},
    {"2t7b4g4vsa5smi47k61mv5bv1a22bojr", "ns1.example.", "2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"},
    {"2vptu5timamqttgl4luu9kg21e0aor3s", "x.y.w.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl MX RRSIG"},
    {"35mthgpgcu1qg68fab165klnsnk3dpvl", "a.example.", "b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG"},
    {"b4um86eghhds6nea196smvmlo4ors995", "x.w.example.", "gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG"},
    {"gjeqe526plbf1g8mklp59enfd789njgi", "ai.example.",
     "ji6neoaepv8b5o6k4ev33abha8ht9fgc A HINFO AAAA RRSIG"},
    {"ji6neoaepv8b5o6k4ev33abha8ht9fgc", "y.w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
    {"k8udemvp1j2f7eg6jebps17vp3n8i58h", "w.example.", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi"},
    {"kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
     "q04jkcevqvmu85r014c7dkba38o0ji5r A RRSIG"},
    {"q04jkcevqvmu85r014c7dkba38o0ji5r", "ns2.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en A RRSIG"},
    {"r53bq7cc2uvmubfu5ocmm6pers9tk9en", "*.w.example.", "t644ebqk9bibcna874givr6joj62mlhv MX RRSIG"},
    {"t644ebqk9bibcna874givr6joj62mlhv", "xx.example.",
     "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A HINFO AAAA RRSIG"},
};

// The zone's keys, established as the walker would; NSEC3 records signed.
struct Nsec3Example {
  TestKey ksk{13, 257};
  TestKey zsk{13, 256};
  KnownZones zones;
  int flags;

  explicit Nsec3Example(int nsec3_flags = 0) : flags(nsec3_flags) {
    wire::RRset dnskeys = rrset("example.", RRType::DNSKEY, 3600, {});
    dnskeys.rdatas = {ksk.dnskey(), zsk.dnskey()};
    ksk.sign(dnskeys, N("example."));
    ValidationBudget budget;
    auto keys = validate_zone_keys(N("example."), dnskeys,
                                   std::vector<wire::Rdata>{ksk.ds(N("example."))}, kNow, budget);
    REQUIRE(keys.verdict.is_secure());
    zones.add_secure(N("example."), keys.keys);
  }

  wire::RRset sig(wire::RRset set, int labels = -1) const {
    zsk.sign(set, N("example."), kNow - 86400, kNow + 86400, labels);
    return set;
  }
  wire::RRset soa() const {
    return sig(rrset("example.", RRType::SOA, 3600,
                     {"ns1.example. bugs.x.w.example. 1 3600 300 3600000 3600"}));
  }
  wire::RRset ns() const {
    return sig(rrset("example.", RRType::NS, 3600, {"ns1.example.", "ns2.example."}));
  }
  // The signed NSEC3 whose hash starts with `prefix`.
  wire::RRset nsec3(std::string_view prefix) const {
    for (const Appendix& a : kChain) {
      if (std::string_view(a.hash).substr(0, prefix.size()) == prefix) {
        return sig(rrset(std::string(a.hash) + ".example.", RRType::NSEC3, 3600,
                         {fmt::format("1 {} 12 aabbccdd {}", flags, a.next_and_types)}));
      }
    }
    FAIL("no NSEC3 " << prefix);
    return {};
  }

  ResponseValidation run(const ResponseToValidate& r) const {
    ValidationBudget budget;
    return validate_response(r, zones, nullptr, kNow, budget);
  }
};

ResponseToValidate response(const char* qname, RRType qtype, ResponseKind kind) {
  ResponseToValidate r;
  r.qname = N(qname);
  r.qtype = qtype;
  r.kind = kind;
  r.zone = N("example.");
  return r;
}

// The response is as expected whole; without any one of the NSEC3 records
// in `required` (indices into r.authority) it is bogus with EDE 12.
void check_each_required(const Nsec3Example& z, ResponseToValidate r, SecurityState whole,
                         std::vector<size_t> required) {
  const auto v = z.run(r);
  INFO(v.verdict.reason);
  CHECK(v.verdict.state == whole);
  for (size_t drop : required) {
    ResponseToValidate missing = r;
    INFO("without " << missing.authority[drop].owner.to_text());
    missing.authority.erase(missing.authority.begin() + static_cast<std::ptrdiff_t>(drop));
    const auto bad = z.run(missing);
    INFO(bad.verdict.reason);
    CHECK(bad.verdict.is_bogus());
    CHECK(bad.verdict.ede == wire::EdeCode::NsecMissing);
  }
}

}  // namespace

TEST_CASE("the appendix chain matches RFC 5155's hashes", "[dnssec][nsec3][rfc5155]") {
  for (const Appendix& a : kChain) {
    INFO(a.name);
    CHECK(wire::base32hex_encode(*nsec3_hash(N(a.name), hex("aabbccdd"), 12)) == a.hash);
  }
}

TEST_CASE("RFC 5155 B.1: name error a.c.x.w.example", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z;
  auto r = response("a.c.x.w.example.", RRType::A, ResponseKind::nxdomain);
  // closest encloser x.w.example (b4um), next closer c.x.w.example covered
  // by 0p9m, wildcard *.x.w.example covered by 35mt.
  r.authority = {z.soa(), z.nsec3("0p9m"), z.nsec3("b4um"), z.nsec3("35mt")};
  check_each_required(z, r, SecurityState::secure, {1, 2, 3});
  // With the RFC's opt-out flags the next closer name may be an unsigned
  // delegation: not proven absent, so insecure (RFC 5155 §9.2).
  Nsec3Example opt_out(1);
  auto o = response("a.c.x.w.example.", RRType::A, ResponseKind::nxdomain);
  o.authority = {opt_out.soa(), opt_out.nsec3("0p9m"), opt_out.nsec3("b4um"), opt_out.nsec3("35mt")};
  check_each_required(opt_out, o, SecurityState::insecure, {1, 2, 3});
}

TEST_CASE("RFC 5155 B.2: no data ns1.example MX", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z;
  auto r = response("ns1.example.", RRType::MX, ResponseKind::nodata);
  r.authority = {z.soa(), z.nsec3("2t7b")};
  check_each_required(z, r, SecurityState::secure, {1});
  // The same NSEC3 cannot deny the type it lists.
  auto lie = response("ns1.example.", RRType::A, ResponseKind::nodata);
  lie.authority = r.authority;
  CHECK(z.run(lie).verdict.is_bogus());
}

TEST_CASE("RFC 5155 B.2.1: no data at the empty non-terminal y.w.example", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z;
  auto r = response("y.w.example.", RRType::A, ResponseKind::nodata);
  r.authority = {z.soa(), z.nsec3("ji6n")};
  check_each_required(z, r, SecurityState::secure, {1});
}

TEST_CASE("RFC 5155 B.3: referral to the opt-out unsigned zone c.example", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z(1);
  auto r = response("mc.c.example.", RRType::MX, ResponseKind::referral);
  // closest provable encloser example. (0p9m), next closer c.example
  // covered by 35mt with opt-out.
  r.authority = {rrset("c.example.", RRType::NS, 3600, {"ns1.c.example.", "ns2.c.example."}),
                 z.nsec3("0p9m"), z.nsec3("35mt")};
  const auto v = z.run(r);
  INFO(v.verdict.reason);
  CHECK(v.delegation == N("c.example."));
  CHECK(v.delegation_state == SecurityState::insecure);
  for (size_t drop : {1, 2}) {
    auto missing = r;
    missing.authority.erase(missing.authority.begin() + static_cast<std::ptrdiff_t>(drop));
    const auto bad = z.run(missing);
    CHECK(bad.delegation_state == SecurityState::bogus);
    CHECK(bad.verdict.is_bogus());
  }
  // Without opt-out the same records prove no unsigned delegation.
  Nsec3Example strict(0);
  auto s = response("mc.c.example.", RRType::MX, ResponseKind::referral);
  s.authority = {r.authority[0], strict.nsec3("0p9m"), strict.nsec3("35mt")};
  CHECK(strict.run(s).delegation_state == SecurityState::bogus);
}

TEST_CASE("RFC 5155 B.4: wildcard expansion a.z.w.example MX", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z;
  auto r = response("a.z.w.example.", RRType::MX, ResponseKind::answer);
  r.answer = {z.sig(rrset("a.z.w.example.", RRType::MX, 3600, {"1 ai.example."}), 2)};
  // The next closer name z.w.example is covered by q04j.
  r.authority = {z.ns(), z.nsec3("q04j")};
  check_each_required(z, r, SecurityState::secure, {1});
  // A cover of some other name is no proof.
  r.authority[1] = z.nsec3("r53b");
  CHECK(z.run(r).verdict.ede == wire::EdeCode::NsecMissing);
}

TEST_CASE("RFC 5155 B.5: wildcard no data a.z.w.example AAAA", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z;
  auto r = response("a.z.w.example.", RRType::AAAA, ResponseKind::nodata);
  // closest encloser w.example (k8ud), next closer z.w.example covered by
  // q04j, the wildcard *.w.example (r53b) without AAAA.
  r.authority = {z.soa(), z.nsec3("k8ud"), z.nsec3("q04j"), z.nsec3("r53b")};
  check_each_required(z, r, SecurityState::secure, {1, 2, 3});
  // The wildcard has MX: NODATA for MX is a lie.
  auto lie = response("a.z.w.example.", RRType::MX, ResponseKind::nodata);
  lie.authority = r.authority;
  CHECK(z.run(lie).verdict.is_bogus());
}

TEST_CASE("RFC 5155 B.6: DS child zone no data (the child's own apex NSEC3)", "[dnssec][nsec3][rfc5155]") {
  Nsec3Example z;
  auto r = response("example.", RRType::DS, ResponseKind::nodata);
  r.authority = {z.soa(), z.nsec3("0p9m")};
  const auto v = z.run(r);
  CHECK(v.verdict.is_bogus());
  CHECK(v.verdict.ede == wire::EdeCode::NsecMissing);
}

TEST_CASE("RFC 5155 B.3 as a DS answer: the denial shows the delegation, or no zone cut",
          "[dnssec][nsec3][rfc5155]") {
  // A DS question for c.example answered NODATA from an opt-out span: the
  // child is an unsigned delegation.
  Nsec3Example opt_out(1);
  auto r = response("c.example.", RRType::DS, ResponseKind::nodata);
  r.authority = {opt_out.soa(), opt_out.nsec3("0p9m"), opt_out.nsec3("35mt")};
  auto v = opt_out.run(r);
  CHECK(v.verdict.state == SecurityState::insecure);
  CHECK(v.ds_denial_shows_cut);
  // ns1.example exists without NS: a secure NODATA, but no zone cut.
  Nsec3Example z;
  auto ns1 = response("ns1.example.", RRType::DS, ResponseKind::nodata);
  ns1.authority = {z.soa(), z.nsec3("2t7b")};
  v = z.run(ns1);
  CHECK(v.verdict.is_secure());
  CHECK_FALSE(v.ds_denial_shows_cut);
}

// A small NSEC3 zone built here (hashes computed, no salt, 0 iterations), for
// CNAME chains through wildcards.
struct WildcardZone {
  Nsec3Example keys;
  std::map<std::string, std::pair<std::string, std::string>> chain;  // hash -> (name, types)

  WildcardZone() {
    add("example.", "NS SOA RRSIG DNSKEY NSEC3PARAM");
    add("*.w.example.", "CNAME RRSIG");
    add("w.example.", "");
    add("target.example.", "A RRSIG");
    add("*.example.", "TXT RRSIG");
  }
  void add(const std::string& name, const std::string& types) {
    chain[wire::base32hex_encode(*nsec3_hash(N(name), {}, 0))] = {name, types};
  }
  // The signed NSEC3 of `name` (matching) or of the record covering it.
  wire::RRset record_for(const std::string& name) const {
    const std::string h = wire::base32hex_encode(*nsec3_hash(N(name), {}, 0));
    auto it = chain.upper_bound(h);
    if (chain.count(h)) it = chain.find(h);
    else it = it == chain.begin() ? std::prev(chain.end()) : std::prev(it);
    auto next = std::next(it) == chain.end() ? chain.begin() : std::next(it);
    return keys.sig(rrset(it->first + ".example.", RRType::NSEC3, 3600,
                          {fmt::format("1 0 0 - {} {}", next->first, it->second.second)}));
  }
};

TEST_CASE("CNAME chains through wildcards: every expanded link needs its proof",
          "[dnssec][nsec3][wildcard]") {
  WildcardZone z;
  const auto& k = z.keys;
  SECTION("a CNAME synthesised from *.w.example to an existing name") {
    auto r = response("a.w.example.", RRType::A, ResponseKind::answer);
    r.answer = {k.sig(rrset("a.w.example.", RRType::CNAME, 3600, {"target.example."}), 2),
                k.sig(rrset("target.example.", RRType::A, 3600, {"192.0.2.1"}))};
    // a.w.example (the next closer) does not exist.
    r.authority = {z.record_for("a.w.example.")};
    check_each_required(k, r, SecurityState::secure, {0});
  }
  SECTION("a wildcard CNAME to a name that does not exist: NXDOMAIN after the expansion") {
    auto r = response("a.w.example.", RRType::A, ResponseKind::nxdomain);
    r.answer = {k.sig(rrset("a.w.example.", RRType::CNAME, 3600, {"nx.target.example."}), 2)};
    // The expansion's next closer a.w.example; then for nx.target.example
    // the closest encloser target.example, the next closer covered and the
    // wildcard *.target.example covered.
    r.authority = {k.soa()};
    for (const char* name : {"a.w.example.", "target.example.", "nx.target.example.", "*.target.example."}) {
      // One NSEC3 may cover two of these names: keep it once.
      wire::RRset set = z.record_for(name);
      if (std::none_of(r.authority.begin(), r.authority.end(),
                       [&](const wire::RRset& u) { return u.owner == set.owner; })) {
        r.authority.push_back(set);
      }
    }
    std::vector<size_t> required;
    for (size_t i = 1; i < r.authority.size(); ++i) required.push_back(i);
    check_each_required(k, r, SecurityState::secure, required);
  }
  SECTION("an expanded CNAME whose target is a wildcard answer too") {
    auto r = response("a.w.example.", RRType::TXT, ResponseKind::answer);
    r.answer = {k.sig(rrset("a.w.example.", RRType::CNAME, 3600, {"other.example."}), 2),
                k.sig(rrset("other.example.", RRType::TXT, 3600, {"\"from *.example\""}), 1)};
    r.authority = {z.record_for("a.w.example.")};
    const auto cover_other = z.record_for("other.example.");
    if (!(cover_other.owner == r.authority[0].owner)) r.authority.push_back(cover_other);
    std::vector<size_t> required;
    for (size_t i = 0; i < r.authority.size(); ++i) required.push_back(i);
    check_each_required(k, r, SecurityState::secure, required);
  }
}
