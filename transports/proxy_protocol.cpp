#include "transports/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace sextant::transports {

namespace {

constexpr uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

void set_error(std::string* error, const char* text) {
  if (error) *error = text;
}

// Address octets and family of a sockaddr, folding IPv4-mapped IPv6 to IPv4.
bool address_bytes(const sockaddr* address, int& family, const uint8_t*& bytes) noexcept {
  if (!address) return false;
  if (address->sa_family == AF_INET) {
    family = AF_INET;
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
    return true;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      family = AF_INET;
      bytes = reinterpret_cast<const uint8_t*>(&in6->sin6_addr) + 12;
    } else {
      family = AF_INET6;
      bytes = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
    }
    return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One X-Forwarded-For entry: address, "[v6]", "[v6]:port" or "v4:port".
bool parse_forwarded_entry(std::string_view entry, sockaddr_storage& out) noexcept {
  entry = trim(entry);
  if (entry.empty()) return false;
  if (entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string_view::npos) return false;
    return parse_ip_address(entry.substr(1, close - 1), out);
  }
  if (parse_ip_address(entry, out)) return true;
  auto colon = entry.rfind(':');
  if (colon != std::string_view::npos && entry.find(':') == colon) {
    return parse_ip_address(entry.substr(0, colon), out) && out.ss_family == AF_INET;
  }
  return false;
}

}  // namespace

bool parse_ip_address(std::string_view text, sockaddr_storage& out) noexcept {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return false;
  char buffer[INET6_ADDRSTRLEN + 1];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::memset(&out, 0, sizeof out);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, buffer, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, buffer, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    return true;
  }
  std::memset(&out, 0, sizeof out);
  return false;
}

std::optional<CidrBlock> parse_cidr(std::string_view text) noexcept {
  text = trim(text);
  std::string_view address_text = text;
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    unsigned value = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    prefix = value;
  }
  sockaddr_storage storage;
  if (!parse_ip_address(address_text, storage)) return std::nullopt;
  CidrBlock block;
  block.family = storage.ss_family;
  size_t length = 0;
  if (block.family == AF_INET) {
    length = 4;
    std::memcpy(block.bytes, &reinterpret_cast<sockaddr_in*>(&storage)->sin_addr, 4);
  } else {
    length = 16;
    std::memcpy(block.bytes, &reinterpret_cast<sockaddr_in6*>(&storage)->sin6_addr, 16);
  }
  block.prefix_length = prefix.value_or(static_cast<unsigned>(length * 8));
  if (block.prefix_length > length * 8) return std::nullopt;
  for (size_t i = 0; i < length; ++i) {
    unsigned bits_before = static_cast<unsigned>(i * 8);
    if (block.prefix_length >= bits_before + 8) continue;
    unsigned keep = block.prefix_length > bits_before ? block.prefix_length - bits_before : 0;
    block.bytes[i] &= static_cast<uint8_t>(0xFF00u >> keep);
  }
  return block;
}

bool cidr_contains(const CidrBlock& block, const sockaddr* address) noexcept {
  int family = AF_UNSPEC;
  const uint8_t* bytes = nullptr;
  if (!address_bytes(address, family, bytes) || family != block.family) return false;
  unsigned full = block.prefix_length / 8;
  if (std::memcmp(bytes, block.bytes, full) != 0) return false;
  unsigned rest = block.prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF00u >> rest);
  return (bytes[full] & mask) == block.bytes[full];
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) {
  for (const auto& text : cidrs) {
    auto block = parse_cidr(text);
    if (!block) throw std::invalid_argument("trusted proxy: cannot parse '" + text + "' as an address or CIDR block");
    blocks_.push_back(*block);
  }
}

bool TrustedProxies::contains(const sockaddr* address) const noexcept {
  return std::any_of(blocks_.begin(), blocks_.end(),
                     [address](const CidrBlock& b) { return cidr_contains(b, address); });
}

bool client_from_forwarded_for(std::string_view header, const TrustedProxies& trusted,
                               sockaddr_storage& client) noexcept {
  // Bounded: at most as many iterations as commas in the header.
  bool found_any = false;
  while (!header.empty()) {
    auto comma = header.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? header : header.substr(comma + 1);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(0, comma);
    sockaddr_storage parsed;
    if (!parse_forwarded_entry(entry, parsed)) {
      // A garbled entry: everything to its left is unverifiable, so stop
      // with what the nearest trusted hop vouched for (if anything).
      return found_any;
    }
    client = parsed;
    found_any = true;
    if (!trusted.contains(reinterpret_cast<const sockaddr*>(&parsed))) return true;
  }
  return found_any;
}

ProxyParse parse_proxy_v2(std::span<const uint8_t> data, ProxyHeader& header, std::string* error) noexcept {
  if (data.empty()) return ProxyParse::need_more;
  size_t compare = std::min(data.size(), sizeof kSignature);
  if (std::memcmp(data.data(), kSignature, compare) != 0) {
    set_error(error, "PROXY v2: bad signature");
    return ProxyParse::invalid;
  }
  if (data.size() < 16) return ProxyParse::need_more;
  uint8_t version_command = data[12];
  if ((version_command >> 4) != 2) {
    set_error(error, "PROXY v2: unsupported version");
    return ProxyParse::invalid;
  }
  uint8_t command = version_command & 0x0F;
  if (command > 1) {
    set_error(error, "PROXY v2: unknown command");
    return ProxyParse::invalid;
  }
  size_t length = static_cast<size_t>(data[14]) << 8 | data[15];
  if (16 + length > kMaxProxyHeaderLength) {
    set_error(error, "PROXY v2: header too long");
    return ProxyParse::invalid;
  }
  if (data.size() < 16 + length) return ProxyParse::need_more;
  header = ProxyHeader{};
  header.header_length = 16 + length;
  header.local = command == 0;
  uint8_t family = data[13] >> 4;
  uint8_t protocol = data[13] & 0x0F;
  if (protocol > 2 || family > 3) {
    set_error(error, "PROXY v2: unknown address family or protocol");
    return ProxyParse::invalid;
  }
  const uint8_t* block = data.data() + 16;
  if (header.local) return ProxyParse::complete;  // addresses, if any, are ignored
  if (family == 1) {
    if (length < 12) {
      set_error(error, "PROXY v2: IPv4 address block too short");
      return ProxyParse::invalid;
    }
    auto* src = reinterpret_cast<sockaddr_in*>(&header.source);
    auto* dst = reinterpret_cast<sockaddr_in*>(&header.destination);
    src->sin_family = dst->sin_family = AF_INET;
    std::memcpy(&src->sin_addr, block, 4);
    std::memcpy(&dst->sin_addr, block + 4, 4);
    std::memcpy(&src->sin_port, block + 8, 2);
    std::memcpy(&dst->sin_port, block + 10, 2);
    header.has_addresses = true;
  } else if (family == 2) {
    if (length < 36) {
      set_error(error, "PROXY v2: IPv6 address block too short");
      return ProxyParse::invalid;
    }
    auto* src = reinterpret_cast<sockaddr_in6*>(&header.source);
    auto* dst = reinterpret_cast<sockaddr_in6*>(&header.destination);
    src->sin6_family = dst->sin6_family = AF_INET6;
    std::memcpy(&src->sin6_addr, block, 16);
    std::memcpy(&dst->sin6_addr, block + 16, 16);
    std::memcpy(&src->sin6_port, block + 32, 2);
    std::memcpy(&dst->sin6_port, block + 34, 2);
    header.has_addresses = true;
  }
  // UNSPEC and UNIX families carry no usable IP address: keep the TCP peer.
  return ProxyParse::complete;
}

bool starts_with_proxy_v2_signature(std::span<const uint8_t> data) noexcept {
  return data.size() >= sizeof kSignature && std::memcmp(data.data(), kSignature, sizeof kSignature) == 0;
}

const char* to_string(ProxyOutcome outcome) noexcept {
  switch (outcome) {
    case ProxyOutcome::direct: return "direct";
    case ProxyOutcome::proxied: return "proxied";
    case ProxyOutcome::local: return "local";
    case ProxyOutcome::untrusted: return "untrusted";
    case ProxyOutcome::missing: return "missing";
    case ProxyOutcome::invalid: return "invalid";
  }
  return "invalid";
}

ProxyOutcome unwrap_proxied_datagram(std::span<const uint8_t> datagram, const sockaddr* peer,
                                     const TrustedProxies* trusted, ProxyHeader& header,
                                     std::span<const uint8_t>& payload) noexcept {
  payload = datagram;
  const bool from_trusted = trusted != nullptr && !trusted->empty() && trusted->contains(peer);
  if (!from_trusted) {
    return starts_with_proxy_v2_signature(datagram) ? ProxyOutcome::untrusted : ProxyOutcome::direct;
  }
  if (!starts_with_proxy_v2_signature(datagram)) return ProxyOutcome::missing;
  if (parse_proxy_v2(datagram, header) != ProxyParse::complete) return ProxyOutcome::invalid;
  payload = datagram.subspan(header.header_length);
  return header.local ? ProxyOutcome::local : ProxyOutcome::proxied;
}

ProxyStreamReader::Status ProxyStreamReader::feed(std::span<const uint8_t>& data) {
  if (done_) return Status::done;
  // Parse in place when nothing is buffered (the whole header in one read,
  // the usual case); otherwise append at most what a header can still need.
  std::span<const uint8_t> view = data;
  const size_t before = buffer_.size();
  if (before > 0) {
    const size_t room = kMaxProxyHeaderLength - std::min(before, kMaxProxyHeaderLength);
    buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(std::min(room, data.size())));
    view = buffer_;
  }
  ProxyParse parsed = parse_proxy_v2(view, header_);
  if (parsed == ProxyParse::need_more && view.size() >= kMaxProxyHeaderLength) parsed = ProxyParse::invalid;
  switch (parsed) {
    case ProxyParse::need_more:
      if (before == 0) buffer_.assign(data.begin(), data.end());
      data = {};
      return Status::need_more;
    case ProxyParse::invalid:
      // A mismatch within the signature means no header was sent at all.
      outcome_ = starts_with_proxy_v2_signature(view) ? ProxyOutcome::invalid : ProxyOutcome::missing;
      data = {};
      break;
    case ProxyParse::complete:
      outcome_ = header_.local ? ProxyOutcome::local : ProxyOutcome::proxied;
      data = data.subspan(header_.header_length - before);
      break;
  }
  done_ = true;
  std::vector<uint8_t>().swap(buffer_);
  return Status::done;
}

ProxySignatureSniffer::Verdict ProxySignatureSniffer::feed(std::span<const uint8_t> data) noexcept {
  for (size_t i = 0; i < data.size() && verdict_ == Verdict::undecided; ++i) {
    if (data[i] != kSignature[matched_]) {
      verdict_ = Verdict::no_header;
    } else if (++matched_ == sizeof kSignature) {
      verdict_ = Verdict::header;
    }
  }
  return verdict_;
}

}  // namespace sextant::transports
