#include "transports/socket_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <fmt/format.h>

#include <csignal>
#include <cerrno>
#include <mutex>
#include <cstring>
#include <stdexcept>

namespace sextant::transports {

SocketAddress::SocketAddress() noexcept {
  std::memset(&addr_, 0, sizeof addr_);
  addr_.sa.sa_family = AF_UNSPEC;
}

SocketAddress::SocketAddress(const sockaddr* sa) noexcept : SocketAddress() {
  if (sa == nullptr) return;
  if (sa->sa_family == AF_INET) {
    std::memcpy(&addr_.v4, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(&addr_.v6, sa, sizeof(sockaddr_in6));
  }
}

SocketAddress SocketAddress::ipv4_any(uint16_t port) noexcept {
  SocketAddress a;
  a.addr_.v4.sin_family = AF_INET;
  a.addr_.v4.sin_addr.s_addr = htonl(INADDR_ANY);
  a.addr_.v4.sin_port = htons(port);
  return a;
}

SocketAddress SocketAddress::ipv4_loopback(uint16_t port) noexcept {
  SocketAddress a;
  a.addr_.v4.sin_family = AF_INET;
  a.addr_.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.addr_.v4.sin_port = htons(port);
  return a;
}

SocketAddress SocketAddress::ipv6_loopback(uint16_t port) noexcept {
  SocketAddress a;
  a.addr_.v6.sin6_family = AF_INET6;
  a.addr_.v6.sin6_addr = in6addr_loopback;
  a.addr_.v6.sin6_port = htons(port);
  return a;
}

uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(addr_.v4.sin_port);
  if (family() == AF_INET6) return ntohs(addr_.v6.sin6_port);
  return 0;
}

void SocketAddress::set_port(uint16_t port) noexcept {
  if (family() == AF_INET) addr_.v4.sin_port = htons(port);
  if (family() == AF_INET6) addr_.v6.sin6_port = htons(port);
}

bool SocketAddress::is_loopback() const noexcept { return transports::is_loopback(&addr_.sa); }

socklen_t SocketAddress::size() const noexcept { return sockaddr_length(&addr_.sa); }

sockaddr_storage SocketAddress::to_storage() const noexcept {
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  std::memcpy(&ss, &addr_, sizeof addr_);
  return ss;
}

std::string SocketAddress::to_string() const { return format_address(&addr_.sa); }

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  if (a.empty() || b.empty()) return a.empty() && b.empty();
  return same_endpoint(a.get(), b.get());
}

const char* to_string(AddressError e) noexcept {
  switch (e) {
    case AddressError::ok: return "ok";
    case AddressError::empty: return "empty address";
    case AddressError::bad_host: return "not a numeric IPv4 or IPv6 address";
    case AddressError::bad_port: return "bad port (want 0..65535)";
    case AddressError::unclosed_bracket: return "malformed [IPv6] brackets";
    case AddressError::bad_scope: return "unknown IPv6 scope";
  }
  return "unknown address error";
}

namespace {

bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

AddressError parse_host(std::string_view host, uint16_t port, SocketAddress& out) {
  if (host.empty()) return AddressError::bad_host;
  if (host.size() >= INET6_ADDRSTRLEN + IF_NAMESIZE) return AddressError::bad_host;
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';

  sockaddr_in v4{};
  if (inet_pton(AF_INET, buf, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    out = SocketAddress(reinterpret_cast<const sockaddr*>(&v4));
    return AddressError::ok;
  }
  sockaddr_in6 v6{};
  uint32_t scope = 0;
  if (char* percent = std::strchr(buf, '%')) {
    *percent = '\0';
    const char* scope_text = percent + 1;
    uint16_t numeric = 0;
    if (parse_port(scope_text, numeric)) {  // a small number: a numeric scope id
      scope = numeric;
    } else {
      scope = if_nametoindex(scope_text);
      if (scope == 0) return AddressError::bad_scope;
    }
  }
  if (inet_pton(AF_INET6, buf, &v6.sin6_addr) != 1) return AddressError::bad_host;
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  v6.sin6_scope_id = scope;
  out = SocketAddress(reinterpret_cast<const sockaddr*>(&v6));
  return AddressError::ok;
}

}  // namespace

AddressError parse_address(std::string_view text, uint16_t default_port, SocketAddress& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return AddressError::empty;

  std::string_view host = text;
  uint16_t port = default_port;

  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return AddressError::unclosed_bracket;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' && rest.front() != '@' && rest.front() != '#') {
        return AddressError::unclosed_bracket;
      }
      if (!parse_port(rest.substr(1), port)) return AddressError::bad_port;
    }
  } else if (size_t sep = text.find_last_of("@#"); sep != std::string_view::npos) {
    host = text.substr(0, sep);
    if (!parse_port(text.substr(sep + 1), port)) return AddressError::bad_port;
  } else if (size_t colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    // Exactly one colon: IPv4 with a port. Two or more: a bare IPv6 literal.
    host = text.substr(0, colon);
    if (!parse_port(text.substr(colon + 1), port)) return AddressError::bad_port;
  }
  return parse_host(host, port, out);
}

SocketAddress parse_address_or_throw(std::string_view text, uint16_t default_port) {
  SocketAddress out;
  AddressError e = parse_address(text, default_port, out);
  if (e != AddressError::ok) {
    throw std::invalid_argument(fmt::format("bad address '{}': {}", text, to_string(e)));
  }
  return out;
}

std::string format_address(const sockaddr* sa) {
  if (sa == nullptr) return "-";
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return fmt::format("{}@{}", buf, ntohs(v4->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    if (v6->sin6_scope_id != 0) {
      return fmt::format("{}%{}@{}", buf, v6->sin6_scope_id, ntohs(v6->sin6_port));
    }
    return fmt::format("{}@{}", buf, ntohs(v6->sin6_port));
  }
  return "?";
}

bool is_loopback(const sockaddr* sa) noexcept {
  if (sa == nullptr) return false;
  if (sa->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

bool same_endpoint(const sockaddr* a, const sockaddr* b) noexcept {
  if (a == nullptr || b == nullptr || a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(b);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->sa_family == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(b);
    return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return false;
}

socklen_t sockaddr_length(const sockaddr* sa) noexcept {
  if (sa == nullptr) return 0;
  if (sa->sa_family == AF_INET) return sizeof(sockaddr_in);
  if (sa->sa_family == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

int open_bound_socket(const SocketAddress& address, int type, const SocketOptions& options) {
  const char* kind = type == SOCK_DGRAM ? "UDP" : "TCP";
  if (address.empty()) throw std::runtime_error(fmt::format("{} socket: no address given", kind));
  int fd = ::socket(address.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error(
        fmt::format("{} socket for {}: socket(): {}", kind, address.to_string(), std::strerror(errno)));
  }
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(
        fmt::format("{} socket for {}: {}: {}", kind, address.to_string(), what, std::strerror(err)));
  };
  int one = 1;
  // SO_REUSEADDR lets a restarted server bind while old TCP connections sit in TIME_WAIT.
  if (type == SOCK_STREAM && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEADDR)");
  }
  // A UDP socket asking for port 0 with SO_REUSEPORT already set may be
  // given a port that another SO_REUSEPORT socket of this user holds, and
  // then takes a share of that socket's datagrams (the kernel's port search
  // treats such ports as free). So port 0 is bound first and made shareable
  // after: our own workers still join it, nobody else's socket is joined.
  const bool share_after_bind = address.port() == 0;
  if (options.reuse_port && !share_after_bind &&
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEPORT)");
  }
  if (address.family() == AF_INET6) {
    int v6only = options.ipv6_only ? 1 : 0;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
      fail("setsockopt(IPV6_V6ONLY)");
    }
  }
  // Buffer sizes are best effort. The FORCE variants pass rmem_max/wmem_max
  // when we have CAP_NET_ADMIN (as Unbound does); otherwise the plain option
  // is silently capped by the kernel.
  if (options.receive_buffer_bytes > 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &options.receive_buffer_bytes,
                   sizeof options.receive_buffer_bytes) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes,
                       sizeof options.receive_buffer_bytes);
  }
  if (options.send_buffer_bytes > 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &options.send_buffer_bytes,
                   sizeof options.send_buffer_bytes) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.send_buffer_bytes,
                       sizeof options.send_buffer_bytes);
  }
  if (::bind(fd, address.get(), address.size()) != 0) fail("bind()");
  if (options.reuse_port && share_after_bind && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    fail("setsockopt(SO_REUSEPORT)");
  }
  return fd;
}

void ignore_sigpipe() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current{};
    if (::sigaction(SIGPIPE, nullptr, &current) != 0) return;
    if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL) {
      struct sigaction ignore{};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

uint16_t find_free_port(const SocketAddress& host) noexcept {
  SocketAddress any_port = host;
  any_port.set_port(0);
  for (int attempt = 0; attempt < 64; ++attempt) {
    int udp = ::socket(host.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp < 0) return 0;
    if (::bind(udp, any_port.get(), any_port.size()) != 0) {
      ::close(udp);
      return 0;
    }
    SocketAddress candidate = local_address_of(udp);
    int tcp = ::socket(host.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool tcp_free = tcp >= 0 && ::bind(tcp, candidate.get(), candidate.size()) == 0;
    if (tcp >= 0) ::close(tcp);
    ::close(udp);
    if (tcp_free) return candidate.port();
  }
  return 0;
}

SocketAddress local_address_of(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return SocketAddress();
  return SocketAddress(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace sextant::transports
