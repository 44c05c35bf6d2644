#include "cache/answer_cache.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "cache/rrset_answer.h"
#include "wire/header.h"
#include "wire/packet_scan.h"

namespace sextant::cache {

namespace {

const uint8_t* offsets_of(const AnswerEntry& e) noexcept { return entry_tail(&e) + e.key_len; }
const uint8_t* packet_start(const AnswerEntry& e) noexcept {
  return offsets_of(e) + size_t{e.ttl_count} * sizeof(uint16_t);
}

uint16_t stored_offset(const AnswerEntry& e, size_t i) noexcept {
  uint16_t v;
  std::memcpy(&v, offsets_of(e) + i * sizeof(uint16_t), sizeof v);
  return v;
}

// True if the question or any record owner of `packet` satisfies `pred`.
template <typename Pred>
bool packet_mentions(std::span<const uint8_t> packet, Pred&& pred) {
  wire::Name name;
  size_t pos = 12;
  if (wire::Name::parse(packet, pos, name) == wire::WireError::ok && pred(name)) return true;
  bool found = false;
  wire::for_each_scanned_record(packet, [&](const wire::ScannedRecord& r) {
    size_t at = r.owner_offset;
    if (wire::Name::parse(packet, at, name) == wire::WireError::ok && pred(name)) {
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

// The answer key at the start of a stored key (answer_cache.h: suffixed keys).
std::span<const uint8_t> answer_part(std::span<const uint8_t> key, bool suffixed) noexcept {
  if (!suffixed || key.empty() || key.back() == 0 || key.back() > key.size()) return key;
  return key.first(key.size() - key.back());
}

}  // namespace

std::span<const uint8_t> packet_of(const AnswerEntry& e) noexcept {
  return {packet_start(e), e.packet_size};
}

AnswerKey answer_key_of(const AnswerEntry& e) noexcept {
  auto key = ShardedStore<AnswerEntry>::key_of(e);
  size_t n = key_name_size(key);
  AnswerKey k;
  k.qname = key_name(key);
  k.qtype = static_cast<wire::RRType>(read_u16(&key[n]));
  k.qclass = static_cast<wire::RRClass>(read_u16(&key[n + 2]));
  // The flags octet is last; a view's tag sits between the class and it.
  const uint8_t flags = key[key.size() - 1];
  k.dnssec_ok = flags & kAnswerKeyDo;
  k.checking_disabled = flags & kAnswerKeyCd;
  k.view = (flags & kAnswerKeyView) ? read_u16(&key[n + 4]) : 0;
  return k;
}

CacheKey make_answer_key(const wire::Name& qname, wire::RRType qtype, wire::RRClass qclass,
                         bool dnssec_ok, bool checking_disabled, uint16_t view) noexcept {
  CacheKey k;
  set_key_name(qname, k);
  append_u16(k, static_cast<uint16_t>(qtype));
  append_u16(k, static_cast<uint16_t>(qclass));
  if (view != 0) append_u16(k, view);
  k.bytes[k.size++] = static_cast<uint8_t>((dnssec_ok ? kAnswerKeyDo : 0) | (checking_disabled ? kAnswerKeyCd : 0) |
                                           (view != 0 ? kAnswerKeyView : 0));
  finish_key(k);
  return k;
}

void rrset_key_of(const CacheKey& answer_key, CacheKey& rkey) noexcept {
  // The RRset key is the answer key without its flags octet; the name hash
  // (and so the shard) is the same. The flags octet is copied too, past the
  // key's end, where lookup_rrset reads DO from.
  copy_short(rkey.bytes, answer_key.bytes, size_t{answer_key.name_size} + 5);
  rkey.name_size = answer_key.name_size;
  rkey.size = static_cast<uint16_t>(answer_key.name_size + 4);
  rkey.name_hash = answer_key.name_hash;
  finish_key(rkey);
}

CacheKey make_answer_key(const AnswerKey& key) noexcept {
  return make_answer_key(key.qname, key.qtype, key.qclass, key.dnssec_ok, key.checking_disabled, key.view);
}

AnswerCache::AnswerCache(const CacheConfig& config, RRsetCache* rrsets)
    : config_(config), rrsets_(rrsets), store_(config.shards, config.answer_max_bytes) {}

AnswerCache::AnswerCache(const CacheConfig& config, RRsetCache* rrsets, size_t max_bytes, bool suffixed_keys)
    : config_(config), rrsets_(rrsets), suffixed_keys_(suffixed_keys), store_(config.shards, max_bytes) {}

bool AnswerCache::covered_by_rrset(const AnswerKey& key, std::span<const uint8_t> packet,
                                   const wire::PacketScan& scan, size_t stored_size,
                                   DnssecStatus status, bool has_info_ede, uint32_t now) {
  if (!rrsets_ || has_info_ede || key.view != 0 ||
      !question_answerable_from_rrset(key.qtype, key.checking_disabled)) {
    return false;
  }
  if (status != DnssecStatus::secure && status != DnssecStatus::insecure) return false;
  const uint16_t additional = static_cast<uint16_t>(scan.arcount - (scan.has_opt ? 1 : 0));
  if ((packet[3] & 0x0F) != 0 || scan.ancount == 0 || scan.nscount != 0 || additional != 0) {
    return false;
  }
  CachedRRset rrset = rrsets_->peek(
      make_key(key.qname, static_cast<uint16_t>(key.qtype), static_cast<uint16_t>(key.qclass)));
  if (!rrset || rrset.status() != status || rrset.expired(now)) return false;
  const RRsetEntry& entry = rrset.entry();
  if (!rrset_answers_client(entry, key.dnssec_ok)) return false;
  if (!scan.has_opt) return packet_is_rrset_answer(entry, packet, key.dnssec_ok);
  std::vector<uint8_t> without_opt(packet.begin(),
                                   packet.begin() + static_cast<ptrdiff_t>(stored_size));
  write_u16(&without_opt[10], additional);
  return packet_is_rrset_answer(entry, without_opt, key.dnssec_ok);
}

AnswerCache::Result AnswerCache::insert(const AnswerKey& key, std::span<const uint8_t> packet,
                                        uint32_t ttl, DnssecStatus status, uint32_t now,
                                        std::optional<wire::EdeCode> info_ede) {
  return insert(key, make_answer_key(key), packet, ttl, status, now, info_ede);
}

AnswerCache::Result AnswerCache::insert(const AnswerKey& key, const CacheKey& stored_key,
                                        std::span<const uint8_t> packet, uint32_t ttl, DnssecStatus status,
                                        uint32_t now, std::optional<wire::EdeCode> info_ede) {
  if (packet.size() < wire::kHeaderSize || packet.size() > 0xFFFF) return Result::rejected;
  wire::PacketScan scan;
  std::vector<uint16_t> offsets(packet.size() / 11 + 1);
  if (!wire::scan_packet(packet, scan, offsets) || !scan.offsets_complete) return Result::rejected;
  if (scan.qdcount != 1 || scan.qname_compressed) return Result::rejected;
  wire::Header header;
  (void)wire::Header::parse(packet, header);
  if (!header.qr() || header.tc()) return Result::rejected;

  // The question must be the key's.
  wire::Name qname;
  size_t pos = wire::kHeaderSize;
  if (wire::Name::parse(packet, pos, qname) != wire::WireError::ok || !(qname == key.qname)) {
    return Result::rejected;
  }
  if (read_u16(&packet[pos]) != static_cast<uint16_t>(key.qtype) ||
      read_u16(&packet[pos + 2]) != static_cast<uint16_t>(key.qclass)) {
    return Result::rejected;
  }

  size_t stored_size = packet.size();
  if (scan.has_opt) {
    if (scan.opt_end != packet.size()) return Result::rejected;  // OPT must be last
    stored_size = scan.opt_offset;
  }

  uint8_t rcode = header.rcode_low();
  bool negative = rcode == 3 || (rcode == 0 && scan.ancount == 0);
  uint32_t lo = negative ? config_.negative_min_ttl : config_.min_ttl;
  uint32_t hi = negative ? config_.negative_max_ttl : config_.max_ttl;
  uint32_t entry_ttl = ttl < scan.min_ttl ? ttl : scan.min_ttl;
  entry_ttl = clamp_ttl(entry_ttl, lo, hi);
  if (status == DnssecStatus::bogus && entry_ttl > config_.bogus_ttl) entry_ttl = config_.bogus_ttl;

  const CacheKey& k = stored_key;
  if (!negative &&
      covered_by_rrset(key, packet, scan, stored_size, status, info_ede.has_value(), now)) {
    // The RRset renders this answer: an entry would only copy its records.
    store_.erase(k);
    return Result::from_rrsets;
  }
  size_t offsets_size = scan.ttl_count * sizeof(uint16_t);
  AnswerEntry* e = allocate_entry<AnswerEntry>(k.size + offsets_size + stored_size);
  e->key_len = k.size;
  e->packet_size = static_cast<uint16_t>(stored_size);
  e->ttl_count = static_cast<uint16_t>(scan.ttl_count);
  e->rcode = rcode;
  e->negative = negative;
  e->rank = Rank::answer_nonauth;
  e->status = status;
  e->info_ede = info_ede ? static_cast<uint16_t>(*info_ede) : AnswerEntry::kNoEde;
  e->original_ttl = entry_ttl;
  e->expires = add_ttl(now, entry_ttl);
  uint8_t* p = entry_tail(e);
  std::memcpy(p, k.bytes, k.size);
  p += k.size;
  if (offsets_size) std::memcpy(p, offsets.data(), offsets_size);
  p += offsets_size;
  std::memcpy(p, packet.data(), stored_size);
  std::span<uint8_t> copy(p, stored_size);
  if (scan.has_opt) write_u16(&copy[10], static_cast<uint16_t>(scan.arcount - 1));

  // Clamp the TTL fields the way the RRset store would have.
  wire::for_each_scanned_record(copy, [&](const wire::ScannedRecord& r) {
    uint32_t t = clamp_ttl(r.ttl, lo, hi);
    if (negative && r.section == 2 && r.type == wire::RRType::SOA && r.rdata_length >= 22) {
      uint32_t minimum = read_u32(&copy[r.rdata_offset + r.rdata_length - 4]);
      if (minimum < t) t = clamp_ttl(minimum, lo, hi);
    }
    write_u32(&copy[r.ttl_offset], t);
    return true;
  });

  auto outcome = store_.insert(e, k, [](const AnswerEntry&) { return true; });
  return outcome == InsertOutcome::stored ? Result::stored : Result::too_large;
}

RestoreResult AnswerCache::restore(const AnswerKey& key, std::span<const uint8_t> packet,
                                  DnssecStatus status, std::optional<wire::EdeCode> info_ede,
                                  uint32_t expires, uint32_t original_ttl, uint32_t now) {
  if (!valid_status(status) || status == DnssecStatus::bogus ||
      packet.size() < wire::kHeaderSize || packet.size() > 0xFFFF) {
    return RestoreResult::rejected;
  }
  wire::PacketScan scan;
  std::vector<uint16_t> offsets(packet.size() / 11 + 1);
  if (!wire::scan_packet(packet, scan, offsets) || !scan.offsets_complete || scan.has_opt ||
      scan.qdcount != 1 || scan.qname_compressed) {
    return RestoreResult::rejected;
  }
  wire::Header header;
  (void)wire::Header::parse(packet, header);
  if (!header.qr() || header.tc()) return RestoreResult::rejected;
  wire::Name qname;
  size_t pos = wire::kHeaderSize;
  if (wire::Name::parse(packet, pos, qname) != wire::WireError::ok || !(qname == key.qname) ||
      read_u16(&packet[pos]) != static_cast<uint16_t>(key.qtype) ||
      read_u16(&packet[pos + 2]) != static_cast<uint16_t>(key.qclass)) {
    return RestoreResult::rejected;
  }
  const uint8_t rcode = header.rcode_low();
  const bool negative = rcode == 3 || (rcode == 0 && scan.ancount == 0);
  const uint32_t max_ttl = negative ? config_.negative_max_ttl : config_.max_ttl;
  bool within_bounds = original_ttl <= max_ttl && expires <= add_ttl(now, max_ttl);
  wire::for_each_scanned_record(packet, [&](const wire::ScannedRecord& r) {
    if (r.ttl > max_ttl) within_bounds = false;
    return within_bounds;
  });
  if (!within_bounds || now >= stale_deadline(expires, config_)) return RestoreResult::expired;
  CacheKey k = make_answer_key(key);
  size_t offsets_size = scan.ttl_count * sizeof(uint16_t);
  AnswerEntry* e = allocate_entry<AnswerEntry>(k.size + offsets_size + packet.size());
  e->key_len = k.size;
  e->packet_size = static_cast<uint16_t>(packet.size());
  e->ttl_count = static_cast<uint16_t>(scan.ttl_count);
  e->rcode = rcode;
  e->negative = negative;
  e->rank = Rank::answer_nonauth;
  e->status = status;
  e->info_ede = info_ede ? static_cast<uint16_t>(*info_ede) : AnswerEntry::kNoEde;
  e->original_ttl = original_ttl;
  e->expires = expires;
  uint8_t* p = entry_tail(e);
  std::memcpy(p, k.bytes, k.size);
  p += k.size;
  if (offsets_size) std::memcpy(p, offsets.data(), offsets_size);
  std::memcpy(p + offsets_size, packet.data(), packet.size());
  return restore_result_of(store_.insert(e, k, restored_may_replace<AnswerEntry>(now)));
}

bool AnswerCache::lookup(const AnswerKey& key, uint16_t id, const wire::Name& qname_as_sent,
                         uint32_t now, std::span<uint8_t> out, size_t& out_len, AnswerHit& hit,
                         StalePolicy policy) {
  return lookup(make_answer_key(key), id, qname_as_sent, now, out, out_len, hit, policy);
}

bool AnswerCache::lookup(const CacheKey& key, uint16_t id, const wire::Name& qname_as_sent,
                         uint32_t now, std::span<uint8_t> out, size_t& out_len, AnswerHit& hit,
                         StalePolicy policy) {
  hit = AnswerHit{};
  out_len = 0;
  bool served = false;
  if (qname_as_sent.wire_size() != key.name_size) {
    store_.count(key, StoreCounter::misses);
    return false;
  }
  const uint8_t flags = key.bytes[key.size - 1];
  const bool rrset_fallback =
      rrsets_ && !(flags & kAnswerKeyView) &&
      question_answerable_from_rrset(static_cast<wire::RRType>(read_u16(key.bytes + key.name_size)),
                                     flags & kAnswerKeyCd);
  // Most hits are rendered from the RRset store after this store misses:
  // start loading that bucket now, so its memory latency overlaps this
  // store's probe. (A view's key has a view tag: never rendered.)
  CacheKey rkey;
  if (rrset_fallback) {
    rrset_key_of(key, rkey);
    rrsets_->prefetch(rkey);
  }
  bool present = store_.visit_counted(key, [&](AnswerEntry& e, auto& counters) {
    Freshness freshness;
    bool claimed;
    if (!classify(e, now, policy, config_, freshness, claimed)) {
      hit.stale_available = config_.serve_stale && e.expired(now) && !e.gone(now, config_);
      counters.add(StoreCounter::misses);
      return e.gone(now, config_);
    }
    if (out.size() < e.packet_size) {
      if (claimed) e.release_refresh_claim();
      counters.add(StoreCounter::misses);
      return false;
    }
    const uint8_t* packet = packet_start(e);
    uint8_t* o = out.data();
    std::memcpy(o, packet, e.packet_size);
    write_u16(o, id);
    copy_short(o + wire::kHeaderSize, qname_as_sent.wire().data(), qname_as_sent.wire_size());
    bool stale = freshness == Freshness::stale;
    uint32_t inserted = e.expires - e.original_ttl;
    uint32_t age = now > inserted ? now - inserted : 0;
    for (size_t i = 0; i < e.ttl_count; ++i) {
      uint16_t at = stored_offset(e, i);
      uint32_t t;
      if (stale) {
        t = config_.stale_answer_ttl;
      } else {
        uint32_t original = read_u32(packet + at);
        t = original > age ? original - age : 0;
      }
      write_u32(o + at, t);
    }
    out_len = e.packet_size;
    hit.freshness = freshness;
    hit.refresh_claimed = claimed;
    hit.ttl = stale ? config_.stale_answer_ttl : e.ttl_left(now);
    hit.rcode = e.rcode;
    hit.negative = e.negative;
    hit.status = e.status;
    if (e.info_ede != AnswerEntry::kNoEde) hit.info_ede = static_cast<wire::EdeCode>(e.info_ede);
    served = true;
    counters.add(StoreCounter::hits);
    if (stale) counters.add(StoreCounter::stale_hits);
    if (freshness == Freshness::prefetch_due) counters.add(StoreCounter::prefetches);
    return false;
  }, !rrset_fallback);
  if (present || !rrset_fallback) return served;
  served = lookup_rrset(rkey, id, qname_as_sent, now, out, out_len, hit, policy);
  // Counted as answers (the RRset store counts only its own look-ups).
  store_.count(key, served ? StoreCounter::hits : StoreCounter::misses);
  if (served && hit.freshness == Freshness::stale) store_.count(key, StoreCounter::stale_hits);
  if (served && hit.freshness == Freshness::prefetch_due) {
    store_.count(key, StoreCounter::prefetches);
  }
  return served;
}

bool AnswerCache::lookup_rrset(const CacheKey& rkey, uint16_t id, const wire::Name& qname_as_sent,
                               uint32_t now, std::span<uint8_t> out, size_t& out_len,
                               AnswerHit& hit, StalePolicy policy) {
  // The answer key's flags octet sits right after the RRset key's octets.
  const bool dnssec_ok = rkey.bytes[rkey.size] & 1;
  bool served = false;
  rrsets_->visit_entry(rkey, [&](RRsetEntry& e) {
    if (!rrset_answers_client(e, dnssec_ok)) return false;
    Freshness freshness;
    bool claimed;
    if (!classify(e, now, policy, config_, freshness, claimed)) {
      hit.stale_available = config_.serve_stale && e.expired(now) && !e.gone(now, config_);
      return e.gone(now, config_);
    }
    const bool stale = freshness == Freshness::stale;
    const uint32_t ttl = stale ? config_.stale_answer_ttl : e.ttl_left(now);
    if (!render_rrset_answer(e, id, qname_as_sent.wire(), dnssec_ok, ttl, out, out_len)) {
      if (claimed) e.release_refresh_claim();
      out_len = 0;
      return false;
    }
    hit.freshness = freshness;
    hit.refresh_claimed = claimed;
    hit.ttl = ttl;
    hit.rcode = 0;
    hit.negative = false;
    hit.status = e.status;
    served = true;
    return false;
  });
  return served;
}

void AnswerCache::finish_refresh(const AnswerKey& key) {
  bool present = store_.visit(make_answer_key(key), [](AnswerEntry& e) {
    e.release_refresh_claim();
    return false;
  });
  if (!present && rrsets_ && key.view == 0 && question_answerable_from_rrset(key.qtype, key.checking_disabled)) {
    rrsets_->finish_refresh(key.qname, key.qtype, key.qclass);
  }
}

void AnswerCache::finish_refresh(const CacheKey& key) {
  store_.visit(key, [](AnswerEntry& e) {
    e.release_refresh_claim();
    return false;
  });
}

bool AnswerCache::erase(const AnswerKey& key) { return store_.erase(make_answer_key(key)); }

size_t AnswerCache::flush_name(const wire::Name& name) {
  return store_.erase_if([&](const AnswerEntry& e) {
    return packet_mentions({packet_start(e), e.packet_size},
                           [&](const wire::Name& n) { return n == name; });
  });
}

size_t AnswerCache::flush_subtree(const wire::Name& apex) {
  return store_.erase_if([&](const AnswerEntry& e) {
    return packet_mentions({packet_start(e), e.packet_size},
                           [&](const wire::Name& n) { return n.is_subdomain_of(apex); });
  });
}

size_t AnswerCache::flush_view(uint16_t view, const std::function<bool(const wire::Name&)>& names) {
  if (view == 0) return 0;
  return store_.erase_if([&](const AnswerEntry& e) {
    auto key = answer_part(ShardedStore<AnswerEntry>::key_of(e), suffixed_keys_);
    if (!(key.back() & kAnswerKeyView) || read_u16(&key[key.size() - 3]) != view) return false;
    if (!names) return true;
    std::span<const uint8_t> packet = packet_of(e);
    if (packet_mentions(packet, names)) return true;
    // CNAME and DNAME targets (a chain may end at a name with no record).
    bool found = false;
    wire::for_each_scanned_record(packet, [&](const wire::ScannedRecord& r) {
      if (r.type != wire::RRType::CNAME && r.type != wire::RRType::DNAME) return true;
      size_t at = r.rdata_offset;
      wire::Name target;
      if (wire::Name::parse(packet, at, target) == wire::WireError::ok && names(target)) found = true;
      return !found;
    });
    return found;
  });
}

void AnswerCache::dump(std::string& out, uint32_t now) const {
  store_.for_each([&](const AnswerEntry& e) {
    auto key = answer_part(ShardedStore<AnswerEntry>::key_of(e), suffixed_keys_);
    size_t n = key_name_size(key);
    uint8_t flags = key.back();
    std::string view = (flags & kAnswerKeyView) ? fmt::format(" view={}", read_u16(&key[n + 4])) : std::string();
    bool stale = e.expired(now);
    fmt::format_to(std::back_inserter(out),
                   "; answer {} {} {}{}{}{} rcode={} ttl={} bytes={} status={}{}\n",
                   key_name(key).to_text(),
                   wire::to_string(static_cast<wire::RRClass>(read_u16(&key[n + 2]))),
                   wire::to_string(static_cast<wire::RRType>(read_u16(&key[n]))),
                   (flags & 1) ? " +do" : "", (flags & 2) ? " +cd" : "", view, e.rcode,
                   stale ? 0 : e.ttl_left(now), e.packet_size, to_string(e.status),
                   stale ? " stale" : "");
  });
}

}  // namespace sextant::cache
