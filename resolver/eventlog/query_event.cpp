#include "resolver/eventlog/query_event.h"

#include <ctime>

#include <fmt/format.h>

#include "wire/packet_scan.h"
#include "wire/types.h"

namespace sextant::resolver::eventlog {

const char* to_string(CacheStatus s) noexcept {
  switch (s) {
    case CacheStatus::none: return "none";
    case CacheStatus::hit: return "hit";
    case CacheStatus::miss: return "miss";
    case CacheStatus::stale: return "stale";
    case CacheStatus::prefetch: return "prefetch";
  }
  return "?";
}

const char* to_string(DnssecStatus s) noexcept {
  switch (s) {
    case DnssecStatus::unchecked: return "unchecked";
    case DnssecStatus::secure: return "secure";
    case DnssecStatus::insecure: return "insecure";
    case DnssecStatus::bogus: return "bogus";
    case DnssecStatus::indeterminate: return "indeterminate";
  }
  return "?";
}

const char* to_string(EventReason r) noexcept {
  switch (r) {
    case EventReason::answered: return "answered";
    case EventReason::malformed: return "malformed";
    case EventReason::dropped_by_acl: return "dropped-by-acl";
    case EventReason::dropped_by_policy: return "dropped-by-policy";
    case EventReason::dropped_over_limit: return "dropped-over-limit";
    case EventReason::unanswered: return "unanswered";
  }
  return "?";
}

void PolicyNote::set(const policy::PolicyMatch& m) noexcept {
  kind = m.kind;
  action = m.action;
  trigger = m.trigger;
  source_size = static_cast<uint8_t>(std::min(m.source.size(), sizeof source));
  if (source_size) std::memcpy(source, m.source.data(), source_size);
  rule_size = 0;
  if (m.has_rule_name) {
    auto w = m.rule_name.wire();
    std::memcpy(rule, w.data(), w.size());
    rule_size = static_cast<uint8_t>(w.size());
  }
}

void PolicyNote::set_view(std::string_view v) noexcept {
  view_size = static_cast<uint8_t>(std::min(v.size(), sizeof view));
  if (view_size) std::memcpy(view, v.data(), view_size);
}

std::string PolicyNote::action_text() const {
  switch (kind) {
    case policy::PolicyKind::none: return {};
    case policy::PolicyKind::blocked: return fmt::format("blocked:{}", source_text());
    case policy::PolicyKind::rpz:
      return fmt::format("rpz:{}:{}", source_text(), policy::to_string(action));
    default: return policy::to_string(kind);
  }
}

void QueryEvent::read_answer(std::span<const uint8_t> answer) noexcept {
  if (answer.size() < 12) return;
  rcode = static_cast<int16_t>(answer[3] & 0x0F);
  ede_count = 0;
  // The OPT record: its extended rcode bits and EDE options.
  wire::for_each_scanned_record(answer, [&](const wire::ScannedRecord& r) {
    if (r.type != wire::RRType::OPT) return true;
    const size_t ttl = r.ttl_offset;
    rcode = static_cast<int16_t>(rcode | (answer[ttl] << 4));
    size_t p = r.rdata_offset;
    const size_t end = r.rdata_offset + r.rdata_length;
    while (p + 4 <= end) {
      uint16_t code = static_cast<uint16_t>((answer[p] << 8) | answer[p + 1]);
      uint16_t len = static_cast<uint16_t>((answer[p + 2] << 8) | answer[p + 3]);
      if (p + 4 + len > end) break;
      if (code == static_cast<uint16_t>(wire::EdnsOptionCode::ExtendedError) && len >= 2 && ede_count < 4)
        ede[ede_count++] = static_cast<uint16_t>((answer[p + 4] << 8) | answer[p + 5]);
      p += 4u + len;
    }
    return false;
  });
}

namespace {

// JSON string escaping (names in presentation form may carry '\' and '"').
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  out += '"';
}

std::string name_text(const uint8_t* wire, size_t size) {
  try {
    return wire::Name::from_wire({wire, size}).to_text();
  } catch (...) {
    return "?";
  }
}

}  // namespace

std::string to_json(const QueryEvent& e) {
  std::string out;
  out.reserve(256);
  std::tm tm{};
  time_t t = static_cast<time_t>(e.time_sec);
  gmtime_r(&t, &tm);
  out += fmt::format("{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z\"", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, e.time_nsec / 1000);
  out += ",\"client\":";
  append_json_string(out, e.client.to_text());
  out += fmt::format(",\"port\":{},\"transport\":\"{}\"", e.client.port, transports::to_string(e.transport));
  if (e.reason != EventReason::answered) {
    out += fmt::format(",\"reason\":\"{}\"", to_string(e.reason));
  }
  if (e.qname_size > 0) {
    out += ",\"qname\":";
    append_json_string(out, name_text(e.qname, e.qname_size));
    out += ",\"qtype\":";
    append_json_string(out, wire::to_string(static_cast<wire::RRType>(e.qtype)));
  }
  if (e.rcode >= 0) {
    out += ",\"rcode\":";
    append_json_string(out, wire::to_string(static_cast<wire::Rcode>(e.rcode)));
  } else {
    out += ",\"rcode\":null";
  }
  out += ",\"ede\":[";
  for (uint8_t i = 0; i < e.ede_count; ++i) out += fmt::format("{}{}", i ? "," : "", e.ede[i]);
  out += fmt::format("],\"cache\":\"{}\",\"latency_us\":{},\"dnssec\":\"{}\"", to_string(e.cache), e.latency_us,
                     to_string(e.dnssec));
  std::string action = e.policy.action_text();
  out += ",\"policy\":";
  if (action.empty()) out += "null";
  else append_json_string(out, action);
  if (e.policy.rule_size > 0) {
    out += ",\"rule\":";
    append_json_string(out, name_text(e.policy.rule, e.policy.rule_size));
  }
  if (e.policy.view_size > 0) {
    out += ",\"view\":";
    append_json_string(out, e.policy.view_text());
  }
  out += '}';
  return out;
}

}  // namespace sextant::resolver::eventlog
