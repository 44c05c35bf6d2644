#include "resolver/policy/name_table.h"

#include <stdexcept>

namespace sextant::resolver::policy {

uint32_t NameTable::find(uint64_t hash, std::span<const uint8_t> prefix,
                         std::span<const uint8_t> rest) const noexcept {
  if (slots_.empty()) return kNotFound;
  const uint32_t tag = static_cast<uint32_t>(hash >> 32);
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.position == kEmpty) return kNotFound;
    if (s.tag == tag && same_name(s.position, prefix, rest)) return value_at(s.position);
  }
}

NameTable::Inserted NameTable::insert(const wire::Name& name, uint32_t value) {
  LookupName l(name);
  return insert(l.wire(), l.suffix_hash(0), value);
}

NameTable::Inserted NameTable::insert(std::span<const uint8_t> lower_wire, uint64_t hash, uint32_t value) {
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();
  const uint32_t tag = static_cast<uint32_t>(hash >> 32);
  uint64_t i = hash & mask_;
  for (;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.position == kEmpty) break;
    if (s.tag == tag && same_name(s.position, {}, lower_wire)) return {s.position, false};
  }
  if (arena_.size() + sizeof(uint32_t) + lower_wire.size() >= kEmpty)
    throw std::length_error("a policy name table is limited to 4 GB");
  size_t labels = 0;
  for (size_t pos = 0; pos < lower_wire.size() && lower_wire[pos] != 0; pos += lower_wire[pos] + 1u) ++labels;
  label_counts_[labels / 64] |= uint64_t{1} << (labels % 64);
  uint32_t position = static_cast<uint32_t>(arena_.size());
  arena_.resize(arena_.size() + sizeof value);
  std::memcpy(arena_.data() + position, &value, sizeof value);
  arena_.insert(arena_.end(), lower_wire.begin(), lower_wire.end());
  slots_[i] = Slot{position, tag};
  ++size_;
  return {position, true};
}

void NameTable::grow() {
  size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
  decltype(slots_) old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.position == kEmpty) continue;
    const uint8_t* stored = arena_.data() + s.position + sizeof(uint32_t);
    uint64_t hash = name_hash({stored, wire_size(stored)});
    uint64_t i = hash & mask_;
    while (slots_[i].position != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

}  // namespace sextant::resolver::policy
