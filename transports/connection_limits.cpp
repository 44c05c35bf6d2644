#include "transports/connection_limits.h"

#include <netinet/in.h>

#include <cstring>

namespace sextant::transports {

ClientKey ClientKey::of(const sockaddr* address) noexcept {
  ClientKey key;
  if (address == nullptr) return key;
  if (address->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(key.bytes.data(), &in4->sin_addr, 4);
    key.family = 4;
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    const uint8_t* a = in6->sin6_addr.s6_addr;
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kMappedPrefix, sizeof kMappedPrefix) == 0) {
      // An IPv4 client on a dual-stack socket is the same client as over IPv4.
      std::memcpy(key.bytes.data(), a + 12, 4);
      key.family = 4;
    } else {
      std::memcpy(key.bytes.data(), a, 8);  // the /64
      key.family = 6;
    }
  }
  return key;
}

size_t ClientConnectionTable::KeyHash::operator()(const ClientKey& k) const noexcept {
  // FNV-1a: the key is not attacker-chosen beyond its own address space, and
  // a client can only grow its own bucket, which the cap bounds.
  uint64_t h = 1469598103934665603ull ^ k.family;
  for (uint8_t b : k.bytes) h = (h ^ b) * 1099511628211ull;
  return static_cast<size_t>(h);
}

ClientConnectionTable::ClientConnectionTable(unsigned per_client) : per_client_(per_client) {}

ClientConnectionTable::Shard& ClientConnectionTable::shard_of(const ClientKey& key) const {
  return shards_[KeyHash{}(key) % kShards];
}

bool ClientConnectionTable::try_acquire(const ClientKey& key) {
  if (per_client_ == 0 || !key.valid()) return true;
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mu);
  unsigned& count = shard.counts[key];
  if (count >= per_client_) {
    if (count == 0) shard.counts.erase(key);
    return false;
  }
  ++count;
  return true;
}

void ClientConnectionTable::release(const ClientKey& key) {
  if (per_client_ == 0 || !key.valid()) return;
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.counts.find(key);
  if (it == shard.counts.end()) return;
  if (--it->second == 0) shard.counts.erase(it);
}

unsigned ClientConnectionTable::count(const ClientKey& key) const {
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.counts.find(key);
  return it == shard.counts.end() ? 0 : it->second;
}

size_t ClientConnectionTable::clients() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.counts.size();
  }
  return n;
}

bool admit_client(const std::shared_ptr<ClientConnectionTable>& table, const sockaddr* peer, ClientSlot& slot) {
  if (!table || table->per_client() == 0) return true;
  const ClientKey key = ClientKey::of(peer);
  if (!key.valid()) return true;
  if (!table->try_acquire(key)) return false;
  slot = ClientSlot(table, key);
  return true;
}

}  // namespace sextant::transports
