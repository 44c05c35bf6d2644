// Between the forward table (resolver/forward/) and the transports: the
// connection settings of a configured upstream as UpstreamPool wants them,
// and the check, at start, reload and --check-config, that every encrypted
// upstream's CA bundle really loads (file:line when it does not).
#pragma once

#include <string>

#include "resolver/config/config.h"
#include "resolver/forward/forward_table.h"
#include "transports/upstream_endpoint.h"

namespace sextant::resolver {

transports::UpstreamEndpoint endpoint_of(const UpstreamProfile& profile);

// Loads each encrypted upstream's CA bundle the way the connections will;
// throws ConfigError "PATH:LINE: forward-zones: ..." for the first that fails.
void check_forward_upstreams(const Config& config, const std::string& path);

}  // namespace sextant::resolver
