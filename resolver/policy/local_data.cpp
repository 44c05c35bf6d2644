#include "resolver/policy/local_data.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace sextant::resolver::policy {

namespace {

struct ZoneTypeName {
  LocalZoneType type;
  std::string_view text;
};
constexpr ZoneTypeName kZoneTypes[] = {
    {LocalZoneType::transparent, "transparent"},
    {LocalZoneType::typetransparent, "typetransparent"},
    {LocalZoneType::static_zone, "static"},
    {LocalZoneType::redirect, "redirect"},
    {LocalZoneType::refuse, "refuse"},
    {LocalZoneType::deny, "deny"},
    {LocalZoneType::always_transparent, "always_transparent"},
    {LocalZoneType::always_refuse, "always_refuse"},
    {LocalZoneType::always_deny, "always_deny"},
    {LocalZoneType::always_nxdomain, "always_nxdomain"},
    {LocalZoneType::always_nodata, "always_nodata"},
    {LocalZoneType::always_null, "always_null"},
};

wire::Rdata name_rdata(const wire::Name& name) {
  wire::Name lower = name.lowercased();
  auto w = lower.wire();
  return wire::Rdata(w.begin(), w.end());
}

}  // namespace

std::optional<LocalZoneType> local_zone_type_from_text(std::string_view text) {
  for (const auto& z : kZoneTypes)
    if (z.text == text) return z.type;
  return std::nullopt;
}

const char* to_string(LocalZoneType t) noexcept {
  for (const auto& z : kZoneTypes)
    if (z.type == t) return z.text.data();
  return "?";
}

wire::Name reverse_name(const Address& a) {
  std::string text;
  if (a.family == AF_INET) {
    text = fmt::format("{}.{}.{}.{}.in-addr.arpa.", a.bytes[3], a.bytes[2], a.bytes[1], a.bytes[0]);
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 16; i-- > 0;) {
      text += kHex[a.bytes[i] & 0x0F];
      text += '.';
      text += kHex[a.bytes[i] >> 4];
      text += '.';
    }
    text += "ip6.arpa.";
  }
  return wire::Name::from_text(text);
}

const wire::RRset* LocalData::Node::find(wire::RRType type) const noexcept {
  for (const auto& s : sets)
    if (s.type == type) return &s;
  return nullptr;
}

LocalData::LocalData() {
  null_a_.type = wire::RRType::A;
  null_a_.ttl = kDefaultTtl;
  null_a_.rdatas.push_back(wire::Rdata(4, 0));
  null_aaaa_.type = wire::RRType::AAAA;
  null_aaaa_.ttl = kDefaultTtl;
  null_aaaa_.rdatas.push_back(wire::Rdata(16, 0));
}

bool LocalData::add_zone(const wire::Name& apex, LocalZoneType type) {
  auto r = zone_table_.insert(apex, static_cast<uint32_t>(zones_.size()));
  if (!r.inserted) return false;
  zones_.push_back(Zone{apex.lowercased(), apex.lowercased().to_text(), type, NameTable::kNotFound});
  return true;
}

uint32_t LocalData::node_for(const wire::Name& owner) {
  auto r = node_table_.insert(owner, static_cast<uint32_t>(nodes_.size()));
  if (r.inserted) nodes_.emplace_back();
  return node_table_.value_at(r.position);
}

void LocalData::add_record(const wire::ResourceRecord& rr) {
  if (rr.rclass != wire::RRClass::IN) throw std::invalid_argument("local data must be class IN");
  if (wire::is_meta_type(rr.type) || rr.type == wire::RRType::RRSIG)
    throw std::invalid_argument(fmt::format("{} cannot be local data", wire::to_string(rr.type)));
  Node& node = nodes_[node_for(rr.owner)];
  bool has_cname = node.find(wire::RRType::CNAME) != nullptr;
  bool has_other = std::any_of(node.sets.begin(), node.sets.end(),
                               [](const wire::RRset& s) { return s.type != wire::RRType::CNAME; });
  if (rr.type == wire::RRType::CNAME && (has_other || has_cname))
    throw std::invalid_argument(fmt::format("{}: a CNAME must be the only record of its name", rr.owner.to_text()));
  if (rr.type != wire::RRType::CNAME && has_cname)
    throw std::invalid_argument(fmt::format("{}: has a CNAME, so it cannot have other records", rr.owner.to_text()));
  for (auto& set : node.sets) {
    if (set.type != rr.type) continue;
    if (std::find(set.rdatas.begin(), set.rdatas.end(), rr.rdata) == set.rdatas.end()) {
      set.rdatas.push_back(rr.rdata);
      ++records_;
    }
    return;
  }
  wire::RRset set;
  set.owner = rr.owner;
  set.type = rr.type;
  set.rclass = rr.rclass;
  set.ttl = rr.ttl;
  set.rdatas.push_back(rr.rdata);
  node.sets.push_back(std::move(set));
  ++records_;
}

void LocalData::finish(bool generate_ptr) {
  std::vector<wire::Name> owners;
  node_table_.for_each([&](std::span<const uint8_t> w, uint32_t) { owners.push_back(wire::Name::from_wire(w)); });

  if (generate_ptr) {
    std::vector<std::pair<wire::Name, wire::Name>> ptrs;  // reverse name -> host name
    for (const auto& owner : owners) {
      if (owner.is_wildcard()) continue;
      const Node& node = nodes_[node_table_.find(owner)];
      for (const auto& set : node.sets) {
        if (set.type != wire::RRType::A && set.type != wire::RRType::AAAA) continue;
        for (const auto& rd : set.rdatas) {
          Address a = set.type == wire::RRType::A ? Address::v4(rd.data()) : Address::v6(rd.data());
          ptrs.emplace_back(reverse_name(a), owner);
        }
      }
    }
    for (const auto& [reverse, host] : ptrs) {
      Node& node = nodes_[node_for(reverse)];
      if (node.find(wire::RRType::PTR) || node.find(wire::RRType::CNAME)) continue;  // explicit or earlier wins
      add_record(wire::ResourceRecord{reverse, wire::RRType::PTR, wire::RRClass::IN, kDefaultTtl, name_rdata(host)});
      owners.push_back(reverse);
    }
  }

  // Local data no declared zone covers gets a transparent zone at its owner
  // (at a wildcard's parent for a wildcard).
  for (const auto& owner : owners) {
    LookupName l(owner);
    size_t zone_labels = 0;
    if (closest_zone(l, zone_labels)) continue;
    add_zone(owner.is_wildcard() ? owner.parent() : owner, LocalZoneType::transparent);
  }

  // Names between an owner and its zone's apex exist (empty non-terminals).
  for (const auto& owner : owners) {
    LookupName l(owner);
    size_t zone_labels = 0;
    if (!closest_zone(l, zone_labels)) continue;
    wire::Name n = owner.parent();
    while (n.label_count() > zone_labels) {
      node_for(n);
      n = n.parent();
    }
  }

  for (auto& zone : zones_) {
    uint32_t node = node_table_.find(zone.apex);
    if (node != NameTable::kNotFound && nodes_[node].find(wire::RRType::SOA)) zone.soa_node = node;
  }
  zone_table_.shrink();
  node_table_.shrink();
}

const LocalData::Zone* LocalData::closest_zone(const LookupName& qname, size_t& zone_labels) const noexcept {
  if (zone_table_.empty()) return nullptr;
  for (size_t i = 0; i <= qname.labels(); ++i) {
    uint32_t z = zone_table_.find_suffix(qname, i);
    if (z != NameTable::kNotFound) {
      zone_labels = qname.labels() - i;
      return &zones_[z];
    }
  }
  return nullptr;
}

void LocalData::prefetch(const LookupName& qname) const noexcept {
  if (zone_table_.empty()) return;
  for (size_t i = 0; i <= qname.labels(); ++i) zone_table_.prefetch_suffix(qname, i);
  node_table_.prefetch_suffix(qname, 0);
}

void LocalData::negative(const Zone& zone, wire::Rcode rcode, PolicyAnswer& out) const {
  out.disposition = Disposition::answer;
  out.rcode = rcode;
  out.authoritative = true;
  if (zone.soa_node != NameTable::kNotFound) out.soa = nodes_[zone.soa_node].find(wire::RRType::SOA);
}

void LocalData::answer_from_node(const Node& node, const Zone& zone, wire::RRType qtype, bool owner_is_qname,
                                 PolicyAnswer& out) const {
  out.owner_is_qname = owner_is_qname;
  if (qtype == wire::RRType::ANY) {
    for (const auto& s : node.sets) out.add(&s);
  } else if (const wire::RRset* s = node.find(qtype)) {
    out.add(s);
  } else if (const wire::RRset* cname = node.find(wire::RRType::CNAME)) {
    out.add(cname);
    size_t pos = 0;
    wire::Name target;
    if (!cname->rdatas.empty() &&
        wire::Name::parse_uncompressed(cname->rdatas.front(), pos, target) == wire::WireError::ok)
      out.chase = target;
  }
  if (out.answer_count == 0) {
    negative(zone, wire::Rcode::NOERROR, out);
    return;
  }
  out.disposition = Disposition::answer;
  out.rcode = wire::Rcode::NOERROR;
  out.authoritative = true;
}

PolicyAnswer LocalData::lookup(const LookupName& qname, wire::RRType qtype) const {
  PolicyAnswer out;
  size_t zone_labels = 0;
  const Zone* zone = closest_zone(qname, zone_labels);
  if (!zone) return out;
  out.match.kind = PolicyKind::local_data;
  out.match.source = zone->apex_text;
  out.match.counter_slot = counter_slot_;
  out.match.action = RpzAction::local_data;
  switch (zone->type) {
    case LocalZoneType::always_transparent: return PolicyAnswer{};
    case LocalZoneType::always_refuse: out.disposition = Disposition::refuse; return out;
    case LocalZoneType::always_deny: out.disposition = Disposition::drop; return out;
    case LocalZoneType::always_nxdomain: negative(*zone, wire::Rcode::NXDOMAIN, out); return out;
    case LocalZoneType::always_nodata: negative(*zone, wire::Rcode::NOERROR, out); return out;
    case LocalZoneType::always_null:
      if (qtype == wire::RRType::A) out.add(&null_a_);
      else if (qtype == wire::RRType::AAAA) out.add(&null_aaaa_);
      if (out.answer_count == 0) {
        negative(*zone, wire::Rcode::NOERROR, out);
        return out;
      }
      out.owner_is_qname = true;
      out.disposition = Disposition::answer;
      return out;
    default: break;
  }

  const bool type_transparent = zone->type == LocalZoneType::typetransparent;
  auto from_node = [&](const Node& node, bool owner_is_qname) -> PolicyAnswer {
    if (type_transparent && qtype != wire::RRType::ANY && !node.find(qtype) && !node.find(wire::RRType::CNAME))
      return PolicyAnswer{};  // this type is resolved normally
    answer_from_node(node, *zone, qtype, owner_is_qname, out);
    return out;
  };

  uint32_t exact = node_table_.find_suffix(qname, 0);
  if (exact != NameTable::kNotFound && !nodes_[exact].sets.empty()) {
    out.match.rule_name = qname.name();
    out.match.has_rule_name = true;
    return from_node(nodes_[exact], false);
  }
  if (exact == NameTable::kNotFound) {
    // The closest wildcard between the name and its zone's apex.
    for (size_t i = 1; i <= qname.labels() - zone_labels; ++i) {
      uint32_t w = node_table_.find_wildcard(qname, i);
      if (w != NameTable::kNotFound && !nodes_[w].sets.empty()) {
        out.match.rule_name = wire::Name::from_wire(qname.suffix(i)).prepend("*");
        out.match.has_rule_name = true;
        return from_node(nodes_[w], true);
      }
      if (node_table_.find_suffix(qname, i) != NameTable::kNotFound) break;  // the closest encloser exists
    }
  }
  // No data for the name itself.
  switch (zone->type) {
    case LocalZoneType::static_zone:
      negative(*zone, exact != NameTable::kNotFound ? wire::Rcode::NOERROR : wire::Rcode::NXDOMAIN, out);
      return out;
    case LocalZoneType::redirect: {
      out.match.rule_name = zone->apex;
      out.match.has_rule_name = true;
      uint32_t apex = node_table_.find(zone->apex);
      if (apex == NameTable::kNotFound) {
        negative(*zone, wire::Rcode::NOERROR, out);
        return out;
      }
      answer_from_node(nodes_[apex], *zone, qtype, true, out);
      return out;
    }
    case LocalZoneType::refuse: out.disposition = Disposition::refuse; return out;
    case LocalZoneType::deny: out.disposition = Disposition::drop; return out;
    default: return PolicyAnswer{};  // transparent, typetransparent
  }
}

size_t LocalData::memory_bytes() const noexcept {
  size_t bytes = zone_table_.memory_bytes() + node_table_.memory_bytes() + zones_.capacity() * sizeof(Zone) +
                 nodes_.capacity() * sizeof(Node);
  for (const auto& n : nodes_) {
    bytes += n.sets.capacity() * sizeof(wire::RRset);
    for (const auto& s : n.sets)
      for (const auto& r : s.rdatas) bytes += r.capacity() + sizeof(wire::Rdata);
  }
  return bytes;
}

}  // namespace sextant::resolver::policy
