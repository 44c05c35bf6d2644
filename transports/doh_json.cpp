#include "transports/doh_json.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "transports/doh_request.h"
#include "wire/edns.h"
#include "wire/errors.h"
#include "wire/message.h"
#include "wire/rdata.h"

namespace sextant::transports {

namespace {

constexpr size_t kMaxNameText = 254;  // 253 characters, plus a trailing dot

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// "1"/"true" -> true, "0"/"false"/absent -> false, anything else: error.
std::optional<bool> flag_parameter(std::string_view path, std::string_view name) {
  auto value = query_parameter(path, name);
  if (!value || value->empty() || *value == "0" || iequals(*value, "false")) return false;
  if (*value == "1" || iequals(*value, "true")) return true;
  return std::nullopt;
}

DohJsonQuery reject(std::string_view reason) {
  DohJsonQuery q;
  q.status = 400;
  q.reason = reason;
  return q;
}

std::optional<uint16_t> parse_type(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() >= '0' && text.front() <= '9') {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
    return static_cast<uint16_t>(value);
  }
  if (auto type = wire::rrtype_from_text(text)) return static_cast<uint16_t>(*type);
  return std::nullopt;
}

void append_bool(std::string& out, const char* key, bool value) {
  out += fmt::format("\"{}\":{},", key, value ? "true" : "false");
}

void append_records(std::string& out, const char* key, const std::vector<wire::ResourceRecord>& records) {
  if (records.empty()) return;
  out += fmt::format(",\"{}\":[", key);
  bool first = true;
  for (const auto& rr : records) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    append_json_string(out, rr.owner.to_text());
    out += fmt::format(",\"type\":{},\"TTL\":{},\"data\":", static_cast<unsigned>(rr.type),
                       (rr.ttl & 0x80000000u) ? 0u : rr.ttl);
    append_json_string(out, wire::rdata_to_text(rr.type, rr.rdata));
    out += '}';
  }
  out += ']';
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // needs two hex digits
    int high = hex_value(text[i + 1]);
    int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  out += '"';
}

bool parse_client_subnet_parameter(std::string_view text, wire::ClientSubnetOption& out) {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  std::array<uint8_t, 16> bytes{};
  uint16_t family = 0;
  size_t width = 0;
  if (address.size() <= 15 && inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    family = wire::ClientSubnetOption::kFamilyIPv4;
    width = 4;
  } else if (address.size() <= 45 && inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    family = wire::ClientSubnetOption::kFamilyIPv6;
    width = 16;
  } else {
    return false;
  }
  unsigned prefix = static_cast<unsigned>(width * 8);
  if (slash != std::string_view::npos) {
    std::string_view length = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), prefix);
    if (length.empty() || ec != std::errc() || end != length.data() + length.size() || prefix > width * 8)
      return false;
  }
  return wire::ClientSubnetOption::from_address(family, std::span<const uint8_t>(bytes.data(), width),
                                                static_cast<uint8_t>(prefix), 0, out) == wire::WireError::ok;
}

DohJsonQuery parse_json_query(std::string_view path) {
  auto raw_name = query_parameter(path, "name");
  if (!raw_name || raw_name->empty()) return reject("missing name parameter");
  auto name_text = percent_decode(*raw_name);
  if (!name_text) return reject("name parameter has a malformed %-escape");
  if (name_text->empty() || name_text->size() > kMaxNameText) return reject("name parameter must be 1 to 253 characters");

  uint16_t type = 1;
  if (auto raw_type = query_parameter(path, "type"); raw_type && !raw_type->empty()) {
    auto parsed = parse_type(*raw_type);
    if (!parsed) return reject("type parameter is not a record type");
    type = *parsed;
  }
  auto cd = flag_parameter(path, "cd");
  if (!cd) return reject("cd parameter must be 0, 1, false or true");
  auto dnssec_ok = flag_parameter(path, "do");
  if (!dnssec_ok) return reject("do parameter must be 0, 1, false or true");
  std::optional<wire::ClientSubnetOption> subnet;
  if (auto raw = query_parameter(path, "edns_client_subnet"); raw && !raw->empty()) {
    auto decoded = percent_decode(*raw);
    wire::ClientSubnetOption parsed;
    if (!decoded || !parse_client_subnet_parameter(*decoded, parsed))
      return reject("edns_client_subnet parameter must be an IPv4 or IPv6 address with an optional /prefix");
    subnet = parsed;
  }

  wire::Message message;
  try {
    message.questions.push_back({wire::Name::from_text(*name_text), static_cast<wire::RRType>(type), wire::RRClass::IN});
  } catch (const wire::TextError&) {
    return reject("name parameter is not a domain name");
  }
  message.header.set_rd(true);
  message.header.set_cd(*cd);
  wire::Edns edns;
  edns.udp_payload_size = 65535;
  edns.set_dnssec_ok(*dnssec_ok);
  if (subnet) edns.options.push_back(wire::encode(*subnet));
  message.edns = edns;

  DohJsonQuery out;
  if (wire::build_message(message, out.query) != wire::WireError::ok) return reject("name parameter is not a domain name");
  if (auto ct = query_parameter(path, "ct")) {
    auto decoded = percent_decode(*ct);
    out.wire_answer = decoded && is_dns_message_content_type(*decoded);
  }
  return out;
}

std::optional<std::string> dns_json_from_answer(std::span<const uint8_t> answer) {
  wire::Message m;
  if (wire::Message::parse(answer, m) != wire::WireError::ok) return std::nullopt;
  std::string out = fmt::format("{{\"Status\":{},", static_cast<unsigned>(m.rcode()));
  append_bool(out, "TC", m.header.tc());
  append_bool(out, "RD", m.header.rd());
  append_bool(out, "RA", m.header.ra());
  append_bool(out, "AD", m.header.ad());
  append_bool(out, "CD", m.header.cd());
  out += "\"Question\":[";
  bool first = true;
  for (const auto& q : m.questions) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    append_json_string(out, q.name.to_text());
    out += fmt::format(",\"type\":{}}}", static_cast<unsigned>(q.type));
  }
  out += ']';
  append_records(out, "Answer", m.answer);
  append_records(out, "Authority", m.authority);
  append_records(out, "Additional", m.additional);
  if (m.edns) {
    if (const wire::EdnsOption* ecs = m.edns->find(wire::EdnsOptionCode::ClientSubnet)) {
      wire::ClientSubnetOption echoed;
      char text[INET6_ADDRSTRLEN] = {};
      if (wire::decode_client_subnet(ecs->data, echoed) == wire::WireError::ok &&
          inet_ntop(echoed.family == wire::ClientSubnetOption::kFamilyIPv4 ? AF_INET : AF_INET6,
                    echoed.address.data(), text, sizeof text) != nullptr) {
        out += ",\"edns_client_subnet\":";
        append_json_string(out, fmt::format("{}/{}", text, echoed.scope_prefix));
      }
    }
    std::vector<std::string> comments;
    for (const auto& option : m.edns->options) {
      if (option.code != static_cast<uint16_t>(wire::EdnsOptionCode::ExtendedError)) continue;
      wire::ExtendedErrorOption ede;
      if (wire::decode_extended_error(option.data, ede) != wire::WireError::ok) continue;
      std::string text = fmt::format("EDE({}): {}", ede.info_code, wire::to_string(ede.code()));
      if (!ede.extra_text.empty()) text += fmt::format(" ({})", ede.extra_text);
      comments.push_back(std::move(text));
    }
    if (!comments.empty()) {
      out += ",\"Comment\":[";
      for (size_t i = 0; i < comments.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, comments[i]);
      }
      out += ']';
    }
  }
  out += '}';
  return out;
}

}  // namespace sextant::transports
