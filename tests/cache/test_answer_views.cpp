// Answers under a view tag (resolver/policy/ views whose policy may rewrite
// answers): never served to another view or to the shared key space, never
// rendered from the RRset store, flushed by view.
#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "cache/cache.h"
#include "cache_test_support.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRType;

namespace {

AnswerKey key_for(const char* name, uint16_t view) {
  AnswerKey k;
  k.qname = N(name);
  k.qtype = RRType::A;
  k.view = view;
  return k;
}

std::vector<uint8_t> a_answer(const char* name, uint8_t last, uint32_t ttl = 300) {
  PacketWriter w(0x1234, answer_flags(), name, RRType::A);
  w.record(1, name, RRType::A, ttl, a_rdata(192, 0, 2, last));
  return w.bytes();
}

bool hit(AnswerCache& answers, const AnswerKey& key, std::vector<uint8_t>* packet = nullptr) {
  std::array<uint8_t, 1500> out{};
  size_t len = 0;
  AnswerHit info;
  bool found = answers.lookup(key, 7, key.qname, kT0 + 1, out, len, info);
  if (found && packet) packet->assign(out.begin(), out.begin() + static_cast<ptrdiff_t>(len));
  return found;
}

}  // namespace

TEST_CASE("answer views: each view sees only its own answers", "[answer][views]") {
  Cache cache;
  const char* name = "www.example.";
  // The RRset as the authority sent it, and two views' answers.
  REQUIRE(cache.insert_rrset(make_rrset(name, RRType::A, 300, {a_rdata(192, 0, 2, 1)}), Rank::answer_authoritative,
                             DnssecStatus::insecure, kT0) == RRsetCache::Result::stored);
  CHECK(cache.answers().insert(key_for(name, 0), a_answer(name, 1), 300, DnssecStatus::insecure, kT0) ==
        AnswerCache::Result::from_rrsets);
  // A view's answer is always a wire entry, even when the RRset renders it.
  CHECK(cache.answers().insert(key_for(name, 5), a_answer(name, 1), 300, DnssecStatus::insecure, kT0) ==
        AnswerCache::Result::stored);
  CHECK(cache.answers().insert(key_for(name, 6), a_answer(name, 99), 300, DnssecStatus::insecure, kT0) ==
        AnswerCache::Result::stored);
  std::vector<uint8_t> shared, five, six;
  REQUIRE(hit(cache.answers(), key_for(name, 0), &shared));
  REQUIRE(hit(cache.answers(), key_for(name, 5), &five));
  REQUIRE(hit(cache.answers(), key_for(name, 6), &six));
  CHECK(shared.back() == 1);
  CHECK(five.back() == 1);
  CHECK(six.back() == 99);
  // A view with nothing stored does not fall back to the RRset.
  CHECK_FALSE(hit(cache.answers(), key_for(name, 7)));
  CHECK(make_answer_key(key_for(name, 5)).size == make_answer_key(key_for(name, 0)).size + 2);

  std::string dump = cache.dump(kT0 + 1);
  CHECK(dump.find("view=6") != std::string::npos);
}

TEST_CASE("answer views: flush by view, whole or by name", "[answer][views]") {
  Cache cache;
  for (const char* n : {"a.example.", "b.example.", "c.other."}) {
    for (uint16_t v : {uint16_t{0}, uint16_t{3}, uint16_t{4}})
      REQUIRE(cache.answers().insert(key_for(n, v), a_answer(n, 2), 300, DnssecStatus::insecure, kT0) ==
              AnswerCache::Result::stored);
  }
  CHECK(cache.answers().flush_view(3, [](const wire::Name& n) { return n.is_subdomain_of(N("example.")); }) == 2);
  CHECK_FALSE(hit(cache.answers(), key_for("a.example.", 3)));
  CHECK(hit(cache.answers(), key_for("c.other.", 3)));
  CHECK(hit(cache.answers(), key_for("a.example.", 4)));
  CHECK(hit(cache.answers(), key_for("a.example.", 0)));
  CHECK(cache.answers().flush_view(4) == 3);
  CHECK(hit(cache.answers(), key_for("a.example.", 0)));
  CHECK(cache.answers().flush_view(0) == 0);  // the shared space is never a view's

  // A CNAME target counts, even when nothing is stored at it.
  PacketWriter w(0x1234, answer_flags(), "alias.example.", RRType::A);
  w.record(1, "alias.example.", RRType::CNAME, 300, name_rdata("target.blocked."));
  REQUIRE(cache.answers().insert(key_for("alias.example.", 9), w.bytes(), 300, DnssecStatus::insecure, kT0) ==
          AnswerCache::Result::stored);
  CHECK(cache.answers().flush_view(9, [](const wire::Name& n) { return n == N("target.blocked."); }) == 1);
}
