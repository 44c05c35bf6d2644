// libFuzzer target for the warm-restart loader (cache/cache_snapshot.h and
// the server-table records of resolver/walk/server_state_snapshot.h).
//
// The first input octet picks the mode:
// - even: the rest is a whole file, checked as the daemon checks one (the
//   header, sizes and checksum turn nearly everything away: this mode
//   guards open());
// - odd: the rest is a body; a valid header is put around it and sealed,
//   so the records themselves reach the stores' restore() (as they would
//   from a forged file whose checksum is right).
//
// Properties checked on every input (any violation aborts):
// - nothing crashes, leaks or reads out of bounds (ASan/UBSan);
// - a cache filled from the input is consistent: its text dump (which
//   walks every entry's layout), look-ups of every restored name, and the
//   answer rendering all work;
// - a snapshot of that cache restores into a fresh cache with every entry
//   restored and nothing refused, and the two caches dump the same text.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "cache/cache_snapshot.h"
#include "resolver/walk/server_state_snapshot.h"

using namespace sextant;

namespace {

constexpr uint32_t kNow = 1'700'000'000;
constexpr uint64_t kWrittenMs = uint64_t{kNow} * 1000;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_cache_snapshot property violated: %s\n", what);
  std::abort();
}

cache::CacheConfig small_cache() {
  cache::CacheConfig c;
  c.shards = 4;
  c.rrset_max_bytes = 4u << 20;
  c.answer_max_bytes = 2u << 20;
  c.negative_max_bytes = 2u << 20;
  c.delegation_max_bytes = 1u << 20;
  return c;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

void restore_all(std::span<const uint8_t> file, cache::Cache& into, resolver::ServerStateTable& servers,
                 cache::SnapshotReader& reader) {
  if (reader.open(file) != cache::SnapshotError::ok) return;
  resolver::ServerStateTable* tables[] = {&servers};
  auto now = std::chrono::steady_clock::time_point(std::chrono::hours(1000));
  cache::SnapshotReader::ExtensionHandler handler = [&](uint8_t kind, std::span<const uint8_t> p) {
    if (kind != resolver::kServerStateRecordKind) return true;
    return resolver::restore_server_state(p, 1500, tables, now);
  };
  while (reader.restore(into, kNow, 64, handler) == cache::SnapshotReader::Step::more) {
  }
}

// Touches every restored entry the way the resolver would.
void exercise(cache::Cache& c) {
  std::string dump = c.dump(kNow);
  std::vector<cache::EntryRef<cache::RRsetEntry>> refs;
  c.rrsets().store().collect(refs);
  uint8_t out[4096];
  for (const auto& ref : refs) {
    wire::Name owner = cache::key_name(cache::ShardedStore<cache::RRsetEntry>::key_of(*ref));
    auto hit = c.rrsets().lookup(owner, ref->type, ref->rclass, kNow, cache::StalePolicy::allow_stale);
    if (hit) (void)hit->rrset.to_rrset(hit->ttl);
    for (bool dnssec_ok : {false, true}) {
      cache::AnswerKey key;
      key.qname = owner;
      key.qtype = ref->type;
      key.qclass = ref->rclass;
      key.dnssec_ok = dnssec_ok;
      size_t len = 0;
      cache::AnswerHit answer;
      (void)c.answers().lookup(key, 1, owner, kNow, out, len, answer, cache::StalePolicy::allow_stale);
    }
  }
  std::vector<cache::EntryRef<cache::AnswerEntry>> answers;
  c.answers().store().collect(answers);
  for (const auto& ref : answers) {
    cache::AnswerKey key = cache::answer_key_of(*ref);
    size_t len = 0;
    cache::AnswerHit hit;
    (void)c.answers().lookup(key, 7, key.qname, kNow, out, len, hit, cache::StalePolicy::allow_stale);
  }
  std::vector<cache::EntryRef<cache::NegativeEntry>> negatives;
  c.negatives().store().collect(negatives);
  for (const auto& ref : negatives) {
    wire::Name name = cache::key_name(cache::ShardedStore<cache::NegativeEntry>::key_of(*ref));
    auto hit = c.negatives().lookup(name, ref->qtype, ref->rclass, kNow, cache::StalePolicy::allow_stale);
    if (hit) (void)hit->entry.records();
  }
  std::vector<cache::EntryRef<cache::DelegationEntry>> delegations;
  c.delegations().store().collect(delegations);
  for (const auto& ref : delegations) (void)cache::servers_of(*ref);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> file;
  if (data[0] % 2 == 0) {
    file.assign(data + 1, data + size);
  } else {
    cache::SnapshotWriter writer({}, kWrittenMs);
    file = writer.finish();
    file.insert(file.end(), data + 1, data + size);
    cache::seal_snapshot(file);
  }
  cache::Cache first(small_cache());
  resolver::ServerStateTable servers;
  cache::SnapshotReader reader;
  restore_all(file, first, servers, reader);
  exercise(first);

  // What was restored saves and restores again, all of it, identically.
  cache::SnapshotWriter writer({}, kWrittenMs);
  writer.add_cache(first, kNow);
  const resolver::ServerStateTable* tables[] = {&servers};
  resolver::add_server_states(writer, tables, std::chrono::steady_clock::time_point(std::chrono::hours(1000)));
  auto again = writer.finish();
  cache::Cache second(small_cache());
  resolver::ServerStateTable servers2;
  cache::SnapshotReader reader2;
  restore_all(again, second, servers2, reader2);
  if (reader2.error() != cache::SnapshotError::ok) fail("a snapshot of a restored cache does not read back");
  const auto& st = reader2.stats();
  if (st.rejected != 0) fail("a snapshot of a restored cache has refused records");
  if (st.restored.total() != writer.counts().total()) fail("not every saved record was restored");
  if (sorted_lines(first.dump(kNow)) != sorted_lines(second.dump(kNow))) {
    fail("the restored copy dumps differently");
  }
  if (servers.size() != servers2.size()) fail("server table sizes differ");
  return 0;
}
