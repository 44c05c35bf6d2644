// HTTP/1.1 requests read back to back from one byte stream: pipelining,
// keep-alive flags, Expect: 100-continue, discarded over-long bodies, and
// fatal errors that end the stream.
#include <catch2/catch.hpp>

#include <string>

#include "transports/http1_request_reader.h"

using namespace sextant::transports;
using Event = Http1RequestReader::Event;

namespace {

std::span<const uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Feeds `wire` in pieces of `step` octets and lists what came out:
// "METHOD TARGET body" per request, "100" for continue, "fatal N" at the end.
std::vector<std::string> run(std::string_view wire, size_t step, Http1ReaderLimits limits = {}) {
  Http1RequestReader reader(limits);
  std::vector<std::string> events;
  std::string pending;
  size_t given = 0;
  while (true) {
    if (pending.empty() && given < wire.size()) {
      size_t n = std::min(step, wire.size() - given);
      pending.assign(wire.substr(given, n));
      given += n;
    }
    auto event = reader.feed(bytes(pending));
    pending.erase(0, reader.consumed());
    if (event == Event::request) {
      auto& r = reader.request();
      std::string line = r.head.method + " " + r.head.target + " " + std::string(r.body.begin(), r.body.end());
      if (r.body_too_large) line += "(too large)";
      if (!r.keep_alive) line += "(close)";
      events.push_back(line);
    } else if (event == Event::continue_expected) {
      events.push_back("100");
    } else if (event == Event::fatal) {
      events.push_back("fatal " + std::to_string(reader.fatal_status()));
      break;
    } else if (pending.empty() && given == wire.size()) {
      break;
    }
  }
  return events;
}

}  // namespace

TEST_CASE("http1 reader: pipelined requests come out one by one, however split", "[http1]") {
  const std::string wire =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
      "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::vector<std::string> expected = {"GET /a ", "POST /b abc", "POST /c de", "GET /d (close)"};
  for (size_t step : {size_t{1}, size_t{5}, size_t{64}, wire.size()}) {
    INFO("step " << step);
    CHECK(run(wire, step) == expected);
  }
}

TEST_CASE("http1 reader: keep-alive per version and X-Forwarded-For", "[http1]") {
  Http1RequestReader reader;
  std::string wire = "GET / HTTP/1.0\r\n\r\n";
  REQUIRE(reader.feed(bytes(wire)) == Event::request);
  CHECK_FALSE(reader.request().keep_alive);
  wire = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
  REQUIRE(reader.feed(bytes(wire)) == Event::request);
  CHECK(reader.request().keep_alive);
  CHECK(reader.request().keep_alive_explicit);
  wire = "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, Close\r\nX-Forwarded-For: 192.0.2.1\r\n"
         "X-Forwarded-For: 198.51.100.2, 203.0.113.3\r\n\r\n";
  REQUIRE(reader.feed(bytes(wire)) == Event::request);
  CHECK_FALSE(reader.request().keep_alive);
  CHECK(reader.request().forwarded_for == "192.0.2.1,198.51.100.2, 203.0.113.3");
}

TEST_CASE("http1 reader: Expect: 100-continue and over-long bodies", "[http1]") {
  CHECK(run("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi", 7) ==
        std::vector<std::string>{"100", "POST /e hi"});
  Http1ReaderLimits small;
  small.max_body = 4;
  small.max_discarded_body = 10;
  // Over the limit but small enough to discard: the stream stays in step.
  CHECK(run("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n12345678GET /g HTTP/1.1\r\nHost: x\r\n\r\n", 3,
            small) == std::vector<std::string>{"POST /f (too large)", "GET /g "});
  CHECK(run("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 100, small) ==
        std::vector<std::string>{"fatal 413"});
  CHECK(run("POST /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 100, small) ==
        std::vector<std::string>{"fatal 413"});
  CHECK(run("POST /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", 100, small) ==
        std::vector<std::string>{"fatal 413"});
}

TEST_CASE("http1 reader: fatal errors end the stream", "[http1]") {
  const std::pair<std::string, int> cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nExpect: other\r\n\r\n", 417},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", 400},
      {"GET / HTTP/3.0\r\n\r\n", 505},
  };
  for (const auto& [wire, status] : cases) {
    INFO(wire);
    CHECK(run(wire + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 4) == std::vector<std::string>{"fatal " + std::to_string(status)});
  }
  Http1RequestReader reader;
  REQUIRE(reader.feed(bytes("GET / HTTP/1.1\r\n\r\n")) == Event::fatal);
  CHECK(reader.feed(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")) == Event::fatal);
  CHECK(reader.consumed() == 0);
}
