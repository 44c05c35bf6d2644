// Warm restart, the daemon's side: the file written at stop and read back at
// start (through a real file in a temporary directory), the DNSSEC settings
// a snapshot must match, negative trust anchors and forward or stub zones
// that changed, the server table, and files that are missing, damaged or
// not ours.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "resolver/daemon/cache_persistence.h"
#include "resolver/walk/server_state_snapshot.h"

using namespace sextant;
using namespace sextant::resolver;
using wire::RRClass;
using wire::RRType;

namespace {

wire::Name N(const char* text) { return wire::Name::from_text(text); }

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/sextant-persist-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

uint32_t now_s() { return static_cast<uint32_t>(std::time(nullptr)); }

void put_a(cache::Cache& c, const char* name, uint32_t ttl = 3600) {
  wire::RRset r;
  r.owner = N(name);
  r.type = RRType::A;
  r.ttl = ttl;
  r.rdatas = {{192, 0, 2, 1}};
  REQUIRE(c.insert_rrset(r, cache::Rank::answer_authoritative, cache::DnssecStatus::secure,
                         now_s()) == cache::RRsetCache::Result::stored);
}

bool has_a(cache::Cache& c, const char* name) {
  return c.rrsets().lookup(N(name), RRType::A, RRClass::IN, now_s()).has_value();
}

SnapshotContext context(bool validation = true, std::vector<wire::Name> ntas = {},
                        unsigned iterations = 50) {
  dnssec::TrustAnchors anchors = dnssec::TrustAnchors::builtin_root();
  return SnapshotContext::of(validation, &anchors, iterations, ntas);
}

// Saves `from` into `file` and loads it into a fresh cache under `ctx`.
void save_then_load(cache::Cache& from, const std::string& file, cache::Cache& into,
                    SnapshotContext save_ctx = context(), SnapshotContext load_ctx = context()) {
  {
    CachePersistence saver(file, 0, 1 << 30, from, save_ctx);
    REQUIRE(saver.save("in a test"));
  }
  CachePersistence loader(file, 0, 1 << 30, into, load_ctx);
  loader.start_loading();
  REQUIRE(loader.wait_loaded(std::chrono::seconds(10)));
}

}  // namespace

TEST_CASE("warm restart: the cache saved at stop comes back at start", "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  cache::Cache before;
  for (const char* n : {"a.example.", "b.example.", "c.example."}) put_a(before, n);
  cache::Cache after;
  save_then_load(before, file, after);
  CHECK(has_a(after, "a.example."));
  CHECK(has_a(after, "c.example."));
  CHECK(after.stats().rrsets.entries == 3);
  // No temporary file is left beside it.
  CHECK(access((file + ".tmp").c_str(), F_OK) != 0);
}

TEST_CASE("warm restart: other DNSSEC settings make the snapshot unusable", "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  cache::Cache before;
  put_a(before, "a.example.");
  SECTION("validation turned off") {
    cache::Cache after;
    save_then_load(before, file, after, context(true), context(false));
    CHECK(after.stats().rrsets.entries == 0);
  }
  SECTION("other trust anchors") {
    dnssec::TrustAnchors other = dnssec::TrustAnchors::from_text(
        ". 3600 IN DS 12345 8 2 0000000000000000000000000000000000000000000000000000000000000000\n");
    cache::Cache after;
    save_then_load(before, file, after, context(),
                   SnapshotContext::of(true, &other, 50, std::vector<wire::Name>{}));
    CHECK(after.stats().rrsets.entries == 0);
  }
  SECTION("another NSEC3 iteration limit") {
    cache::Cache after;
    save_then_load(before, file, after, context(true, {}, 50), context(true, {}, 100));
    CHECK(after.stats().rrsets.entries == 0);
  }
  SECTION("the same settings") {
    cache::Cache after;
    save_then_load(before, file, after);
    CHECK(after.stats().rrsets.entries == 1);
  }
}

TEST_CASE("warm restart: names below negative trust anchors that changed are not restored",
          "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  cache::Cache before;
  put_a(before, "www.kept.example.");
  put_a(before, "www.added.example.");
  put_a(before, "www.removed.example.");
  cache::Cache after;
  save_then_load(before, file, after, context(true, {N("removed.example."), N("kept.example.")}),
                 context(true, {N("kept.example."), N("added.example.")}));
  CHECK(has_a(after, "www.kept.example."));
  CHECK_FALSE(has_a(after, "www.added.example."));
  CHECK_FALSE(has_a(after, "www.removed.example."));
}

namespace {

ForwardZoneConfig forward_zone(const char* zone, const char* address) {
  ForwardZoneConfig z;
  z.zone = zone;
  ForwardUpstreamConfig u;
  u.address = address;
  z.upstreams.push_back(u);
  return z;
}

StubZoneConfig stub_zone(const char* zone, const char* address) {
  StubZoneConfig z;
  z.zone = zone;
  StubServerConfig s;
  s.address = address;
  z.servers.push_back(s);
  return z;
}

SnapshotContext context_with(const Config& config) {
  SnapshotContext c = context();
  c.zones = SnapshotContext::zones_of(config);
  return c;
}

}  // namespace

TEST_CASE("warm restart: names at and below forward or stub zones that changed are not restored",
          "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  cache::Cache before;
  for (const char* n : {"www.same.example.", "same.example.", "www.moved.example.", "moved.example.",
                        "www.gone.example.", "www.new.example.", "www.stub.example.", "www.elsewhere.example."})
    put_a(before, n);
  Config saved;
  saved.forward_zones = {forward_zone("same.example.", "192.0.2.1"), forward_zone("moved.example.", "192.0.2.1"),
                         forward_zone("gone.example.", "192.0.2.1")};
  saved.stub_zones = {stub_zone("stub.example.", "192.0.2.9")};
  Config now;
  now.forward_zones = {forward_zone("same.example.", "192.0.2.1"), forward_zone("moved.example.", "192.0.2.2"),
                       forward_zone("new.example.", "192.0.2.1")};
  now.stub_zones = {stub_zone("stub.example.", "192.0.2.9")};
  SECTION("zones that came, went or changed") {
    cache::Cache after;
    save_then_load(before, file, after, context_with(saved), context_with(now));
    CHECK(has_a(after, "www.same.example."));
    CHECK(has_a(after, "same.example."));
    CHECK(has_a(after, "www.stub.example."));
    CHECK(has_a(after, "www.elsewhere.example."));
    CHECK_FALSE(has_a(after, "www.moved.example."));  // another upstream
    CHECK_FALSE(has_a(after, "moved.example."));      // the apex too
    CHECK_FALSE(has_a(after, "www.gone.example."));   // now walked
    CHECK_FALSE(has_a(after, "www.new.example."));    // was walked
  }
  SECTION("a stub zone's servers changed") {
    now.stub_zones = {stub_zone("stub.example.", "192.0.2.10")};
    cache::Cache after;
    save_then_load(before, file, after, context_with(now), context_with(saved));
    CHECK_FALSE(has_a(after, "www.stub.example."));
    CHECK(has_a(after, "www.same.example."));
  }
  SECTION("the same zones") {
    cache::Cache after;
    save_then_load(before, file, after, context_with(now), context_with(now));
    CHECK(after.stats().rrsets.entries == 8);
  }
}

TEST_CASE("warm restart: a zone's fingerprint follows every setting that changes its answers",
          "[warm-restart]") {
  Config base;
  base.forward_zones = {forward_zone("corp.example.", "192.0.2.1")};
  const auto reference = SnapshotContext::zones_of(base);
  REQUIRE(reference.size() == 1);
  CHECK(reference[0].zone == N("corp.example."));
  auto differs = [&](const Config& c) { return SnapshotContext::zones_of(c) != reference; };
  Config c = base;
  c.forward_zones[0].forward_first = true;
  CHECK(differs(c));
  c = base;
  c.forward_zones[0].upstreams[0].port = 853;
  CHECK(differs(c));
  c = base;
  c.forward_zones[0].upstreams[0].transport = UpstreamTransport::tls;
  CHECK(differs(c));
  c = base;
  c.forward_zones[0].upstreams[0].spki_pins = {"pin"};
  CHECK(differs(c));
  c = base;
  c.forward_zones[0].trust.negative_trust_anchor = true;
  CHECK(differs(c));
  c = base;
  c.forward_zones[0].upstreams.push_back(c.forward_zones[0].upstreams[0]);
  CHECK(differs(c));
  c = base;
  c.forward_zones[0].line = 42;  // where it was written is not a setting
  CHECK_FALSE(differs(c));
  // A forward zone and a stub zone with the same server are not the same.
  Config stub;
  stub.stub_zones = {stub_zone("corp.example.", "192.0.2.1")};
  CHECK(SnapshotContext::zones_of(stub) != reference);
}

TEST_CASE("warm restart: the context round-trips and refuses junk", "[warm-restart]") {
  SnapshotContext c = context(true, {N("Broken.Example.")}, 77);
  auto bytes = c.encode();
  auto back = SnapshotContext::decode(bytes);
  REQUIRE(back);
  CHECK(back->incompatibility(c).empty());
  CHECK(back->negative_anchors.at(0) == N("broken.example."));
  CHECK(c.changed_negative_anchors(*back).empty());
  Config zones;
  zones.forward_zones = {forward_zone("Corp.Example.", "192.0.2.1")};
  zones.stub_zones = {stub_zone("stub.example.", "192.0.2.2")};
  c.zones = SnapshotContext::zones_of(zones);
  auto zone_bytes = c.encode();
  auto with_zones = SnapshotContext::decode(zone_bytes);
  REQUIRE(with_zones);
  CHECK(with_zones->zones == c.zones);
  CHECK(with_zones->zones.at(0).zone == N("corp.example."));
  CHECK(c.changed_zones(*with_zones).empty());
  for (std::string junk : {"", "validation maybe\nanchors 0\nnsec3-max-iterations 1\n",
                           "validation on\nanchors 0\n", "validation on\nanchors 0\nnsec3-max-iterations x\n",
                           "validation on\nanchors 0\nnsec3-max-iterations 1\nnta a..b\n",
                           "validation on\nanchors 0\nnsec3-max-iterations 1\nother 1\n",
                           "validation on\nanchors 0\nnsec3-max-iterations 1\nzone 0123\n",
                           "validation on\nanchors 0\nnsec3-max-iterations 1\nzone  a.example.\n",
                           "validation on\nanchors 0\nnsec3-max-iterations 1"}) {
    INFO(junk);
    CHECK_FALSE(SnapshotContext::decode(std::vector<uint8_t>(junk.begin(), junk.end())));
  }
}

TEST_CASE("warm restart: damaged, foreign, missing and oversized files start cold",
          "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  cache::Cache before;
  put_a(before, "a.example.");
  {
    CachePersistence saver(file, 0, 1 << 30, before, context());
    REQUIRE(saver.save("in a test"));
  }
  auto load = [&](uint64_t max_bytes = 1 << 30) {
    cache::Cache after;
    CachePersistence loader(file, 0, max_bytes, after, context());
    loader.start_loading();
    REQUIRE(loader.wait_loaded(std::chrono::seconds(10)));
    return after.stats().rrsets.entries;
  };
  REQUIRE(load() == 1);
  SECTION("oversized") { CHECK(load(16) == 0); }
  SECTION("damaged") {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
    f.close();
    CHECK(load() == 0);
  }
  SECTION("truncated") {
    REQUIRE(truncate(file.c_str(), 60) == 0);
    CHECK(load() == 0);
  }
  SECTION("not a snapshot") {
    std::ofstream(file) << "server:\n  listen: []\n";
    CHECK(load() == 0);
  }
  SECTION("missing") {
    std::remove(file.c_str());
    CHECK(load() == 0);
  }
  SECTION("a directory") {
    std::remove(file.c_str());
    REQUIRE(mkdir(file.c_str(), 0700) == 0);
    CHECK(load() == 0);
  }
}

TEST_CASE("warm restart: a failed save keeps the old file", "[warm-restart]") {
  cache::Cache c;
  put_a(c, "a.example.");
  CachePersistence p("/nonexistent-dir/sub/cache.snapshot", 0, 1 << 30, c, context());
  CHECK_FALSE(p.save("in a test"));
  CHECK(p.stats().saves_failed.load() == 1);
  CachePersistence off("", 0, 1 << 30, c, context());
  CHECK_FALSE(off.save("in a test"));
  CHECK(off.snapshot().size() > 40);  // dump-cache --to works without a file
}

TEST_CASE("warm restart: the directory is created only when missing", "[warm-restart]") {
  TempDir dir;
  cache::Cache c;
  CachePersistence p(dir.path + "/state/cache.snapshot", 0, 1 << 30, c, context());
  p.prepare_directory(-1, -1);
  struct stat st {};
  REQUIRE(stat((dir.path + "/state").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 0777) == 0750);
  // Two levels missing: nothing is created (a typo should not build trees).
  CachePersistence deep(dir.path + "/x/y/cache.snapshot", 0, 1 << 30, c, context());
  deep.prepare_directory(-1, -1);
  CHECK(stat((dir.path + "/x").c_str(), &st) != 0);
}

TEST_CASE("warm restart: server RTTs and quirks come back in every worker's table",
          "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  auto now = std::chrono::steady_clock::now();
  ServerStateTable w0, w1;
  const uint8_t a[4] = {192, 0, 2, 1};
  const uint8_t b[4] = {192, 0, 2, 2};
  ServerAddress fast = ServerAddress::ipv4(a);
  ServerAddress dead = ServerAddress::ipv4(b, 5353);
  w0.update(fast, now, std::chrono::minutes(10), [](ServerState& s) {
    s.rtt_known = true;
    s.srtt = std::chrono::milliseconds(12);
    s.rttvar = std::chrono::milliseconds(3);
    s.no_edns = true;
  });
  w1.update(dead, now, std::chrono::minutes(10), [&](ServerState& s) {
    s.dead = true;
    s.dead_until = now + std::chrono::seconds(60);
    s.consecutive_timeouts = 2;
    s.mangles_case = true;
  });
  cache::Cache c;
  {
    CachePersistence saver(file, 0, 1 << 30, c, context());
    saver.set_server_tables({&w0, &w1});
    REQUIRE(saver.save("in a test"));
  }
  ServerStateTable r0, r1;
  // A worker that already learned about `fast` keeps what it learned.
  r1.update(fast, now, std::chrono::minutes(10), [](ServerState& s) {
    s.rtt_known = true;
    s.srtt = std::chrono::milliseconds(99);
  });
  cache::Cache after;
  CachePersistence loader(file, 0, 1 << 30, after, context());
  loader.set_server_tables({&r0, &r1});
  loader.start_loading();
  REQUIRE(loader.wait_loaded(std::chrono::seconds(10)));
  auto f0 = r0.get(fast);
  REQUIRE(f0);
  CHECK(f0->rtt_known);
  CHECK(f0->srtt == std::chrono::milliseconds(12));
  CHECK(f0->rttvar == std::chrono::milliseconds(3));
  CHECK(f0->no_edns);
  CHECK(r1.get(fast)->srtt == std::chrono::milliseconds(99));
  auto d1 = r1.get(dead);
  REQUIRE(d1);
  CHECK(d1->dead);
  CHECK(d1->mangles_case);
  CHECK(d1->consecutive_timeouts == 2);
  auto left = d1->dead_until - std::chrono::steady_clock::now();
  CHECK(left > std::chrono::seconds(50));
  CHECK(left <= std::chrono::seconds(60));
  CHECK(loader.stats().restored_entries.load() == 2);
}

TEST_CASE("warm restart: a server record that does not parse is refused", "[warm-restart]") {
  ServerStateTable t;
  ServerStateTable* tables[] = {&t};
  auto now = std::chrono::steady_clock::now();
  CHECK_FALSE(restore_server_state(std::vector<uint8_t>{}, 0, tables, now));
  CHECK_FALSE(restore_server_state(std::vector<uint8_t>{5, 1, 2, 3, 4}, 0, tables, now));
  std::vector<uint8_t> ok = {4, 192, 0, 2, 1, 0, 53, 1, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(restore_server_state(ok, 0, tables, now));
  auto longer = ok;
  longer.push_back(0);
  CHECK_FALSE(restore_server_state(longer, 0, tables, now));
  auto bad_flags = ok;
  bad_flags[7] = 0x10;
  CHECK_FALSE(restore_server_state(bad_flags, 0, tables, now));
  CHECK(t.size() == 1);
}

TEST_CASE("warm restart: the periodic save runs once the interval has passed", "[warm-restart]") {
  TempDir dir;
  std::string file = dir.path + "/cache.snapshot";
  cache::Cache c;
  put_a(c, "a.example.");
  CachePersistence p(file, 60000, 1 << 30, c, context());
  auto start = std::chrono::steady_clock::now();
  p.on_tick(start + std::chrono::seconds(30));
  CHECK(access(file.c_str(), F_OK) != 0);  // not yet
  p.on_tick(start + std::chrono::seconds(61));
  CHECK(access(file.c_str(), F_OK) == 0);
  CHECK(p.stats().saves_ok.load() == 1);
  CHECK(p.stats().last_save_entries.load() == 1);
  // At stop it is written again (nothing was being loaded).
  put_a(c, "b.example.");
  p.save_at_stop();
  CHECK(p.stats().saves_ok.load() == 2);
  CHECK(p.stats().last_save_entries.load() == 2);
  // No interval: ticks never save.
  CachePersistence never(dir.path + "/other.snapshot", 0, 1 << 30, c, context());
  never.on_tick(start + std::chrono::hours(24));
  CHECK(access((dir.path + "/other.snapshot").c_str(), F_OK) != 0);
}
