// Addresses for policy decisions: a compact client or answer address, and a
// longest-prefix-match table (RPZ rpz-ip / rpz-client-ip triggers, view and
// DNS64 client subnets).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sextant::resolver::policy {

// An IPv4 or IPv6 address (and a port, for listeners), as policy sees it.
// IPv4-mapped IPv6 addresses are stored as IPv4.
struct Address {
  uint8_t family = 0;  // AF_INET, AF_INET6, or 0 (unknown)
  uint8_t bytes[16] = {};
  uint16_t port = 0;

  static Address from_sockaddr(const sockaddr* sa) noexcept;
  static Address v4(const uint8_t* four) noexcept;
  static Address v6(const uint8_t* sixteen) noexcept;
  size_t size() const noexcept { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }
  bool empty() const noexcept { return family == 0; }
  std::string to_text() const;  // no port
  friend bool operator==(const Address& a, const Address& b) noexcept {
    return a.family == b.family && a.port == b.port && std::memcmp(a.bytes, b.bytes, 16) == 0;
  }
};

// "10.0.0.0/8", "2001:db8::/32" or a bare address (full length).
struct AddressPrefix {
  uint8_t family = 0;
  uint8_t bytes[16] = {};
  uint8_t length = 0;

  static std::optional<AddressPrefix> parse(const std::string& text);
  bool contains(const Address& a) const noexcept;
  std::string to_text() const;
  friend bool operator==(const AddressPrefix& a, const AddressPrefix& b) noexcept {
    return a.family == b.family && a.length == b.length && std::memcmp(a.bytes, b.bytes, 16) == 0;
  }
};

// Prefix -> value, answering "the value of the longest prefix containing
// this address". One hash map per prefix length in use; a lookup probes the
// lengths in use from the longest down (at most 33 or 129 probes, usually a
// handful).
class PrefixTable {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;

  // Adds `prefix` (host bits are cleared); returns false if it was there
  // already (the first value stays).
  bool insert(const AddressPrefix& prefix, uint32_t value);
  // The value stored for exactly `prefix`, or kNotFound.
  uint32_t find_exact(const AddressPrefix& prefix) const noexcept;
  // The value of the longest prefix that contains `a`, and that prefix.
  uint32_t longest_match(const Address& a, AddressPrefix* matched = nullptr) const noexcept;
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  size_t memory_bytes() const noexcept;

  template <typename F>
  void for_each(F&& f) const {
    for (int fam = 0; fam < 2; ++fam)
      for (size_t len = 0; len < maps_[fam].size(); ++len)
        for (const auto& [key, value] : maps_[fam][len]) f(make_prefix(fam, len, key), value);
  }

 private:
  struct Key {
    uint64_t hi = 0, lo = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      uint64_t h = (k.hi * 0x9E3779B97F4A7C15ull) ^ (k.lo + 0x632BE59BD9B4E019ull);
      h ^= h >> 32;
      return static_cast<size_t>(h * 0xD6E8FEB86659FD93ull);
    }
  };
  static Key masked(const uint8_t* bytes, size_t size, unsigned length) noexcept;
  static AddressPrefix make_prefix(int fam, size_t len, const Key& key) noexcept;

  // [0] IPv4 by length 0..32, [1] IPv6 by length 0..128.
  std::vector<std::unordered_map<Key, uint32_t, KeyHash>> maps_[2];
  std::vector<uint8_t> lengths_[2];  // lengths in use, longest first
  size_t size_ = 0;
};

}  // namespace sextant::resolver::policy
