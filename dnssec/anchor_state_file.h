// The RFC 5011 state file (dnssec.auto-trust-anchor-file): the managed trust
// points in the layout of Unbound's auto-trust-anchor-file, so a file
// Unbound maintains can be used as is, and a plain DS/DNSKEY anchor file
// (root.key, root.ds) works as a first state.
//
//   ; autotrust trust anchor file
//   ;;id: . 1
//   ;;last_queried: 1733580000 ;;2024-12-07T14:00:00Z
//   ;;last_success: 1733580000 ;;2024-12-07T14:00:00Z
//   ;;next_probe_time: 1733623200 ;;2024-12-08T02:00:00Z
//   ;;query_failed: 0
//   ;;query_interval: 43200
//   ;;retry_time: 8640
//   .	172800	IN	DNSKEY	257 3 8 AwEAA... ;{id = 20326 (ksk), size = 2048b} ;;state=2 [  VALID  ] ;;count=0 ;;lastchange=1733580000 ;;2024-12-07T14:00:00Z
//
// Each ";;id: ZONE" starts a trust point; records may also name their
// trust point by owner alone. A DNSKEY without ";;state=" is Valid (an
// operator's anchor); DS records are seeds (managed_anchor.h). Other ";"
// comments are ignored. Only zone (SEP) DNSKEYs of class IN are allowed.
//
// Pure text in, text out: the daemon reads and writes the file.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dnssec/managed_anchor.h"

namespace sextant::dnssec {

// Errors throw wire::TextError "SOURCE:LINE: what is wrong".
std::vector<ManagedAnchor> read_anchor_state(std::string_view text, std::string_view source_name);

std::string write_anchor_state(std::span<const ManagedAnchor> anchors);

}  // namespace sextant::dnssec
