// The HTTP/1.x request-head parser behind /metrics: byte-at-a-time input,
// limits, and every malformed shape answered with the right status.
#include <catch2/catch.hpp>

#include <string>

#include "transports/http_request_head.h"

using namespace sextant::transports;
using State = HttpRequestHeadParser::State;

TEST_CASE("http head: a scrape request, whole or one byte at a time", "[http]") {
  const std::string request =
      "GET /metrics?name[]=x HTTP/1.1\r\nHost: 127.0.0.1:9153\r\nUser-Agent: Prometheus/2.42\r\n"
      "Accept:  text/plain;version=0.0.4 \r\n\r\nleftover";
  for (bool bytewise : {false, true}) {
    HttpRequestHeadParser p;
    State s = State::incomplete;
    if (bytewise) {
      for (char c : request) {
        s = p.feed(std::string_view(&c, 1));
        if (s != State::incomplete) break;
      }
    } else {
      s = p.feed(request);
    }
    REQUIRE(s == State::complete);
    CHECK(p.head().method == "GET");
    CHECK(p.head().target == "/metrics?name[]=x");
    CHECK(p.head().path() == "/metrics");
    CHECK(p.head().minor_version == 1);
    REQUIRE(p.head().field("accept"));
    CHECK(*p.head().field("accept") == "text/plain;version=0.0.4");
    CHECK(*p.head().field("user-agent") == "Prometheus/2.42");
    CHECK_FALSE(p.head().field("content-length"));
  }
}

TEST_CASE("http head: bare LF, leading empty lines and HTTP/1.0 are accepted", "[http]") {
  HttpRequestHeadParser p;
  CHECK(p.feed("\r\n\nHEAD / HTTP/1.0\nX: y\n\n") == State::complete);
  CHECK(p.head().method == "HEAD");
  CHECK(p.head().minor_version == 0);
}

TEST_CASE("http head: malformed requests get 400, 414, 431 or 505", "[http]") {
  struct Case {
    const char* text;
    int status;
  };
  const Case cases[] = {
      {"GET /metrics\r\n\r\n", 400},                  // no version
      {"GET  /metrics HTTP/1.1\r\n\r\n", 400},        // two spaces
      {"GET /metrics HTTP/1.1 x\r\n\r\n", 400},       // extra word
      {"G(T /metrics HTTP/1.1\r\n\r\n", 400},         // method not a token
      {"GET metrics HTTP/1.1\r\n\r\n", 400},          // not origin-form
      {"GET http://x/metrics HTTP/1.1\r\n\r\n", 400}, // absolute-form is for proxies
      {"GET /a\x7f HTTP/1.1\r\n\r\n", 400},           // control in the target
      {"GET / HTTP/1.x\r\n\r\n", 400},
      {"GET / HTTX/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400},      // bare CR inside a line
  };
  for (const Case& c : cases) {
    INFO(c.text);
    HttpRequestHeadParser p;
    CHECK(p.feed(c.text) == State::error);
    CHECK(p.error_status() == c.status);
    CHECK_FALSE(p.error_reason().empty());
    // Once failed, it stays failed.
    CHECK(p.feed("GET / HTTP/1.1\r\n\r\n") == State::error);
  }
  std::string nul_request("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 24);
  HttpRequestHeadParser p;
  CHECK(p.feed(nul_request) == State::error);
}

TEST_CASE("http head: limits on the head, the target and the field count", "[http]") {
  {
    HttpRequestHeadParser p(256);
    CHECK(p.feed("GET /" + std::string(300, 'a')) == State::error);  // no newline yet: still bounded
    CHECK(p.error_status() == 414);
  }
  {
    HttpRequestHeadParser p(256);
    CHECK(p.feed("GET / HTTP/1.1\r\n") == State::incomplete);
    CHECK(p.feed("X: " + std::string(300, 'v') + "\r\n\r\n") == State::error);
    CHECK(p.error_status() == 431);
  }
  {
    HttpRequestHeadParser p;
    CHECK(p.feed("GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n\r\n") == State::error);
    CHECK(p.error_status() == 414);
  }
  {
    HttpRequestHeadParser p(8192, 3);
    CHECK(p.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n") == State::error);
    CHECK(p.error_status() == 431);
  }
}

TEST_CASE("http head: pipelined requests are read one head at a time", "[http]") {
  std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\nabc";
  HttpRequestHeadParser p;
  REQUIRE(p.feed(two) == State::complete);
  CHECK(p.head().target == "/a");
  size_t first = p.consumed();
  CHECK(two.substr(first, 4) == "POST");
  p.reset();
  REQUIRE(p.feed(std::string_view(two).substr(first)) == State::complete);
  CHECK(p.head().method == "POST");
  CHECK(*p.head().field("host") == "y");
  CHECK(two.substr(first + p.consumed()) == "abc");
  // An incomplete head consumes everything it was given.
  p.reset();
  CHECK(p.feed("GET /c HTTP/1.1\r\nHo") == State::incomplete);
  CHECK(p.consumed() == 19);
  CHECK(p.feed("st: z\r\n\r\nrest") == State::complete);
  CHECK(p.consumed() == 9);
  CHECK(*p.head().field("host") == "z");
}

TEST_CASE("http head: the longest target is a parameter", "[http]") {
  HttpRequestHeadParser p(100 * 1024, 64, 96 * 1024);
  CHECK(p.feed("GET /" + std::string(90000, 'a') + " HTTP/1.1\r\n\r\n") == State::complete);
  HttpRequestHeadParser q(100 * 1024, 64, 96 * 1024);
  CHECK(q.feed("GET /" + std::string(97 * 1024, 'a') + " HTTP/1.1\r\n\r\n") == State::error);
  CHECK(q.error_status() == 414);
}

TEST_CASE("http head: absolute-form targets when asked (RFC 9112 3.2.2)", "[http]") {
  {
    HttpRequestHeadParser strict;
    CHECK(strict.feed("GET http://example.com/metrics HTTP/1.1\r\n\r\n") == State::error);
    CHECK(strict.error_status() == 400);
  }
  const std::pair<std::string, std::string> cases[] = {
      {"http://example.com/dns-query?dns=AAAA", "/dns-query?dns=AAAA"},
      {"HTTPS://example.com:8443/a/b", "/a/b"},
      {"https://example.com", "/"},
      {"/plain", "/plain"},
  };
  for (const auto& [target, origin] : cases) {
    HttpRequestHeadParser p(8192, 64, 2048, true);
    INFO(target);
    REQUIRE(p.feed("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n") == State::complete);
    CHECK(p.head().target == origin);
  }
  HttpRequestHeadParser p(8192, 64, 2048, true);
  CHECK(p.feed("GET https://example.com?dns=AAAA HTTP/1.1\r\n\r\n") == State::error);  // no path
  HttpRequestHeadParser q(8192, 64, 2048, true);
  CHECK(q.feed("GET ftp://example.com/x HTTP/1.1\r\n\r\n") == State::error);
}
