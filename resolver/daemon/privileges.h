// Giving up root once every privileged socket is open (server.user), as
// Unbound's `username:` and Knot Resolver's service user do: a resolver
// parses untrusted packets all day and should not do it as root.
#pragma once

#include <sys/types.h>

#include <string>

namespace sextant::resolver {

struct TargetUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks the account up (getpwnam); throws std::runtime_error naming it if
// there is no such user.
TargetUser lookup_user(const std::string& name);

// Switches the whole process (every thread) to the user's uid, primary gid
// and supplementary groups, and checks that root cannot be regained. A
// process already running as that user is left alone. Throws
// std::runtime_error with the reason on failure (not root, EPERM, ...).
void drop_privileges(const TargetUser& user);

}  // namespace sextant::resolver
