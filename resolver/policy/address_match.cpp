#include "resolver/policy/address_match.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace sextant::resolver::policy {

Address Address::v4(const uint8_t* four) noexcept {
  Address a;
  a.family = AF_INET;
  std::memcpy(a.bytes, four, 4);
  return a;
}

Address Address::v6(const uint8_t* sixteen) noexcept {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(sixteen, kMapped, 12) == 0) return v4(sixteen + 12);
  Address a;
  a.family = AF_INET6;
  std::memcpy(a.bytes, sixteen, 16);
  return a;
}

Address Address::from_sockaddr(const sockaddr* sa) noexcept {
  if (sa == nullptr) return {};
  Address a;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    a = v4(reinterpret_cast<const uint8_t*>(&in->sin_addr));
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a = v6(in6->sin6_addr.s6_addr);
    a.port = ntohs(in6->sin6_port);
  }
  return a;
}

std::string Address::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 0 || !inet_ntop(family, bytes, buf, sizeof buf)) return "-";
  return buf;
}

std::optional<AddressPrefix> AddressPrefix::parse(const std::string& text) {
  AddressPrefix p;
  auto slash = text.find('/');
  std::string addr = text.substr(0, slash);
  if (inet_pton(AF_INET, addr.c_str(), p.bytes) == 1) p.family = AF_INET;
  else if (inet_pton(AF_INET6, addr.c_str(), p.bytes) == 1) p.family = AF_INET6;
  else return std::nullopt;
  unsigned max = p.family == AF_INET ? 32 : 128;
  unsigned length = max;
  if (slash != std::string::npos) {
    std::string l = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), length);
    if (l.empty() || ec != std::errc() || end != l.data() + l.size() || length > max) return std::nullopt;
  }
  p.length = static_cast<uint8_t>(length);
  for (unsigned bit = length; bit < max; ++bit) p.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return p;
}

bool AddressPrefix::contains(const Address& a) const noexcept {
  if (a.family != family) return false;
  unsigned full = length / 8;
  if (std::memcmp(bytes, a.bytes, full) != 0) return false;
  unsigned rest = length % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF00u >> rest);
  return (a.bytes[full] & mask) == bytes[full];
}

std::string AddressPrefix::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(length);
}

PrefixTable::Key PrefixTable::masked(const uint8_t* bytes, size_t size, unsigned length) noexcept {
  uint8_t b[16] = {};
  std::memcpy(b, bytes, size);
  for (unsigned bit = length; bit < size * 8; ++bit) b[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  Key k;
  std::memcpy(&k.hi, b, 8);
  std::memcpy(&k.lo, b + 8, 8);
  return k;
}

AddressPrefix PrefixTable::make_prefix(int fam, size_t len, const Key& key) noexcept {
  AddressPrefix p;
  p.family = fam == 0 ? AF_INET : AF_INET6;
  p.length = static_cast<uint8_t>(len);
  std::memcpy(p.bytes, &key.hi, 8);
  std::memcpy(p.bytes + 8, &key.lo, 8);
  return p;
}

bool PrefixTable::insert(const AddressPrefix& prefix, uint32_t value) {
  int fam = prefix.family == AF_INET ? 0 : 1;
  size_t size = fam == 0 ? 4 : 16;
  auto& maps = maps_[fam];
  if (maps.empty()) maps.resize(size * 8 + 1);
  auto& map = maps[prefix.length];
  bool fresh = map.empty();
  bool inserted = map.emplace(masked(prefix.bytes, size, prefix.length), value).second;
  if (fresh && inserted) {
    auto& lengths = lengths_[fam];
    lengths.push_back(prefix.length);
    std::sort(lengths.begin(), lengths.end(), std::greater<>());
  }
  if (inserted) ++size_;
  return inserted;
}

uint32_t PrefixTable::find_exact(const AddressPrefix& prefix) const noexcept {
  int fam = prefix.family == AF_INET ? 0 : 1;
  if (maps_[fam].empty()) return kNotFound;
  const auto& map = maps_[fam][prefix.length];
  auto it = map.find(masked(prefix.bytes, fam == 0 ? 4 : 16, prefix.length));
  return it == map.end() ? kNotFound : it->second;
}

uint32_t PrefixTable::longest_match(const Address& a, AddressPrefix* matched) const noexcept {
  if (a.family != AF_INET && a.family != AF_INET6) return kNotFound;
  int fam = a.family == AF_INET ? 0 : 1;
  size_t size = a.size();
  for (uint8_t len : lengths_[fam]) {
    const auto& map = maps_[fam][len];
    auto it = map.find(masked(a.bytes, size, len));
    if (it != map.end()) {
      if (matched) *matched = make_prefix(fam, len, it->first);
      return it->second;
    }
  }
  return kNotFound;
}

size_t PrefixTable::memory_bytes() const noexcept {
  size_t bytes = 0;
  for (const auto& maps : maps_)
    for (const auto& m : maps) bytes += m.bucket_count() * sizeof(void*) + m.size() * (sizeof(Key) + 24);
  return bytes;
}

}  // namespace sextant::resolver::policy
