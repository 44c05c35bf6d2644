#include "transports/stream_framing.h"

#include <algorithm>

namespace sextant::transports {

bool append_framed(std::vector<uint8_t>& out, std::span<const uint8_t> message) {
  if (message.size() > kMaxStreamMessage) return false;
  auto prefix = stream_length_prefix(message.size());
  out.insert(out.end(), prefix.begin(), prefix.end());
  out.insert(out.end(), message.begin(), message.end());
  return true;
}

bool StreamFrameDecoder::complete_in(std::span<const uint8_t> bytes, size_t& frame_len) noexcept {
  if (bytes.size() < 2) return false;
  frame_len = (static_cast<size_t>(bytes[0]) << 8) | bytes[1];
  return bytes.size() >= 2 + frame_len;
}

bool StreamFrameDecoder::has_complete_frame() const noexcept {
  size_t len = 0;
  if (stash_.size() > stash_pos_) {
    std::span<const uint8_t> held(stash_.data() + stash_pos_, stash_.size() - stash_pos_);
    if (complete_in(held, len)) return true;
    // A partial frame in the stash is completed from the input.
    if (held.size() < 2) {
      size_t missing = 2 - held.size();
      if (input_.size() < missing) return false;
      uint8_t hi = held[0];
      uint8_t lo = held.size() == 2 ? held[1] : input_[missing - 1];
      len = (static_cast<size_t>(hi) << 8) | lo;
    }
    return held.size() + input_.size() >= 2 + len;
  }
  return complete_in(input_, len);
}

void StreamFrameDecoder::feed(std::span<const uint8_t> data) {
  if (!input_.empty()) retain();  // misuse guard: never lose bytes
  input_ = data;
}

void StreamFrameDecoder::compact() {
  if (stash_pos_ == 0) return;
  if (stash_pos_ >= stash_.size()) {
    stash_.clear();
    // A burst of pipelined queries may have grown the stash; idle streams
    // should not keep 64 KiB each.
    if (stash_.capacity() > 4096) stash_.shrink_to_fit();
  } else {
    stash_.erase(stash_.begin(), stash_.begin() + static_cast<std::ptrdiff_t>(stash_pos_));
  }
  stash_pos_ = 0;
}

StreamFrameDecoder::Status StreamFrameDecoder::next(std::span<const uint8_t>& frame) {
  frame = {};
  size_t len = 0;
  if (stash_.size() > stash_pos_) {
    // Slow path: bytes are already held. Move just enough input over to
    // finish the frame at the head of the stash, so the stash stays bounded.
    std::span<const uint8_t> held(stash_.data() + stash_pos_, stash_.size() - stash_pos_);
    if (!complete_in(held, len)) {
      // Drop the consumed prefix before appending: the stash then holds at
      // most one frame (2 + 65535 octets) on this path.
      compact();
      held = std::span<const uint8_t>(stash_.data(), stash_.size());
      if (held.size() < 2) {
        size_t take = std::min(2 - held.size(), input_.size());
        stash_.insert(stash_.end(), input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(take));
        input_ = input_.subspan(take);
        held = std::span<const uint8_t>(stash_.data() + stash_pos_, stash_.size() - stash_pos_);
      }
      if (held.size() >= 2) {
        len = (static_cast<size_t>(held[0]) << 8) | held[1];
        size_t want = 2 + len - held.size();
        size_t take = std::min(want, input_.size());
        stash_.insert(stash_.end(), input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(take));
        input_ = input_.subspan(take);
        held = std::span<const uint8_t>(stash_.data() + stash_pos_, stash_.size() - stash_pos_);
      }
      if (!complete_in(held, len)) {
        // Input exhausted with the frame still unfinished (it is kept).
        input_ = {};
        return Status::need_more;
      }
    }
    if (len == 0) {
      clear();
      return Status::zero_length;
    }
    frame = held.subspan(2, len);
    stash_pos_ += 2 + len;
    // The frame stays readable: compaction happens at the next call only.
    return Status::frame;
  }

  // Fast path: nothing held. Release the previous frame's stash space first.
  compact();
  if (complete_in(input_, len)) {
    if (len == 0) {
      clear();
      return Status::zero_length;
    }
    frame = input_.subspan(2, len);
    input_ = input_.subspan(2 + len);
    return Status::frame;
  }
  // An unfinished frame (or nothing): keep its bytes, the caller's buffer is
  // about to be reused.
  stash_.insert(stash_.end(), input_.begin(), input_.end());
  input_ = {};
  return Status::need_more;
}

void StreamFrameDecoder::retain() {
  if (input_.empty()) return;
  if (stash_pos_ >= stash_.size()) compact();
  stash_.insert(stash_.end(), input_.begin(), input_.end());
  input_ = {};
}

void StreamFrameDecoder::clear() noexcept {
  stash_.clear();
  stash_.shrink_to_fit();
  stash_pos_ = 0;
  input_ = {};
}

}  // namespace sextant::transports
