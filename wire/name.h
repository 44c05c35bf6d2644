// A domain name, stored once in uncompressed wire form with inline storage.
//
// Names keep the case they were received with (0x20 verification and echoing
// the client's question need it); comparison, hashing and ordering ignore
// ASCII case as RFC 4343 requires. A Name never allocates: it is a fixed
// 257-octet value, so parsing a query's question costs no heap traffic.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "wire/errors.h"

namespace sextant::wire {

class Name {
 public:
  static constexpr size_t kMaxWireSize = 255;
  static constexpr size_t kMaxLabelSize = 63;
  static constexpr size_t kMaxLabels = 127;
  // Enough for write_lookup_key(): every octet may be escaped to two.
  static constexpr size_t kMaxLookupKeySize = 2 * kMaxWireSize;

  // The root name ".".
  Name() noexcept : size_(1), labels_(0) { bytes_[0] = 0; }

  // Parses a possibly compressed name at `pos` in `packet`. On success `pos`
  // moves past the name as it appears at that position (after the first
  // pointer, if any). Pointers must point strictly backwards, never into
  // the 12-octet header (`packet` is a whole message), and at most
  // kMaxLabels jumps are followed, so no input can loop.
  static WireError parse(std::span<const uint8_t> packet, size_t& pos, Name& out) noexcept;

  // Reads an uncompressed name (e.g. inside canonical rdata). Same checks.
  static WireError parse_uncompressed(std::span<const uint8_t> data, size_t& pos,
                                      Name& out) noexcept;

  // Presentation format with `\.`, `\\` and `\DDD` escapes. A name without a
  // trailing dot is relative: `origin` is appended when given, otherwise it
  // is taken as absolute. "@" is not special here (the zone reader handles it).
  // Throws TextError with a message naming the problem.
  static Name from_text(std::string_view text, const Name* origin = nullptr);

  // Builds a name from its wire form; throws TextError if it is malformed.
  static Name from_wire(std::span<const uint8_t> wire);

  std::span<const uint8_t> wire() const noexcept { return {bytes_.data(), size_}; }
  size_t wire_size() const noexcept { return size_; }
  // Number of labels, not counting the root label.
  size_t label_count() const noexcept { return labels_; }
  // The RRSIG "labels" value: label count minus a leading "*" (RFC 4034 §3.1.3).
  size_t rrsig_label_count() const noexcept { return is_wildcard() ? labels_ - 1 : labels_; }
  bool is_root() const noexcept { return labels_ == 0; }
  bool is_wildcard() const noexcept { return labels_ > 0 && bytes_[0] == 1 && bytes_[1] == '*'; }

  // Label `i`, counting from the left (0 is the leftmost), without its length octet.
  std::string_view label(size_t i) const noexcept;

  // The name with its leftmost label removed; the root's parent is the root.
  Name parent() const noexcept;
  // The rightmost `n` labels (n >= label_count() gives the name itself).
  Name suffix(size_t n) const noexcept;
  // `label` + "." + this. Throws TextError if the result would be too long
  // or the label is empty or longer than 63 octets.
  Name prepend(std::string_view label) const;
  // this (as a relative prefix) + `suffix`: "www" + "example.com." and so on.
  // Throws TextError if the result exceeds 255 octets.
  Name concat(const Name& suffix) const;
  // Replaces `old_suffix` (which must be an ancestor or equal) by `new_suffix`,
  // as DNAME substitution does. Returns false if the result would be too long.
  bool replace_suffix(const Name& old_suffix, const Name& new_suffix, Name& out) const noexcept;

  // True if this name equals `ancestor` or lies below it.
  bool is_subdomain_of(const Name& ancestor) const noexcept;
  // Number of rightmost labels the two names share (case-insensitively).
  size_t common_suffix_labels(const Name& other) const noexcept;

  // Case-insensitive equality; equals_exact also compares case (0x20 checks).
  bool operator==(const Name& other) const noexcept;
  bool equals_exact(const Name& other) const noexcept;
  // DNSSEC canonical order (RFC 4034 §6.1).
  int canonical_compare(const Name& other) const noexcept;
  std::strong_ordering operator<=>(const Name& other) const noexcept {
    int c = canonical_compare(other);
    return c < 0 ? std::strong_ordering::less
                 : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
  // Case-insensitive hash, consistent with operator==.
  size_t hash() const noexcept;

  Name lowercased() const noexcept;
  void to_lower() noexcept;
  // Mutable access for 0x20 case randomisation: flips the case of letters
  // where the corresponding bit of `bits` (cycled) is set.
  void apply_case_bits(uint64_t bits) noexcept;

  // Presentation form with a trailing dot ("." for the root).
  std::string to_text() const;

  // Writes a key whose memcmp order equals canonical order and whose equality
  // equals case-insensitive name equality: labels right to left, lower-cased,
  // each followed by 0x00, with 0x00/0x01 inside labels escaped. Used by the
  // cache's ordered index. Returns the key length (<= kMaxLookupKeySize).
  size_t write_lookup_key(uint8_t* out) const noexcept;

 private:
  // Validates and adopts an uncompressed wire name of `size` octets.
  static WireError adopt(const uint8_t* data, size_t size, Name& out) noexcept;

  uint8_t size_;    // octets in wire form, including the root label (1..255)
  uint8_t labels_;  // labels excluding the root
  std::array<uint8_t, kMaxWireSize> bytes_;
};

struct NameHash {
  size_t operator()(const Name& n) const noexcept { return n.hash(); }
};

// ASCII-only lower-casing, as DNS comparisons require (no locale).
constexpr uint8_t ascii_lower(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

}  // namespace sextant::wire
