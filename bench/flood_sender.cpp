// An open-loop UDP flood of random names under one zone, for bench/flood.py
// (random-subdomain / "water torture" attack on a resolver).
//
//   flood_sender ADDRESS PORT ZONE QPS SECONDS [SOCKETS]
//
// Sends QPS queries per second ("<12 random hex>.ZONE A", RD=1, EDNS 1232)
// for SECONDS from SOCKETS (4) source ports, paced every millisecond by an
// absolute clock: unlike dnsperf's -Q, which limits queries in flight, it
// never slows down when answers are missing. Replies are read between ticks
// and counted by rcode, with the latency of each (matched by socket and
// ID). After the last send it listens 1 s more, then prints one line of
// key=value figures. Bounded: QPS <= 200000, SECONDS <= 120, and the
// destination must be a loopback address (the lab never leaves
// 127.0.0.0/8).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kBatch = 64;
constexpr uint64_t kNsPerMs = 1000000;

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void sleep_until(uint64_t ns) {
  timespec ts{time_t(ns / 1000000000ull), long(ns % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// A query for "<label>.<zone>" A with the given ID; returns its length.
size_t build_query(uint8_t* out, uint16_t id, const std::string& label, const std::string& zone) {
  uint8_t* p = out;
  const uint8_t header[12] = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
  std::memcpy(p, header, 12);
  p += 12;
  *p++ = uint8_t(label.size());
  std::memcpy(p, label.data(), label.size());
  p += label.size();
  size_t start = 0;
  while (start < zone.size()) {
    size_t dot = zone.find('.', start);
    if (dot == std::string::npos) dot = zone.size();
    if (dot > start) {
      *p++ = uint8_t(dot - start);
      std::memcpy(p, zone.data() + start, dot - start);
      p += dot - start;
    }
    start = dot + 1;
  }
  *p++ = 0;
  const uint8_t tail[] = {0, 1, 0, 1,                    // A IN
                          0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};  // OPT, 1232
  std::memcpy(p, tail, sizeof tail);
  p += sizeof tail;
  return size_t(p - out);
}

struct Socket {
  int fd = -1;
  std::vector<uint64_t> sent_at = std::vector<uint64_t>(65536, 0);  // by ID, 0 = none
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s ADDRESS PORT ZONE QPS SECONDS [SOCKETS]\n", argv[0]);
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(uint16_t(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || (ntohl(to.sin_addr.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "flood_sender: %s is not an IPv4 loopback address\n", argv[1]);
    return 2;
  }
  const std::string zone = argv[3];
  const long qps = std::atol(argv[4]);
  const double seconds = std::atof(argv[5]);
  const int sockets = argc > 6 ? std::max(1, std::min(64, std::atoi(argv[6]))) : 4;
  if (qps < 1 || qps > 200000 || seconds <= 0 || seconds > 120) {
    std::fprintf(stderr, "flood_sender: QPS must be 1..200000 and SECONDS 0..120\n");
    return 2;
  }

  std::vector<Socket> socks(static_cast<size_t>(sockets));
  for (auto& s : socks) {
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int buffer = 4 << 20;
    setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    if (s.fd < 0 || connect(s.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      std::perror("flood_sender: socket");
      return 1;
    }
  }

  std::mt19937_64 rng(std::random_device{}());
  uint64_t sent = 0, send_errors = 0, answered = 0, unmatched = 0;
  std::array<uint64_t, 16> rcodes{};
  std::vector<uint32_t> latencies_us;
  latencies_us.reserve(size_t(double(qps) * seconds) + 1024);

  std::array<std::array<uint8_t, 512>, kBatch> out{};
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iovs{};
  std::array<std::array<uint8_t, 1500>, kBatch> in{};
  std::array<mmsghdr, kBatch> rmsgs{};
  std::array<iovec, kBatch> riovs{};
  for (int i = 0; i < kBatch; ++i) {
    riovs[i] = {in[i].data(), in[i].size()};
    rmsgs[i].msg_hdr.msg_iov = &riovs[i];
    rmsgs[i].msg_hdr.msg_iovlen = 1;
  }

  auto drain = [&](uint64_t now) {
    for (auto& s : socks) {
      for (int rounds = 0; rounds < 64; ++rounds) {
        int n = recvmmsg(s.fd, rmsgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
          if (rmsgs[i].msg_len < 12) continue;
          const uint8_t* p = in[i].data();
          uint16_t id = uint16_t((p[0] << 8) | p[1]);
          if (s.sent_at[id] == 0) {
            ++unmatched;
            continue;
          }
          ++answered;
          ++rcodes[p[3] & 0x0f];
          latencies_us.push_back(uint32_t(std::min<uint64_t>((now - s.sent_at[id]) / 1000, UINT32_MAX)));
          s.sent_at[id] = 0;
        }
        if (n < kBatch) break;
      }
    }
  };

  const uint64_t start = now_ns();
  const uint64_t total = uint64_t(double(qps) * seconds);
  uint64_t tick = start;
  size_t next_socket = 0;
  static const char kHex[] = "0123456789abcdef";
  while (sent + send_errors < total) {
    tick += kNsPerMs;
    // Queries due by this tick (the absolute schedule: a late tick sends
    // what it owes, so the offered rate holds whatever the answers do).
    uint64_t due = std::min<uint64_t>(total, (tick - start) * uint64_t(qps) / 1000000000ull);
    while (sent + send_errors < due) {
      int n = int(std::min<uint64_t>(kBatch, due - sent - send_errors));
      Socket& s = socks[next_socket++ % socks.size()];
      uint64_t now = now_ns();
      for (int i = 0; i < n; ++i) {
        std::string label(12, '0');
        uint64_t r = rng();
        for (auto& c : label) {
          c = kHex[r & 15];
          r >>= 4;
        }
        uint16_t id = uint16_t(rng());
        size_t len = build_query(out[i].data(), id, label, zone);
        iovs[i] = {out[i].data(), len};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        s.sent_at[id] = now;  // a reused ID overwrites: that query counts as lost
      }
      int done = sendmmsg(s.fd, msgs.data(), unsigned(n), MSG_DONTWAIT);
      if (done < 0) done = 0;
      sent += uint64_t(done);
      send_errors += uint64_t(n - done);
    }
    drain(now_ns());
    if (now_ns() < tick) sleep_until(tick);
  }
  const double send_seconds = double(now_ns() - start) / 1e9;
  const uint64_t listen_until = now_ns() + 1000 * kNsPerMs;
  while (now_ns() < listen_until) {
    drain(now_ns());
    sleep_until(now_ns() + kNsPerMs);
  }

  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double f) -> double {
    if (latencies_us.empty()) return -1;
    size_t i = std::min(latencies_us.size() - 1, size_t(f * double(latencies_us.size())));
    return latencies_us[i] / 1000.0;
  };
  std::printf(
      "sent=%llu send_errors=%llu send_seconds=%.3f answered=%llu noerror=%llu servfail=%llu "
      "nxdomain=%llu refused=%llu other=%llu unmatched=%llu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
      (unsigned long long)sent, (unsigned long long)send_errors, send_seconds,
      (unsigned long long)answered, (unsigned long long)rcodes[0], (unsigned long long)rcodes[2],
      (unsigned long long)rcodes[3], (unsigned long long)rcodes[5],
      (unsigned long long)(answered - rcodes[0] - rcodes[2] - rcodes[3] - rcodes[5]),
      (unsigned long long)unmatched, pct(0.5), pct(0.99),
      latencies_us.empty() ? -1.0 : latencies_us.back() / 1000.0);
  for (auto& s : socks) close(s.fd);
  return 0;
}
