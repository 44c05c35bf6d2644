#include "transports/udp_source.h"

#include <arpa/inet.h>

#include <cstring>

namespace sextant::transports {

bool enable_udp_source_info(int fd, int family) noexcept {
  const int on = 1;
  if (family == AF_INET6) return ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) == 0;
  return ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) == 0;
}

UdpSource udp_source_from_control(const msghdr& received) noexcept {
  UdpSource source;
  if (received.msg_control == nullptr || received.msg_controllen == 0) return source;
  auto& h = const_cast<msghdr&>(received);  // the CMSG macros take non-const headers
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      source.family = AF_INET;
      source.v4 = info.ipi_addr;  // the destination of the datagram
      source.ifindex = static_cast<unsigned>(info.ipi_ifindex);
      return source;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      source.family = AF_INET6;
      source.v6 = info.ipi6_addr;
      source.ifindex = info.ipi6_ifindex;
      return source;
    }
  }
  return source;
}

size_t write_udp_source_control(const UdpSource& source, void* buffer) noexcept {
  if (source.empty()) return 0;
  std::memset(buffer, 0, kUdpSourceControlSize);
  msghdr h{};
  h.msg_control = buffer;
  h.msg_controllen = kUdpSourceControlSize;
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  if (source.family == AF_INET) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = source.v4;  // the source address to use; the route picks the interface
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return CMSG_SPACE(sizeof(in_pktinfo));
  }
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  info.ipi6_addr = source.v6;
  // Only link-local sources need their interface; elsewhere let the route decide.
  if (IN6_IS_ADDR_LINKLOCAL(&source.v6)) info.ipi6_ifindex = source.ifindex;
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  return CMSG_SPACE(sizeof(in6_pktinfo));
}

sockaddr_storage udp_source_address(const UdpSource& source, uint16_t port) noexcept {
  sockaddr_storage ss{};
  if (source.family == AF_INET) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_addr = source.v4;
    s4->sin_port = htons(port);
  } else if (source.family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = source.v6;
    s6->sin6_port = htons(port);
    if (IN6_IS_ADDR_LINKLOCAL(&source.v6)) s6->sin6_scope_id = source.ifindex;
  }
  return ss;
}

}  // namespace sextant::transports
