// The plan of one client question: the question's own query plus the
// sub-queries it needs (root priming is shared walker-wide; glueless NS
// addresses and DNSSEC DS/DNSKEY fetches here), each an
// explicit state machine with a link to the query waiting for it
// (Knot Resolver's kr_rplan, Unbound's iterator states).
//
// These are plain data; walker.cpp moves them between states.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/walk/qname_minimisation.h"
#include "resolver/walk/resolution_result.h"
#include "resolver/walk/server_address.h"
#include "resolver/walk/server_selection.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/upstream_network.h"
#include "resolver/walk/validation_context.h"
#include "resolver/walk/walk_trace.h"
#include "wire/message.h"
#include "wire/name.h"
#include "wire/record.h"

namespace sextant::resolver {

// One NS name of a zone cut and what is known of its addresses.
struct NameServerEntry {
  enum class Lookup : uint8_t {
    not_started,  // no address yet; may be resolved by a sub-query
    running,      // sub-queries are resolving it
    done,         // addresses known (from glue, hints or a sub-query)
    failed,       // cannot be resolved (no glue for an in-zone name, cycle, failure)
  };
  wire::Name name;
  std::vector<ServerAddress> addresses;
  Lookup lookup = Lookup::not_started;
  uint8_t lookups_running = 0;  // A and AAAA sub-queries still running
  // How its addresses are asked: udp (TCP after TC) for name servers; a
  // configured forward upstream may use another transport.
  UpstreamProtocol protocol = UpstreamProtocol::udp;
};

// Where one query stands in the tree: the zone whose servers it asks.
struct ZoneCut {
  wire::Name zone;
  std::vector<NameServerEntry> servers;
  // Per cut and per query: how often each address was asked, which ones
  // proved lame for this cut, how many packets went out.
  std::vector<ServerCandidate> tried;
  std::vector<ServerAddress> excluded;
  uint32_t sends = 0;
  uint32_t glueless_started = 0;
  // A forward zone's upstreams (configured_zones.h): RD=1, answers final.
  bool forward = false;
  bool forward_first = false;
  // Private and loopback addresses may be asked (configured servers, stub zones).
  bool private_ok = false;
};

// One packet in flight.
struct Attempt {
  uint64_t id = 0;
  ServerAddress server;
  UpstreamProtocol protocol = UpstreamProtocol::udp;
  wire::Name asked_name; // the name as the walker means it (maybe minimised)
  wire::Name sent_name;  // the same with its 0x20 case pattern
  wire::RRType sent_type = wire::RRType::A;
  uint16_t message_id = 0;
  bool edns = true;
  bool minimised = false;
  TimerService::TimePoint sent_at{};
  UpstreamNetwork::RequestId network_id = 0;
  TimerService::TimerId rto_timer = 0;
  bool overdue = false;  // its retransmission timer fired; still listening
  // DNS cookies (walker_cookies.cpp): the client cookie sent, if any, and
  // whether this is the retry after a BADCOOKIE.
  std::array<uint8_t, 8> client_cookie{};
  bool cookie_sent = false;
  bool cookie_retry = false;
  // ECS (walker_ecs.cpp): the client subnet went with this query, and the
  // scope the reply gave it (0: for everyone).
  bool ecs_sent = false;
  uint8_t ecs_scope = 0;
  bool ecs_withheld = false;  // an ECS zone asked for a client without a subnet
  // A forward upstream's stream (TCP, TLS, HTTP/2, QUIC) is reliable: its
  // retransmission timer only asks another upstream; the upstream itself is
  // charged a timeout only when the exchange's hard timeout passes.
  bool timeout_deferred = false;
  TimerService::TimePoint rto_due{};  // when its retransmission timer fires
  // Counted in the walker's OutstandingQueries: under its server until it
  // ends or is cancelled, under `zone` (the cut it was sent for) until then
  // or until it is overdue.
  bool counted = false;
  bool zone_counted = false;
  wire::Name zone;
  // Identical questions in flight (walker_inflight.cpp): other requests may
  // wait for this packet's reply; a copy handed to one of them says whether
  // the sender already stored the reply in the cache.
  bool leads_exchange = false;
  bool remembered = false;
};

enum class QueryKind : uint8_t {
  client,      // the client's question (index 0 of the plan)
  ns_address,  // A or AAAA of a glueless NS name for the parent's zone cut
  priming,     // ". NS" to the root hints (RFC 8109), in a plan of its own
  // DNSSEC (walker_dnssec.cpp): the DS set of a zone (asked of the parent)
  // and its DNSKEY set, spawned while the client's answer is validated.
  ds,
  dnskey,
};
const char* to_string(QueryKind k) noexcept;

// The states of one query (see walker.cpp, Walker::step).
enum class QueryState : uint8_t {
  init,          // check priming, then start_name
  wait_priming,  // parked until the walker-wide root priming ends
  start_name,    // (re)start at the closest known zone cut for `target`
  send,          // pick a server (or spawn NS address sub-queries) and send
  wait,          // packets and/or sub-queries outstanding; events resume it
  validate,      // the answer is complete: validate it (DNSSEC)
  wait_keys,     // validation waits for DS/DNSKEY sub-queries
  finished,      // `result` is final
};
const char* to_string(QueryState s) noexcept;

// Why servers failed, for the EDE of a SERVFAIL.
struct FailureTally {
  uint32_t timeouts = 0;
  uint32_t network_errors = 0;
  // Our side could not ask (socket limit, shutdown): says nothing about the
  // servers, so it never makes a zone count as unreachable.
  uint32_t local_errors = 0;
  uint32_t server_errors = 0;  // REFUSED, SERVFAIL, NOTIMP, ...
  uint32_t lame = 0;
  uint32_t malformed = 0;
  uint32_t spoofed = 0;        // wrong ID, question or source: dropped
  uint32_t private_skipped = 0;
  uint32_t auth_failures = 0;  // encrypted upstreams whose certificate or pin did not match
  std::string auth_detail;     // the last such failure, for the EDE text
};

struct SubQuery {
  uint32_t index = 0;
  QueryKind kind = QueryKind::client;
  std::optional<uint32_t> parent;  // index of the query waiting for this one
  uint32_t depth = 0;
  wire::Question question;         // as asked (class IN)
  QueryState state = QueryState::init;
  bool reported = false;  // its end was delivered to the parent / the plan

  wire::Name target;  // current name: the question's, or the chain's end
  ZoneCut cut;
  QnameMinimiser qmin;
  std::vector<wire::RRset> chain;     // CNAME/DNAME links followed so far
  std::vector<wire::Name> visited;    // names the chain went through
  uint32_t chain_links = 0;
  uint32_t referrals = 0;
  // forward-first: the upstreams of this forward zone all failed, walk past it.
  std::optional<wire::Name> past_forward;
  // The responses (and cache hits) the result was built from, for DNSSEC
  // validation; recorded only when validation is enabled.
  std::vector<ValidationSegment> segments;

  // The server of the last reply taken (DNSSEC: blamed if its data is bogus).
  std::optional<ServerAddress> last_reply_from;
  std::vector<Attempt> attempts;      // outstanding packets
  uint8_t ecs_scope = 0;              // longest ECS scope of the replies used (walker_ecs.cpp)
  bool ecs_withheld = false;          // a reply was a subnet-less client's default answer
  uint32_t children_running = 0;
  FailureTally tally;
  // A DNSKEY fetch started beside the walk (walker_trust_prefetch.cpp): its
  // parent does not wait for it (not in children_running); validation does,
  // through ValidationContext::fetches, only if it needs the zone's keys.
  bool early = false;
  // An AAAA lookup of a glueless NS name parked until its A lookup ends
  // (walker_subqueries.cpp): the two no longer walk the same zones twice.
  bool after_sibling = false;
  // What the last packet asked (name, type, cut): the same again is a retry.
  uint64_t last_sent_key = 0;
  // Waiting for another request's identical packet (its attempt id), and
  // how many such shared packets failed it (walker_inflight.cpp).
  uint64_t joined_exchange = 0;
  uint8_t shared_failures = 0;

  // For priming: the root cut learned from the answer.
  std::optional<ZoneCut> primed_root;
  uint32_t primed_ttl = 0;

  ResolutionResult result;
};

using ResolveCallback = std::function<void(const ResolutionResult&)>;

struct ResolutionKey {
  wire::Name name;  // compared case-insensitively
  wire::RRType type = wire::RRType::A;
  wire::RRClass qclass = wire::RRClass::IN;
  bool checking_disabled = false;
  bool priming = false;
  // Clients of different subnets may get different answers (ECS).
  std::optional<wire::ClientSubnetOption> subnet{};
  bool operator==(const ResolutionKey&) const = default;
};
struct ResolutionKeyHash {
  size_t operator()(const ResolutionKey& k) const noexcept {
    size_t h = k.name.hash() ^ (size_t{static_cast<uint16_t>(k.type)} << 17) ^
               (size_t{static_cast<uint16_t>(k.qclass)} << 33) ^ (k.checking_disabled ? 0x9e37 : 0) ^
               (k.priming ? 0x7f4a : 0);
    if (k.subnet) {
      for (uint8_t b : k.subnet->address) h = h * 31 + b;
      h ^= size_t{k.subnet->source_prefix} << 40;
    }
    return h;
  }
};

// One client question (or the priming) and everything it spawned.
struct Resolution {
  uint64_t id = 0;
  ResolutionKey key;
  ResolveOptions options;
  std::vector<std::unique_ptr<SubQuery>> queries;  // [0] is the question's own query
  std::vector<ResolveCallback> waiters;            // one per deduplicated client
  uint32_t upstream_queries = 0;
  uint32_t glueless_started = 0;  // NS names looked up, all cuts together (NXNS cap)
  TimerService::TimePoint started{};
  TimerService::TimePoint deadline{};
  TimerService::TimerId deadline_timer = 0;
  bool finished = false;
  // Created when the first response is kept for validation.
  std::unique_ptr<ValidationContext> validation;
  // Where this resolution's steps are told; null when nobody listens.
  std::shared_ptr<WalkTrace> trace;
};

}  // namespace sextant::resolver
