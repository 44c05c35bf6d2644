// The answer (packet) cache in front of everything: ready wire answers keyed
// by (question name, type, class, DO, CD). A hit copies the stored answer
// into the caller's buffer and patches the ID, the question name's case
// (0x20) and every TTL, without building a message, without allocating and
// under one shard lock only.
//
// Stored answers carry no OPT record: the resolver appends its own (payload
// size, cookies, padding, EDE) after the copy, so one entry serves clients
// with different EDNS parameters. The RD bit is the stored one too; the
// resolver copies the client's RD into out[2] if it differs.
//
// Consistency with the RRset store: an entry expires at the smallest TTL of
// its answer and authority records (and of the TTL the resolver passes, the
// minimum over the RRsets it used), so no answer outlives its RRsets;
// flushing a name removes every answer that mentions it as an owner.
//
// Views (resolver/policy/): an answer a view's policy may have rewritten is
// stored under that view's tag (AnswerKey::view, not 0), so one view's
// answer is never handed to another; tagged answers are always wire
// entries, never rendered from the RRset store (the RRset holds the data as
// the authority sent it, before the view's policy).
//
// Answers that are exactly one RRset at the question name take no entry of
// their own when the cache is given the RRset store: insert() finds that
// the RRset renders to the same packet and stores nothing, and lookup()
// renders such answers from the RRset (rrset_answer.h says which). A wire
// entry, when there is one, is always served first. The record octets then
// exist once, and such an answer lives exactly as long as its RRset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "cache/cache_config.h"
#include "cache/cache_entry.h"
#include "cache/cache_key.h"
#include "cache/entry_restore.h"
#include "cache/rrset_cache.h"
#include "cache/sharded_store.h"
#include "wire/name.h"
#include "wire/packet_scan.h"
#include "wire/types.h"

namespace sextant::cache {

struct AnswerKey {
  wire::Name qname;
  wire::RRType qtype = wire::RRType::A;
  wire::RRClass qclass = wire::RRClass::IN;
  bool dnssec_ok = false;           // EDNS DO
  bool checking_disabled = false;   // CD
  uint16_t view = 0;                // the policy view's tag; 0: shared by every view
};

struct AnswerEntry : CacheEntry {
  uint16_t packet_size = 0;
  uint16_t ttl_count = 0;   // TTL offsets stored before the packet
  uint8_t rcode = 0;        // low 4 bits of the header
  bool negative = false;    // NXDOMAIN, or NOERROR without answer records
  uint16_t info_ede = kNoEde;  // informational EDE of the answer (e.g. 27), re-sent on hits
  static constexpr uint16_t kNoEde = 0xFFFF;
};

struct AnswerHit {
  Freshness freshness = Freshness::fresh;
  bool refresh_claimed = false;  // this caller refreshes the key (prefetch / stale)
  uint32_t ttl = 0;              // the smallest TTL written into the answer
  uint8_t rcode = 0;
  bool negative = false;
  DnssecStatus status = DnssecStatus::indeterminate;
  // Set by a fresh_only lookup that found only stale data: the resolver may
  // fall back to it (allow_stale) if its refresh fails or times out.
  bool stale_available = false;
  // The informational EDE stored with the answer (insecure for an
  // unsupported algorithm, too many NSEC3 iterations, ...), if any.
  std::optional<wire::EdeCode> info_ede;

  // The EDE a stale answer must carry (RFC 8914): 19 for NXDOMAIN, else 3.
  wire::EdeCode stale_ede() const noexcept {
    return rcode == 3 ? wire::EdeCode::StaleNxdomainAnswer : wire::EdeCode::StaleAnswer;
  }
};

// The stored packet of an entry (no OPT, TTLs as stored) and the question
// it answers (what a snapshot saves).
std::span<const uint8_t> packet_of(const AnswerEntry& e) noexcept;
AnswerKey answer_key_of(const AnswerEntry& e) noexcept;

class AnswerCache {
 public:
  // Without an RRset store every answer is kept as a wire entry; with one,
  // answers the RRset store renders identically are not (see above).
  explicit AnswerCache(const CacheConfig& config, RRsetCache* rrsets = nullptr);
  // With a byte budget of its own instead of config.answer_max_bytes (the
  // ECS-scoped answers, scoped_answer_cache.h). `suffixed_keys`: every key
  // is an answer key followed by octets of the caller's, the last of which
  // counts them (itself included), so that flush_view() and dump() find
  // the view and flags.
  AnswerCache(const CacheConfig& config, RRsetCache* rrsets, size_t max_bytes, bool suffixed_keys = false);

  // from_rrsets: nothing was stored because the RRset store renders this
  // very answer (any wire entry the key had is removed).
  enum class Result : uint8_t { stored, too_large, rejected, from_rrsets };

  // Stores a complete wire answer for `key`. `ttl` is the minimum TTL of
  // the RRsets (or negative entry) the answer was built from. The packet
  // must have exactly one question, uncompressed, equal to key's (case-
  // insensitively); an OPT record, if present, must be last and is dropped.
  // TC answers are rejected. TTL fields are clamped as the RRset store
  // clamps (negative answers with negative_max_ttl; an SOA in a negative
  // answer gets min(TTL, MINIMUM)).
  // `info_ede` is given back with every hit, so cached answers keep the
  // Extended DNS Error (its code; the text is not kept) a fresh one had.
  Result insert(const AnswerKey& key, std::span<const uint8_t> packet, uint32_t ttl,
                DnssecStatus status, uint32_t now, std::optional<wire::EdeCode> info_ede = {});
  // The same under a key the caller built (make_answer_key(key) plus what
  // else tells entries apart, such as a client subnet); `key` still names
  // the question the packet must carry.
  Result insert(const AnswerKey& key, const CacheKey& stored_key, std::span<const uint8_t> packet, uint32_t ttl,
                DnssecStatus status, uint32_t now, std::optional<wire::EdeCode> info_ede = {});

  // Puts back an answer saved by a cache snapshot (entry_restore.h):
  // `packet` as packet_of() gave it. Checked as insert() checks; an answer
  // whose expiry lies beyond the running TTL bounds is dropped (its TTL
  // fields would need rewriting: the resolver will fetch it again).
  RestoreResult restore(const AnswerKey& key, std::span<const uint8_t> packet,
                        DnssecStatus status, std::optional<wire::EdeCode> info_ede,
                        uint32_t expires, uint32_t original_ttl, uint32_t now);

  // The hit path. On a hit copies the answer into `out` (which must hold
  // the whole answer, else it is a miss), sets the ID to `id`, writes
  // `qname_as_sent` over the question name and every TTL to its remaining
  // value (stale_answer_ttl when stale) and returns true. Without a wire
  // entry for the key, the answer is rendered from the RRset store if it
  // can be (same contract, one more shard lock: the RRset store's).
  bool lookup(const AnswerKey& key, uint16_t id, const wire::Name& qname_as_sent, uint32_t now,
              std::span<uint8_t> out, size_t& out_len, AnswerHit& hit,
              StalePolicy policy = StalePolicy::fresh_only);

  // Same, with a key the caller built once with make_answer_key().
  bool lookup(const CacheKey& key, uint16_t id, const wire::Name& qname_as_sent, uint32_t now,
              std::span<uint8_t> out, size_t& out_len, AnswerHit& hit,
              StalePolicy policy = StalePolicy::fresh_only);

  // Releases the refresh claim of the key's entry (or of the RRset its
  // answer is rendered from).
  void finish_refresh(const AnswerKey& key);
  // The same for a wire entry under a key the caller built.
  void finish_refresh(const CacheKey& key);
  bool erase(const AnswerKey& key);
  // Every answer whose question or any record owner is `name` (or, for
  // flush_subtree, at or below `apex`). Scans all entries: an operator
  // command, not a hot path.
  size_t flush_name(const wire::Name& name);
  size_t flush_subtree(const wire::Name& apex);
  // Every answer stored under view tag `view` (not 0) for which `names` is
  // true of its question name, an owner or a CNAME/DNAME target; all of
  // the view's answers when `names` is empty. A policy change's flush.
  size_t flush_view(uint16_t view, const std::function<bool(const wire::Name&)>& names = {});
  void clear() { store_.clear(); }
  void dump(std::string& out, uint32_t now) const;

  const ShardedStore<AnswerEntry>& store() const noexcept { return store_; }

 private:
  bool covered_by_rrset(const AnswerKey& key, std::span<const uint8_t> packet,
                        const wire::PacketScan& scan, size_t stored_size, DnssecStatus status,
                        bool has_info_ede, uint32_t now);
  bool lookup_rrset(const CacheKey& key, uint16_t id, const wire::Name& qname_as_sent,
                    uint32_t now, std::span<uint8_t> out, size_t& out_len, AnswerHit& hit,
                    StalePolicy policy);

  const CacheConfig& config_;
  RRsetCache* rrsets_;
  bool suffixed_keys_ = false;
  ShardedStore<AnswerEntry> store_;
};

CacheKey make_answer_key(const AnswerKey& key) noexcept;
// The RRset key (owner, type, class) of an answer key: the same octets and
// name hash without the flags octet, which is kept right after the key
// (rkey.bytes[rkey.size]).
void rrset_key_of(const CacheKey& answer_key, CacheKey& rkey) noexcept;
// The same without copying the name into an AnswerKey (the server's hot
// path builds the key straight from the parsed query).
CacheKey make_answer_key(const wire::Name& qname, wire::RRType qtype, wire::RRClass qclass,
                         bool dnssec_ok, bool checking_disabled, uint16_t view = 0) noexcept;

// Flags octet bits of answer keys.
inline constexpr uint8_t kAnswerKeyDo = 1, kAnswerKeyCd = 2, kAnswerKeyView = 4;

}  // namespace sextant::cache
