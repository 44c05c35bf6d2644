// Datagrams held back and sent together with one sendmmsg.
//
// The UDP listener answers most queries synchronously while it walks a
// recvmmsg batch (the cache-hit path). Sending each answer with its own
// sendmsg costs one system call per answer; collecting them here and sending
// them all when the batch ends costs one. Everything is preallocated when the
// batch is built: adding, sending and clearing never touch the heap.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "transports/socket_util.h"
#include "transports/udp_source.h"

namespace sextant::transports {

class UdpSendBatch {
 public:
  // 64 datagrams: one recvmmsg batch of the UDP listener; 64 KiB
  // holds any single UDP payload (at most 65507 octets), so a datagram that
  // is refused by a partly filled batch always fits once it is sent.
  static constexpr size_t kMaxDatagrams = 64;
  static constexpr size_t kMaxBytes = 64 * 1024;

  UdpSendBatch();
  UdpSendBatch(const UdpSendBatch&) = delete;
  UdpSendBatch& operator=(const UdpSendBatch&) = delete;

  bool empty() const noexcept { return count_ == 0; }
  size_t size() const noexcept { return count_; }

  // Copies `datagram` for `peer` (AF_INET or AF_INET6; null on a connected
  // socket), to leave from `source` when one is given (wildcard sockets).
  // False, and nothing is copied, when the batch is full or its byte arena
  // has no room left for it: send the batch, then add again.
  bool add(const sockaddr* peer, std::span<const uint8_t> datagram, const UdpSource* source = nullptr) noexcept;

  struct SendStats {
    size_t sent = 0;      // datagrams the kernel accepted
    size_t failed = 0;    // datagrams refused with an error other than EAGAIN (skipped)
    size_t syscalls = 0;  // sendmmsg calls made
  };
  // Sends the datagrams in order from the first one not yet sent, with as
  // few sendmmsg calls as the kernel allows, on the non-blocking socket
  // `fd`. A datagram refused with a hard error (EMSGSIZE, EPERM, ...) is
  // counted in `failed` and skipped. Stops at EAGAIN (socket buffer full).
  // Returns the index of the first datagram not sent: size() when all went
  // out; otherwise the caller decides what to do with [result, size())
  // (e.g. queue copies of them) before clear().
  size_t send(int fd, SendStats& stats) noexcept;

  // The i-th datagram (i < size()), its destination (null if none) and source.
  const sockaddr* peer(size_t i) const noexcept;
  const UdpSource* source(size_t i) const noexcept {
    return messages_[i].msg_hdr.msg_control != nullptr ? &sources_[i] : nullptr;
  }
  std::span<const uint8_t> datagram(size_t i) const noexcept;

  void clear() noexcept {
    count_ = 0;
    used_ = 0;
  }

 private:
  std::unique_ptr<uint8_t[]> bytes_;  // kMaxBytes, the datagrams back to back
  std::array<PeerAddress, kMaxDatagrams> peers_{};
  std::array<UdpSource, kMaxDatagrams> sources_{};
  struct alignas(cmsghdr) Control {
    uint8_t bytes[kUdpSourceControlSize];
  };
  std::array<Control, kMaxDatagrams> controls_{};
  std::array<iovec, kMaxDatagrams> iov_{};
  std::array<mmsghdr, kMaxDatagrams> messages_{};
  size_t count_ = 0;
  size_t used_ = 0;  // octets of bytes_ in use
};

}  // namespace sextant::transports
