#include "resolver/front/drain_state.h"

#include <algorithm>
#include <utility>

namespace sextant::resolver {

DrainState::DrainState(std::vector<wire::Name> health_check_names) : names_(std::move(health_check_names)) {}

bool DrainState::is_health_check(const transports::Request& request, const wire::Name& qname) const noexcept {
  if (request.proxy_local) return true;
  // Through a proxy, a client's query is never the proxy's own check, even
  // for the check's name: only the LOCAL header marks those.
  if (request.proxy != nullptr) return false;
  return std::any_of(names_.begin(), names_.end(), [&](const wire::Name& n) { return n == qname; });
}

bool DrainState::must_fail(const transports::Request& request, const wire::Name& qname) const noexcept {
  if (!draining() || !is_health_check(request, qname)) return false;
  failed_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace sextant::resolver
