#include "dnssec/nsec3_proofs.h"

#include <fmt/format.h>

#include <algorithm>

#include "dnssec/record_fields.h"
#include "wire/base_encoding.h"

namespace sextant::dnssec {

using wire::RRType;

namespace {

DenialProof fail(std::string reason) {
  return {DenialStatus::not_proven, std::move(reason), std::nullopt};
}

std::optional<wire::Name> wildcard_of(const wire::Name& name) {
  try {
    return name.prepend("*");
  } catch (const wire::TextError&) {
    return std::nullopt;
  }
}

}  // namespace

bool Nsec3Record::has_type(RRType type) const noexcept { return bitmap_has_type(type_bitmap, type); }

bool Nsec3Record::covers(const Nsec3Hash& hash) const noexcept {
  if (owner_hash < next_hash) return owner_hash < hash && hash < next_hash;
  // The last record of the chain wraps to the first; a chain of one record
  // (owner == next) covers every other hash.
  return owner_hash < hash || hash < next_hash;
}

std::vector<Nsec3Record> collect_nsec3(std::span<const wire::RRset> rrsets, const wire::Name& zone) {
  std::vector<Nsec3Record> out;
  for (const wire::RRset& set : rrsets) {
    if (set.type != RRType::NSEC3) continue;
    // Owner exactly one label below the zone.
    if (set.owner.label_count() != zone.label_count() + 1 || !(set.owner.parent() == zone)) continue;
    std::vector<uint8_t> owner_hash;
    if (wire::base32hex_decode(set.owner.label(0), owner_hash) != wire::DecodeError::ok ||
        owner_hash.size() != kNsec3HashSize) {
      continue;
    }
    for (const wire::Rdata& rdata : set.rdatas) {
      Nsec3Fields fields;
      if (!read_nsec3(rdata, fields)) continue;
      if (fields.hash_algorithm != kNsec3HashSha1 || fields.flags > 1 ||
          fields.next_hash.size() != kNsec3HashSize) {
        continue;
      }
      Nsec3Record record;
      record.owner = set.owner;
      std::copy(owner_hash.begin(), owner_hash.end(), record.owner_hash.begin());
      record.flags = fields.flags;
      record.iterations = fields.iterations;
      record.salt.assign(fields.salt.begin(), fields.salt.end());
      std::copy(fields.next_hash.begin(), fields.next_hash.end(), record.next_hash.begin());
      record.type_bitmap.assign(fields.type_bitmap.begin(), fields.type_bitmap.end());
      out.push_back(std::move(record));
    }
  }
  return out;
}

Nsec3Prover::Nsec3Prover(const wire::Name& zone, std::span<const Nsec3Record> records,
                         ValidationBudget& budget)
    : zone_(zone), records_(records), budget_(budget) {}

DenialProof Nsec3Prover::budget_failure() const {
  return {DenialStatus::budget_exhausted,
          fmt::format("NSEC3 proof in {}: {}", zone_.to_text(), to_string(BudgetError::nsec3_hashes)),
          std::nullopt};
}

std::optional<DenialProof> Nsec3Prover::precheck(const wire::Name& qname) {
  if (!qname.is_subdomain_of(zone_)) {
    return fail(fmt::format("{} is outside {}", qname.to_text(), zone_.to_text()));
  }
  if (records_.empty()) return fail(fmt::format("no usable NSEC3 records in {}", zone_.to_text()));
  const uint16_t limit = budget_.limits().max_nsec3_iterations;
  for (const Nsec3Record& r : records_) {
    if (r.iterations > limit) {
      return DenialProof{DenialStatus::iterations_too_high,
                         fmt::format("NSEC3 in {} uses {} iterations (limit {})", zone_.to_text(),
                                     r.iterations, limit),
                         std::nullopt};
    }
  }
  return std::nullopt;
}

std::optional<Nsec3Hash> Nsec3Prover::hash(const wire::Name& name, const Nsec3Record& params_of) {
  const wire::Name lower = name.lowercased();
  auto key = std::make_pair(std::vector<uint8_t>(lower.wire().begin(), lower.wire().end()),
                            std::make_pair(params_of.salt, params_of.iterations));
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (!budget_.take_nsec3_hash()) return std::nullopt;
  const auto h = nsec3_hash(lower, params_of.salt, params_of.iterations);
  if (!h) return std::nullopt;
  cache_.emplace(std::move(key), *h);
  return h;
}

const Nsec3Record* Nsec3Prover::find_match(const wire::Name& name, bool& out_of_budget) {
  for (const Nsec3Record& r : records_) {
    const auto h = hash(name, r);
    if (!h) {
      out_of_budget = true;
      return nullptr;
    }
    if (r.matches(*h)) return &r;
  }
  return nullptr;
}

const Nsec3Record* Nsec3Prover::find_cover(const wire::Name& name, bool& out_of_budget) {
  for (const Nsec3Record& r : records_) {
    const auto h = hash(name, r);
    if (!h) {
      out_of_budget = true;
      return nullptr;
    }
    if (r.covers(*h)) return &r;
  }
  return nullptr;
}

Nsec3Prover::Closest Nsec3Prover::closest_encloser(const wire::Name& qname) {
  Closest c;
  c.failure = {DenialStatus::proven, {}, std::nullopt};
  wire::Name candidate = qname;
  wire::Name below;  // the candidate one label longer (toward qname)
  bool out_of_budget = false;
  while (true) {
    const Nsec3Record* match = find_match(candidate, out_of_budget);
    if (out_of_budget) {
      c.failure = budget_failure();
      return c;
    }
    if (match) {
      if (match->has_type(RRType::DNAME)) {
        c.failure = fail(fmt::format("closest encloser {} has a DNAME", candidate.to_text()));
        return c;
      }
      if (match->has_type(RRType::NS) && !match->has_type(RRType::SOA) && !(candidate == qname)) {
        c.failure = fail(fmt::format("closest encloser {} is a delegation: {} is below the cut",
                                     candidate.to_text(), qname.to_text()));
        return c;
      }
      c.encloser = candidate;
      break;
    }
    if (candidate.label_count() <= zone_.label_count()) {
      c.failure = fail(fmt::format("no NSEC3 matches any ancestor of {} in {}", qname.to_text(),
                                   zone_.to_text()));
      return c;
    }
    below = candidate;
    candidate = candidate.parent();
  }
  if (c.encloser == qname) return c;  // the name exists; callers decide
  c.next_closer = below;
  c.next_closer_cover = find_cover(below, out_of_budget);
  if (out_of_budget) {
    c.failure = budget_failure();
  } else if (!c.next_closer_cover) {
    c.failure = fail(fmt::format("no NSEC3 covers the next closer name {}", below.to_text()));
  }
  return c;
}

DenialProof Nsec3Prover::prove_nxdomain(const wire::Name& qname) {
  if (auto pre = precheck(qname)) return *pre;
  Closest c = closest_encloser(qname);
  if (c.failure.status != DenialStatus::proven) return c.failure;
  if (c.encloser == qname) return fail(fmt::format("an NSEC3 shows that {} exists", qname.to_text()));
  if (const auto wildcard = wildcard_of(c.encloser)) {
    bool out_of_budget = false;
    const Nsec3Record* wild_match = find_match(*wildcard, out_of_budget);
    const Nsec3Record* wild_cover =
        wild_match || out_of_budget ? nullptr : find_cover(*wildcard, out_of_budget);
    if (out_of_budget) return budget_failure();
    if (wild_match) {
      return fail(fmt::format("wildcard {} exists: {} is not NXDOMAIN", wildcard->to_text(),
                              qname.to_text()));
    }
    if (!wild_cover) return fail(fmt::format("no NSEC3 covers the wildcard {}", wildcard->to_text()));
  }
  if (c.next_closer_cover->opt_out()) {
    return {DenialStatus::opt_out,
            fmt::format("{}: next closer {} lies in an opt-out span", qname.to_text(),
                        c.next_closer.to_text()),
            c.encloser};
  }
  return {DenialStatus::proven, fmt::format("{} does not exist (closest encloser {})",
                                            qname.to_text(), c.encloser.to_text()),
          c.encloser};
}

DenialProof Nsec3Prover::prove_nodata(const wire::Name& qname, RRType qtype) {
  if (auto pre = precheck(qname)) return *pre;
  const std::string q = fmt::format("{} {}", qname.to_text(), wire::to_string(qtype));
  if (qtype == RRType::DS && qname == zone_ && !zone_.is_root()) {
    return fail(fmt::format("{}: a DS can only be denied by the parent zone", q));
  }
  bool out_of_budget = false;
  const Nsec3Record* match = find_match(qname, out_of_budget);
  if (out_of_budget) return budget_failure();
  if (match) {
    if (match->has_type(qtype)) return fail(fmt::format("{}: the NSEC3 lists the type", q));
    if (qtype != RRType::CNAME && match->has_type(RRType::CNAME)) {
      return fail(fmt::format("{}: the name has a CNAME", q));
    }
    const bool delegation = match->has_type(RRType::NS) && !match->has_type(RRType::SOA);
    if (qtype == RRType::DS) {
      if (match->has_type(RRType::SOA)) {
        return fail(fmt::format("{}: the NSEC3 is from the child zone's apex", q));
      }
    } else if (delegation) {
      return fail(fmt::format("{}: the NSEC3 is the parent's side of a delegation", q));
    }
    DenialProof proof{DenialStatus::proven, fmt::format("{}: the NSEC3 at the name lacks the type", q),
                      std::nullopt};
    proof.delegation = qtype == RRType::DS && delegation;
    return proof;
  }
  Closest c = closest_encloser(qname);
  if (c.failure.status != DenialStatus::proven) return c.failure;
  if (c.encloser == qname) return fail(fmt::format("{}: inconsistent NSEC3 match", q));
  if (qtype == RRType::DS) {
    // §8.6: no DS and no NSEC3 for the delegation: only an opt-out span may
    // hide it, and then the delegation is insecure.
    if (c.next_closer_cover->opt_out()) {
      DenialProof proof{DenialStatus::opt_out,
                        fmt::format("{}: unsigned delegation inside an opt-out span", q), c.encloser};
      proof.delegation = true;
      return proof;
    }
    return fail(fmt::format("{}: no NSEC3 matches and the cover is not opt-out", q));
  }
  // §8.7: wildcard NODATA.
  const auto wildcard = wildcard_of(c.encloser);
  const Nsec3Record* wild = wildcard ? find_match(*wildcard, out_of_budget) : nullptr;
  if (out_of_budget) return budget_failure();
  if (!wild) return fail(fmt::format("{}: the name does not exist and no wildcard NSEC3 matches", q));
  if (wild->has_type(qtype) || (qtype != RRType::CNAME && wild->has_type(RRType::CNAME))) {
    return fail(fmt::format("{}: the wildcard {} has the type", q, wildcard->to_text()));
  }
  if (wild->has_type(RRType::NS) && !wild->has_type(RRType::SOA)) {
    return fail(fmt::format("{}: the wildcard NSEC3 is a delegation", q));
  }
  if (c.next_closer_cover->opt_out()) {
    return {DenialStatus::opt_out, fmt::format("{}: next closer in an opt-out span", q), c.encloser};
  }
  return {DenialStatus::proven, fmt::format("{}: wildcard NODATA at {}", q, wildcard->to_text()),
          c.encloser};
}

DenialProof Nsec3Prover::prove_wildcard_answer(const wire::Name& qname, uint8_t rrsig_labels) {
  if (auto pre = precheck(qname)) return *pre;
  if (rrsig_labels >= qname.label_count() || rrsig_labels < zone_.label_count()) {
    return fail(fmt::format("{}: labels {} is not a wildcard expansion in {}", qname.to_text(),
                            rrsig_labels, zone_.to_text()));
  }
  const wire::Name next_closer = qname.suffix(size_t{rrsig_labels} + 1);
  bool out_of_budget = false;
  const Nsec3Record* cover = find_cover(next_closer, out_of_budget);
  if (out_of_budget) return budget_failure();
  if (!cover) return fail(fmt::format("no NSEC3 covers the next closer name {}", next_closer.to_text()));
  const wire::Name encloser = qname.suffix(rrsig_labels);
  if (cover->opt_out()) {
    return {DenialStatus::opt_out,
            fmt::format("{}: next closer {} in an opt-out span", qname.to_text(), next_closer.to_text()),
            encloser};
  }
  return {DenialStatus::proven,
          fmt::format("{}: next closer {} does not exist", qname.to_text(), next_closer.to_text()),
          encloser};
}

}  // namespace sextant::dnssec
