// A sharded hash table of CacheEntry-derived entries, bounded in bytes,
// with one LRU list per shard. Every store of the cache is one of these.
//
// - The shard comes from the key's name hash, so all entries of one owner
//   name live in one shard; each shard has its own mutex, so no lookup ever
//   takes a lock shared by all threads.
// - Eviction is LRU with second chance (CLOCK-like): see evict_over_budget.
// - Memory is accounted in real bytes: each entry is charged its allocation
//   size as malloc reports it plus the allocator's chunk header, and each
//   shard is charged its bucket array. Each shard gets an equal share of the
//   budget and evicts from its LRU tail when over it, so the total never
//   exceeds the bound.
// - Entries are reference counted: lookups may hand out an EntryRef that
//   outlives the shard lock (and the entry's presence in the table).
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "cache/cache_entry.h"
#include "cache/cache_key.h"

namespace sextant::cache {

enum class StoreCounter : uint8_t {
  hits, misses, stale_hits, prefetches, inserts, rejected, evictions, count_
};

enum class InsertOutcome : uint8_t {
  stored,     // new entry, or replaced an existing one
  kept,       // an existing entry outranks the new data; nothing changed
  too_large,  // the entry alone exceeds a shard's budget
};

// Sets an entry's second-chance bit. Read first: a hit on an entry whose bit
// is already set then writes nothing, so workers reading the same popular
// entries do not bounce its cache line between cores.
inline void mark_referenced(CacheEntry& e) noexcept {
  if (!e.referenced.load(std::memory_order_relaxed)) e.referenced.store(true, std::memory_order_relaxed);
}

// Bytes an allocation really takes: usable size plus glibc's chunk header.
inline size_t allocation_charge(const void* p) noexcept {
  return malloc_usable_size(const_cast<void*>(p)) + sizeof(size_t);
}

template <typename E>
class ShardedStore {
 public:
  // `max_entries` (0 = no limit) bounds the entry count as well, each shard
  // holding at most its share (at least one).
  ShardedStore(size_t shard_count, size_t max_bytes, size_t max_entries = 0) {
    size_t n = 1;
    while (n < shard_count && n < 4096) n <<= 1;
    shard_mask_ = n - 1;
    shards_ = std::make_unique<Shard[]>(n);
    for (size_t i = 0; i < n; ++i) {
      shards_[i].budget = max_bytes / n;
      shards_[i].max_entries = max_entries ? (max_entries / n ? max_entries / n : 1) : SIZE_MAX;
      shards_[i].resize(kInitialBuckets);
    }
    max_bytes_ = max_bytes;
  }
  ~ShardedStore() { clear(); }
  ShardedStore(const ShardedStore&) = delete;
  ShardedStore& operator=(const ShardedStore&) = delete;

  size_t shard_count() const noexcept { return shard_mask_ + 1; }
  size_t max_bytes() const noexcept { return max_bytes_; }

  static std::span<const uint8_t> key_of(const E& e) noexcept { return {entry_tail(&e), e.key_len}; }

  // Links `fresh` (which holds one reference, handed to the store) under
  // `key`. If an entry with that key exists, `may_replace(const E& old)`
  // decides; when it says no, `fresh` is released and `kept` returned.
  template <typename Pred>
  InsertOutcome insert(E* fresh, const CacheKey& key, Pred&& may_replace) {
    fresh->hash = static_cast<uint32_t>(key.hash);
    fresh->charge = static_cast<uint32_t>(allocation_charge(fresh));
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    if (fresh->charge + s.bucket_bytes > s.budget) {
      bump(s, StoreCounter::rejected);
      release_entry(fresh);
      return InsertOutcome::too_large;
    }
    CacheEntry** link = s.find_link(key);
    if (*link) {
      E* old = static_cast<E*>(*link);
      if (!may_replace(static_cast<const E&>(*old))) {
        release_entry(fresh);
        old->referenced.store(true, std::memory_order_relaxed);  // still wanted
        return InsertOutcome::kept;
      }
      s.unlink_at(link);
      release_entry(old);
    }
    s.link(fresh);
    bump(s, StoreCounter::inserts);
    if (s.entries > s.bucket_count) grow(s);
    evict_over_budget(s, fresh);
    return InsertOutcome::stored;
  }

  // Calls fn(E&) under the shard lock if `key` is present and marks the
  // entry referenced. fn returns true to remove the entry.
  // Returns whether the key was present.
  template <typename Fn>
  bool visit(const CacheKey& key, Fn&& fn) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    CacheEntry** link = s.find_link(key);
    if (!*link) return false;
    E* e = static_cast<E*>(*link);
    if (fn(*e)) {
      s.unlink_at(link);
      release_entry(e);
    } else {
      mark_referenced(*e);
    }
    return true;
  }

  // Counters of one shard, bumped while its lock is held: a plain load and
  // store (no locked read-modify-write) suffices because the lock orders
  // writers; readers only ever load.
  class LockedCounters {
   public:
    void add(StoreCounter c) noexcept {
      auto& a = counters_[static_cast<size_t>(c)];
      a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

   private:
    friend class ShardedStore;
    explicit LockedCounters(std::atomic<uint64_t>* counters) noexcept : counters_(counters) {}
    std::atomic<uint64_t>* counters_;
  };

  // The hit path's visit: like visit(), but fn(E&, LockedCounters&) may
  // count under the lock, and a missing key counts as a miss unless the
  // caller has somewhere else to look (`absent_is_miss` false).
  template <typename Fn>
  bool visit_counted(const CacheKey& key, Fn&& fn, bool absent_is_miss = true) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    LockedCounters counters(s.counters);
    CacheEntry** link = s.find_link(key);
    if (!*link) {
      if (absent_is_miss) counters.add(StoreCounter::misses);
      return false;
    }
    E* e = static_cast<E*>(*link);
    if (fn(*e, counters)) {
      s.unlink_at(link);
      release_entry(e);
    } else {
      mark_referenced(*e);
    }
    return true;
  }

  // Starts loading the bucket `key` falls into, without taking the shard
  // lock (a hint only: the bucket array may be replaced meanwhile, and a
  // prefetch of a stale address is harmless). The hit path issues it for
  // its second store before it probes the first, so the two memory loads
  // overlap.
  void prefetch(const CacheKey& key) const noexcept {
    const Shard& s = shard_for(key);
    CacheEntry** buckets = s.bucket_hint.load(std::memory_order_relaxed);
    size_t mask = s.mask_hint.load(std::memory_order_relaxed);
    if (buckets) __builtin_prefetch(&buckets[static_cast<uint32_t>(key.hash) & mask]);
  }

  // A counted reference to the entry under `key` (marking it referenced).
  EntryRef<E> find(const CacheKey& key) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    CacheEntry** link = s.find_link(key);
    if (!*link) return {};
    E* e = static_cast<E*>(*link);
    mark_referenced(*e);
    e->refs.fetch_add(1, std::memory_order_relaxed);
    return EntryRef<E>(e);
  }

  // Removes the entry under `key` if it is still `expected` (so a reader
  // that found an expired entry does not remove a newer one).
  void erase_if_same(const CacheKey& key, const E* expected) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    CacheEntry** link = s.find_link(key);
    if (*link && *link == expected) {
      E* e = static_cast<E*>(*link);
      s.unlink_at(link);
      release_entry(e);
    }
  }

  bool erase(const CacheKey& key) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    CacheEntry** link = s.find_link(key);
    if (!*link) return false;
    E* e = static_cast<E*>(*link);
    s.unlink_at(link);
    release_entry(e);
    return true;
  }

  // Removes every entry of the shard that holds `name_hash` for which
  // pred(const E&) is true. Returns how many were removed.
  template <typename Pred>
  size_t erase_in_shard_if(uint64_t name_hash, Pred&& pred) {
    return erase_shard_if(shard_by_hash(name_hash), pred);
  }

  // Removes every entry of every shard for which pred(const E&) is true.
  template <typename Pred>
  size_t erase_if(Pred&& pred) {
    size_t removed = 0;
    for (size_t i = 0; i <= shard_mask_; ++i) removed += erase_shard_if(shards_[i], pred);
    return removed;
  }

  // Every entry keyed by `name` (any type/class suffix of the key): one
  // shard, since keys hash by name.
  size_t erase_name(const wire::Name& name) {
    CacheKey key;
    set_key_name(name, key);
    return erase_in_shard_if(key.name_hash, [&](const E& e) {
      auto k = key_of(e);
      return key_name_size(k) == key.name_size && std::memcmp(k.data(), key.bytes, key.name_size) == 0;
    });
  }

  // Every entry whose name is `apex` or below it (scans all shards).
  size_t erase_subtree(const wire::Name& apex) {
    return erase_if([&](const E& e) { return key_name(key_of(e)).is_subdomain_of(apex); });
  }

  void clear() {
    erase_if([](const E&) { return true; });
  }

  // Calls fn(const E&) for every entry, one shard lock at a time.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t i = 0; i <= shard_mask_; ++i) {
      Shard& s = shards_[i];
      std::lock_guard lock(s.mu);
      for (CacheEntry* e = s.lru_head; e; e = e->lru_next) fn(static_cast<const E&>(*e));
    }
  }

  // Counted references to every entry, shard by shard, each shard from its
  // least to its most recently used entry (inserting them again in this
  // order rebuilds the LRU order). A shard's lock is held only while its
  // references are taken: the caller reads the (immutable) entries after.
  void collect(std::vector<EntryRef<E>>& out) const {
    for (size_t i = 0; i <= shard_mask_; ++i) {
      Shard& s = shards_[i];
      std::lock_guard lock(s.mu);
      out.reserve(out.size() + s.entries);
      for (CacheEntry* e = s.lru_tail; e; e = e->lru_prev) {
        e->refs.fetch_add(1, std::memory_order_relaxed);
        out.emplace_back(static_cast<E*>(e));
      }
    }
  }

  size_t bytes() const noexcept {
    size_t total = 0;
    for (size_t i = 0; i <= shard_mask_; ++i) total += shards_[i].bytes.load(std::memory_order_relaxed);
    return total;
  }
  size_t entries() const noexcept {
    size_t total = 0;
    for (size_t i = 0; i <= shard_mask_; ++i) {
      total += shards_[i].entry_count.load(std::memory_order_relaxed);
    }
    return total;
  }
  uint64_t counter(StoreCounter c) const noexcept {
    uint64_t total = 0;
    for (size_t i = 0; i <= shard_mask_; ++i) {
      total += shards_[i].counters[static_cast<size_t>(c)].load(std::memory_order_relaxed);
    }
    return total;
  }
  void count(const CacheKey& key, StoreCounter c) noexcept { bump(shard_for(key), c); }

 private:
  static constexpr size_t kInitialBuckets = 8;

  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unique_ptr<CacheEntry*[]> buckets;
    size_t bucket_count = 0;
    size_t entries = 0;
    CacheEntry* lru_head = nullptr;  // most recently used
    CacheEntry* lru_tail = nullptr;
    size_t budget = 0;
    size_t max_entries = SIZE_MAX;
    size_t bucket_bytes = 0;
    size_t used = 0;  // bytes, guarded by mu (mirrored in `bytes` for readers)
    std::atomic<size_t> bytes{0};
    std::atomic<size_t> entry_count{0};
    // Copies of `buckets` and bucket_count - 1 for prefetch() (no lock).
    std::atomic<CacheEntry**> bucket_hint{nullptr};
    std::atomic<size_t> mask_hint{0};
    std::atomic<uint64_t> counters[static_cast<size_t>(StoreCounter::count_)] = {};

    CacheEntry** find_link(const CacheKey& key) noexcept {
      const auto hash = static_cast<uint32_t>(key.hash);
      CacheEntry** link = &buckets[hash & (bucket_count - 1)];
      while (*link) {
        CacheEntry* e = *link;
        if (e->hash == hash && e->key_len == key.size &&
            std::memcmp(entry_tail(static_cast<E*>(e)), key.bytes, key.size) == 0) {
          return link;
        }
        link = &e->chain_next;
      }
      return link;
    }

    void lru_unlink(CacheEntry* e) noexcept {
      if (e->lru_prev) e->lru_prev->lru_next = e->lru_next; else lru_head = e->lru_next;
      if (e->lru_next) e->lru_next->lru_prev = e->lru_prev; else lru_tail = e->lru_prev;
      e->lru_prev = e->lru_next = nullptr;
    }
    void lru_push_front(CacheEntry* e) noexcept {
      e->lru_prev = nullptr;
      e->lru_next = lru_head;
      if (lru_head) lru_head->lru_prev = e; else lru_tail = e;
      lru_head = e;
    }

    void link(CacheEntry* e) noexcept {
      CacheEntry*& head = buckets[e->hash & (bucket_count - 1)];
      e->chain_next = head;
      head = e;
      lru_push_front(e);
      ++entries;
      set_used(used + e->charge);
    }
    // Unlinks the entry at `link` (its reference is now the caller's).
    void unlink_at(CacheEntry** link) noexcept {
      CacheEntry* e = *link;
      *link = e->chain_next;
      e->chain_next = nullptr;
      lru_unlink(e);
      --entries;
      set_used(used - e->charge);
    }
    void unlink(CacheEntry* e) noexcept {
      CacheEntry** link = &buckets[e->hash & (bucket_count - 1)];
      while (*link != e) link = &(*link)->chain_next;
      unlink_at(link);
    }
    void set_used(size_t v) noexcept {
      used = v;
      bytes.store(v, std::memory_order_relaxed);
      entry_count.store(entries, std::memory_order_relaxed);
    }
    // Replaces the bucket array (entries are re-linked by their hash).
    void resize(size_t n) {
      auto fresh = std::make_unique<CacheEntry*[]>(n);
      for (size_t i = 0; i < n; ++i) fresh[i] = nullptr;
      for (size_t b = 0; b < bucket_count; ++b) {
        CacheEntry* e = buckets[b];
        while (e) {
          CacheEntry* next = e->chain_next;
          CacheEntry*& head = fresh[e->hash & (n - 1)];
          e->chain_next = head;
          head = e;
          e = next;
        }
      }
      size_t old_bytes = bucket_bytes;
      buckets = std::move(fresh);
      bucket_count = n;
      bucket_hint.store(buckets.get(), std::memory_order_relaxed);
      mask_hint.store(n - 1, std::memory_order_relaxed);
      bucket_bytes = allocation_charge(buckets.get());
      set_used(used - old_bytes + bucket_bytes);
    }
  };

  Shard& shard_by_hash(uint64_t name_hash) const noexcept {
    return shards_[(name_hash >> 40) & shard_mask_];
  }
  Shard& shard_for(const CacheKey& key) const noexcept { return shard_by_hash(key.name_hash); }

  static void bump(Shard& s, StoreCounter c) noexcept {
    s.counters[static_cast<size_t>(c)].fetch_add(1, std::memory_order_relaxed);
  }

  void grow(Shard& s) {
    // Growing must not push the shard over budget by itself: with a tiny
    // budget a longer chain is the better trade.
    size_t extra = s.bucket_count * sizeof(CacheEntry*);
    if (s.used + extra > s.budget) return;
    s.resize(s.bucket_count * 2);
  }

  // LRU with second chance: a hit only sets the entry's `referenced` bit
  // (no list surgery on the hit path, which touches nothing but the entry);
  // here a referenced tail entry loses its bit and moves to the front
  // instead of being evicted. Each entry gets at most one second chance per
  // call, so the loop is bounded.
  void evict_over_budget(Shard& s, const E* keep) {
    size_t second_chances = s.entries;
    while ((s.used > s.budget || s.entries > s.max_entries) && s.lru_tail) {
      CacheEntry* victim = s.lru_tail;
      if (victim == keep) break;
      if (second_chances > 0 && victim->referenced.load(std::memory_order_relaxed)) {
        --second_chances;
        victim->referenced.store(false, std::memory_order_relaxed);
        s.lru_unlink(victim);
        s.lru_push_front(victim);
        continue;
      }
      s.unlink(victim);
      bump(s, StoreCounter::evictions);
      release_entry(static_cast<E*>(victim));
    }
  }

  template <typename Pred>
  size_t erase_shard_if(Shard& s, Pred& pred) {
    std::lock_guard lock(s.mu);
    size_t removed = 0;
    CacheEntry* e = s.lru_head;
    while (e) {
      CacheEntry* next = e->lru_next;
      if (pred(static_cast<const E&>(*e))) {
        s.unlink(e);
        release_entry(static_cast<E*>(e));
        ++removed;
      }
      e = next;
    }
    return removed;
  }

  size_t shard_mask_ = 0;
  size_t max_bytes_ = 0;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace sextant::cache
