// The local address a datagram arrived on, for a UDP socket bound to a
// wildcard address (0.0.0.0, ::). The kernel would otherwise pick the
// answer's source address by route, which on a host with several addresses
// can differ from the one the client asked, and the client drops the
// answer. With IP_PKTINFO / IPV6_RECVPKTINFO each datagram says where it
// arrived, and the answer names that address as its source (Unbound's
// interface-automatic). Sockets bound to one address need none of this.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace sextant::transports {

struct UdpSource {
  int family = AF_UNSPEC;  // AF_UNSPEC: unknown, the kernel chooses
  in_addr v4{};
  in6_addr v6{};
  unsigned ifindex = 0;   // the interface it arrived on (needed for IPv6 link-local)

  bool empty() const noexcept { return family == AF_UNSPEC; }
};

// Room for one IP_PKTINFO or IPV6_PKTINFO control message.
inline constexpr size_t kUdpSourceControlSize = CMSG_SPACE(sizeof(in6_pktinfo));

// Asks the kernel to report each datagram's destination on `fd` (of
// `family`). False if it refuses.
bool enable_udp_source_info(int fd, int family) noexcept;

// The destination reported in a received message's control data; empty if
// there is none.
UdpSource udp_source_from_control(const msghdr& received) noexcept;

// Writes into `buffer` (kUdpSourceControlSize octets, aligned for cmsghdr)
// the control message that makes the kernel send from `source`; returns
// its length for msg_controllen, 0 if `source` is empty.
size_t write_udp_source_control(const UdpSource& source, void* buffer) noexcept;

// `source` as a socket address with `port`, for Request::local.
sockaddr_storage udp_source_address(const UdpSource& source, uint16_t port) noexcept;

}  // namespace sextant::transports
