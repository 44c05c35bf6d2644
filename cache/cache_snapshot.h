// Cache snapshots: the cache as bytes, written at stop and read back at the
// next start (warm restart), so that a restarted resolver answers from cache
// at once. Only byte buffers here: the daemon reads and writes the file.
//
// Layout (big-endian), version kSnapshotFormatVersion:
//
//   header   "SXTCACHE"  u16 version  u16 0  u64 written_at_ms
//            u32 context_size  u64 body_size  u64 checksum        (40 octets)
//   context  context_size octets chosen by the writer's caller (the daemon
//            puts the DNSSEC settings the data was validated under there;
//            it compares them before restoring anything)
//   body     records: u8 kind, u32 length, payload
//
// The checksum (hash_bytes over the whole file but itself) is checked before a single
// entry is restored, so a truncated or damaged file restores nothing. Records:
//
//   every cache record   u32 expires (absolute, as the cache keeps it)
//                        u32 original_ttl  u8 rank  u8 status
//   1 delegation         zone  u16 class  u16 servers,
//                        each: name  u8 address rank  u8 count  (u8 family, 4|16 octets)*
//   2 RRset              owner  u16 type  u16 class  u16 rdatas  u16 RRSIGs,
//                        then the rdatas and RRSIG rdatas, each with a u16 length
//   3 negative           u8 kind  name  u16 qtype  u16 class  u16 records,
//                        each record: owner u16 type u16 class u32 ttl u16 n u16 m rdatas
//   4 answer             qname  u16 qtype  u16 qclass  u8 flags (1 DO, 2 CD)
//                        u16 EDE (0xFFFF none), then the stored packet (no OPT)
//   64-255               extensions: the payload is the caller's (the daemon's
//                        server table), handed to an ExtensionHandler
//   (a name is one length octet and its uncompressed wire form)
//
// Entries are written store by store (delegations first: they matter most
// to a resolution that misses), each shard from its least to its most
// recently used entry, so restoring rebuilds the LRU order. Entries past the
// serve-stale window and bogus data are not written.
//
// Restoring: every record is bounds-checked and handed to its store's
// restore(), which checks it as an insert would (rdata against its type's
// layout, packets scanned); a restored entry keeps its absolute expiry, so
// the time Sextant was stopped ages it, and it never replaces a fresh entry
// (entry_restore.h). A record that does not parse stops the restore there
// (only a forged file with a valid checksum can have one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "cache/cache.h"
#include "cache/entry_restore.h"
#include "wire/name.h"

namespace sextant::cache {

// Bump on ANY change of the layout above or of the meaning of a stored
// value (Rank, DnssecStatus, NegativeKind numbering; the entry layouts the
// payloads copy): a file of another version is ignored, never misread.
inline constexpr uint16_t kSnapshotFormatVersion = 1;
inline constexpr size_t kSnapshotHeaderSize = 40;
inline constexpr uint8_t kSnapshotFirstExtensionKind = 64;

enum class SnapshotRecordKind : uint8_t { delegation = 1, rrset = 2, negative = 3, answer = 4 };

enum class SnapshotError : uint8_t {
  ok,
  too_short,      // not even a header
  bad_magic,      // not a Sextant cache snapshot
  other_version,  // written by a Sextant with another snapshot format
  truncated,      // shorter than its header says
  too_long,       // longer than its header says
  bad_checksum,   // damaged
  bad_record,     // a record does not parse (stops the restore)
};
const char* to_string(SnapshotError e) noexcept;

struct SnapshotCounts {
  size_t delegations = 0;
  size_t rrsets = 0;
  size_t negatives = 0;
  size_t answers = 0;
  size_t extensions = 0;
  size_t total() const noexcept { return delegations + rrsets + negatives + answers + extensions; }
};

class SnapshotWriter {
 public:
  SnapshotWriter(std::span<const uint8_t> context, uint64_t written_at_ms);

  // Appends every entry of the four stores that is still servable at `now`
  // (fresh or within its stale window) and not bogus. Takes each shard's
  // lock only to take references (ShardedStore::collect).
  void add_cache(Cache& cache, uint32_t now);
  // Appends one extension record (kind >= kSnapshotFirstExtensionKind).
  void add_extension(uint8_t kind, std::span<const uint8_t> payload);

  const SnapshotCounts& counts() const noexcept { return counts_; }
  // The whole snapshot; the writer is spent afterwards.
  std::vector<uint8_t> finish();

 private:
  size_t begin_record(SnapshotRecordKind kind);
  void end_record(size_t start);

  std::vector<uint8_t> out_;
  SnapshotCounts counts_;
};

// Recomputes the body size and checksum of `file` (a snapshot whose header
// is otherwise well formed): how tests and the fuzzer forge files whose
// records, not their checksum, are wrong. False if `file` has no header.
bool seal_snapshot(std::span<uint8_t> file) noexcept;

struct SnapshotRestoreStats {
  SnapshotCounts restored;   // per kind, extensions the handler accepted included
  size_t kept = 0;           // the cache already had a fresh entry
  size_t expired = 0;        // aged out while Sextant was stopped
  size_t rejected = 0;       // refused by the store (malformed)
  size_t too_large = 0;
  size_t excluded = 0;       // at or below an excluded name
};

class SnapshotReader {
 public:
  // Called for each extension record; returns false if the payload is bad
  // (which stops the restore as a bad record does).
  using ExtensionHandler = std::function<bool(uint8_t kind, std::span<const uint8_t> payload)>;

  // Checks the header, the sizes and the checksum of `file`, which must
  // outlive the reader. Restores nothing.
  SnapshotError open(std::span<const uint8_t> file);

  uint16_t version() const noexcept { return version_; }  // also set for other_version
  uint64_t written_at_ms() const noexcept { return written_at_ms_; }
  std::span<const uint8_t> context() const noexcept { return context_; }

  // Names at or below `apex` are not restored (the daemon excludes the
  // negative trust anchors that changed since the snapshot was written).
  void exclude_subtree(const wire::Name& apex) { excluded_.push_back(apex); }

  enum class Step : uint8_t { more, done, failed };
  // Restores up to `max_records` further records into `cache` at `now`
  // (seconds since the epoch): `more` if some are left, `done` at the end,
  // `failed` at a bad record (error() says which, error_offset() where).
  // If `now` is earlier than the time the snapshot was written (the clock
  // went back), expiries are moved back by the difference, so nothing lives
  // longer than its TTL.
  Step restore(Cache& cache, uint32_t now, size_t max_records,
               const ExtensionHandler& on_extension = {});

  SnapshotError error() const noexcept { return error_; }
  size_t error_offset() const noexcept { return error_offset_; }
  const SnapshotRestoreStats& stats() const noexcept { return stats_; }
  size_t records_read() const noexcept { return records_read_; }

 private:
  bool restore_record(Cache& cache, uint32_t now, uint8_t kind, std::span<const uint8_t> payload,
                      const ExtensionHandler& on_extension);
  bool excluded(const wire::Name& name) const;
  void count(RestoreResult r, size_t SnapshotCounts::*kind);

  std::span<const uint8_t> body_;
  std::span<const uint8_t> context_;
  size_t body_pos_ = 0;
  size_t body_offset_ = 0;  // of the body in the file (for error_offset)
  uint16_t version_ = 0;
  uint64_t written_at_ms_ = 0;
  bool opened_ = false;
  SnapshotError error_ = SnapshotError::ok;
  size_t error_offset_ = 0;
  size_t records_read_ = 0;
  std::vector<wire::Name> excluded_;
  SnapshotRestoreStats stats_;
};

}  // namespace sextant::cache
