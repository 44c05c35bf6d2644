// An allocator for the big policy tables: blocks of 2 MB or more are aligned
// to 2 MB and offered to the kernel as transparent huge pages
// (madvise(MADV_HUGEPAGE); Debian's default THP mode is "madvise").
//
// Why: a lookup in a table of a million names touches a few random slots
// per query; with 4 KB pages each is also a TLB miss and a page-table walk,
// which on a cache hit cost more than the probe itself (bench/policy.py saw
// about 10 % of the hit path go there). With 2 MB pages the tables of a
// million-name list span a few dozen TLB entries. Smaller blocks use the
// normal heap. Where THP is off, madvise fails harmlessly and nothing changes.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace sextant::resolver::policy {

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() noexcept = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) {
      void* p = std::malloc(bytes);
      if (!p) throw std::bad_alloc();
      return static_cast<T*>(p);
    }
    size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (!p) throw std::bad_alloc();
    (void)madvise(p, rounded, MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace sextant::resolver::policy
