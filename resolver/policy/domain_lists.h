// Blocklists and the allowlist: sets of names with suffix matching.
//
// A blocklist entry "example.com" blocks example.com and every name below
// it; "*.example.com" blocks only the names below. An allowlist entry is
// literal: "api.example.com" allows that name only, "*.example.com" the
// names below example.com but not example.com itself (the rule, as
// egress allowlists of service meshes write it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/policy/list_files.h"
#include "resolver/policy/lookup_name.h"
#include "resolver/policy/name_table.h"
#include "resolver/policy/policy_answer.h"
#include "wire/record.h"

namespace sextant::resolver::policy {

// Names, each matching itself and/or the names below it.
class DomainSet {
 public:
  void add(const wire::Name& name, bool itself, bool below);
  // The number of labels the matching entry strips from `name` (0: the
  // name itself), or nullopt. The closest entry wins.
  std::optional<size_t> match(const LookupName& name) const noexcept;
  void prefetch(const LookupName& name) const noexcept;
  size_t size() const noexcept { return table_.size(); }
  bool empty() const noexcept { return table_.empty(); }
  size_t memory_bytes() const noexcept { return table_.memory_bytes(); }
  void shrink() { table_.shrink(); }
  const NameTable& table() const noexcept { return table_; }

 private:
  static constexpr uint32_t kItself = 1, kBelow = 2;
  NameTable table_;
};

enum class BlockAction : uint8_t { nxdomain, nodata, sinkhole, refuse };
std::optional<BlockAction> block_action_from_text(std::string_view text);

struct BlocklistOptions {
  std::string name;  // metrics and the event log: blocked:NAME
  BlockAction action = BlockAction::nxdomain;
  std::optional<wire::EdeCode> ede = wire::EdeCode::Blocked;
  uint32_t ttl = 300;  // of sinkhole records
  std::vector<Address> sinkhole;  // for BlockAction::sinkhole: A and/or AAAA answers
  uint32_t counter_slot = PolicyMatch::kNoSlot;
};

class Blocklist {
 public:
  explicit Blocklist(BlocklistOptions options);

  // Reads a list (text already loaded) into the set; bad lines go into `report`.
  void add_text(std::string_view text, ListFormat format, ListReport& report);
  void add(const wire::Name& name, bool below_only);
  void finish() { names_.shrink(); }

  const std::string& name() const noexcept { return options_.name; }
  const BlocklistOptions& options() const noexcept { return options_; }
  const DomainSet& names() const noexcept { return names_; }
  size_t size() const noexcept { return names_.size(); }
  size_t memory_bytes() const noexcept { return names_.memory_bytes(); }

  // Fills `out` when `qname` is listed.
  bool check(const LookupName& qname, wire::RRType qtype, PolicyAnswer& out) const;

 private:
  BlocklistOptions options_;
  DomainSet names_;
  wire::RRset sinkhole_a_, sinkhole_aaaa_;
};

enum class AllowlistMiss : uint8_t { refuse, nxdomain };

class Allowlist {
 public:
  explicit Allowlist(AllowlistMiss miss, uint32_t counter_slot = PolicyMatch::kNoSlot)
      : miss_(miss), counter_slot_(counter_slot) {}
  void add_text(std::string_view text, ListReport& report);
  void add(const wire::Name& name, bool below_only);
  void finish() { names_.shrink(); }
  const DomainSet& names() const noexcept { return names_; }
  AllowlistMiss miss() const noexcept { return miss_; }

  // True when `qname` may be resolved; otherwise `out` holds the refusal.
  bool allows(const LookupName& qname, PolicyAnswer& out) const;

 private:
  AllowlistMiss miss_;
  uint32_t counter_slot_;
  DomainSet names_;
};

}  // namespace sextant::resolver::policy
