#include "dnssec/aggressive_nsec.h"

#include <algorithm>
#include <optional>

#include "dnssec/nsec3_proofs.h"
#include "dnssec/nsec_proofs.h"

namespace sextant::dnssec {

namespace {

std::optional<wire::Name> wildcard_of(const wire::Name& name) {
  try {
    return name.prepend("*");
  } catch (const wire::TextError&) {
    return std::nullopt;
  }
}

void add_used(AggressiveAnswer& answer, size_t index, uint32_t ttl) {
  if (std::find(answer.used.begin(), answer.used.end(), index) != answer.used.end()) return;
  answer.ttl = answer.used.empty() ? ttl : std::min(answer.ttl, ttl);
  answer.used.push_back(index);
}

// The names a proof about qname rests on: qname itself, the closest
// encloser, the next closer name and the wildcard at the closest encloser.
std::vector<wire::Name> proof_names(const wire::Name& qname,
                                    const std::optional<wire::Name>& closest_encloser) {
  std::vector<wire::Name> names = {qname};
  if (closest_encloser && closest_encloser->label_count() < qname.label_count() &&
      qname.is_subdomain_of(*closest_encloser)) {
    names.push_back(*closest_encloser);
    names.push_back(qname.suffix(closest_encloser->label_count() + 1));
    if (auto wildcard = wildcard_of(*closest_encloser)) names.push_back(*wildcard);
  }
  return names;
}

}  // namespace

const char* to_string(AggressiveOutcome o) noexcept {
  switch (o) {
    case AggressiveOutcome::none: return "none";
    case AggressiveOutcome::nxdomain: return "NXDOMAIN";
    case AggressiveOutcome::nodata: return "NODATA";
  }
  return "unknown";
}

AggressiveAnswer synthesize_from_nsec(std::span<const wire::RRset> nsec_rrsets,
                                      const wire::Name& zone, const wire::Name& qname,
                                      wire::RRType qtype) {
  std::vector<NsecRecord> records;
  std::vector<size_t> origin;
  for (size_t i = 0; i < nsec_rrsets.size(); ++i) {
    for (NsecRecord& r : collect_nsec(nsec_rrsets.subspan(i, 1), zone)) {
      records.push_back(std::move(r));
      origin.push_back(i);
    }
  }
  AggressiveAnswer answer;
  if (records.empty()) return answer;
  DenialProof proof = nsec_prove_nxdomain(records, zone, qname);
  if (proof.proven()) {
    answer.outcome = AggressiveOutcome::nxdomain;
  } else {
    proof = nsec_prove_nodata(records, zone, qname, qtype);
    if (!proof.proven()) return answer;
    answer.outcome = AggressiveOutcome::nodata;
  }
  for (const wire::Name& name : proof_names(qname, proof.closest_encloser)) {
    for (size_t j = 0; j < records.size(); ++j) {
      if (records[j].owner == name || records[j].covers(name)) {
        add_used(answer, origin[j], nsec_rrsets[origin[j]].ttl);
      }
    }
  }
  return answer;
}

AggressiveAnswer synthesize_from_nsec3(std::span<const wire::RRset> nsec3_rrsets,
                                       const wire::Name& zone, const wire::Name& qname,
                                       wire::RRType qtype, ValidationBudget& budget) {
  std::vector<Nsec3Record> records;
  std::vector<size_t> origin;
  for (size_t i = 0; i < nsec3_rrsets.size(); ++i) {
    for (Nsec3Record& r : collect_nsec3(nsec3_rrsets.subspan(i, 1), zone)) {
      // Opt-out spans may hide unsigned delegations: never synthesise from them.
      if (r.opt_out()) continue;
      records.push_back(std::move(r));
      origin.push_back(i);
    }
  }
  AggressiveAnswer answer;
  if (records.empty()) return answer;
  Nsec3Prover prover(zone, records, budget);
  DenialProof proof = prover.prove_nxdomain(qname);
  if (proof.proven()) {
    answer.outcome = AggressiveOutcome::nxdomain;
  } else if (proof.status == DenialStatus::not_proven) {
    proof = prover.prove_nodata(qname, qtype);
    if (!proof.proven()) return answer;
    answer.outcome = AggressiveOutcome::nodata;
  } else {
    return answer;  // iterations above the limit or budget spent: ask upstream
  }
  for (const wire::Name& name : proof_names(qname, proof.closest_encloser)) {
    std::optional<Nsec3Hash> h;
    const Nsec3Record* hashed_with = nullptr;  // records of a zone share parameters
    for (size_t j = 0; j < records.size(); ++j) {
      const Nsec3Record& r = records[j];
      if (!hashed_with || hashed_with->salt != r.salt || hashed_with->iterations != r.iterations) {
        if (!budget.take_nsec3_hash()) return AggressiveAnswer{};
        h = nsec3_hash(name, r.salt, r.iterations);
        hashed_with = &r;
      }
      if (h && (r.matches(*h) || r.covers(*h))) add_used(answer, origin[j], nsec3_rrsets[origin[j]].ttl);
    }
  }
  return answer;
}

}  // namespace sextant::dnssec
