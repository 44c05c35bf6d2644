// The walker and the shared cache: answering a sub-query from cached RRsets
// and negative entries (following CNAMEs), and storing what a reply taught
// (delegations, answers, denials, name server addresses) after the
// bailiwick filter of the classifier.
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>

#include "resolver/walk/bailiwick.h"
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
      if (r.trace) {
        trace_line(r, &q, fmt::format("from the cache ({}): {}", cache::to_string(hit->rrset.status()),
                                      describe_sets({set})));
      }
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
          if (r.trace) trace_line(r, &q, fmt::format("from the cache: {}", describe_sets({set})));
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
      if (r.trace) {
        trace_line(r, &q, fmt::format("from the cache: {} ({}), SOA {} TTL {}",
                                      hit->kind == cache::NegativeKind::nxdomain ? "NXDOMAIN" : "NODATA",
                                      cache::to_string(hit->entry.status()), soa.owner.to_text(),
                                      hit->ttl));
      }
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
      if (!validated_only) {
        // A DO client with CD=1 validates itself: the proofs go with the SOA.
        std::vector<RRset> proofs = hit->entry.records();
        std::erase_if(proofs, [](const RRset& s) { return s.type == RRType::SOA; });
        for (auto& p : proofs) p.ttl = std::min(p.ttl, hit->ttl);
        pass_on_denial(r, q, proofs);
      }
      return true;
    }
    // RFC 8198: validated NSEC/NSEC3 records may already prove the answer.
    if (validated_only && synthesize_denial(r, q)) {
      if (r.trace) {
        trace_line(r, &q, "answered from validated NSEC/NSEC3 records in memory (RFC 8198)");
      }
      return true;
    }
    return false;
  }
  fail_query(r, q, EdeCode::Other,
             fmt::format("CNAME chain longer than {} links", options_.limits.max_cname_hops));
  return true;
}

void Walker::remember_response(const Resolution& r, const SubQuery& q, const Attempt& a,
                               const wire::Message& msg, const ClassifiedResponse& c) {
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
    auto stored = cache_->delegations().insert(d, cache::Rank::authority,
                                               cache::DnssecStatus::indeterminate, now);
    if (r.trace && stored == cache::DelegationCache::Result::stored) {
      trace_line(r, &q, fmt::format("cached the delegation of {} ({} NS, TTL {})",
                                    d.zone.to_text(), d.servers.size(), d.ttl));
    }
    return;
  }
  remember_child_view(r, q, msg, c, now);
  // A forward upstream's answers are never authoritative, whatever its AA.
  const cache::Rank rank = msg.header.aa() && !q.cut.forward ? cache::Rank::answer_authoritative
                                                              : cache::Rank::answer_nonauth;
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
                               c.final_name, a.sent_type, wire::RRClass::IN, *c.soa, c.denial,
                               cache::DnssecStatus::indeterminate, now);
  }
  if (r.trace && (!c.chain.empty() || !c.answers.empty() || c.soa)) {
    trace_line(r, &q, fmt::format("cached ({}, not yet validated): {}{}",
                                  cache::to_string(rank), describe_sets(c.chain.empty() ? c.answers : c.chain),
                                  c.soa && (c.kind == ResponseKind::nxdomain || c.kind == ResponseKind::nodata)
                                      ? fmt::format("; the {} of {}", to_string(c.kind), c.final_name.to_text())
                                      : ""));
  }
}

void Walker::remember_child_view(const Resolution& r, const SubQuery& q, const wire::Message& msg,
                                 const ClassifiedResponse& c, uint32_t now) {
  // The root's servers come from priming, which this walker keeps itself.
  // A forward upstream is no authority: its NS sets are not the zone's view.
  if (q.cut.zone.is_root() || q.cut.forward || !msg.header.aa()) return;
  std::vector<cache::DelegationServer> view;
  auto add = [&](const Name& name, const std::vector<RRset>& sets, cache::Rank rank) {
    cache::DelegationServer server;
    server.name = name;
    server.address_rank = rank;
    for (const auto& address : addresses_from(sets, name, options_.upstream_port)) {
      cache::IpAddress ip;
      if (cache::IpAddress::from_rdata(address.address_bytes(), ip)) server.addresses.push_back(ip);
    }
    view.push_back(std::move(server));
  };
  // The zone's own NS set, with the addresses it gave for names in the zone.
  if (c.zone_ns) {
    for (const auto& rdata : c.zone_ns->rdatas) {
      if (auto name = rdata_target_name(rdata)) add(*name, c.zone_ns_addresses, cache::Rank::additional);
    }
  }
  // An authoritative answer for the address of one of the zone's servers.
  if (c.kind == ResponseKind::answer && c.chain.empty()) {
    for (const auto& set : c.answers) {
      if ((set.type != RRType::A && set.type != RRType::AAAA) || !in_bailiwick(set.owner, q.cut.zone)) {
        continue;
      }
      bool serves_the_zone = std::any_of(q.cut.servers.begin(), q.cut.servers.end(),
                                         [&](const NameServerEntry& ns) { return ns.name == set.owner; });
      if (serves_the_zone) add(set.owner, c.answers, cache::Rank::answer_authoritative);
    }
  }
  if (view.empty()) return;
  if (cache_->delegations().add_child_view(q.cut.zone, wire::RRClass::IN, view, now) && r.trace) {
    trace_line(r, &q, fmt::format("added what the servers of {} say of themselves ({} names) to "
                                  "the cached cut, beside the parent's",
                                  q.cut.zone.to_text(), view.size()));
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
