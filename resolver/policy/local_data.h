// Local data: names and zones Sextant answers itself, with Unbound's
// local-zone types (unbound.conf(5), "local-zone"):
//
//   transparent       local data answered; other names resolved normally
//   typetransparent   as transparent, and types a local name lacks are resolved too
//   static            local data answered; other names NXDOMAIN (NODATA for
//                     empty non-terminals), with the zone's SOA if it has one
//   redirect          every name in the zone gets the apex's data
//   refuse / deny     REFUSED / dropped, except names with local data
//   always_transparent, always_refuse, always_deny, always_nxdomain,
//   always_nodata     the same whatever local data says
//   always_null       A 0.0.0.0 / AAAA ::, other types NODATA
//
// Local data outside every declared zone gets a transparent zone of its own
// at its owner name, as in Unbound. Owners may be wildcards ("*.svc.cluster
// .example."): a name below the wildcard's parent that has no data of its own
// gets the wildcard's records (RFC 4592, simplified: an existing name
// between them stops the match). PTR records are generated for local A and
// AAAA data unless the reverse name already has a PTR.
//
// Built once (add_zone, add_record, finish), then read-only and shared by
// every worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "resolver/policy/address_match.h"
#include "resolver/policy/lookup_name.h"
#include "resolver/policy/name_table.h"
#include "resolver/policy/policy_answer.h"
#include "wire/record.h"

namespace sextant::resolver::policy {

enum class LocalZoneType : uint8_t {
  transparent, typetransparent, static_zone, redirect, refuse, deny,
  always_transparent, always_refuse, always_deny, always_nxdomain, always_nodata, always_null,
};
std::optional<LocalZoneType> local_zone_type_from_text(std::string_view text);
const char* to_string(LocalZoneType t) noexcept;

// "4.3.2.1.in-addr.arpa." / nibble form under ip6.arpa. for an address.
wire::Name reverse_name(const Address& address);

class LocalData {
 public:
  static constexpr uint32_t kDefaultTtl = 3600;

  LocalData();

  // Declares a zone; false if `apex` was declared already (the first stays).
  bool add_zone(const wire::Name& apex, LocalZoneType type);
  // Adds one record (class IN); records of one owner and type form an RRset
  // (the first record's TTL is the set's). Throws std::invalid_argument for
  // what a zone could not hold: CNAME beside other data at one owner.
  void add_record(const wire::ResourceRecord& record);
  // Creates the implicit zones and empty non-terminals, finds each zone's
  // SOA, and generates PTR records when `generate_ptr`.
  void finish(bool generate_ptr);

  // Decides for `qname`/`qtype`; Disposition::pass when no local zone
  // covers the name or the zone lets it be resolved.
  PolicyAnswer lookup(const LookupName& qname, wire::RRType qtype) const;

  // Starts loading the slots lookup() will read.
  void prefetch(const LookupName& qname) const noexcept;

  void set_counter_slot(uint32_t slot) noexcept { counter_slot_ = slot; }

  size_t zone_count() const noexcept { return zones_.size(); }
  size_t record_count() const noexcept { return records_; }
  bool empty() const noexcept { return zones_.empty() && nodes_.empty(); }
  size_t memory_bytes() const noexcept;

 private:
  struct Zone {
    wire::Name apex;
    std::string apex_text;  // the event log's source
    LocalZoneType type = LocalZoneType::transparent;
    uint32_t soa_node = NameTable::kNotFound;  // node holding the apex SOA
  };
  struct Node {
    std::vector<wire::RRset> sets;  // empty: an empty non-terminal
    const wire::RRset* find(wire::RRType type) const noexcept;
  };

  uint32_t node_for(const wire::Name& owner);
  // The closest enclosing zone of suffix `from` of `qname`, and its label count.
  const Zone* closest_zone(const LookupName& qname, size_t& zone_labels) const noexcept;
  // The data answer of `node` for `qtype` (records, CNAME, or NODATA).
  void answer_from_node(const Node& node, const Zone& zone, wire::RRType qtype, bool owner_is_qname,
                        PolicyAnswer& out) const;
  void negative(const Zone& zone, wire::Rcode rcode, PolicyAnswer& out) const;

  NameTable zone_table_;  // apex -> index in zones_
  std::vector<Zone> zones_;
  NameTable node_table_;  // owner (wildcards as "*.parent") -> index in nodes_
  std::vector<Node> nodes_;
  size_t records_ = 0;
  uint32_t counter_slot_ = PolicyMatch::kNoSlot;
  // The always_null answers: A 0.0.0.0 and AAAA ::.
  wire::RRset null_a_, null_aaaa_;
};

}  // namespace sextant::resolver::policy
