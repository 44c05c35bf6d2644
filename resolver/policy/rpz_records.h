// The records of a transferred RPZ zone, kept beside the interpreted
// RpzZone so an IXFR can be applied: deletions and additions change this
// set, then the zone is rebuilt from it with RpzZoneBuilder (the tables of
// RpzZone are built for lookups, not for removing entries).
//
// RpzTransfer is what a transfer produces (the XfrSink): a whole new set
// (AXFR, or IXFR answered in full) or the differences, applied to a set
// with apply_to() all or nothing: a deletion of a record the set does not
// hold is an inconsistency (the caller falls back to AXFR) and leaves the
// set as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "resolver/policy/rpz_zone.h"
#include "wire/record.h"
#include "wire/zone_transfer.h"

namespace sextant::resolver::policy {

class RpzRecordSet {
 public:
  explicit RpzRecordSet(const wire::Name& origin) : origin_(origin.lowercased()) {}
  const wire::Name& origin() const noexcept { return origin_; }
  size_t size() const noexcept { return records_.size(); }
  std::optional<uint32_t> serial() const noexcept { return serial_; }
  // The zone's SOA (what an IXFR query sends), if it has one.
  std::optional<wire::ResourceRecord> soa() const;

  // True if it was not there (a new TTL replaces the old one).
  bool add(const wire::ResourceRecord& rr);
  // True if it was there (matched by owner, type and rdata; TTL ignored).
  bool remove(const wire::ResourceRecord& rr);
  // Every record, in no particular order.
  void for_each(const std::function<void(const wire::ResourceRecord&)>& f) const;
  // Interprets the set; throws wire::TextError (the zone is refused).
  std::shared_ptr<RpzZone> build(const RpzOptions& options, const std::string& source) const;
  // Master-file text (the zonefile cache), SOA first.
  std::string to_text() const;

 private:
  static std::string key_of(const wire::ResourceRecord& rr);
  static bool decode(const std::string& key, uint32_t ttl, wire::ResourceRecord& rr);
  wire::Name origin_;
  std::unordered_map<std::string, uint32_t> records_;  // owner (lower-cased wire) + type + rdata -> TTL
  std::optional<uint32_t> serial_;
  std::string soa_key_;
};

class RpzTransfer final : public wire::XfrSink {
 public:
  explicit RpzTransfer(const wire::Name& origin) : origin_(origin) {}

  void full_record(const wire::ResourceRecord& rr) override;
  void diff_begin(uint32_t from) override;
  void diff_additions(uint32_t to, const wire::ResourceRecord& new_soa) override;
  void diff_delete(const wire::ResourceRecord& rr) override;
  void diff_add(const wire::ResourceRecord& rr) override;

  // A whole zone: take it (null for differences).
  std::unique_ptr<RpzRecordSet> take_full() { return std::move(full_); }
  bool has_diffs() const noexcept { return !diffs_.empty(); }
  size_t changes() const noexcept;
  // The differences applied to a copy of `base` (the zone built from the
  // set they were applied to) without rebuilding it: null when some change
  // cannot be made in place (then build the set whole). Throws
  // wire::TextError for a change the policy loader refuses.
  std::shared_ptr<RpzZone> edit(const RpzZone& base, const std::string& source) const;
  // The QNAME trigger names the differences touch (relative to the origin,
  // a wildcard's "*." removed: what PolicyRuntime flushes), or null when
  // they touch IP triggers or more names than a flush by name is worth.
  std::shared_ptr<const NameTable> changed_triggers() const;
  // Applies every difference sequence in order; on an inconsistency
  // returns false with `error` set and `set` unchanged.
  bool apply_to(RpzRecordSet& set, std::string& error) const;

 private:
  struct Diff {
    uint32_t from = 0, to = 0;
    wire::ResourceRecord new_soa;
    std::vector<wire::ResourceRecord> deleted, added;
  };
  wire::Name origin_;
  std::unique_ptr<RpzRecordSet> full_;
  std::vector<Diff> diffs_;
};

}  // namespace sextant::resolver::policy
