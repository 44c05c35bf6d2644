// One event of the per-query event log: everything a JSON line says about a
// client query, in a fixed-size record a worker fills without allocating
// and hands to the writer thread by copy.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "resolver/policy/address_match.h"
#include "resolver/policy/policy_answer.h"
#include "transports/query_handler.h"
#include "wire/name.h"

namespace sextant::resolver::eventlog {

enum class CacheStatus : uint8_t { none, hit, miss, stale, prefetch };
const char* to_string(CacheStatus s) noexcept;

// The DNSSEC outcome, as the walker reports it (ValidationState's order).
enum class DnssecStatus : uint8_t { unchecked, secure, insecure, bogus, indeterminate };
const char* to_string(DnssecStatus s) noexcept;

// Why an event has no answer.
enum class EventReason : uint8_t {
  answered,
  malformed,
  dropped_by_acl,
  dropped_by_policy,
  dropped_over_limit,  // resolver.max-queries-per-zone/-per-server with over-limit: drop
  unanswered
};
const char* to_string(EventReason r) noexcept;

// What policy said, copied out of the running policy (which a reload may
// replace before the event is written). Every query's pipeline state holds
// one, so the arrays are left uninitialised: only their first *_size octets
// are ever read.
struct PolicyNote {
  policy::PolicyKind kind = policy::PolicyKind::none;
  policy::RpzAction action = policy::RpzAction::none;
  policy::RpzTrigger trigger = policy::RpzTrigger::none;
  uint8_t source_size = 0;
  uint8_t rule_size = 0;
  uint8_t view_size = 0;
  char source[64];
  uint8_t rule[wire::Name::kMaxWireSize];
  char view[32];

  void set(const policy::PolicyMatch& m) noexcept;
  void set_view(std::string_view v) noexcept;
  std::string_view source_text() const noexcept { return {source, source_size}; }
  std::string_view view_text() const noexcept { return {view, view_size}; }
  // "allowed", "refused-by-allowlist", "blocked:LIST", "rpz:ZONE:ACTION",
  // "local-data", "dns64"; empty when nothing applied.
  std::string action_text() const;
};

struct QueryEvent {
  uint64_t time_sec = 0;  // wall clock when the query arrived
  uint32_t time_nsec = 0;
  policy::Address client;
  transports::Transport transport = transports::Transport::udp;
  uint8_t qname[wire::Name::kMaxWireSize] = {};
  uint8_t qname_size = 0;  // 0: no question (malformed)
  uint16_t qtype = 0;
  int16_t rcode = -1;      // -1: no answer
  uint16_t ede[4] = {};
  uint8_t ede_count = 0;
  CacheStatus cache = CacheStatus::none;
  DnssecStatus dnssec = DnssecStatus::unchecked;
  EventReason reason = EventReason::answered;
  uint32_t latency_us = 0;
  PolicyNote policy;

  void set_qname(const wire::Name& name) noexcept {
    auto w = name.wire();
    std::memcpy(qname, w.data(), w.size());
    qname_size = static_cast<uint8_t>(w.size());
  }
  // The answer's rcode and EDE codes, read from its wire form.
  void read_answer(std::span<const uint8_t> answer) noexcept;
};

// One JSON object, without the newline.
std::string to_json(const QueryEvent& e);

}  // namespace sextant::resolver::eventlog
