#include "transports/dnstap_writer.h"

#include <fcntl.h>
#include <fstrm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::transports {
namespace {

// fstrm's own Unix socket writer has no timeouts: a collector that accepts
// and then stops reading would block the I/O thread, and with it shutdown,
// forever. This transport is the same stream with SO_SNDTIMEO/SO_RCVTIMEO
// on every step; a timeout fails the step and fstrm closes and later
// reconnects. Frame Streams encoding and the handshake stay fstrm's.
struct CollectorSocket {
  sockaddr_un address{};
  timeval timeout{};
  int fd = -1;

  void close_fd() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

fstrm_res collector_open(void* obj) {
  auto* s = static_cast<CollectorSocket*>(obj);
  // A handshake that failed half-way (content type refused) leaves the old
  // connection open; start from a fresh one.
  s->close_fd();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fstrm_res_failure;
  // connect() on a Unix stream socket waits for backlog space bounded by
  // SO_SNDTIMEO; reads and writes by their own timeouts.
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s->timeout, sizeof(s->timeout)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &s->timeout, sizeof(s->timeout)) != 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&s->address), sizeof(s->address)) != 0) {
    ::close(fd);
    return fstrm_res_failure;
  }
  s->fd = fd;
  return fstrm_res_success;
}

fstrm_res collector_close(void* obj) {
  static_cast<CollectorSocket*>(obj)->close_fd();
  return fstrm_res_success;
}

fstrm_res collector_read(void* obj, void* data, size_t count) {
  auto* s = static_cast<CollectorSocket*>(obj);
  auto* out = static_cast<uint8_t*>(data);
  while (count > 0) {
    const ssize_t n = ::recv(s->fd, out, count, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fstrm_res_failure;  // error, timeout or the collector closed
    out += n;
    count -= static_cast<size_t>(n);
  }
  return fstrm_res_success;
}

fstrm_res collector_write(void* obj, const iovec* iov, int iovcnt) {
  auto* s = static_cast<CollectorSocket*>(obj);
  // fstrm's iovec array is const; partial writes need a mutable copy.
  constexpr int kChunk = 256;
  std::array<iovec, kChunk> local;
  for (int start = 0; start < iovcnt; start += kChunk) {
    int left = std::min(kChunk, iovcnt - start);
    std::copy(iov + start, iov + start + left, local.begin());
    iovec* current = local.data();
    while (left > 0) {
      msghdr msg{};
      msg.msg_iov = current;
      msg.msg_iovlen = static_cast<size_t>(left);
      const ssize_t n = ::sendmsg(s->fd, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fstrm_res_failure;  // error or SO_SNDTIMEO expired
      auto done = static_cast<size_t>(n);
      while (left > 0 && done >= current->iov_len) {
        done -= current->iov_len;
        ++current;
        --left;
      }
      if (left > 0) {
        current->iov_base = static_cast<uint8_t*>(current->iov_base) + done;
        current->iov_len -= done;
      }
    }
  }
  return fstrm_res_success;
}

fstrm_res collector_destroy(void* obj) {
  auto* s = static_cast<CollectorSocket*>(obj);
  s->close_fd();
  delete s;
  return fstrm_res_success;
}

struct WriterOptionsDeleter {
  void operator()(fstrm_writer_options* p) const noexcept { fstrm_writer_options_destroy(&p); }
};
struct FileOptionsDeleter {
  void operator()(fstrm_file_options* p) const noexcept { fstrm_file_options_destroy(&p); }
};
struct IothrOptionsDeleter {
  void operator()(fstrm_iothr_options* p) const noexcept { fstrm_iothr_options_destroy(&p); }
};
struct WriterDeleter {
  void operator()(fstrm_writer* p) const noexcept { fstrm_writer_destroy(&p); }
};
using WriterPtr = std::unique_ptr<fstrm_writer, WriterDeleter>;

std::string parent_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool is_directory(const std::string& path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

WriterPtr open_unix_writer(const DnstapOptions& options, const fstrm_writer_options* writer_options) {
  auto socket = std::make_unique<CollectorSocket>();
  if (options.path.size() >= sizeof(socket->address.sun_path)) {
    throw std::invalid_argument(fmt::format("dnstap: socket path '{}' is longer than the {} octets a Unix socket allows",
                                            options.path, sizeof(socket->address.sun_path) - 1));
  }
  // The collector may start later, but a socket in a directory that does not
  // exist is a configuration mistake worth reporting at once.
  const std::string directory = parent_directory(options.path);
  if (!is_directory(directory)) {
    throw std::runtime_error(
        fmt::format("dnstap: socket path '{}': directory '{}' does not exist", options.path, directory));
  }
  socket->address.sun_family = AF_UNIX;
  std::memcpy(socket->address.sun_path, options.path.data(), options.path.size());
  const auto ms = std::max<std::chrono::milliseconds::rep>(options.socket_timeout.count(), 1);
  socket->timeout.tv_sec = static_cast<time_t>(ms / 1000);
  socket->timeout.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);

  fstrm_rdwr* rdwr = fstrm_rdwr_init(socket.release());
  fstrm_rdwr_set_destroy(rdwr, collector_destroy);
  fstrm_rdwr_set_open(rdwr, collector_open);
  fstrm_rdwr_set_close(rdwr, collector_close);
  fstrm_rdwr_set_read(rdwr, collector_read);
  fstrm_rdwr_set_write(rdwr, collector_write);
  WriterPtr writer(fstrm_writer_init(writer_options, &rdwr));
  if (!writer) {
    fstrm_rdwr_destroy(&rdwr);
    throw std::runtime_error(fmt::format("dnstap: cannot create a Frame Streams writer for '{}'", options.path));
  }
  return writer;
}

WriterPtr open_file_writer(const DnstapOptions& options, const fstrm_writer_options* writer_options) {
  // fstrm opens the file on its I/O thread and would fail silently; try it
  // here so that a bad path is reported with its reason.
  const int fd = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("dnstap: cannot open '{}': {}", options.path, std::strerror(errno)));
  }
  ::close(fd);
  std::unique_ptr<fstrm_file_options, FileOptionsDeleter> file_options(fstrm_file_options_init());
  fstrm_file_options_set_file_path(file_options.get(), options.path.c_str());
  WriterPtr writer(fstrm_file_writer_init(file_options.get(), writer_options));
  if (!writer) {
    throw std::runtime_error(fmt::format("dnstap: cannot create a Frame Streams writer for '{}'", options.path));
  }
  return writer;
}

unsigned queue_size_for(unsigned requested) noexcept {
  const unsigned clamped =
      std::clamp<unsigned>(requested, FSTRM_IOTHR_INPUT_QUEUE_SIZE_MIN, FSTRM_IOTHR_INPUT_QUEUE_SIZE_MAX);
  return std::bit_ceil(clamped);
}

}  // namespace

DnstapWriter::DnstapWriter(DnstapOptions options) : options_(std::move(options)) {
  if (options_.path.empty()) throw std::invalid_argument("dnstap: no output path given");
  if (options_.workers == 0) throw std::invalid_argument(fmt::format("dnstap: '{}': workers must be at least 1", options_.path));

  std::unique_ptr<fstrm_writer_options, WriterOptionsDeleter> writer_options(fstrm_writer_options_init());
  fstrm_writer_options_add_content_type(writer_options.get(), kDnstapContentType.data(), kDnstapContentType.size());
  WriterPtr writer = options_.output == DnstapOptions::Output::unix_socket
                         ? open_unix_writer(options_, writer_options.get())
                         : open_file_writer(options_, writer_options.get());

  const unsigned queue_size = queue_size_for(options_.queue_size);
  std::unique_ptr<fstrm_iothr_options, IothrOptionsDeleter> iothr_options(fstrm_iothr_options_init());
  fstrm_iothr_options_set_num_input_queues(iothr_options.get(), options_.workers);
  fstrm_iothr_options_set_input_queue_size(iothr_options.get(), queue_size);
  fstrm_iothr_options_set_queue_model(iothr_options.get(), FSTRM_IOTHR_QUEUE_MODEL_SPSC);
  // The I/O thread is woken when a queue holds this many frames (else it
  // polls once a second); it must be reachable in a small queue.
  fstrm_iothr_options_set_queue_notify_threshold(
      iothr_options.get(), std::min<unsigned>(FSTRM_IOTHR_QUEUE_NOTIFY_THRESHOLD_DEFAULT, queue_size / 2));
  fstrm_iothr_options_set_reopen_interval(
      iothr_options.get(), std::clamp<unsigned>(options_.reopen_interval_seconds, FSTRM_IOTHR_REOPEN_INTERVAL_MIN,
                                                FSTRM_IOTHR_REOPEN_INTERVAL_MAX));

  fstrm_writer* raw_writer = writer.release();
  iothr_ = fstrm_iothr_init(iothr_options.get(), &raw_writer);
  if (iothr_ == nullptr) {
    fstrm_writer_destroy(&raw_writer);  // still ours when init fails early
    throw std::runtime_error(fmt::format("dnstap: cannot start the Frame Streams I/O thread for '{}'", options_.path));
  }
  queues_.reserve(options_.workers);
  for (unsigned i = 0; i < options_.workers; ++i) {
    fstrm_iothr_queue* queue = fstrm_iothr_get_input_queue_idx(iothr_, i);
    if (queue == nullptr) {
      fstrm_iothr_destroy(&iothr_);
      throw std::runtime_error(fmt::format("dnstap: cannot get Frame Streams queue {} for '{}'", i, options_.path));
    }
    queues_.push_back(queue);
  }
}

DnstapWriter::~DnstapWriter() { fstrm_iothr_destroy(&iothr_); }

bool DnstapWriter::wants(DnstapMessageType type) const noexcept {
  switch (type) {
    case DnstapMessageType::client_query: return options_.log_client_queries;
    case DnstapMessageType::client_response: return options_.log_client_responses;
    case DnstapMessageType::resolver_query: return options_.log_resolver_queries;
    case DnstapMessageType::resolver_response: return options_.log_resolver_responses;
    case DnstapMessageType::forwarder_query: return options_.log_forwarder_queries;
    case DnstapMessageType::forwarder_response: return options_.log_forwarder_responses;
  }
  return false;
}

bool DnstapWriter::log(const DnstapEvent& event) noexcept {
  if (!wants(event.type)) return false;
  if (event.worker >= queues_.size()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const DnstapEncoder encoder(event, options_.identity, options_.version);
  const size_t size = encoder.size();
  // fstrm owns the frame once queued and frees it with free() when written
  // or discarded; at most workers * queue_size frames (plus the I/O
  // thread's output batch of 64) are ever outstanding.
  auto* frame = static_cast<uint8_t*>(std::malloc(size));
  if (frame == nullptr) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const size_t packed = encoder.pack(frame);
  if (fstrm_iothr_submit(iothr_, queues_[event.worker], frame, packed, fstrm_free_wrapper, nullptr) !=
      fstrm_res_success) {
    std::free(frame);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  logged_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace sextant::transports
