// ServerCookies: the verdicts of RFC 7873 §5.2, renewal, and both kinds of
// secret (configured with a rollover list; random master rotated by period).
#include <catch2/catch.hpp>

#include "resolver/front/server_cookies.h"
#include "tests/resolver/front/pipeline_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using Verdict = ServerCookies::Verdict;

namespace {

ClientAddress client(const std::string& text) {
  sockaddr_storage ss = testing::socket_address(text);
  ClientAddress a;
  REQUIRE(ClientAddress::from(reinterpret_cast<const sockaddr*>(&ss), a));
  return a;
}

std::vector<uint8_t> reply_of(const ServerCookies::Judgement& j) { return {j.reply.begin(), j.reply.begin() + j.reply_size}; }

const std::vector<uint8_t> kClientCookie = {1, 2, 3, 4, 5, 6, 7, 8};

}  // namespace

TEST_CASE("cookies: a client cookie alone is taught a server cookie that then verifies", "[cookies]") {
  CookieSettings s;
  s.master.fill(9);
  ServerCookies cookies(s);
  const uint64_t now = 1'700'000'000;
  auto first = cookies.judge(kClientCookie, client("192.0.2.1"), now);
  CHECK(first.verdict == Verdict::client_only);
  REQUIRE(first.reply_size == 24);
  CHECK(std::equal(kClientCookie.begin(), kClientCookie.end(), first.reply.begin()));

  auto back = reply_of(first);
  auto second = cookies.judge(back, client("192.0.2.1"), now + 10);
  CHECK(second.verdict == Verdict::valid);
  CHECK(reply_of(second) == back);  // fresh: echoed as it is

  // The same cookie from another address, or with another client cookie, is not ours.
  CHECK(cookies.judge(back, client("192.0.2.2"), now + 10).verdict == Verdict::invalid);
  auto other = back;
  other[0] ^= 1;
  CHECK(cookies.judge(other, client("192.0.2.1"), now + 10).verdict == Verdict::invalid);
  // An IPv4 client on a dual-stack socket is the same client.
  CHECK(cookies.judge(back, client("::ffff:192.0.2.1"), now + 10).verdict == Verdict::valid);
}

TEST_CASE("cookies: half an hour old is renewed, an hour old is invalid", "[cookies]") {
  CookieSettings s;
  s.master.fill(1);
  s.rotation_seconds = 100000;
  ServerCookies cookies(s);
  const uint64_t now = 1'700'000'000;
  auto back = reply_of(cookies.judge(kClientCookie, client("192.0.2.1"), now));
  auto renewed = cookies.judge(back, client("192.0.2.1"), now + 1900);
  CHECK(renewed.verdict == Verdict::valid);
  CHECK(reply_of(renewed) != back);
  CHECK(wire::server_cookie_timestamp(std::span<const uint8_t>(renewed.reply).subspan(8)) == now + 1900);
  auto expired = cookies.judge(back, client("192.0.2.1"), now + 3700);
  CHECK(expired.verdict == Verdict::invalid);
  CHECK(expired.reply_size == 24);  // and taught a new one
  CHECK(cookies.judge(back, client("192.0.2.1"), now - 400).verdict == Verdict::invalid);  // from the future
}

TEST_CASE("cookies: malformed lengths (RFC 7873 §5.2.2)", "[cookies]") {
  CookieSettings s;
  ServerCookies cookies(s);
  for (size_t n : {0, 1, 7, 9, 15, 41, 60}) {
    std::vector<uint8_t> data(n, 0xab);
    CAPTURE(n);
    CHECK(cookies.judge(data, client("192.0.2.1"), 1000).verdict == Verdict::malformed);
  }
  for (size_t n : {16, 40}) {  // well-formed, but not a cookie of ours
    std::vector<uint8_t> data(n, 0xab);
    CHECK(cookies.judge(data, client("192.0.2.1"), 1000).verdict == Verdict::invalid);
  }
}

TEST_CASE("cookies: rotation keeps the previous period's cookies valid", "[cookies]") {
  CookieSettings s;
  s.master.fill(4);
  s.rotation_seconds = 3600 * 24;
  ServerCookies cookies(s);
  const uint64_t end_of_period = 3600 * 24 * 19000 - 10;
  auto back = reply_of(cookies.judge(kClientCookie, client("2001:db8::1"), end_of_period));
  CHECK(cookies.current_secret(end_of_period) != cookies.current_secret(end_of_period + 20));
  // Made just before the rotation, checked just after it.
  CHECK(cookies.judge(back, client("2001:db8::1"), end_of_period + 20).verdict == Verdict::valid);
  // Another worker (another object, same master) agrees.
  ServerCookies other(s);
  CHECK(other.judge(back, client("2001:db8::1"), end_of_period + 20).verdict == Verdict::valid);
}

TEST_CASE("cookies: a configured secret interoperates (RFC 9018 A.1) and rolls over", "[cookies]") {
  wire::SipKey old_secret{0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf};
  wire::SipKey new_secret{};
  new_secret.fill(0x42);
  CookieSettings s;
  s.secret = old_secret;
  ServerCookies cookies(s);
  std::vector<uint8_t> rfc_client{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57};
  auto j = cookies.judge(rfc_client, client("198.51.100.100"), 1559731985);
  std::vector<uint8_t> expected{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57, 0x01, 0x00, 0x00, 0x00,
                                0x5c, 0xf7, 0x9f, 0x11, 0x1f, 0x81, 0x30, 0xc3, 0xee, 0xe2, 0x94, 0x80};
  CHECK(reply_of(j) == expected);

  // Rollover: the new secret makes cookies, the old one is still accepted.
  CookieSettings rolled;
  rolled.secret = new_secret;
  rolled.accepted = {old_secret};
  ServerCookies after(rolled);
  auto k = after.judge(expected, client("198.51.100.100"), 1559731985 + 60);
  CHECK(k.verdict == Verdict::valid);
  CookieSettings dropped;
  dropped.secret = new_secret;
  CHECK(ServerCookies(dropped).judge(expected, client("198.51.100.100"), 1559731985 + 60).verdict ==
        Verdict::invalid);
}

TEST_CASE("cookies: disabled judges nothing", "[cookies]") {
  CookieSettings s;
  s.enabled = false;
  ServerCookies cookies(s);
  auto j = cookies.judge(kClientCookie, client("192.0.2.1"), 1000);
  CHECK(j.verdict == Verdict::none);
  CHECK(j.reply_size == 0);
}
