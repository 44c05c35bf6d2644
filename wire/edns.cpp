#include "wire/edns.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace sextant::wire {

namespace {

uint16_t read_u16(std::span<const uint8_t> d, size_t at) noexcept {
  return static_cast<uint16_t>((d[at] << 8) | d[at + 1]);
}

void append_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

size_t family_width(uint16_t family) noexcept {
  if (family == ClientSubnetOption::kFamilyIPv4) return 4;
  if (family == ClientSubnetOption::kFamilyIPv6) return 16;
  return 0;
}

std::string hex(std::span<const uint8_t> data) {
  std::string s;
  s.reserve(data.size() * 2);
  for (uint8_t b : data) s += fmt::format("{:02x}", b);
  return s;
}

// The text as-is except control characters, which become \DDD so that an
// upstream's EDE text cannot forge lines in a log. UTF-8 passes through.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<uint8_t>(c);
    if (u < 0x20 || u == 0x7F || c == '\\') {
      out += fmt::format("\\{:03d}", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

WireError decode_cookie(std::span<const uint8_t> data, CookieOption& out) noexcept {
  // RFC 7873 §5.2: 8 octets (client only) or 16..40 (client + server).
  size_t n = data.size();
  if (n != CookieOption::kClientSize &&
      (n < CookieOption::kClientSize + CookieOption::kMinServerSize ||
       n > CookieOption::kClientSize + CookieOption::kMaxServerSize)) {
    return WireError::bad_opt;
  }
  out = CookieOption{};
  std::memcpy(out.client.data(), data.data(), CookieOption::kClientSize);
  out.server_size = static_cast<uint8_t>(n - CookieOption::kClientSize);
  if (out.server_size != 0)
    std::memcpy(out.server.data(), data.data() + CookieOption::kClientSize, out.server_size);
  return WireError::ok;
}

WireError decode_client_subnet(std::span<const uint8_t> data, ClientSubnetOption& out) noexcept {
  if (data.size() < 4) return WireError::bad_opt;
  ClientSubnetOption o;
  o.family = read_u16(data, 0);
  o.source_prefix = data[2];
  o.scope_prefix = data[3];
  size_t width = family_width(o.family);
  if (width == 0) return WireError::bad_opt;
  if (o.source_prefix > width * 8 || o.scope_prefix > width * 8) return WireError::bad_opt;
  // RFC 7871 §6: the address is truncated to ceil(source / 8) octets and the
  // bits past the prefix must be zero.
  size_t octets = (o.source_prefix + 7u) / 8u;
  if (data.size() - 4 != octets) return WireError::bad_opt;
  std::memcpy(o.address.data(), data.data() + 4, octets);
  if (o.source_prefix % 8 != 0) {
    uint8_t mask = static_cast<uint8_t>(0xFFu << (8 - o.source_prefix % 8));
    if ((o.address[octets - 1] & ~mask & 0xFF) != 0) return WireError::bad_opt;
  }
  out = o;
  return WireError::ok;
}

WireError ClientSubnetOption::from_address(uint16_t family, std::span<const uint8_t> full_address,
                                           uint8_t source_prefix, uint8_t scope_prefix,
                                           ClientSubnetOption& out) noexcept {
  size_t width = family_width(family);
  if (width == 0 || full_address.size() != width) return WireError::bad_opt;
  if (source_prefix > width * 8 || scope_prefix > width * 8) return WireError::bad_opt;
  ClientSubnetOption o;
  o.family = family;
  o.source_prefix = source_prefix;
  o.scope_prefix = scope_prefix;
  size_t octets = (source_prefix + 7u) / 8u;
  std::memcpy(o.address.data(), full_address.data(), octets);
  if (source_prefix % 8 != 0)
    o.address[octets - 1] &= static_cast<uint8_t>(0xFFu << (8 - source_prefix % 8));
  out = o;
  return WireError::ok;
}

WireError decode_padding(std::span<const uint8_t> data, PaddingOption& out) noexcept {
  // RFC 7830 §4: receivers must not reject padding for non-zero content.
  out.length = static_cast<uint16_t>(data.size());
  return WireError::ok;
}

WireError decode_tcp_keepalive(std::span<const uint8_t> data, TcpKeepaliveOption& out) noexcept {
  if (data.empty()) {
    out.timeout.reset();
    return WireError::ok;
  }
  if (data.size() != 2) return WireError::bad_opt;
  out.timeout = read_u16(data, 0);
  return WireError::ok;
}

WireError decode_extended_error(std::span<const uint8_t> data, ExtendedErrorOption& out) {
  if (data.size() < 2) return WireError::bad_opt;
  std::string_view text(reinterpret_cast<const char*>(data.data() + 2), data.size() - 2);
  if (!is_valid_utf8(text)) return WireError::bad_opt;
  out.info_code = read_u16(data, 0);
  out.extra_text.assign(text);
  return WireError::ok;
}

EdnsOption encode(const CookieOption& o) {
  EdnsOption opt{static_cast<uint16_t>(EdnsOptionCode::Cookie), {}};
  opt.data.assign(o.client.begin(), o.client.end());
  size_t server = std::min<size_t>(o.server_size, CookieOption::kMaxServerSize);
  opt.data.insert(opt.data.end(), o.server.begin(), o.server.begin() + static_cast<ptrdiff_t>(server));
  return opt;
}

EdnsOption encode(const ClientSubnetOption& o) {
  EdnsOption opt{static_cast<uint16_t>(EdnsOptionCode::ClientSubnet), {}};
  append_u16(opt.data, o.family);
  opt.data.push_back(o.source_prefix);
  opt.data.push_back(o.scope_prefix);
  size_t octets = std::min<size_t>((o.source_prefix + 7u) / 8u, o.address.size());
  opt.data.insert(opt.data.end(), o.address.begin(), o.address.begin() + static_cast<ptrdiff_t>(octets));
  return opt;
}

EdnsOption encode(const PaddingOption& o) {
  return EdnsOption{static_cast<uint16_t>(EdnsOptionCode::Padding), std::vector<uint8_t>(o.length, 0)};
}

EdnsOption encode(const TcpKeepaliveOption& o) {
  EdnsOption opt{static_cast<uint16_t>(EdnsOptionCode::TcpKeepalive), {}};
  if (o.timeout) append_u16(opt.data, *o.timeout);
  return opt;
}

EdnsOption encode(const ExtendedErrorOption& o) {
  EdnsOption opt{static_cast<uint16_t>(EdnsOptionCode::ExtendedError), {}};
  append_u16(opt.data, o.info_code);
  opt.data.insert(opt.data.end(), o.extra_text.begin(), o.extra_text.end());
  return opt;
}

bool is_valid_utf8(std::string_view text) noexcept {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      uint8_t cc = static_cast<uint8_t>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra]) return false;            // overlong
    if (cp > 0x10FFFF) return false;                         // beyond Unicode
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;          // surrogate
    i += extra + 1;
  }
  return true;
}

const EdnsOption* Edns::find(uint16_t code) const noexcept {
  for (const EdnsOption& o : options)
    if (o.code == code) return &o;
  return nullptr;
}

void Edns::add_extended_error(EdeCode code, std::string_view extra_text) {
  add(encode(ExtendedErrorOption{static_cast<uint16_t>(code), std::string(extra_text)}));
}

WireError Edns::validate_known_options() const {
  for (const EdnsOption& o : options) {
    WireError e = WireError::ok;
    switch (static_cast<EdnsOptionCode>(o.code)) {
      case EdnsOptionCode::Cookie: {
        CookieOption c;
        e = decode_cookie(o.data, c);
        break;
      }
      case EdnsOptionCode::ClientSubnet: {
        ClientSubnetOption c;
        e = decode_client_subnet(o.data, c);
        break;
      }
      case EdnsOptionCode::TcpKeepalive: {
        TcpKeepaliveOption k;
        e = decode_tcp_keepalive(o.data, k);
        break;
      }
      case EdnsOptionCode::ExtendedError: {
        ExtendedErrorOption x;
        e = decode_extended_error(o.data, x);
        break;
      }
      case EdnsOptionCode::Padding:
        break;
    }
    if (e != WireError::ok) return e;
  }
  return WireError::ok;
}

std::vector<uint8_t> Edns::options_wire() const {
  std::vector<uint8_t> out;
  for (const EdnsOption& o : options) {
    append_u16(out, o.code);
    append_u16(out, static_cast<uint16_t>(o.data.size()));
    out.insert(out.end(), o.data.begin(), o.data.end());
  }
  return out;
}

WireError Edns::from_opt_record(uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata,
                                Edns& out) {
  Edns e;
  e.udp_payload_size = rclass;
  e.extended_rcode = static_cast<uint8_t>(ttl >> 24);
  e.version = static_cast<uint8_t>(ttl >> 16);
  e.flags = static_cast<uint16_t>(ttl);
  WireError err = for_each_edns_option(rdata, [&](uint16_t code, std::span<const uint8_t> data) {
    e.options.push_back(EdnsOption{code, std::vector<uint8_t>(data.begin(), data.end())});
  });
  if (err != WireError::ok) return err;
  out = std::move(e);
  return WireError::ok;
}

std::string Edns::to_text() const {
  std::string s = fmt::format("; EDNS: version: {}, flags:{}", version, dnssec_ok() ? " do" : "");
  uint16_t other = static_cast<uint16_t>(flags & ~kDoBit);
  if (other != 0) s += fmt::format(" MBZ: 0x{:04x}", other);
  s += fmt::format("; udp: {}\n", udp_payload_size);
  for (const EdnsOption& o : options) {
    switch (static_cast<EdnsOptionCode>(o.code)) {
      case EdnsOptionCode::Cookie: {
        CookieOption c;
        if (decode_cookie(o.data, c) == WireError::ok) {
          s += fmt::format("; COOKIE: {}{}\n", hex(c.client), hex(c.server_cookie()));
          continue;
        }
        break;
      }
      case EdnsOptionCode::ClientSubnet: {
        ClientSubnetOption c;
        if (decode_client_subnet(o.data, c) == WireError::ok) {
          std::string addr;
          if (c.family == ClientSubnetOption::kFamilyIPv4) {
            addr = fmt::format("{}.{}.{}.{}", c.address[0], c.address[1], c.address[2], c.address[3]);
          } else {
            for (size_t i = 0; i < 16; i += 2) {
              if (i) addr += ':';
              addr += fmt::format("{:x}", (c.address[i] << 8) | c.address[i + 1]);
            }
          }
          s += fmt::format("; CLIENT-SUBNET: {}/{}/{}\n", addr, c.source_prefix, c.scope_prefix);
          continue;
        }
        break;
      }
      case EdnsOptionCode::Padding:
        s += fmt::format("; PADDING: {} octets\n", o.data.size());
        continue;
      case EdnsOptionCode::TcpKeepalive: {
        TcpKeepaliveOption k;
        if (decode_tcp_keepalive(o.data, k) == WireError::ok) {
          if (k.timeout)
            s += fmt::format("; TCP-KEEPALIVE: {}.{} secs\n", *k.timeout / 10, *k.timeout % 10);
          else
            s += "; TCP-KEEPALIVE\n";
          continue;
        }
        break;
      }
      case EdnsOptionCode::ExtendedError: {
        ExtendedErrorOption x;
        if (decode_extended_error(o.data, x) == WireError::ok) {
          s += fmt::format("; EDE: {} ({})", x.info_code, to_string(x.code()));
          if (!x.extra_text.empty()) s += fmt::format(": ({})", printable(x.extra_text));
          s += '\n';
          continue;
        }
        break;
      }
    }
    // Unknown or malformed: code and hex, as dig does.
    s += fmt::format("; OPT={}: {}\n", o.code, hex(o.data));
  }
  return s;
}

}  // namespace sextant::wire
