#include "cache/ip_address.h"

#include <arpa/inet.h>

namespace sextant::cache {

std::string IpAddress::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

}  // namespace sextant::cache
