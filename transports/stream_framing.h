// DNS over a byte stream (TCP, and TLS for DoT): every message is preceded by
// its length as two octets in network order (RFC 1035 §4.2.2, RFC 7766 §8).
//
// StreamFrameDecoder turns the bytes of successive reads into whole messages.
// Complete frames inside the caller's read buffer are handed out in place (no
// copy on the common path of whole queries per read); only an unfinished
// frame, or frames left unread when the caller pauses, are copied into the
// decoder's own buffer. That buffer never grows beyond one read plus one
// maximal frame, so a hostile peer cannot make it grow without bound.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sextant::transports {

inline constexpr size_t kMaxStreamMessage = 65535;

// The two-octet length prefix for a message of `size` (<= 65535) octets.
inline std::array<uint8_t, 2> stream_length_prefix(size_t size) noexcept {
  return {static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size & 0xff)};
}

// Appends prefix + message to `out` (for callers that build one write buffer).
// Returns false, appending nothing, if the message exceeds 65535 octets.
bool append_framed(std::vector<uint8_t>& out, std::span<const uint8_t> message);

class StreamFrameDecoder {
 public:
  enum class Status : uint8_t {
    frame,        // `frame` holds one complete message
    need_more,    // all input consumed; an unfinished frame (if any) is kept
    zero_length,  // a frame of length 0: not a DNS message, close the stream
  };

  // Makes `data` the new input. It is read in place and must stay valid until
  // next() returns need_more/zero_length or retain() is called. Any input left
  // from before must have been drained first (next() until need_more, or
  // retain()).
  void feed(std::span<const uint8_t> data);

  // The next complete message. A frame's bytes stay valid until the next call
  // to next(), feed() or retain(). On need_more every unconsumed byte has been
  // copied into the decoder, so the caller may reuse its read buffer.
  Status next(std::span<const uint8_t>& frame);

  // Copies unconsumed input into the decoder, so the caller may reuse its read
  // buffer while it stops reading (back-pressure). Frames are then served from
  // the copy by later calls to next().
  void retain();

  // True if complete or partial frames are buffered (a peer that closes now
  // leaves a truncated message).
  bool has_buffered_bytes() const noexcept { return stash_.size() > stash_pos_ || !input_.empty(); }
  // True if the decoder can produce a frame without more input.
  bool has_complete_frame() const noexcept;
  // Octets held in the decoder's own buffer (memory accounting).
  size_t buffered_size() const noexcept { return stash_.size() - stash_pos_; }
  // Drops everything buffered and releases the memory.
  void clear() noexcept;

 private:
  static bool complete_in(std::span<const uint8_t> bytes, size_t& frame_len) noexcept;
  void compact();

  std::vector<uint8_t> stash_;  // copied bytes; [stash_pos_, end) not yet consumed
  size_t stash_pos_ = 0;
  std::span<const uint8_t> input_;  // caller's bytes not yet consumed
};

}  // namespace sextant::transports
