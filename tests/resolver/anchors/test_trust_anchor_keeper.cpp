// The daemon's RFC 5011 keeper (resolver/anchors/trust_anchor_keeper.h)
// driving real probes through a walker on the scripted network and a fake
// clock: the state file is created from the configured anchor, a new root
// key goes through its add hold-down, the old one is revoked, the file
// shows every step and a restarted keeper reads it back; a second keeper
// on the same file does not write it; a broken file stops the start with
// file:line.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dnssec/anchor_state_file.h"
#include "dnssec/record_fields.h"
#include "resolver/anchors/trust_anchor_keeper.h"
#include "tests/dnssec/test_helpers.h"
#include "tests/resolver/walk/scripted_network.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using dnssec::ManagedKeyState;
using dnssec::test::TestKey;
using std::chrono::milliseconds;
using wire::RRType;

namespace {

constexpr std::string_view kRoot = "198.41.0.4";

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/sextant-anchors-XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A root served by one scripted server whose DNSKEY answer the test changes.
struct RootWorld {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  std::unique_ptr<Walker> walker;
  ScriptedReply* keys = nullptr;

  RootWorld() {
    ScriptedReply priming;
    priming.answer.push_back(rr(". 3600 IN NS a.root-servers.net."));
    priming.additional.push_back(rr(fmt::format("a.root-servers.net. 3600 IN A {}", kRoot)));
    network.on(kRoot, ".", RRType::NS, priming);
    keys = &network.on(kRoot, ".", RRType::DNSKEY, {}, 1000000);
    WalkerOptions options;
    options.explore_one_in = 0;
    options.qname_minimisation = false;
    RootHints hints;
    NameServerHint hint;
    hint.name = wire::Name::from_text("a.root-servers.net.");
    hint.addresses.push_back(address(kRoot));
    hints.servers.push_back(hint);
    std::array<uint8_t, 32> seed{};
    walker = std::make_unique<Walker>(network, loop, options, hints, std::make_unique<QueryRandomness>(seed));
  }

  // The root's DNSKEY RRset: `published` keys signed by `signers`, TTL 1.
  void publish(std::initializer_list<const TestKey*> published, std::initializer_list<const TestKey*> signers) {
    wire::RRset set;
    set.owner = wire::Name();
    set.type = RRType::DNSKEY;
    set.ttl = 1;
    for (const TestKey* k : published) set.rdatas.push_back(k->dnskey());
    const uint32_t now = loop.wall_seconds();
    for (const TestKey* k : signers) k->sign(set, wire::Name(), now - 3600, now + 30 * 86400);
    ScriptedReply reply;
    for (const auto& rdata : set.rdatas) reply.answer.push_back({set.owner, RRType::DNSKEY, wire::RRClass::IN, set.ttl, rdata});
    for (const auto& sig : set.signatures) reply.answer.push_back({set.owner, RRType::RRSIG, wire::RRClass::IN, set.ttl, sig});
    *keys = reply;
  }
};

TrustAnchorKeeper::Settings settings_for(const std::filesystem::path& file, std::vector<std::string>* log = nullptr) {
  TrustAnchorKeeper::Settings s;
  s.state_file = file.string();
  s.timers.add_hold_down = 5;
  s.timers.remove_hold_down = 30;
  s.timers.refresh = 2;
  s.log = [log](bool, const std::string& m) {
    if (log) log->push_back(m);
  };
  return s;
}

ManagedKeyState file_state(const std::filesystem::path& file, const TestKey& key) {
  const auto anchors = dnssec::read_anchor_state(slurp(file), file.string());
  for (const auto& k : anchors.at(0).keys) {
    if (k.dnskey.size() == key.dnskey().size() && std::equal(k.dnskey.begin() + 2, k.dnskey.end(), key.dnskey().begin() + 2)) {
      return k.state;
    }
  }
  return ManagedKeyState::start;
}

bool trusts(const dnssec::TrustAnchors& anchors, const TestKey& key) {
  const auto* root = anchors.find(wire::Name());
  if (!root) return false;
  const auto ds = key.ds(wire::Name());
  return std::find(root->ds.begin(), root->ds.end(), ds) != root->ds.end();
}

}  // namespace

TEST_CASE("trust anchor keeper: a root key rollover and revocation, step by step in the state file",
          "[anchors][rfc5011]") {
  TempDir dir;
  const auto file = dir.path / "root.key";
  RootWorld world;
  TestKey k1(13, 257);
  TestKey k2(13, 257);
  dnssec::TrustAnchors configured;
  configured.add_ds(wire::Name(), k1.ds(wire::Name()));
  std::vector<std::string> log;

  TrustAnchorKeeper keeper(settings_for(file, &log), configured);
  REQUIRE(std::filesystem::exists(file));  // created at once from the configured DS
  CHECK(keeper.owns_state_file());
  CHECK(slurp(file).find("IN\tDS\t") != std::string::npos);
  CHECK(trusts(*keeper.anchors(), k1));

  std::vector<std::shared_ptr<const dnssec::TrustAnchors>> published;
  world.publish({&k1}, {&k1});
  keeper.start(*world.walker, world.loop, [&](auto anchors) { published.push_back(anchors); });
  world.loop.run_for(milliseconds{1000});
  INFO(world.network.log());
  CHECK(file_state(file, k1) == ManagedKeyState::valid);
  CHECK(keeper.counters().probes_ok == 1);
  REQUIRE(published.size() == 1);  // the DS seed became the key

  // A second key appears, signed by the first: AddPend, then Valid after
  // the 5 s hold-down (probes every 2 s).
  world.publish({&k1, &k2}, {&k1});
  world.loop.run_for(milliseconds{2100});
  CHECK(file_state(file, k2) == ManagedKeyState::add_pending);
  CHECK_FALSE(trusts(*keeper.anchors(), k2));
  world.loop.run_for(milliseconds{6000});
  CHECK(file_state(file, k2) == ManagedKeyState::valid);
  CHECK(trusts(*keeper.anchors(), k2));
  REQUIRE(published.size() == 2);
  CHECK(trusts(*published.back(), k2));

  // The old key is revoked (it signs the set with the REVOKE bit).
  TestKey k1_revoked = k1;
  k1_revoked.set_flags(257 | dnssec::kDnskeyFlagRevoke);
  world.publish({&k1_revoked, &k2}, {&k2, &k1_revoked});
  world.loop.run_for(milliseconds{2100});
  CHECK(file_state(file, k1) == ManagedKeyState::revoked);
  REQUIRE(published.size() == 3);
  CHECK_FALSE(trusts(*published.back(), k1));
  CHECK(trusts(*published.back(), k2));
  const bool logged = std::any_of(log.begin(), log.end(), [&](const std::string& m) {
    return m.find(fmt::format("key {} VALID -> REVOKED", k1.tag())) != std::string::npos;
  });
  CHECK(logged);

  // A second process on the same file reads it but does not write it.
  TrustAnchorKeeper other(settings_for(file), configured);
  CHECK_FALSE(other.owns_state_file());
  CHECK(trusts(*other.anchors(), k2));
  CHECK_FALSE(trusts(*other.anchors(), k1));

  // Restarted, the keeper goes on from the file.
  keeper.stop();
  const std::string before = slurp(file);
  world.loop.run_for(milliseconds{3000});
  CHECK(slurp(file) == before);  // stopped: no more probes or writes
}

TEST_CASE("trust anchor keeper: failures keep the keys; a broken file stops the start",
          "[anchors][rfc5011]") {
  TempDir dir;
  const auto file = dir.path / "root.key";
  RootWorld world;
  TestKey k1(13, 257);
  dnssec::TrustAnchors configured;
  configured.add_ds(wire::Name(), k1.ds(wire::Name()));

  SECTION("the DNSKEY query fails: counted, retried, nothing changes") {
    ScriptedReply servfail;
    servfail.rcode = wire::Rcode::SERVFAIL;
    *world.keys = servfail;
    std::vector<std::string> log;
    TrustAnchorKeeper keeper(settings_for(file, &log), configured);
    keeper.start(*world.walker, world.loop, [](auto) { FAIL("nothing to publish"); });
    world.loop.run_for(milliseconds{5000});
    CHECK(keeper.counters().probes_failed >= 2);
    CHECK(keeper.counters().probes_ok == 0);
    CHECK(trusts(*keeper.anchors(), k1));
    CHECK_FALSE(log.empty());
    keeper.stop();
  }
  SECTION("a malformed state file: the error names file and line") {
    std::ofstream(file) << ";;id: . 1\n. IN DNSKEY 257 3 13 AAAA ;;state=7\n";
    try {
      TrustAnchorKeeper keeper(settings_for(file), configured);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).rfind(file.string() + ":2:", 0) == 0);
    }
  }
  SECTION("a state file that cannot be created: the start fails") {
    try {
      TrustAnchorKeeper keeper(settings_for(dir.path / "no-such-dir" / "root.key"), configured);
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("cannot create it") != std::string::npos);
    }
  }
}
