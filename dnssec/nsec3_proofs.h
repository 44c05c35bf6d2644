// Denial of existence with NSEC3 (RFC 5155 §8, RFC 9276, RFC 7129 §5).
//
// Only records that meet RFC 5155 §8.1-8.2 count: hash algorithm 1, flags 0
// or 1 (opt-out), a 20-octet next hash, an owner exactly one label below the
// zone whose label decodes (base32hex) to 20 octets. Before any hashing, a
// record with more iterations than the limit makes the whole answer
// insecure (EDE 27, RFC 9276 §3.2), and every hash computed is taken from the
// request's budget (CVE-2023-50868); a name's hash is computed once per
// parameter set.
//
// Closest-encloser proof (§8.3): walking up from qname, the first ancestor
// with a matching NSEC3 is the closest encloser; the next closer name (one
// label longer) must be covered. A closest encloser whose NSEC3 has DNAME,
// or NS without SOA (a delegation: the names below belong to another zone),
// proves nothing. Opt-out on the NSEC3 covering the next closer name means
// an unsigned delegation may exist there: the result is opt_out (insecure).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "dnssec/denial.h"
#include "dnssec/digests.h"
#include "dnssec/validation_budget.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::dnssec {

struct Nsec3Record {
  wire::Name owner;
  Nsec3Hash owner_hash{};
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::vector<uint8_t> salt;
  Nsec3Hash next_hash{};
  std::vector<uint8_t> type_bitmap;

  bool opt_out() const noexcept { return (flags & 1) != 0; }
  bool has_type(wire::RRType type) const noexcept;
  bool matches(const Nsec3Hash& hash) const noexcept { return hash == owner_hash; }
  // owner_hash < hash < next_hash, with wrap-around for the last record.
  bool covers(const Nsec3Hash& hash) const noexcept;
};

// Reads and filters the NSEC3 records of `zone` among `rrsets` (§8.1-8.2).
std::vector<Nsec3Record> collect_nsec3(std::span<const wire::RRset> rrsets, const wire::Name& zone);

class Nsec3Prover {
 public:
  // Keeps references to `records` and `budget`: both must outlive the prover.
  Nsec3Prover(const wire::Name& zone, std::span<const Nsec3Record> records,
              ValidationBudget& budget);

  // qname does not exist: closest encloser proven, next closer covered,
  // wildcard at the closest encloser covered (§8.4).
  DenialProof prove_nxdomain(const wire::Name& qname);
  // qname exists without qtype (§8.5), the DS case including opt-out
  // (§8.6: also the "no DS at this delegation" proof of an insecure
  // referral), and wildcard NODATA (§8.7).
  DenialProof prove_nodata(const wire::Name& qname, wire::RRType qtype);
  // An answer expanded from a wildcard with RRSIG labels `rrsig_labels`:
  // the next closer name must be covered (§8.8).
  DenialProof prove_wildcard_answer(const wire::Name& qname, uint8_t rrsig_labels);

 private:
  struct Closest {
    DenialProof failure;  // status != proven when no proof
    wire::Name encloser;
    wire::Name next_closer;
    const Nsec3Record* next_closer_cover = nullptr;
  };

  std::optional<DenialProof> precheck(const wire::Name& qname);
  // Hashes `name` with the parameters of `params_of` (cached). nullopt when
  // the budget is spent (then budget_.exhausted() is set).
  std::optional<Nsec3Hash> hash(const wire::Name& name, const Nsec3Record& params_of);
  // First record (of any parameter set) matching / covering `name`.
  // `out_of_budget` is set when hashing stopped for lack of budget.
  const Nsec3Record* find_match(const wire::Name& name, bool& out_of_budget);
  const Nsec3Record* find_cover(const wire::Name& name, bool& out_of_budget);
  Closest closest_encloser(const wire::Name& qname);
  DenialProof budget_failure() const;

  wire::Name zone_;
  std::span<const Nsec3Record> records_;
  ValidationBudget& budget_;
  // (lower-cased name key, salt, iterations) -> hash
  std::map<std::pair<std::vector<uint8_t>, std::pair<std::vector<uint8_t>, uint16_t>>, Nsec3Hash>
      cache_;
};

}  // namespace sextant::dnssec
