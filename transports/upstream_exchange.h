// Internals of NetworkUpstream: the shared core and one exchange (query and
// its socket) per outstanding query. Not part of the public API.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "transports/socket_util.h"
#include "transports/stream_framing.h"
#include "transports/upstream.h"
#include "transports/upstream_match.h"

namespace sextant::transports {

class Exchange;

// State shared by all exchanges of one NetworkUpstream. It outlives the
// NetworkUpstream until the last exchange has closed its handles, so close
// callbacks never touch freed memory.
class UpstreamCore {
 public:
  UpstreamCore(uv_loop_t* loop, UpstreamConfig config);

  UpstreamQueryId send(UpstreamQuery query, UpstreamCallback done);
  bool cancel(UpstreamQueryId id) noexcept;
  void shutdown(std::function<void()> done);
  void owner_gone();

  // For exchanges.
  uv_loop_t* loop() const noexcept { return loop_; }
  UpstreamCounters& counters() noexcept { return counters_; }
  uv_buf_t scratch() noexcept;
  void forget(UpstreamQueryId id) noexcept { active_.erase(id); }
  void socket_opened() noexcept;
  void exchange_closed(bool had_socket) noexcept;
  size_t outstanding() const noexcept { return active_.size(); }

 private:
  void maybe_done();

  uv_loop_t* loop_;
  UpstreamConfig config_;
  UpstreamCounters counters_;
  std::unique_ptr<uint8_t[]> scratch_;
  std::unordered_map<UpstreamQueryId, Exchange*> active_;  // not yet finished
  UpstreamQueryId next_id_ = 1;
  size_t live_exchanges_ = 0;  // including those still closing
  size_t sockets_ = 0;         // including those still closing
  bool owner_alive_ = true;
  bool shutting_down_ = false;
  std::function<void()> shutdown_done_;
};

// One query. Owns a timer (the deadline, or a zero delay for a failure found
// inside send()) and, in subclasses, a socket. Deletes itself when every
// handle is closed.
class Exchange {
 public:
  Exchange(UpstreamCore* core, UpstreamQueryId id, UpstreamQuery query, UpstreamCallback done);
  virtual ~Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Starts the deadline and the network work, or reports `refusal` soon.
  // Never calls the callback itself.
  void start(uint32_t timeout_ms, std::optional<UpstreamStatus> refusal);
  // Reports `status` from the loop soon (not from inside send()).
  void fail_soon(UpstreamStatus status, int error = 0);
  // Ends the query: with a callback (`notify`) or silently (cancel).
  void finish(UpstreamResult result, bool notify);

  const SentQuestion& sent() const noexcept { return sent_; }

 protected:
  // Subclasses open their socket and begin; errors go through fail_soon().
  virtual void begin() = 0;
  // Subclasses stop their socket work and uv_close their handles with
  // &Exchange::on_handle_closed (each counted with count_handle()).
  virtual void close_socket() = 0;

  void count_handle() noexcept { ++open_handles_; }
  static void on_handle_closed(uv_handle_t* handle);
  // Reads go into the core's shared scratch buffer (consumed synchronously).
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  void socket_opened() noexcept;
  uint32_t elapsed_ms() const noexcept;
  UpstreamResult ok_result(std::span<const uint8_t> response, const sockaddr* from) const;

  UpstreamCore* core_;
  const UpstreamQueryId id_;
  UpstreamQuery query_;
  bool finished_ = false;
  bool has_socket_ = false;
  uint32_t ignored_ = 0;
  uint64_t started_ns_ = 0;

 private:
  static void on_timer(uv_timer_t* timer);

  UpstreamCallback done_;
  SentQuestion sent_;
  uv_timer_t timer_{};
  int open_handles_ = 0;
  bool failure_pending_ = false;
  UpstreamStatus failure_status_ = UpstreamStatus::timeout;
  int failure_error_ = 0;
};

class UdpExchange final : public Exchange {
 public:
  using Exchange::Exchange;

 private:
  void begin() override;
  void close_socket() override;
  static void on_recv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                      unsigned flags);
  static void on_sent(uv_udp_send_t* req, int status);

  uv_udp_t udp_{};
  uv_udp_send_t send_req_{};
  bool udp_initialized_ = false;
};

class TcpExchange final : public Exchange {
 public:
  using Exchange::Exchange;

 private:
  void begin() override;
  void close_socket() override;
  static void on_connect(uv_connect_t* req, int status);
  static void on_write(uv_write_t* req, int status);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  std::array<uint8_t, 2> prefix_{};
  StreamFrameDecoder decoder_;
  bool tcp_initialized_ = false;
};

}  // namespace sextant::transports
