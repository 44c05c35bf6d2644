// The whole policy of a running resolver: views, each with its local data,
// allowlist, blocklists, response policy zones and DNS64, built from the
// configuration by policy_builder.h, immutable once built, shared by every
// worker and replaced whole (a reload, an RPZ transfer): the daemon builds
// the next Policy aside, points every worker at it, then lets the old one go.
//
// Where the front pipeline applies it (DESIGN.md "Policy"):
//   ACL -> view selection -> local data -> allowlist -> blocklists -> RPZ
//   (client IP, QNAME) -> answer cache -> walker -> CNAME targets and RPZ
//   response IP -> DNS64
// The query stage runs before the answer cache, so a policy answer is
// never cached and a changed list needs no flush for the names it lists.
// The response stage rewrites what the walker found; a view that has one
// keeps its answers in the answer cache under its own tag (cache_tag), so
// one view's rewritten answer is never handed to another, and answers of
// views without one are shared (tag 0).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "resolver/policy/address_match.h"
#include "resolver/policy/dns64.h"
#include "resolver/policy/domain_lists.h"
#include "resolver/policy/local_data.h"
#include "resolver/policy/lookup_name.h"
#include "resolver/policy/policy_answer.h"
#include "resolver/policy/rpz_zone.h"

namespace sextant::resolver::policy {

// What selects a view: client subnets and/or the listener a query arrived
// on (address and port; a wildcard address matches every address of its
// family). Empty lists match everything; with both, both must match.
struct ViewSelector {
  std::vector<AddressPrefix> clients;
  std::vector<Address> listeners;
  bool selects(const Address& client, const Address& local) const noexcept;
};

// What the query stage decided, and what the response stage needs to know.
struct QueryDecision {
  PolicyAnswer answer;
  // An RPZ zone decided (PASSTHRU): the response stage skips RPZ.
  bool rpz_decided = false;
};

struct View {
  std::string name;  // "default" for the top level
  ViewSelector selector;
  uint16_t cache_tag = 0;  // 0: no response stage, answers shared; else odd
  std::shared_ptr<const LocalData> local_data;
  std::shared_ptr<const Allowlist> allowlist;
  std::vector<std::shared_ptr<const Blocklist>> blocklists;
  std::vector<std::shared_ptr<const RpzZone>> rpz;
  std::shared_ptr<const Dns64> dns64;
  bool cname_inspection = true;

  // True when anything at all applies (the pipeline skips a view without).
  bool active() const noexcept {
    return (local_data && !local_data->empty()) || allowlist || !blocklists.empty() || !rpz.empty() || dns64;
  }
  // True when answers from the walker may be rewritten in this view.
  bool has_response_stage() const noexcept;
  // The answer-cache tag of one client's answers: the view's, or the one
  // above it for clients DNS64 applies to (their AAAA answers differ, and
  // dns64.clients may take only some of a view's clients).
  uint16_t cache_tag_for(const Address& client, bool dnssec_ok, bool checking_disabled) const noexcept {
    if (cache_tag != 0 && dns64 && dns64->applies_to(client, dnssec_ok, checking_disabled))
      return static_cast<uint16_t>(cache_tag + 1);
    return cache_tag;
  }

  // Starts loading the table slots check_query() will read.
  void prefetch(const LookupName& qname) const noexcept;
  // Local data, allowlist, blocklists, RPZ client-IP and QNAME triggers,
  // into `d` (fresh). Nothing is copied when nothing matches: this runs
  // before every cache hit.
  void check_query(const LookupName& qname, wire::RRType qtype, const Address& client, QueryDecision& d) const;
  QueryDecision check_query(const LookupName& qname, wire::RRType qtype, const Address& client) const {
    QueryDecision d;
    check_query(qname, qtype, client, d);
    return d;
  }
  // CNAME targets (blocklists, RPZ QNAME triggers) and RPZ response-IP
  // triggers over the walker's answer; Disposition::pass keeps it.
  PolicyAnswer check_response(const LookupName& qname, wire::RRType qtype, std::span<const wire::RRset> answer,
                              bool rpz_decided) const;
};

class Policy {
 public:
  // An empty policy: one default view with nothing in it.
  Policy();
  explicit Policy(std::vector<View> views);  // the default view last

  // The first view whose selector matches; the default view otherwise.
  const View& select(const Address& client, const Address& local) const noexcept;
  // False when no view has anything to apply (the pipeline skips policy).
  bool active() const noexcept { return active_; }
  const std::vector<View>& views() const noexcept { return views_; }

  // A copy with every use of the policy zone named `name` replaced by
  // `zone` (an RPZ transfer); null if no view uses such a zone.
  std::shared_ptr<const Policy> with_rpz_zone(const std::string& name, std::shared_ptr<const RpzZone> zone) const;

 private:
  std::vector<View> views_;
  bool active_ = false;
};

// What to flush from the answer cache when `next` replaces `old`: per view
// tag (and the DNS64 tag above it), everything or the answers naming (as
// owner or CNAME target) a name at or below one of `names`.
struct AnswerFlush {
  uint16_t tag = 0;
  bool everything = false;
  std::shared_ptr<const NameTable> names;
  // True if `name` is at or below one of `names`.
  bool covers(const wire::Name& name) const;
};
std::vector<AnswerFlush> plan_answer_flush(const Policy& old, const Policy& next);

}  // namespace sextant::resolver::policy
