// Reads one authoritative server's response to one question and says what
// it means for the walk: an answer (possibly after a CNAME/DNAME chain), a
// negative answer, a referral, or a useless reply — keeping only what the
// server's bailiwick lets it say (see bailiwick.h).
//
// The caller has already checked that the response matches the query (ID,
// question, source address); the classifier judges content only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wire/message.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::resolver {

enum class ResponseKind : uint8_t {
  answer,        // `answers` holds the data for `final_name` (after `chain`)
  chase,         // `chain` ends at a name this server cannot answer for: restart there
  nxdomain,      // `final_name` does not exist (`soa` if the server sent one)
  nodata,        // `final_name` exists, no data of the type (`soa` if sent)
  referral,      // delegation to `referral_zone` with `referral_ns` and `glue`
  lame,          // not an authority for the name: upward/sideways referral, empty non-AA
  server_error,  // REFUSED, SERVFAIL, FORMERR, NOTIMP, ... (`rcode`)
  cname_loop,    // the chain inside the response comes back to a name
  dname_overflow,  // DNAME substitution made a name longer than 255 octets (YXDOMAIN)
};
const char* to_string(ResponseKind k) noexcept;

struct ClassifiedResponse {
  ResponseKind kind = ResponseKind::lame;
  wire::Rcode rcode = wire::Rcode::NOERROR;
  // CNAME and DNAME links in order; a DNAME is followed by the CNAME the
  // walker synthesised from it (RFC 6672 §3.4), never the server's copy.
  std::vector<wire::RRset> chain;
  wire::Name final_name;
  std::vector<wire::RRset> answers;
  std::optional<wire::RRset> soa;
  wire::Name referral_zone;
  std::optional<wire::RRset> referral_ns;
  std::vector<wire::RRset> glue;  // A/AAAA sets of NS names, in bailiwick only
  // DNSSEC evidence from the authority section (in bailiwick, RRSIGs in
  // `signatures`): NSEC/NSEC3 sets (denial and wildcard proofs, the no-DS
  // proof of a referral) and, for a referral, the DS set of referral_zone.
  std::vector<wire::RRset> denial;
  std::optional<wire::RRset> referral_ds;
  std::string reason;             // for lame/server_error, for logs and EDE text
  // The zone's own NS set as its server states it, in an authoritative
  // reply (the answer to "ZONE NS", or the NS set beside an answer or a
  // denial), and the addresses of those names that the additional section
  // gives within the zone: the child's view of its servers, which the walker
  // adds to the parent's (DelegationCache::add_child_view).
  std::optional<wire::RRset> zone_ns;
  std::vector<wire::RRset> zone_ns_addresses;
};

struct ClassifyRequest {
  const wire::Message* response = nullptr;
  wire::Name zone;        // the zone cut whose server was asked (the bailiwick)
  wire::Name asked_name;  // the name in the question sent (maybe minimised)
  wire::RRType asked_type = wire::RRType::A;
  uint32_t max_chain_links = 12;
  // The server asked is a recursive upstream (a forward zone's): its answers
  // never carry AA, and it may pass on a negative answer without the SOA it
  // got none of. An empty NOERROR from it is NODATA, not a lame reply.
  bool from_recursive = false;
};

ClassifiedResponse classify_response(const ClassifyRequest& request);

// Groups records into RRsets (same owner, type, class), attaching each
// RRSIG to the set it covers. Records of class other than IN are dropped.
std::vector<wire::RRset> group_rrsets(const std::vector<wire::ResourceRecord>& records);

// The name in NS, CNAME, DNAME (or PTR) rdata; nullopt if malformed.
std::optional<wire::Name> rdata_target_name(const wire::Rdata& rdata);
// The MINIMUM field of SOA rdata; nullopt if malformed.
std::optional<uint32_t> soa_minimum(const wire::Rdata& rdata);
// RRSIG's "type covered"; nullopt if too short.
std::optional<wire::RRType> rrsig_type_covered(const wire::Rdata& rdata);

}  // namespace sextant::resolver
