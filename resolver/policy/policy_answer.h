// What a policy decided for one client question, in a form the front
// pipeline renders without allocating: pointers to RRsets the policy holds
// (their owner is replaced by the question name when they come from a
// wildcard, a redirect zone or an RPZ trigger), and where the decision came
// from, for the event log, dnstap and metrics.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::resolver::policy {

// What the pipeline does with the question.
enum class Disposition : uint8_t {
  pass,      // no policy applies: cache, then the walker
  answer,    // answer with `rcode` and the records below
  refuse,    // REFUSED
  drop,      // no answer at all
  tcp_only,  // over UDP: an empty TC=1 answer; over streams: pass
};

// Which part of the policy decided (the event log's "policy" field).
enum class PolicyKind : uint8_t {
  none,                  // nothing matched
  allowed,               // allowlist mode, the name is listed
  refused_by_allowlist,  // allowlist mode, the name is not listed
  blocked,               // a blocklist
  rpz,                   // a response policy zone
  local_data,            // local data or a local zone
  dns64,                 // AAAA synthesised (RFC 6147)
};
const char* to_string(PolicyKind k) noexcept;

// RPZ actions (draft-vixie-dnsop-dns-rpz §3), also used for blocklists.
// `refuse` is not an RPZ action: blocklists and the allowlist may refuse.
enum class RpzAction : uint8_t { none, nxdomain, nodata, passthru, drop, tcp_only, local_data, refuse };
const char* to_string(RpzAction a) noexcept;

// RPZ trigger kinds (dnstap Policy.Match numbers follow these).
enum class RpzTrigger : uint8_t { none, qname, client_ip, response_ip };

struct PolicyMatch {
  PolicyKind kind = PolicyKind::none;
  RpzAction action = RpzAction::none;
  RpzTrigger trigger = RpzTrigger::none;
  // The list or zone that decided (points into the running policy: copy it
  // before the policy may be replaced).
  std::string_view source;
  // The name (or, for IP triggers, the prefix as text) that matched.
  wire::Name rule_name;
  bool has_rule_name = false;
  // Where the hit is counted (PolicyCounters); kNoSlot: not counted.
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t counter_slot = kNoSlot;
};

struct PolicyAnswer {
  static constexpr size_t kMaxSets = 16;

  Disposition disposition = Disposition::pass;
  wire::Rcode rcode = wire::Rcode::NOERROR;
  bool authoritative = false;  // AA: local zones are ours
  std::array<const wire::RRset*, kMaxSets> answer{};
  size_t answer_count = 0;
  bool owner_is_qname = false;  // render answer sets with the question name as owner
  const wire::RRset* soa = nullptr;  // authority section of a negative answer
  // A CNAME whose target the pipeline resolves and appends (local data or
  // RPZ local data pointing outside; RPZ "CNAME *.garden" targets are
  // computed from the question name).
  std::optional<wire::Name> chase;
  // The CNAME to `chase` is not among `answer` (its target was computed):
  // the renderer writes "qname CNAME chase" with this TTL.
  bool synthesised_cname = false;
  uint32_t cname_ttl = 0;
  std::optional<wire::EdeCode> ede;
  // How long a rewritten answer without records may be cached (a walker
  // answer rewritten by a view's policy is stored under the view's tag).
  uint32_t negative_ttl = 0;
  PolicyMatch match;

  void add(const wire::RRset* set) noexcept {
    if (answer_count < kMaxSets) answer[answer_count++] = set;
  }
};

}  // namespace sextant::resolver::policy
