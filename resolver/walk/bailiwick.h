// Bailiwick rules: which records a server may tell us about.
//
// A server asked as an authority for zone Z is believed only about names in
// Z (the name equals Z or lies below it). Everything else it sends — an
// address for some unrelated name in the additional section, a CNAME
// target's data in another zone — is dropped, never returned or cached
// (the Kaminsky-style poisoning defence, RFC 5452 §6 and RFC 7766's advice
// on glue).
#pragma once

#include "wire/name.h"

namespace sextant::resolver {

// `name` is within the authority of a server for `zone`.
inline bool in_bailiwick(const wire::Name& name, const wire::Name& zone) noexcept {
  return name.is_subdomain_of(zone);
}

// A referral from the servers of `zone` to `child`, received for
// `asked_name`, leads downwards and towards the name: `child` lies strictly
// below `zone` and is `asked_name` or one of its ancestors. Anything else
// (upwards, sideways, to the same zone) is a lame or looping delegation.
inline bool is_downward_referral(const wire::Name& child, const wire::Name& zone,
                                 const wire::Name& asked_name) noexcept {
  return child.label_count() > zone.label_count() && child.is_subdomain_of(zone) &&
         asked_name.is_subdomain_of(child);
}

// Glue (an address for an NS name in a referral from `zone`) is accepted
// only for NS names in the bailiwick of the referring zone: the parent is
// authoritative for them, so their addresses are its data, not hearsay.
inline bool glue_allowed(const wire::Name& ns_name, const wire::Name& zone) noexcept {
  return in_bailiwick(ns_name, zone);
}

}  // namespace sextant::resolver
