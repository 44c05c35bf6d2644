// HTTP/1.1 request bodies: Content-Length and chunked framing, limits, and
// the ambiguous framings that request smuggling relies on.
#include <catch2/catch.hpp>

#include <string>

#include "transports/http1_body.h"

using namespace sextant::transports;
using Kind = Http1BodyFraming::Kind;
using State = Http1BodyReader::State;

namespace {

HttpRequestHead head_with(std::vector<std::pair<std::string, std::string>> fields, int minor = 1) {
  HttpRequestHead h;
  h.method = "POST";
  h.target = "/dns-query";
  h.minor_version = minor;
  h.fields = std::move(fields);
  return h;
}

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string body_text(const Http1BodyReader& r) { return std::string(r.body().begin(), r.body().end()); }

}  // namespace

TEST_CASE("http1 body: framing from the head", "[http1]") {
  CHECK(http1_body_framing(head_with({})).kind == Kind::none);
  CHECK(http1_body_framing(head_with({{"content-length", "0"}})).kind == Kind::none);
  auto length = http1_body_framing(head_with({{"content-length", "42"}}));
  CHECK(length.kind == Kind::length);
  CHECK(length.length == 42);
  CHECK(http1_body_framing(head_with({{"content-length", "7, 7"}})).length == 7);
  CHECK(http1_body_framing(head_with({{"transfer-encoding", "Chunked"}})).kind == Kind::chunked);
  CHECK(http1_body_framing(head_with({{"transfer-encoding", "chunked"}, {"x", "y"}})).status == 0);

  struct Bad {
    std::vector<std::pair<std::string, std::string>> fields;
    int minor;
    int status;
  };
  const Bad bad[] = {
      {{{"content-length", "-1"}}, 1, 400},
      {{{"content-length", "1e3"}}, 1, 400},
      {{{"content-length", ""}}, 1, 400},
      {{{"content-length", "99999999999999999999"}}, 1, 400},
      {{{"content-length", "5"}, {"content-length", "6"}}, 1, 400},
      {{{"content-length", "5, 6"}}, 1, 400},
      {{{"content-length", "5"}, {"transfer-encoding", "chunked"}}, 1, 400},
      {{{"transfer-encoding", "chunked"}}, 0, 400},
      {{{"transfer-encoding", "gzip"}}, 1, 501},
      {{{"transfer-encoding", "gzip, chunked"}}, 1, 501},
      {{{"transfer-encoding", "chunked"}, {"transfer-encoding", "chunked"}}, 1, 501},
  };
  for (const auto& b : bad) {
    auto f = http1_body_framing(head_with(b.fields, b.minor));
    INFO(b.fields.front().first << ": " << b.fields.front().second);
    CHECK(f.status == b.status);
    CHECK(std::string(f.reason) != "");
  }
}

TEST_CASE("http1 body: Content-Length reads exactly that many octets", "[http1]") {
  Http1BodyFraming f;
  f.kind = Kind::length;
  f.length = 5;
  Http1BodyReader r(f, 100);
  CHECK(r.feed(bytes("ab")) == State::incomplete);
  CHECK(r.consumed() == 2);
  CHECK(r.feed(bytes("cdeGET /")) == State::complete);
  CHECK(r.consumed() == 3);
  CHECK(body_text(r) == "abcde");

  f.length = 101;
  Http1BodyReader big(f, 100);
  CHECK(big.state() == State::too_large);  // known before reading
}

TEST_CASE("http1 body: chunked, split anywhere, with extensions and trailers", "[http1]") {
  const std::string wire = "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
  for (size_t step : {size_t{1}, size_t{3}, size_t{7}, wire.size()}) {
    Http1BodyFraming f;
    f.kind = Kind::chunked;
    Http1BodyReader r(f, 1000);
    size_t offset = 0;
    State s = State::incomplete;
    while (s == State::incomplete && offset < wire.size()) {
      s = r.feed(bytes(std::string_view(wire).substr(offset, step)));
      offset += r.consumed();
    }
    INFO("step " << step);
    REQUIRE(s == State::complete);
    CHECK(body_text(r) == "Wikipedia in\r\n\r\nchunks.");
    CHECK(wire.substr(offset) == "NEXT");
  }
  // Bare LF line ends are read like CRLF (as the head parser does).
  Http1BodyFraming f;
  f.kind = Kind::chunked;
  Http1BodyReader lf(f, 100);
  CHECK(lf.feed(bytes("3\nabc\n0\n\n")) == State::complete);
  CHECK(body_text(lf) == "abc");
}

TEST_CASE("http1 body: chunked errors and limits", "[http1]") {
  Http1BodyFraming f;
  f.kind = Kind::chunked;
  auto run = [&](std::string_view wire, size_t max = 100) {
    Http1BodyReader r(f, max);
    r.feed(bytes(wire));
    return r.state();
  };
  CHECK(run("zz\r\n") == State::error);
  CHECK(run("\r\n") == State::error);
  CHECK(run("3 x\r\nabc\r\n") == State::error);
  CHECK(run("3\r\nabcd\r\n") == State::error);       // data longer than its size
  CHECK(run("123456789\r\n") == State::error);        // chunk size beyond 32 bits
  CHECK(run("65\r\n") == State::too_large);           // 101 > 100, known from the size line
  CHECK(run("40\r\n" + std::string(64, 'a') + "\r\n40\r\n", 100) == State::too_large);
  CHECK(run(std::string(2000, '1')) == State::error);  // endless size line
  CHECK(run("0\r\n" + std::string(9000, 'x')) == State::error);  // endless trailer
  // Once complete, more input is not read.
  Http1BodyReader r(f, 100);
  CHECK(r.feed(bytes("0\r\n\r\n")) == State::complete);
  CHECK(r.feed(bytes("1\r\na\r\n")) == State::complete);
  CHECK(r.consumed() == 0);
}
