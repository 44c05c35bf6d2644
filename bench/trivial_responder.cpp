// The ceiling for the cache-hit benchmark: the least work a UDP DNS server can
// do per query. One thread, one socket, recvmmsg/sendmmsg in batches; every
// query gets its own question echoed back with one canned A record (NODATA for
// other types), and no lookup of any kind. A resolver answering from its cache
// does at least this much work, so "queries per CPU-second" of this program is
// the yardstick the real servers are measured against (bench/cache_hit.py).
//
//   trivial_responder ADDR@PORT      e.g. 127.0.0.1@5399 (port 0: any free port)
//
// Prints "listening ADDR@PORT" on stdout once bound; on SIGTERM/SIGINT prints
// its counters on stderr and exits 0. Malformed datagrams never crash it: a
// query it cannot parse gets FORMERR (when it has a header) or is dropped.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace {

constexpr unsigned kBatch = 64;             // datagrams per recvmmsg/sendmmsg
constexpr size_t kBufferSize = 4096;        // larger queries are dropped (MSG_TRUNC)
constexpr size_t kHeaderSize = 12;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kClassIn = 1;
constexpr uint32_t kAnswerTtl = 300;
constexpr uint8_t kAnswerAddress[4] = {192, 0, 2, 1};  // TEST-NET-1
constexpr uint16_t kEdnsPayload = 1232;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Counters {
  uint64_t answered = 0;
  uint64_t formerr = 0;
  uint64_t dropped = 0;
  uint64_t send_errors = 0;
};

uint16_t read16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void write16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void write32(uint8_t* p, uint32_t v) {
  write16(p, static_cast<uint16_t>(v >> 16));
  write16(p + 2, static_cast<uint16_t>(v));
}

// Length of the uncompressed name at `offset` (labels up to the root), or
// nothing if it runs past `size`, uses compression or is longer than 255.
std::optional<size_t> name_length(const uint8_t* msg, size_t size, size_t offset) {
  size_t at = offset;
  while (at < size) {
    uint8_t len = msg[at];
    if (len == 0) {
      size_t total = at + 1 - offset;
      if (total > 255) return std::nullopt;
      return total;
    }
    if (len > 63) return std::nullopt;  // compression or reserved label types
    at += 1 + len;
  }
  return std::nullopt;
}

// Builds the reply to the query in `buf` (of `size` bytes) in place and
// returns its length, or 0 to drop the datagram.
size_t build_reply(uint8_t* buf, size_t size, Counters& counters) {
  if (size < kHeaderSize) {
    ++counters.dropped;
    return 0;
  }
  const bool is_response = buf[2] & 0x80;
  if (is_response) {  // never answer answers (no reflection loops)
    ++counters.dropped;
    return 0;
  }
  const uint8_t opcode = (buf[2] >> 3) & 0x0f;
  const uint16_t qdcount = read16(buf + 4);
  const uint16_t arcount = read16(buf + 10);
  std::optional<size_t> qname_len;
  if (opcode == 0 && qdcount == 1) qname_len = name_length(buf, size, kHeaderSize);
  const size_t question_end = qname_len ? kHeaderSize + *qname_len + 4 : 0;
  if (!qname_len || question_end > size) {
    // FORMERR: the header alone, QR set, counts zeroed, RD kept.
    buf[2] = static_cast<uint8_t>(0x80 | (buf[2] & 0x79));
    buf[3] = 0x01;
    std::memset(buf + 4, 0, 8);
    ++counters.formerr;
    return kHeaderSize;
  }
  const uint16_t qtype = read16(buf + kHeaderSize + *qname_len);
  const uint16_t qclass = read16(buf + kHeaderSize + *qname_len + 2);

  // The query's OPT, if it is the one additional record right after the question.
  bool has_opt = false;
  bool dnssec_ok = false;
  if (arcount == 1 && question_end + 11 <= size && buf[question_end] == 0 &&
      read16(buf + question_end + 1) == kTypeOpt) {
    has_opt = true;
    dnssec_ok = buf[question_end + 7] & 0x80;
  }

  const bool answer_a = qtype == kTypeA && qclass == kClassIn;
  const size_t answer_size = answer_a ? 16 : 0;
  const size_t opt_size = has_opt ? 11 : 0;
  if (question_end + answer_size + opt_size > kBufferSize) {
    ++counters.dropped;
    return 0;
  }
  // Header: QR, opcode 0, AA clear, TC clear, RD copied; RA set, rcode NOERROR.
  buf[2] = static_cast<uint8_t>(0x80 | (buf[2] & 0x01));
  buf[3] = 0x80;
  write16(buf + 4, 1);
  write16(buf + 6, answer_a ? 1 : 0);
  write16(buf + 8, 0);
  write16(buf + 10, has_opt ? 1 : 0);
  uint8_t* out = buf + question_end;
  if (answer_a) {
    write16(out, 0xc000 | kHeaderSize);  // pointer to the question name
    write16(out + 2, kTypeA);
    write16(out + 4, kClassIn);
    write32(out + 6, kAnswerTtl);
    write16(out + 10, 4);
    std::memcpy(out + 12, kAnswerAddress, 4);
    out += 16;
  }
  if (has_opt) {
    out[0] = 0;  // root owner
    write16(out + 1, kTypeOpt);
    write16(out + 3, kEdnsPayload);
    write32(out + 5, dnssec_ok ? 0x00008000u : 0u);  // ext-rcode 0, version 0, DO echoed
    write16(out + 9, 0);
    out += 11;
  }
  ++counters.answered;
  return static_cast<size_t>(out - buf);
}

// "ADDR@PORT" or "ADDR:PORT" (IPv4) -> sockaddr_in.
bool parse_endpoint(const std::string& text, sockaddr_in& out) {
  size_t sep = text.rfind('@');
  if (sep == std::string::npos) sep = text.rfind(':');
  if (sep == std::string::npos) return false;
  std::string host = text.substr(0, sep);
  char* end = nullptr;
  long port = std::strtol(text.c_str() + sep + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) return false;
  std::memset(&out, 0, sizeof out);
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, host.c_str(), &out.sin_addr) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ADDR@PORT\n", argv[0]);
    return 2;
  }
  sockaddr_in addr{};
  if (!parse_endpoint(argv[1], addr)) {
    std::fprintf(stderr, "trivial_responder: bad endpoint '%s' (want IPv4 ADDR@PORT)\n", argv[1]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("socket");
    return 1;
  }
  int rcvbuf = 4 << 20;  // absorb bursts from the load generator
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("bind");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
  std::printf("listening %s@%u\n", host, ntohs(addr.sin_port));
  std::fflush(stdout);

  // No SA_RESTART: a signal must interrupt the blocking recvmmsg.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  static std::array<std::array<uint8_t, kBufferSize>, kBatch> buffers;
  std::array<sockaddr_storage, kBatch> peers{};
  std::array<iovec, kBatch> in_iov{};
  std::array<mmsghdr, kBatch> in{};
  std::array<iovec, kBatch> out_iov{};
  std::array<mmsghdr, kBatch> out{};
  Counters counters;

  while (!g_stop) {
    for (unsigned i = 0; i < kBatch; ++i) {
      in_iov[i] = {buffers[i].data(), kBufferSize};
      in[i].msg_hdr = {};
      in[i].msg_hdr.msg_name = &peers[i];
      in[i].msg_hdr.msg_namelen = sizeof peers[i];
      in[i].msg_hdr.msg_iov = &in_iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
    // Block for the first datagram, then take whatever else is queued.
    int got = recvmmsg(fd, in.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::perror("recvmmsg");
      break;
    }
    unsigned replies = 0;
    for (int i = 0; i < got; ++i) {
      if (in[i].msg_hdr.msg_flags & MSG_TRUNC) {
        ++counters.dropped;
        continue;
      }
      size_t reply_len = build_reply(buffers[i].data(), in[i].msg_len, counters);
      if (reply_len == 0) continue;
      out_iov[replies] = {buffers[i].data(), reply_len};
      out[replies].msg_hdr = {};
      out[replies].msg_hdr.msg_name = &peers[i];
      out[replies].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
      out[replies].msg_hdr.msg_iov = &out_iov[replies];
      out[replies].msg_hdr.msg_iovlen = 1;
      ++replies;
    }
    unsigned sent = 0;
    while (sent < replies) {
      int n = sendmmsg(fd, out.data() + sent, replies - sent, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        // The first unsent reply failed (e.g. its peer is unreachable):
        // drop that one and go on with the rest of the batch.
        ++counters.send_errors;
        ++sent;
        continue;
      }
      sent += static_cast<unsigned>(n);
    }
  }
  std::fprintf(stderr, "trivial_responder: answered %llu formerr %llu dropped %llu send_errors %llu\n",
               static_cast<unsigned long long>(counters.answered),
               static_cast<unsigned long long>(counters.formerr),
               static_cast<unsigned long long>(counters.dropped),
               static_cast<unsigned long long>(counters.send_errors));
  close(fd);
  return 0;
}
