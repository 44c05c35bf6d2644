// DNSSEC validation inside the walker (RFC 4035 §5), driving the pure
// functions of dnssec/ (see dnssec/README.md, "Driving it from the walker").
//
// While a client question is walked, every response that contributes to its
// result is kept as a ValidationSegment, and every referral's DS/NSEC
// evidence as a ReferralEvidence. When the answer is complete the query
// enters `validate`: each segment goes through validate_response(); when it
// needs the keys of a zone, establish_zone() builds that link of the chain
// of trust top-down from the closest trust anchor:
//
//   anchor zone      -> anchor DS
//   other zone       -> DS proven by a referral of this request, else a DS
//                       sub-query to the parent (validated the same way:
//                       NODATA proven = unsigned delegation = insecure)
//   usable DS        -> DNSKEY sub-query to the zone, validate_zone_keys()
//
// Sub-queries park the client query in `wait_keys`; when one ends the query
// re-enters `validate` and picks up where it stopped (conclusions live in
// the request's KnownZones, so nothing is fetched twice). Outcomes are kept
// per worker (trust_memo_) for their TTL: secure keys and insecure zones as
// long as the data allows, bogus for bogus_ttl, failures to fetch DS/DNSKEY
// (transient) for a few seconds only.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "dnssec/aggressive_nsec.h"
#include "dnssec/key_chain.h"
#include "resolver/walk/walker.h"

namespace sextant::resolver {

using dnssec::SecurityState;
using dnssec::Verdict;
using wire::EdeCode;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

namespace {

// DS/DNSKEY sub-queries one client question may spawn: two per zone cut on
// a deep path plus CNAME targets in other trees; more is an attack or a loop.
constexpr size_t kMaxKeyFetches = kMaxKeyFetchesPerRequest;
// establish_zone() calls per request and their nesting (labels of a name).
constexpr uint32_t kMaxEstablishCalls = 256;
constexpr int kMaxEstablishDepth = 16;
constexpr int kMaxSettleRounds = 24;
// How long a proven-insecure delegation is remembered by the worker when the
// proof does not say: the usual negative-caching horizon.
constexpr uint32_t kInsecureMemoSeconds = 300;
constexpr size_t kMaxTrustMemo = 10000;
constexpr size_t kMaxReferralEvidence = 32;
// Askings again after bogus data, per request: the question (another
// server of the zone each time) and DNSKEY RRsets. Each costs queries from
// the request's upstream budget and checks from its validation budget.
constexpr uint32_t kMaxBogusRetries = 2;
constexpr uint32_t kMaxKeyRetries = 2;
constexpr size_t kMaxBogusServers = 256;
// RFC 8198 memory per worker: zones, and denial RRsets per zone (oldest
// dropped first). A proof needs two or three records near the name.

bool is_denial(const RRset& set) { return set.type == RRType::NSEC || set.type == RRType::NSEC3; }

cache::DnssecStatus to_status(SecurityState s) { return static_cast<cache::DnssecStatus>(s); }

SecurityState from_status(cache::DnssecStatus s) { return static_cast<SecurityState>(s); }

// The name a negative segment denies: its qname followed through its CNAMEs.
Name chain_end(const dnssec::ResponseToValidate& r) {
  Name name = r.qname;
  for (size_t hops = 0; hops <= r.answer.size(); ++hops) {
    bool moved = false;
    for (const RRset& set : r.answer) {
      if (set.type == RRType::CNAME && set.owner == name && set.rdatas.size() == 1) {
        if (auto target = rdata_target_name(set.rdatas[0])) {
          name = *target;
          moved = true;
          break;
        }
      }
    }
    if (!moved) break;
  }
  return name;
}

}  // namespace

bool Walker::validating(const Resolution& r) const {
  return options_.dnssec.enabled && !r.options.checking_disabled && !r.key.priming;
}

ValidationContext& Walker::validation_context(Resolution& r) {
  if (!r.validation) {
    r.validation = std::make_unique<ValidationContext>(options_.dnssec.limits);
    if (options_.dnssec.anchors) r.validation->zones.set_anchor_zones(options_.dnssec.anchors->anchors());
  }
  return *r.validation;
}

void Walker::record_segment(Resolution& r, SubQuery& q, dnssec::ResponseKind kind,
                            const Name& qname, const ClassifiedResponse& c) {
  if (!validating(r) || q.kind == QueryKind::ns_address || q.kind == QueryKind::priming) return;
  if (q.cut.forward) return record_forwarded(r, q, kind, qname, c);  // walker_forward.cpp
  ValidationSegment seg;
  seg.response.qname = qname;
  seg.response.qtype = q.question.type;
  seg.response.kind = kind;
  seg.response.zone = q.cut.zone;
  seg.response.answer = c.chain;
  for (const auto& set : c.answers) seg.response.answer.push_back(set);
  if (c.soa) seg.response.authority.push_back(*c.soa);
  for (const auto& set : c.denial) seg.response.authority.push_back(set);
  seg.server = q.last_reply_from;
  for (const auto& ns : q.cut.servers) {
    seg.zone_servers.insert(seg.zone_servers.end(), ns.addresses.begin(), ns.addresses.end());
  }
  q.segments.push_back(std::move(seg));
}

void Walker::record_cached_segment(Resolution& r, SubQuery& q, const Name& qname,
                                   std::vector<RRset> sets, cache::DnssecStatus status) {
  (void)r;
  ValidationSegment seg;
  seg.response.qname = qname;
  seg.response.qtype = q.question.type;
  seg.from_cache = true;
  seg.cached_state = from_status(status);
  // Positive data is already in the result; denial proofs (from a cached
  // negative entry) are kept to hand to DO clients.
  for (auto& set : sets) {
    if (is_denial(set)) seg.response.authority.push_back(std::move(set));
  }
  q.segments.push_back(std::move(seg));
}

void Walker::record_referral(Resolution& r, SubQuery& q, const ClassifiedResponse& c) {
  if (!validating(r) || !c.referral_ns) return;
  ValidationContext& ctx = validation_context(r);
  for (const auto& ev : ctx.referrals) {
    if (ev.zone == c.referral_zone) return;
  }
  if (ctx.referrals.size() >= kMaxReferralEvidence) return;
  ReferralEvidence ev;
  ev.zone = c.referral_zone;
  ev.response.qname = c.referral_zone;
  ev.response.qtype = RRType::DS;
  ev.response.kind = dnssec::ResponseKind::referral;
  ev.response.zone = q.cut.zone;
  ev.response.authority.push_back(*c.referral_ns);
  if (c.referral_ds) ev.response.authority.push_back(*c.referral_ds);
  for (const auto& set : c.denial) ev.response.authority.push_back(set);
  ctx.referrals.push_back(std::move(ev));
}

void Walker::state_validate(Resolution& r, SubQuery& q) {
  ValidationContext& ctx = validation_context(r);
  for (auto& seg : q.segments) {
    if (seg.done) continue;
    if (seg.from_cache) {
      seg.outcome.verdict.state = seg.cached_state;
      seg.done = true;
      continue;
    }
    if (!validate_settled(r, q, seg.response, seg.outcome, 0)) {
      q.state = QueryState::wait_keys;
      return;
    }
    seg.done = true;
    if (ctx.budget.exhausted() != dnssec::BudgetError::none) break;
  }
  finish_validation(r, q);
}

bool Walker::validate_settled(Resolution& r, SubQuery& q,
                              const dnssec::ResponseToValidate& response,
                              dnssec::ResponseValidation& out, int depth) {
  ValidationContext& ctx = validation_context(r);
  const uint32_t now = timers_.wall_seconds();
  for (int round = 0; round < kMaxSettleRounds; ++round) {
    out = dnssec::validate_response(response, ctx.zones, options_.dnssec.negative_anchors.get(),
                                    now, ctx.budget);
    if (out.verdict.state != SecurityState::indeterminate || !out.needs_keys) return true;
    const Name needed = *out.needs_keys;
    if (ctx.zones.lookup(needed)) {
      // Known but still "needed": a secure entry without keys. Never loop.
      out.verdict = Verdict::bogus(EdeCode::DnssecBogus,
                                   fmt::format("no usable keys for {}", needed.to_text()));
      return true;
    }
    if (establish_zone(r, q, needed, depth + 1) == KeyState::waiting) return false;
  }
  out.verdict = Verdict::bogus(EdeCode::DnssecBogus, "the chain of trust did not settle", true);
  return true;
}

Walker::FetchStatus Walker::key_fetch(Resolution& r, SubQuery& q, const Name& zone, RRType type,
                                      const SubQuery*& out) {
  ValidationContext& ctx = validation_context(r);
  for (const auto& f : ctx.fetches) {
    if (f.type == type && f.zone == zone) {
      if (!f.done) return FetchStatus::waiting;
      out = r.queries[f.query].get();
      return FetchStatus::done;
    }
  }
  if (ctx.fetches.size() >= kMaxKeyFetches || q.depth + 1 > options_.limits.max_subquery_depth) {
    return FetchStatus::refused;
  }
  SubQuery& child = add_query(r, type == RRType::DS ? QueryKind::ds : QueryKind::dnskey, q.index,
                              wire::Question{zone, type, wire::RRClass::IN});
  ++q.children_running;
  ++stats_.key_queries;
  ctx.fetches.push_back({zone, type, child.index, false});
  start_key_fetch(r, child);  // or join another request's (walker_trust_prefetch.cpp)
  return FetchStatus::waiting;
}

void Walker::conclude_zone(ValidationContext& ctx, const Name& zone, const Verdict& verdict,
                           std::shared_ptr<const dnssec::ZoneKeySet> keys, uint32_t ttl) {
  switch (verdict.state) {
    case SecurityState::secure:
      if (keys) {
        ctx.zones.add_secure(zone, keys);
      } else {
        ctx.zones.add_bogus(zone, Verdict::bogus(EdeCode::DnssecBogus, "secure without keys"));
      }
      break;
    case SecurityState::insecure: ctx.zones.add_insecure(zone, verdict); break;
    case SecurityState::bogus:
    case SecurityState::indeterminate: {
      Verdict bogus = verdict;
      bogus.state = SecurityState::bogus;
      if (!bogus.ede) bogus.ede = EdeCode::DnssecBogus;
      ctx.zones.add_bogus(zone, bogus);
      break;
    }
  }
  uint32_t memo = ttl;
  if (verdict.state != SecurityState::secure && verdict.state != SecurityState::insecure) {
    memo = dnssec::cache_ttl_for(verdict, ttl, options_.dnssec.cache_policy);
  }
  if (memo == 0) return;
  if (trust_memo_.size() >= kMaxTrustMemo) trust_memo_.clear();
  const dnssec::ZoneTrust* trust = ctx.zones.lookup(zone);
  if (!trust) return;
  trust_memo_[zone.lowercased()] = TrustMemo{*trust, timers_.wall_seconds() + memo};
}

Walker::KeyState Walker::establish_zone(Resolution& r, SubQuery& q, const Name& zone, int depth) {
  ValidationContext& ctx = validation_context(r);
  if (ctx.zones.lookup(zone)) return KeyState::known;
  // Unsigned forwarded data: its zone is still to be found (walker_forward.cpp).
  if (zone_to_locate(ctx, zone)) return locate_zone(r, q, zone, depth);
  const uint32_t now = timers_.wall_seconds();
  if (depth > kMaxEstablishDepth || ++ctx.establish_calls > kMaxEstablishCalls) {
    ctx.zones.add_bogus(zone, Verdict::bogus(EdeCode::DnssecBogus,
                                             "chain of trust too long for one request", true));
    return KeyState::known;
  }
  if (auto it = trust_memo_.find(zone.lowercased()); it != trust_memo_.end()) {
    if (it->second.expires > now) {
      const dnssec::ZoneTrust& t = it->second.trust;
      switch (t.verdict.state) {
        case SecurityState::secure: ctx.zones.add_secure(zone, t.keys); break;
        case SecurityState::insecure: ctx.zones.add_insecure(zone, t.verdict); break;
        default: ctx.zones.add_bogus(zone, t.verdict); break;
      }
      return KeyState::known;
    }
    trust_memo_.erase(it);
  }
  const dnssec::TrustAnchor* anchor =
      options_.dnssec.anchors ? options_.dnssec.anchors->closest(zone) : nullptr;
  if (!anchor) {
    ctx.zones.add_insecure(zone, Verdict::insecure(
                                     fmt::format("no trust anchor covers {}", zone.to_text())));
    return KeyState::known;
  }
  // An ancestor this worker already knows to be unsigned (or broken)
  // settles the zone without a query; not one above the zone's trust
  // anchor, which starts a chain of its own (an island of security).
  for (Name up = zone; !(up == anchor->zone) && !up.is_root();) {
    up = up.parent();
    auto memo = trust_memo_.find(up.lowercased());
    if (memo == trust_memo_.end() || memo->second.expires <= now ||
        memo->second.trust.verdict.state == SecurityState::secure) {
      continue;
    }
    if (memo->second.trust.verdict.state == SecurityState::insecure) {
      ctx.zones.add_insecure(up, memo->second.trust.verdict);
    } else {
      ctx.zones.add_bogus(up, memo->second.trust.verdict);
    }
    if (ctx.zones.lookup(zone)) return KeyState::known;
  }

  std::vector<wire::Rdata> ds;
  if (anchor->zone == zone) {
    if (anchor->ds.empty()) {
      // A managed trust point whose keys were all revoked (RFC 5011): no
      // chain can start here, and an anchor never fails open.
      conclude_zone(ctx, zone,
                    Verdict::bogus(EdeCode::DnskeyMissing,
                                   fmt::format("the trust anchor for {} has no trusted key left",
                                               zone.to_text())),
                    nullptr, 0);
      return KeyState::known;
    }
    ds = anchor->ds;
  } else {
    // Top-down: the parent's zone (as far as the delegation cache knows it)
    // first. Below an unsigned or bogus parent the child inherits its state,
    // and no DS query is sent to a parent that cannot sign one.
    const Name parent = closest_cut(zone, true).zone;
    if (!(parent == zone) && zone.is_subdomain_of(parent) &&
        parent.is_subdomain_of(anchor->zone) && !ctx.zones.lookup(parent)) {
      if (establish_zone(r, q, parent, depth + 1) == KeyState::waiting) return KeyState::waiting;
      if (ctx.zones.lookup(zone)) return KeyState::known;
    }
    bool have_ds = false;
    for (const auto& [z, set] : ctx.proven_ds) {
      if (z == zone) {
        ds = set;
        have_ds = true;
      }
    }
    // 1. The referral that led to the zone, if this request saw it.
    for (size_t i = 0; !have_ds && i < ctx.referrals.size(); ++i) {
      if (!(ctx.referrals[i].zone == zone) || ctx.referrals[i].unusable) continue;
      const dnssec::ResponseToValidate response = ctx.referrals[i].response;
      dnssec::ResponseValidation v;
      if (!validate_settled(r, q, response, v, depth)) return KeyState::waiting;
      if (ctx.zones.lookup(zone)) return KeyState::known;
      if (v.delegation_state == SecurityState::secure && !v.delegation_ds.empty()) {
        ds = v.delegation_ds;
        have_ds = true;
        ctx.proven_ds.emplace_back(zone, ds);
      } else if (v.delegation_state == SecurityState::insecure) {
        Verdict why = v.verdict.state == SecurityState::insecure
                          ? v.verdict
                          : Verdict::insecure(fmt::format("no DS for {}: unsigned delegation",
                                                          zone.to_text()));
        conclude_zone(ctx, zone, why, nullptr, std::min(kInsecureMemoSeconds, v.ttl_limit));
        return KeyState::known;
      } else {
        ctx.referrals[i].unusable = true;  // no conclusion: ask the parent for DS
      }
    }
    // 2. A DS query to the parent.
    if (!have_ds) {
      const SubQuery* f = nullptr;
      switch (key_fetch(r, q, zone, RRType::DS, f)) {
        case FetchStatus::waiting: return KeyState::waiting;
        case FetchStatus::refused:
          conclude_zone(ctx, zone,
                        dnssec::fetch_failure(zone, RRType::DS, "too many DS/DNSKEY queries"), nullptr,
                        0);  // this request's limit, not the zone's fault: not remembered
          return KeyState::known;
        case FetchStatus::done: break;
      }
      if ((f->result.rcode != Rcode::NOERROR && f->result.rcode != Rcode::NXDOMAIN) ||
          f->segments.empty()) {
        std::string why = f->result.ede ? f->result.ede->extra_text : "no response";
        conclude_zone(ctx, zone, dnssec::fetch_failure(zone, RRType::DS, why), nullptr,
                      options_.dnssec.cache_policy.transient_ttl);
        return KeyState::known;
      }
      const dnssec::ResponseToValidate response = f->segments.back().response;
      dnssec::ResponseValidation v;
      if (!validate_settled(r, q, response, v, depth)) return KeyState::waiting;
      if (ctx.zones.lookup(zone)) return KeyState::known;
      switch (v.verdict.state) {
        case SecurityState::secure: {
          if (response.kind == dnssec::ResponseKind::answer) {
            for (const auto& set : response.answer) {
              if (set.type == RRType::DS && set.owner == zone) ds = set.rdatas;
            }
          }
          if (ds.empty() && !v.ds_denial_shows_cut) {
            // The parent proves the name is no zone cut (it exists without
            // NS, or not at all): it lies inside the parent zone and only
            // the parent's keys hold there. Data claiming it as signer then
            // fails (the signer is not the keys' zone); treating it as an
            // unsigned delegation instead let a forger make any answer
            // insecure by naming such a signer.
            const dnssec::ZoneTrust* parent_trust = nullptr;
            for (Name up = zone; !up.is_root() && !parent_trust;) {
              up = up.parent();
              parent_trust = ctx.zones.lookup(up);
            }
            if (parent_trust && parent_trust->verdict.is_secure() && parent_trust->keys) {
              conclude_zone(ctx, zone, Verdict::secure(), parent_trust->keys,
                            std::min(kInsecureMemoSeconds, v.ttl_limit));
            } else {
              ctx.zones.add_bogus(zone, Verdict::bogus(EdeCode::DnssecBogus,
                                                       fmt::format("{} is no zone cut and its parent's "
                                                                   "keys are not known",
                                                                   zone.to_text())));
            }
            return KeyState::known;
          }
          if (ds.empty()) {
            conclude_zone(ctx, zone,
                          Verdict::insecure(
                              fmt::format("no DS for {}: unsigned delegation", zone.to_text())),
                          nullptr, std::min(kInsecureMemoSeconds, v.ttl_limit));
            return KeyState::known;
          }
          if (cache_) {
            for (const auto& set : response.answer) {
              if (set.type != RRType::DS) continue;
              RRset kept = set;
              kept.ttl = std::min(kept.ttl, v.ttl_limit);
              cache_->insert_rrset(kept, cache::Rank::answer_authoritative,
                                   cache::DnssecStatus::secure, now);
            }
          }
          break;
        }
        case SecurityState::insecure:
          conclude_zone(ctx, zone, v.verdict, nullptr, kInsecureMemoSeconds);
          return KeyState::known;
        case SecurityState::bogus:
          conclude_zone(ctx, zone, v.verdict, nullptr, options_.dnssec.cache_policy.bogus_ttl);
          return KeyState::known;
        case SecurityState::indeterminate:
          conclude_zone(ctx, zone,
                        Verdict::bogus(EdeCode::DnssecBogus,
                                       fmt::format("DS of {} not validated: {}", zone.to_text(),
                                                   v.verdict.reason),
                                       true),
                        nullptr, options_.dnssec.cache_policy.transient_ttl);
          return KeyState::known;
      }
    }
  }

  // The DS set is known: the zone's DNSKEY RRset must match it.
  RRset dnskeys;
  dnskeys.owner = zone;
  dnskeys.type = RRType::DNSKEY;
  std::optional<ServerAddress> key_server;
  std::vector<ServerAddress> key_zone_servers;
  if (dnssec::has_usable_ds(ds)) {
    const SubQuery* f = nullptr;
    switch (key_fetch(r, q, zone, RRType::DNSKEY, f)) {
      case FetchStatus::waiting: return KeyState::waiting;
      case FetchStatus::refused:
        conclude_zone(ctx, zone,
                      dnssec::fetch_failure(zone, RRType::DNSKEY, "too many DS/DNSKEY queries"),
                      nullptr, 0);  // this request's limit, not the zone's fault: not remembered
        return KeyState::known;
      case FetchStatus::done: break;
    }
    if (f->result.rcode != Rcode::NOERROR) {
      std::string why = f->result.ede ? f->result.ede->extra_text
                                      : fmt::format("rcode {}", wire::to_string(f->result.rcode));
      conclude_zone(ctx, zone, dnssec::fetch_failure(zone, RRType::DNSKEY, why), nullptr,
                    options_.dnssec.cache_policy.transient_ttl);
      return KeyState::known;
    }
    for (const auto& set : f->result.answer) {
      if (set.type == RRType::DNSKEY && set.owner == zone) dnskeys = set;
    }
    key_server = f->last_reply_from;
    for (const auto& ns : f->cut.servers) {
      key_zone_servers.insert(key_zone_servers.end(), ns.addresses.begin(), ns.addresses.end());
    }
  }
  // Without a usable DS this settles as insecure (EDE 1/2) without a fetch.
  dnssec::ZoneKeysResult keys = dnssec::validate_zone_keys(zone, dnskeys, ds, now, ctx.budget);
  if (keys.verdict.is_bogus() && !keys.verdict.transient && key_server &&
      ctx.key_retries < kMaxKeyRetries) {
    // One server's key set (stale after a rollover, broken) must not make
    // the zone bogus while another server may serve the right one.
    const auto mono = timers_.now();
    remember_bogus_server(zone, *key_server, mono);
    const bool other = std::any_of(key_zone_servers.begin(), key_zone_servers.end(),
                                   [&](const ServerAddress& a) { return !served_bogus(zone, a, mono); });
    if (other) {
      ++ctx.key_retries;
      ++stats_.bogus_retries;
      std::erase_if(ctx.fetches, [&](const KeyFetch& k) { return k.type == RRType::DNSKEY && k.zone == zone; });
      return establish_zone(r, q, zone, depth);
    }
  }
  uint32_t ttl = keys.verdict.is_secure() ? std::min(keys.ttl_limit, dnskeys.ttl)
                 : keys.verdict.state == SecurityState::insecure
                     ? kInsecureMemoSeconds
                     : options_.dnssec.cache_policy.bogus_ttl;
  conclude_zone(ctx, zone, keys.verdict, keys.keys, ttl);
  if (cache_ && !dnskeys.rdatas.empty()) {
    RRset kept = dnskeys;
    kept.ttl = keys.verdict.is_secure()
                   ? ttl
                   : dnssec::cache_ttl_for(keys.verdict, kept.ttl, options_.dnssec.cache_policy);
    if (kept.ttl > 0) {
      cache_->insert_rrset(kept, cache::Rank::answer_authoritative, to_status(keys.verdict.state),
                           now);
    }
  }
  return KeyState::known;
}

void Walker::finish_validation(Resolution& r, SubQuery& q) {
  ValidationContext& ctx = validation_context(r);
  std::optional<Verdict> bogus;
  std::optional<Verdict> insecure;
  bool indeterminate = q.segments.empty();
  for (const auto& seg : q.segments) {
    const Verdict& v = seg.outcome.verdict;
    if (!seg.done) {
      indeterminate = true;
      continue;
    }
    switch (v.state) {
      case SecurityState::bogus:
        if (!bogus) bogus = v;
        break;
      case SecurityState::insecure:
        if (!insecure || (!insecure->ede && v.ede)) insecure = v;
        break;
      case SecurityState::indeterminate:
        if (seg.outcome.needs_keys) {
          if (!bogus) bogus = Verdict::bogus(EdeCode::DnssecBogus, v.reason, true);
        } else {
          indeterminate = true;
        }
        break;
      case SecurityState::secure: break;
    }
  }
  if (ctx.budget.exhausted() != dnssec::BudgetError::none && !bogus) {
    bogus = Verdict::bogus(EdeCode::DnssecBogus,
                           fmt::format("validation budget exhausted ({})",
                                       dnssec::to_string(ctx.budget.exhausted())),
                           true);
  }

  if (r.trace) trace_validation(r, q, bogus ? &*bogus : insecure ? &*insecure : nullptr, indeterminate);
  ResolutionResult& result = q.result;
  if (bogus && !bogus->transient && retry_after_bogus(r, q)) return;
  if (bogus) {
    ++stats_.validated_bogus;
    cache_validated(q);
    result.rcode = Rcode::SERVFAIL;
    result.answer.clear();
    result.authority.clear();
    result.ede = wire::ExtendedErrorOption{
        static_cast<uint16_t>(bogus->ede.value_or(EdeCode::DnssecBogus)), bogus->reason};
    result.validation = ValidationState::bogus;
    q.state = QueryState::finished;
    return;
  }
  if (indeterminate) {
    ++stats_.validated_indeterminate;
    result.validation = ValidationState::indeterminate;
  } else if (insecure) {
    ++stats_.validated_insecure;
    result.validation = ValidationState::insecure;
    // Informational codes (27 NSEC3 iterations, 33 NTA, 1/2 unsupported).
    if (insecure->ede && !result.ede) {
      result.ede = wire::ExtendedErrorOption{static_cast<uint16_t>(*insecure->ede),
                                             insecure->reason};
    }
  } else {
    ++stats_.validated_secure;
    result.validation = ValidationState::secure;
  }
  // RFC 4035 §5.3.3: validated data is not handed out for longer than its
  // signatures stay valid.
  uint32_t ttl_limit = std::numeric_limits<uint32_t>::max();
  for (const auto& seg : q.segments) {
    if (seg.done && !seg.from_cache) ttl_limit = std::min(ttl_limit, seg.outcome.ttl_limit);
  }
  for (auto& set : result.answer) set.ttl = std::min(set.ttl, ttl_limit);
  for (auto& set : result.authority) set.ttl = std::min(set.ttl, ttl_limit);
  // The denial records (negative answers, wildcard proofs) follow the SOA,
  // so that DO clients can check the answer themselves.
  auto already = [&](const RRset& set) {
    return std::any_of(result.authority.begin(), result.authority.end(), [&](const RRset& s) {
      return s.type == set.type && s.owner == set.owner;
    });
  };
  for (const auto& seg : q.segments) {
    for (const auto& set : seg.response.authority) {
      if (!is_denial(set) || already(set)) continue;
      RRset kept = set;
      kept.ttl = std::min(kept.ttl, options_.max_negative_ttl);
      result.authority.push_back(std::move(kept));
    }
  }
  cache_validated(q);
  if (result.validation == ValidationState::secure) remember_denials(q);
  q.state = QueryState::finished;
}

bool Walker::served_bogus(const Name& zone, const ServerAddress& server,
                          TimerService::TimePoint now) const {
  return std::any_of(bogus_servers_.begin(), bogus_servers_.end(), [&](const BogusServer& b) {
    return b.until > now && b.server == server && b.zone == zone;
  });
}

void Walker::remember_bogus_server(const Name& zone, const ServerAddress& server,
                                   TimerService::TimePoint now) {
  std::erase_if(bogus_servers_, [&](const BogusServer& b) {
    return b.until <= now || (b.server == server && b.zone == zone);
  });
  if (bogus_servers_.size() >= kMaxBogusServers) bogus_servers_.erase(bogus_servers_.begin());
  const auto hold = std::chrono::seconds(std::max<uint32_t>(1, options_.dnssec.cache_policy.bogus_ttl));
  bogus_servers_.push_back({zone.lowercased(), server, now + hold});
}

void Walker::avoid_bogus_servers(const Name& zone, std::vector<ServerCandidate>& candidates,
                                 TimerService::TimePoint now) const {
  if (bogus_servers_.empty()) return;
  const bool any_good = std::any_of(candidates.begin(), candidates.end(), [&](const ServerCandidate& c) {
    return !served_bogus(zone, c.address, now);
  });
  if (!any_good) return;  // every server served bogus data: ask them anyway
  std::erase_if(candidates, [&](const ServerCandidate& c) { return served_bogus(zone, c.address, now); });
}

bool Walker::retry_after_bogus(Resolution& r, SubQuery& q) {
  ValidationContext& ctx = validation_context(r);
  if (q.index != 0 || ctx.bogus_retries >= kMaxBogusRetries) return false;
  const auto now = timers_.now();
  bool blamed = false;
  bool other_server = false;
  for (const auto& seg : q.segments) {
    const dnssec::Verdict& v = seg.outcome.verdict;
    if (seg.from_cache || !seg.done || !v.is_bogus() || v.transient || !seg.server) continue;
    // A zone whose keys are bogus is not its servers' fault.
    if (const dnssec::ZoneTrust* t = ctx.zones.lookup(seg.response.zone); t && !t->verdict.is_secure()) {
      continue;
    }
    remember_bogus_server(seg.response.zone, *seg.server, now);
    blamed = true;
    for (const auto& address : seg.zone_servers) {
      if (!served_bogus(seg.response.zone, address, now)) other_server = true;
    }
  }
  if (!blamed || !other_server) return false;
  ++ctx.bogus_retries;
  ++stats_.bogus_retries;
  // The question again from its start; what the request learnt of zones
  // and keys stays, and the bogus data is not taken from the cache
  // (answer_from_cache takes only validated data).
  cancel_all_attempts(q);
  q.segments.clear();
  q.chain.clear();
  q.chain_links = 0;
  q.referrals = 0;
  q.result = ResolutionResult{};
  q.last_reply_from.reset();
  begin_name(q);
  return true;
}

void Walker::remember_denials(const SubQuery& q) {
  if (!options_.dnssec.aggressive_nsec) return;
  const uint32_t now = timers_.wall_seconds();
  for (const auto& seg : q.segments) {
    if (seg.from_cache || !seg.done || !seg.outcome.verdict.is_secure()) continue;
    const auto& authority = seg.response.authority;
    const auto& states = seg.outcome.authority_states;
    // The zone is the SOA's (negative answers); wildcard answers carry no
    // SOA and are not kept.
    const RRset* soa = nullptr;
    for (size_t i = 0; i < authority.size() && i < states.size(); ++i) {
      if (authority[i].type == RRType::SOA && states[i] == SecurityState::secure) soa = &authority[i];
    }
    if (!soa || soa->rdatas.empty()) continue;
    uint32_t negative_ttl = soa->ttl;
    if (auto minimum = soa_minimum(soa->rdatas[0])) negative_ttl = std::min(negative_ttl, *minimum);
    negative_ttl = std::min({negative_ttl, options_.max_negative_ttl, seg.outcome.ttl_limit});
    if (negative_ttl == 0) continue;
    std::vector<DenialMemory::Denial> denials;
    for (size_t i = 0; i < authority.size() && i < states.size(); ++i) {
      const RRset& set = authority[i];
      if (!is_denial(set) || states[i] != SecurityState::secure) continue;
      denials.emplace_back(&set, now + std::min(set.ttl, negative_ttl));
    }
    options_.denials->remember(soa->owner.lowercased(), *soa, now + negative_ttl, denials);
  }
}

bool Walker::synthesize_denial(Resolution& r, SubQuery& q) {
  const RRType type = q.question.type;
  if (!options_.dnssec.aggressive_nsec || type == RRType::DS || type == RRType::ANY) return false;
  const uint32_t now = timers_.wall_seconds();
  // The closest zone with remembered denials.
  std::optional<DenialMemory::Zone> memo = options_.denials->closest(q.target, now);
  if (!memo) return false;
  const std::vector<RRset>& nsec = memo->nsec;
  const std::vector<RRset>& nsec3 = memo->nsec3;
  const Name& zone = memo->soa.owner;
  dnssec::AggressiveAnswer answer;
  const std::vector<RRset>* used_from = &nsec;
  if (!nsec.empty()) answer = dnssec::synthesize_from_nsec(nsec, zone, q.target, type);
  if (answer.outcome == dnssec::AggressiveOutcome::none && !nsec3.empty()) {
    used_from = &nsec3;
    answer = dnssec::synthesize_from_nsec3(nsec3, zone, q.target, type,
                                           validation_context(r).budget);
  }
  if (answer.outcome == dnssec::AggressiveOutcome::none) return false;
  std::vector<RRset> proofs;
  uint32_t ttl = std::min(memo->soa_expires - now, answer.ttl);
  for (size_t index : answer.used) {
    if (index < used_from->size()) proofs.push_back((*used_from)[index]);
  }
  for (auto& p : proofs) p.ttl = std::min(p.ttl, ttl);
  RRset soa = memo->soa;
  soa.ttl = ttl;
  ++stats_.aggressive_answers;
  record_cached_segment(r, q, q.target, std::move(proofs), cache::DnssecStatus::secure);
  complete_answer(r, q,
                  answer.outcome == dnssec::AggressiveOutcome::nxdomain ? Rcode::NXDOMAIN
                                                                        : Rcode::NOERROR,
                  {}, std::move(soa));
  return true;
}

void Walker::cache_validated(const SubQuery& q) {
  if (!cache_) return;
  if (q.ecs_scope > 0 || q.ecs_withheld) return;  // answers for some clients only (ECS) stay out
  const uint32_t now = timers_.wall_seconds();
  const auto& policy = options_.dnssec.cache_policy;
  for (const auto& seg : q.segments) {
    if (seg.from_cache || !seg.done) continue;
    const dnssec::ResponseValidation& v = seg.outcome;
    const auto& answer = seg.response.answer;
    for (size_t i = 0; i < answer.size(); ++i) {
      // The CNAME synthesised from a DNAME is ours, not the server's data.
      if (i > 0 && answer[i - 1].type == RRType::DNAME && answer[i].type == RRType::CNAME) continue;
      SecurityState state = i < v.answer_states.size() ? v.answer_states[i] : v.verdict.state;
      if (v.verdict.is_bogus()) state = SecurityState::bogus;
      Verdict set_verdict = v.verdict;
      set_verdict.state = state;
      RRset kept = answer[i];
      kept.ttl = dnssec::cache_ttl_for(set_verdict, std::min(kept.ttl, v.ttl_limit), policy);
      if (kept.ttl == 0) continue;
      // Forwarded data is the upstream's, not an authority's (RFC 2181 §5.4.1).
      cache_->insert_rrset(kept, seg.forwarded ? cache::Rank::answer_nonauth : cache::Rank::answer_authoritative,
                           to_status(state), now);
    }
    const bool negative = seg.response.kind == dnssec::ResponseKind::nodata ||
                          seg.response.kind == dnssec::ResponseKind::nxdomain;
    if (!negative) continue;
    const RRset* soa = nullptr;
    std::vector<RRset> proofs;
    for (const auto& set : seg.response.authority) {
      if (set.type == RRType::SOA && !soa) soa = &set;
      if (is_denial(set)) proofs.push_back(set);
    }
    if (!soa) continue;
    RRset kept_soa = *soa;
    if (!kept_soa.rdatas.empty()) {
      if (auto minimum = soa_minimum(kept_soa.rdatas[0])) {
        kept_soa.ttl = std::min(kept_soa.ttl, *minimum);
      }
    }
    kept_soa.ttl = std::min(kept_soa.ttl, options_.max_negative_ttl);
    kept_soa.ttl = dnssec::cache_ttl_for(v.verdict, std::min(kept_soa.ttl, v.ttl_limit), policy);
    if (kept_soa.ttl == 0) continue;
    cache_->negatives().insert(seg.response.kind == dnssec::ResponseKind::nxdomain
                                   ? cache::NegativeKind::nxdomain
                                   : cache::NegativeKind::nodata,
                               chain_end(seg.response), seg.response.qtype, wire::RRClass::IN,
                               kept_soa, proofs, to_status(v.verdict.state), now);
  }
}

}  // namespace sextant::resolver
