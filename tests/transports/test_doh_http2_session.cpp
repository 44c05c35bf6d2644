// The DoH HTTP/2 session without sockets (transports/doh_http2_session.h):
// an nghttp2 client (H2TestClient) talks to it through memory, and the test
// plays the resolver, answering when it chooses. Streams reset after their
// query was dispatched: they stop counting at once, the late answer writes
// nothing, and the freed slot takes a new stream.
#include <catch2/catch.hpp>

#include <deque>
#include <map>

#include "tests/transports/doh_fixture.h"
#include "transports/doh_http2_session.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

namespace {

class MemoryHost final : public DohHttp2Host {
 public:
  bool write(std::span<const uint8_t> data) override {
    to_client.insert(to_client.end(), data.begin(), data.end());
    written += data.size();
    return open;
  }
  bool is_open() const override { return open; }
  void close(bool) override { open = false; }
  void touch() override {}
  TransportCounters& counters() override { return counters_; }
  void dispatch(std::span<const uint8_t> query, std::string_view, uint64_t token) override {
    queries[token].assign(query.begin(), query.end());
  }

  std::deque<uint8_t> to_client;
  size_t written = 0;
  bool open = true;
  std::map<uint64_t, std::vector<uint8_t>> queries;  // dispatched, unanswered (the test answers)

 private:
  TransportCounters counters_;
};

struct MemoryPair {
  explicit MemoryPair(uint32_t max_streams = 100) {
    DohHttp2Settings settings;
    settings.max_concurrent_streams = max_streams;
    session = make_doh_http2_memory_session(host, settings);
    session->start();
  }
  // Client frames to the server until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 20; ++round) {
      client.flush();
      if (host.to_client.empty()) return;
      std::vector<uint8_t> out(host.to_client.begin(), host.to_client.end());
      host.to_client.clear();
      feed.assign(out.begin(), out.end());
      client.exchange();
    }
  }
  void answer(uint64_t token) {
    auto query = host.queries.at(token);
    host.queries.erase(token);
    session->deliver(token, make_echo_answer(query));
  }

  MemoryHost host;
  std::unique_ptr<DohHttp2Session> session;
  std::deque<uint8_t> feed;  // server octets for the client
  H2TestClient client{
      [this](std::span<const uint8_t> data) { return session->receive(data) && host.open; },
      [this](uint8_t* out, size_t n) -> ssize_t {
        if (feed.empty()) return -1;
        size_t k = std::min(n, feed.size());
        std::copy(feed.begin(), feed.begin() + static_cast<ptrdiff_t>(k), out);
        feed.erase(feed.begin(), feed.begin() + static_cast<ptrdiff_t>(k));
        return static_cast<ssize_t>(k);
      }};
};

}  // namespace

TEST_CASE("DoH/2 memory session answers GET and POST through nghttp2", "[doh][http2]") {
  MemoryPair pair;
  auto query = make_query("a.example", 1, 0);
  int32_t get = pair.client.submit("GET", "/dns-query?dns=" + base64url(query));
  int32_t post = pair.client.submit("POST", "/dns-query", kDnsMessage, query);
  pair.pump();
  REQUIRE(pair.host.queries.size() == 2);
  CHECK(pair.session->pending() == 2);
  pair.answer(static_cast<uint64_t>(get));
  pair.answer(static_cast<uint64_t>(post));
  pair.pump();
  for (int32_t id : {get, post}) {
    CHECK(pair.client.responses[id].status == 200);
    CHECK(is_echo_answer(pair.client.responses[id].body, query));
  }
  CHECK(pair.session->pending() == 0);
  CHECK(pair.session->streams() == 0);
}

TEST_CASE("DoH/2: a stream reset after dispatch stops counting at once and gets nothing", "[doh][http2]") {
  MemoryPair pair(2);  // two streams at most
  auto query = make_query("slow.example", 1, 0);
  int32_t first = pair.client.submit("GET", "/dns-query?dns=" + base64url(query));
  int32_t second = pair.client.submit("GET", "/dns-query?dns=" + base64url(query));
  pair.pump();
  REQUIRE(pair.host.queries.size() == 2);
  REQUIRE(pair.session->pending() == 2);
  REQUIRE(pair.session->streams() == 2);

  pair.client.reset(first);
  pair.pump();
  CHECK(pair.session->pending() == 1);
  CHECK(pair.session->streams() == 1);
  CHECK_FALSE(pair.session->partial_request());

  // The freed slot takes a new stream before the reset query's answer.
  int32_t third = pair.client.submit("GET", "/dns-query?dns=" + base64url(query));
  pair.pump();
  CHECK(pair.host.queries.size() == 3);
  CHECK(pair.session->pending() == 2);

  // The resolver's late answer for the reset stream: not one octet goes out.
  const size_t written = pair.host.written;
  pair.answer(static_cast<uint64_t>(first));
  CHECK(pair.host.written == written);
  CHECK(pair.session->pending() == 2);
  // Nor for an abandoned one.
  pair.client.reset(second);
  pair.pump();
  const size_t written_after_reset = pair.host.written;
  pair.host.queries.erase(static_cast<uint64_t>(second));
  pair.session->abandon(static_cast<uint64_t>(second));
  CHECK(pair.host.written == written_after_reset);
  CHECK(pair.session->pending() == 1);

  pair.answer(static_cast<uint64_t>(third));
  pair.pump();
  CHECK(pair.client.responses[third].status == 200);
  CHECK(pair.client.responses[first].error_code == NGHTTP2_CANCEL);
  CHECK(pair.session->pending() == 0);
  CHECK(pair.host.open);
}
