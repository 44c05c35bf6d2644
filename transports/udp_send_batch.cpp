#include "transports/udp_send_batch.h"

#include <cerrno>
#include <cstring>

namespace sextant::transports {

UdpSendBatch::UdpSendBatch() : bytes_(new uint8_t[kMaxBytes]) {}

bool UdpSendBatch::add(const sockaddr* peer, std::span<const uint8_t> datagram, const UdpSource* source) noexcept {
  if (count_ == kMaxDatagrams || datagram.size() > kMaxBytes - used_) return false;
  uint8_t* at = bytes_.get() + used_;
  if (!datagram.empty()) std::memcpy(at, datagram.data(), datagram.size());
  used_ += datagram.size();

  mmsghdr& m = messages_[count_];
  std::memset(&m, 0, sizeof m);
  iov_[count_] = {at, datagram.size()};
  m.msg_hdr.msg_iov = &iov_[count_];
  m.msg_hdr.msg_iovlen = 1;
  if (peer != nullptr) {
    const socklen_t length = peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    std::memcpy(&peers_[count_], peer, length);
    m.msg_hdr.msg_name = &peers_[count_];
    m.msg_hdr.msg_namelen = length;
  }
  if (source != nullptr && !source->empty()) {
    sources_[count_] = *source;
    m.msg_hdr.msg_control = controls_[count_].bytes;
    m.msg_hdr.msg_controllen = write_udp_source_control(sources_[count_], controls_[count_].bytes);
  }
  ++count_;
  return true;
}

size_t UdpSendBatch::send(int fd, SendStats& stats) noexcept {
  size_t next = 0;
  while (next < count_) {
    const int n = ::sendmmsg(fd, &messages_[next], static_cast<unsigned>(count_ - next), 0);
    ++stats.syscalls;
    if (n > 0) {
      // A short count means datagram next+n failed; the next call reports why.
      stats.sent += static_cast<size_t>(n);
      next += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // This datagram is refused for good (or n == 0, which the kernel only
    // returns for an empty vector): skip it so the rest still go out.
    ++stats.failed;
    ++next;
  }
  return next;
}

const sockaddr* UdpSendBatch::peer(size_t i) const noexcept {
  return messages_[i].msg_hdr.msg_name != nullptr ? &peers_[i].sa : nullptr;
}

std::span<const uint8_t> UdpSendBatch::datagram(size_t i) const noexcept {
  return {static_cast<const uint8_t*>(iov_[i].iov_base), iov_[i].iov_len};
}

}  // namespace sextant::transports
