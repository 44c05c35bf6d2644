// One response policy zone (draft-vixie-dnsop-dns-rpz), interpreted once
// into tables the query path probes:
//
//   triggers   QNAME             "bad.example.com.ZONE", "*.bad.example.com.ZONE"
//              client IP         "24.0.2.0.192.rpz-client-ip.ZONE"
//              response IP       "32.1.2.0.192.rpz-ip.ZONE", "128.1.zz.db8.2001.rpz-ip.ZONE"
//              rpz-nsdname / rpz-nsip are not supported: counted and skipped
//   actions    CNAME .               NXDOMAIN
//              CNAME *.              NODATA
//              CNAME rpz-passthru.   PASSTHRU (also the legacy CNAME to the name itself)
//              CNAME rpz-drop.       DROP
//              CNAME rpz-tcp-only.   TCP-only
//              anything else         Local Data (a CNAME elsewhere is a walled
//                                    garden; "CNAME *.garden.example." puts the
//                                    question name in front of garden.example.)
//
// Precedence inside one zone: client IP, then QNAME (an exact trigger
// before wildcards, the closest wildcard first), then response IP (the
// longest prefix). Between zones, the first zone that matches decides.
//
// A zone that cannot be interpreted (a trigger that does not parse, a CNAME
// beside other data) is refused whole: RpzZoneBuilder::add throws
// wire::TextError, which the zone-file reader reports as FILE:LINE. The
// RPZ feed (zone transfer) builds zones through the same builder, so a
// transferred zone and a file are read alike.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/policy/address_match.h"
#include "resolver/policy/lookup_name.h"
#include "resolver/policy/name_table.h"
#include "resolver/policy/policy_answer.h"
#include "wire/record.h"

namespace sextant::resolver::policy {

// What the operator says to do instead of the zone's own actions
// (BIND's "policy", Unbound's rpz-action-override).
enum class RpzOverride : uint8_t { given, disabled, passthru, drop, tcp_only, nxdomain, nodata, cname };
std::optional<RpzOverride> rpz_override_from_text(std::string_view text);

struct RpzOptions {
  std::string name;  // for logs and metrics; the zone's origin if empty
  RpzOverride override_action = RpzOverride::given;
  wire::Name override_cname;  // the walled garden for RpzOverride::cname
  std::optional<wire::EdeCode> ede = wire::EdeCode::Blocked;
  uint32_t counter_slot = PolicyMatch::kNoSlot;
};

// One matched trigger.
struct RpzHit {
  RpzAction action = RpzAction::none;
  RpzTrigger trigger = RpzTrigger::none;
  uint32_t rule = 0;  // local data: index of the rule's record sets
  wire::Name trigger_name;  // the QNAME trigger, or the IP trigger's owner
  size_t wildcard_suffix = 0;  // for a wildcard QNAME trigger: the labels it covers
};

class RpzZone {
 public:
  const std::string& name() const noexcept { return name_; }
  // Where hits are counted (set by the policy builder before sharing).
  void set_counter_slot(uint32_t slot) noexcept { options_.counter_slot = slot; }
  const wire::Name& origin() const noexcept { return origin_; }
  const RpzOptions& options() const noexcept { return options_; }
  std::optional<uint32_t> serial() const noexcept { return serial_; }
  // Where it came from ("FILE", or what the feed says) and when it was built.
  const std::string& source() const noexcept { return source_; }
  std::time_t loaded_at() const noexcept { return loaded_at_; }

  size_t qname_triggers() const noexcept { return qname_.size(); }
  size_t client_ip_triggers() const noexcept { return client_ip_.size(); }
  size_t response_ip_triggers() const noexcept { return response_ip_.size(); }
  size_t unsupported_triggers() const noexcept { return unsupported_; }
  size_t records() const noexcept { return records_; }
  bool has_response_triggers() const noexcept { return !response_ip_.empty(); }
  size_t memory_bytes() const noexcept;

  bool match_client(const Address& client, RpzHit& hit) const;
  bool match_qname(const LookupName& qname, RpzHit& hit) const;
  void prefetch(const LookupName& qname) const noexcept;
  // The longest response-IP trigger matching any of the A/AAAA rdata.
  bool match_response(std::span<const wire::RRset> answer, RpzHit& hit) const;

  // Fills `out` for a hit on question `qname`/`qtype`, applying the
  // zone's override; returns false when the hit changes nothing (PASSTHRU,
  // or an override of `disabled`, which is logged only).
  bool apply(const RpzHit& hit, const LookupName& qname, wire::RRType qtype, PolicyAnswer& out) const;

  // The trigger names and prefixes, for comparing two versions of a zone
  // (the cache flush after a reload or a transfer).
  const NameTable& qname_table() const noexcept { return qname_; }
  const PrefixTable& response_table() const noexcept { return response_ip_; }
  // A value that changes when the trigger's action or data changes.
  uint64_t rule_fingerprint(uint32_t value) const;

 private:
  friend class RpzZoneBuilder;
  struct Rule {
    std::vector<wire::RRset> sets;
  };
  static constexpr unsigned kActionShift = 28;
  static uint32_t encode(RpzAction a, uint32_t index) noexcept {
    return (static_cast<uint32_t>(a) << kActionShift) | index;
  }
  static RpzAction action_of(uint32_t v) noexcept { return static_cast<RpzAction>(v >> kActionShift); }
  static uint32_t index_of(uint32_t v) noexcept { return v & ((1u << kActionShift) - 1); }

  std::string name_;
  wire::Name origin_;
  RpzOptions options_;
  std::optional<uint32_t> serial_;
  std::string source_;
  std::time_t loaded_at_ = 0;
  NameTable qname_;  // trigger name (wildcards as "*.x") -> encoded action
  PrefixTable client_ip_;
  PrefixTable response_ip_;
  std::vector<Rule> rules_;  // local data
  size_t unsupported_ = 0;
  size_t records_ = 0;
  uint32_t negative_ttl_ = 300;  // min(SOA TTL, MINIMUM) once the SOA is read
};

class RpzZoneBuilder {
 public:
  RpzZoneBuilder(const wire::Name& origin, RpzOptions options, std::string source);
  // Interprets one record of the zone. Throws wire::TextError (no
  // position: the caller adds it) for a record that makes the zone unusable.
  void add(const wire::ResourceRecord& record);
  std::shared_ptr<RpzZone> finish();

 private:
  std::shared_ptr<RpzZone> zone_;
};

// Reads an RPZ zone file (master-file format) with `origin` (or the
// file's $ORIGIN / first SOA when `origin` is the root). Throws
// wire::TextError "FILE:LINE: ..." when the zone is refused.
std::shared_ptr<RpzZone> load_rpz_file(const std::string& path, const wire::Name& origin, RpzOptions options);
// The same from text (tests, fuzzing).
std::shared_ptr<RpzZone> load_rpz_text(std::string_view text, std::string_view source,
                                             const wire::Name& origin, RpzOptions options);

// "24.0.2.0.192" / "128.1.zz.db8.2001" (the labels in front of rpz-ip):
// the prefix they encode; throws wire::TextError.
AddressPrefix parse_rpz_ip_labels(const wire::Name& labels);

}  // namespace sextant::resolver::policy
