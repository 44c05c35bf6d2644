#include "transports/query_handler.h"

namespace sextant::transports {

const char* to_string(Transport t) noexcept {
  switch (t) {
    case Transport::udp: return "udp";
    case Transport::tcp: return "tcp";
    case Transport::dot: return "dot";
    case Transport::doh: return "doh";
    case Transport::doq: return "doq";
  }
  return "unknown";
}

}  // namespace sextant::transports
