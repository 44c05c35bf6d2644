#include "resolver/policy/domain_lists.h"

namespace sextant::resolver::policy {

void DomainSet::add(const wire::Name& name, bool itself, bool below) {
  uint32_t flags = (itself ? kItself : 0) | (below ? kBelow : 0);
  auto r = table_.insert(name, flags);
  if (!r.inserted) table_.set_value(r.position, table_.value_at(r.position) | flags);
}

std::optional<size_t> DomainSet::match(const LookupName& name) const noexcept {
  if (table_.empty()) return std::nullopt;
  for (size_t i = 0; i < name.labels(); ++i) {
    uint32_t v = table_.find_suffix(name, i);
    if (v == NameTable::kNotFound) continue;
    if (i == 0 ? (v & kItself) : (v & kBelow)) return i;
  }
  return std::nullopt;
}

void DomainSet::prefetch(const LookupName& name) const noexcept {
  if (table_.empty()) return;
  for (size_t i = 0; i < name.labels(); ++i) table_.prefetch_suffix(name, i);
}

std::optional<BlockAction> block_action_from_text(std::string_view text) {
  if (text == "nxdomain") return BlockAction::nxdomain;
  if (text == "nodata") return BlockAction::nodata;
  if (text == "sinkhole") return BlockAction::sinkhole;
  if (text == "refuse") return BlockAction::refuse;
  return std::nullopt;
}

Blocklist::Blocklist(BlocklistOptions options) : options_(std::move(options)) {
  sinkhole_a_.type = wire::RRType::A;
  sinkhole_aaaa_.type = wire::RRType::AAAA;
  sinkhole_a_.ttl = sinkhole_aaaa_.ttl = options_.ttl;
  for (const Address& a : options_.sinkhole) {
    wire::RRset& set = a.family == AF_INET ? sinkhole_a_ : sinkhole_aaaa_;
    set.rdatas.emplace_back(a.bytes, a.bytes + a.size());
  }
}

void Blocklist::add(const wire::Name& name, bool below_only) { names_.add(name, !below_only, true); }

void Blocklist::add_text(std::string_view text, ListFormat format, ListReport& report) {
  parse_domain_list(text, format, report, [&](const wire::Name& name, bool below_only, size_t) { add(name, below_only); });
}

bool Blocklist::check(const LookupName& qname, wire::RRType qtype, PolicyAnswer& out) const {
  std::optional<size_t> at = names_.match(qname);
  if (!at) return false;
  out.match.kind = PolicyKind::blocked;
  out.match.source = options_.name;
  out.match.counter_slot = options_.counter_slot;
  out.match.rule_name = wire::Name::from_wire(qname.suffix(*at));
  out.match.has_rule_name = true;
  out.ede = options_.ede;
  out.owner_is_qname = true;
  out.negative_ttl = options_.ttl;
  out.disposition = Disposition::answer;
  switch (options_.action) {
    case BlockAction::nxdomain:
      out.match.action = RpzAction::nxdomain;
      out.rcode = wire::Rcode::NXDOMAIN;
      break;
    case BlockAction::nodata:
      out.match.action = RpzAction::nodata;
      out.rcode = wire::Rcode::NOERROR;
      break;
    case BlockAction::refuse:
      out.match.action = RpzAction::refuse;
      out.disposition = Disposition::refuse;
      break;
    case BlockAction::sinkhole:
      out.match.action = RpzAction::local_data;
      out.rcode = wire::Rcode::NOERROR;
      if ((qtype == wire::RRType::A || qtype == wire::RRType::ANY) && !sinkhole_a_.rdatas.empty()) out.add(&sinkhole_a_);
      if ((qtype == wire::RRType::AAAA || qtype == wire::RRType::ANY) && !sinkhole_aaaa_.rdatas.empty())
        out.add(&sinkhole_aaaa_);
      break;
  }
  return true;
}

void Allowlist::add(const wire::Name& name, bool below_only) { names_.add(name, !below_only, below_only); }

void Allowlist::add_text(std::string_view text, ListReport& report) {
  parse_domain_list(text, ListFormat::any, report, [&](const wire::Name& name, bool below_only, size_t) { add(name, below_only); });
}

bool Allowlist::allows(const LookupName& qname, PolicyAnswer& out) const {
  if (names_.match(qname)) return true;
  out.match.kind = PolicyKind::refused_by_allowlist;
  out.match.source = "allowlist";
  out.match.counter_slot = counter_slot_;
  out.match.action = miss_ == AllowlistMiss::refuse ? RpzAction::refuse : RpzAction::nxdomain;
  out.ede = wire::EdeCode::Prohibited;
  if (miss_ == AllowlistMiss::refuse) {
    out.disposition = Disposition::refuse;
  } else {
    out.disposition = Disposition::answer;
    out.rcode = wire::Rcode::NXDOMAIN;
  }
  return false;
}

}  // namespace sextant::resolver::policy
