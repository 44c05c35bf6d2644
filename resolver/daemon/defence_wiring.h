// Turns the defences' settings (resolver/config/defence_config.h) into the
// objects the pipeline and the walkers use: the shared rate limiter, the
// cookie secrets (random per process unless configured), and the metrics
// rows they feed. Kept out of daemon.cpp so that file only plugs them in.
#pragma once

#include "resolver/config/config.h"
#include "resolver/daemon/metrics_report.h"
#include "resolver/front/client_subnet.h"
#include "resolver/front/query_defences.h"
#include "resolver/front/rebinding_filter.h"
#include "resolver/walk/resolver_limits.h"

namespace sextant::resolver {

// 16 octets from the system's CSPRNG (throws if it has none).
wire::SipKey random_sip_key();

DefenceSettings defence_settings_from(const Config& c, DefenceStats* stats);

// Rebinding protection, shared by every worker's pipeline.
std::shared_ptr<const RebindingFilter> rebinding_filter_from(const Config& c);

// ECS on the pipeline's side (client_subnet.h).
EcsSettings ecs_settings_from(const Config& c);

// The walker's share: client cookies toward authoritative servers, and
// where the client subnet goes (ECS).
void apply_walker_defences(const Config& c, WalkerOptions& o);

// Adds the defences' counters to a metrics report.
void report_defences(MetricsReport& r, const DefenceStats& s);

}  // namespace sextant::resolver
