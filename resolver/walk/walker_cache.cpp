// The walker and the shared cache: answering a sub-query from cached RRsets
// and negative entries (following CNAMEs), and storing what a reply taught
// (delegations, answers, denials, name server addresses) after the
// bailiwick filter of the classifier.
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include "resolver/walk/walker_internal.h"

namespace sextant::resolver {

using wire::EdeCode;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

using walker_detail::addresses_from;

bool Walker::answer_from_cache(Resolution& r, SubQuery& q) {
  if (!cache_ || q.question.type == RRType::ANY) return false;
  // DS/DNSKEY answers are judged from their signatures by the validation
  // that asked for them; the per-worker trust memo spares repeated fetches.
  if (q.kind == QueryKind::ds || q.kind == QueryKind::dnskey) return false;
  if (q.kind == QueryKind::client && r.options.refresh) return false;
  const uint32_t now = timers_.wall_seconds();
  const RRType type = q.question.type;
  // A validating question takes only data whose validation is settled
  // (secure or insecure); anything else is asked again and validated.
  const bool validated_only = q.kind == QueryKind::client && validating(r);
  auto usable = [&](cache::DnssecStatus status) {
    return !validated_only || status == cache::DnssecStatus::secure ||
           status == cache::DnssecStatus::insecure;
  };
  for (uint32_t hops = 0; hops <= options_.limits.max_cname_hops; ++hops) {
    // Only answer-section data answers a question; glue and referral NS
    // sets (lower ranks) never do. The walker never prefetches: a due
    // refresh stays with the answer cache's hit path (RefreshClaim::none).
    if (auto hit = cache_->rrsets().lookup(q.target, type, wire::RRClass::IN, now,
                                           cache::StalePolicy::fresh_only,
                                           cache::Rank::answer_nonauth, cache::RefreshClaim::none);
        hit && usable(hit->rrset.status())) {
      RRset set = hit->rrset.to_rrset(hit->ttl);
      set.owner = q.target;
      if (validated_only) record_cached_segment(r, q, q.target, {set}, hit->rrset.status());
      complete_answer(r, q, Rcode::NOERROR, {std::move(set)}, std::nullopt);
      return true;
    }
    if (type != RRType::CNAME) {
      if (auto hit = cache_->rrsets().lookup(q.target, RRType::CNAME, wire::RRClass::IN, now,
                                             cache::StalePolicy::fresh_only,
                                             cache::Rank::answer_nonauth,
                                             cache::RefreshClaim::none);
          hit && usable(hit->rrset.status())) {
        RRset set = hit->rrset.to_rrset(hit->ttl);
        set.owner = q.target;
        if (validated_only) record_cached_segment(r, q, q.target, {set}, hit->rrset.status());
        auto target = set.rdatas.size() == 1 ? rdata_target_name(set.rdatas[0]) : std::nullopt;
        if (target) {
          append_chain(r, q, {set});
          if (q.state == QueryState::finished) return true;
          q.target = *target;
          continue;
        }
      }
    }
    if (auto hit = cache_->negatives().lookup(q.target, type, wire::RRClass::IN, now);
        hit && usable(hit->entry.status())) {
      RRset soa = hit->entry.soa();
      soa.ttl = hit->ttl;
      if (validated_only) {
        // The proofs go to DO clients with the SOA (records() starts with it).
        std::vector<RRset> proofs = hit->entry.records();
        std::erase_if(proofs, [](const RRset& s) { return s.type == RRType::SOA; });
        for (auto& p : proofs) p.ttl = std::min(p.ttl, hit->ttl);
        record_cached_segment(r, q, q.target, std::move(proofs), hit->entry.status());
      }
      complete_answer(r, q, hit->kind == cache::NegativeKind::nxdomain ? Rcode::NXDOMAIN
                                                                        : Rcode::NOERROR,
                      {}, std::move(soa));
      return true;
    }
    // RFC 8198: validated NSEC/NSEC3 records may already prove the answer.
    if (validated_only && synthesize_denial(r, q)) return true;
    return false;
  }
  fail_query(r, q, EdeCode::Other,
             fmt::format("CNAME chain longer than {} links", options_.limits.max_cname_hops));
  return true;
}

void Walker::remember_response(const SubQuery& q, const Attempt& a, const wire::Message& msg,
                               const ClassifiedResponse& c) {
  (void)q;
  if (!cache_) return;
  // A reply tailored to one client subnet (ECS) is for that client only.
  if (a.ecs_scope > 0 || a.ecs_withheld) return;
  const uint32_t now = timers_.wall_seconds();
  // Everything here passed the bailiwick filter of the classifier.
  if (c.kind == ResponseKind::referral && c.referral_ns) {
    cache::Delegation d;
    d.zone = c.referral_zone;
    d.ttl = c.referral_ns->ttl;
    for (const auto& rdata : c.referral_ns->rdatas) {
      auto name = rdata_target_name(rdata);
      if (!name) continue;
      cache::DelegationServer server;
      server.name = *name;
      for (const auto& address : addresses_from(c.glue, *name, options_.upstream_port)) {
        cache::IpAddress ip;
        if (cache::IpAddress::from_rdata(address.address_bytes(), ip)) server.addresses.push_back(ip);
      }
      d.servers.push_back(std::move(server));
    }
    cache_->delegations().insert(d, cache::Rank::authority, cache::DnssecStatus::indeterminate, now);
    return;
  }
  const cache::Rank rank =
      msg.header.aa() ? cache::Rank::answer_authoritative : cache::Rank::answer_nonauth;
  for (size_t i = 0; i < c.chain.size(); ++i) {
    // The CNAME synthesised from a DNAME is ours, not the server's data.
    if (i > 0 && c.chain[i - 1].type == RRType::DNAME) continue;
    cache_->insert_rrset(c.chain[i], rank, cache::DnssecStatus::indeterminate, now);
  }
  for (const auto& set : c.answers) {
    cache_->insert_rrset(set, rank, cache::DnssecStatus::indeterminate, now);
  }
  if ((c.kind == ResponseKind::nxdomain || c.kind == ResponseKind::nodata) && c.soa) {
    cache_->negatives().insert(c.kind == ResponseKind::nxdomain ? cache::NegativeKind::nxdomain
                                                                : cache::NegativeKind::nodata,
                               c.final_name, a.sent_type, wire::RRClass::IN, *c.soa, {},
                               cache::DnssecStatus::indeterminate, now);
  }
}

void Walker::remember_addresses(const Name& zone, const NameServerEntry& ns) {
  if (!cache_ || ns.addresses.empty()) return;
  std::vector<cache::IpAddress> ips;
  for (const auto& address : ns.addresses) {
    cache::IpAddress ip;
    if (cache::IpAddress::from_rdata(address.address_bytes(), ip)) ips.push_back(ip);
  }
  cache_->delegations().set_addresses(zone, wire::RRClass::IN, ns.name, ips,
                                      cache::Rank::answer_authoritative, timers_.wall_seconds());
}

}  // namespace sextant::resolver
