// Concurrency smoke tests (run under ASan/UBSan): worker threads hammer
// look-ups, inserts, flushes and refresh claims on shared keys. Bounded in
// iterations; the point is that nothing crashes, leaks or returns torn data.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache.h"
#include "cache_test_support.h"
#include "wire/packet_scan.h"

using namespace sextant;
using namespace sextant::cache;
using namespace sextant::cache::test;
using wire::RRClass;
using wire::RRType;

namespace {

constexpr int kThreads = 4;
constexpr int kIterations = 4000;
constexpr int kNames = 64;

std::string name_for(int i) { return "n" + std::to_string(i) + ".example."; }

}  // namespace

TEST_CASE("concurrency: RRset and negative stores under parallel use", "[concurrency]") {
  CacheConfig config;
  config.shards = 4;
  config.rrset_max_bytes = 32 * 1024;  // small: eviction runs concurrently too
  Cache cache(config);
  std::atomic<int> hits{0};
  std::atomic<bool> torn{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        int n = (i * 7 + t * 13) % kNames;
        std::string name = name_for(n);
        uint32_t now = kT0 + static_cast<uint32_t>(i / 10);
        switch ((i + t) % 5) {
          case 0:
          case 1: {
            auto rrset = make_rrset(name.c_str(), RRType::A, 60,
                                    {a_rdata(10, 0, 0, static_cast<uint8_t>(n))},
                                    {rrsig_rdata(RRType::A, 13, 2, 60, "example.", 64)});
            cache.insert_rrset(rrset, Rank::answer_authoritative, DnssecStatus::secure, now);
            break;
          }
          case 2: {
            auto hit = cache.rrsets().lookup(N(name.c_str()), RRType::A, RRClass::IN, now,
                                             StalePolicy::allow_stale);
            if (hit) {
              ++hits;
              auto r = hit->rrset.to_rrset(hit->ttl);
              // Each name only ever holds its own address.
              if (r.rdatas.size() != 1 || r.rdatas[0][3] != n || r.signatures.size() != 1) {
                torn = true;
              }
              if (hit->refresh_claimed) {
                cache.rrsets().finish_refresh(N(name.c_str()), RRType::A, RRClass::IN);
              }
            }
            break;
          }
          case 3:
            cache.negatives().insert(NegativeKind::nodata, N(name.c_str()), RRType::AAAA,
                                     RRClass::IN, soa_rrset("example.", 60, 60), {},
                                     DnssecStatus::insecure, now);
            (void)cache.negatives().lookup(N(("x." + name).c_str()), RRType::AAAA, RRClass::IN,
                                           now);
            break;
          case 4:
            if (i % 50 == 4) cache.flush_name(N(name.c_str()));
            if (i % 997 == 4) cache.flush_subtree(N("example."));
            break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_FALSE(torn);
  CHECK(hits > 0);
  CHECK(cache.rrsets().store().bytes() <= config.rrset_max_bytes);
}

TEST_CASE("concurrency: answer cache hits while entries are replaced", "[concurrency]") {
  CacheConfig config;
  config.shards = 2;
  Cache cache(config);
  std::vector<std::vector<uint8_t>> packets;
  for (int n = 0; n < kNames; ++n) {
    std::string name = name_for(n);
    packets.push_back(PacketWriter(1, answer_flags(), name.c_str(), RRType::A)
                          .record(1, name.c_str(), RRType::A, 600,
                                  a_rdata(10, 0, 0, static_cast<uint8_t>(n)))
                          .bytes());
  }
  std::atomic<int> served{0};
  std::atomic<int> prefetches{0};
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::array<uint8_t, 512> out{};
      for (int i = 0; i < kIterations; ++i) {
        int n = (i * 5 + t) % kNames;
        AnswerKey key;
        key.qname = N(name_for(n).c_str());
        key.qtype = RRType::A;
        uint32_t now = kT0 + static_cast<uint32_t>(i / 8);  // crosses the prefetch window
        if (t == 0 && i % 3 == 0) {
          cache.answers().insert(key, packets[n], 600, DnssecStatus::insecure, now);
          continue;
        }
        size_t len = 0;
        AnswerHit hit;
        if (cache.answers().lookup(key, static_cast<uint16_t>(i), key.qname, now, out, len, hit,
                                   StalePolicy::allow_stale)) {
          ++served;
          if (hit.refresh_claimed) ++prefetches;
          wire::PacketScan scan;
          if (len != packets[n].size() || !wire::scan_packet({out.data(), len}, scan, {}) ||
              out[len - 1] != n || get16(out.data()) != static_cast<uint16_t>(i)) {
            bad = true;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_FALSE(bad);
  CHECK(served > 0);
  auto stats = cache.stats();
  CHECK(stats.answers.hits == static_cast<uint64_t>(served.load()));
}
