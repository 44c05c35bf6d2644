// PROXY v2 on the plain listeners (UDP, TCP): a trusted proxy's header names
// the client the handler sees, answers go back to the proxy, and headers
// that are missing, malformed or from anyone else are dropped and counted.
#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.h"
#include "tests/transports/proxy_support.h"
#include "transports/tcp_listener.h"
#include "transports/udp_listener.h"
#include "transports/worker_pool.h"

using namespace sextant::transports;
using namespace sextant::transports::plain_test;
using namespace sextant::transports::proxy_test;

namespace {

std::string text(const sockaddr* a) {
  if (a == nullptr) return "-";
  return SocketAddress(a).to_string();
}

// Records what each request said about its addresses, then answers through
// an EchoHandler (queries for names starting with "slow" are answered 50 ms
// later, from the loop).
class RecordingHandler final : public QueryHandler {
 public:
  struct Seen {
    std::string peer, local, proxy;
    bool proxy_local = false;
  };
  RecordingHandler()
      : echo_([](std::span<const uint8_t> q) { return q.size() > 13 && q[13] == 's' ? 50u : 0u; }) {}

  void handle(const Request& request, Responder responder) override {
    {
      std::lock_guard lock(mu_);
      seen_.push_back({text(request.peer), text(request.local), text(request.proxy), request.proxy_local});
    }
    echo_.handle(request, std::move(responder));
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  EchoHandler echo_;
};

// A UDP socket bound to `source` (127.0.0.x), for clients at a given address.
class BoundUdp {
 public:
  explicit BoundUdp(const char* source) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, source, &a.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~BoundUdp() { ::close(fd_); }
  void send(const SocketAddress& to, std::span<const uint8_t> data) {
    REQUIRE(::sendto(fd_, data.data(), data.size(), 0, to.get(), to.size()) == static_cast<ssize_t>(data.size()));
  }
  std::optional<Bytes> receive(unsigned timeout_ms) {
    if (!wait_readable(fd_, timeout_ms)) return std::nullopt;
    Bytes buf(65536);
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

 private:
  int fd_;
};

// A blocking TCP connection from `source` (127.0.0.x).
class BoundTcp {
 public:
  BoundTcp(const char* source, const SocketAddress& to) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, source, &a.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::connect(fd_, to.get(), to.size()) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~BoundTcp() { ::close(fd_); }
  void send(std::span<const uint8_t> data) {
    REQUIRE(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
  }
  static Bytes framed(std::span<const uint8_t> message) {
    Bytes out;
    append_framed(out, message);
    return out;
  }
  // One framed answer, or nullopt on timeout or close (closed() then says which).
  std::optional<Bytes> read_frame(unsigned timeout_ms) {
    auto start = Clock::now();
    while (ms_since(start) < timeout_ms) {
      if (buffer_.size() >= 2) {
        size_t len = (size_t{buffer_[0]} << 8) | buffer_[1];
        if (buffer_.size() >= 2 + len) {
          Bytes frame(buffer_.begin() + 2, buffer_.begin() + 2 + static_cast<std::ptrdiff_t>(len));
          buffer_.erase(buffer_.begin(), buffer_.begin() + 2 + static_cast<std::ptrdiff_t>(len));
          return frame;
        }
      }
      if (!wait_readable(fd_, static_cast<unsigned>(timeout_ms - ms_since(start)))) break;
      uint8_t buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      buffer_.insert(buffer_.end(), buf, buf + n);
    }
    return std::nullopt;
  }
  bool closed() const { return closed_; }

 private:
  int fd_;
  Bytes buffer_;
  bool closed_ = false;
};

std::shared_ptr<const TrustedProxies> trust(std::vector<std::string> cidrs) {
  return std::make_shared<const TrustedProxies>(cidrs);
}

template <typename ListenerType, typename Config, typename Factory>
struct Server {
  Server(QueryHandler& handler, Config config, Factory factory) {
    config.address = SocketAddress::ipv4_loopback(0);
    pool = std::make_unique<WorkerPool>(WorkerPoolConfig{.workers = 1, .shutdown_grace_ms = 500},
                                        std::vector<ListenerFactory>{factory(config,
                                                                             [this](ListenerType& l) {
                                                                               listener = &l;
                                                                             })},
                                        handler);
    pool->start();
    REQUIRE(listener != nullptr);
    address = listener->local_address();
  }
  ~Server() { pool->stop(); }
  uint64_t proxy(ProxyOutcome o) const { return listener->counters().proxy[static_cast<size_t>(o)].get(); }

  ListenerType* listener = nullptr;
  SocketAddress address;
  std::unique_ptr<WorkerPool> pool;
};

using ProxiedUdp = Server<UdpListener, UdpListenerConfig, decltype(&make_udp_listener_factory)>;
using ProxiedTcp = Server<TcpListener, TcpListenerConfig, decltype(&make_tcp_listener_factory)>;

UdpListenerConfig udp_config(std::shared_ptr<const TrustedProxies> trusted) {
  UdpListenerConfig c;
  c.trusted_proxies = std::move(trusted);
  return c;
}

TcpListenerConfig tcp_config(std::shared_ptr<const TrustedProxies> trusted) {
  TcpListenerConfig c;
  c.trusted_proxies = std::move(trusted);
  c.idle_timeout_ms = 3000;
  return c;
}

}  // namespace

TEST_CASE("udp proxy: a trusted proxy's header names the client; the answer goes to the proxy", "[udp][proxy]") {
  RecordingHandler handler;
  ProxiedUdp server(handler, udp_config(trust({"127.0.0.62/32"})), &make_udp_listener_factory);
  BoundUdp proxy("127.0.0.62");
  Bytes query = make_query(0x0101, "www.example.org");
  proxy.send(server.address, concat(proxy_v4("198.51.100.7", "192.0.2.53", 4444, 53, {}, 0x21, 0x12), query));
  auto answer = proxy.receive(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, query));  // the header is not echoed back
  // An answer given later (a resolution) goes back to the proxy too.
  Bytes slow = make_query(0x0102, "slow.example.org");
  proxy.send(server.address, concat(proxy_v4("198.51.100.8", "192.0.2.53", 4445, 53, {}, 0x21, 0x12), slow));
  answer = proxy.receive(2000);
  REQUIRE(answer);
  CHECK(is_echo_of(*answer, slow));
  // IPv6 clients through an IPv4 proxy, and the proxy's own LOCAL queries.
  proxy.send(server.address, concat(proxy_v6("2001:db8::7", "2001:db8::53", 4446, 53, 0x22), query));
  REQUIRE(proxy.receive(2000));
  proxy.send(server.address, concat(proxy_local(), query));
  REQUIRE(proxy.receive(2000));

  auto seen = handler.seen();
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].peer == "198.51.100.7@4444");
  CHECK(seen[0].local == "192.0.2.53@53");
  CHECK(seen[0].proxy.rfind("127.0.0.62@", 0) == 0);
  CHECK_FALSE(seen[0].proxy_local);
  CHECK(seen[1].peer == "198.51.100.8@4445");
  CHECK(seen[2].peer == "2001:db8::7@4446");
  CHECK(seen[3].peer == seen[3].proxy);
  CHECK(seen[3].proxy_local);
  CHECK(server.proxy(ProxyOutcome::proxied) == 3);
  CHECK(server.proxy(ProxyOutcome::local) == 1);
}

TEST_CASE("udp proxy: missing, malformed and untrusted headers are dropped and counted", "[udp][proxy]") {
  RecordingHandler handler;
  ProxiedUdp server(handler, udp_config(trust({"127.0.0.62/32"})), &make_udp_listener_factory);
  BoundUdp proxy("127.0.0.62");
  BoundUdp stranger("127.0.0.63");
  Bytes query = make_query(0x0201);
  Bytes header = proxy_v4("198.51.100.7", "192.0.2.53", 4444, 53, {}, 0x21, 0x12);

  proxy.send(server.address, query);  // a trusted proxy without a header
  CHECK_FALSE(proxy.receive(300));
  Bytes truncated(header.begin(), header.begin() + 20);
  proxy.send(server.address, truncated);
  CHECK_FALSE(proxy.receive(300));
  proxy.send(server.address, header);  // a header and nothing after it
  CHECK_FALSE(proxy.receive(300));
  stranger.send(server.address, concat(header, query));  // spoofing a client address
  CHECK_FALSE(stranger.receive(300));

  CHECK(eventually([&] { return server.proxy(ProxyOutcome::untrusted) == 1; }));
  CHECK(server.proxy(ProxyOutcome::missing) == 1);
  CHECK(server.proxy(ProxyOutcome::invalid) == 1);
  CHECK(server.listener->counters().too_short.get() == 1);
  CHECK(handler.seen().empty());

  // Someone else's plain query is answered as from that address.
  stranger.send(server.address, query);
  REQUIRE(stranger.receive(2000));
  auto seen = handler.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].peer.rfind("127.0.0.63@", 0) == 0);
  CHECK(seen[0].proxy == "-");
}

TEST_CASE("udp proxy: without trusted proxies a header is never believed", "[udp][proxy]") {
  RecordingHandler handler;
  ProxiedUdp server(handler, udp_config(nullptr), &make_udp_listener_factory);
  BoundUdp client("127.0.0.62");
  Bytes query = make_query(0x0301);
  client.send(server.address, concat(proxy_v4("198.51.100.7", "192.0.2.53", 1, 53, {}, 0x21, 0x12), query));
  CHECK_FALSE(client.receive(300));
  CHECK(eventually([&] { return server.proxy(ProxyOutcome::untrusted) == 1; }));
  client.send(server.address, query);
  REQUIRE(client.receive(2000));
  CHECK(server.proxy(ProxyOutcome::proxied) == 0);
}

TEST_CASE("tcp proxy: a trusted proxy's header, whole or in pieces, names the client", "[tcp][proxy]") {
  RecordingHandler handler;
  ProxiedTcp server(handler, tcp_config(trust({"127.0.0.62/32"})), &make_tcp_listener_factory);
  Bytes query = make_query(0x0401, "www.example.org");
  {
    // Header and two pipelined queries in one write, as dnsdist sends them.
    BoundTcp proxy("127.0.0.62", server.address);
    Bytes second = make_query(0x0402, "slow.example.org");
    proxy.send(concat(concat(proxy_v4("198.51.100.7", "192.0.2.53", 4444, 53), BoundTcp::framed(query)),
                      BoundTcp::framed(second)));
    auto a = proxy.read_frame(2000);
    auto b = proxy.read_frame(2000);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(is_echo_of(*a, query));
    CHECK(is_echo_of(*b, second));
  }
  {
    // One octet at a time.
    BoundTcp proxy("127.0.0.62", server.address);
    Bytes stream = concat(proxy_v6("2001:db8::7", "2001:db8::53", 4446, 853), BoundTcp::framed(query));
    for (uint8_t octet : stream) {
      proxy.send(std::span<const uint8_t>(&octet, 1));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    auto a = proxy.read_frame(2000);
    REQUIRE(a);
    CHECK(is_echo_of(*a, query));
  }
  {
    BoundTcp proxy("127.0.0.62", server.address);
    proxy.send(concat(proxy_local(), BoundTcp::framed(query)));
    REQUIRE(proxy.read_frame(2000));
  }
  auto seen = handler.seen();
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].peer == "198.51.100.7@4444");
  CHECK(seen[0].local == "192.0.2.53@53");
  CHECK(seen[0].proxy.rfind("127.0.0.62@", 0) == 0);
  CHECK(seen[1].peer == "198.51.100.7@4444");
  CHECK(seen[2].peer == "2001:db8::7@4446");
  CHECK(seen[3].proxy_local);
  CHECK(seen[3].peer == seen[3].proxy);
  CHECK(eventually([&] { return server.proxy(ProxyOutcome::proxied) == 2; }));
  CHECK(server.proxy(ProxyOutcome::local) == 1);
}

TEST_CASE("tcp proxy: missing, malformed and untrusted headers close the connection", "[tcp][proxy]") {
  RecordingHandler handler;
  ProxiedTcp server(handler, tcp_config(trust({"127.0.0.62/32"})), &make_tcp_listener_factory);
  Bytes query = make_query(0x0501);
  Bytes header = proxy_v4("198.51.100.7", "192.0.2.53", 4444, 53);
  {
    BoundTcp proxy("127.0.0.62", server.address);
    proxy.send(BoundTcp::framed(query));
    CHECK_FALSE(proxy.read_frame(2000));
    CHECK(proxy.closed());
  }
  {
    Bytes bad = header;
    bad[12] = 0x2F;  // unknown command
    BoundTcp proxy("127.0.0.62", server.address);
    proxy.send(concat(bad, BoundTcp::framed(query)));
    CHECK_FALSE(proxy.read_frame(2000));
    CHECK(proxy.closed());
  }
  {
    // The signature arriving in two pieces from a peer that is not trusted.
    BoundTcp stranger("127.0.0.63", server.address);
    Bytes stream = concat(header, BoundTcp::framed(query));
    stranger.send(std::span<const uint8_t>(stream.data(), 5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stranger.send(std::span<const uint8_t>(stream.data() + 5, stream.size() - 5));
    CHECK_FALSE(stranger.read_frame(2000));
    CHECK(stranger.closed());
  }
  CHECK(eventually([&] { return server.proxy(ProxyOutcome::untrusted) == 1; }));
  CHECK(server.proxy(ProxyOutcome::missing) == 1);
  CHECK(server.proxy(ProxyOutcome::invalid) == 1);
  CHECK(handler.seen().empty());
  {
    // Everyone else's plain DNS over TCP is untouched.
    BoundTcp stranger("127.0.0.63", server.address);
    stranger.send(BoundTcp::framed(query));
    auto a = stranger.read_frame(2000);
    REQUIRE(a);
    CHECK(is_echo_of(*a, query));
  }
  auto seen = handler.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].proxy == "-");
}
