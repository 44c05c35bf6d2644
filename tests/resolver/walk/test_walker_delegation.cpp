// The walker and the servers of a zone (issue 13, section 3): parent and
// child disagreeing about them, and ghost domains (CVE-2012-1192).
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using wire::Rcode;
using wire::RRType;

namespace {

// split.com.: the parent (com.) gives ns1 at .61 as glue; the child's own
// zone puts ns1 at .161 and adds ns2 at .162. Every one of the three
// addresses serves the child zone.
void add_split_zone(ScriptedNetwork& network, bool parent_lists_ns2) {
  std::vector<std::pair<std::string, std::string>> ns{{"ns1.split.com.", "192.0.2.61"}};
  if (parent_lists_ns2) ns.push_back({"ns2.split.com.", "192.0.2.162"});
  network.delegate(net::gtld, "split.com.", ns);
  constexpr std::string_view zone = R"(
@ 3600 SOA ns1 hostmaster 1 3600 900 604800 300
@ 3600 NS ns1
@ 3600 NS ns2
ns1 3600 A 192.0.2.161
ns2 3600 A 192.0.2.162
www 300 A 192.0.2.99
mail 300 A 192.0.2.98
ftp 300 A 192.0.2.97
)";
  for (auto server : {"192.0.2.61", "192.0.2.161", "192.0.2.162"}) {
    network.serve_zone(server, "split.com.", zone);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Parent and child disagree

TEST_CASE("parent/child: the child's addresses for its servers fail, the parent's glue answers",
          "[walker][delegation]") {
  WalkerFixture f;
  add_split_zone(f.network, false);
  auto ns = f.resolve("split.com.", RRType::NS);  // the child's NS set, with its addresses
  REQUIRE(ns.rcode == Rcode::NOERROR);
  f.network.on_subtree("192.0.2.161", "split.com.", silent());
  f.network.on_subtree("192.0.2.162", "split.com.", silent());
  auto r = f.resolve("www.split.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.split.com. A 192.0.2.99"});
  CHECK(f.network.sent().back().server == address("192.0.2.61"));
}

TEST_CASE("parent/child: the parent's glue fails, the child's addresses answer",
          "[walker][delegation]") {
  WalkerFixture f;
  add_split_zone(f.network, false);
  REQUIRE(f.resolve("split.com.", RRType::NS).rcode == Rcode::NOERROR);
  f.network.on_subtree("192.0.2.61", "split.com.", silent());
  auto r = f.resolve("www.split.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www.split.com. A 192.0.2.99"});
  const auto& last = f.network.sent().back().server;
  CHECK((last == address("192.0.2.161") || last == address("192.0.2.162")));
}

TEST_CASE("parent/child: an address the child gives in an answer is a candidate too",
          "[walker][delegation]") {
  WalkerFixture f;
  add_split_zone(f.network, false);
  // The child answers for its server's name: ns1 is at .161 (glue says .61).
  auto a = f.resolve("ns1.split.com.", RRType::A);
  REQUIRE(section_text(a.answer) == std::vector<std::string>{"ns1.split.com. A 192.0.2.161"});
  f.network.on_subtree("192.0.2.61", "split.com.", silent());
  auto r = f.resolve("www.split.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(f.network.sent().back().server == address("192.0.2.161"));
}

TEST_CASE("parent/child: servers of the child's NS set and of the parent's are all candidates",
          "[walker][delegation]") {
  WalkerFixture f;
  add_split_zone(f.network, false);  // the parent lists ns1 only
  // An answer that carries the child's NS set in its authority section (as
  // BIND sends it), with addresses in the additional section.
  ScriptedReply with_ns;
  with_ns.answer.push_back(rr("www.split.com. 300 IN A 192.0.2.99"));
  with_ns.authority.push_back(rr("split.com. 3600 IN NS ns1.split.com."));
  with_ns.authority.push_back(rr("split.com. 3600 IN NS ns2.split.com."));
  with_ns.additional.push_back(rr("ns2.split.com. 3600 IN A 192.0.2.162"));
  f.network.on("192.0.2.61", "www.split.com.", RRType::A, with_ns);
  REQUIRE(f.resolve("www.split.com.", RRType::A).rcode == Rcode::NOERROR);
  f.network.on_subtree("192.0.2.61", "split.com.", silent());
  auto r = f.resolve("mail.split.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"mail.split.com. A 192.0.2.98"});
  CHECK(f.network.sent().back().server == address("192.0.2.162"));
}

TEST_CASE("parent/child: a server only the parent lists stays a candidate", "[walker][delegation]") {
  WalkerFixture f;
  add_split_zone(f.network, true);  // the parent lists ns1 (.61) and ns2 (.162)
  // The child's NS answer names ns1 only.
  ScriptedReply child_ns;
  child_ns.answer.push_back(rr("split.com. 3600 IN NS ns1.split.com."));
  child_ns.additional.push_back(rr("ns1.split.com. 3600 IN A 192.0.2.161"));
  for (auto server : {"192.0.2.61", "192.0.2.161", "192.0.2.162"}) {
    f.network.on(server, "split.com.", RRType::NS, child_ns);
  }
  REQUIRE(f.resolve("split.com.", RRType::NS).rcode == Rcode::NOERROR);
  f.network.on_subtree("192.0.2.61", "split.com.", silent());
  f.network.on_subtree("192.0.2.161", "split.com.", silent());
  auto r = f.resolve("ftp.split.com.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(f.network.sent().back().server == address("192.0.2.162"));
}

// ---------------------------------------------------------------------------
// Ghost domains (CVE-2012-1192)

namespace {

// ghost.com. is delegated by com. with a 60 s NS TTL; the child claims a
// day for its own NS set, in answers and in the authority section.
void add_ghost_zone(ScriptedNetwork& network) {
  network.delegate(net::gtld, "ghost.com.", {{"ns.ghost.com.", "192.0.2.71"}}, 60);
  network.serve_zone("192.0.2.71", "ghost.com.", R"(
@ 86400 SOA ns hostmaster 1 3600 900 604800 300
@ 86400 NS ns
ns 86400 A 192.0.2.71
www 300 A 192.0.2.72
www2 300 A 192.0.2.72
www3 300 A 192.0.2.72
)");
  ScriptedReply with_ns;
  with_ns.answer.push_back(rr("www.ghost.com. 300 IN A 192.0.2.72"));
  with_ns.authority.push_back(rr("ghost.com. 86400 IN NS ns.ghost.com."));
  with_ns.additional.push_back(rr("ns.ghost.com. 86400 IN A 192.0.2.71"));
  network.on("192.0.2.71", "www.ghost.com.", RRType::A, with_ns);
}

ScriptedReply com_nxdomain() {
  ScriptedReply r;
  r.rcode = Rcode::NXDOMAIN;
  r.authority.push_back(
      rr("com. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 2 1800 900 604800 900"));
  return r;
}

}  // namespace

TEST_CASE("ghost domain: a delegation the parent dropped ends with the parent's NS TTL",
          "[walker][delegation][ghost]") {
  WalkerFixture f;
  add_ghost_zone(f.network);
  REQUIRE(f.resolve("www.ghost.com.", RRType::A).rcode == Rcode::NOERROR);
  REQUIRE(f.resolve("ghost.com.", RRType::NS).rcode == Rcode::NOERROR);  // child's, TTL 1 day
  // The registry deletes the domain; the old server keeps answering.
  f.network.forget_rules(net::gtld, "ghost.com.");
  f.network.on_subtree(net::gtld, "ghost.com.", com_nxdomain());
  f.loop.run_for(seconds{30});
  auto during = f.resolve("www2.ghost.com.", RRType::A);
  CHECK(during.rcode == Rcode::NOERROR);  // the delegation is still valid for 30 s
  f.loop.run_for(seconds{31});
  // The child asked for its own name keeps vouching for itself ...
  auto after = f.resolve("www3.ghost.com.", RRType::A);
  CHECK(after.rcode == Rcode::NXDOMAIN);
  CHECK(f.network.sent().back().server == address(net::gtld));
}

TEST_CASE("ghost domain: a new delegation takes over when the parent's NS TTL ends",
          "[walker][delegation][ghost]") {
  WalkerFixture f;
  add_ghost_zone(f.network);
  REQUIRE(f.resolve("www.ghost.com.", RRType::A).rcode == Rcode::NOERROR);
  REQUIRE(f.resolve("ghost.com.", RRType::NS).rcode == Rcode::NOERROR);
  // The domain is sold: com. now delegates to the new owner's server.
  f.network.forget_rules(net::gtld, "ghost.com.");
  f.network.on_subtree(net::gtld, "ghost.com.", [] {
    ScriptedReply r;
    r.aa = false;
    r.authority.push_back(rr("ghost.com. 60 IN NS ns.new-owner.net."));
    return r;
  }());
  f.network.serve_zone(net::example_net, "ghost.com.", R"(
@ 3600 SOA ns.new-owner.net. hostmaster 2 3600 900 604800 300
@ 3600 NS ns.new-owner.net.
www2 300 A 203.0.113.2
)");
  f.network.delegate(net::gtld, "new-owner.net.", {{"ns1.example.net.", "198.51.100.53"}});
  f.network.serve_zone(net::example_net, "new-owner.net.", R"(
@ 3600 SOA ns hostmaster 1 3600 900 604800 300
@ 3600 NS ns
ns 3600 A 198.51.100.53
)");
  f.loop.run_for(seconds{61});
  auto r = f.resolve("www2.ghost.com.", RRType::A);
  INFO(f.network.log());
  INFO((r.ede ? r.ede->extra_text : std::string("no EDE")));
  REQUIRE(r.rcode == Rcode::NOERROR);
  CHECK(section_text(r.answer) == std::vector<std::string>{"www2.ghost.com. A 203.0.113.2"});
  // And the old server is not asked while the new delegation lasts.
  size_t to_old = f.network.sent_to("192.0.2.71");
  f.network.on_subtree(net::example_net, "ghost.com.", silent());
  auto again = f.resolve("www3.ghost.com.", RRType::A);
  CHECK(again.rcode == Rcode::SERVFAIL);
  CHECK(f.network.sent_to("192.0.2.71") == to_old);
}
