#include "resolver/daemon/privileges.h"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace sextant::resolver {

TargetUser lookup_user(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr)
    throw std::runtime_error(fmt::format("server.user: no user named '{}'{}", name,
                                         rc ? fmt::format(" ({})", std::strerror(rc)) : ""));
  return TargetUser{name, found->pw_uid, found->pw_gid};
}

void drop_privileges(const TargetUser& user) {
  if (getuid() == user.uid && geteuid() == user.uid && getgid() == user.gid) return;
  if (geteuid() != 0)
    throw std::runtime_error(fmt::format("server.user: cannot become '{}': not started as root", user.name));
  // glibc applies these to every thread of the process (POSIX semantics).
  if (initgroups(user.name.c_str(), user.gid) != 0)
    throw std::runtime_error(fmt::format("server.user: initgroups({}): {}", user.name, std::strerror(errno)));
  if (setresgid(user.gid, user.gid, user.gid) != 0)
    throw std::runtime_error(fmt::format("server.user: setresgid({}): {}", user.gid, std::strerror(errno)));
  if (setresuid(user.uid, user.uid, user.uid) != 0)
    throw std::runtime_error(fmt::format("server.user: setresuid({}): {}", user.uid, std::strerror(errno)));
  // Paranoia that costs nothing: root must be out of reach now.
  if (user.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
    throw std::runtime_error("server.user: root could be regained after dropping privileges");
}

}  // namespace sextant::resolver
