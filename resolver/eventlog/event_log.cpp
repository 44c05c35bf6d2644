#include "resolver/eventlog/event_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::resolver::eventlog {

namespace {

bool is_stdout(const std::string& path) { return path == "-" || path == "stdout"; }

int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr size_t kWriteChunk = 64 * 1024;

}  // namespace

EventLog::EventLog(EventLogOptions options) : options_(std::move(options)) {
  if (options_.workers == 0) options_.workers = 1;
  if (options_.sample == 0) options_.sample = 1;
  size_t capacity = 16;
  while (capacity < options_.queue_size && capacity < (size_t{1} << 20)) capacity *= 2;
  if (options_.max_per_second > 0)
    per_worker_rate_ = std::max(1.0, static_cast<double>(options_.max_per_second) / options_.workers);
  for (unsigned i = 0; i < options_.workers; ++i) {
    auto r = std::make_unique<Ring>();
    r->slots.resize(capacity);
    r->mask = capacity - 1;
    r->tokens = per_worker_rate_;
    r->refilled_ns = steady_ns();
    rings_.push_back(std::move(r));
  }
  file_ = open_output();
  owns_file_ = !is_stdout(options_.path);
  writer_ = std::thread([this] { run(); });
}

EventLog::~EventLog() {
  stop_.store(true);
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (file_ && owns_file_) std::fclose(file_);
}

FILE* EventLog::open_output() const {
  if (is_stdout(options_.path)) return stdout;
  FILE* f = std::fopen(options_.path.c_str(), "a");
  if (!f) throw std::runtime_error(fmt::format("event-log.file: cannot open {}: {}", options_.path, std::strerror(errno)));
  return f;
}

bool EventLog::reopen() {
  if (!owns_file_) return true;
  FILE* f = std::fopen(options_.path.c_str(), "a");
  if (!f) return false;
  std::lock_guard lock(file_mu_);
  std::fclose(file_);
  file_ = f;
  return true;
}

bool EventLog::sample(unsigned worker) noexcept {
  if (worker >= rings_.size()) return false;
  Ring& r = *rings_[worker];
  return r.seen++ % options_.sample == 0;
}

bool EventLog::log(unsigned worker, const QueryEvent& event) noexcept {
  if (worker >= rings_.size()) return false;
  Ring& r = *rings_[worker];
  if (per_worker_rate_ > 0) {
    int64_t now = steady_ns();
    r.tokens = std::min(per_worker_rate_, r.tokens + (now - r.refilled_ns) * 1e-9 * per_worker_rate_);
    r.refilled_ns = now;
    if (r.tokens < 1) {
      r.dropped_rate.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    r.tokens -= 1;
  }
  uint64_t head = r.head.load(std::memory_order_relaxed);
  if (head - r.tail.load(std::memory_order_acquire) > r.mask) {
    r.dropped_full.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  r.slots[head & r.mask] = event;
  r.head.store(head + 1, std::memory_order_release);
  return true;
}

size_t EventLog::drain(std::string& buffer) {
  size_t n = 0;
  for (auto& ring : rings_) {
    Ring& r = *ring;
    uint64_t tail = r.tail.load(std::memory_order_relaxed);
    const uint64_t head = r.head.load(std::memory_order_acquire);
    for (; tail != head; ++tail) {
      buffer += to_json(r.slots[tail & r.mask]);
      buffer += '\n';
      ++n;
      // Give the slot back early so a burst does not wait for the whole batch.
      r.tail.store(tail + 1, std::memory_order_release);
      if (buffer.size() >= kWriteChunk) {
        std::lock_guard lock(file_mu_);
        std::fwrite(buffer.data(), 1, buffer.size(), file_);
        buffer.clear();
      }
    }
  }
  return n;
}

void EventLog::run() {
  std::string buffer;
  buffer.reserve(kWriteChunk * 2);
  while (true) {
    bool stopping = stop_.load();
    size_t n = drain(buffer);
    if (!buffer.empty() || n > 0) {
      std::lock_guard lock(file_mu_);
      if (!buffer.empty()) std::fwrite(buffer.data(), 1, buffer.size(), file_);
      std::fflush(file_);
      buffer.clear();
      written_.fetch_add(n, std::memory_order_relaxed);
    }
    if (stopping) break;
    if (n == 0) {
      std::unique_lock lock(wake_mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_.load(); });
    }
  }
}

uint64_t EventLog::dropped_queue_full() const noexcept {
  uint64_t n = 0;
  for (const auto& r : rings_) n += r->dropped_full.load(std::memory_order_relaxed);
  return n;
}

uint64_t EventLog::dropped_rate_limited() const noexcept {
  uint64_t n = 0;
  for (const auto& r : rings_) n += r->dropped_rate.load(std::memory_order_relaxed);
  return n;
}

}  // namespace sextant::resolver::eventlog
