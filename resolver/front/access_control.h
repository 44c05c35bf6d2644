// Client access control: the first rule whose prefix contains the client's
// address decides; an address no rule matches is refused, so a resolver
// exposed by mistake does not become an open amplifier.
#pragma once

#include <sys/socket.h>

#include <vector>

#include "resolver/config/config.h"

namespace sextant::resolver {

class AccessControl {
 public:
  explicit AccessControl(std::vector<AclRule> rules) : rules_(std::move(rules)) {}
  AclAction decide(const sockaddr* client) const noexcept;

 private:
  std::vector<AclRule> rules_;
};

}  // namespace sextant::resolver
