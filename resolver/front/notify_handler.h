// Where a NOTIFY (RFC 1996) received on the client listeners goes: the
// daemon's RPZ feed (resolver/daemon/rpz_feed.h) checks the sender against
// the zone's allow-notify and schedules a refresh. A NOTIFY never reaches
// the cache or the walker; without a handler it is REFUSED.
#pragma once

#include <sys/socket.h>

#include "wire/name.h"

namespace sextant::resolver {

class NotifyHandler {
 public:
  virtual ~NotifyHandler() = default;
  // True: accepted (answered NOERROR with AA); false: REFUSED (unknown
  // zone or a sender not allowed). Called on a worker thread: must not block.
  virtual bool notify(const sockaddr* from, const wire::Name& zone) = 0;
};

}  // namespace sextant::resolver
