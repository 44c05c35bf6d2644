// Forward and stub zones in the walker (configured_zones.h): where the cut
// of a configured zone replaces the delegation the cache would give, the
// forward-first fallback, and DNSSEC for forwarded answers.
//
// A forward upstream answers for a whole tree at once: one response may
// carry a CNAME chain across several zones, and an unsigned answer says
// nothing of where its zone begins. So a forwarded response is split into
// one validation segment per chain link (a signed link's zone is its
// signer), and the zone holding unsigned data is found the way Unbound's
// validator does it: from the closest trust anchor down, one DS query per
// label (through the same upstreams) until a delegation without DS (the
// data is insecure), a name that is no cut (the data belongs to the signed
// zone above: bogus), or the name itself.
#include <fmt/format.h>

#include <algorithm>

#include "dnssec/digests.h"
#include "dnssec/nsec3_proofs.h"
#include "dnssec/record_fields.h"
#include "dnssec/verdict_cache.h"
#include "resolver/walk/walker.h"

namespace sextant::resolver {

using dnssec::SecurityState;
using dnssec::Verdict;
using wire::EdeCode;
using wire::Name;
using wire::RRset;
using wire::RRType;

namespace {

// As walker_dnssec.cpp: how long a proven-insecure zone is remembered.
constexpr uint32_t kInsecureMemoSeconds = 300;
// Owners standing in for an unknown zone, per request.
constexpr size_t kMaxZonesToLocate = 16;

std::optional<Name> signer_of(const RRset& set) {
  for (const auto& sig : set.signatures) {
    dnssec::RrsigFields fields;
    if (dnssec::read_rrsig(sig, fields)) return fields.signer;
  }
  return std::nullopt;
}

// The validated denial shows `label` is a delegation (NS without SOA at it)
// that has no DS: an unsigned child zone.
bool unsigned_delegation(const std::vector<RRset>& authority, const Name& label, const Name& zone,
                         dnssec::ValidationBudget& budget) {
  for (const auto& set : authority) {
    if (set.type != RRType::NSEC || !(set.owner == label)) continue;
    for (const auto& rdata : set.rdatas) {
      dnssec::NsecFields nsec;
      if (dnssec::read_nsec(rdata, nsec) && dnssec::bitmap_has_type(nsec.type_bitmap, RRType::NS) &&
          !dnssec::bitmap_has_type(nsec.type_bitmap, RRType::SOA)) {
        return true;
      }
    }
  }
  const std::vector<dnssec::Nsec3Record> nsec3 = dnssec::collect_nsec3(authority, zone);
  for (const auto& record : nsec3) {
    if (!budget.take_nsec3_hash()) return false;
    auto hash = dnssec::nsec3_hash(label, record.salt, record.iterations);
    if (hash && record.matches(*hash)) return record.has_type(RRType::NS) && !record.has_type(RRType::SOA);
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------
// Where a walk starts

std::optional<ZoneCut> Walker::configured_cut(const Name& name, bool for_ds, const Name* cached,
                                              const std::optional<Name>& past_forward) const {
  if (!options_.configured) return std::nullopt;
  const ConfiguredZone* z = options_.configured->find(name);
  // Bounded by the name's labels: each step moves one zone up.
  for (size_t guard = 0; z && guard < 128; ++guard) {
    const bool skipped_forward = z->kind == ConfiguredZone::Kind::forward && past_forward &&
                                 z->zone.is_subdomain_of(*past_forward);
    // A stub zone's own servers cannot answer for the DS at its apex.
    const bool stub_apex_ds = z->kind == ConfiguredZone::Kind::stub && for_ds && z->zone == name;
    if (!skipped_forward && !stub_apex_ds) break;
    z = z->zone.is_root() ? nullptr : options_.configured->find(z->zone.parent());
  }
  if (!z) return std::nullopt;
  // A delegation the cache learnt below a stub zone is closer.
  if (z->kind == ConfiguredZone::Kind::stub && cached && cached->is_subdomain_of(z->zone) &&
      !(*cached == z->zone)) {
    return std::nullopt;
  }
  ZoneCut cut;
  cut.zone = z->zone;
  cut.forward = z->kind == ConfiguredZone::Kind::forward;
  cut.forward_first = z->forward_first;
  cut.private_ok = true;
  for (const auto& server : z->servers) {
    NameServerEntry ns;
    ns.name = server.label;
    ns.addresses = {server.address};
    ns.lookup = NameServerEntry::Lookup::done;
    ns.protocol = server.protocol;
    cut.servers.push_back(std::move(ns));
  }
  for (const auto& server_name : z->server_names) {
    NameServerEntry ns;
    ns.name = server_name;
    // Inside the zone itself only the zone could say where it is.
    ns.lookup = server_name.is_subdomain_of(z->zone) ? NameServerEntry::Lookup::failed
                                                     : NameServerEntry::Lookup::not_started;
    cut.servers.push_back(std::move(ns));
  }
  return cut;
}

void Walker::forget_zone(const Name& apex) {
  std::erase_if(trust_memo_, [&](const auto& entry) { return entry.first.is_subdomain_of(apex); });
  std::erase_if(auth_failure_memory_, [&](const auto& entry) { return entry.first.is_subdomain_of(apex); });
}

bool Walker::private_allowed(const Name& zone) const {
  return options_.configured && options_.configured->inside_stub(zone);
}

bool Walker::configured_question(const SubQuery& q) const {
  // Its servers are known without the root (a stub's names needing lookups
  // are sub-queries of their own, which prime when they must): an isolated
  // network never waits for a root it cannot reach.
  return configured_cut(q.question.name, q.question.type == RRType::DS, nullptr, q.past_forward).has_value();
}

bool Walker::fall_back_from_forward(Resolution& r, SubQuery& q) {
  (void)r;
  if (!q.cut.forward || !q.cut.forward_first || q.past_forward) return false;
  ++stats_.forward_fallbacks;
  q.past_forward = q.cut.zone;
  cancel_all_attempts(q);
  // Start again at the closest cut that is not this forward zone; what the
  // chain followed so far stays.
  q.state = QueryState::start_name;
  return true;
}

// ---------------------------------------------------------------------------
// DNSSEC for forwarded answers

bool Walker::zone_to_locate(const ValidationContext& ctx, const Name& zone) const {
  return std::find(ctx.zones_to_locate.begin(), ctx.zones_to_locate.end(), zone) != ctx.zones_to_locate.end();
}

void Walker::record_forwarded(Resolution& r, SubQuery& q, dnssec::ResponseKind kind, const Name& qname,
                              const ClassifiedResponse& c) {
  ValidationContext& ctx = validation_context(r);
  // The zone an RRset belongs to: its signer, else (unsigned) its owner
  // stands in until locate_zone() finds the zone.
  auto zone_of = [&](const RRset& set) -> Name {
    if (auto signer = signer_of(set)) return *signer;
    if (!zone_to_locate(ctx, set.owner) && ctx.zones_to_locate.size() < kMaxZonesToLocate) {
      ctx.zones_to_locate.push_back(set.owner);
    }
    return set.owner;
  };
  // Denial records (wildcard and negative proofs) go with the segment of
  // the zone that signed them.
  auto denial_of = [&](const Name& zone) {
    std::vector<RRset> out;
    for (const auto& set : c.denial) {
      if (auto signer = signer_of(set); signer && *signer == zone) out.push_back(set);
    }
    return out;
  };
  auto add = [&](dnssec::ResponseKind k, const Name& name, std::vector<RRset> answer,
                 std::vector<RRset> authority, const Name& zone) {
    ValidationSegment seg;
    seg.forwarded = true;
    seg.response.qname = name;
    seg.response.qtype = q.question.type;
    seg.response.kind = k;
    seg.response.zone = zone;
    seg.response.answer = std::move(answer);
    seg.response.authority = std::move(authority);
    q.segments.push_back(std::move(seg));
  };

  for (size_t i = 0; i < c.chain.size(); ++i) {
    const RRset& link = c.chain[i];
    std::vector<RRset> sets{link};
    Name owner = link.owner;
    if (link.type == RRType::DNAME && i + 1 < c.chain.size() && c.chain[i + 1].type == RRType::CNAME) {
      sets.push_back(c.chain[i + 1]);  // the CNAME synthesised from it is judged with it
      owner = c.chain[i + 1].owner;
      ++i;
    }
    const Name zone = zone_of(link);
    add(dnssec::ResponseKind::answer, owner, std::move(sets), denial_of(zone), zone);
  }
  const Name end = c.chain.empty() ? qname : c.final_name;
  if (kind == dnssec::ResponseKind::answer) {
    if (c.answers.empty()) return;  // a chain leaving the zone: the rest comes later
    const Name zone = zone_of(c.answers.front());
    add(kind, end, c.answers, denial_of(zone), zone);
    return;
  }
  // NXDOMAIN / NODATA: the zone that signed the SOA (or the denial) denies it.
  std::optional<Name> zone;
  if (c.soa) zone = signer_of(*c.soa);
  for (size_t i = 0; !zone && i < c.denial.size(); ++i) zone = signer_of(c.denial[i]);
  if (!zone) {
    RRset stand_in;
    stand_in.owner = end;
    zone = zone_of(stand_in);
  }
  std::vector<RRset> authority;
  if (c.soa) authority.push_back(*c.soa);
  for (const auto& set : c.denial) authority.push_back(set);
  add(kind, end, {}, std::move(authority), *zone);
}

Walker::KeyState Walker::locate_zone(Resolution& r, SubQuery& q, const Name& name, int depth) {
  ValidationContext& ctx = validation_context(r);
  const uint32_t now = timers_.wall_seconds();
  const dnssec::TrustAnchor* anchor = options_.dnssec.anchors ? options_.dnssec.anchors->closest(name) : nullptr;
  if (!anchor) {
    ctx.zones.add_insecure(name, Verdict::insecure(fmt::format("no trust anchor covers {}", name.to_text())));
    return KeyState::known;
  }
  Name zone = anchor->zone;  // the deepest secure zone above `name` found so far
  if (!ctx.zones.lookup(zone) && establish_zone(r, q, zone, depth + 1) == KeyState::waiting) {
    return KeyState::waiting;
  }
  Name cursor = zone;  // the deepest name examined
  for (size_t guard = 0; guard < 128; ++guard) {
    const dnssec::ZoneTrust* trust = ctx.zones.lookup(zone);
    if (!trust) {
      ctx.zones.add_bogus(name, Verdict::bogus(EdeCode::DnssecBogus,
                                               fmt::format("the zone of {} was not found", name.to_text())));
      return KeyState::known;
    }
    // Below an insecure or bogus zone, `name` inherits its state.
    if (trust->verdict.state != SecurityState::secure || ctx.zones.lookup(name)) return KeyState::known;
    if (cursor == name) break;
    const Name label = name.suffix(cursor.label_count() + 1);
    if (std::find(ctx.not_cuts.begin(), ctx.not_cuts.end(), label) != ctx.not_cuts.end()) {
      cursor = label;
      continue;
    }
    // Known to this request or to the worker's memo (insecure, bogus, secure).
    const dnssec::ZoneTrust* known = ctx.zones.lookup(label);
    if (!known) {
      if (auto it = trust_memo_.find(label.lowercased()); it != trust_memo_.end() && it->second.expires > now) {
        const dnssec::ZoneTrust& t = it->second.trust;
        switch (t.verdict.state) {
          case SecurityState::secure: ctx.zones.add_secure(label, t.keys); break;
          case SecurityState::insecure: ctx.zones.add_insecure(label, t.verdict); break;
          default: ctx.zones.add_bogus(label, t.verdict); break;
        }
        known = ctx.zones.lookup(label);
      }
    }
    if (known) {
      if (known->verdict.state != SecurityState::secure) return KeyState::known;
      zone = cursor = label;
      continue;
    }
    // Ask the DS of the next label (through the same upstreams).
    const SubQuery* f = nullptr;
    switch (key_fetch(r, q, label, RRType::DS, f)) {
      case FetchStatus::waiting: return KeyState::waiting;
      case FetchStatus::refused:
        conclude_zone(ctx, label, dnssec::fetch_failure(label, RRType::DS, "too many DS/DNSKEY queries"), nullptr, 0);
        return KeyState::known;
      case FetchStatus::done: break;
    }
    ++stats_.zone_cut_probes;
    if ((f->result.rcode != wire::Rcode::NOERROR && f->result.rcode != wire::Rcode::NXDOMAIN) ||
        f->segments.empty()) {
      std::string why = f->result.ede ? f->result.ede->extra_text : "no response";
      conclude_zone(ctx, label, dnssec::fetch_failure(label, RRType::DS, why), nullptr,
                    options_.dnssec.cache_policy.transient_ttl);
      return KeyState::known;
    }
    dnssec::ResponseToValidate response = f->segments.back().response;
    // Unsigned evidence is judged by the zone above, which must have signed it.
    if (zone_to_locate(ctx, response.zone)) response.zone = zone;
    dnssec::ResponseValidation v;
    if (!validate_settled(r, q, response, v, depth)) return KeyState::waiting;
    if (ctx.zones.lookup(label)) continue;  // settled while validating
    switch (v.verdict.state) {
      case SecurityState::secure: {
        std::vector<wire::Rdata> ds;
        if (response.kind == dnssec::ResponseKind::answer) {
          for (const auto& set : response.answer) {
            if (set.type == RRType::DS && set.owner == label) ds = set.rdatas;
          }
        }
        if (!ds.empty()) {
          // A signed child zone: its keys, then on below it.
          ctx.proven_ds.emplace_back(label, ds);
          std::erase(ctx.zones_to_locate, label);
          if (establish_zone(r, q, label, depth + 1) == KeyState::waiting) return KeyState::waiting;
          zone = cursor = label;
          continue;
        }
        if (response.kind == dnssec::ResponseKind::nxdomain) {
          cursor = name;  // nothing below `zone` down to the name: the data is `zone`'s
          continue;
        }
        if (unsigned_delegation(response.authority, label, zone, ctx.budget)) {
          conclude_zone(ctx, label,
                        Verdict::insecure(fmt::format("no DS for {}: unsigned delegation", label.to_text())),
                        nullptr, std::min(kInsecureMemoSeconds, v.ttl_limit));
          return KeyState::known;
        }
        ctx.not_cuts.push_back(label);
        cursor = label;
        continue;
      }
      case SecurityState::insecure:
        conclude_zone(ctx, label, v.verdict, nullptr, kInsecureMemoSeconds);
        return KeyState::known;
      case SecurityState::bogus:
      case SecurityState::indeterminate: {
        Verdict bogus = v.verdict;
        bogus.state = SecurityState::bogus;
        if (!bogus.ede) bogus.ede = EdeCode::DnssecBogus;
        conclude_zone(ctx, label, bogus, nullptr, options_.dnssec.cache_policy.bogus_ttl);
        return KeyState::known;
      }
    }
  }
  // No zone cut between `zone` and `name`: the data is `zone`'s, and must
  // have been signed with its keys.
  if (!ctx.zones.lookup(name)) {
    const dnssec::ZoneTrust* trust = ctx.zones.lookup(zone);
    if (trust && trust->keys) {
      ctx.zones.add_secure(name, trust->keys);
    } else {
      ctx.zones.add_bogus(name, Verdict::bogus(EdeCode::DnssecBogus, "no keys for the zone of " + name.to_text()));
    }
  }
  return KeyState::known;
}

}  // namespace sextant::resolver
