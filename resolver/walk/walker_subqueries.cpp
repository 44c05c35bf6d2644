// Sub-queries of a plan and where a walk starts: addresses of name servers
// that came without glue (with cycle detection), a sub-query's result
// handed back to the query that asked for it, root priming (RFC 8109), and
// the closest known zone cut from the delegation cache.
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>

#include "resolver/walk/walker_internal.h"

namespace sextant::resolver {

using std::chrono::duration_cast;
using wire::Name;
using wire::Rcode;
using wire::RRset;
using wire::RRType;

using walker_detail::addresses_from;
using walker_detail::kMaxAddressesPerName;
using walker_detail::kMaxNameServersPerCut;

std::vector<ServerAddress> walker_detail::addresses_from(const std::vector<RRset>& sets,
                                                        const Name& owner, uint16_t port) {
  std::vector<ServerAddress> out;
  for (const auto& set : sets) {
    if (!(set.owner == owner) || (set.type != RRType::A && set.type != RRType::AAAA)) continue;
    for (const auto& rdata : set.rdatas) {
      auto address = ServerAddress::from_rdata(rdata, port);
      if (!address || (address->is_ipv6() != (set.type == RRType::AAAA))) continue;
      if (std::find(out.begin(), out.end(), *address) == out.end() &&
          out.size() < kMaxAddressesPerName) {
        out.push_back(*address);
      }
    }
  }
  return out;
}

bool Walker::start_glueless_lookups(Resolution& r, SubQuery& q) {
  for (const auto& ns : q.cut.servers) {
    if (ns.lookup == NameServerEntry::Lookup::running) return false;  // wait for it first
  }
  // NXNSAttack (CVE-2020-12662): a referral naming many NS names without
  // glue must not make us query each of them (in a zone its author wants
  // flooded). Per cut and per client question, the rest stay unresolved.
  if (q.cut.glueless_started >= options_.limits.max_glueless_per_cut ||
      r.glueless_started >= options_.limits.max_glueless_per_question) {
    for (auto& ns : q.cut.servers) {
      if (ns.lookup != NameServerEntry::Lookup::not_started) continue;
      ns.lookup = NameServerEntry::Lookup::failed;
      ++stats_.glueless_limited;
    }
    return false;
  }
  // A query up the chain is already looking for an address of this very
  // zone's servers, and it is what led here: resolving the zone's NS names
  // again from this query would go round the cycle (ns.a.example needs
  // b.example, whose server ns.b.example needs a.example) until the budget
  // runs out. Fail this branch now, so that the ancestor tries its other
  // name servers.
  for (std::optional<uint32_t> up = q.parent; up; up = r.queries[*up]->parent) {
    const ZoneCut& theirs = r.queries[*up]->cut;
    const bool resolving_servers =
        std::any_of(theirs.servers.begin(), theirs.servers.end(), [](const NameServerEntry& ns) {
          return ns.lookup == NameServerEntry::Lookup::running;
        });
    if (resolving_servers && theirs.zone == q.cut.zone) {
      for (auto& ns : q.cut.servers) {
        if (ns.lookup == NameServerEntry::Lookup::not_started) ns.lookup = NameServerEntry::Lookup::failed;
      }
      if (r.trace) {
        trace_line(r, &q, fmt::format("glueless cycle: q{} is already resolving the servers of {}; "
                                      "this branch gives up so that it tries its other servers",
                                      *up, q.cut.zone.to_text()));
      }
      return false;
    }
  }
  std::vector<size_t> open;
  for (size_t i = 0; i < q.cut.servers.size(); ++i) {
    if (q.cut.servers[i].lookup == NameServerEntry::Lookup::not_started) open.push_back(i);
  }
  while (!open.empty()) {
    size_t pick = random_->uniform(static_cast<uint32_t>(open.size()));
    NameServerEntry& ns = q.cut.servers[open[pick]];
    open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));

    // A query already resolving this name up the chain means a cycle
    // (a.example's NS in b.example, b.example's NS in a.example).
    bool cycle = false;
    for (std::optional<uint32_t> up = q.index; up; up = r.queries[*up]->parent) {
      const SubQuery& ancestor = *r.queries[*up];
      if (ancestor.kind == QueryKind::ns_address && ancestor.question.name == ns.name) cycle = true;
    }
    if (cycle || q.depth + 1 > options_.limits.max_subquery_depth) {
      ns.lookup = NameServerEntry::Lookup::failed;
      if (r.trace) {
        trace_line(r, &q, fmt::format("not resolving {}: {}", ns.name.to_text(),
                                      cycle ? "a query up the chain is resolving it (glueless cycle)"
                                            : "sub-query depth limit"));
      }
      continue;
    }
    if (r.trace) {
      trace_line(r, &q, fmt::format("no address to ask for {}: resolving the name server {} "
                                    "(it came without glue)",
                                    q.cut.zone.to_text(), ns.name.to_text()));
    }
    ns.lookup = NameServerEntry::Lookup::running;
    ++q.cut.glueless_started;
    ++r.glueless_started;
    std::vector<RRType> types;
    if (options_.use_ipv4) types.push_back(RRType::A);
    if (options_.use_ipv6) types.push_back(RRType::AAAA);
    for (RRType type : types) {
      SubQuery& child = add_query(r, QueryKind::ns_address, q.index,
                                  wire::Question{ns.name, type, wire::RRClass::IN});
      ++ns.lookups_running;
      ++q.children_running;
      if (type == RRType::AAAA && types.size() == 2) {
        // Walked at once, A and AAAA asked every zone on the way twice
        // (issue 17); the AAAA lookup waits (parked in `wait`) for the A
        // lookup, then starts at the cut it cached. The query does not wait
        // for it: it sends as soon as an address is known.
        child.state = QueryState::wait;
        child.after_sibling = true;
        continue;
      }
      // Started from a fresh loop turn, so that a child failing at once
      // cannot re-enter this query's step().
      QueryRef ref{r.id, child.index};
      defer([this, ref] {
        Resolution* plan = find_resolution(ref.resolution);
        if (!plan || plan->finished) return;
        step(*plan, *plan->queries[ref.query]);
      });
    }
    return !types.empty();
  }
  return false;
}

void Walker::child_finished(Resolution& r, SubQuery& child) {
  if (!child.parent) return;
  SubQuery& parent = *r.queries[*child.parent];
  if (!child.early && parent.children_running > 0) --parent.children_running;
  parent.tally.timeouts += child.tally.timeouts;
  parent.tally.network_errors += child.tally.network_errors;
  parent.tally.local_errors += child.tally.local_errors;
  if (parent.state == QueryState::finished || parent.reported) return;
  if (child.kind == QueryKind::ds || child.kind == QueryKind::dnskey) {
    if (r.validation) {
      for (auto& fetch : r.validation->fetches) {
        if (fetch.query == child.index) fetch.done = true;
      }
    }
    if (parent.state == QueryState::wait_keys) {
      parent.state = QueryState::validate;
      step(r, parent);
    }
    return;
  }
  if (child.kind == QueryKind::ns_address) {
    for (auto& ns : parent.cut.servers) {
      if (!(ns.name == child.question.name) || ns.lookup != NameServerEntry::Lookup::running) {
        continue;
      }
      if (ns.lookups_running > 0) --ns.lookups_running;
      if (child.result.rcode == Rcode::NOERROR) {
        for (const auto& address :
             addresses_from(child.result.answer, child.target, options_.upstream_port)) {
          if (std::find(ns.addresses.begin(), ns.addresses.end(), address) ==
              ns.addresses.end()) {
            ns.addresses.push_back(address);
          }
        }
      }
      if (ns.lookups_running == 0) {
        ns.lookup = ns.addresses.empty() ? NameServerEntry::Lookup::failed
                                         : NameServerEntry::Lookup::done;
        remember_addresses(parent.cut.zone, ns);
      } else if (!ns.addresses.empty()) {
        // The A lookup's addresses, for the delegation cache at once: a
        // DS/DNSKEY fetch started while the AAAA lookup still runs must find
        // them there (else it would take the parked lookup for a glueless
        // cycle and fail).
        remember_addresses(parent.cut.zone, ns);
      }
    }
  }
  if (child.kind == QueryKind::ns_address && child.question.type == RRType::A) start_parked_sibling(r, child);
  if (parent.state == QueryState::wait && !has_live_attempts(parent)) {
    parent.state = QueryState::send;
    step(r, parent);
  }
}

void Walker::start_parked_sibling(Resolution& r, const SubQuery& child) {
  for (auto& other : r.queries) {
    if (!other->after_sibling || other->parent != child.parent || other->state != QueryState::wait ||
        other->reported || !(other->question.name == child.question.name)) {
      continue;
    }
    other->after_sibling = false;
    other->state = QueryState::init;
    QueryRef ref{r.id, other->index};
    defer([this, ref] {
      Resolution* plan = find_resolution(ref.resolution);
      if (!plan || plan->finished) return;
      step(*plan, *plan->queries[ref.query]);
    });
  }
}

// ---------------------------------------------------------------------------
// Root priming (RFC 8109)

bool Walker::priming_needed() const {
  if (root_primed()) return false;
  return timers_.now() >= next_priming_;
}

void Walker::start_priming() {
  priming_running_ = true;
  ++stats_.primings;
  wire::Question question{Name(), RRType::NS, wire::RRClass::IN};
  ResolutionKey key{Name(), RRType::NS, wire::RRClass::IN, false, true};
  Resolution& r = start_resolution(key, question, ResolveOptions{}, QueryKind::priming);
  // From a fresh loop turn: the query that asked for priming is still on
  // the stack.
  uint64_t id = r.id;
  defer([this, id] {
    if (Resolution* plan = find_resolution(id); plan && !plan->finished) {
      step(*plan, *plan->queries[0]);
    }
  });
}

void Walker::priming_done(const SubQuery& q) {
  priming_running_ = false;
  const auto now = timers_.now();
  size_t addresses = 0;
  if (q.primed_root) {
    for (const auto& ns : q.primed_root->servers) addresses += ns.addresses.size();
  }
  if (addresses > 0) {
    primed_root_ = *q.primed_root;
    primed_root_->zone = Name();
    // At least a minute, so a zero TTL cannot make every query re-prime.
    uint32_t ttl = std::clamp<uint32_t>(q.primed_ttl, 60, options_.max_ttl);
    primed_until_ = now + std::chrono::seconds(ttl);
  } else {
    next_priming_ = now + duration_cast<TimerService::Clock::duration>(options_.priming_retry);
  }
  auto waiters = std::move(priming_waiters_);
  priming_waiters_.clear();
  defer([this, waiters = std::move(waiters)] {
    for (const auto& ref : waiters) {
      Resolution* r = find_resolution(ref.resolution);
      if (!r || r->finished) continue;
      SubQuery& waiting = *r->queries[ref.query];
      if (waiting.state != QueryState::wait_priming) continue;
      begin_name(waiting);
      step(*r, waiting);
    }
  });
}

ZoneCut Walker::root_cut() const {
  if (primed_root_) return *primed_root_;
  ZoneCut cut;
  for (const auto& hint : hints_.servers) {
    NameServerEntry ns;
    ns.name = hint.name;
    ns.addresses = hint.addresses;
    ns.lookup = ns.addresses.empty() ? NameServerEntry::Lookup::not_started
                                     : NameServerEntry::Lookup::done;
    cut.servers.push_back(std::move(ns));
  }
  return cut;
}

ZoneCut Walker::closest_cut(const Name& name, bool for_ds,
                            const std::optional<wire::Name>& past_forward) const {
  std::optional<cache::DelegationHit> hit;
  if (cache_) {
    hit = cache_->delegations().find_closest(name, wire::RRClass::IN, timers_.wall_seconds(),
                                             cache::StalePolicy::fresh_only, for_ds);
  }
  // Forward and stub zones come before the cache (walker_forward.cpp).
  if (auto configured = configured_cut(name, for_ds, hit ? &hit->delegation.zone : nullptr, past_forward)) {
    return std::move(*configured);
  }
  if (cache_) {
    // The root comes from priming, which this worker keeps itself.
    if (hit && !hit->delegation.zone.is_root()) {
      ZoneCut cut;
      cut.zone = hit->delegation.zone;
      cut.private_ok = private_allowed(cut.zone);
      for (const auto& server : hit->delegation.servers) {
        if (cut.servers.size() >= kMaxNameServersPerCut) break;
        NameServerEntry ns;
        ns.name = server.name;
        for (const auto& ip : server.addresses) {
          if (auto address = ServerAddress::from_rdata(ip.octets(), options_.upstream_port)) {
            if (ns.addresses.size() < kMaxAddressesPerName) ns.addresses.push_back(*address);
          }
        }
        if (!ns.addresses.empty()) {
          ns.lookup = NameServerEntry::Lookup::done;
        } else if (ns.name.is_subdomain_of(cut.zone)) {
          ns.lookup = NameServerEntry::Lookup::failed;
        }
        cut.servers.push_back(std::move(ns));
      }
      return cut;
    }
  }
  return root_cut();
}

}  // namespace sextant::resolver
