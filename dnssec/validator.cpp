#include "dnssec/validator.h"

#include <fmt/format.h>

#include <algorithm>

#include "dnssec/nsec3_proofs.h"
#include "dnssec/nsec_proofs.h"
#include "dnssec/record_fields.h"
#include "dnssec/rrsig_verify.h"
#include "wire/rdata_views.h"

namespace sextant::dnssec {

using wire::RRType;

void KnownZones::put(ZoneTrust trust) {
  for (ZoneTrust& z : zones_) {
    if (z.zone == trust.zone) {
      z = std::move(trust);
      return;
    }
  }
  zones_.push_back(std::move(trust));
}

void KnownZones::add_secure(const wire::Name& zone, std::shared_ptr<const ZoneKeySet> keys) {
  put({zone, Verdict::secure(), std::move(keys)});
}

void KnownZones::add_insecure(const wire::Name& zone, Verdict why) {
  why.state = SecurityState::insecure;
  put({zone, std::move(why), nullptr});
}

void KnownZones::add_bogus(const wire::Name& zone, Verdict why) {
  why.state = SecurityState::bogus;
  put({zone, std::move(why), nullptr});
}

void KnownZones::add(const wire::Name& zone, const ZoneKeysResult& result) {
  switch (result.verdict.state) {
    case SecurityState::secure: add_secure(zone, result.keys); return;
    case SecurityState::insecure: add_insecure(zone, result.verdict); return;
    case SecurityState::bogus:
    case SecurityState::indeterminate: add_bogus(zone, result.verdict); return;
  }
}

const ZoneTrust* KnownZones::lookup(const wire::Name& zone) const noexcept {
  // The closest known enclosing zone decides: an unsigned or broken one
  // covers everything below it (no chain of trust restarts there by a DS),
  // a secure one means the zone's own keys are still to be established.
  // A secure entry below an insecure one is an island of security (a
  // configured trust anchor), so it hides the insecure ancestor.
  const ZoneTrust* closest = nullptr;
  for (const ZoneTrust& z : zones_) {
    if (z.zone == zone) return &z;
    if (zone.is_subdomain_of(z.zone) &&
        (!closest || z.zone.label_count() > closest->zone.label_count())) {
      closest = &z;
    }
  }
  if (!closest || closest->verdict.state == SecurityState::secure) return nullptr;
  for (const wire::Name& anchor : anchor_zones_) {
    if (zone.is_subdomain_of(anchor) && anchor.is_subdomain_of(closest->zone) &&
        !(anchor == closest->zone)) {
      return nullptr;  // an anchor between them: its own chain decides
    }
  }
  return closest;
}

void KnownZones::set_anchor_zones(std::span<const TrustAnchor> anchors) {
  anchor_zones_.clear();
  for (const TrustAnchor& a : anchors) anchor_zones_.push_back(a.zone);
}

namespace {

// Collects the overall verdict: the first bogus wins, then insecure.
struct Outcome {
  Verdict verdict = Verdict::secure();
  void add(const Verdict& v) {
    if (verdict.state == SecurityState::bogus) return;
    if (v.state == SecurityState::bogus ||
        (v.state == SecurityState::insecure && verdict.state == SecurityState::secure)) {
      verdict = v;
    }
  }
};

// The signer named by the first well-formed RRSIG over the set's type.
std::optional<wire::Name> signer_of(const wire::RRset& set) {
  for (const wire::Rdata& rdata : set.signatures) {
    RrsigFields sig;
    if (read_rrsig(rdata, sig) && sig.type_covered == set.type) return sig.signer;
  }
  return std::nullopt;
}

// A CNAME a server synthesised from a DNAME (RFC 6672 §5.3.1) is unsigned;
// it is as good as the DNAME it follows from.
const wire::RRset* dname_source(const wire::RRset& cname, std::span<const wire::RRset> answer) {
  if (cname.type != RRType::CNAME || !cname.signatures.empty() || cname.rdatas.size() != 1) {
    return nullptr;
  }
  const auto target = wire::TargetNameView::parse(cname.rdatas[0]);
  if (!target) return nullptr;
  for (const wire::RRset& set : answer) {
    if (set.type != RRType::DNAME || set.rdatas.size() != 1) continue;
    if (!cname.owner.is_subdomain_of(set.owner) || cname.owner == set.owner) continue;
    const auto dname = wire::TargetNameView::parse(set.rdatas[0]);
    wire::Name substituted;
    if (dname && cname.owner.replace_suffix(set.owner, dname->target, substituted) &&
        substituted == target->target) {
      return &set;
    }
  }
  return nullptr;
}

struct Checked {
  SecurityState state = SecurityState::indeterminate;
  std::optional<wire::Name> signer;
  RrsetVerification verification;
};

class ResponseValidator {
 public:
  ResponseValidator(const ResponseToValidate& r, const KnownZones& zones, uint32_t now,
                    ValidationBudget& budget)
      : r_(r), zones_(zones), now_(now), budget_(budget) {}

  ResponseValidation run(const NegativeTrustAnchors* ntas) {
    out_.answer_states.assign(r_.answer.size(), SecurityState::indeterminate);
    out_.authority_states.assign(r_.authority.size(), SecurityState::indeterminate);
    if (ntas) {
      Verdict nta = ntas->verdict_for(r_.qname);
      if (nta.state == SecurityState::insecure) return finish_all(nta);
    }
    if (r_.kind == ResponseKind::answer && r_.answer.empty()) {
      out_.verdict = Verdict::indeterminate("an answer without RRsets: nothing to validate");
      return out_;
    }
    // 1. Every RRset's signatures.
    answer_checks_.resize(r_.answer.size());
    for (size_t i = 0; i < r_.answer.size(); ++i) {
      if (!check(r_.answer[i], answer_checks_[i], true)) return out_;
    }
    authority_checks_.resize(r_.authority.size());
    for (size_t i = 0; i < r_.authority.size(); ++i) {
      if (!check(r_.authority[i], authority_checks_[i], false)) return out_;
    }
    for (size_t i = 0; i < r_.answer.size(); ++i) {
      if (const wire::RRset* dname = dname_source(r_.answer[i], r_.answer)) {
        answer_checks_[i].state = answer_checks_[size_t(dname - r_.answer.data())].state;
      }
      out_.answer_states[i] = answer_checks_[i].state;
    }
    for (size_t i = 0; i < r_.authority.size(); ++i) out_.authority_states[i] = authority_checks_[i].state;
    if (budget_.exhausted() != BudgetError::none) return out_;

    // 2. Wildcard expansions need the proof that the exact name is absent.
    for (size_t i = 0; i < r_.answer.size(); ++i) {
      const Checked& c = answer_checks_[i];
      if (c.state == SecurityState::secure && c.verification.wildcard_expanded) {
        const DenialProof proof = prove(*c.signer, [&](auto& nsec, auto* nsec3) {
          return nsec3 ? nsec3->prove_wildcard_answer(r_.answer[i].owner, c.verification.rrsig_labels)
                       : nsec_prove_wildcard_answer(nsec, *c.signer, r_.answer[i].owner,
                                                    c.verification.rrsig_labels);
        });
        if (!proof.proven()) out_.answer_states[i] = proof.verdict().state;
        outcome_.add(proof.verdict());
      }
    }

    // 3. The negative part, or the delegation.
    switch (r_.kind) {
      case ResponseKind::answer: break;
      case ResponseKind::nodata:
      case ResponseKind::nxdomain:
        if (!negative()) return out_;
        break;
      case ResponseKind::referral:
        if (!referral()) return out_;
        break;
    }
    out_.verdict = outcome_.verdict;
    return out_;
  }

 private:
  ResponseValidation finish_all(const Verdict& v) {
    out_.verdict = v;
    std::fill(out_.answer_states.begin(), out_.answer_states.end(), v.state);
    std::fill(out_.authority_states.begin(), out_.authority_states.end(), v.state);
    return out_;
  }

  bool needs(const wire::Name& zone) {
    out_.verdict = Verdict::indeterminate(fmt::format("keys of {} not yet known", zone.to_text()));
    out_.needs_keys = zone;
    return false;
  }

  // Verifies one RRset; false stops the validation (keys needed or budget
  // spent: out_ is already set).
  bool check(const wire::RRset& set, Checked& c, bool in_answer) {
    c.signer = signer_of(set);
    if (!c.signer) {
      if (in_answer && dname_source(set, r_.answer)) return true;  // judged with its DNAME
      // Referral NS sets (and glue) are never signed.
      if (!in_answer && set.type == RRType::NS) return true;
      // Unsigned data below the zone asked may come from an unsigned child
      // served by the same servers (no referral was seen): each name
      // between the zone and the owner must be known to be no zone cut, or
      // a secure one, before the missing signature makes the data bogus
      // (RFC 4035 §5.2: the chain is followed by DS, whatever cut the
      // resolver happened to ask).
      if (set.owner.is_subdomain_of(r_.zone) && !(set.owner == r_.zone)) {
        const ZoneTrust* zone_trust = zones_.lookup(r_.zone);
        if (!zone_trust) return needs(r_.zone);
        for (size_t labels = r_.zone.label_count() + 1;
             zone_trust->verdict.is_secure() && labels <= set.owner.label_count(); ++labels) {
          const wire::Name between = set.owner.suffix(labels);
          const ZoneTrust* trust = zones_.lookup(between);
          if (!trust) return needs(between);
          if (trust->verdict.state != SecurityState::secure) {
            c.state = trust->verdict.state;
            outcome_.add(trust->verdict);
            return true;
          }
        }
      }
    }
    const wire::Name signer = c.signer.value_or(r_.zone);
    // The signer must be the zone holding the data: an ancestor of the
    // owner and, for data inside the zone the servers answered for, not
    // above that zone (a parent's key does not vouch for data below its
    // cut). Data outside it (a CNAME target the walker kept) is judged by
    // its own signer's keys.
    const bool signer_above_cut =
        set.owner.is_subdomain_of(r_.zone) && !signer.is_subdomain_of(r_.zone);
    if (!set.owner.is_subdomain_of(signer) || signer_above_cut) {
      c.state = SecurityState::bogus;
      outcome_.add(Verdict::bogus(wire::EdeCode::DnssecBogus,
                                  fmt::format("{} signed by {}, which is not its zone under {}",
                                              set.owner.to_text(), signer.to_text(),
                                              r_.zone.to_text())));
      return true;
    }
    const ZoneTrust* trust = zones_.lookup(signer);
    if (!trust) return needs(signer);
    if (trust->verdict.state != SecurityState::secure) {
      c.state = trust->verdict.state;
      outcome_.add(trust->verdict);
      return true;
    }
    if (!trust->keys) return needs(signer);
    c.verification = verify_rrset(set, *trust->keys, now_, budget_);
    if (c.verification.secure()) {
      c.state = SecurityState::secure;
      out_.ttl_limit = std::min(out_.ttl_limit, c.verification.ttl_limit);
      return true;
    }
    const Verdict v = c.verification.verdict();
    c.state = v.state;
    outcome_.add(v);
    if (c.verification.status == RrsetStatus::budget_exhausted) {
      out_.verdict = v;
      return false;
    }
    return true;
  }

  // Runs `fn(nsec_records, nsec3_prover_or_null)` over the verified denial
  // records of `zone` in the authority section.
  template <typename Fn>
  DenialProof prove(const wire::Name& zone, Fn fn) {
    std::vector<wire::RRset> nsec_sets;
    std::vector<wire::RRset> nsec3_sets;
    for (size_t i = 0; i < r_.authority.size(); ++i) {
      const wire::RRset& set = r_.authority[i];
      if (authority_checks_[i].state != SecurityState::secure || !authority_checks_[i].signer ||
          !(*authority_checks_[i].signer == zone)) {
        continue;
      }
      if (set.type == RRType::NSEC) nsec_sets.push_back(set);
      if (set.type == RRType::NSEC3) nsec3_sets.push_back(set);
    }
    const std::vector<NsecRecord> nsecs = collect_nsec(nsec_sets, zone);
    if (!nsecs.empty()) return fn(nsecs, static_cast<Nsec3Prover*>(nullptr));
    const std::vector<Nsec3Record> nsec3s = collect_nsec3(nsec3_sets, zone);
    if (!nsec3s.empty()) {
      Nsec3Prover prover(zone, nsec3s, budget_);
      return fn(nsecs, &prover);
    }
    return {DenialStatus::not_proven,
            fmt::format("no validated NSEC or NSEC3 records from {}", zone.to_text()), wire::Name()};
  }

  // The name a negative answer is about: the end of the CNAME chain.
  wire::Name chain_end() const {
    wire::Name name = r_.qname;
    for (size_t hops = 0; hops <= r_.answer.size(); ++hops) {
      bool moved = false;
      for (const wire::RRset& set : r_.answer) {
        if (set.type == RRType::CNAME && set.owner == name && set.rdatas.size() == 1) {
          if (auto target = wire::TargetNameView::parse(set.rdatas[0])) {
            name = target->target;
            moved = true;
            break;
          }
        }
      }
      if (!moved) break;
    }
    return name;
  }

  // The zone that must deny `name`: the SOA owner if one is given, else the
  // signer of the denial records, else the answering zone.
  wire::Name denial_zone(const wire::Name& name) const {
    for (size_t i = 0; i < r_.authority.size(); ++i) {
      const wire::RRset& set = r_.authority[i];
      if (set.type == RRType::SOA && name.is_subdomain_of(set.owner)) return set.owner;
    }
    for (size_t i = 0; i < r_.authority.size(); ++i) {
      const wire::RRset& set = r_.authority[i];
      if ((set.type == RRType::NSEC || set.type == RRType::NSEC3) && authority_checks_[i].signer &&
          name.is_subdomain_of(*authority_checks_[i].signer)) {
        return *authority_checks_[i].signer;
      }
    }
    return r_.zone;
  }

  bool negative() {
    const wire::Name name = chain_end();
    const wire::Name zone = denial_zone(name);
    const ZoneTrust* trust = zones_.lookup(zone);
    if (!trust) return needs(zone);
    if (trust->verdict.state != SecurityState::secure) {
      outcome_.add(trust->verdict);
      return true;
    }
    const DenialProof proof = prove(zone, [&](auto& nsec, auto* nsec3) {
      if (r_.kind == ResponseKind::nxdomain) {
        return nsec3 ? nsec3->prove_nxdomain(name) : nsec_prove_nxdomain(nsec, zone, name);
      }
      return nsec3 ? nsec3->prove_nodata(name, r_.qtype) : nsec_prove_nodata(nsec, zone, name, r_.qtype);
    });
    outcome_.add(proof.verdict());
    if (proof.status == DenialStatus::budget_exhausted) {
      out_.verdict = proof.verdict();
      return false;
    }
    if (r_.qtype == RRType::DS && name == r_.qname) out_.ds_denial_shows_cut = proof.delegation;
    return true;
  }

  bool referral() {
    const wire::RRset* ns = nullptr;
    for (const wire::RRset& set : r_.authority) {
      if (set.type == RRType::NS && set.owner.is_subdomain_of(r_.zone) && !(set.owner == r_.zone)) {
        ns = &set;
        break;
      }
    }
    if (!ns) {
      outcome_.add(Verdict::bogus(wire::EdeCode::DnssecBogus, "referral without a delegation NS set"));
      out_.delegation_state = SecurityState::bogus;
      return true;
    }
    out_.delegation = ns->owner;
    for (size_t i = 0; i < r_.authority.size(); ++i) {
      const wire::RRset& set = r_.authority[i];
      if (set.type != RRType::DS || !(set.owner == ns->owner)) continue;
      out_.delegation_state = authority_checks_[i].state;
      if (authority_checks_[i].state == SecurityState::secure) out_.delegation_ds = set.rdatas;
      return true;  // the DS set's own check already fed the outcome
    }
    const ZoneTrust* trust = zones_.lookup(r_.zone);
    if (!trust) return needs(r_.zone);
    if (trust->verdict.state != SecurityState::secure) {
      out_.delegation_state = trust->verdict.state;
      outcome_.add(trust->verdict);
      return true;
    }
    const DenialProof proof = prove(r_.zone, [&](auto& nsec, auto* nsec3) {
      return nsec3 ? nsec3->prove_nodata(ns->owner, RRType::DS)
                   : nsec_prove_nodata(nsec, r_.zone, ns->owner, RRType::DS);
    });
    if (proof.status == DenialStatus::proven && !proof.delegation) {
      // RFC 6840 §4.4: the denial must show the delegation (NS bit).
      out_.delegation_state = SecurityState::bogus;
      outcome_.add(Verdict::bogus(wire::EdeCode::NsecMissing,
                                  fmt::format("referral to {}: the denial of its DS shows no "
                                              "delegation there (no NS in the bitmap)",
                                              ns->owner.to_text())));
      return true;
    }
    switch (proof.status) {
      case DenialStatus::proven:
      case DenialStatus::opt_out:
      case DenialStatus::iterations_too_high:
        // The referral is as good as its proof; the child is unsigned.
        out_.delegation_state = SecurityState::insecure;
        outcome_.add(proof.verdict());
        return true;
      case DenialStatus::not_proven:
        out_.delegation_state = SecurityState::bogus;
        outcome_.add(proof.verdict());
        return true;
      case DenialStatus::budget_exhausted:
        out_.delegation_state = SecurityState::bogus;
        out_.verdict = proof.verdict();
        return false;
    }
    return true;
  }

  const ResponseToValidate& r_;
  const KnownZones& zones_;
  uint32_t now_;
  ValidationBudget& budget_;
  ResponseValidation out_;
  Outcome outcome_;
  std::vector<Checked> answer_checks_;
  std::vector<Checked> authority_checks_;
};

}  // namespace

ResponseValidation validate_response(const ResponseToValidate& response, const KnownZones& zones,
                                     const NegativeTrustAnchors* ntas, uint32_t now,
                                     ValidationBudget& budget) {
  ResponseValidator validator(response, zones, now, budget);
  return validator.run(ntas);
}

}  // namespace sextant::dnssec
