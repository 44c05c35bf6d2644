// What the pipeline reports about each answer: the dnstap CLIENT_RESPONSE
// frame (with dnstap's Policy message when a policy applied) and the line
// of the per-query event log.
#include <chrono>

#include "resolver/front/query_pipeline.h"

namespace sextant::resolver {

namespace {

int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// dnstap's Policy.Action numbers.
uint8_t dnstap_action(policy::RpzAction a) noexcept {
  switch (a) {
    case policy::RpzAction::nxdomain: return 1;
    case policy::RpzAction::nodata: return 2;
    case policy::RpzAction::passthru: return 3;
    case policy::RpzAction::drop: return 4;
    case policy::RpzAction::tcp_only: return 5;
    case policy::RpzAction::local_data: return 6;
    case policy::RpzAction::none:
    case policy::RpzAction::refuse: break;
  }
  return 0;
}

const char* dnstap_type(policy::PolicyKind k) noexcept {
  switch (k) {
    case policy::PolicyKind::rpz: return "RPZ";
    case policy::PolicyKind::blocked: return "blocklist";
    case policy::PolicyKind::allowed:
    case policy::PolicyKind::refused_by_allowlist: return "allowlist";
    case policy::PolicyKind::local_data: return "local-data";
    case policy::PolicyKind::dns64: return "DNS64";
    case policy::PolicyKind::none: break;
  }
  return "";
}

}  // namespace

void QueryPipeline::dnstap_response(const Client& c, std::span<const uint8_t> answer) {
  const Client::Origin& o = *c.origin;
  auto e = transports::DnstapEvent{};
  e.type = transports::DnstapMessageType::client_response;
  e.transport = o.transport;
  e.query_address = o.peer.empty() ? nullptr : o.peer.get();
  e.response_address = o.local.empty() ? nullptr : o.local.get();
  e.message = answer;
  e.time = transports::DnstapTime::now();
  e.query_time = o.received;
  e.worker = o.worker;
  transports::DnstapPolicy p;
  const eventlog::PolicyNote& n = c.policy_note;
  if (n.kind != policy::PolicyKind::none) {
    p.type = dnstap_type(n.kind);
    p.rule = {n.rule, n.rule_size};
    p.action = dnstap_action(n.action);
    switch (n.trigger) {
      case policy::RpzTrigger::qname: p.match = 1; break;
      case policy::RpzTrigger::client_ip: p.match = 2; break;
      case policy::RpzTrigger::response_ip: p.match = 3; break;
      case policy::RpzTrigger::none: p.match = n.kind == policy::PolicyKind::blocked ? 1 : 0; break;
    }
    if (p.match == 1) p.value = c.qname.wire();
    if (p.match == 2) p.value = {c.client_address.bytes, c.client_address.size()};
    e.policy = &p;
  }
  settings_.dnstap->log(e);
}

void QueryPipeline::log_event(const Client& c, std::span<const uint8_t> answer, eventlog::EventReason reason) {
  eventlog::QueryEvent e;
  e.time_sec = c.received_wall.sec;
  e.time_nsec = c.received_wall.nsec;
  e.client = c.client_address;
  e.transport = c.transport;
  e.set_qname(c.qname);
  e.qtype = static_cast<uint16_t>(c.qtype);
  e.reason = reason;
  if (!answer.empty()) e.read_answer(answer);
  e.cache = c.cache_status;
  e.dnssec = c.dnssec_status;
  int64_t elapsed = steady_ns() - c.received_ns;
  e.latency_us = static_cast<uint32_t>(std::max<int64_t>(0, elapsed / 1000));
  e.policy = c.policy_note;
  settings_.event_log->log(c.worker, e);
}

void QueryPipeline::log_dropped_packet(const transports::Request& request, eventlog::EventReason reason,
                                       std::span<const uint8_t> answer) {
  eventlog::QueryEvent e;
  transports::DnstapTime now = transports::DnstapTime::now();
  e.time_sec = now.sec;
  e.time_nsec = now.nsec;
  e.client = policy::Address::from_sockaddr(request.peer);
  e.transport = request.transport;
  e.reason = reason;
  // The question, when the packet has a readable one.
  wire::ParsedQuery q;
  wire::parse_query(request.query, q);
  if (q.question_end != 0) {
    e.set_qname(q.qname);
    e.qtype = static_cast<uint16_t>(q.qtype);
  }
  if (!answer.empty()) e.read_answer(answer);
  settings_.event_log->log(request.worker, e);
}

}  // namespace sextant::resolver
