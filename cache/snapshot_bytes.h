// Byte-level helpers of the cache snapshot (cache_snapshot.h): an appending
// writer and a bounds-checked reader, both big-endian.
//
// The reader never reads past its span: every read checks what is left and,
// once one fails, the reader stays failed and every later read returns zero
// values, so a parser can read a whole record and check ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "wire/name.h"

namespace sextant::cache {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) noexcept : out_(out) {}

  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) {
    uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    bytes(b);
  }
  void u32(uint32_t v) {
    uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                    static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    bytes(b);
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void bytes(std::span<const uint8_t> b) {
    // resize + memcpy rather than insert(): g++ 12 -O2 warns (falsely) about
    // insert() of a span into an empty vector (-Wstringop-overflow).
    if (b.empty()) return;
    size_t at = out_.size();
    out_.resize(at + b.size());
    std::memcpy(out_.data() + at, b.data(), b.size());
  }
  // A name as one length octet and its uncompressed wire form.
  void name(const wire::Name& n) {
    u8(static_cast<uint8_t>(n.wire_size()));
    bytes(n.wire());
  }
  // Where the next octet goes (for lengths patched in later).
  size_t position() const noexcept { return out_.size(); }
  void patch_u32(size_t at, uint32_t v) noexcept {
    out_[at] = static_cast<uint8_t>(v >> 24);
    out_[at + 1] = static_cast<uint8_t>(v >> 16);
    out_[at + 2] = static_cast<uint8_t>(v >> 8);
    out_[at + 3] = static_cast<uint8_t>(v);
  }

 private:
  std::vector<uint8_t>& out_;
};

class ByteReader {
 public:
  ByteReader() noexcept = default;
  explicit ByteReader(std::span<const uint8_t> data) noexcept : data_(data) {}

  bool ok() const noexcept { return ok_; }
  void fail() noexcept { ok_ = false; }
  size_t left() const noexcept { return ok_ ? data_.size() - pos_ : 0; }
  size_t position() const noexcept { return pos_; }
  bool at_end() const noexcept { return ok_ && pos_ == data_.size(); }

  uint8_t u8() noexcept {
    const uint8_t* p = take(1);
    return p ? p[0] : 0;
  }
  uint16_t u16() noexcept {
    const uint8_t* p = take(2);
    return p ? static_cast<uint16_t>((p[0] << 8) | p[1]) : 0;
  }
  uint32_t u32() noexcept {
    const uint8_t* p = take(4);
    if (!p) return 0;
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  }
  uint64_t u64() noexcept {
    uint64_t hi = u32();
    return (hi << 32) | u32();
  }
  // The next `n` octets (empty and failed if fewer are left).
  std::span<const uint8_t> bytes(size_t n) noexcept {
    const uint8_t* p = take(n);
    return p ? std::span<const uint8_t>(p, n) : std::span<const uint8_t>();
  }
  // A name written by ByteWriter::name: its length octet must be exactly
  // the size of one valid uncompressed name.
  wire::Name name() noexcept {
    wire::Name out;
    size_t len = u8();
    std::span<const uint8_t> w = bytes(len);
    if (!ok_) return out;
    size_t pos = 0;
    if (wire::Name::parse_uncompressed(w, pos, out) != wire::WireError::ok || pos != len) fail();
    return out;
  }

 private:
  const uint8_t* take(size_t n) noexcept {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return nullptr;
    }
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace sextant::cache
