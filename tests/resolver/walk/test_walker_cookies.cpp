// DNS cookies toward authoritative servers (walker_cookies.cpp): what the
// walker sends, what it learns, and what it does with replies whose cookie
// is wrong, missing, or BADCOOKIE.
#include <catch2/catch.hpp>

#include <map>

#include "resolver/walk/walker.h"
#include "scripted_network.h"
#include "wire/dns_cookie.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

std::vector<uint8_t> cookie_sent(const SentQuery& q) {
  for (const auto& o : q.options)
    if (o.code == static_cast<uint16_t>(wire::EdnsOptionCode::Cookie)) return o.data;
  return {};
}

// How the scripted servers treat cookies.
enum class Mode { none, good, forge_udp, badcookie_once, badcookie_always, stop_after_first };

struct Fixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  WalkerOptions options;
  std::unique_ptr<Walker> walker;
  std::map<std::string, Mode> modes;  // server address -> mode
  std::map<std::string, int> replies;  // server address -> cookie replies given

  Fixture() {
    build_small_internet(network);
    options.explore_one_in = 0;
    options.client_cookies = true;
    options.cookie_secret.fill(0x5c);
    network.set_reply_hook([this](const wire::Message& q, const ServerAddress& server, UpstreamProtocol protocol,
                                  wire::Message& reply) {
      auto it = modes.find(server.to_string());
      if (it == modes.end() || it->second == Mode::none) return;
      const bool forge = it->second == Mode::forge_udp && protocol == UpstreamProtocol::udp;
      if (forge) {
        for (auto& record : reply.answer)
          if (record.type == RRType::A) record.rdata = {203, 0, 113, 66};
      }
      if (!q.edns || !reply.edns) return;
      const wire::EdnsOption* sent = q.edns->find(wire::EdnsOptionCode::Cookie);
      if (!sent) return;
      int n = replies[server.to_string()]++;
      if (it->second == Mode::stop_after_first && n > 0) return;
      std::vector<uint8_t> data(sent->data.begin(), sent->data.begin() + 8);
      if (forge) data[0] ^= 0xff;
      // A server cookie of its own: 16 octets that change with each reply.
      for (int i = 0; i < 16; ++i) data.push_back(static_cast<uint8_t>(0xa0 + n + i));
      reply.edns->add({static_cast<uint16_t>(wire::EdnsOptionCode::Cookie), data});
      bool had_server_cookie = sent->data.size() > 8;
      if ((it->second == Mode::badcookie_once && !had_server_cookie) || it->second == Mode::badcookie_always) {
        if (protocol == UpstreamProtocol::udp) {
          reply.answer.clear();
          reply.authority.clear();
          reply.additional.clear();
          reply.set_rcode(Rcode::BADCOOKIE);
        }
      }
    });
  }
  Walker& w() {
    if (!walker) {
      std::array<uint8_t, 32> key{};
      key.fill(3);
      walker = std::make_unique<Walker>(network, loop, options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key));
    }
    return *walker;
  }
  ResolutionResult resolve(std::string_view name, RRType type = RRType::A) {
    ResultCapture capture;
    w().resolve(wire::Question{wire::Name::from_text(name), type, wire::RRClass::IN}, {},
                [&](const ResolutionResult& r) { capture.results.push_back(r); });
    for (int i = 0; i < 2000 && capture.results.empty(); ++i) loop.run_for(milliseconds{5});
    INFO(network.log());
    REQUIRE(capture.results.size() == 1);
    return capture.last();
  }
  std::vector<SentQuery> sent_to(std::string_view server) const {
    std::vector<SentQuery> out;
    for (const auto& q : network.sent())
      if (q.server == address(server)) out.push_back(q);
    return out;
  }
};

}  // namespace

TEST_CASE("walker cookies: a client cookie per server, then the server's cookie sent back", "[walker][cookies]") {
  Fixture f;
  f.modes[std::string(net::example_com_1)] = Mode::good;
  f.modes[std::string(net::example_com_2)] = Mode::good;
  REQUIRE(f.resolve("www.example.com.").rcode == Rcode::NOERROR);
  auto root = f.sent_to(net::root_a);
  auto root_b = f.sent_to(net::root_b);
  auto all_root = root.empty() ? root_b : root;
  REQUIRE_FALSE(all_root.empty());
  auto root_cookie = cookie_sent(all_root.front());
  CHECK(root_cookie.size() == 8);  // the root sends no cookies: ours alone, every time
  auto gtld = f.sent_to(net::gtld);
  REQUIRE_FALSE(gtld.empty());
  CHECK(cookie_sent(gtld.front()).size() == 8);
  CHECK(cookie_sent(gtld.front()) != root_cookie);  // another server, another client cookie
  auto expected = wire::make_client_cookie(f.options.cookie_secret, address(net::gtld).address_bytes(), 53);
  CHECK(std::equal(expected.begin(), expected.end(), cookie_sent(gtld.front()).begin()));

  // The next question to the server that gave a cookie sends it back.
  REQUIRE(f.resolve("www.example.com.", RRType::TXT).rcode == Rcode::NOERROR);
  std::vector<SentQuery> to_example;
  for (auto s : {net::example_com_1, net::example_com_2})
    for (const auto& q : f.sent_to(s)) to_example.push_back(q);
  REQUIRE(to_example.size() >= 2);
  bool sent_back = false;
  for (const auto& q : to_example) sent_back = sent_back || cookie_sent(q).size() == 24;
  CHECK(sent_back);
  CHECK(f.w().stats().cookie_mismatches == 0);
}

TEST_CASE("walker cookies: a UDP reply with another client cookie is dropped, TCP settles it", "[walker][cookies]") {
  // Over UDP a "spoofer" answers first with another address (and, when the
  // query had a cookie, another client cookie); over TCP the real server.
  for (bool cookies : {true, false}) {
    Fixture f;
    f.options.client_cookies = cookies;
    f.modes[std::string(net::example_com_1)] = Mode::forge_udp;
    f.modes[std::string(net::example_com_2)] = Mode::forge_udp;
    auto r = f.resolve("www.example.com.");
    REQUIRE(r.rcode == Rcode::NOERROR);
    if (cookies) {
      CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 192.0.2.80"});
      CHECK(f.w().stats().cookie_mismatches == 1);
      CHECK(f.w().stats().spoofed_dropped == 1);
    } else {
      // Without cookies the forgery is believed: what the defence is for.
      CHECK(section_text(r.answer) == std::vector<std::string>{"www.example.com. A 203.0.113.66"});
    }
  }
}

TEST_CASE("walker cookies: a cookie server answering without one is asked over TCP", "[walker][cookies]") {
  Fixture f;
  f.modes[std::string(net::example_com_1)] = Mode::stop_after_first;
  f.modes[std::string(net::example_com_2)] = Mode::stop_after_first;
  REQUIRE(f.resolve("www.example.com.").rcode == Rcode::NOERROR);
  CHECK(f.w().stats().cookie_tcp_fallbacks == 0);
  auto r = f.resolve("www.example.com.", RRType::TXT);
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(f.w().stats().cookie_tcp_fallbacks == 1);
  bool tcp = false;
  for (auto s : {net::example_com_1, net::example_com_2})
    for (const auto& q : f.sent_to(s)) tcp = tcp || (q.protocol == UpstreamProtocol::tcp && q.qtype == RRType::TXT);
  CHECK(tcp);
}

TEST_CASE("walker cookies: BADCOOKIE is retried once with the new cookie, then over TCP", "[walker][cookies]") {
  Fixture f;
  f.modes[std::string(net::example_com_1)] = Mode::badcookie_once;
  f.modes[std::string(net::example_com_2)] = Mode::badcookie_once;
  auto r = f.resolve("www.example.com.");
  CHECK(r.rcode == Rcode::NOERROR);
  CHECK(f.w().stats().badcookie_retries == 1);
  CHECK(f.w().stats().cookie_tcp_fallbacks == 0);

  Fixture g;
  g.modes[std::string(net::example_com_1)] = Mode::badcookie_always;
  g.modes[std::string(net::example_com_2)] = Mode::badcookie_always;
  auto s = g.resolve("www.example.com.");
  CHECK(s.rcode == Rcode::NOERROR);  // answered over TCP
  CHECK(g.w().stats().badcookie_retries == 1);
  CHECK(g.w().stats().cookie_tcp_fallbacks == 1);
}

TEST_CASE("walker cookies: off, no cookie is sent", "[walker][cookies]") {
  Fixture f;
  f.options.client_cookies = false;
  REQUIRE(f.resolve("www.example.com.").rcode == Rcode::NOERROR);
  for (const auto& q : f.network.sent()) CHECK(cookie_sent(q).empty());
}
