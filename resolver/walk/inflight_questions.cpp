#include "resolver/walk/inflight_questions.h"

namespace sextant::resolver {

size_t InflightKeyHash::operator()(const InflightKey& k) const noexcept {
  size_t h = k.qname.hash() * 0x9e3779b97f4a7c15ULL ^ k.zone.hash();
  h ^= (size_t{static_cast<uint16_t>(k.type)} << 20) ^ (size_t{k.flags} << 40) ^ k.servers;
  if (k.subnet) {
    for (uint8_t b : k.subnet->address) h = h * 31 + b;
    h ^= size_t{k.subnet->source_prefix} << 48;
  }
  return h;
}

bool InflightQuestions::lead(const InflightKey& key, uint64_t attempt, uint64_t resolution) {
  if (by_attempt_.size() >= kMaxExchanges || by_key_.contains(key)) return false;
  by_key_.emplace(key, attempt);
  by_attempt_.emplace(attempt, Exchange{key, resolution, {}});
  return true;
}

uint64_t InflightQuestions::join(const InflightKey& key, uint64_t resolution, InflightWaiter waiter) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return 0;
  auto exchange = by_attempt_.find(it->second);
  if (exchange == by_attempt_.end() || exchange->second.resolution == resolution ||
      exchange->second.waiters.size() >= kMaxWaiters) {
    return 0;
  }
  exchange->second.waiters.push_back(waiter);
  return it->second;
}

std::vector<InflightWaiter> InflightQuestions::overdue(uint64_t attempt) {
  auto it = by_attempt_.find(attempt);
  if (it == by_attempt_.end() || it->second.overdue) return {};
  it->second.overdue = true;
  // Another packet may ask the same question from now on.
  if (auto k = by_key_.find(it->second.key); k != by_key_.end() && k->second == attempt) by_key_.erase(k);
  return it->second.waiters;
}

std::vector<InflightWaiter> InflightQuestions::end(uint64_t attempt) {
  auto it = by_attempt_.find(attempt);
  if (it == by_attempt_.end()) return {};
  std::vector<InflightWaiter> waiters = std::move(it->second.waiters);
  if (auto k = by_key_.find(it->second.key); k != by_key_.end() && k->second == attempt) by_key_.erase(k);
  by_attempt_.erase(it);
  return waiters;
}

InflightQuestions::State InflightQuestions::state(uint64_t attempt) const {
  auto it = by_attempt_.find(attempt);
  if (it == by_attempt_.end()) return State::closed;
  return it->second.overdue ? State::overdue : State::live;
}

}  // namespace sextant::resolver
