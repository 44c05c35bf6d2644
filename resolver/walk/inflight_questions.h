// Upstream questions in flight, shared by one walker's concurrent requests
// (issue 17). Twenty cold questions under one unknown zone cut each sent the
// same QNAME-minimisation step (`example. A` to the TLD's servers) before
// any of them had cached the referral. Now the first request's packet is
// registered here by what it asks; another request about to send the very
// same question waits for that packet's reply instead (walker_inflight.cpp)
// and reads it as if it were its own.
//
// The key is what the packet carries and who it goes to: the zone cut whose
// servers are asked, the question (name compared case-insensitively, type;
// class IN), the header and EDNS bits that change the answer (DO, CD, RD),
// and the client subnet (ECS) when the query may carry one. Configured cuts
// (forward and stub zones) add a digest of their server addresses, so a
// reload that changes a zone's upstreams never shares across the two sets.
// A client's own DO/CD bits are not in it: an iterative query carries
// neither (DO is the walker's setting, CD is only set towards forwarders),
// and each request still judges and validates the shared reply itself.
//
// Bounded: at most kMaxExchanges packets registered (overdue ones too) and
// kMaxWaiters waiting per packet; beyond them a request simply asks for
// itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "wire/edns.h"
#include "wire/name.h"
#include "wire/types.h"

namespace sextant::resolver {

struct InflightKey {
  static constexpr uint8_t kDnssecOk = 1;        // DO in the query's EDNS
  static constexpr uint8_t kCheckingDisabled = 2;  // CD (forwarders only)
  static constexpr uint8_t kRecursion = 4;       // RD: a forward zone's upstream
  static constexpr uint8_t kPrivateOk = 8;       // a stub zone's private servers
  static constexpr uint8_t kEcsWithheld = 16;    // an ECS zone asked without a subnet

  wire::Name zone;    // the cut whose servers are asked (case-insensitive)
  wire::Name qname;   // as asked: maybe minimised (case-insensitive)
  wire::RRType type = wire::RRType::A;
  uint8_t flags = 0;
  uint64_t servers = 0;  // configured cuts: digest of their addresses
  std::optional<wire::ClientSubnetOption> subnet;  // sent with the query (ECS)

  bool operator==(const InflightKey&) const = default;
};

struct InflightKeyHash {
  size_t operator()(const InflightKey& k) const noexcept;
};

// A query parked on another request's packet.
struct InflightWaiter {
  uint64_t resolution = 0;
  uint32_t query = 0;
};

class InflightQuestions {
 public:
  static constexpr size_t kMaxExchanges = 4096;
  static constexpr size_t kMaxWaiters = 64;

  // Registers packet `attempt` of request `resolution` as the one asking
  // `key`. False (nothing registered) when another packet asks it already
  // or the table is full.
  bool lead(const InflightKey& key, uint64_t attempt, uint64_t resolution);
  // The packet asking `key`, if one is registered, belongs to another
  // request and has room: `waiter` is added to it and its attempt id
  // returned; else 0.
  uint64_t join(const InflightKey& key, uint64_t resolution, InflightWaiter waiter);
  // Packet `attempt` is overdue (its retransmission timer fired): nobody
  // joins it any more, but its waiters stay listed for a late reply. Returns
  // them, to ask for themselves meanwhile.
  std::vector<InflightWaiter> overdue(uint64_t attempt);
  // Packet `attempt` ended (a reply, a hard timeout, cancelled): its
  // waiters, to hand the reply to or to send for themselves.
  std::vector<InflightWaiter> end(uint64_t attempt);
  enum class State : uint8_t { closed, live, overdue };
  State state(uint64_t attempt) const;

  bool empty() const noexcept { return by_attempt_.empty(); }
  size_t size() const noexcept { return by_attempt_.size(); }
  void clear() noexcept {
    by_attempt_.clear();
    by_key_.clear();
  }

 private:
  struct Exchange {
    InflightKey key;
    uint64_t resolution = 0;
    std::vector<InflightWaiter> waiters;
    bool overdue = false;
  };
  std::unordered_map<uint64_t, Exchange> by_attempt_;
  std::unordered_map<InflightKey, uint64_t, InflightKeyHash> by_key_;
};

}  // namespace sextant::resolver
