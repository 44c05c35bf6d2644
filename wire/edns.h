// EDNS(0) (RFC 6891): the OPT pseudo-record's fields and its options.
//
// A parsed message lifts its OPT record into an Edns value. Options are kept
// as raw (code, data) pairs in their original order, so unknown options
// survive a round trip verbatim; the typed structs below decode and encode
// the options Sextant understands. Message parsing checks only the option
// framing (code, length, data inside the rdata); a malformed *known* option
// shows up when its decoder runs, so one bad padding option does not make a
// whole upstream answer unreadable. A server that must FORMERR malformed
// client options calls Edns::validate_known_options().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/errors.h"
#include "wire/types.h"

namespace sextant::wire {

struct EdnsOption {
  uint16_t code = 0;
  std::vector<uint8_t> data;

  bool operator==(const EdnsOption&) const = default;
};

// RFC 7873 DNS Cookie: an 8-octet client cookie, optionally followed by an
// 8..32-octet server cookie.
struct CookieOption {
  static constexpr size_t kClientSize = 8;
  static constexpr size_t kMinServerSize = 8;
  static constexpr size_t kMaxServerSize = 32;

  std::array<uint8_t, kClientSize> client{};
  std::array<uint8_t, kMaxServerSize> server{};
  uint8_t server_size = 0;  // 0 (client cookie only) or 8..32

  std::span<const uint8_t> server_cookie() const noexcept { return {server.data(), server_size}; }
  bool operator==(const CookieOption&) const = default;
};

// RFC 7871 Client Subnet. `address` holds only the octets the source prefix
// covers (ceil(source_prefix / 8)), with the bits past the prefix zero.
struct ClientSubnetOption {
  static constexpr uint16_t kFamilyIPv4 = 1;
  static constexpr uint16_t kFamilyIPv6 = 2;

  uint16_t family = kFamilyIPv4;
  uint8_t source_prefix = 0;
  uint8_t scope_prefix = 0;
  std::array<uint8_t, 16> address{};  // full-width; only the prefix octets are sent

  // Builds the option for a full address (4 or 16 octets), masking it to
  // `source_prefix` bits as RFC 7871 §6 requires. Returns bad_opt if the
  // address width or the prefix does not fit the family.
  static WireError from_address(uint16_t family, std::span<const uint8_t> full_address,
                                uint8_t source_prefix, uint8_t scope_prefix,
                                ClientSubnetOption& out) noexcept;
  bool operator==(const ClientSubnetOption&) const = default;
};

// RFC 7830 Padding: `length` octets (which must be zero when sent; any
// content is accepted when received).
struct PaddingOption {
  uint16_t length = 0;
  bool operator==(const PaddingOption&) const = default;
};

// RFC 7828 edns-tcp-keepalive: empty in queries; a 16-bit timeout in units of
// 100 ms in responses.
struct TcpKeepaliveOption {
  std::optional<uint16_t> timeout;  // in 100 ms units
  bool operator==(const TcpKeepaliveOption&) const = default;
};

// RFC 8914 Extended DNS Error: an info-code and optional UTF-8 extra text
// (not NUL-terminated).
struct ExtendedErrorOption {
  uint16_t info_code = 0;
  std::string extra_text;

  EdeCode code() const noexcept { return static_cast<EdeCode>(info_code); }
  bool operator==(const ExtendedErrorOption&) const = default;
};

// Typed decoders: bad_opt if `data` does not match the option's layout
// (wrong lengths, prefix beyond the family width, non-zero bits past the
// source prefix, extra text that is not UTF-8, ...).
WireError decode_cookie(std::span<const uint8_t> data, CookieOption& out) noexcept;
WireError decode_client_subnet(std::span<const uint8_t> data, ClientSubnetOption& out) noexcept;
WireError decode_padding(std::span<const uint8_t> data, PaddingOption& out) noexcept;
WireError decode_tcp_keepalive(std::span<const uint8_t> data, TcpKeepaliveOption& out) noexcept;
WireError decode_extended_error(std::span<const uint8_t> data, ExtendedErrorOption& out);

// Typed encoders: the complete option with its code. They encode what they
// are given; decoders are where validation happens.
EdnsOption encode(const CookieOption& o);
EdnsOption encode(const ClientSubnetOption& o);
EdnsOption encode(const PaddingOption& o);
EdnsOption encode(const TcpKeepaliveOption& o);
EdnsOption encode(const ExtendedErrorOption& o);

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view text) noexcept;

struct Edns {
  static constexpr uint16_t kDoBit = 0x8000;  // in the 16-bit flags field

  uint16_t udp_payload_size = 1232;  // OPT CLASS; values below 512 are treated as 512 by users
  uint8_t extended_rcode = 0;        // the upper 8 bits of the 12-bit rcode
  uint8_t version = 0;
  uint16_t flags = 0;                // DO plus the unassigned Z bits, kept verbatim
  std::vector<EdnsOption> options;   // in wire order

  bool dnssec_ok() const noexcept { return flags & kDoBit; }
  void set_dnssec_ok(bool on) noexcept {
    flags = static_cast<uint16_t>(on ? (flags | kDoBit) : (flags & ~kDoBit));
  }

  // First option with `code`, or nullptr.
  const EdnsOption* find(uint16_t code) const noexcept;
  const EdnsOption* find(EdnsOptionCode code) const noexcept {
    return find(static_cast<uint16_t>(code));
  }
  // Appends an option (duplicates are the caller's business).
  void add(EdnsOption option) { options.push_back(std::move(option)); }
  void add_extended_error(EdeCode code, std::string_view extra_text = {});

  // Runs the typed decoder over every option Sextant knows; the first
  // failure is returned (bad_opt). Unknown options are not checked.
  WireError validate_known_options() const;

  // The OPT record's rdata: options in order, each code/length/data.
  std::vector<uint8_t> options_wire() const;

  // Decodes the OPT record's fields: `rclass` is the payload size, `ttl`
  // carries extended rcode/version/flags, `rdata` the options. bad_opt if an
  // option's length runs past the rdata.
  static WireError from_opt_record(uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata,
                                   Edns& out);
  uint32_t opt_ttl() const noexcept {
    return (static_cast<uint32_t>(extended_rcode) << 24) | (static_cast<uint32_t>(version) << 16) |
           flags;
  }

  // One line per item, dig's "OPT PSEUDOSECTION" style, each prefixed "; ".
  std::string to_text() const;

  bool operator==(const Edns&) const = default;
};

// Walks the option area of an OPT rdata without copying. `visit(code, data)`
// is called for each option in order; returns bad_opt if the framing is
// broken (the options before the break have been visited).
template <typename Visitor>
WireError for_each_edns_option(std::span<const uint8_t> rdata, Visitor&& visit) noexcept(
    noexcept(visit(uint16_t{}, std::span<const uint8_t>{}))) {
  size_t pos = 0;
  while (pos < rdata.size()) {
    if (rdata.size() - pos < 4) return WireError::bad_opt;
    uint16_t code = static_cast<uint16_t>((rdata[pos] << 8) | rdata[pos + 1]);
    size_t len = static_cast<size_t>((rdata[pos + 2] << 8) | rdata[pos + 3]);
    pos += 4;
    if (rdata.size() - pos < len) return WireError::bad_opt;
    visit(code, rdata.subspan(pos, len));
    pos += len;
  }
  return WireError::ok;
}

}  // namespace sextant::wire
