// dnstap query logging: the protobuf encoding (decoded back with the
// protoc-c generated unpacker), the Frame Streams output to a Unix socket
// collector and to a file (read back with fstrm's reader), dropping when a
// worker's queue is full, bad paths, and wire compatibility with dnstap-ldns.
#include <arpa/inet.h>
#include <fstrm.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "transports/dnstap.pb-c.h"
#include "transports/dnstap_message.h"
#include "transports/dnstap_writer.h"

using namespace sextant::transports;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A DNS query for example.com/A with the given ID (hand-written wire bytes).
std::vector<uint8_t> dns_query(uint16_t id) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  const uint8_t name[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  q.insert(q.end(), std::begin(name), std::end(name));
  q.insert(q.end(), {0, 1, 0, 1});
  return q;
}

// The same as a response with no answers (QR and RA set).
std::vector<uint8_t> dns_response(uint16_t id) {
  auto r = dns_query(id);
  r[2] = 0x81;
  r[3] = 0x80;
  return r;
}

sockaddr_in ipv4(const char* text, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, text, &sa.sin_addr) == 1);
  return sa;
}

sockaddr_in6 ipv6(const char* text, uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  REQUIRE(inet_pton(AF_INET6, text, &sa.sin6_addr) == 1);
  return sa;
}

std::vector<uint8_t> bytes_of(const ProtobufCBinaryData& data) { return {data.data, data.data + data.len}; }

template <typename T>
std::vector<uint8_t> raw_bytes(const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  return {p, p + sizeof(value)};
}

struct Unpacked {
  Dnstap__Dnstap* frame = nullptr;
  explicit Unpacked(std::span<const uint8_t> bytes) : frame(dnstap__dnstap__unpack(nullptr, bytes.size(), bytes.data())) {}
  ~Unpacked() {
    if (frame) dnstap__dnstap__free_unpacked(frame, nullptr);
  }
  Unpacked(const Unpacked&) = delete;
  Unpacked& operator=(const Unpacked&) = delete;
};

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/sextant-dnstap-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// fstrm read/write callbacks over a connected socket the test owns, each
// step bounded by the socket's SO_RCVTIMEO/SO_SNDTIMEO.
fstrm_res fd_read(void* obj, void* data, size_t count) {
  const int fd = *static_cast<int*>(obj);
  auto* out = static_cast<uint8_t*>(data);
  while (count > 0) {
    const ssize_t n = ::recv(fd, out, count, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fstrm_res_failure;
    out += n;
    count -= static_cast<size_t>(n);
  }
  return fstrm_res_success;
}

fstrm_res fd_write(void* obj, const iovec* iov, int iovcnt) {
  const int fd = *static_cast<int*>(obj);
  for (int i = 0; i < iovcnt; ++i) {
    const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
    size_t left = iov[i].iov_len;
    while (left > 0) {
      const ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fstrm_res_failure;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  return fstrm_res_success;
}

fstrm_res fd_noop(void*) { return fstrm_res_success; }

// Reads data frames with fstrm's reader until STOP, an error or
// `max_frames`; finishes the handshake (FINISH) after STOP. `seen`, if given,
// counts frames as they arrive.
std::vector<std::vector<uint8_t>> read_frames(fstrm_rdwr* rdwr, std::atomic<size_t>* seen, size_t max_frames) {
  fstrm_reader_options* options = fstrm_reader_options_init();
  fstrm_reader_options_add_content_type(options, kDnstapContentType.data(), kDnstapContentType.size());
  fstrm_reader* reader = fstrm_reader_init(options, &rdwr);
  fstrm_reader_options_destroy(&options);
  std::vector<std::vector<uint8_t>> frames;
  if (reader == nullptr) return frames;
  for (;;) {
    const uint8_t* data = nullptr;
    size_t size = 0;
    const fstrm_res res = fstrm_reader_read(reader, &data, &size);
    if (res == fstrm_res_success) {
      frames.emplace_back(data, data + size);
      if (seen) seen->fetch_add(1);
      if (frames.size() >= max_frames) break;
      continue;
    }
    if (res == fstrm_res_stop) fstrm_reader_close(reader);  // sends FINISH
    break;
  }
  fstrm_reader_destroy(&reader);
  return frames;
}

// A collector on a Unix socket: listens at construction; collect() accepts
// one connection (waiting at most `accept_timeout`) and reads its frames.
class TestCollector {
 public:
  explicit TestCollector(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof(sa.sun_path));
    std::memcpy(sa.sun_path, path.data(), path.size());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
  }
  ~TestCollector() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  TestCollector(const TestCollector&) = delete;
  TestCollector& operator=(const TestCollector&) = delete;

  // Stops after `max_frames` by dropping the connection unannounced.
  std::vector<std::vector<uint8_t>> collect(std::chrono::milliseconds accept_timeout,
                                            std::atomic<size_t>* seen = nullptr, size_t max_frames = SIZE_MAX) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(accept_timeout.count())) != 1) return {};
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return {};
    const timeval timeout{3, 0};  // bounds every read: a stalled writer fails the test, not hangs it
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    fstrm_rdwr* rdwr = fstrm_rdwr_init(&conn);
    fstrm_rdwr_set_open(rdwr, fd_noop);
    fstrm_rdwr_set_close(rdwr, fd_noop);
    fstrm_rdwr_set_read(rdwr, fd_read);
    fstrm_rdwr_set_write(rdwr, fd_write);
    auto frames = read_frames(rdwr, seen, max_frames);
    ::close(conn);
    return frames;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::vector<std::vector<uint8_t>> read_frame_file(const std::string& path) {
  fstrm_file_options* file_options = fstrm_file_options_init();
  fstrm_file_options_set_file_path(file_options, path.c_str());
  fstrm_reader_options* options = fstrm_reader_options_init();
  fstrm_reader_options_add_content_type(options, kDnstapContentType.data(), kDnstapContentType.size());
  fstrm_reader* reader = fstrm_file_reader_init(file_options, options);
  fstrm_reader_options_destroy(&options);
  fstrm_file_options_destroy(&file_options);
  std::vector<std::vector<uint8_t>> frames;
  REQUIRE(reader != nullptr);
  for (;;) {
    const uint8_t* data = nullptr;
    size_t size = 0;
    if (fstrm_reader_read(reader, &data, &size) != fstrm_res_success) break;
    frames.emplace_back(data, data + size);
  }
  fstrm_reader_destroy(&reader);
  return frames;
}

uint16_t query_id_of(const ProtobufCBinaryData& message) {
  REQUIRE(message.len >= 2);
  return static_cast<uint16_t>(message.data[0] << 8 | message.data[1]);
}

}  // namespace

TEST_CASE("dnstap: a client query over IPv4 encodes every field", "[dnstap]") {
  const auto client = ipv4("192.0.2.7", 53111);
  const auto local = ipv4("127.0.0.1", 5353);
  const auto query = dns_query(0x1234);
  DnstapEvent event;
  event.type = DnstapMessageType::client_query;
  event.transport = Transport::tcp;
  event.query_address = reinterpret_cast<const sockaddr*>(&client);
  event.response_address = reinterpret_cast<const sockaddr*>(&local);
  event.message = query;
  event.time = DnstapTime{1700000000, 123456789};

  const auto bytes = encode_dnstap(event, "sextant-test", "sextant 0.1.0");
  Unpacked unpacked(bytes);
  REQUIRE(unpacked.frame != nullptr);
  const Dnstap__Dnstap& frame = *unpacked.frame;
  CHECK(frame.type == DNSTAP__DNSTAP__TYPE__MESSAGE);
  REQUIRE(frame.has_identity);
  CHECK(std::string(reinterpret_cast<const char*>(frame.identity.data), frame.identity.len) == "sextant-test");
  REQUIRE(frame.has_version);
  CHECK(std::string(reinterpret_cast<const char*>(frame.version.data), frame.version.len) == "sextant 0.1.0");
  CHECK_FALSE(frame.has_extra);
  REQUIRE(frame.message != nullptr);
  const Dnstap__Message& m = *frame.message;
  CHECK(m.type == DNSTAP__MESSAGE__TYPE__CLIENT_QUERY);
  CHECK(m.has_socket_family);
  CHECK(m.socket_family == DNSTAP__SOCKET_FAMILY__INET);
  CHECK(m.has_socket_protocol);
  CHECK(m.socket_protocol == DNSTAP__SOCKET_PROTOCOL__TCP);
  REQUIRE(m.has_query_address);
  CHECK(bytes_of(m.query_address) == raw_bytes(client.sin_addr));
  CHECK(bytes_of(m.query_address) == std::vector<uint8_t>{192, 0, 2, 7});
  REQUIRE(m.has_response_address);
  CHECK(bytes_of(m.response_address) == std::vector<uint8_t>{127, 0, 0, 1});
  CHECK(m.has_query_port);
  CHECK(m.query_port == 53111);
  CHECK(m.has_response_port);
  CHECK(m.response_port == 5353);
  CHECK(m.has_query_time_sec);
  CHECK(m.query_time_sec == 1700000000);
  CHECK(m.has_query_time_nsec);
  CHECK(m.query_time_nsec == 123456789);
  REQUIRE(m.has_query_message);
  CHECK(bytes_of(m.query_message) == query);
  CHECK_FALSE(m.has_response_message);
  CHECK_FALSE(m.has_response_time_sec);
  CHECK_FALSE(m.has_query_zone);
}

TEST_CASE("dnstap: a client response over IPv6 encodes every field", "[dnstap]") {
  const auto client = ipv6("2001:db8::53", 40000);
  const auto local = ipv6("::1", 853);
  const auto response = dns_response(0xbeef);
  DnstapEvent event;
  event.type = DnstapMessageType::client_response;
  event.transport = Transport::dot;
  event.query_address = reinterpret_cast<const sockaddr*>(&client);
  event.response_address = reinterpret_cast<const sockaddr*>(&local);
  event.message = response;
  event.time = DnstapTime{1700000001, 999999999};
  event.query_time = DnstapTime{1700000000, 5};

  const auto bytes = encode_dnstap(event, "", "");
  Unpacked unpacked(bytes);
  REQUIRE(unpacked.frame != nullptr);
  CHECK_FALSE(unpacked.frame->has_identity);
  CHECK_FALSE(unpacked.frame->has_version);
  REQUIRE(unpacked.frame->message != nullptr);
  const Dnstap__Message& m = *unpacked.frame->message;
  CHECK(m.type == DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE);
  CHECK(m.socket_family == DNSTAP__SOCKET_FAMILY__INET6);
  CHECK(m.socket_protocol == DNSTAP__SOCKET_PROTOCOL__DOT);
  REQUIRE(m.has_query_address);
  CHECK(bytes_of(m.query_address) == raw_bytes(client.sin6_addr));
  CHECK(m.query_address.len == 16);
  REQUIRE(m.has_response_address);
  CHECK(bytes_of(m.response_address) == raw_bytes(local.sin6_addr));
  CHECK(m.query_port == 40000);
  CHECK(m.response_port == 853);
  REQUIRE(m.has_response_message);
  CHECK(bytes_of(m.response_message) == response);
  CHECK_FALSE(m.has_query_message);
  CHECK(m.has_response_time_sec);
  CHECK(m.response_time_sec == 1700000001);
  CHECK(m.has_response_time_nsec);
  CHECK(m.response_time_nsec == 999999999);
  CHECK(m.has_query_time_sec);
  CHECK(m.query_time_sec == 1700000000);
  CHECK(m.query_time_nsec == 5);
}

TEST_CASE("dnstap: a client response carries the policy that applied", "[dnstap]") {
  const auto response = dns_response(0x1234);
  const uint8_t rule[] = {3, 'a', 'd', 's', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  const uint8_t qname[] = {1, 'x', 3, 'a', 'd', 's', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  DnstapPolicy policy;
  policy.type = "RPZ";
  policy.rule = rule;
  policy.action = 1;  // NXDOMAIN
  policy.match = 1;   // QNAME
  policy.value = qname;
  DnstapEvent event;
  event.type = DnstapMessageType::client_response;
  event.message = response;
  event.policy = &policy;
  const auto bytes = encode_dnstap(event, "", "");
  Unpacked unpacked(bytes);
  REQUIRE(unpacked.frame != nullptr);
  REQUIRE(unpacked.frame->message != nullptr);
  const Dnstap__Policy* p = unpacked.frame->message->policy;
  REQUIRE(p != nullptr);
  REQUIRE(p->type != nullptr);
  CHECK(std::string(p->type) == "RPZ");
  REQUIRE(p->has_rule);
  CHECK(bytes_of(p->rule) == std::vector<uint8_t>(std::begin(rule), std::end(rule)));
  CHECK(p->action == DNSTAP__POLICY__ACTION__NXDOMAIN);
  CHECK(p->match == DNSTAP__POLICY__MATCH__QNAME);
  CHECK(bytes_of(p->value) == std::vector<uint8_t>(std::begin(qname), std::end(qname)));
  // Without a policy the field is absent.
  event.policy = nullptr;
  Unpacked plain(encode_dnstap(event, "", ""));
  REQUIRE(plain.frame != nullptr);
  CHECK(plain.frame->message->policy == nullptr);
}

TEST_CASE("dnstap: transports map to dnstap socket protocols; unknown addresses are left out", "[dnstap]") {
  const auto query = dns_query(1);
  const std::pair<Transport, Dnstap__SocketProtocol> cases[] = {
      {Transport::udp, DNSTAP__SOCKET_PROTOCOL__UDP}, {Transport::tcp, DNSTAP__SOCKET_PROTOCOL__TCP},
      {Transport::dot, DNSTAP__SOCKET_PROTOCOL__DOT}, {Transport::doh, DNSTAP__SOCKET_PROTOCOL__DOH},
      {Transport::doq, DNSTAP__SOCKET_PROTOCOL__DOQ}};
  for (const auto& [transport, protocol] : cases) {
    DnstapEvent event;
    event.transport = transport;
    event.message = query;
    const auto bytes = encode_dnstap(event, "", "");
    Unpacked unpacked(bytes);
    REQUIRE(unpacked.frame != nullptr);
    REQUIRE(unpacked.frame->message != nullptr);
    CHECK(unpacked.frame->message->socket_protocol == protocol);
    CHECK_FALSE(unpacked.frame->message->has_socket_family);
    CHECK_FALSE(unpacked.frame->message->has_query_address);
    CHECK_FALSE(unpacked.frame->message->has_response_address);
    CHECK_FALSE(unpacked.frame->message->has_query_port);
  }

  // A resolver query: our socket (v4) asks a server; a v6 responder cannot
  // share the one socket_family and is left out; the zone is carried.
  const auto ours = ipv4("127.0.0.1", 40001);
  const auto server6 = ipv6("::1", 53);
  const uint8_t zone[] = {3, 'c', 'o', 'm', 0};
  DnstapEvent event;
  event.type = DnstapMessageType::resolver_query;
  event.query_address = reinterpret_cast<const sockaddr*>(&ours);
  event.response_address = reinterpret_cast<const sockaddr*>(&server6);
  event.message = query;
  event.query_zone = zone;
  const auto bytes = encode_dnstap(event, "", "");
  Unpacked unpacked(bytes);
  REQUIRE(unpacked.frame != nullptr);
  const Dnstap__Message& m = *unpacked.frame->message;
  CHECK(m.type == DNSTAP__MESSAGE__TYPE__RESOLVER_QUERY);
  CHECK(m.socket_family == DNSTAP__SOCKET_FAMILY__INET);
  CHECK(m.has_query_address);
  CHECK_FALSE(m.has_response_address);
  CHECK_FALSE(m.has_response_port);
  REQUIRE(m.has_query_zone);
  CHECK(bytes_of(m.query_zone) == std::vector<uint8_t>(std::begin(zone), std::end(zone)));
}

TEST_CASE("dnstap: two workers log through a Unix socket collector", "[dnstap]") {
  TempDir dir;
  const std::string socket_path = dir.path + "/dnstap.sock";
  TestCollector collector(socket_path);
  auto collected = std::async(std::launch::async, [&] { return collector.collect(5s); });

  constexpr unsigned kPerWorker = 400;
  const auto client = ipv4("127.0.0.1", 10053);
  {
    DnstapOptions options;
    options.path = socket_path;
    options.identity = "e2e";
    options.version = "sextant-test";
    options.workers = 2;
    DnstapWriter writer(options);
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < 2; ++w) {
      workers.emplace_back([&writer, &client, w] {
        for (unsigned i = 0; i < kPerWorker; ++i) {
          const auto query = dns_query(static_cast<uint16_t>(w * 10000 + i));
          DnstapEvent event;
          event.type = DnstapMessageType::client_query;
          event.transport = w == 0 ? Transport::udp : Transport::doh;
          event.query_address = reinterpret_cast<const sockaddr*>(&client);
          event.message = query;
          event.time = DnstapTime::now();
          event.worker = w;
          writer.log(event);
        }
      });
    }
    for (auto& t : workers) t.join();
    CHECK(writer.logged() == 2 * kPerWorker);
    CHECK(writer.dropped() == 0);
  }  // the destructor flushes and closes the stream (STOP/FINISH)

  REQUIRE(collected.wait_for(5s) == std::future_status::ready);
  const auto frames = collected.get();
  REQUIRE(frames.size() == 2 * kPerWorker);
  // Per worker, frames arrive in the order logged.
  std::array<unsigned, 2> next{0, 0};
  for (const auto& bytes : frames) {
    Unpacked unpacked(bytes);
    REQUIRE(unpacked.frame != nullptr);
    REQUIRE(unpacked.frame->message != nullptr);
    CHECK(std::string(reinterpret_cast<const char*>(unpacked.frame->identity.data), unpacked.frame->identity.len) == "e2e");
    const Dnstap__Message& m = *unpacked.frame->message;
    const uint16_t id = query_id_of(m.query_message);
    const unsigned w = id / 10000;
    REQUIRE(w < 2);
    CHECK(id % 10000 == next[w]);
    ++next[w];
    CHECK(m.socket_protocol == (w == 0 ? DNSTAP__SOCKET_PROTOCOL__UDP : DNSTAP__SOCKET_PROTOCOL__DOH));
    CHECK(m.query_port == 10053);
    CHECK(bytes_of(m.query_message) == dns_query(id));
  }
  CHECK(next[0] == kPerWorker);
  CHECK(next[1] == kPerWorker);
}

TEST_CASE("dnstap: a collector that starts later is reached without errors", "[dnstap]") {
  TempDir dir;
  const std::string socket_path = dir.path + "/late.sock";
  DnstapOptions options;
  options.path = socket_path;
  options.reopen_interval_seconds = 1;
  auto writer = std::make_unique<DnstapWriter>(options);  // no collector yet: not an error

  const auto query = dns_query(7);
  DnstapEvent event;
  event.message = query;
  CHECK(writer->log(event));  // queued; fstrm discards it while unconnected

  TestCollector collector(socket_path);
  std::atomic<size_t> seen{0};
  auto collected = std::async(std::launch::async, [&] { return collector.collect(5s, &seen); });
  // The I/O thread retries every second; keep logging until frames arrive.
  const auto deadline = Clock::now() + 5s;
  while (seen.load() < 3 && Clock::now() < deadline) {
    CHECK(writer->log(event));
    std::this_thread::sleep_for(20ms);
  }
  writer.reset();
  REQUIRE(collected.wait_for(5s) == std::future_status::ready);
  const auto frames = collected.get();
  REQUIRE(frames.size() >= 3);
  for (const auto& bytes : frames) {
    Unpacked unpacked(bytes);
    REQUIRE(unpacked.frame != nullptr);
    REQUIRE(unpacked.frame->message != nullptr);
    CHECK(bytes_of(unpacked.frame->message->query_message) == query);
  }
}

TEST_CASE("dnstap: a full queue drops and counts without blocking", "[dnstap]") {
  TempDir dir;
  const std::string socket_path = dir.path + "/stuck.sock";
  // A collector that listens but never accepts: fstrm connects (backlog),
  // sends READY and waits for ACCEPT until socket_timeout, draining nothing.
  TestCollector stuck(socket_path);
  DnstapOptions options;
  options.path = socket_path;
  options.workers = 1;
  options.queue_size = 2;
  options.socket_timeout = 800ms;
  auto writer = std::make_unique<DnstapWriter>(options);

  constexpr unsigned kEvents = 20000;
  const auto query = dns_query(9);
  DnstapEvent event;
  event.message = query;
  const auto start = Clock::now();
  unsigned queued = 0;
  for (unsigned i = 0; i < kEvents; ++i) queued += writer->log(event) ? 1 : 0;
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed < 1s);
  CHECK(writer->dropped() > 0);
  CHECK(writer->logged() == queued);
  CHECK(writer->logged() + writer->dropped() == kEvents);
  // The queue holds 2: everything else was refused while the I/O thread
  // waited for the handshake.
  CHECK(writer->dropped() >= kEvents - 64);

  // Shutdown is bounded by a few socket timeouts, not by the stuck peer.
  // It runs on a detached thread so that a regression fails here instead of
  // hanging the test program (the stuck writer would then be leaked).
  auto stopped = std::make_shared<std::promise<void>>();
  auto stopped_future = stopped->get_future();
  std::thread([w = writer.release(), stopped] {
    delete w;
    stopped->set_value();
  }).detach();
  CHECK(stopped_future.wait_for(4s) == std::future_status::ready);
}

TEST_CASE("dnstap: events the options do not ask for, or from an unknown worker, are not queued", "[dnstap]") {
  TempDir dir;
  DnstapOptions options;
  options.output = DnstapOptions::Output::file;
  options.path = dir.path + "/filtered.dnstap";
  options.log_client_queries = false;
  options.log_client_responses = true;
  options.workers = 2;
  DnstapWriter writer(options);
  CHECK_FALSE(writer.wants(DnstapMessageType::client_query));
  CHECK(writer.wants(DnstapMessageType::client_response));
  CHECK_FALSE(writer.wants(DnstapMessageType::resolver_query));
  CHECK_FALSE(writer.wants(DnstapMessageType::resolver_response));

  const auto query = dns_query(1);
  DnstapEvent event;
  event.message = query;
  event.type = DnstapMessageType::client_query;
  CHECK_FALSE(writer.log(event));
  CHECK(writer.logged() == 0);
  CHECK(writer.dropped() == 0);  // filtered, not dropped

  event.type = DnstapMessageType::client_response;
  event.worker = 2;  // only 0 and 1 exist
  CHECK_FALSE(writer.log(event));
  CHECK(writer.dropped() == 1);
  event.worker = 1;
  CHECK(writer.log(event));
  CHECK(writer.logged() == 1);
}

TEST_CASE("dnstap: bad output paths are reported with the path", "[dnstap]") {
  DnstapOptions options;
  options.path = "/nonexistent-sextant-dir/sub/dnstap.sock";
  CHECK_THROWS_WITH(DnstapWriter(options), Catch::Contains("/nonexistent-sextant-dir/sub/dnstap.sock") &&
                                               Catch::Contains("does not exist"));
  options.output = DnstapOptions::Output::file;
  options.path = "/nonexistent-sextant-dir/sub/log.dnstap";
  CHECK_THROWS_WITH(DnstapWriter(options), Catch::Contains("/nonexistent-sextant-dir/sub/log.dnstap") &&
                                               Catch::Contains("No such file or directory"));
  options.output = DnstapOptions::Output::unix_socket;
  options.path = "/tmp/" + std::string(200, 'x');
  CHECK_THROWS_AS(DnstapWriter(options), std::invalid_argument);
  options.path.clear();
  CHECK_THROWS_AS(DnstapWriter(options), std::invalid_argument);
  options.path = "/tmp/x.sock";
  options.workers = 0;
  CHECK_THROWS_AS(DnstapWriter(options), std::invalid_argument);
}

TEST_CASE("dnstap: a file written by the writer reads back with fstrm and dnstap-ldns", "[dnstap]") {
  TempDir dir;
  const std::string file = dir.path + "/log.dnstap";
  const auto client = ipv4("192.0.2.1", 4242);
  const auto local = ipv4("127.0.0.1", 53);
  const auto client6 = ipv6("2001:db8::1", 4343);
  const auto query = dns_query(0x0101);
  const auto response = dns_response(0x0101);
  {
    DnstapOptions options;
    options.output = DnstapOptions::Output::file;
    options.path = file;
    options.identity = "file-test";
    options.version = "sextant 0.1.0";
    DnstapWriter writer(options);
    DnstapEvent event;
    event.query_address = reinterpret_cast<const sockaddr*>(&client);
    event.response_address = reinterpret_cast<const sockaddr*>(&local);
    event.message = query;
    event.time = DnstapTime{1700000000, 1000};
    REQUIRE(writer.log(event));
    event.type = DnstapMessageType::client_response;
    event.message = response;
    event.query_time = event.time;
    event.time = DnstapTime{1700000000, 2000};
    REQUIRE(writer.log(event));
    event.type = DnstapMessageType::client_query;
    // dnstap-ldns 0.2.1 (Debian 12) predates SocketProtocol DOT/DOH/DOQ and
    // fails to print such frames, so the frame it reads here uses TCP.
    event.transport = Transport::tcp;
    event.query_address = reinterpret_cast<const sockaddr*>(&client6);
    event.response_address = nullptr;
    event.message = query;
    event.query_time.reset();
    REQUIRE(writer.log(event));
  }  // the file is complete once the writer is gone

  const auto frames = read_frame_file(file);
  REQUIRE(frames.size() == 3);
  Unpacked first(frames[0]);
  REQUIRE(first.frame != nullptr);
  CHECK(first.frame->message->type == DNSTAP__MESSAGE__TYPE__CLIENT_QUERY);
  CHECK(bytes_of(first.frame->message->query_message) == query);
  Unpacked second(frames[1]);
  REQUIRE(second.frame != nullptr);
  CHECK(second.frame->message->type == DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE);
  CHECK(bytes_of(second.frame->message->response_message) == response);
  CHECK(second.frame->message->query_time_nsec == 1000);
  CHECK(second.frame->message->response_time_nsec == 2000);

  // Wire compatibility of the field numbers: an independent reader.
  const char* ldns = "/usr/bin/dnstap-ldns";
  if (access(ldns, X_OK) != 0) {
    WARN("dnstap-ldns not installed: independent decoding skipped (apt-get install dnstap-ldns)");
    return;
  }
  const std::string command = std::string(ldns) + " -y -r " + file + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) output.append(buffer.data(), n);
  INFO(output);
  CHECK_THAT(output, Catch::Contains("identity: \"file-test\""));
  CHECK_THAT(output, Catch::Contains("version: \"sextant 0.1.0\""));
  CHECK_THAT(output, Catch::Contains("type: CLIENT_QUERY"));
  CHECK_THAT(output, Catch::Contains("type: CLIENT_RESPONSE"));
  CHECK_THAT(output, Catch::Contains("socket_family: INET6"));
  CHECK_THAT(output, Catch::Contains("socket_protocol: UDP"));
  CHECK_THAT(output, Catch::Contains("socket_protocol: TCP"));
  CHECK_THAT(output, Catch::Contains("query_time: !!timestamp 2023-11-14 22:13:20.000001"));
  CHECK_THAT(output, Catch::Contains("response_time: !!timestamp 2023-11-14 22:13:20.000002"));
  CHECK_THAT(output, !Catch::Contains("failed"));
  CHECK_THAT(output, Catch::Contains("query_address: \"192.0.2.1\""));
  CHECK_THAT(output, Catch::Contains("query_address: \"2001:db8::1\""));
  CHECK_THAT(output, Catch::Contains("response_address: \"127.0.0.1\""));
  CHECK_THAT(output, Catch::Contains("query_port: 4242"));
  CHECK_THAT(output, Catch::Contains("response_port: 53"));
  CHECK_THAT(output, Catch::Contains("example.com."));
}

TEST_CASE("dnstap: a collector that restarts is reconnected", "[dnstap]") {
  TempDir dir;
  const std::string socket_path = dir.path + "/restart.sock";
  DnstapOptions options;
  options.path = socket_path;
  options.reopen_interval_seconds = 1;
  const auto query = dns_query(7);
  DnstapEvent event;
  event.message = query;

  // The first collector reads three frames, then drops the connection
  // without ending the stream (a crash or restart).
  auto first = std::make_unique<TestCollector>(socket_path);
  auto writer = std::make_unique<DnstapWriter>(options);
  auto first_frames = std::async(std::launch::async, [&] { return first->collect(5s, nullptr, 3); });
  for (int i = 0; i < 200 && first_frames.wait_for(10ms) != std::future_status::ready; ++i) writer->log(event);
  REQUIRE(first_frames.wait_for(5s) == std::future_status::ready);
  CHECK(first_frames.get().size() == 3);
  first.reset();

  // Its successor gets frames again once fstrm has noticed and reconnected.
  TestCollector second(socket_path);
  std::atomic<size_t> seen{0};
  auto second_frames = std::async(std::launch::async, [&] { return second.collect(6s, &seen); });
  const auto deadline = Clock::now() + 6s;
  while (seen.load() < 3 && Clock::now() < deadline) {
    writer->log(event);
    std::this_thread::sleep_for(20ms);
  }
  writer.reset();
  REQUIRE(second_frames.wait_for(5s) == std::future_status::ready);
  CHECK(second_frames.get().size() >= 3);
}

TEST_CASE("dnstap: queries to forward upstreams are FORWARDER_QUERY / FORWARDER_RESPONSE", "[dnstap]") {
  const auto query = dns_query(1);
  for (auto [type, expected] : {std::pair{DnstapMessageType::forwarder_query, DNSTAP__MESSAGE__TYPE__FORWARDER_QUERY},
                                std::pair{DnstapMessageType::forwarder_response,
                                          DNSTAP__MESSAGE__TYPE__FORWARDER_RESPONSE}}) {
    DnstapEvent event;
    event.type = type;
    event.transport = Transport::dot;
    event.message = query;
    event.time = DnstapTime{1700000000, 5};
    event.query_time = DnstapTime{1699999999, 7};
    const auto bytes = encode_dnstap(event, "", "");
    Unpacked unpacked(bytes);
    REQUIRE(unpacked.frame != nullptr);
    const Dnstap__Message& m = *unpacked.frame->message;
    CHECK(m.type == expected);
    CHECK(m.socket_protocol == DNSTAP__SOCKET_PROTOCOL__DOT);
    // The message goes in the query or the response field as the type says.
    CHECK(m.has_query_message == (type == DnstapMessageType::forwarder_query));
    CHECK(m.has_response_message == (type == DnstapMessageType::forwarder_response));
  }
  TempDir dir;
  DnstapOptions options;
  options.output = DnstapOptions::Output::file;
  options.path = dir.path + "/forwarder.dnstap";
  options.log_forwarder_queries = true;
  DnstapWriter writer(options);
  CHECK(writer.wants(DnstapMessageType::forwarder_query));
  CHECK_FALSE(writer.wants(DnstapMessageType::forwarder_response));
  CHECK_FALSE(writer.wants(DnstapMessageType::resolver_query));
}
