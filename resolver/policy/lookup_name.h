// A name prepared once for every policy table a query is checked against:
// its lower-cased wire form, where each label starts, and a hash of every
// suffix. The hashes are built right to left (a suffix's hash combines its
// first label with the hash of the rest), so all of them cost one pass over
// the name, and the hash of "*." + suffix is one more combine: a suffix
// walk or a wildcard walk is then one table probe per label, nothing hashed
// twice (DESIGN.md, "Policy": a hash set plus a suffix walk).
//
// No allocation: a LookupName lives on the stack of the query path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "wire/name.h"

namespace sextant::resolver::policy {

// The hash of one label folded into the hash of the labels to its right,
// eight octets at a time (this runs for every label of every query when a
// policy is loaded).
inline uint64_t combine_label_hash(uint64_t right, const uint8_t* label, size_t size) noexcept {
  uint64_t h = right ^ (0x9E3779B97F4A7C15ull * (size + 1));
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, label + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  for (unsigned shift = 0; i < size; ++i, shift += 8) tail |= uint64_t{label[i]} << shift;
  h = (h ^ tail) * 0xD6E8FEB86659FD93ull;
  return h ^ (h >> 29);
}

// ASCII lower-casing of eight octets at once (bit 5 set in 'A'..'Z' only).
inline uint64_t lower_word(uint64_t w) noexcept {
  constexpr uint64_t k01 = 0x0101010101010101ull;
  constexpr uint64_t k7f = 0x7F * k01;
  constexpr uint64_t k80 = 0x80 * k01;
  uint64_t heptets = w & k7f;
  uint64_t ge_a = heptets + (0x80 - 'A') * k01;
  uint64_t gt_z = heptets + (0x7F - 'Z') * k01;
  uint64_t upper = ~w & (ge_a ^ gt_z) & k80;
  return w | (upper >> 2);
}

inline constexpr uint64_t kRootHash = 0x5BD1E9955BD1E995ull;

class LookupName {
 public:
  LookupName() noexcept { set(wire::Name()); }
  explicit LookupName(const wire::Name& name) noexcept { set(name); }

  void set(const wire::Name& name) noexcept {
    auto w = name.wire();
    size_ = static_cast<uint8_t>(w.size());
    size_t i = 0;
    for (; i + 8 <= w.size(); i += 8) {
      uint64_t word;
      std::memcpy(&word, w.data() + i, 8);
      word = lower_word(word);
      std::memcpy(wire_ + i, &word, 8);
    }
    for (; i < w.size(); ++i) wire_[i] = wire::ascii_lower(w[i]);
    labels_ = 0;
    size_t pos = 0;
    while (wire_[pos] != 0) {
      offsets_[labels_++] = static_cast<uint8_t>(pos);
      pos += wire_[pos] + 1u;
    }
    offsets_[labels_] = static_cast<uint8_t>(pos);  // the root label
    hashes_[labels_] = kRootHash;
    for (size_t i = labels_; i-- > 0;) {
      const uint8_t* label = wire_ + offsets_[i];
      hashes_[i] = combine_label_hash(hashes_[i + 1], label + 1, label[0]);
    }
  }

  // Labels, not counting the root.
  size_t labels() const noexcept { return labels_; }
  // The name without its `i` leftmost labels (0: the name; labels(): root).
  std::span<const uint8_t> suffix(size_t i) const noexcept {
    return {wire_ + offsets_[i], static_cast<size_t>(size_ - offsets_[i])};
  }
  uint64_t suffix_hash(size_t i) const noexcept { return hashes_[i]; }
  // The hash of "*." + suffix(i).
  uint64_t wildcard_hash(size_t i) const noexcept {
    static constexpr uint8_t star = '*';
    return combine_label_hash(hashes_[i], &star, 1);
  }
  std::span<const uint8_t> wire() const noexcept { return suffix(0); }
  wire::Name name() const { return wire::Name::from_wire(wire()); }

 private:
  uint8_t wire_[wire::Name::kMaxWireSize];
  uint8_t offsets_[wire::Name::kMaxLabels + 1];
  uint64_t hashes_[wire::Name::kMaxLabels + 1];
  uint8_t size_ = 1;
  uint8_t labels_ = 0;
};

// The hash a LookupName gives to its whole name, for names stored in tables.
inline uint64_t name_hash(std::span<const uint8_t> lower_wire) noexcept {
  // Labels are hashed right to left: find their starts first.
  uint8_t starts[wire::Name::kMaxLabels + 1];
  size_t n = 0;
  size_t pos = 0;
  while (pos < lower_wire.size() && lower_wire[pos] != 0 && n <= wire::Name::kMaxLabels) {
    starts[n++] = static_cast<uint8_t>(pos);
    pos += lower_wire[pos] + 1u;
  }
  uint64_t h = kRootHash;
  while (n-- > 0) h = combine_label_hash(h, lower_wire.data() + starts[n] + 1, lower_wire[starts[n]]);
  return h;
}

}  // namespace sextant::resolver::policy
