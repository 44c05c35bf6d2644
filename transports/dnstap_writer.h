// The dnstap query log: DnstapEvents encoded as dnstap protobufs and written
// as Frame Streams (content type "protobuf:dnstap.Dnstap") to a collector's
// Unix socket (fstrm_capture, dnstap-ldns -u, dnscollector, ...) or to a file.
//
// Worker threads never wait for the output. Each worker has its own bounded
// fstrm queue (single producer, lock-free); a background fstrm I/O thread
// drains the queues into the socket or file. When a worker's queue is full
// the event is dropped and counted. A missing or stopped collector is not an
// error: fstrm discards frames while it is not connected and retries the
// connection every reopen_interval_seconds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "transports/dnstap_message.h"

struct fstrm_iothr;
struct fstrm_iothr_queue;

namespace sextant::transports {

struct DnstapOptions {
  enum class Output : uint8_t {
    unix_socket,  // connect to a collector's socket (bidirectional handshake)
    file,         // write a Frame Streams file (truncated when opened)
  };
  Output output = Output::unix_socket;
  std::string path;

  std::string identity;  // Dnstap.identity; empty leaves it out
  std::string version;   // Dnstap.version; empty leaves it out

  bool log_client_queries = true;
  bool log_client_responses = true;
  bool log_resolver_queries = false;
  bool log_resolver_responses = false;
  bool log_forwarder_queries = false;
  bool log_forwarder_responses = false;

  // Number of worker threads calling log(): DnstapEvent::worker must be
  // below it, and each index used by one thread at a time.
  unsigned workers = 1;
  // Frames each worker may have waiting; rounded up to a power of two and
  // clamped to fstrm's 2..16384.
  unsigned queue_size = 512;
  // Seconds between attempts to reach an absent collector (1..600).
  unsigned reopen_interval_seconds = 5;
  // Bounds every blocking step on the collector socket (connect, handshake,
  // each write), so that a collector that stops reading costs dropped
  // frames, not a stuck I/O thread or a hung shutdown.
  std::chrono::milliseconds socket_timeout{1000};
};

class DnstapWriter {
 public:
  // Starts the I/O thread. Throws std::invalid_argument for unusable options
  // (empty path, Unix socket path too long, workers == 0) and
  // std::runtime_error when the output cannot be created (the directory does
  // not exist, the file cannot be opened); both messages name the path.
  // An absent collector socket is not an error.
  explicit DnstapWriter(DnstapOptions options);
  // Flushes what is queued, then stops the I/O thread. With an unresponsive
  // collector this takes at most a few socket_timeouts.
  ~DnstapWriter();
  DnstapWriter(const DnstapWriter&) = delete;
  DnstapWriter& operator=(const DnstapWriter&) = delete;

  // Whether the options ask for this kind of event (check before building
  // one, to skip the work).
  bool wants(DnstapMessageType type) const noexcept;

  // Encodes and queues the event on the queue of event.worker. Never blocks
  // (one malloc of the frame size, no lock, no system call in the common
  // case). Returns true when queued; false when the options do not ask for
  // this type (not counted) or when it is dropped (counted): queue full,
  // worker index out of range, out of memory, or shutting down.
  bool log(const DnstapEvent& event) noexcept;

  // Frames handed to the I/O thread. fstrm gives no per-frame outcome:
  // frames it discards while no collector is connected still count here.
  uint64_t logged() const noexcept { return logged_.load(std::memory_order_relaxed); }
  // Events that matched the options but could not be queued.
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  const DnstapOptions& options() const noexcept { return options_; }

 private:
  DnstapOptions options_;
  fstrm_iothr* iothr_ = nullptr;
  std::vector<fstrm_iothr_queue*> queues_;  // one per worker
  std::atomic<uint64_t> logged_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace sextant::transports
