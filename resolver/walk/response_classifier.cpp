#include "resolver/walk/response_classifier.h"

#include <fmt/format.h>

#include <algorithm>

#include "resolver/walk/bailiwick.h"

namespace sextant::resolver {

using wire::Name;
using wire::RRset;
using wire::RRType;

const char* to_string(ResponseKind k) noexcept {
  switch (k) {
    case ResponseKind::answer: return "answer";
    case ResponseKind::chase: return "chase";
    case ResponseKind::nxdomain: return "nxdomain";
    case ResponseKind::nodata: return "nodata";
    case ResponseKind::referral: return "referral";
    case ResponseKind::lame: return "lame";
    case ResponseKind::server_error: return "server-error";
    case ResponseKind::cname_loop: return "cname-loop";
    case ResponseKind::dname_overflow: return "dname-overflow";
  }
  return "unknown";
}

std::optional<RRType> rrsig_type_covered(const wire::Rdata& rdata) {
  if (rdata.size() < 2) return std::nullopt;
  return static_cast<RRType>((rdata[0] << 8) | rdata[1]);
}

std::optional<Name> rdata_target_name(const wire::Rdata& rdata) {
  Name name;
  size_t pos = 0;
  if (Name::parse_uncompressed(rdata, pos, name) != wire::WireError::ok || pos != rdata.size()) {
    return std::nullopt;
  }
  return name;
}

std::optional<uint32_t> soa_minimum(const wire::Rdata& rdata) {
  Name mname, rname;
  size_t pos = 0;
  if (Name::parse_uncompressed(rdata, pos, mname) != wire::WireError::ok) return std::nullopt;
  if (Name::parse_uncompressed(rdata, pos, rname) != wire::WireError::ok) return std::nullopt;
  if (rdata.size() - pos != 20) return std::nullopt;
  pos += 16;  // serial, refresh, retry, expire
  return (uint32_t{rdata[pos]} << 24) | (uint32_t{rdata[pos + 1]} << 16) |
         (uint32_t{rdata[pos + 2]} << 8) | uint32_t{rdata[pos + 3]};
}

std::vector<RRset> group_rrsets(const std::vector<wire::ResourceRecord>& records) {
  std::vector<RRset> sets;
  auto find_set = [&](const Name& owner, RRType type) -> RRset* {
    for (auto& s : sets) {
      if (s.type == type && s.owner == owner) return &s;
    }
    return nullptr;
  };
  for (const auto& rr : records) {
    if (rr.rclass != wire::RRClass::IN || rr.type == RRType::RRSIG) continue;
    RRset* set = find_set(rr.owner, rr.type);
    if (!set) {
      sets.push_back(RRset{rr.owner, rr.type, rr.rclass, rr.ttl, {}, {}});
      set = &sets.back();
    }
    // RFC 2181 §5.2: one TTL per set; use the smallest seen.
    set->ttl = std::min(set->ttl, rr.ttl);
    if (std::find(set->rdatas.begin(), set->rdatas.end(), rr.rdata) == set->rdatas.end()) {
      set->rdatas.push_back(rr.rdata);
    }
  }
  for (const auto& rr : records) {
    if (rr.rclass != wire::RRClass::IN || rr.type != RRType::RRSIG) continue;
    auto covered = rrsig_type_covered(rr.rdata);
    if (!covered) continue;
    if (RRset* set = find_set(rr.owner, *covered)) set->signatures.push_back(rr.rdata);
  }
  return sets;
}

namespace {

const RRset* find_set(const std::vector<RRset>& sets, const Name& owner, RRType type) {
  for (const auto& s : sets) {
    if (s.type == type && s.owner == owner) return &s;
  }
  return nullptr;
}

// The deepest DNAME whose owner is a strict ancestor of `name`.
const RRset* find_dname(const std::vector<RRset>& sets, const Name& name) {
  const RRset* best = nullptr;
  for (const auto& s : sets) {
    if (s.type != RRType::DNAME || s.owner.label_count() >= name.label_count() ||
        !name.is_subdomain_of(s.owner)) {
      continue;
    }
    if (!best || s.owner.label_count() > best->owner.label_count()) best = &s;
  }
  return best;
}

}  // namespace

ClassifiedResponse classify_response(const ClassifyRequest& request) {
  const wire::Message& msg = *request.response;
  const Name& zone = request.zone;
  ClassifiedResponse out;
  out.rcode = msg.rcode();
  out.final_name = request.asked_name;

  if (out.rcode != wire::Rcode::NOERROR && out.rcode != wire::Rcode::NXDOMAIN) {
    out.kind = ResponseKind::server_error;
    out.reason = fmt::format("rcode {}", wire::to_string(out.rcode));
    return out;
  }

  // Only what this server may speak for survives.
  auto answer = group_rrsets(msg.answer);
  auto authority = group_rrsets(msg.authority);
  std::erase_if(answer, [&](const RRset& s) { return !in_bailiwick(s.owner, zone); });
  std::erase_if(authority, [&](const RRset& s) { return !in_bailiwick(s.owner, zone); });
  for (const auto& s : authority) {
    if (s.type == RRType::NSEC || s.type == RRType::NSEC3) out.denial.push_back(s);
  }
  if (msg.header.aa()) {
    const bool asked_apex_ns = request.asked_type == RRType::NS && request.asked_name == zone;
    for (const auto& s : asked_apex_ns ? answer : authority) {
      if (s.type == RRType::NS && s.owner == zone) out.zone_ns = s;
    }
    if (out.zone_ns) {
      auto additional = group_rrsets(msg.additional);
      for (const auto& rdata : out.zone_ns->rdatas) {
        auto ns_name = rdata_target_name(rdata);
        if (!ns_name || !in_bailiwick(*ns_name, zone)) continue;
        for (const auto& s : additional) {
          if ((s.type == RRType::A || s.type == RRType::AAAA) && s.owner == *ns_name) {
            out.zone_ns_addresses.push_back(s);
          }
        }
      }
    }
  }

  const bool any_type = request.asked_type == RRType::ANY;
  Name name = request.asked_name;
  std::vector<Name> seen{name};
  while (true) {
    for (const auto& s : answer) {
      if (s.owner == name && (any_type || s.type == request.asked_type)) out.answers.push_back(s);
    }
    if (!out.answers.empty()) break;

    Name next;
    if (const RRset* dname = find_dname(answer, name)) {
      auto target = dname->rdatas.size() == 1 ? rdata_target_name(dname->rdatas[0]) : std::nullopt;
      if (!target) {
        out.kind = ResponseKind::lame;
        out.reason = fmt::format("malformed DNAME at {}", dname->owner.to_text());
        return out;
      }
      out.chain.push_back(*dname);
      if (!name.replace_suffix(dname->owner, *target, next)) {
        out.kind = ResponseKind::dname_overflow;
        out.final_name = name;
        return out;
      }
      // RFC 6672 §3.4: the CNAME is ours, with the DNAME's TTL, whatever
      // the server put next to it.
      auto target_wire = next.wire();
      out.chain.push_back(RRset{name, RRType::CNAME, wire::RRClass::IN, dname->ttl,
                                {wire::Rdata(target_wire.begin(), target_wire.end())}, {}});
    } else if (const RRset* cname = find_set(answer, name, RRType::CNAME);
               cname && request.asked_type != RRType::CNAME) {
      auto target = cname->rdatas.size() == 1 ? rdata_target_name(cname->rdatas[0]) : std::nullopt;
      if (!target) {
        out.kind = ResponseKind::lame;
        out.reason = fmt::format("malformed CNAME set at {}", name.to_text());
        return out;
      }
      out.chain.push_back(*cname);
      next = *target;
    } else {
      break;
    }
    if (out.chain.size() > 2 * size_t{request.max_chain_links} ||
        std::find(seen.begin(), seen.end(), next) != seen.end()) {
      out.kind = ResponseKind::cname_loop;
      out.reason = fmt::format("CNAME/DNAME chain loops at {}", next.to_text());
      out.final_name = next;
      return out;
    }
    seen.push_back(next);
    name = next;
    if (!in_bailiwick(name, zone)) break;
  }
  out.final_name = name;
  if (!out.answers.empty()) {
    out.kind = ResponseKind::answer;
    return out;
  }

  for (const auto& s : authority) {
    if (s.type == RRType::SOA && name.is_subdomain_of(s.owner)) {
      out.soa = s;
      break;
    }
  }
  // NS sets in the authority section: the one that refers the question
  // downwards (the deepest, if several), the zone's own, and whether any
  // other (upward or sideways, in bailiwick or not) came along. Extra NS
  // sets never hide the referral that was asked for.
  const RRset* ns = nullptr;
  const RRset* own_ns = nullptr;
  const RRset* foreign_ns = nullptr;
  for (const auto& s : authority) {
    if (s.type != RRType::NS) continue;
    if (is_downward_referral(s.owner, zone, request.asked_name)) {
      if (!ns || s.owner.label_count() > ns->owner.label_count()) ns = &s;
    } else if (s.owner == zone) {
      own_ns = &s;
    }
  }
  const std::vector<RRset> raw_authority = group_rrsets(msg.authority);
  for (const auto& s : raw_authority) {
    if (s.type != RRType::NS || s.owner == zone ||
        is_downward_referral(s.owner, zone, request.asked_name)) {
      continue;
    }
    foreign_ns = &s;
    break;
  }

  if (!out.chain.empty()) {
    if (!in_bailiwick(name, zone)) {
      out.kind = ResponseKind::chase;
      return out;
    }
    // RFC 6604: the rcode speaks of the last name of the chain.
    if (out.rcode == wire::Rcode::NXDOMAIN) {
      out.kind = ResponseKind::nxdomain;
    } else if (out.soa) {
      out.kind = ResponseKind::nodata;
    } else {
      out.kind = ResponseKind::chase;  // maybe delegated below this zone
    }
    return out;
  }

  // An upward or sideways referral is lame whatever the AA bit says: a
  // server that answers with AA=1, no SOA and the NS set of the root (or of
  // another zone) is not an authority for the name, and its empty answer
  // is no NODATA (nor its NXDOMAIN a name error).
  if (!out.soa && !ns && !own_ns && foreign_ns) {
    out.kind = ResponseKind::lame;
    out.reason = fmt::format("{}referral to {} does not lead down from {}",
                             msg.header.aa() ? "authoritative " : "", foreign_ns->owner.to_text(),
                             zone.to_text());
    return out;
  }
  if (out.rcode == wire::Rcode::NXDOMAIN) {
    out.kind = ResponseKind::nxdomain;
    return out;
  }
  if (ns && !out.soa) {
    out.kind = ResponseKind::referral;
    out.referral_zone = ns->owner;
    out.referral_ns = *ns;
    for (const auto& s : authority) {
      if (s.type == RRType::DS && s.owner == ns->owner) out.referral_ds = s;
    }
    auto additional = group_rrsets(msg.additional);
    for (const auto& rdata : ns->rdatas) {
      auto ns_name = rdata_target_name(rdata);
      if (!ns_name || !glue_allowed(*ns_name, zone)) continue;
      for (const auto& s : additional) {
        if ((s.type == RRType::A || s.type == RRType::AAAA) && s.owner == *ns_name) {
          out.glue.push_back(s);
        }
      }
    }
    return out;
  }
  if (own_ns && !out.soa && !msg.header.aa()) {
    out.kind = ResponseKind::lame;
    out.reason = fmt::format("referral to {} itself without AA", zone.to_text());
    return out;
  }
  if (out.soa || msg.header.aa() || request.from_recursive) {
    out.kind = ResponseKind::nodata;
    return out;
  }
  out.kind = ResponseKind::lame;
  out.reason = "empty answer without AA, SOA or referral";
  return out;
}

}  // namespace sextant::resolver
