// Owns a plain file descriptor and closes it when it goes (blocking clients
// outside libuv: the zone transfer client, the control socket's client).
#pragma once

#include <unistd.h>

namespace sextant::transports {

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace sextant::transports
