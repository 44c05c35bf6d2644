// The per-query event log: one JSON object per line for each client query
// (and each malformed packet dropped), to a file or standard output.
//
// Logging never stalls answering. Each worker owns a bounded single-
// producer ring of fixed-size events; a writer thread drains the rings,
// formats the JSON and writes it. A worker that finds its ring full drops
// the event and counts it; a rate cap (a token bucket per worker, the
// configured rate shared between workers) bounds the work of formatting and
// writing; sampling keeps one query in N. Like the dnstap writer
// (transports/dnstap_writer.h), only the worker's own counter and ring are
// touched on the query path: no lock, no allocation, no system call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "resolver/eventlog/query_event.h"

namespace sextant::resolver::eventlog {

struct EventLogOptions {
  std::string path;               // "-" or "stdout": standard output
  unsigned workers = 1;
  uint32_t sample = 1;            // keep one query in N
  uint32_t max_per_second = 0;    // over all workers; 0: no cap
  uint32_t queue_size = 4096;     // events waiting per worker (rounded up to a power of two)
};

class EventLog {
 public:
  // Opens the output (appending to a file) and starts the writer; throws
  // std::runtime_error naming the path when it cannot be opened.
  explicit EventLog(EventLogOptions options);
  // Writes what is queued, then stops the writer.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // On worker `worker`'s thread: whether the next query is one to log.
  bool sample(unsigned worker) noexcept;
  // On worker `worker`'s thread: queues a copy of `event`; false when it
  // is dropped (rate cap or full ring, both counted).
  bool log(unsigned worker, const QueryEvent& event) noexcept;
  // Reopens the file (after log rotation); false if it cannot (the old
  // one stays open).
  bool reopen();

  uint64_t written() const noexcept { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped_queue_full() const noexcept;
  uint64_t dropped_rate_limited() const noexcept;
  const EventLogOptions& options() const noexcept { return options_; }

 private:
  struct alignas(64) Ring {
    std::vector<QueryEvent> slots;
    uint64_t mask = 0;
    std::atomic<uint64_t> head{0};  // next slot the worker fills
    std::atomic<uint64_t> tail{0};  // next slot the writer reads
    // Worker-only state.
    uint64_t seen = 0;
    double tokens = 0;
    int64_t refilled_ns = 0;
    std::atomic<uint64_t> dropped_full{0};
    std::atomic<uint64_t> dropped_rate{0};
  };

  void run();
  size_t drain(std::string& buffer);
  FILE* open_output() const;

  EventLogOptions options_;
  double per_worker_rate_ = 0;  // events per second, 0: no cap
  std::vector<std::unique_ptr<Ring>> rings_;
  std::mutex file_mu_;  // the writer and reopen()
  FILE* file_ = nullptr;
  bool owns_file_ = false;
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::thread writer_;
};

}  // namespace sextant::resolver::eventlog
