// Per-client connection caps shared by every stream and QUIC listener of the
// process (TCP, DoT, DoH over HTTP/1.1 and HTTP/2, DoH over HTTP/3, DoQ).
//
// A "client" is an IPv4 address (/32: behind carrier-grade NAT a /24 would
// lump unrelated customers together) or an IPv6 /64 (one host can take any
// address of its /64 for free). Each listener asks for a slot when a
// connection arrives and gives it back when the connection is gone; over the
// cap the connection is closed at once and counted by the listener. Slots
// are taken and returned on connection set-up and teardown only, never per
// query, so a sharded mutex is enough (no lock on the answer path).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sextant::transports {

// The client part of an address: IPv4 /32 or IPv6 /64, as 16 octets plus
// the family. Default-constructed: no client (never counted).
struct ClientKey {
  std::array<uint8_t, 16> bytes{};
  uint8_t family = 0;  // 0: none, 4 or 6

  static ClientKey of(const sockaddr* address) noexcept;
  bool valid() const noexcept { return family != 0; }
  bool operator==(const ClientKey&) const = default;
};

class ClientConnectionTable {
 public:
  // `per_client` connections at most per client; 0 turns the cap off
  // (nothing is counted then).
  explicit ClientConnectionTable(unsigned per_client);

  // Takes a slot for `key`; false when the client is at its cap (nothing
  // taken). An invalid key (unknown family) is always admitted, untracked.
  bool try_acquire(const ClientKey& key);
  // Gives back a slot taken by try_acquire (a no-op for an invalid key).
  void release(const ClientKey& key);

  unsigned per_client() const noexcept { return per_client_; }
  // Connections counted for `key` now, and clients with at least one.
  unsigned count(const ClientKey& key) const;
  size_t clients() const;

 private:
  struct KeyHash {
    size_t operator()(const ClientKey& k) const noexcept;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<ClientKey, unsigned, KeyHash> counts;
  };
  static constexpr size_t kShards = 16;
  Shard& shard_of(const ClientKey& key) const;

  unsigned per_client_;
  mutable std::array<Shard, kShards> shards_;
};

// A slot held by one connection: released when destroyed (or moved from).
class ClientSlot {
 public:
  ClientSlot() = default;
  ClientSlot(std::shared_ptr<ClientConnectionTable> table, const ClientKey& key)
      : table_(std::move(table)), key_(key) {}
  ClientSlot(ClientSlot&& other) noexcept : table_(std::move(other.table_)), key_(other.key_) {}
  ClientSlot& operator=(ClientSlot&& other) noexcept {
    if (this != &other) {
      reset();
      table_ = std::move(other.table_);
      key_ = other.key_;
    }
    return *this;
  }
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;
  ~ClientSlot() { reset(); }

  void reset() {
    if (table_) table_->release(key_);
    table_.reset();
  }

 private:
  std::shared_ptr<ClientConnectionTable> table_;
  ClientKey key_;
};

// Takes a slot for the client at `peer` in `table` (null table: no cap).
// Returns false when the client is over its cap; `slot` is then empty.
bool admit_client(const std::shared_ptr<ClientConnectionTable>& table, const sockaddr* peer, ClientSlot& slot);

}  // namespace sextant::transports
