// Answers rendered from the RRset store (rrset_answer.h): an answer that is
// exactly one RRset at the question name takes no answer entry, and the hit
// path renders it from the RRset, octet for octet what a wire entry would
// have served (ID, question case, TTLs patched); everything the RRset alone
// does not answer completely keeps a wire entry.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "cache/rrset_answer.h"
#include "cache_test_support.h"
#include "wire/packet_scan.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

namespace {

constexpr const char* kOwner = "n1.signed.example.";
constexpr const char* kZone = "signed.example.";

AnswerKey key_for(const char* name, RRType type, bool dnssec_ok = false, bool cd = false) {
  AnswerKey k;
  k.qname = N(name);
  k.qtype = type;
  k.dnssec_ok = dnssec_ok;
  k.checking_disabled = cd;
  return k;
}

// The signed A RRset of kOwner: two addresses, one ECDSA-sized RRSIG.
wire::RRset signed_a(const char* owner = kOwner, uint8_t labels = 3, uint32_t ttl = 3600) {
  return make_rrset(owner, RRType::A, ttl, {a_rdata(192, 0, 2, 1), a_rdata(192, 0, 2, 2)},
                    {rrsig_rdata(RRType::A, 13, labels, ttl, kZone, 64)});
}

// The answer the resolver renders for the RRset: header, question, the
// records (owner compressed to the question), with DO also the RRSIGs.
std::vector<uint8_t> answer_for(const wire::RRset& set, bool dnssec_ok, uint32_t ttl,
                                const char* qname = kOwner) {
  PacketWriter w(0x1234, answer_flags(), qname, set.type);
  std::string owner = set.owner.to_text();
  for (const auto& r : set.rdatas) w.record(1, owner.c_str(), set.type, ttl, r);
  if (dnssec_ok) {
    for (const auto& s : set.signatures) w.record(1, owner.c_str(), RRType::RRSIG, ttl, s);
  }
  return w.bytes();
}

struct Served {
  bool hit = false;
  std::vector<uint8_t> packet;
  AnswerHit info;
};

Served serve(AnswerCache& answers, const AnswerKey& key, uint32_t now, uint16_t id = 0xBEEF,
             const char* as_sent = nullptr, StalePolicy policy = StalePolicy::fresh_only) {
  Served s;
  std::array<uint8_t, 1500> out{};
  size_t len = 0;
  wire::Name qname = as_sent ? N(as_sent) : key.qname;
  s.hit = answers.lookup(key, id, qname, now, out, len, s.info, policy);
  s.packet.assign(out.begin(), out.begin() + static_cast<ptrdiff_t>(len));
  return s;
}

// What a wire entry of the same packet serves: the reference the rendered
// answers are compared with.
std::vector<uint8_t> served_by_wire_entry(const AnswerKey& key, const std::vector<uint8_t>& packet,
                                          DnssecStatus status, uint32_t inserted, uint32_t now,
                                          const char* as_sent = nullptr) {
  CacheConfig config;
  AnswerCache plain(config);
  REQUIRE(plain.insert(key, packet, 1u << 30, status, inserted) == AnswerCache::Result::stored);
  Served s = serve(plain, key, now, 0xBEEF, as_sent);
  REQUIRE(s.hit);
  return s.packet;
}

}  // namespace

TEST_CASE("rrset answer: a single-RRset answer takes no entry and is served identically",
          "[answer][rrset-answer][memory]") {
  Cache cache;
  auto set = signed_a();
  REQUIRE(cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0) ==
          RRsetCache::Result::stored);
  for (bool dnssec_ok : {false, true}) {
    INFO("DO=" << dnssec_ok);
    auto key = key_for(kOwner, RRType::A, dnssec_ok);
    auto packet = answer_for(set, dnssec_ok, 3600);
    CHECK(cache.answers().insert(key, packet, 3600, DnssecStatus::secure, kT0) ==
          AnswerCache::Result::from_rrsets);
    CHECK(cache.answers().store().entries() == 0);

    // 0x20 case of the client, its ID, TTLs counted down: as a wire entry would.
    const char* as_sent = "N1.SiGnEd.ExAmPlE.";
    Served s = serve(cache.answers(), key, kT0 + 100, 0xBEEF, as_sent);
    REQUIRE(s.hit);
    CHECK(s.packet ==
          served_by_wire_entry(key, packet, DnssecStatus::secure, kT0, kT0 + 100, as_sent));
    CHECK(s.info.status == DnssecStatus::secure);
    CHECK(s.info.ttl == 3500);
    CHECK(s.info.rcode == 0);
    CHECK_FALSE(s.info.negative);
    CHECK(s.info.freshness == Freshness::fresh);
    CHECK_FALSE(s.info.info_ede);
    wire::PacketScan scan;
    REQUIRE(wire::scan_packet(s.packet, scan, {}));
    CHECK(scan.ancount == (dnssec_ok ? 3 : 2));
  }
  auto stats = cache.stats();
  CHECK(stats.answers.hits == 2);
  CHECK(stats.answers.entries == 0);
}

TEST_CASE("rrset answer: an OPT record in the stored packet does not prevent it",
          "[answer][rrset-answer]") {
  Cache cache;
  auto set = signed_a();
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  auto key = key_for(kOwner, RRType::A, true);
  PacketWriter w(7, answer_flags(), kOwner, RRType::A);
  for (const auto& r : set.rdatas) w.record(1, kOwner, RRType::A, 3600, r);
  for (const auto& r : set.signatures) w.record(1, kOwner, RRType::RRSIG, 3600, r);
  w.opt(true);
  CHECK(cache.answers().insert(key, w.bytes(), 3600, DnssecStatus::secure, kT0) ==
        AnswerCache::Result::from_rrsets);
}

TEST_CASE("rrset answer: answers the RRset does not render keep their wire entry",
          "[answer][rrset-answer]") {
  Cache cache;
  auto set = signed_a();
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  auto stored = [&](const AnswerKey& key, const std::vector<uint8_t>& packet,
                    DnssecStatus status = DnssecStatus::secure,
                    std::optional<wire::EdeCode> ede = std::nullopt) {
    return cache.answers().insert(key, packet, 3600, status, kT0, ede) ==
           AnswerCache::Result::stored;
  };
  SECTION("an authority section") {
    auto p = PacketWriter(1, answer_flags(), kOwner, RRType::A)
                 .record(1, kOwner, RRType::A, 3600, a_rdata(192, 0, 2, 1))
                 .record(1, kOwner, RRType::A, 3600, a_rdata(192, 0, 2, 2))
                 .record(2, kZone, RRType::NS, 3600, name_rdata("ns.signed.example."))
                 .bytes();
    CHECK(stored(key_for(kOwner, RRType::A), p));
  }
  SECTION("other records than the RRset's") {
    auto p = PacketWriter(1, answer_flags(), kOwner, RRType::A)
                 .record(1, kOwner, RRType::A, 3600, a_rdata(192, 0, 2, 1))
                 .bytes();
    CHECK(stored(key_for(kOwner, RRType::A), p));
  }
  SECTION("DO answer without the RRSIGs the RRset has") {
    CHECK(stored(key_for(kOwner, RRType::A, true), answer_for(set, false, 3600)));
  }
  SECTION("another DNSSEC status") {
    CHECK(stored(key_for(kOwner, RRType::A), answer_for(set, false, 3600), DnssecStatus::insecure));
  }
  SECTION("an indeterminate or bogus answer") {
    CHECK(stored(key_for(kOwner, RRType::A), answer_for(set, false, 3600),
                 DnssecStatus::indeterminate));
    CHECK(stored(key_for(kOwner, RRType::A), answer_for(set, false, 3600), DnssecStatus::bogus));
  }
  SECTION("an informational EDE") {
    CHECK(stored(key_for(kOwner, RRType::A), answer_for(set, false, 3600), DnssecStatus::secure,
                 wire::EdeCode::UnsupportedDnskeyAlgorithm));
  }
  SECTION("CD") {
    CHECK(stored(key_for(kOwner, RRType::A, false, true), answer_for(set, false, 3600)));
  }
  SECTION("AA set (not what a rendered answer carries)") {
    auto p = answer_for(set, false, 3600);
    p[2] |= 0x04;
    CHECK(stored(key_for(kOwner, RRType::A), p));
  }
  SECTION("the owner spelled out instead of compressed to the question") {
    auto p = PacketWriter(1, answer_flags(), kOwner, RRType::A).bytes();
    for (uint8_t last : {1, 2}) {
      put_name(p, N(kOwner));
      put16(p, static_cast<uint16_t>(RRType::A));
      put16(p, 1);
      put32(p, 3600);
      put16(p, 4);
      auto a = a_rdata(192, 0, 2, last);
      p.insert(p.end(), a.begin(), a.end());
    }
    p[7] = 2;  // ANCOUNT
    CHECK(stored(key_for(kOwner, RRType::A), p));
  }
  CHECK(cache.answers().store().entries() == 1);
}

TEST_CASE("rrset answer: which RRsets may answer", "[answer][rrset-answer]") {
  Cache cache;
  auto key = key_for(kOwner, RRType::A);
  auto packet = answer_for(signed_a(), false, 3600);
  SECTION("glue and authority data never answer a client") {
    for (Rank rank : {Rank::additional, Rank::authority}) {
      cache.rrsets().clear();
      cache.insert_rrset(signed_a(), rank, DnssecStatus::secure, kT0);
      CHECK_FALSE(serve(cache.answers(), key, kT0).hit);
      CHECK(cache.answers().insert(key, packet, 3600, DnssecStatus::secure, kT0) ==
            AnswerCache::Result::stored);
      cache.answers().clear();
    }
  }
  SECTION("unvalidated and bogus data is not rendered") {
    for (auto status : {DnssecStatus::indeterminate, DnssecStatus::bogus}) {
      cache.rrsets().clear();
      cache.insert_rrset(signed_a(), Rank::answer_authoritative, status, kT0);
      Served s = serve(cache.answers(), key, kT0);
      CHECK_FALSE(s.hit);
      CHECK_FALSE(s.info.stale_available);
    }
  }
  SECTION("insecure data is, without AD") {
    auto set = make_rrset(kOwner, RRType::A, 600, {a_rdata(192, 0, 2, 7)});
    cache.insert_rrset(set, Rank::answer_nonauth, DnssecStatus::insecure, kT0);
    for (bool dnssec_ok : {false, true}) {
      Served s = serve(cache.answers(), key_for(kOwner, RRType::A, dnssec_ok), kT0);
      REQUIRE(s.hit);
      CHECK(s.info.status == DnssecStatus::insecure);
      CHECK(s.packet == served_by_wire_entry(key_for(kOwner, RRType::A, dnssec_ok),
                                             answer_for(set, dnssec_ok, 600),
                                             DnssecStatus::insecure, kT0, kT0));
    }
  }
  SECTION("CD, ANY and RRSIG questions are not rendered") {
    cache.insert_rrset(signed_a(), Rank::answer_authoritative, DnssecStatus::secure, kT0);
    CHECK_FALSE(serve(cache.answers(), key_for(kOwner, RRType::A, false, true), kT0).hit);
    CHECK_FALSE(serve(cache.answers(), key_for(kOwner, RRType::ANY), kT0).hit);
    CHECK_FALSE(serve(cache.answers(), key_for(kOwner, RRType::RRSIG), kT0).hit);
    CHECK(serve(cache.answers(), key_for(kOwner, RRType::A), kT0).hit);
  }
  SECTION("another type or name is a miss") {
    cache.insert_rrset(signed_a(), Rank::answer_authoritative, DnssecStatus::secure, kT0);
    CHECK_FALSE(serve(cache.answers(), key_for(kOwner, RRType::AAAA), kT0).hit);
    CHECK_FALSE(serve(cache.answers(), key_for("n2.signed.example.", RRType::A), kT0).hit);
    CHECK(cache.stats().answers.misses == 2);
  }
}

TEST_CASE("rrset answer: a wildcard expansion needs its proof for DO clients",
          "[answer][rrset-answer][dnssec]") {
  Cache cache;
  // Expanded from *.signed.example.: the RRSIG counts 2 labels, the owner 3.
  auto set = signed_a("x.signed.example.", 2);
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  CHECK(serve(cache.answers(), key_for("x.signed.example.", RRType::A, false), kT0).hit);
  CHECK_FALSE(serve(cache.answers(), key_for("x.signed.example.", RRType::A, true), kT0).hit);
  // The DO answer with the NSEC proof is kept as a wire entry and served.
  auto key = key_for("x.signed.example.", RRType::A, true);
  auto packet = PacketWriter(1, answer_flags(), "x.signed.example.", RRType::A)
                    .record(1, "x.signed.example.", RRType::A, 3600, set.rdatas[0])
                    .record(1, "x.signed.example.", RRType::A, 3600, set.rdatas[1])
                    .record(1, "x.signed.example.", RRType::RRSIG, 3600, set.signatures[0])
                    .record(2, "w.signed.example.", RRType::NSEC, 3600,
                            name_rdata("z.signed.example."))
                    .bytes();
  CHECK(cache.answers().insert(key, packet, 3600, DnssecStatus::secure, kT0) ==
        AnswerCache::Result::stored);
  Served s = serve(cache.answers(), key, kT0);
  REQUIRE(s.hit);
  CHECK(s.packet.size() == packet.size());
}

TEST_CASE("rrset answer: a wire entry is served first and dropped once the RRset covers it",
          "[answer][rrset-answer]") {
  Cache cache;
  auto key = key_for(kOwner, RRType::A);
  auto set = signed_a();
  auto packet = answer_for(set, false, 3600);
  // Stored before the RRset was validated: a wire entry (indeterminate).
  REQUIRE(cache.answers().insert(key, packet, 3600, DnssecStatus::indeterminate, kT0) ==
          AnswerCache::Result::stored);
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  Served first = serve(cache.answers(), key, kT0);
  REQUIRE(first.hit);
  CHECK(first.info.status == DnssecStatus::indeterminate);  // the wire entry's
  // The validated answer replaces it with nothing: the RRset renders it.
  CHECK(cache.answers().insert(key, packet, 3600, DnssecStatus::secure, kT0) ==
        AnswerCache::Result::from_rrsets);
  CHECK(cache.answers().store().entries() == 0);
  Served second = serve(cache.answers(), key, kT0);
  REQUIRE(second.hit);
  CHECK(second.info.status == DnssecStatus::secure);
}

TEST_CASE("rrset answer: prefetch claims the RRset's refresh once, finish_refresh releases it",
          "[answer][rrset-answer][prefetch]") {
  Cache cache;
  auto set = signed_a(kOwner, 3, 100);
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  auto key = key_for(kOwner, RRType::A);
  REQUIRE(cache.answers().insert(key, answer_for(set, false, 100), 100, DnssecStatus::secure,
                                 kT0) == AnswerCache::Result::from_rrsets);
  Served early = serve(cache.answers(), key, kT0 + 50);
  REQUIRE(early.hit);
  CHECK_FALSE(early.info.refresh_claimed);
  Served due = serve(cache.answers(), key, kT0 + 95);
  REQUIRE(due.hit);
  CHECK(due.info.freshness == Freshness::prefetch_due);
  CHECK(due.info.refresh_claimed);
  // The DO=1 form shares the RRset and so the claim.
  Served other = serve(cache.answers(), key_for(kOwner, RRType::A, true), kT0 + 95);
  REQUIRE(other.hit);
  CHECK_FALSE(other.info.refresh_claimed);
  CHECK(other.info.freshness == Freshness::fresh);
  // The refresh brought nothing: released, the next hit claims again.
  cache.answers().finish_refresh(key);
  Served again = serve(cache.answers(), key, kT0 + 96);
  CHECK(again.info.refresh_claimed);
  CHECK(cache.stats().answers.prefetches == 2);
  // A refresh that stores the RRset anew leaves no claim behind.
  cache.insert_rrset(signed_a(kOwner, 3, 100), Rank::answer_authoritative, DnssecStatus::secure,
                     kT0 + 96);
  Served after = serve(cache.answers(), key, kT0 + 97);
  REQUIRE(after.hit);
  CHECK_FALSE(after.info.refresh_claimed);
  CHECK(after.info.ttl == 99);
}

TEST_CASE("rrset answer: RRset look-ups that never refresh leave the claim to the answer path",
          "[answer][rrset-answer][prefetch]") {
  Cache cache;
  cache.insert_rrset(signed_a(kOwner, 3, 100), Rank::answer_authoritative, DnssecStatus::secure,
                     kT0);
  // The walker reads the RRset inside the prefetch window (RefreshClaim::none).
  auto read = cache.rrsets().lookup(N(kOwner), RRType::A, RRClass::IN, kT0 + 95,
                                    StalePolicy::fresh_only, Rank::answer_nonauth,
                                    RefreshClaim::none);
  REQUIRE(read);
  CHECK(read->freshness == Freshness::fresh);
  CHECK_FALSE(read->refresh_claimed);
  // So the client's hit still starts the prefetch.
  Served due = serve(cache.answers(), key_for(kOwner, RRType::A), kT0 + 95);
  REQUIRE(due.hit);
  CHECK(due.info.refresh_claimed);
  // Stale reads do not claim either.
  auto stale = cache.rrsets().lookup(N(kOwner), RRType::A, RRClass::IN, kT0 + 200,
                                     StalePolicy::allow_stale, Rank::answer_nonauth,
                                     RefreshClaim::none);
  REQUIRE(stale);
  CHECK(stale->freshness == Freshness::stale);
  CHECK_FALSE(stale->refresh_claimed);
}

TEST_CASE("rrset answer: serve-stale from the RRset", "[answer][rrset-answer][stale]") {
  CacheConfig config;
  Cache cache(config);
  auto set = signed_a(kOwner, 3, 60);
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  auto key = key_for(kOwner, RRType::A, true);
  Served fresh_only = serve(cache.answers(), key, kT0 + 61);
  CHECK_FALSE(fresh_only.hit);
  CHECK(fresh_only.info.stale_available);
  Served stale = serve(cache.answers(), key, kT0 + 61, 9, nullptr, StalePolicy::allow_stale);
  REQUIRE(stale.hit);
  CHECK(stale.info.freshness == Freshness::stale);
  CHECK(stale.info.ttl == config.stale_answer_ttl);
  CHECK(stale.info.stale_ede() == wire::EdeCode::StaleAnswer);
  wire::for_each_scanned_record(stale.packet, [&](const wire::ScannedRecord& r) {
    CHECK(r.ttl == config.stale_answer_ttl);
    return true;
  });
  CHECK(cache.stats().answers.stale_served == 1);
  // Past the stale window the RRset is gone, and removed when met.
  uint32_t gone = kT0 + 60 + config.stale_max;
  Served none = serve(cache.answers(), key, gone, 9, nullptr, StalePolicy::allow_stale);
  CHECK_FALSE(none.hit);
  CHECK_FALSE(none.info.stale_available);
  CHECK(cache.rrsets().store().entries() == 0);
}

TEST_CASE("rrset answer: flushing the name removes the rendered answer",
          "[answer][rrset-answer][flush]") {
  Cache cache;
  cache.insert_rrset(signed_a(), Rank::answer_authoritative, DnssecStatus::secure, kT0);
  auto key = key_for(kOwner, RRType::A);
  REQUIRE(serve(cache.answers(), key, kT0).hit);
  CHECK(cache.flush_name(N(kOwner)) == 1);
  CHECK_FALSE(serve(cache.answers(), key, kT0).hit);
  cache.insert_rrset(signed_a(), Rank::answer_authoritative, DnssecStatus::secure, kT0);
  cache.flush_subtree(N(kZone));
  CHECK_FALSE(serve(cache.answers(), key, kT0).hit);
}

TEST_CASE("rrset answer: a buffer too small for the answer is a miss", "[answer][rrset-answer]") {
  Cache cache;
  cache.insert_rrset(signed_a(), Rank::answer_authoritative, DnssecStatus::secure, kT0);
  auto key = key_for(kOwner, RRType::A, true);
  std::array<uint8_t, 64> small{};
  size_t len = 123;
  AnswerHit hit;
  // In the prefetch window (the last 10 % of 3600 s).
  CHECK_FALSE(cache.answers().lookup(key, 1, key.qname, kT0 + 3500, small, len, hit));
  CHECK(len == 0);
  CHECK_FALSE(hit.refresh_claimed);
  // The refresh claim was not kept by the lookup that served nothing.
  Served due = serve(cache.answers(), key, kT0 + 3500);
  REQUIRE(due.hit);
  CHECK(due.info.refresh_claimed);
}

TEST_CASE("rrset answer: many records and signatures render as the resolver writes them",
          "[answer][rrset-answer]") {
  Cache cache;
  std::vector<wire::Rdata> rdatas;
  for (uint8_t i = 0; i < 20; ++i) rdatas.push_back(a_rdata(198, 51, 100, i));
  std::vector<wire::Rdata> sigs{rrsig_rdata(RRType::A, 8, 3, 300, kZone, 256),
                                rrsig_rdata(RRType::A, 13, 3, 300, kZone, 64)};
  auto set = make_rrset(kOwner, RRType::A, 300, rdatas, sigs);
  cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0);
  for (bool dnssec_ok : {false, true}) {
    auto key = key_for(kOwner, RRType::A, dnssec_ok);
    auto packet = answer_for(set, dnssec_ok, 300);
    CHECK(cache.answers().insert(key, packet, 300, DnssecStatus::secure, kT0) ==
          AnswerCache::Result::from_rrsets);
    Served s = serve(cache.answers(), key, kT0 + 7, 0xBEEF, "n1.SIGNED.example.");
    REQUIRE(s.hit);
    CHECK(s.packet == served_by_wire_entry(key, packet, DnssecStatus::secure, kT0, kT0 + 7,
                                           "n1.SIGNED.example."));
  }
}

TEST_CASE("rrset answer: a signed name costs only its RRset", "[answer][rrset-answer][memory]") {
  Cache cache;
  for (int i = 0; i < 1000; ++i) {
    std::string name = "n" + std::to_string(i) + ".signed.example.";
    auto set = signed_a(name.c_str());
    REQUIRE(cache.insert_rrset(set, Rank::answer_authoritative, DnssecStatus::secure, kT0) ==
            RRsetCache::Result::stored);
    for (bool dnssec_ok : {false, true}) {
      auto result = cache.answers().insert(key_for(name.c_str(), RRType::A, dnssec_ok),
                                           answer_for(set, dnssec_ok, 3600, name.c_str()), 3600,
                                           DnssecStatus::secure, kT0);
      REQUIRE(result == AnswerCache::Result::from_rrsets);
    }
  }
  auto stats = cache.stats();
  CHECK(stats.answers.entries == 0);
  // Only the answer store's (empty) bucket arrays are charged.
  CHECK(stats.answers.bytes <= cache.config().shards * 256);
  CHECK(stats.rrsets.entries == 1000);
}
