#include <catch2/catch.hpp>

#include <vector>

#include "transports/stream_framing.h"

using namespace sextant::transports;
using Bytes = std::vector<uint8_t>;
using Status = StreamFrameDecoder::Status;

namespace {

Bytes message(size_t size, uint8_t fill) { return Bytes(size, fill); }

Bytes framed(std::initializer_list<Bytes> messages) {
  Bytes out;
  for (const auto& m : messages) REQUIRE(append_framed(out, m));
  return out;
}

Bytes as_bytes(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

}  // namespace

TEST_CASE("framing: whole frames are served in place", "[tcp][framing]") {
  Bytes a = message(20, 0xaa), b = message(300, 0xbb);
  Bytes input = framed({a, b});
  StreamFrameDecoder d;
  d.feed(input);
  std::span<const uint8_t> frame;
  REQUIRE(d.next(frame) == Status::frame);
  CHECK(as_bytes(frame) == a);
  CHECK(frame.data() == input.data() + 2);  // no copy
  REQUIRE(d.next(frame) == Status::frame);
  CHECK(as_bytes(frame) == b);
  CHECK(d.next(frame) == Status::need_more);
  CHECK_FALSE(d.has_buffered_bytes());
  CHECK(d.buffered_size() == 0);
}

TEST_CASE("framing: a frame split at every byte boundary is reassembled", "[tcp][framing]") {
  Bytes a = message(40, 1), b = message(3, 2);
  Bytes input = framed({a, b});
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    StreamFrameDecoder d;
    std::vector<Bytes> got;
    std::span<const uint8_t> frame;
    Bytes first(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(cut));
    Bytes second(input.begin() + static_cast<std::ptrdiff_t>(cut), input.end());
    d.feed(first);
    Status s;
    while ((s = d.next(frame)) == Status::frame) got.push_back(as_bytes(frame));
    REQUIRE(s == Status::need_more);
    first.assign(first.size(), 0xee);  // the caller reuses its buffer
    d.feed(second);
    while ((s = d.next(frame)) == Status::frame) got.push_back(as_bytes(frame));
    REQUIRE(s == Status::need_more);
    INFO("cut at " << cut);
    REQUIRE(got.size() == 2);
    CHECK(got[0] == a);
    CHECK(got[1] == b);
  }
}

TEST_CASE("framing: one byte at a time", "[tcp][framing]") {
  Bytes a = message(513, 7);
  Bytes input = framed({a, a});
  StreamFrameDecoder d;
  int frames = 0;
  for (uint8_t byte : input) {
    Bytes one = {byte};
    d.feed(one);
    std::span<const uint8_t> frame;
    Status s;
    while ((s = d.next(frame)) == Status::frame) {
      CHECK(as_bytes(frame) == a);
      ++frames;
    }
    CHECK(s == Status::need_more);
    CHECK(d.buffered_size() <= 2 + a.size());
  }
  CHECK(frames == 2);
}

TEST_CASE("framing: a zero length frame is reported", "[tcp][framing]") {
  Bytes input = framed({message(5, 1)});
  input.push_back(0);
  input.push_back(0);
  input.push_back(9);
  StreamFrameDecoder d;
  d.feed(input);
  std::span<const uint8_t> frame;
  CHECK(d.next(frame) == Status::frame);
  CHECK(d.next(frame) == Status::zero_length);
  CHECK(d.buffered_size() == 0);

  // Also when the zero length arrives split over two reads.
  StreamFrameDecoder e;
  Bytes half = {0};
  e.feed(half);
  CHECK(e.next(frame) == Status::need_more);
  e.feed(half);
  CHECK(e.next(frame) == Status::zero_length);
}

TEST_CASE("framing: retain keeps unread frames for later (back-pressure)", "[tcp][framing]") {
  Bytes a = message(10, 1), b = message(11, 2), c = message(12, 3);
  Bytes input = framed({a, b, c});
  input.push_back(0);  // start of a fourth frame
  StreamFrameDecoder d;
  d.feed(input);
  std::span<const uint8_t> frame;
  REQUIRE(d.next(frame) == Status::frame);
  d.retain();
  input.assign(input.size(), 0xff);  // the read buffer is reused
  CHECK(d.has_complete_frame());
  REQUIRE(d.next(frame) == Status::frame);
  CHECK(as_bytes(frame) == b);
  REQUIRE(d.next(frame) == Status::frame);
  CHECK(as_bytes(frame) == c);
  CHECK_FALSE(d.has_complete_frame());
  CHECK(d.next(frame) == Status::need_more);
  CHECK(d.has_buffered_bytes());
  Bytes rest = {4, 9, 9, 9, 9};
  d.feed(rest);
  REQUIRE(d.next(frame) == Status::frame);
  CHECK(as_bytes(frame) == Bytes{9, 9, 9, 9});
}

TEST_CASE("framing: the decoder's buffer stays bounded by one frame plus one read", "[tcp][framing]") {
  StreamFrameDecoder d;
  Bytes prefix = {0xff, 0xff};  // announces 65535 octets
  d.feed(prefix);
  std::span<const uint8_t> frame;
  CHECK(d.next(frame) == Status::need_more);
  Bytes chunk(4096, 0x55);
  size_t fed = 0;
  while (fed + chunk.size() < 65535) {
    d.feed(chunk);
    REQUIRE(d.next(frame) == Status::need_more);
    fed += chunk.size();
    REQUIRE(d.buffered_size() <= 2 + 65535);
  }
  Bytes last(65535 - fed + 100, 0x55);  // finishes the frame and starts another
  d.feed(last);
  REQUIRE(d.next(frame) == Status::frame);
  CHECK(frame.size() == 65535);
  CHECK(d.next(frame) == Status::need_more);
  CHECK(d.buffered_size() == 100);
  d.clear();
  CHECK(d.buffered_size() == 0);
}

TEST_CASE("framing: helpers", "[tcp][framing]") {
  auto p = stream_length_prefix(0x1234);
  CHECK(p[0] == 0x12);
  CHECK(p[1] == 0x34);
  Bytes out;
  CHECK_FALSE(append_framed(out, Bytes(65536, 0)));
  CHECK(out.empty());
  CHECK(append_framed(out, Bytes(65535, 0)));
  CHECK(out.size() == 65537);
}
