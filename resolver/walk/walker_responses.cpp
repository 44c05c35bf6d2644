// What a classified reply leads to: a referral moves the query one zone
// down, an answer or a denial completes it (after validation, for a client
// question), a CNAME or DNAME chain restarts it at the new name, and a lame
// or failing server sends it to the next server. Relaxed QNAME minimisation
// (RFC 9156) advances or falls back here too.
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>

#include "resolver/walk/walker_internal.h"

namespace sextant::resolver {

using wire::EdeCode;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

using walker_detail::addresses_from;
using walker_detail::capped;
using walker_detail::clamp_received_ttl;
using walker_detail::kMaxNameServersPerCut;

void Walker::handle_classified(Resolution& r, SubQuery& q, const Attempt& a,
                               const wire::Message& msg, ClassifiedResponse&& c) {
  // (A reply shared by another request's query was stored by that one.)
  if ((!a.minimised || c.kind == ResponseKind::referral) && !a.remembered) remember_response(r, q, a, msg, c);
  for (auto* sets : {&c.chain, &c.answers}) {
    for (auto& set : *sets) clamp_received_ttl(set, options_.min_ttl, options_.max_ttl);
  }
  auto resend_full_name = [&] {
    // Relaxed QNAME minimisation (RFC 9156 §2.3): this server mishandles
    // minimised names; ask it the full name.
    ++stats_.qmin_fallbacks;
    q.qmin.disable();
    cancel_all_attempts(q);
    if (r.trace) {
      trace_line(r, &q, "the minimised name got no usable answer: asking the full name "
                        "(relaxed QNAME minimisation, RFC 9156 §2.3)");
    }
    if (!send_attempt(r, q, a.server, a.protocol, a.edns)) {
      step(r, q);
      return;
    }
    q.state = QueryState::wait;
  };
  auto next_server = [&] {
    if (r.trace) {
      trace_line(r, &q, fmt::format("{} is not asked again for this question", a.server.to_string()));
    }
    exclude_server(q, a.server);
    if (q.state == QueryState::wait && !has_live_attempts(q)) {
      q.state = QueryState::send;
      step(r, q);
    }
  };
  q.last_reply_from = a.server;  // DNSSEC: the server blamed if this data is bogus

  switch (c.kind) {
    case ResponseKind::server_error:
    case ResponseKind::lame:
      if (a.minimised && q.qmin.enabled()) return resend_full_name();
      if (c.kind == ResponseKind::lame) {
        ++q.tally.lame;
      } else {
        ++q.tally.server_errors;
      }
      return next_server();

    case ResponseKind::referral:
      if (q.cut.forward) {
        // An upstream that refers is not recursive: ask the next one.
        ++q.tally.lame;
        return next_server();
      }
      if (q.question.type == RRType::DS && c.referral_zone == q.target) {
        // The DS lives at the parent (RFC 4035 §3.1.4.1): never descend
        // into the zone itself for it.
        if (a.minimised && q.qmin.enabled()) return resend_full_name();
        ++q.tally.lame;
        return next_server();
      }
      cancel_all_attempts(q);
      enter_referral(r, q, c);
      step(r, q);
      return;

    case ResponseKind::answer:
    case ResponseKind::nodata:
      if (a.minimised) {
        // The minimised name exists and is no zone cut: one label deeper.
        cancel_all_attempts(q);
        if (!c.chain.empty()) {
          ++stats_.qmin_fallbacks;
          q.qmin.disable();
        } else {
          q.qmin.advance();
        }
        if (r.trace) {
          trace_line(r, &q, "the minimised name exists and is no zone cut: asking one step further");
        }
        // A new question for the same servers: the per-server try count
        // restarts (lame servers stay excluded).
        q.cut.tried.clear();
        q.cut.sends = 0;
        q.state = QueryState::send;
        step(r, q);
        return;
      }
      cancel_all_attempts(q);
      if (q.kind == QueryKind::priming && c.kind == ResponseKind::answer) {
        // RFC 8109 §3: the root NS set from the answer, addresses from the
        // additional section.
        auto additional = group_rrsets(msg.additional);
        for (const auto& set : c.answers) {
          if (set.type != RRType::NS || !set.owner.is_root()) continue;
          ZoneCut cut;
          for (const auto& rdata : set.rdatas) {
            auto name = rdata_target_name(rdata);
            if (!name || cut.servers.size() >= kMaxNameServersPerCut) continue;
            NameServerEntry ns;
            ns.name = *name;
            ns.addresses = addresses_from(additional, *name, options_.upstream_port);
            ns.lookup = ns.addresses.empty() ? NameServerEntry::Lookup::not_started
                                             : NameServerEntry::Lookup::done;
            cut.servers.push_back(std::move(ns));
          }
          q.primed_root = std::move(cut);
          q.primed_ttl = set.ttl;
        }
      }
      if (q.kind != QueryKind::priming) {
        record_segment(r, q,
                       c.kind == ResponseKind::nodata ? dnssec::ResponseKind::nodata
                                                      : dnssec::ResponseKind::answer,
                       q.target, c);
      }
      append_chain(r, q, c.chain);
      if (q.reported || q.state == QueryState::finished) return step(r, q);
      complete_answer(r, q, Rcode::NOERROR, std::move(c.answers),
                      c.kind == ResponseKind::nodata ? std::move(c.soa) : std::nullopt);
      pass_on_denial(r, q, c.denial);
      step(r, q);
      return;

    case ResponseKind::chase:
      if (a.minimised) return resend_full_name();
      cancel_all_attempts(q);
      record_segment(r, q, dnssec::ResponseKind::answer, q.target, c);
      append_chain(r, q, c.chain);
      if (q.state == QueryState::finished) return step(r, q);
      q.target = c.final_name;
      q.state = QueryState::start_name;
      if (r.trace) trace_line(r, &q, fmt::format("following the chain to {}", q.target.to_text()));
      step(r, q);
      return;

    case ResponseKind::nxdomain:
      if (a.minimised) return resend_full_name();
      cancel_all_attempts(q);
      record_segment(r, q, dnssec::ResponseKind::nxdomain, q.target, c);
      append_chain(r, q, c.chain);
      if (q.state == QueryState::finished) return step(r, q);
      complete_answer(r, q, Rcode::NXDOMAIN, {}, std::move(c.soa));
      pass_on_denial(r, q, c.denial);
      step(r, q);
      return;

    case ResponseKind::cname_loop:
      fail_query(r, q, EdeCode::Other, c.reason);
      step(r, q);
      return;

    case ResponseKind::dname_overflow:
      cancel_all_attempts(q);
      record_segment(r, q, dnssec::ResponseKind::answer, q.target, c);
      append_chain(r, q, c.chain);
      if (q.state == QueryState::finished) return step(r, q);
      complete_answer(r, q, Rcode::YXDOMAIN, {}, std::nullopt);
      step(r, q);
      return;
  }
}

void Walker::append_chain(Resolution& r, SubQuery& q, const std::vector<RRset>& links) {
  for (const auto& set : links) {
    q.chain.push_back(capped(set, options_.max_ttl));
    if (set.type != RRType::CNAME) continue;  // a DNAME counts with its synthesised CNAME
    if (++q.chain_links > options_.limits.max_cname_hops) {
      fail_query(r, q, EdeCode::Other,
                 fmt::format("CNAME chain longer than {} links", options_.limits.max_cname_hops));
      return;
    }
    auto target = set.rdatas.empty() ? std::nullopt : rdata_target_name(set.rdatas[0]);
    if (!target) continue;
    if (std::find(q.visited.begin(), q.visited.end(), *target) != q.visited.end()) {
      fail_query(r, q, EdeCode::Other, fmt::format("CNAME loop at {}", target->to_text()));
      return;
    }
    q.visited.push_back(*target);
  }
}

// ---------------------------------------------------------------------------
// A referral followed, an answer completed

void Walker::enter_referral(Resolution& r, SubQuery& q, ClassifiedResponse& c) {
  if (++q.referrals > options_.limits.max_referrals) {
    fail_query(r, q, EdeCode::Other,
               fmt::format("more than {} referrals for {}", options_.limits.max_referrals,
                           q.target.to_text()));
    return;
  }
  record_referral(r, q, c);
  ZoneCut cut;
  cut.zone = c.referral_zone;
  cut.private_ok = private_allowed(cut.zone);
  for (const auto& rdata : c.referral_ns->rdatas) {
    auto name = rdata_target_name(rdata);
    if (!name || cut.servers.size() >= kMaxNameServersPerCut) continue;
    if (std::any_of(cut.servers.begin(), cut.servers.end(),
                    [&](const NameServerEntry& e) { return e.name == *name; })) {
      continue;
    }
    NameServerEntry ns;
    ns.name = *name;
    ns.addresses = addresses_from(c.glue, *name, options_.upstream_port);
    if (!ns.addresses.empty()) {
      ns.lookup = NameServerEntry::Lookup::done;
    } else if (name->is_subdomain_of(cut.zone)) {
      // In the child zone without glue: only the child could say where it
      // is, and reaching the child needs it. Unresolvable.
      ns.lookup = NameServerEntry::Lookup::failed;
    }
    cut.servers.push_back(std::move(ns));
  }
  q.cut = std::move(cut);
  q.qmin.enter_zone(q.cut.zone);
  if (r.trace) trace_line(r, &q, fmt::format("descending to {}", describe_cut(q.cut)));
  // DNSSEC: the referral's DS/NSEC evidence was kept above (record_referral);
  // it is validated only when an answer needs the child's keys
  // (walker_dnssec.cpp), but a signed child's DNSKEY set is fetched now,
  // beside the next step of the walk (walker_trust_prefetch.cpp).
  prefetch_zone_keys(r, q);
  q.state = QueryState::send;
}

void Walker::pass_on_denial(Resolution& r, SubQuery& q, const std::vector<RRset>& denial) {
  // Validated answers get their proofs from finish_validation().
  if (q.kind != QueryKind::client || validating(r) || !r.options.dnssec_ok) return;
  for (const auto& set : denial) q.result.authority.push_back(capped(set, options_.max_negative_ttl));
}

void Walker::complete_answer(Resolution& r, SubQuery& q, Rcode rcode, std::vector<RRset> answers,
                             std::optional<RRset> soa) {
  ResolutionResult& result = q.result;
  result.rcode = rcode;
  result.answer = q.chain;
  if (q.kind == QueryKind::client && q.question.type == RRType::ANY && options_.minimal_any &&
      answers.size() > 1) {
    answers.resize(1);  // RFC 8482 §4.1: one RRset is a complete answer to ANY
  }
  for (auto& set : answers) result.answer.push_back(capped(std::move(set), options_.max_ttl));
  if (soa && !soa->rdatas.empty()) {
    // RFC 2308 §3: the negative TTL is min(SOA TTL, SOA MINIMUM).
    uint32_t ttl = soa->ttl;
    if (auto minimum = soa_minimum(soa->rdatas[0])) ttl = std::min(ttl, *minimum);
    soa->ttl = std::min(ttl, options_.max_negative_ttl);
    result.authority.push_back(std::move(*soa));
  }
  // The client's answer is validated before the query ends (state_validate);
  // DS/DNSKEY sub-queries are judged by the validation that asked for them.
  q.state = (q.index == 0 && q.kind == QueryKind::client && validating(r))
                ? QueryState::validate
                : QueryState::finished;
}

}  // namespace sextant::resolver
