// server.user: the account lookup, and the switch being a no-op for the
// current user (the real switch is irreversible, so it is tested end to end
// in tests/integration/privileges_test.py).
#include <catch2/catch.hpp>

#include <pwd.h>
#include <unistd.h>

#include "resolver/daemon/privileges.h"

using namespace sextant::resolver;

TEST_CASE("privileges: users are looked up by name; a missing one is a clear error", "[privileges]") {
  TargetUser root = lookup_user("root");
  CHECK(root.uid == 0);
  CHECK(root.gid == 0);
  CHECK_THROWS_WITH(lookup_user("no-such-user-sextant"), Catch::Contains("no user named 'no-such-user-sextant'"));
}

TEST_CASE("privileges: becoming the user one already is changes nothing", "[privileges]") {
  const passwd* me = getpwuid(getuid());
  REQUIRE(me != nullptr);
  if (getgid() != me->pw_gid) return;  // primary group differs: the call would try to switch
  TargetUser self = lookup_user(me->pw_name);
  CHECK_NOTHROW(drop_privileges(self));
  CHECK(getuid() == self.uid);
}
