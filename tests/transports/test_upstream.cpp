#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "test_support.h"
#include "transports/upstream.h"
#include "transports/upstream_match.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;

namespace {

// A UDP "authoritative server" on 127.0.0.1 in its own thread; `script`
// decides what to send back for each query.
class ScriptedUdpServer {
 public:
  using Script = std::function<void(ScriptedUdpServer& server, const Bytes& query, const SocketAddress& from)>;

  explicit ScriptedUdpServer(Script script, SocketAddress bind = SocketAddress::ipv4_loopback(0))
      : script_(std::move(script)) {
    fd_ = open_bound_socket(bind, SOCK_DGRAM, SocketOptions{.reuse_port = false});
    other_fd_ = open_bound_socket(SocketAddress(bind), SOCK_DGRAM, SocketOptions{.reuse_port = false});
    address_ = local_address_of(fd_);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedUdpServer() {
    stop_.store(true);
    thread_.join();
    ::close(fd_);
    ::close(other_fd_);
  }
  const SocketAddress& address() const { return address_; }
  void reply(const Bytes& data, const SocketAddress& to) {
    ::sendto(fd_, data.data(), data.size(), 0, to.get(), to.size());
  }
  // The same bytes, but from another port of this host (an off-path spoofer).
  void reply_from_other_port(const Bytes& data, const SocketAddress& to) {
    ::sendto(other_fd_, data.data(), data.size(), 0, to.get(), to.size());
  }
  std::atomic<int> queries{0};

 private:
  void run() {
    while (!stop_.load()) {
      if (!wait_readable(fd_, 20)) continue;
      Bytes buf(65536);
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
      if (n < 0) continue;
      buf.resize(static_cast<size_t>(n));
      queries.fetch_add(1);
      script_(*this, buf, SocketAddress(reinterpret_cast<const sockaddr*>(&ss)));
    }
  }

  Script script_;
  int fd_ = -1;
  int other_fd_ = -1;
  SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A TCP server on 127.0.0.1: reads one framed query per connection and lets
// `script` write to the socket. Connections stay open until the end.
class ScriptedTcpServer {
 public:
  using Script = std::function<void(int fd, const Bytes& query)>;

  explicit ScriptedTcpServer(Script script) : script_(std::move(script)) {
    fd_ = open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_STREAM, SocketOptions{.reuse_port = false});
    ::listen(fd_, 16);
    address_ = local_address_of(fd_);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedTcpServer() {
    stop_.store(true);
    thread_.join();
    for (int c : connections_) ::close(c);
    ::close(fd_);
  }
  const SocketAddress& address() const { return address_; }
  std::atomic<int> accepted{0};

  static void write_all(int fd, const Bytes& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

 private:
  void run() {
    while (!stop_.load()) {
      if (!wait_readable(fd_, 20)) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      accepted.fetch_add(1);
      connections_.push_back(c);
      Bytes buf;
      auto start = Clock::now();
      while (ms_since(start) < 2000 && !stop_.load()) {
        if (buf.size() >= 2 && buf.size() >= 2u + ((buf[0] << 8) | buf[1])) break;
        if (!wait_readable(c, 20)) continue;
        uint8_t chunk[4096];
        ssize_t n = ::recv(c, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n <= 0) break;
        buf.insert(buf.end(), chunk, chunk + n);
      }
      if (buf.size() < 2) continue;
      size_t len = (static_cast<size_t>(buf[0]) << 8) | buf[1];
      if (buf.size() < 2 + len) continue;
      script_(c, Bytes(buf.begin() + 2, buf.begin() + 2 + static_cast<std::ptrdiff_t>(len)));
    }
  }

  Script script_;
  int fd_ = -1;
  SocketAddress address_;
  std::vector<int> connections_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

UpstreamQuery make_upstream_query(const Bytes& packet, const SocketAddress& server, bool tcp = false,
                                  uint32_t timeout_ms = 1000) {
  UpstreamQuery q;
  q.packet = packet;
  q.server = server.to_storage();
  q.tcp = tcp;
  q.timeout_ms = timeout_ms;
  return q;
}

UpstreamConfig test_config() {
  UpstreamConfig c;
  c.loopback_only = true;  // tests never reach beyond loopback
  return c;
}

// Sends and runs the loop until the callback ran.
struct Outcome {
  std::optional<UpstreamResult> result;
  bool called_inside_send = false;
  uint64_t elapsed_ms = 0;
};

Outcome exchange(TestLoop& loop, Upstream& upstream, UpstreamQuery query, unsigned guard_ms = 5000) {
  Outcome out;
  bool in_send = true;
  auto start = Clock::now();
  UpstreamQueryId id = upstream.send(std::move(query), [&](UpstreamResult r) {
    out.called_inside_send = in_send;
    out.result = std::move(r);
    out.elapsed_ms = ms_since(start);
  });
  in_send = false;
  REQUIRE(id != 0);
  REQUIRE(run_loop_until(loop.get(), [&] { return out.result.has_value(); }, guard_ms));
  return out;
}

Bytes with_id(Bytes m, uint16_t id) {
  m[0] = static_cast<uint8_t>(id >> 8);
  m[1] = static_cast<uint8_t>(id);
  return m;
}

}  // namespace

TEST_CASE("upstream udp: an answer comes back with RTT and source", "[upstream]") {
  ScriptedUdpServer server([](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) {
    s.reply(echo_answer(q), from);
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Bytes q = make_query(0xbeef, "ns1.example.net", 1);
  Outcome out = exchange(loop, upstream, make_upstream_query(q, server.address()));
  REQUIRE(out.result->status == UpstreamStatus::ok);
  CHECK_FALSE(out.called_inside_send);
  CHECK(out.result->response == echo_answer(q));
  CHECK(SocketAddress(reinterpret_cast<const sockaddr*>(&out.result->from)) == server.address());
  CHECK(out.result->rtt_ms < 1000);
  CHECK(out.result->ignored_datagrams == 0);
  CHECK(upstream.counters().sent_udp.get() == 1);
  CHECK(upstream.counters().answered.get() == 1);
  CHECK(upstream.outstanding() == 0);
  CHECK(loop.drain());
  CHECK(upstream.counters().sockets.get() == 0);
}

TEST_CASE("upstream udp: silence ends in a timeout", "[upstream]") {
  ScriptedUdpServer server([](ScriptedUdpServer&, const Bytes&, const SocketAddress&) {});
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), server.address(), false, 150));
  CHECK(out.result->status == UpstreamStatus::timeout);
  CHECK(out.elapsed_ms >= 140);
  CHECK(out.elapsed_ms < 2000);
  CHECK(server.queries.load() == 1);
  CHECK(upstream.counters().timeouts.get() == 1);
  CHECK(loop.drain());
}

TEST_CASE("upstream udp: wrong ID, opcode, question or QR are ignored until the right answer", "[upstream]") {
  ScriptedUdpServer server([](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) {
    Bytes good = echo_answer(q);
    s.reply(with_id(good, static_cast<uint16_t>(message_id(q) + 1)), from);  // wrong ID
    Bytes notify = good;
    notify[2] = static_cast<uint8_t>((notify[2] & 0x87) | (4 << 3));
    s.reply(notify, from);                                                     // opcode NOTIFY
    s.reply(echo_answer(make_query(message_id(q), "other.example")), from);  // wrong name
    s.reply(echo_answer(make_query(message_id(q), "www.example", 28)), from);  // wrong type
    s.reply(q, from);                                                          // QR=0
    s.reply(Bytes{1, 2, 3}, from);                                             // runt
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    s.reply(good, from);
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Bytes q = make_query(0x5151, "www.example", 1);
  Outcome out = exchange(loop, upstream, make_upstream_query(q, server.address()));
  REQUIRE(out.result->status == UpstreamStatus::ok);
  CHECK(out.result->response == echo_answer(q));
  CHECK(out.result->ignored_datagrams == 6);
  CHECK(upstream.counters().ignored_datagrams.get() == 6);
}

TEST_CASE("upstream udp: an answer from another source port never reaches us", "[upstream]") {
  ScriptedUdpServer server([](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) {
    Bytes spoof = echo_answer(q);
    spoof[3] |= 0x03;  // NXDOMAIN: would poison if accepted
    s.reply_from_other_port(spoof, from);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    s.reply(echo_answer(q), from);
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Bytes q = make_query(0x7777);
  Outcome out = exchange(loop, upstream, make_upstream_query(q, server.address()));
  REQUIRE(out.result->status == UpstreamStatus::ok);
  CHECK(out.result->response == echo_answer(q));  // not the spoof
  CHECK(out.result->ignored_datagrams == 0);       // the kernel dropped it (connected socket)

  ScriptedUdpServer spoofer_only([](ScriptedUdpServer& s, const Bytes& q2, const SocketAddress& from) {
    s.reply_from_other_port(echo_answer(q2), from);
  });
  Outcome out2 = exchange(loop, upstream, make_upstream_query(q, spoofer_only.address(), false, 200));
  CHECK(out2.result->status == UpstreamStatus::timeout);
}

TEST_CASE("upstream udp: ICMP port unreachable fails fast", "[upstream]") {
  int fd = open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_DGRAM, SocketOptions{.reuse_port = false});
  SocketAddress closed_port = local_address_of(fd);
  ::close(fd);
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), closed_port, false, 3000));
  CHECK(out.result->status == UpstreamStatus::network_error);
  CHECK(out.result->error == UV_ECONNREFUSED);
  CHECK(out.elapsed_ms < 1000);
}

TEST_CASE("upstream: 0x20 case checking is opt-in", "[upstream]") {
  ScriptedUdpServer server([](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) {
    Bytes a = echo_answer(q);
    for (size_t i = 12; i < a.size(); ++i) a[i] = static_cast<uint8_t>(std::tolower(a[i]));
    s.reply(a, from);  // a server that does not preserve case
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Bytes q = make_query(0x2020, "WwW.ExAmPlE.cOm");
  Outcome lax = exchange(loop, upstream, make_upstream_query(q, server.address()));
  CHECK(lax.result->status == UpstreamStatus::ok);
  UpstreamQuery strict = make_upstream_query(q, server.address(), false, 200);
  strict.match_question_case = true;
  Outcome out = exchange(loop, upstream, std::move(strict));
  CHECK(out.result->status == UpstreamStatus::timeout);
  CHECK(out.result->ignored_datagrams == 1);
}

TEST_CASE("upstream: response matching rules", "[upstream]") {
  Bytes q = make_query(0x1234, "a.example");
  SentQuestion sent;
  REQUIRE(read_sent_question(q, sent));
  CHECK(match_response(sent, echo_answer(q), false) == ResponseMatch::match);
  CHECK(match_response(sent, Bytes{0x12, 0x34, 0x80}, false) == ResponseMatch::too_short);
  CHECK(match_response(sent, q, false) == ResponseMatch::not_a_response);
  Bytes bare = {0x12, 0x34, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};  // FORMERR, no question
  CHECK(match_response(sent, bare, false) == ResponseMatch::match);
  bare[3] = 0x00;  // NOERROR without a question: not an answer to us
  CHECK(match_response(sent, bare, false) == ResponseMatch::question_mismatch);
  Bytes status = echo_answer(q);
  status[2] = static_cast<uint8_t>(status[2] | (2 << 3));  // opcode STATUS, same ID and question
  CHECK(match_response(sent, status, false) == ResponseMatch::opcode_mismatch);
  Bytes broken = echo_answer(q);
  broken.resize(16);  // question cut short
  CHECK(match_response(sent, broken, false) == ResponseMatch::malformed_question);
  Bytes runt = {1, 2, 3};
  CHECK_FALSE(read_sent_question(runt, sent));
  CHECK_FALSE(read_sent_question(echo_answer(q), sent));  // a response is not a query
}

TEST_CASE("upstream: bad queries and guarded destinations are refused from the loop", "[upstream]") {
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  SocketAddress server = SocketAddress::ipv4_loopback(53);

  Outcome runt = exchange(loop, upstream, make_upstream_query(Bytes{1, 2, 3}, server));
  CHECK(runt.result->status == UpstreamStatus::bad_query);
  CHECK_FALSE(runt.called_inside_send);

  UpstreamQuery no_family = make_upstream_query(make_query(1), server);
  no_family.server.ss_family = AF_UNSPEC;
  CHECK(exchange(loop, upstream, std::move(no_family)).result->status == UpstreamStatus::bad_query);

  // TEST-NET addresses: refused before any socket exists, nothing is sent.
  Outcome far = exchange(loop, upstream, make_upstream_query(make_query(1), parse_address_or_throw("192.0.2.1@53", 53)));
  CHECK(far.result->status == UpstreamStatus::destination_refused);
  CHECK_FALSE(far.called_inside_send);
  Outcome far6 = exchange(loop, upstream,
                          make_upstream_query(make_query(1), parse_address_or_throw("2001:db8::1@53", 53), true));
  CHECK(far6.result->status == UpstreamStatus::destination_refused);
  CHECK(upstream.counters().sent_udp.get() == 0);
  CHECK(upstream.counters().sent_tcp.get() == 0);
  CHECK(upstream.counters().refused_destinations.get() == 2);

  // The process-wide latch guards an upstream configured without the flag.
  enable_upstream_loopback_guard();
  CHECK(upstream_loopback_guard_enabled());
  NetworkUpstream unguarded(loop.get(), UpstreamConfig{});
  Outcome latch = exchange(loop, unguarded, make_upstream_query(make_query(1), parse_address_or_throw("198.51.100.7@53", 53)));
  CHECK(latch.result->status == UpstreamStatus::destination_refused);
  CHECK(loop.drain());
}

TEST_CASE("upstream: the socket cap reports overload", "[upstream]") {
  ScriptedUdpServer silent([](ScriptedUdpServer&, const Bytes&, const SocketAddress&) {});
  TestLoop loop;
  UpstreamConfig config = test_config();
  config.max_outstanding = 2;
  NetworkUpstream upstream(loop.get(), config);
  std::vector<UpstreamStatus> statuses;
  for (uint16_t i = 0; i < 3; ++i) {
    upstream.send(make_upstream_query(make_query(i), silent.address(), false, 100),
                  [&](UpstreamResult r) { statuses.push_back(r.status); });
  }
  REQUIRE(run_loop_until(loop.get(), [&] { return statuses.size() == 3; }));
  CHECK(statuses[0] == UpstreamStatus::overloaded);  // reported first: zero delay
  CHECK(statuses[1] == UpstreamStatus::timeout);
  CHECK(statuses[2] == UpstreamStatus::timeout);
  CHECK(upstream.counters().overloaded.get() == 1);
  CHECK(loop.drain());
}

TEST_CASE("upstream: cancellation never calls back and frees the socket", "[upstream]") {
  ScriptedUdpServer silent([](ScriptedUdpServer&, const Bytes&, const SocketAddress&) {});
  ScriptedUdpServer fast([](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) {
    s.reply(echo_answer(q), from);
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());

  bool called = false;
  UpstreamQueryId id = upstream.send(make_upstream_query(make_query(1), silent.address(), false, 200),
                                     [&](UpstreamResult) { called = true; });
  REQUIRE(id != 0);
  CHECK(upstream.outstanding() == 1);
  CHECK(upstream.cancel(id));
  CHECK_FALSE(upstream.cancel(id));
  CHECK_FALSE(upstream.cancel(987654));
  CHECK(upstream.outstanding() == 0);
  CHECK(loop.drain());
  CHECK_FALSE(called);
  CHECK(upstream.counters().sockets.get() == 0);

  // "Another server answered first": the winner's callback cancels the loser.
  bool loser_called = false;
  bool winner_called = false;
  UpstreamQueryId loser = upstream.send(make_upstream_query(make_query(2), silent.address(), false, 2000),
                                        [&](UpstreamResult) { loser_called = true; });
  upstream.send(make_upstream_query(make_query(2), fast.address(), false, 2000), [&](UpstreamResult r) {
    winner_called = r.status == UpstreamStatus::ok;
    CHECK(upstream.cancel(loser));
  });
  CHECK(loop.drain(3000));
  CHECK(winner_called);
  CHECK_FALSE(loser_called);

  // A callback may cancel its own (already finished) query: harmless.
  UpstreamQueryId self_id = 0;
  bool self_called = false;
  self_id = upstream.send(make_upstream_query(make_query(3), fast.address()), [&](UpstreamResult) {
    self_called = true;
    CHECK_FALSE(upstream.cancel(self_id));
  });
  CHECK(loop.drain(3000));
  CHECK(self_called);
}

TEST_CASE("upstream: destroying the client with queries in flight is safe", "[upstream]") {
  ScriptedUdpServer silent([](ScriptedUdpServer&, const Bytes&, const SocketAddress&) {});
  ScriptedTcpServer tcp_silent([](int, const Bytes&) {});
  TestLoop loop;
  bool called = false;
  {
    auto upstream = std::make_unique<NetworkUpstream>(loop.get(), test_config());
    for (uint16_t i = 0; i < 5; ++i) {
      upstream->send(make_upstream_query(make_query(i), silent.address(), false, 1000),
                     [&](UpstreamResult) { called = true; });
      upstream->send(make_upstream_query(make_query(i), tcp_silent.address(), true, 1000),
                     [&](UpstreamResult) { called = true; });
    }
    uv_run(loop.get(), UV_RUN_NOWAIT);  // let some connects start
  }
  CHECK(loop.drain());
  CHECK_FALSE(called);
}

TEST_CASE("upstream: shutdown cancels what is outstanding and refuses new queries", "[upstream]") {
  ScriptedUdpServer silent([](ScriptedUdpServer&, const Bytes&, const SocketAddress&) {});
  TestLoop loop;
  auto upstream = std::make_unique<NetworkUpstream>(loop.get(), test_config());
  std::vector<UpstreamStatus> statuses;
  for (uint16_t i = 0; i < 3; ++i) {
    upstream->send(make_upstream_query(make_query(i), silent.address(), false, 5000),
                   [&](UpstreamResult r) { statuses.push_back(r.status); });
  }
  uv_run(loop.get(), UV_RUN_NOWAIT);
  bool done = false;
  upstream->shutdown([&] {
    done = true;
    upstream.reset();  // allowed inside done
  });
  CHECK(statuses == std::vector<UpstreamStatus>(3, UpstreamStatus::cancelled));
  REQUIRE(run_loop_until(loop.get(), [&] { return done; }));
  CHECK(upstream == nullptr);
  CHECK(loop.drain());

  NetworkUpstream other(loop.get(), test_config());
  bool done2 = false;
  other.shutdown([&] { done2 = true; });
  CHECK(done2);  // nothing outstanding: at once
  CHECK(other.send(make_upstream_query(make_query(1), silent.address()), [](UpstreamResult) {}) == 0);
}

TEST_CASE("upstream udp: 200 concurrent queries", "[upstream]") {
  ScriptedUdpServer server([](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) {
    s.reply(echo_answer(q), from);
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  int ok = 0, other = 0;
  for (uint16_t i = 0; i < 200; ++i) {
    upstream.send(make_upstream_query(make_query(i), server.address(), false, 3000), [&](UpstreamResult r) {
      if (r.status == UpstreamStatus::ok) ++ok;
      else ++other;
    });
  }
  REQUIRE(run_loop_until(loop.get(), [&] { return ok + other == 200; }, 10000));
  CHECK(ok == 200);
  CHECK(loop.drain());
  CHECK(upstream.counters().sockets.get() == 0);
}

TEST_CASE("upstream udp over IPv6 loopback", "[upstream]") {
  std::unique_ptr<ScriptedUdpServer> server;
  try {
    server = std::make_unique<ScriptedUdpServer>(
        [](ScriptedUdpServer& s, const Bytes& q, const SocketAddress& from) { s.reply(echo_answer(q), from); },
        SocketAddress::ipv6_loopback(0));
  } catch (const std::runtime_error& e) {
    WARN("no IPv6 loopback: " << e.what());
    return;
  }
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Bytes q = make_query(0x6666);
  Outcome out = exchange(loop, upstream, make_upstream_query(q, server->address()));
  REQUIRE(out.result->status == UpstreamStatus::ok);
  CHECK(out.result->response == echo_answer(q));
}

TEST_CASE("upstream tcp: a framed answer, even split across writes", "[upstream][tcp]") {
  ScriptedTcpServer server([](int fd, const Bytes& q) {
    Bytes framed;
    append_framed(framed, echo_answer(q));
    ScriptedTcpServer::write_all(fd, Bytes(framed.begin(), framed.begin() + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ScriptedTcpServer::write_all(fd, Bytes(framed.begin() + 1, framed.end()));
  });
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  Bytes q = make_query(0x0d0d, "tcp.example");
  Outcome out = exchange(loop, upstream, make_upstream_query(q, server.address(), true));
  REQUIRE(out.result->status == UpstreamStatus::ok);
  CHECK(out.result->response == echo_answer(q));
  CHECK(SocketAddress(reinterpret_cast<const sockaddr*>(&out.result->from)) == server.address());
  CHECK(upstream.counters().sent_tcp.get() == 1);
  CHECK(loop.drain());
}

TEST_CASE("upstream tcp: timeout, refused connection, early close", "[upstream][tcp]") {
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  {
    ScriptedTcpServer silent([](int, const Bytes&) {});
    Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), silent.address(), true, 200));
    CHECK(out.result->status == UpstreamStatus::timeout);
    CHECK(out.elapsed_ms >= 190);
    CHECK(silent.accepted.load() == 1);
  }
  {
    int fd = open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_STREAM, SocketOptions{.reuse_port = false});
    SocketAddress closed_port = local_address_of(fd);
    ::close(fd);
    Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), closed_port, true, 2000));
    CHECK(out.result->status == UpstreamStatus::network_error);
    CHECK(out.result->error == UV_ECONNREFUSED);
  }
  {
    ScriptedTcpServer closer([](int fd, const Bytes&) { ::shutdown(fd, SHUT_RDWR); });
    Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), closer.address(), true, 2000));
    CHECK(out.result->status == UpstreamStatus::network_error);
  }
  {
    ScriptedTcpServer half([](int fd, const Bytes&) {
      ScriptedTcpServer::write_all(fd, Bytes{0x00, 0x30, 1, 2});  // half a frame, then close
      ::shutdown(fd, SHUT_RDWR);
    });
    Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), half.address(), true, 2000));
    CHECK(out.result->status == UpstreamStatus::network_error);
  }
  CHECK(loop.drain());
}

TEST_CASE("upstream tcp: zero-length or mismatched answers are bad responses", "[upstream][tcp]") {
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  {
    ScriptedTcpServer zero([](int fd, const Bytes&) { ScriptedTcpServer::write_all(fd, Bytes{0, 0}); });
    Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), zero.address(), true));
    CHECK(out.result->status == UpstreamStatus::bad_response);
  }
  {
    ScriptedTcpServer wrong([](int fd, const Bytes& q) {
      Bytes framed;
      append_framed(framed, with_id(echo_answer(q), static_cast<uint16_t>(message_id(q) ^ 0xffff)));
      ScriptedTcpServer::write_all(fd, framed);
    });
    Outcome out = exchange(loop, upstream, make_upstream_query(make_query(1), wrong.address(), true));
    CHECK(out.result->status == UpstreamStatus::bad_response);
    CHECK(upstream.counters().bad_responses.get() == 2);
  }
  CHECK(loop.drain());
}

TEST_CASE("upstream tcp: cancellation during connect and read", "[upstream][tcp]") {
  ScriptedTcpServer silent([](int, const Bytes&) {});
  TestLoop loop;
  NetworkUpstream upstream(loop.get(), test_config());
  bool called = false;
  UpstreamQueryId a = upstream.send(make_upstream_query(make_query(1), silent.address(), true, 2000),
                                    [&](UpstreamResult) { called = true; });
  CHECK(upstream.cancel(a));  // before the connect completes
  UpstreamQueryId b = upstream.send(make_upstream_query(make_query(2), silent.address(), true, 2000),
                                    [&](UpstreamResult) { called = true; });
  REQUIRE(eventually([&] {
    uv_run(loop.get(), UV_RUN_NOWAIT);
    return silent.accepted.load() >= 1;
  }));
  CHECK(upstream.cancel(b));  // while waiting for the answer
  CHECK(loop.drain());
  CHECK_FALSE(called);
}
