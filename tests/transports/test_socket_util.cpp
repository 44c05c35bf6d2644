#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "transports/socket_util.h"
#include "transports/tls_stream.h"

using namespace sextant::transports;

TEST_CASE("parse_address accepts the usual notations", "[socket]") {
  SocketAddress a;
  REQUIRE(parse_address("127.0.0.1", 53, a) == AddressError::ok);
  CHECK(a.family() == AF_INET);
  CHECK(a.port() == 53);
  CHECK(a.to_string() == "127.0.0.1@53");

  REQUIRE(parse_address("127.0.0.1@5353", 53, a) == AddressError::ok);
  CHECK(a.port() == 5353);
  REQUIRE(parse_address("127.0.0.1:5354", 53, a) == AddressError::ok);
  CHECK(a.port() == 5354);
  REQUIRE(parse_address("127.0.0.2#5355", 53, a) == AddressError::ok);
  CHECK(a.port() == 5355);
  CHECK(a.to_string() == "127.0.0.2@5355");
  REQUIRE(parse_address("  10.1.2.3@0 ", 53, a) == AddressError::ok);
  CHECK(a.port() == 0);

  REQUIRE(parse_address("::1", 53, a) == AddressError::ok);
  CHECK(a.family() == AF_INET6);
  CHECK(a.port() == 53);
  CHECK(a.to_string() == "::1@53");
  REQUIRE(parse_address("::1@8053", 53, a) == AddressError::ok);
  CHECK(a.port() == 8053);
  REQUIRE(parse_address("[::1]:853", 53, a) == AddressError::ok);
  CHECK(a.port() == 853);
  CHECK(a.family() == AF_INET6);
  REQUIRE(parse_address("[2001:db8::5]", 443, a) == AddressError::ok);
  CHECK(a.port() == 443);
  CHECK(a.to_string() == "2001:db8::5@443");
  // A bare IPv6 literal never carries a port.
  REQUIRE(parse_address("::1:53", 5300, a) == AddressError::ok);
  CHECK(a.port() == 5300);
  REQUIRE(parse_address("fe80::1%1@53", 0, a) == AddressError::ok);
  CHECK(a.raw().v6.sin6_scope_id == 1);
}

TEST_CASE("parse_address names what is wrong", "[socket]") {
  SocketAddress a;
  CHECK(parse_address("", 53, a) == AddressError::empty);
  CHECK(parse_address("   ", 53, a) == AddressError::empty);
  CHECK(parse_address("localhost", 53, a) == AddressError::bad_host);
  CHECK(parse_address("1.2.3", 53, a) == AddressError::bad_host);
  CHECK(parse_address("1.2.3.4:99999", 53, a) == AddressError::bad_port);
  CHECK(parse_address("1.2.3.4@", 53, a) == AddressError::bad_port);
  CHECK(parse_address("1.2.3.4:5x", 53, a) == AddressError::bad_port);
  CHECK(parse_address("1.2.3.4@-1", 53, a) == AddressError::bad_port);
  CHECK(parse_address("[::1", 53, a) == AddressError::unclosed_bracket);
  CHECK(parse_address("[::1]x", 53, a) == AddressError::unclosed_bracket);
  CHECK(parse_address("[::1]:", 53, a) == AddressError::bad_port);
  CHECK(parse_address("[]:53", 53, a) == AddressError::bad_host);
  CHECK(parse_address("fe80::1%nosuchinterface0", 53, a) == AddressError::bad_scope);
  CHECK(parse_address(std::string(300, '1'), 53, a) == AddressError::bad_host);
  CHECK_THROWS_WITH(parse_address_or_throw("nope:53", 53), Catch::Contains("nope:53"));
}

TEST_CASE("loopback detection covers 127/8, ::1 and mapped addresses", "[socket]") {
  auto loop = [](const char* text) { return parse_address_or_throw(text, 53).is_loopback(); };
  CHECK(loop("127.0.0.1"));
  CHECK(loop("127.255.1.2"));
  CHECK(loop("::1"));
  CHECK(loop("::ffff:127.0.0.9"));
  CHECK_FALSE(loop("128.0.0.1"));
  CHECK_FALSE(loop("10.0.0.1"));
  CHECK_FALSE(loop("::2"));
  CHECK_FALSE(loop("::ffff:10.0.0.1"));
  CHECK_FALSE(is_loopback(nullptr));
}

TEST_CASE("endpoint comparison and formatting", "[socket]") {
  SocketAddress a = parse_address_or_throw("127.0.0.1@53", 0);
  SocketAddress b = SocketAddress::ipv4_loopback(53);
  SocketAddress c = SocketAddress::ipv4_loopback(54);
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK(same_endpoint(a.get(), b.get()));
  CHECK_FALSE(same_endpoint(a.get(), SocketAddress::ipv6_loopback(53).get()));
  CHECK(format_address(nullptr) == "-");
  CHECK(SocketAddress().empty());
  CHECK(SocketAddress() == SocketAddress());
  sockaddr_storage ss = a.to_storage();
  CHECK(SocketAddress(reinterpret_cast<const sockaddr*>(&ss)) == a);
}

TEST_CASE("open_bound_socket sets SO_REUSEPORT so workers share a port", "[socket]") {
  SocketOptions options;
  int first = open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_DGRAM, options);
  SocketAddress bound = local_address_of(first);
  REQUIRE(bound.port() != 0);
  int reuse = 0;
  socklen_t len = sizeof reuse;
  REQUIRE(::getsockopt(first, SOL_SOCKET, SO_REUSEPORT, &reuse, &len) == 0);
  CHECK(reuse == 1);
  int second = open_bound_socket(bound, SOCK_DGRAM, options);
  CHECK(local_address_of(second) == bound);
  ::close(second);

  // Without SO_REUSEPORT on the newcomer, the port is taken.
  SocketOptions exclusive;
  exclusive.reuse_port = false;
  CHECK_THROWS_WITH(open_bound_socket(bound, SOCK_DGRAM, exclusive),
                    Catch::Contains("bind()") && Catch::Contains(bound.to_string()));
  ::close(first);

  int tcp1 = open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_STREAM, options);
  int tcp2 = open_bound_socket(local_address_of(tcp1), SOCK_STREAM, options);
  CHECK(local_address_of(tcp1) == local_address_of(tcp2));
  ::close(tcp1);
  ::close(tcp2);
}

// Linux lets a UDP socket that asks for port 0 with SO_REUSEPORT already set
// share a port held by any other SO_REUSEPORT socket of the same user: a
// second server (or a test's echo listener) then silently took a share of a
// running resolver's queries. With 1,500 ports held, a few dozen of 1,500
// such binds land on a held port. Returns how many of `open`'s sockets did.
static size_t ports_shared_with_strangers(const std::function<int()>& open) {
  rlimit files{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
  const rlim_t wanted = std::min<rlim_t>(files.rlim_max, 3200);
  if (files.rlim_cur < wanted) {
    files.rlim_cur = wanted;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &files) == 0);
  }
  const size_t count = std::min<size_t>(1500, (wanted - 100) / 2);
  std::vector<int> held;
  std::set<uint16_t> held_ports;
  for (size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int one = 1;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0);
    SocketAddress any = SocketAddress::ipv4_loopback(0);
    REQUIRE(::bind(fd, any.get(), any.size()) == 0);
    held.push_back(fd);
    held_ports.insert(local_address_of(fd).port());
  }
  size_t shared = 0;
  std::vector<int> ours;
  for (size_t i = 0; i < count; ++i) {
    int fd = open();
    ours.push_back(fd);
    if (held_ports.count(local_address_of(fd).port())) ++shared;
  }
  // Still shareable by our own workers once bound.
  int reuse = 0;
  socklen_t len = sizeof reuse;
  REQUIRE(::getsockopt(ours.front(), SOL_SOCKET, SO_REUSEPORT, &reuse, &len) == 0);
  CHECK(reuse == 1);
  int worker = open_bound_socket(local_address_of(ours.front()), SOCK_DGRAM, SocketOptions{});
  CHECK(local_address_of(worker) == local_address_of(ours.front()));
  ::close(worker);
  for (int fd : held) ::close(fd);
  for (int fd : ours) ::close(fd);
  return shared;
}

TEST_CASE("a UDP socket bound to port 0 never joins another SO_REUSEPORT socket's port", "[socket]") {
  SECTION("open_bound_socket (UDP listeners)") {
    CHECK(ports_shared_with_strangers(
              [] { return open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_DGRAM, SocketOptions{}); }) == 0);
  }
  SECTION("bind_reuseport_socket (DoQ listeners)") {
    CHECK(ports_shared_with_strangers([] { return bind_reuseport_socket("127.0.0.1", 0, SOCK_DGRAM, "DoQ"); }) == 0);
  }
}

TEST_CASE("open_bound_socket reports a clear error for an address not on this host", "[socket]") {
  // 192.0.2.1 (TEST-NET-1) is not configured here: bind() fails, nothing is sent.
  SocketAddress foreign = parse_address_or_throw("192.0.2.1@5300", 0);
  CHECK_THROWS_WITH(open_bound_socket(foreign, SOCK_DGRAM, SocketOptions{}),
                    Catch::Contains("UDP") && Catch::Contains("192.0.2.1@5300"));
  CHECK_THROWS_AS(open_bound_socket(SocketAddress(), SOCK_STREAM, SocketOptions{}), std::runtime_error);
}

TEST_CASE("IPv6 sockets are v6-only", "[socket]") {
  int fd = -1;
  try {
    fd = open_bound_socket(SocketAddress::ipv6_loopback(0), SOCK_DGRAM, SocketOptions{});
  } catch (const std::runtime_error&) {
    WARN("no IPv6 loopback on this host");
    return;
  }
  int v6only = 0;
  socklen_t len = sizeof v6only;
  REQUIRE(::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0);
  CHECK(v6only == 1);
  ::close(fd);
}

TEST_CASE("find_free_port gives a port usable by UDP and TCP listeners", "[socket]") {
  uint16_t port = find_free_port(SocketAddress::ipv4_loopback(0));
  REQUIRE(port != 0);
  SocketAddress both = SocketAddress::ipv4_loopback(port);
  int udp = open_bound_socket(both, SOCK_DGRAM, SocketOptions{});
  int tcp = open_bound_socket(both, SOCK_STREAM, SocketOptions{});
  CHECK(local_address_of(udp).port() == port);
  CHECK(local_address_of(tcp).port() == port);
  ::close(udp);
  ::close(tcp);
}

TEST_CASE("open_bound_socket raises the receive buffer (best effort)", "[socket]") {
  SocketOptions options;
  options.receive_buffer_bytes = 4 << 20;
  int fd = open_bound_socket(SocketAddress::ipv4_loopback(0), SOCK_DGRAM, options);
  int size = 0;
  socklen_t len = sizeof size;
  REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0);
  ::close(fd);
  // The kernel doubles the value it stores; the default is 208 KiB. Anything
  // well above the default shows the option took effect (rmem_max may cap it).
  CHECK(size > 512 * 1024);
}
