// Cache snapshots (warm restart): round trip of every store, ageing by the
// time that passed, the serve-stale window, a clock that went back,
// truncation, damage at every octet, another format version, forged records
// behind a valid checksum, and restoring beside fresher data.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "cache/cache_snapshot.h"
#include "cache/snapshot_bytes.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

namespace {

constexpr uint64_t kT0ms = uint64_t{kT0} * 1000;

std::vector<wire::RRset> nsec_proof() {
  wire::Rdata nsec = name_rdata("c.example.");
  nsec.insert(nsec.end(), {0, 6, 0x40, 0, 0, 0, 0, 3});
  return {make_rrset("a.example.", RRType::NSEC, 3600, {nsec},
                     {rrsig_rdata(RRType::NSEC, 13, 2, 3600, "example.", 64)})};
}

Delegation example_delegation() {
  Delegation d;
  d.zone = N("example.");
  d.ttl = 86400;
  DelegationServer a;
  a.name = N("ns1.example.");
  a.addresses = {IpAddress::v4(192, 0, 2, 53)};
  DelegationServer b;
  b.name = N("ns2.example.net.");
  IpAddress v6;
  v6.family = 6;
  v6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35};
  b.addresses = {v6};
  b.address_rank = Rank::answer_authoritative;
  d.servers = {a, b};
  return d;
}

std::vector<uint8_t> cname_answer() {
  return PacketWriter(7, answer_flags(), "www.example.", RRType::A)
      .record(1, "www.example.", RRType::CNAME, 600, name_rdata("host.example."))
      .record(1, "host.example.", RRType::A, 300, a_rdata(192, 0, 2, 80))
      .bytes();
}

AnswerKey www_key() {
  AnswerKey k;
  k.qname = N("www.example.");
  k.qtype = RRType::A;
  return k;
}

// One entry of every kind, various TTLs, ranks and statuses.
void fill(Cache& cache, uint32_t now) {
  REQUIRE(cache.insert_rrset(make_rrset("n1.example.", RRType::A, 3600, {a_rdata(192, 0, 2, 1)},
                                        {rrsig_rdata(RRType::A, 13, 2, 3600, "example.", 64)}),
                             Rank::answer_authoritative, DnssecStatus::secure,
                             now) == RRsetCache::Result::stored);
  REQUIRE(cache.insert_rrset(make_rrset("n2.example.", RRType::AAAA, 120,
                                        {wire::Rdata(16, 1), wire::Rdata(16, 2)}),
                             Rank::answer_nonauth, DnssecStatus::insecure,
                             now) == RRsetCache::Result::stored);
  REQUIRE(cache.insert_rrset(make_rrset("ns1.example.", RRType::A, 86400, {a_rdata(192, 0, 2, 53)}),
                             Rank::additional, DnssecStatus::indeterminate,
                             now) == RRsetCache::Result::stored);
  REQUIRE(cache.negatives().insert(NegativeKind::nxdomain, N("b.example."), RRType::A, RRClass::IN,
                                   soa_rrset("example.", 3600, 900), nsec_proof(),
                                   DnssecStatus::secure, now) == NegativeCache::Result::stored);
  REQUIRE(cache.negatives().insert(NegativeKind::nodata, N("n1.example."), RRType::MX, RRClass::IN,
                                   soa_rrset("example.", 300, 3600), {}, DnssecStatus::insecure,
                                   now) == NegativeCache::Result::stored);
  REQUIRE(cache.delegations().insert(example_delegation(), Rank::authority, DnssecStatus::secure,
                                     now) == DelegationCache::Result::stored);
  REQUIRE(cache.answers().insert(www_key(), cname_answer(), 300, DnssecStatus::insecure, now,
                                 wire::EdeCode::UnsupportedDnskeyAlgorithm) ==
          AnswerCache::Result::stored);
}

std::vector<uint8_t> snapshot_of(Cache& cache, uint32_t now, uint64_t written_at_ms,
                                 std::vector<uint8_t> context = {'c', '1'}) {
  SnapshotWriter writer(context, written_at_ms);
  writer.add_cache(cache, now);
  return writer.finish();
}

// Restores all of `file` in slices of `slice` records.
SnapshotReader::Step restore_all(std::span<const uint8_t> file, Cache& into, uint32_t now,
                                 size_t slice = 1000, SnapshotReader* reader_out = nullptr) {
  SnapshotReader local;
  SnapshotReader& reader = reader_out ? *reader_out : local;
  if (reader.open(file) != SnapshotError::ok) return SnapshotReader::Step::failed;
  SnapshotReader::Step step;
  do {
    step = reader.restore(into, now, slice);
  } while (step == SnapshotReader::Step::more);
  return step;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

wire::Rdata first_rdata(const CachedRRset& r) {
  auto first = *r.rdatas().begin();
  return wire::Rdata(first.begin(), first.end());
}

size_t entries(Cache& c) {
  CacheStats s = c.stats();
  return s.rrsets.entries + s.negatives.entries + s.delegations.entries + s.answers.entries;
}

}  // namespace

TEST_CASE("snapshot: every store round-trips, contents and TTLs", "[snapshot]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0 + 10, kT0ms + 10'000);

  Cache after;
  SnapshotReader reader;
  REQUIRE(restore_all(file, after, kT0 + 10, 1000, &reader) == SnapshotReader::Step::done);
  CHECK(reader.stats().restored.rrsets == 3);
  CHECK(reader.stats().restored.negatives == 2);
  CHECK(reader.stats().restored.delegations == 1);
  CHECK(reader.stats().restored.answers == 1);
  CHECK(reader.stats().rejected == 0);
  // The presentation dump (TTLs left, ranks, statuses, proofs, servers)
  // is the same line for line.
  CHECK(sorted_lines(after.dump(kT0 + 10)) == sorted_lines(before.dump(kT0 + 10)));

  // And each store answers as before.
  auto rr = after.rrsets().lookup(N("N1.example."), RRType::A, RRClass::IN, kT0 + 10);
  REQUIRE(rr);
  CHECK(rr->ttl == 3590);
  CHECK(rr->rrset.rank() == Rank::answer_authoritative);
  CHECK(rr->rrset.status() == DnssecStatus::secure);
  CHECK(rr->rrset.signatures().size() == 1);
  auto neg = after.negatives().lookup(N("x.b.example."), RRType::A, RRClass::IN, kT0 + 10);
  REQUIRE(neg);
  CHECK(neg->below_nxdomain);
  CHECK(neg->entry.records().size() == 2);
  auto del = after.delegations().find_closest(N("www.example."), RRClass::IN, kT0 + 10);
  REQUIRE(del);
  CHECK(del->delegation.servers.size() == 2);
  CHECK(del->delegation.servers[1].addresses.at(0).family == 6);
  CHECK(del->delegation.servers[1].address_rank == Rank::answer_authoritative);

  uint8_t out[512];
  size_t len = 0;
  AnswerHit hit;
  REQUIRE(after.answers().lookup(www_key(), 0x1234, N("WWW.example."), kT0 + 10, out, len, hit));
  CHECK(len == cname_answer().size());
  CHECK(hit.info_ede == wire::EdeCode::UnsupportedDnskeyAlgorithm);
  CHECK(hit.ttl == 290);
  // The answer without a wire entry is rendered from the restored RRset.
  AnswerKey n1;
  n1.qname = N("n1.example.");
  n1.qtype = RRType::A;
  n1.dnssec_ok = true;
  REQUIRE(after.answers().lookup(n1, 1, N("n1.example."), kT0 + 10, out, len, hit));
  CHECK(hit.status == DnssecStatus::secure);
}

TEST_CASE("snapshot: restoring in slices gives the same cache", "[snapshot]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  Cache one_by_one;
  SnapshotReader reader;
  REQUIRE(reader.open(file) == SnapshotError::ok);
  size_t calls = 0;
  while (reader.restore(one_by_one, kT0, 1) == SnapshotReader::Step::more) ++calls;
  CHECK(calls == 6);  // seven records, the last call finds the end
  CHECK(sorted_lines(one_by_one.dump(kT0)) == sorted_lines(before.dump(kT0)));
  // A spent reader stays done.
  CHECK(reader.restore(one_by_one, kT0, 10) == SnapshotReader::Step::done);
}

TEST_CASE("snapshot: TTLs age by the time Sextant was stopped", "[snapshot][ageing]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0 + 5, kT0ms + 5'000);

  Cache after;
  const uint32_t later = kT0 + 100;  // 95 s after the snapshot was written
  REQUIRE(restore_all(file, after, later) == SnapshotReader::Step::done);
  auto rr = after.rrsets().lookup(N("n1.example."), RRType::A, RRClass::IN, later);
  REQUIRE(rr);
  CHECK(rr->ttl == 3500);
  CHECK(rr->rrset.original_ttl() == 3600);  // prefetch still sees the whole TTL
  // The 120 s AAAA has 20 s left.
  auto aaaa = after.rrsets().lookup(N("n2.example."), RRType::AAAA, RRClass::IN, later);
  REQUIRE(aaaa);
  CHECK(aaaa->ttl == 20);
  auto neg = after.negatives().lookup(N("b.example."), RRType::A, RRClass::IN, later);
  REQUIRE(neg);
  CHECK(neg->ttl == 800);
  uint8_t out[512];
  size_t len = 0;
  AnswerHit hit;
  REQUIRE(after.answers().lookup(www_key(), 1, N("www.example."), later, out, len, hit));
  CHECK(hit.ttl == 200);
  // The CNAME (600) and the A (300) were aged by the same 100 s.
  wire::for_each_scanned_record(std::span<const uint8_t>(out, len),
                                [&](const wire::ScannedRecord& r) {
                                  CHECK(r.ttl == (r.type == RRType::CNAME ? 500u : 200u));
                                  return true;
                                });
}

TEST_CASE("snapshot: expired entries come back only within the serve-stale window",
          "[snapshot][ageing]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  // 1000 s later the 120 s AAAA, the 300 s NODATA and the 300 s answer have
  // expired; the stale window (stale_max, default 1 day) keeps them.
  const uint32_t later = kT0 + 1000;
  {
    Cache stale_on;
    SnapshotReader reader;
    REQUIRE(restore_all(file, stale_on, later, 1000, &reader) == SnapshotReader::Step::done);
    CHECK(reader.stats().expired == 0);
    CHECK_FALSE(stale_on.rrsets().lookup(N("n2.example."), RRType::AAAA, RRClass::IN, later));
    auto stale = stale_on.rrsets().lookup(N("n2.example."), RRType::AAAA, RRClass::IN, later,
                                          StalePolicy::allow_stale);
    REQUIRE(stale);
    CHECK(stale->freshness == Freshness::stale);
  }
  {
    CacheConfig no_stale;
    no_stale.serve_stale = false;
    Cache stale_off(no_stale);
    SnapshotReader reader;
    REQUIRE(restore_all(file, stale_off, later, 1000, &reader) == SnapshotReader::Step::done);
    CHECK(reader.stats().expired == 4);  // the AAAA, the NXDOMAIN, the NODATA and the answer
    CHECK(reader.stats().restored.rrsets == 2);
    CHECK_FALSE(stale_off.rrsets().lookup(N("n2.example."), RRType::AAAA, RRClass::IN, later,
                                          StalePolicy::allow_stale));
  }
  {
    // Two days later even the stale window (1 day) is over for all but the
    // one-day entries... which have expired too: nothing is left.
    Cache much_later;
    SnapshotReader reader;
    const uint32_t gone = kT0 + 3 * 86400;
    REQUIRE(restore_all(file, much_later, gone, 1000, &reader) == SnapshotReader::Step::done);
    CHECK(reader.stats().restored.total() == 0);
    CHECK(reader.stats().expired == 7);
    CHECK(entries(much_later) == 0);
  }
}

TEST_CASE("snapshot: entries past the stale window and bogus data are not written",
          "[snapshot]") {
  Cache cache;
  cache.insert_rrset(a_rrset("old.example.", 10), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0);
  cache.insert_rrset(a_rrset("bogus.example.", 3600), Rank::answer_authoritative,
                     DnssecStatus::bogus, kT0 + 2 * 86400);
  cache.insert_rrset(a_rrset("live.example.", 3600), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0 + 2 * 86400);
  SnapshotWriter writer({}, kT0ms);
  writer.add_cache(cache, kT0 + 2 * 86400);
  CHECK(writer.counts().rrsets == 1);
}

TEST_CASE("snapshot: a clock that went back shortens lifetimes, never lengthens them",
          "[snapshot][ageing]") {
  Cache before;
  before.insert_rrset(a_rrset("n.example.", 3600), Rank::answer_authoritative,
                      DnssecStatus::insecure, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  Cache after;
  // The clock now reads 1000 s before the snapshot's time: the entry may
  // not look 1000 s younger than it is.
  REQUIRE(restore_all(file, after, kT0 - 1000) == SnapshotReader::Step::done);
  auto rr = after.rrsets().lookup(N("n.example."), RRType::A, RRClass::IN, kT0 - 1000);
  REQUIRE(rr);
  CHECK(rr->ttl == 3600);
}

TEST_CASE("snapshot: lowered TTL bounds apply to restored entries", "[snapshot]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  CacheConfig tight;
  tight.max_ttl = 60;
  tight.negative_max_ttl = 60;
  Cache after(tight);
  SnapshotReader reader;
  REQUIRE(restore_all(file, after, kT0, 1000, &reader) == SnapshotReader::Step::done);
  auto rr = after.rrsets().lookup(N("n1.example."), RRType::A, RRClass::IN, kT0);
  REQUIRE(rr);
  CHECK(rr->ttl == 60);
  auto neg = after.negatives().lookup(N("b.example."), RRType::A, RRClass::IN, kT0);
  REQUIRE(neg);
  CHECK(neg->ttl == 60);
  // A wire answer would carry its old TTLs: it is dropped instead.
  CHECK(reader.stats().restored.answers == 0);
  CHECK(reader.stats().expired == 1);
}

TEST_CASE("snapshot: a restored entry never replaces a fresh one", "[snapshot]") {
  Cache before;
  before.insert_rrset(a_rrset("n.example.", 3600, 1), Rank::answer_authoritative,
                      DnssecStatus::insecure, kT0);
  before.insert_rrset(a_rrset("m.example.", 3600, 1), Rank::answer_authoritative,
                      DnssecStatus::insecure, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);

  Cache after;
  // Learned since the start: a newer n.example. (fresh) and an expired m.
  after.insert_rrset(a_rrset("n.example.", 300, 2), Rank::answer_nonauth, DnssecStatus::insecure,
                     kT0 + 10);
  after.insert_rrset(a_rrset("m.example.", 5, 2), Rank::answer_authoritative,
                     DnssecStatus::insecure, kT0 - 100);
  SnapshotReader reader;
  REQUIRE(restore_all(file, after, kT0 + 10, 1000, &reader) == SnapshotReader::Step::done);
  CHECK(reader.stats().kept == 1);
  CHECK(reader.stats().restored.rrsets == 1);
  auto n = after.rrsets().lookup(N("n.example."), RRType::A, RRClass::IN, kT0 + 10);
  REQUIRE(n);
  CHECK(first_rdata(n->rrset) == a_rdata(192, 0, 2, 2));
  auto m = after.rrsets().lookup(N("m.example."), RRType::A, RRClass::IN, kT0 + 10);
  REQUIRE(m);
  CHECK(first_rdata(m->rrset) == a_rdata(192, 0, 2, 1));
}

TEST_CASE("snapshot: every truncation is refused and restores nothing", "[snapshot][damage]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  for (size_t size = 0; size < file.size(); ++size) {
    SnapshotReader reader;
    SnapshotError e = reader.open(std::span<const uint8_t>(file.data(), size));
    INFO("size " << size);
    CHECK((e == SnapshotError::too_short || e == SnapshotError::truncated));
    Cache after;
    CHECK(reader.restore(after, kT0, 1000) == SnapshotReader::Step::failed);
    CHECK(entries(after) == 0);
  }
  // A longer file (something appended) is refused too.
  file.push_back(0);
  SnapshotReader reader;
  CHECK(reader.open(file) == SnapshotError::too_long);
}

TEST_CASE("snapshot: damage at any octet is caught before anything is restored",
          "[snapshot][damage]") {
  Cache before;
  fill(before, kT0);
  const auto file = snapshot_of(before, kT0, kT0ms);
  for (size_t at = 0; at < file.size(); ++at) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      auto damaged = file;
      damaged[at] ^= flip;
      SnapshotReader reader;
      SnapshotError e = reader.open(damaged);
      INFO("octet " << at << " flip " << int(flip));
      CHECK(e != SnapshotError::ok);
      Cache after;
      CHECK(reader.restore(after, kT0, 1000) == SnapshotReader::Step::failed);
      CHECK(entries(after) == 0);
    }
  }
}

TEST_CASE("snapshot: a file of another format version is refused", "[snapshot]") {
  Cache before;
  fill(before, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  file[8] = static_cast<uint8_t>((kSnapshotFormatVersion + 1) >> 8);
  file[9] = static_cast<uint8_t>(kSnapshotFormatVersion + 1);
  REQUIRE(seal_snapshot(file));  // a well-sealed file, just another version
  SnapshotReader reader;
  CHECK(reader.open(file) == SnapshotError::other_version);
  CHECK(reader.version() == kSnapshotFormatVersion + 1);
  std::vector<uint8_t> text(64, 'x');
  CHECK(reader.open(text) == SnapshotError::bad_magic);
}

TEST_CASE("snapshot: the caller's context and extensions come back", "[snapshot]") {
  Cache cache;
  std::vector<uint8_t> context = {'v', 'a', 'l', 'i', 'd'};
  SnapshotWriter writer(context, kT0ms);
  writer.add_cache(cache, kT0);
  std::vector<uint8_t> ext = {1, 2, 3};
  writer.add_extension(kSnapshotFirstExtensionKind + 1, ext);
  auto file = writer.finish();
  SnapshotReader reader;
  REQUIRE(reader.open(file) == SnapshotError::ok);
  CHECK(std::vector<uint8_t>(reader.context().begin(), reader.context().end()) == context);
  CHECK(reader.written_at_ms() == kT0ms);
  std::vector<uint8_t> seen;
  uint8_t seen_kind = 0;
  CHECK(reader.restore(cache, kT0, 10, [&](uint8_t kind, std::span<const uint8_t> payload) {
    seen_kind = kind;
    seen.assign(payload.begin(), payload.end());
    return true;
  }) == SnapshotReader::Step::done);
  CHECK(seen_kind == kSnapshotFirstExtensionKind + 1);
  CHECK(seen == ext);
  // A handler that refuses the payload stops the restore.
  SnapshotReader again;
  REQUIRE(again.open(file) == SnapshotError::ok);
  CHECK(again.restore(cache, kT0, 10, [](uint8_t, std::span<const uint8_t>) { return false; }) ==
        SnapshotReader::Step::failed);
  CHECK(again.error() == SnapshotError::bad_record);
}

TEST_CASE("snapshot: excluded subtrees are not restored", "[snapshot]") {
  Cache before;
  fill(before, kT0);
  before.insert_rrset(a_rrset("other.test.", 3600), Rank::answer_authoritative,
                      DnssecStatus::insecure, kT0);
  auto file = snapshot_of(before, kT0, kT0ms);
  Cache after;
  SnapshotReader reader;
  REQUIRE(reader.open(file) == SnapshotError::ok);
  reader.exclude_subtree(N("example."));
  REQUIRE(reader.restore(after, kT0, 1000) == SnapshotReader::Step::done);
  CHECK(reader.stats().excluded == 7);
  CHECK(reader.stats().restored.total() == 1);
  CHECK(after.rrsets().lookup(N("other.test."), RRType::A, RRClass::IN, kT0));
}

namespace {

// A snapshot with one hand-made record (the checksum made valid).
std::vector<uint8_t> forged(uint8_t kind, const std::vector<uint8_t>& payload,
                            std::vector<uint8_t> before_it = {}) {
  SnapshotWriter writer({}, kT0ms);
  auto file = writer.finish();
  file.insert(file.end(), before_it.begin(), before_it.end());
  ByteWriter w(file);
  w.u8(kind);
  w.u32(static_cast<uint32_t>(payload.size()));
  w.bytes(payload);
  REQUIRE(seal_snapshot(file));
  return file;
}

std::vector<uint8_t> rrset_record(const char* owner, RRType type,
                                  const std::vector<wire::Rdata>& rdatas,
                                  uint8_t rank = 4, uint8_t status = 1) {
  std::vector<uint8_t> p;
  ByteWriter w(p);
  w.u32(kT0 + 3600);
  w.u32(3600);
  w.u8(rank);
  w.u8(status);
  w.name(N(owner));
  w.u16(static_cast<uint16_t>(type));
  w.u16(1);
  w.u16(static_cast<uint16_t>(rdatas.size()));
  w.u16(0);
  for (const auto& r : rdatas) {
    w.u16(static_cast<uint16_t>(r.size()));
    w.bytes(r);
  }
  return p;
}

}  // namespace

TEST_CASE("snapshot: forged records behind a valid checksum are refused", "[snapshot][damage]") {
  SECTION("well-formed record restores") {
    Cache c;
    auto file = forged(2, rrset_record("ok.example.", RRType::A, {a_rdata(192, 0, 2, 1)}));
    SnapshotReader reader;
    REQUIRE(restore_all(file, c, kT0, 1000, &reader) == SnapshotReader::Step::done);
    CHECK(reader.stats().restored.rrsets == 1);
  }
  SECTION("an A rdata of 5 octets is rejected by the store") {
    Cache c;
    auto file = forged(2, rrset_record("bad.example.", RRType::A, {wire::Rdata(5, 1)}));
    SnapshotReader reader;
    REQUIRE(restore_all(file, c, kT0, 1000, &reader) == SnapshotReader::Step::done);
    CHECK(reader.stats().rejected == 1);
    CHECK(entries(c) == 0);
  }
  SECTION("a bad rank, a bogus status or no rdata are rejected") {
    for (auto payload : {rrset_record("x.example.", RRType::A, {a_rdata(1, 2, 3, 4)}, 9, 1),
                         rrset_record("x.example.", RRType::A, {a_rdata(1, 2, 3, 4)}, 4, 3),
                         rrset_record("x.example.", RRType::A, {a_rdata(1, 2, 3, 4)}, 4, 7),
                         rrset_record("x.example.", RRType::A, {})}) {
      Cache c;
      SnapshotReader reader;
      REQUIRE(restore_all(forged(2, payload), c, kT0, 1000, &reader) ==
              SnapshotReader::Step::done);
      CHECK(reader.stats().rejected == 1);
      CHECK(entries(c) == 0);
    }
  }
  SECTION("a record longer than the file, an unknown kind, trailing octets") {
    auto good = rrset_record("ok.example.", RRType::A, {a_rdata(192, 0, 2, 1)});
    for (auto file : {forged(9, good), forged(0, good), forged(63, good)}) {
      Cache c;
      SnapshotReader reader;
      CHECK(restore_all(file, c, kT0, 1000, &reader) == SnapshotReader::Step::failed);
      CHECK(reader.error() == SnapshotError::bad_record);
      CHECK(entries(c) == 0);
    }
    // One octet after the last RRSIG: the store refuses the payload.
    auto longer = good;
    longer.push_back(0);
    {
      Cache c;
      SnapshotReader reader;
      CHECK(restore_all(forged(2, longer), c, kT0, 1000, &reader) == SnapshotReader::Step::done);
      CHECK(reader.stats().rejected == 1);
      CHECK(entries(c) == 0);
    }
    // The record's length field beyond the end of the file.
    auto file = forged(2, good);
    file[kSnapshotHeaderSize + 1] = 0x7F;
    REQUIRE(seal_snapshot(file));
    Cache c;
    SnapshotReader reader;
    CHECK(restore_all(file, c, kT0, 1000, &reader) == SnapshotReader::Step::failed);
    CHECK(reader.error() == SnapshotError::bad_record);
  }
  SECTION("records before a bad one stay, the restore stops at it") {
    std::vector<uint8_t> first;
    ByteWriter w(first);
    auto good = rrset_record("first.example.", RRType::A, {a_rdata(192, 0, 2, 1)});
    w.u8(2);
    w.u32(static_cast<uint32_t>(good.size()));
    w.bytes(good);
    auto file = forged(3, {1, 2, 3}, first);
    Cache c;
    SnapshotReader reader;
    CHECK(restore_all(file, c, kT0, 1000, &reader) == SnapshotReader::Step::failed);
    CHECK(reader.error_offset() == kSnapshotHeaderSize + 5 + good.size());
    CHECK(reader.stats().restored.rrsets == 1);
  }
}

TEST_CASE("snapshot: restoring into a smaller cache keeps the most recently used",
          "[snapshot]") {
  CacheConfig one_shard;
  one_shard.shards = 1;
  Cache before(one_shard);
  for (int i = 0; i < 2000; ++i) {
    std::string name = "n" + std::to_string(i) + ".example.";
    before.insert_rrset(a_rrset(name.c_str(), 3600), Rank::answer_authoritative,
                        DnssecStatus::insecure, kT0);
  }
  auto file = snapshot_of(before, kT0, kT0ms);
  CacheConfig small = one_shard;
  small.rrset_max_bytes = 64 * 1024;  // room for a few hundred
  Cache after(small);
  REQUIRE(restore_all(file, after, kT0) == SnapshotReader::Step::done);
  size_t kept = after.stats().rrsets.entries;
  CHECK(kept > 100);
  CHECK(kept < 2000);
  // Inserted last = most recently used before the stop: still there.
  CHECK(after.rrsets().lookup(N("n1999.example."), RRType::A, RRClass::IN, kT0));
  CHECK_FALSE(after.rrsets().lookup(N("n0.example."), RRType::A, RRClass::IN, kT0));
}
