// libFuzzer target for DoH over HTTP/2: the server session of
// transports/doh_http2_session.h driven through nghttp2's real callbacks,
// with the fuzzer's bytes as everything the client sends after the
// connection preface (which the target sends first). No sockets, no TLS.
//
// Input: one control octet, then the client's frames. The control octet
// picks how the input is cut (bits 0-3: piece size 1..16 times 7 octets, 0:
// all at once) and how the "resolver" answers (bits 4-5: at once inside
// dispatch, after the next piece, abandoned, or a mix by token).
//
// Properties checked on every input (any violation aborts):
// - nothing crashes, leaks, reads out of bounds or loops (ASan/UBSan, the
//   time limit);
// - what the server writes is a well-formed sequence of HTTP/2 frames;
// - no HEADERS or DATA frame goes out on a stream after the server reset it
//   or the client's RST_STREAM for it was accepted (nothing is written to a
//   dead stream, however late the answer comes);
// - the session never holds more streams than its SETTINGS allow (plus the
//   one being refused), counts no more pending requests than open streams
//   or unanswered tokens, and buffers no more than its body budget;
// - once receive() returned false, the target stops feeding (as the
//   connection does); the session is then destroyed with answers still due.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include "transports/doh_http2_session.h"

using namespace sextant::transports;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

constexpr uint32_t kMaxStreams = 8;
constexpr size_t kMaxBufferedBodies = 512 * 1024;  // doh_http2_session.cpp's budget

enum class AnswerMode { at_once, later, abandon, mixed };

// Parses the server's output frame by frame and checks that no stream gets
// HEADERS or DATA after a reset.
class ServerOutputChecker {
 public:
  void feed(std::span<const uint8_t> data) {
    pending_.insert(pending_.end(), data.begin(), data.end());
    size_t at = 0;
    while (pending_.size() - at >= 9) {
      const uint8_t* h = pending_.data() + at;
      size_t length = static_cast<size_t>(h[0]) << 16 | static_cast<size_t>(h[1]) << 8 | h[2];
      require(length <= 16384);  // nghttp2 never sends larger frames unless told to
      if (pending_.size() - at < 9 + length) break;
      uint8_t type = h[3];
      uint32_t stream = (static_cast<uint32_t>(h[5]) << 24 | static_cast<uint32_t>(h[6]) << 16 |
                         static_cast<uint32_t>(h[7]) << 8 | h[8]) & 0x7fffffffu;
      if (type == 0x0 || type == 0x1) require(!dead_.contains(stream));  // DATA, HEADERS
      if (type == 0x3) dead_.insert(stream);                            // RST_STREAM
      at += 9 + length;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(at));
  }
  void client_reset(uint32_t stream) { dead_.insert(stream); }

 private:
  std::vector<uint8_t> pending_;
  std::set<uint32_t> dead_;
};

class MemoryHost final : public DohHttp2Host {
 public:
  explicit MemoryHost(AnswerMode mode) : mode_(mode) {}

  bool write(std::span<const uint8_t> data) override {
    require(open_);
    checker.feed(data);
    return true;
  }
  bool is_open() const override { return open_; }
  void close(bool) override { open_ = false; }
  void touch() override {}
  TransportCounters& counters() override { return counters_; }
  void dispatch(std::span<const uint8_t> query, std::string_view, uint64_t token) override {
    require(query.size() >= 12 && query.size() <= 65535);
    require(outstanding_.insert(token).second);  // one dispatch per stream
    std::vector<uint8_t> answer(query.begin(), query.end());
    answer[2] |= 0x80;  // QR
    AnswerMode mode = mode_ == AnswerMode::mixed ? static_cast<AnswerMode>(token % 3) : mode_;
    if (mode == AnswerMode::at_once) {
      outstanding_.erase(token);
      session->deliver(token, answer);
    } else {
      later_.push_back({token, mode == AnswerMode::abandon, std::move(answer)});
    }
  }

  // Answers (or abandons) what was held back, as the resolver would later.
  void answer_held() {
    std::deque<Held> due;
    due.swap(later_);
    for (auto& held : due) {
      outstanding_.erase(held.token);
      if (held.abandon) {
        session->abandon(held.token);
      } else {
        session->deliver(held.token, held.answer);
      }
    }
  }
  size_t outstanding() const { return outstanding_.size(); }

  DohHttp2Session* session = nullptr;
  ServerOutputChecker checker;

 private:
  struct Held {
    uint64_t token;
    bool abandon;
    std::vector<uint8_t> answer;
  };
  AnswerMode mode_;
  bool open_ = true;
  TransportCounters counters_;
  std::set<uint64_t> outstanding_;
  std::deque<Held> later_;
};

struct ClientReset {
  size_t end;  // offset just past the frame in the client's input
  uint32_t stream;
};

// The client's RST_STREAM frames, framed as nghttp2 frames the input. Once
// one is read, its stream is closed (or the connection failed, when it was
// not acceptable): the server must stay silent on that stream. nghttp2
// processes a whole piece before the session writes anything, so a reset is
// in force for all the output of the piece that completes it.
std::vector<ClientReset> client_resets(std::span<const uint8_t> frames) {
  std::vector<ClientReset> resets;
  size_t at = 0;
  while (frames.size() - at >= 9) {
    const uint8_t* h = frames.data() + at;
    size_t length = static_cast<size_t>(h[0]) << 16 | static_cast<size_t>(h[1]) << 8 | h[2];
    uint32_t stream = (static_cast<uint32_t>(h[5]) << 24 | static_cast<uint32_t>(h[6]) << 16 |
                       static_cast<uint32_t>(h[7]) << 8 | h[8]) & 0x7fffffffu;
    if (frames.size() - at < 9 + length) break;
    at += 9 + length;
    if (h[3] == 0x3 && length == 4 && stream != 0) resets.push_back({at, stream});
  }
  return resets;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  std::span<const uint8_t> frames(data + 1, size - 1);
  const size_t piece = (control & 0x0f) == 0 ? frames.size() : (control & 0x0f) * 7u;
  const auto mode = static_cast<AnswerMode>((control >> 4) & 0x03);

  MemoryHost host(mode);
  DohHttp2Settings settings;
  settings.max_concurrent_streams = kMaxStreams;
  settings.endpoint.json = (control & 0x40) != 0;
  settings.alt_svc = (control & 0x80) ? "h3=\":443\"; ma=86400" : "";
  auto session = make_doh_http2_memory_session(host, settings);
  host.session = session.get();
  session->start();

  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bool open = session->receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPreface.data()), kPreface.size()));
  require(open);
  const auto resets = client_resets(frames);
  size_t next_reset = 0;
  for (size_t at = 0; open && at < frames.size(); at += piece) {
    const size_t n = std::min(piece, frames.size() - at);
    for (; next_reset < resets.size() && resets[next_reset].end <= at + n; ++next_reset) {
      host.checker.client_reset(resets[next_reset].stream);
    }
    open = session->receive(frames.subspan(at, n)) && host.is_open();
    require(session->streams() <= kMaxStreams + 1);
    require(session->pending() <= session->streams());
    require(session->pending() <= host.outstanding());
    require(session->buffered() <= kMaxBufferedBodies);
    if (open) host.answer_held();
  }
  if (open) host.answer_held();
  require(session->pending() <= host.outstanding());
  session.reset();  // with answers possibly still held: they must find nothing
  return 0;
}
