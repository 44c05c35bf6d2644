// The JSON API beside RFC 8484 (application/dns-json), as Google
// (dns.google/resolve) and Cloudflare (cloudflare-dns.com/dns-query with
// ?name=) serve it: a GET with query parameters becomes an ordinary DNS
// query for the resolver, and the wire answer is rendered as JSON.
//
// Parameters (unknown ones are ignored, as both services do):
//   name   the domain name, 1..253 characters, percent-encoding decoded (required)
//   type   a type mnemonic (any case, "TYPE65") or number 1..65535; default A
//   cd     1/true: checking disabled (CD bit)
//   do     1/true: DNSSEC records wanted (EDNS DO bit)
//   ct     application/dns-message: answer in wire format instead of JSON
//   edns_client_subnet  "ADDRESS[/PREFIX]" (IPv4 or IPv6, %-escapes decoded;
//          no prefix: the whole address; bits past the prefix are cleared):
//          sent as the query's ECS option (RFC 7871), which the pipeline
//          treats as any client's own option (honoured from trusted
//          clients, or a prefix of 0, "do not reveal", from anyone)
//   random_padding: accepted and ignored
//
// The answer, in Google's layout:
//   {"Status":0,"TC":false,"RD":true,"RA":true,"AD":true,"CD":false,
//    "Question":[{"name":"example.com.","type":1}],
//    "Answer":[{"name":"example.com.","type":1,"TTL":300,"data":"192.0.2.1"}],
//    "Authority":[...],"Additional":[...],"Comment":["EDE(6): DNSSEC Bogus"]}
// (sections only when not empty; Comment lists Extended DNS Errors;
// "edns_client_subnet":"ADDRESS/SCOPE" when the answer echoes an ECS option,
// as Google shows it.)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/edns.h"

namespace sextant::transports {

inline constexpr std::string_view kDnsJsonType = "application/dns-json";

struct DohJsonQuery {
  unsigned status = 200;        // 200, or 400 with `reason`
  std::string_view reason;
  std::vector<uint8_t> query;   // the DNS query to resolve (ID 0, RD=1, EDNS)
  bool wire_answer = false;     // ct=application/dns-message
};

// Reads the parameters of `path` (the request target, "/resolve?name=...").
DohJsonQuery parse_json_query(std::string_view path);

// The edns_client_subnet value (decoded): "192.0.2.1", "198.51.100.0/24",
// "2001:db8::/56", "0.0.0.0/0". False when it is not an address with an
// optional prefix length that fits its family.
bool parse_client_subnet_parameter(std::string_view text, wire::ClientSubnetOption& out);

// The JSON text for a DNS answer; nullopt when `answer` does not parse.
std::optional<std::string> dns_json_from_answer(std::span<const uint8_t> answer);

// %XX decoding of a query-string value; nullopt on a malformed escape.
// '+' stays '+' (it is not a space in a domain name).
std::optional<std::string> percent_decode(std::string_view text);

// Appends `text` as a JSON string literal (quotes included) to `out`.
// Octets outside printable ASCII are written as \u00XX.
void append_json_string(std::string& out, std::string_view text);

}  // namespace sextant::transports
