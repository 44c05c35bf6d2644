// Thin adapters from wire/rdata_views.h (the one parser of these layouts)
// to the field structs dnssec/ works with.
#include "dnssec/record_fields.h"

#include "wire/rdata_views.h"

namespace sextant::dnssec {

bool read_rrsig(std::span<const uint8_t> rdata, RrsigFields& out) {
  const auto view = wire::RrsigView::parse(rdata);
  if (!view || view->signature.empty()) return false;  // an empty signature verifies nothing
  out.type_covered = view->type_covered;
  out.algorithm = view->algorithm;
  out.labels = view->labels;
  out.original_ttl = view->original_ttl;
  out.expiration = view->expiration;
  out.inception = view->inception;
  out.key_tag = view->key_tag;
  out.signer = view->signer;
  out.signature_offset = view->signature_offset;
  out.signature = view->signature;
  return true;
}

bool read_dnskey(std::span<const uint8_t> rdata, DnskeyFields& out) {
  const auto view = wire::DnskeyView::parse(rdata);
  if (!view || view->public_key.empty()) return false;
  out.flags = view->flags;
  out.protocol = view->protocol;
  out.algorithm = view->algorithm;
  out.public_key = view->public_key;
  return true;
}

bool read_ds(std::span<const uint8_t> rdata, DsFields& out) {
  const auto view = wire::DsView::parse(rdata);
  if (!view || view->digest.empty()) return false;
  out.key_tag = view->key_tag;
  out.algorithm = view->algorithm;
  out.digest_type = view->digest_type;
  out.digest = view->digest;
  return true;
}

bool read_nsec(std::span<const uint8_t> rdata, NsecFields& out) {
  const auto view = wire::NsecView::parse(rdata);
  if (!view) return false;
  out.next = view->next;
  out.type_bitmap = view->types.wire();
  return true;
}

bool read_nsec3(std::span<const uint8_t> rdata, Nsec3Fields& out) {
  const auto view = wire::Nsec3View::parse(rdata);
  if (!view) return false;
  out.hash_algorithm = view->hash_algorithm;
  out.flags = view->flags;
  out.iterations = view->iterations;
  out.salt = view->salt;
  out.next_hash = view->next_hashed_owner;
  out.type_bitmap = view->types.wire();
  return true;
}

bool bitmap_has_type(std::span<const uint8_t> bitmap, wire::RRType type) noexcept {
  const auto view = wire::TypeBitmapView::parse(bitmap);
  return view && view->has_type(type);
}

}  // namespace sextant::dnssec
