// Socket addresses and socket creation shared by every listener and by the
// upstream client: parsing "127.0.0.1@53", "[::1]:53" and friends, printing
// addresses, and opening bound sockets with SO_REUSEPORT (which libuv 1.44
// cannot request itself, see PLATFORM.md §4).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sextant::transports {

// An IPv4 or IPv6 socket address held by value (no allocation). Unlike
// sockaddr_storage (128 octets) it is only as large as an IPv6 address needs,
// which matters where many are kept (pending UDP answers).
union PeerAddress {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

class SocketAddress {
 public:
  SocketAddress() noexcept;
  // Copies an AF_INET or AF_INET6 address; anything else gives an empty one.
  explicit SocketAddress(const sockaddr* sa) noexcept;

  static SocketAddress ipv4_any(uint16_t port) noexcept;
  static SocketAddress ipv4_loopback(uint16_t port) noexcept;
  static SocketAddress ipv6_loopback(uint16_t port) noexcept;

  bool empty() const noexcept { return addr_.sa.sa_family == AF_UNSPEC; }
  int family() const noexcept { return addr_.sa.sa_family; }
  uint16_t port() const noexcept;
  void set_port(uint16_t port) noexcept;
  bool is_loopback() const noexcept;

  const sockaddr* get() const noexcept { return &addr_.sa; }
  socklen_t size() const noexcept;
  const PeerAddress& raw() const noexcept { return addr_; }
  sockaddr_storage to_storage() const noexcept;

  // "127.0.0.1@53" / "::1@53" (the Unbound/Knot style, unambiguous for v6).
  std::string to_string() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  PeerAddress addr_;
};

enum class AddressError : uint8_t {
  ok = 0,
  empty,          // nothing to parse
  bad_host,       // not a numeric IPv4/IPv6 address (no DNS lookups here)
  bad_port,       // not a number in 0..65535
  unclosed_bracket,  // "[::1" or text after "]" that is not a port
  bad_scope,         // "fe80::1%nosuchif"
};
const char* to_string(AddressError e) noexcept;

// Accepts "A", "A@port", "A#port", "IPv4:port", "[IPv6]", "[IPv6]:port",
// "IPv6@port" with numeric addresses only. A bare IPv6 literal never carries
// a port ("::1:53" is the address ::1:53), so write "[::1]:53" or "::1@53". `default_port` applies when none
// is given. A scope ("fe80::1%eth0") is accepted for IPv6.
AddressError parse_address(std::string_view text, uint16_t default_port, SocketAddress& out);

// Same, throwing std::invalid_argument naming the text and the problem
// (for configuration code, where a bad address is fatal).
SocketAddress parse_address_or_throw(std::string_view text, uint16_t default_port);

// Prints any sockaddr (AF_INET/AF_INET6; "?" otherwise). Null gives "-".
std::string format_address(const sockaddr* sa);

// True for 127.0.0.0/8, ::1 and the IPv4-mapped ::ffff:127.0.0.0/104.
bool is_loopback(const sockaddr* sa) noexcept;
// Compares family, address and port (and IPv6 scope).
bool same_endpoint(const sockaddr* a, const sockaddr* b) noexcept;
socklen_t sockaddr_length(const sockaddr* sa) noexcept;

struct SocketOptions {
  bool reuse_port = true;        // SO_REUSEPORT: one socket per worker on one port
  bool ipv6_only = true;         // IPV6_V6ONLY on AF_INET6 sockets
  int receive_buffer_bytes = 0;  // SO_RCVBUF if > 0 (best effort: capped by rmem_max)
  int send_buffer_bytes = 0;     // SO_SNDBUF if > 0 (best effort)
};

// socket() + options + bind(); returns a non-blocking, close-on-exec file
// descriptor. `type` is SOCK_DGRAM or SOCK_STREAM. Throws std::runtime_error
// naming the address and the reason on failure (the descriptor is closed).
int open_bound_socket(const SocketAddress& address, int type, const SocketOptions& options);

// libuv writes to stream sockets with write()/writev(), which raise SIGPIPE
// when the peer has gone; the default action would kill the server. Sets
// SIGPIPE to SIG_IGN unless the program installed its own handler (then the
// write just fails with EPIPE). Called by every listener and client that
// writes to streams; idempotent and thread-safe.
void ignore_sigpipe() noexcept;

// A port on `host` that is free for both UDP and TCP right now (for tests
// that need one port for both transports, e.g. UDP with TCP fallback).
// Tries at most 64 kernel-chosen ports; returns 0 if none fits. Racy by
// nature: another process may take the port before the caller binds it.
uint16_t find_free_port(const SocketAddress& host) noexcept;

// The address a socket is bound to (getsockname); empty on error.
SocketAddress local_address_of(int fd) noexcept;

}  // namespace sextant::transports
