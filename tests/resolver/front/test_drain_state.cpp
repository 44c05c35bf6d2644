// Which queries are a load balancer's health checks, and that they fail only
// while draining.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "resolver/front/drain_state.h"

using namespace sextant::resolver;
using sextant::transports::Request;
using sextant::wire::Name;

TEST_CASE("drain: health checks fail only while draining", "[drain]") {
  DrainState drain({Name::from_text("a.root-servers.net.")});
  sockaddr_in proxy{};
  proxy.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.62", &proxy.sin_addr);
  const Name check = Name::from_text("A.Root-Servers.NET.");  // case does not matter
  const Name other = Name::from_text("www.example.com.");

  Request direct;
  Request local;
  local.proxy = reinterpret_cast<const sockaddr*>(&proxy);
  local.proxy_local = true;
  Request proxied;  // a client's query through the proxy
  proxied.proxy = reinterpret_cast<const sockaddr*>(&proxy);

  CHECK(drain.is_health_check(direct, check));
  CHECK_FALSE(drain.is_health_check(direct, other));
  CHECK(drain.is_health_check(local, other));      // LOCAL header: whatever the name
  CHECK_FALSE(drain.is_health_check(proxied, check));  // a client's, even for that name

  CHECK_FALSE(drain.must_fail(direct, check));
  CHECK_FALSE(drain.must_fail(local, other));
  CHECK(drain.health_checks_failed() == 0);

  drain.start();
  CHECK(drain.draining());
  CHECK(drain.must_fail(direct, check));
  CHECK(drain.must_fail(local, other));
  CHECK_FALSE(drain.must_fail(direct, other));
  CHECK_FALSE(drain.must_fail(proxied, check));
  CHECK(drain.health_checks_failed() == 2);

  DrainState unnamed;  // no names configured: only LOCAL headers mark checks
  unnamed.start();
  CHECK_FALSE(unnamed.must_fail(direct, check));
  CHECK(unnamed.must_fail(local, check));
}
