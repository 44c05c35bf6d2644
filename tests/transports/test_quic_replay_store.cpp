// The anti-replay store behind DoQ 0-RTT: a ClientHello is accepted once
// within its window, the store is bounded, and expired entries make room.
#include <catch2/catch.hpp>

#include <string>

#include "transports/quic_tls.h"

using sextant::transports::ReplayStore;

TEST_CASE("replay store: once per window, bounded, expired entries make room", "[doq][replay]") {
  ReplayStore store(3);
  const time_t now = 1'700'000'000;
  CHECK(store.add("hello-1", now + 10, now));
  CHECK_FALSE(store.add("hello-1", now + 10, now));       // a replay within the window
  CHECK_FALSE(store.add("hello-1", now + 10, now + 9));
  CHECK(store.add("hello-1", now + 30, now + 10));        // the window is over: a new one
  CHECK(store.add("hello-2", now + 20, now + 10));
  CHECK(store.add("hello-3", now + 20, now + 10));
  CHECK(store.size() == 3);
  // Full of live entries: refused (the client's early data is then rejected
  // and it resends after the handshake), never an unbounded store.
  CHECK_FALSE(store.add("hello-4", now + 20, now + 11));
  CHECK(store.size() == 3);
  // Expired entries are dropped to make room.
  CHECK(store.add("hello-4", now + 40, now + 25));
  CHECK(store.size() == 2);  // hello-1 (until +30) and hello-4
  CHECK_FALSE(store.add(std::string("hello-1"), now + 60, now + 29));
}
