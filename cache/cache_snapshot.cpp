#include "cache/cache_snapshot.h"

#include <algorithm>
#include <cstring>

#include "cache/record_blob.h"
#include "cache/snapshot_bytes.h"

namespace sextant::cache {

// The stored numbering the format depends on (see kSnapshotFormatVersion).
static_assert(static_cast<uint8_t>(Rank::additional) == 1 &&
              static_cast<uint8_t>(Rank::answer_authoritative) == 4);
static_assert(static_cast<uint8_t>(DnssecStatus::indeterminate) == 0 &&
              static_cast<uint8_t>(DnssecStatus::insecure) == 1 &&
              static_cast<uint8_t>(DnssecStatus::secure) == 2 &&
              static_cast<uint8_t>(DnssecStatus::bogus) == 3);
static_assert(static_cast<uint8_t>(NegativeKind::nxdomain) == 0 &&
              static_cast<uint8_t>(NegativeKind::nodata) == 1);

namespace {

constexpr uint8_t kMagic[8] = {'S', 'X', 'T', 'C', 'A', 'C', 'H', 'E'};
constexpr uint64_t kChecksumSeed = 0x5345585443414348ull;

// Over the whole file but the checksum field itself (octets 32 to 39).
uint64_t checksum_of(std::span<const uint8_t> file) noexcept {
  uint64_t header = hash_bytes(file.data(), 32, kChecksumSeed);
  return hash_bytes(file.data() + kSnapshotHeaderSize, file.size() - kSnapshotHeaderSize, header);
}

// Not worth saving: past its stale window (the reader would drop it) or
// bogus (never served; a restart is a fine moment to ask again).
bool worth_saving(const CacheEntry& e, uint32_t now, const CacheConfig& config) noexcept {
  return !e.gone(now, config) && e.status != DnssecStatus::bogus;
}

void write_times(ByteWriter& w, const CacheEntry& e) {
  w.u32(e.expires);
  w.u32(e.original_ttl);
  w.u8(static_cast<uint8_t>(e.rank));
  w.u8(static_cast<uint8_t>(e.status));
}

void write_rrset(ByteWriter& w, const wire::RRset& r) {
  w.name(r.owner);
  w.u16(static_cast<uint16_t>(r.type));
  w.u16(static_cast<uint16_t>(r.rclass));
  w.u32(r.ttl);
  w.u16(static_cast<uint16_t>(r.rdatas.size()));
  w.u16(static_cast<uint16_t>(r.signatures.size()));
  for (const auto* list : {&r.rdatas, &r.signatures}) {
    for (const auto& item : *list) {
      w.u16(static_cast<uint16_t>(item.size()));
      w.bytes(item);
    }
  }
}

struct SavedTimes {
  uint32_t expires = 0;
  uint32_t original_ttl = 0;
  Rank rank = Rank::additional;
  DnssecStatus status = DnssecStatus::indeterminate;
};

SavedTimes read_times(ByteReader& r, uint32_t clock_shift) {
  SavedTimes t;
  t.expires = r.u32();
  t.expires = t.expires > clock_shift ? t.expires - clock_shift : 0;
  t.original_ttl = r.u32();
  t.rank = static_cast<Rank>(r.u8());
  t.status = static_cast<DnssecStatus>(r.u8());
  return t;
}

}  // namespace

const char* to_string(SnapshotError e) noexcept {
  switch (e) {
    case SnapshotError::ok: return "ok";
    case SnapshotError::too_short: return "too short to be a cache snapshot";
    case SnapshotError::bad_magic: return "not a Sextant cache snapshot";
    case SnapshotError::other_version: return "written in another snapshot format version";
    case SnapshotError::truncated: return "truncated";
    case SnapshotError::too_long: return "longer than its header says";
    case SnapshotError::bad_checksum: return "checksum mismatch (damaged)";
    case SnapshotError::bad_record: return "a record does not parse";
  }
  return "unknown";
}

// --- writing ---------------------------------------------------------------

SnapshotWriter::SnapshotWriter(std::span<const uint8_t> context, uint64_t written_at_ms) {
  // The fixed header is built in place (g++ 12 -O3 warns falsely about
  // small appends to a vector that was just created).
  uint8_t header[kSnapshotHeaderSize] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  write_u16(header + 8, kSnapshotFormatVersion);
  write_u32(header + 12, static_cast<uint32_t>(written_at_ms >> 32));
  write_u32(header + 16, static_cast<uint32_t>(written_at_ms));
  write_u32(header + 20, static_cast<uint32_t>(context.size()));
  // Body size (24) and checksum (32) are set by finish().
  out_.reserve(64 * 1024);
  out_.insert(out_.end(), std::begin(header), std::end(header));
  ByteWriter(out_).bytes(context);
}

size_t SnapshotWriter::begin_record(SnapshotRecordKind kind) {
  ByteWriter w(out_);
  w.u8(static_cast<uint8_t>(kind));
  size_t start = w.position();
  w.u32(0);
  return start;
}

void SnapshotWriter::end_record(size_t start) {
  ByteWriter(out_).patch_u32(start, static_cast<uint32_t>(out_.size() - start - 4));
}

void SnapshotWriter::add_cache(Cache& cache, uint32_t now) {
  const CacheConfig& config = cache.config();
  ByteWriter w(out_);
  {
    std::vector<EntryRef<DelegationEntry>> refs;
    cache.delegations().store().collect(refs);
    for (const auto& ref : refs) {
      const DelegationEntry& e = *ref;
      if (!worth_saving(e, now, config)) continue;
      size_t start = begin_record(SnapshotRecordKind::delegation);
      write_times(w, e);
      w.name(key_name(ShardedStore<DelegationEntry>::key_of(e)));
      w.u16(static_cast<uint16_t>(e.rclass));
      std::vector<DelegationServer> servers = servers_of(e);
      w.u16(static_cast<uint16_t>(servers.size()));
      for (const auto& s : servers) {
        w.name(s.name);
        w.u8(static_cast<uint8_t>(s.address_rank));
        w.u8(static_cast<uint8_t>(s.addresses.size()));
        for (const auto& a : s.addresses) {
          w.u8(a.family);
          w.bytes(a.octets());
        }
      }
      end_record(start);
      ++counts_.delegations;
    }
  }
  {
    std::vector<EntryRef<RRsetEntry>> refs;
    cache.rrsets().store().collect(refs);
    for (const auto& ref : refs) {
      const RRsetEntry& e = *ref;
      if (!worth_saving(e, now, config)) continue;
      size_t start = begin_record(SnapshotRecordKind::rrset);
      write_times(w, e);
      w.name(key_name(ShardedStore<RRsetEntry>::key_of(e)));
      w.u16(static_cast<uint16_t>(e.type));
      w.u16(static_cast<uint16_t>(e.rclass));
      w.u16(e.rdata_count);
      w.u16(e.signature_count);
      w.bytes(payload_of(e));
      end_record(start);
      ++counts_.rrsets;
    }
  }
  {
    std::vector<EntryRef<NegativeEntry>> refs;
    cache.negatives().store().collect(refs);
    for (const auto& ref : refs) {
      const NegativeEntry& e = *ref;
      if (!worth_saving(e, now, config)) continue;
      size_t start = begin_record(SnapshotRecordKind::negative);
      write_times(w, e);
      w.u8(static_cast<uint8_t>(e.kind));
      w.name(key_name(ShardedStore<NegativeEntry>::key_of(e)));
      w.u16(static_cast<uint16_t>(e.qtype));
      w.u16(static_cast<uint16_t>(e.rclass));
      std::vector<wire::RRset> records = records_of(e);
      w.u16(static_cast<uint16_t>(records.size()));
      for (const auto& r : records) write_rrset(w, r);
      end_record(start);
      ++counts_.negatives;
    }
  }
  {
    std::vector<EntryRef<AnswerEntry>> refs;
    cache.answers().store().collect(refs);
    for (const auto& ref : refs) {
      const AnswerEntry& e = *ref;
      if (!worth_saving(e, now, config)) continue;
      AnswerKey key = answer_key_of(e);
      size_t start = begin_record(SnapshotRecordKind::answer);
      write_times(w, e);
      w.name(key.qname);
      w.u16(static_cast<uint16_t>(key.qtype));
      w.u16(static_cast<uint16_t>(key.qclass));
      w.u8(static_cast<uint8_t>((key.dnssec_ok ? 1 : 0) | (key.checking_disabled ? 2 : 0)));
      w.u16(e.info_ede);
      w.bytes(packet_of(e));
      end_record(start);
      ++counts_.answers;
    }
  }
}

void SnapshotWriter::add_extension(uint8_t kind, std::span<const uint8_t> payload) {
  size_t start = begin_record(static_cast<SnapshotRecordKind>(kind));
  ByteWriter(out_).bytes(payload);
  end_record(start);
  ++counts_.extensions;
}

std::vector<uint8_t> SnapshotWriter::finish() {
  seal_snapshot(out_);
  return std::move(out_);
}

bool seal_snapshot(std::span<uint8_t> file) noexcept {
  // header: magic 8, version 2, reserved 2, written_at 8, context_size 4
  // (at 20), body_size 8 (at 24), checksum 8 (at 32)
  if (file.size() < kSnapshotHeaderSize) return false;
  uint32_t context_size = read_u32(file.data() + 20);
  size_t after_header = file.size() - kSnapshotHeaderSize;
  uint64_t body_size = context_size <= after_header ? after_header - context_size : 0;
  write_u32(file.data() + 24, static_cast<uint32_t>(body_size >> 32));
  write_u32(file.data() + 28, static_cast<uint32_t>(body_size));
  uint64_t checksum = checksum_of(file);
  write_u32(file.data() + 24, static_cast<uint32_t>(body_size >> 32));
  write_u32(file.data() + 28, static_cast<uint32_t>(body_size));
  write_u32(file.data() + 32, static_cast<uint32_t>(checksum >> 32));
  write_u32(file.data() + 36, static_cast<uint32_t>(checksum));
  return true;
}

// --- reading ---------------------------------------------------------------

SnapshotError SnapshotReader::open(std::span<const uint8_t> file) {
  opened_ = false;
  error_offset_ = 0;
  auto failed = [&](SnapshotError e) { return error_ = e; };
  if (file.size() < kSnapshotHeaderSize) return failed(SnapshotError::too_short);
  if (std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) return failed(SnapshotError::bad_magic);
  ByteReader r(file.subspan(sizeof kMagic));
  version_ = r.u16();
  uint16_t reserved = r.u16();
  written_at_ms_ = r.u64();
  uint32_t context_size = r.u32();
  uint64_t body_size = r.u64();
  uint64_t checksum = r.u64();
  // Reserved octets a later format may use: not ours to interpret.
  if (version_ != kSnapshotFormatVersion || reserved != 0) {
    return failed(SnapshotError::other_version);
  }
  size_t available = file.size() - kSnapshotHeaderSize;
  if (context_size > available || body_size > available - context_size) {
    return failed(SnapshotError::truncated);
  }
  if (body_size < available - context_size) return failed(SnapshotError::too_long);
  if (checksum_of(file) != checksum) {
    return failed(SnapshotError::bad_checksum);
  }
  context_ = file.subspan(kSnapshotHeaderSize, context_size);
  body_offset_ = kSnapshotHeaderSize + context_size;
  body_ = file.subspan(body_offset_);
  body_pos_ = 0;
  opened_ = true;
  return error_ = SnapshotError::ok;
}

bool SnapshotReader::excluded(const wire::Name& name) const {
  for (const auto& apex : excluded_)
    if (name.is_subdomain_of(apex)) return true;
  return false;
}

void SnapshotReader::count(RestoreResult r, size_t SnapshotCounts::*kind) {
  switch (r) {
    case RestoreResult::restored: ++(stats_.restored.*kind); break;
    case RestoreResult::kept: ++stats_.kept; break;
    case RestoreResult::expired: ++stats_.expired; break;
    case RestoreResult::rejected: ++stats_.rejected; break;
    case RestoreResult::too_large: ++stats_.too_large; break;
  }
}

bool SnapshotReader::restore_record(Cache& cache, uint32_t now, uint8_t kind,
                                    std::span<const uint8_t> payload,
                                    const ExtensionHandler& on_extension) {
  if (kind >= kSnapshotFirstExtensionKind) {
    if (on_extension && !on_extension(kind, payload)) return false;
    ++stats_.restored.extensions;
    return true;
  }
  const uint64_t written_s = written_at_ms_ / 1000;
  const uint32_t clock_shift = now < written_s ? static_cast<uint32_t>(std::min<uint64_t>(
                                                     written_s - now, UINT32_MAX))
                                               : 0;
  ByteReader r(payload);
  SavedTimes t = read_times(r, clock_shift);
  switch (static_cast<SnapshotRecordKind>(kind)) {
    case SnapshotRecordKind::delegation: {
      Delegation d;
      d.zone = r.name();
      d.rclass = static_cast<wire::RRClass>(r.u16());
      uint16_t servers = r.u16();
      for (uint16_t i = 0; i < servers && r.ok(); ++i) {
        DelegationServer s;
        s.name = r.name();
        s.address_rank = static_cast<Rank>(r.u8());
        uint8_t n = r.u8();
        for (uint8_t j = 0; j < n && r.ok(); ++j) {
          IpAddress a;
          a.family = r.u8();
          if (a.family != 4 && a.family != 6) r.fail();
          auto octets = r.bytes(a.size());
          if (r.ok()) std::memcpy(a.bytes.data(), octets.data(), octets.size());
          s.addresses.push_back(a);
        }
        d.servers.push_back(std::move(s));
      }
      if (!r.at_end()) return false;
      if (excluded(d.zone)) {
        ++stats_.excluded;
        return true;
      }
      count(cache.delegations().restore(d, t.rank, t.status, t.expires, t.original_ttl, now),
            &SnapshotCounts::delegations);
      return true;
    }
    case SnapshotRecordKind::rrset: {
      wire::Name owner = r.name();
      auto type = static_cast<wire::RRType>(r.u16());
      auto rclass = static_cast<wire::RRClass>(r.u16());
      uint16_t rdatas = r.u16();
      uint16_t signatures = r.u16();
      if (!r.ok()) return false;
      auto blob = r.bytes(r.left());
      if (excluded(owner)) {
        ++stats_.excluded;
        return true;
      }
      count(cache.rrsets().restore(owner, type, rclass, rdatas, signatures, blob, t.rank,
                                   t.status, t.expires, t.original_ttl, now),
            &SnapshotCounts::rrsets);
      return true;
    }
    case SnapshotRecordKind::negative: {
      auto negative_kind = static_cast<NegativeKind>(r.u8());
      wire::Name name = r.name();
      auto qtype = static_cast<wire::RRType>(r.u16());
      auto rclass = static_cast<wire::RRClass>(r.u16());
      uint16_t n = r.u16();
      if (!r.ok()) return false;
      auto rest = r.bytes(r.left());
      std::vector<wire::RRset> records;
      size_t pos = 0;
      for (uint16_t i = 0; i < n; ++i) {
        wire::RRset record;
        if (!read_rrset_record_checked(rest, pos, record)) return false;
        records.push_back(std::move(record));
      }
      if (pos != rest.size()) return false;
      if (excluded(name)) {
        ++stats_.excluded;
        return true;
      }
      count(cache.negatives().restore(negative_kind, name, qtype, rclass, records, t.status,
                                      t.rank, t.expires, t.original_ttl, now),
            &SnapshotCounts::negatives);
      return true;
    }
    case SnapshotRecordKind::answer: {
      AnswerKey key;
      key.qname = r.name();
      key.qtype = static_cast<wire::RRType>(r.u16());
      key.qclass = static_cast<wire::RRClass>(r.u16());
      uint8_t flags = r.u8();
      uint16_t ede = r.u16();
      if (!r.ok() || flags > 3) return false;
      key.dnssec_ok = flags & 1;
      key.checking_disabled = flags & 2;
      auto packet = r.bytes(r.left());
      if (excluded(key.qname)) {
        ++stats_.excluded;
        return true;
      }
      std::optional<wire::EdeCode> info_ede;
      if (ede != AnswerEntry::kNoEde) info_ede = static_cast<wire::EdeCode>(ede);
      count(cache.answers().restore(key, packet, t.status, info_ede, t.expires, t.original_ttl,
                                    now),
            &SnapshotCounts::answers);
      return true;
    }
  }
  return false;  // an unknown kind below the extensions
}

SnapshotReader::Step SnapshotReader::restore(Cache& cache, uint32_t now, size_t max_records,
                                             const ExtensionHandler& on_extension) {
  if (!opened_) return Step::failed;
  for (size_t done = 0; done < max_records; ++done) {
    if (body_pos_ == body_.size()) return Step::done;
    ByteReader r(body_.subspan(body_pos_));
    uint8_t kind = r.u8();
    uint32_t length = r.u32();
    auto payload = r.bytes(length);
    if (!r.ok() || !restore_record(cache, now, kind, payload, on_extension)) {
      error_ = SnapshotError::bad_record;
      error_offset_ = body_offset_ + body_pos_;
      opened_ = false;
      return Step::failed;
    }
    body_pos_ += 5 + length;
    ++records_read_;
  }
  return body_pos_ == body_.size() ? Step::done : Step::more;
}

}  // namespace sextant::cache
