// A compact map from domain names to 32-bit values, built for lists of a
// million names: every name is written once, lower-cased wire form, into
// one arena (preceded by its value), and an open-addressing table of 8-octet
// slots (arena offset + 32 bits of the hash) finds it. A probe that misses
// reads one slot, rarely two, and never the arena; a hit reads the slot and
// the name. Memory per entry is the name plus about 20 octets (value and
// slots at a load of 3/8 to 3/4), measured in bench/policy.py.
//
// Built once (insert), then only read: lookups are const, lock-free and
// allocation-free, so every worker thread may share one table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "resolver/policy/huge_page_allocator.h"
#include "resolver/policy/lookup_name.h"

namespace sextant::resolver::policy {

class NameTable {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;

  NameTable() = default;

  // Adds `lower_wire` (lower-cased, uncompressed) with `value`, or finds it:
  // returns the arena position of its value (for value_at/set_value) and
  // whether it was new. The hash must be name_hash(lower_wire).
  struct Inserted {
    uint32_t position;
    bool inserted;
  };
  Inserted insert(std::span<const uint8_t> lower_wire, uint64_t hash, uint32_t value);
  Inserted insert(const wire::Name& name, uint32_t value);

  uint32_t value_at(uint32_t position) const noexcept {
    uint32_t v;
    std::memcpy(&v, arena_.data() + position, sizeof v);
    return v;
  }
  void set_value(uint32_t position, uint32_t value) noexcept {
    std::memcpy(arena_.data() + position, &value, sizeof value);
  }

  // The value of suffix `i` of `name`, or kNotFound.
  uint32_t find_suffix(const LookupName& name, size_t i) const noexcept {
    if (!has_label_count(name.labels() - i)) return kNotFound;
    return find(name.suffix_hash(i), {}, name.suffix(i));
  }
  // The value of "*." + suffix `i` of `name`, or kNotFound.
  uint32_t find_wildcard(const LookupName& name, size_t i) const noexcept {
    static constexpr uint8_t star[2] = {1, '*'};
    if (!has_label_count(name.labels() - i + 1)) return kNotFound;
    return find(name.wildcard_hash(i), star, name.suffix(i));
  }
  // False when no entry has `labels` labels: a probe for such a name is
  // skipped without touching the slots (most lists hold names of two to
  // five labels, so the walk's shortest suffixes cost nothing).
  bool has_label_count(size_t labels) const noexcept {
    return labels < 128 && (label_counts_[labels / 64] >> (labels % 64)) & 1;
  }
  uint32_t find(const wire::Name& name) const noexcept {
    LookupName l(name);
    return find_suffix(l, 0);
  }

  // Starts loading the slot a probe for `hash` will read, so that several
  // tables' probes wait for memory together rather than one after another.
  void prefetch(uint64_t hash) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }
  void prefetch_suffix(const LookupName& name, size_t i) const noexcept {
    if (has_label_count(name.labels() - i)) prefetch(name.suffix_hash(i));
  }
  void prefetch_wildcard(const LookupName& name, size_t i) const noexcept {
    if (has_label_count(name.labels() - i + 1)) prefetch(name.wildcard_hash(i));
  }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Bytes held (arena and slots, by capacity).
  size_t memory_bytes() const noexcept {
    return arena_.capacity() + slots_.capacity() * sizeof(Slot);
  }
  // Gives back arena capacity not used (after the last insert).
  void shrink() { arena_.shrink_to_fit(); }

  // Calls f(lower_wire, value) for every entry, in insertion order.
  template <typename F>
  void for_each(F&& f) const {
    size_t pos = 0;
    while (pos < arena_.size()) {
      uint32_t value;
      std::memcpy(&value, arena_.data() + pos, sizeof value);
      pos += sizeof value;
      size_t n = wire_size(arena_.data() + pos);
      f(std::span<const uint8_t>(arena_.data() + pos, n), value);
      pos += n;
    }
  }

 private:
  struct Slot {
    uint32_t position = kEmpty;  // of the value in arena_; the name follows it
    uint32_t tag = 0;            // the hash's high 32 bits
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;

  static size_t wire_size(const uint8_t* p) noexcept {
    size_t n = 0;
    while (p[n] != 0) n += p[n] + 1u;
    return n + 1;
  }
  // Compares the stored name at `position` with prefix + rest.
  bool same_name(uint32_t position, std::span<const uint8_t> prefix,
                 std::span<const uint8_t> rest) const noexcept {
    const uint8_t* stored = arena_.data() + position + sizeof(uint32_t);
    size_t n = wire_size(stored);
    if (n != prefix.size() + rest.size()) return false;
    if (!prefix.empty() && std::memcmp(stored, prefix.data(), prefix.size()) != 0) return false;
    return std::memcmp(stored + prefix.size(), rest.data(), rest.size()) == 0;
  }
  uint32_t find(uint64_t hash, std::span<const uint8_t> prefix, std::span<const uint8_t> rest) const noexcept;
  void grow();

  std::vector<uint8_t, HugePageAllocator<uint8_t>> arena_;
  std::vector<Slot, HugePageAllocator<Slot>> slots_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
  uint64_t label_counts_[2] = {0, 0};  // bit n: some entry has n labels
};

}  // namespace sextant::resolver::policy
