#include "resolver/policy/policy.h"

#include <algorithm>

namespace sextant::resolver::policy {

const char* to_string(PolicyKind k) noexcept {
  switch (k) {
    case PolicyKind::none: return "none";
    case PolicyKind::allowed: return "allowed";
    case PolicyKind::refused_by_allowlist: return "refused-by-allowlist";
    case PolicyKind::blocked: return "blocked";
    case PolicyKind::rpz: return "rpz";
    case PolicyKind::local_data: return "local-data";
    case PolicyKind::dns64: return "dns64";
  }
  return "?";
}

const char* to_string(RpzAction a) noexcept {
  switch (a) {
    case RpzAction::none: return "none";
    case RpzAction::nxdomain: return "nxdomain";
    case RpzAction::nodata: return "nodata";
    case RpzAction::passthru: return "passthru";
    case RpzAction::drop: return "drop";
    case RpzAction::tcp_only: return "tcp-only";
    case RpzAction::local_data: return "local-data";
    case RpzAction::refuse: return "refuse";
  }
  return "?";
}

bool ViewSelector::selects(const Address& client, const Address& local) const noexcept {
  if (!clients.empty() &&
      std::none_of(clients.begin(), clients.end(), [&](const AddressPrefix& p) { return p.contains(client); }))
    return false;
  if (listeners.empty()) return true;
  for (const Address& l : listeners) {
    if (l.port != local.port) continue;
    bool wildcard = std::all_of(l.bytes, l.bytes + 16, [](uint8_t b) { return b == 0; });
    if (wildcard ? l.family == local.family : l == local) return true;
  }
  return false;
}

bool View::has_response_stage() const noexcept {
  if (dns64) return true;
  if (cname_inspection && (!blocklists.empty() || !rpz.empty())) return true;
  return std::any_of(rpz.begin(), rpz.end(), [](const auto& z) { return z->has_response_triggers(); });
}

void View::prefetch(const LookupName& qname) const noexcept {
  if (local_data) local_data->prefetch(qname);
  if (allowlist) allowlist->names().prefetch(qname);
  for (const auto& b : blocklists) b->names().prefetch(qname);
  for (const auto& z : rpz) z->prefetch(qname);
}

void View::check_query(const LookupName& qname, wire::RRType qtype, const Address& client, QueryDecision& d) const {
  if (local_data) {
    d.answer = local_data->lookup(qname, qtype);
    if (d.answer.disposition != Disposition::pass) return;
  }
  if (allowlist && !allowlist->allows(qname, d.answer)) return;
  for (const auto& b : blocklists)
    if (b->check(qname, qtype, d.answer)) return;
  // A zone whose override is `disabled` is only logged: its first hit is
  // reported if nothing later decides.
  const RpzZone* logged_zone = nullptr;
  RpzHit logged_hit;
  for (const auto& z : rpz) {
    RpzHit hit;
    if (!z->match_client(client, hit) && !z->match_qname(qname, hit)) continue;
    if (z->options().override_action == RpzOverride::disabled) {
      if (!logged_zone) {
        logged_zone = z.get();
        logged_hit = hit;
      }
      continue;
    }
    d.rpz_decided = !z->apply(hit, qname, qtype, d.answer);  // PASSTHRU: later zones and response triggers are skipped
    return;
  }
  if (logged_zone) {
    PolicyAnswer a;
    logged_zone->apply(logged_hit, qname, qtype, a);
    d.answer.match = a.match;
  } else if (allowlist) {
    d.answer.match.kind = PolicyKind::allowed;
    d.answer.match.source = "allowlist";
  }
}

PolicyAnswer View::check_response(const LookupName& qname, wire::RRType qtype, std::span<const wire::RRset> answer,
                                  bool rpz_decided) const {
  PolicyAnswer out;
  // CNAME targets, in chain order.
  if (cname_inspection && (!blocklists.empty() || (!rpz.empty() && !rpz_decided))) {
    for (const auto& set : answer) {
      if (set.type != wire::RRType::CNAME || set.rdatas.empty()) continue;
      size_t pos = 0;
      wire::Name target;
      if (wire::Name::parse_uncompressed(set.rdatas.front(), pos, target) != wire::WireError::ok) continue;
      LookupName t(target);
      for (const auto& b : blocklists)
        if (b->check(t, qtype, out)) return out;
      if (rpz_decided) continue;
      for (const auto& z : rpz) {
        if (z->options().override_action == RpzOverride::disabled) continue;
        RpzHit hit;
        if (!z->match_qname(t, hit)) continue;
        PolicyAnswer a;
        z->apply(hit, qname, qtype, a);
        return a;  // a PASSTHRU keeps the answer as it is (pass)
      }
    }
  }
  if (rpz_decided) return out;
  for (const auto& z : rpz) {
    if (z->options().override_action == RpzOverride::disabled) continue;
    RpzHit hit;
    if (!z->match_response(answer, hit)) continue;
    PolicyAnswer a;
    z->apply(hit, qname, qtype, a);
    return a;
  }
  return out;
}

Policy::Policy() : Policy(std::vector<View>{}) {}

Policy::Policy(std::vector<View> views) : views_(std::move(views)) {
  if (views_.empty() || views_.back().name != "default") {
    View v;
    v.name = "default";
    views_.push_back(std::move(v));
  }
  active_ = std::any_of(views_.begin(), views_.end(), [](const View& v) { return v.active(); });
}

const View& Policy::select(const Address& client, const Address& local) const noexcept {
  for (size_t i = 0; i + 1 < views_.size(); ++i)
    if (views_[i].selector.selects(client, local)) return views_[i];
  return views_.back();
}

std::shared_ptr<const Policy> Policy::with_rpz_zone(const std::string& name, std::shared_ptr<const RpzZone> zone) const {
  std::vector<View> views = views_;
  bool used = false;
  for (auto& v : views)
    for (auto& z : v.rpz)
      if (z->name() == name) {
        z = zone;
        used = true;
      }
  if (!used) return nullptr;
  return std::make_shared<const Policy>(std::move(views));
}

// ------------------------------------------------------------------ flushing

bool AnswerFlush::covers(const wire::Name& name) const {
  if (everything) return true;
  if (!names || names->empty()) return false;
  LookupName l(name);
  for (size_t i = 0; i <= l.labels(); ++i)
    if (names->find_suffix(l, i) != NameTable::kNotFound) return true;
  return false;
}

namespace {

constexpr size_t kMaxChangedNames = 100000;  // beyond: flush the whole view

// Adds to `changed` every name whose entry differs between two tables
// (wildcards "*.x" as x: the flush covers the subtree). False when there
// are too many to be worth a targeted flush.
template <typename Same>
bool diff_tables(const NameTable& a, const NameTable& b, NameTable& changed, Same same) {
  auto add = [&](std::span<const uint8_t> w) {
    if (w.size() > 2 && w[0] == 1 && w[1] == '*') w = w.subspan(2);
    changed.insert(w, name_hash(w), 0);
    return changed.size() <= kMaxChangedNames;
  };
  bool ok = true;
  a.for_each([&](std::span<const uint8_t> w, uint32_t va) {
    if (!ok) return;
    LookupName l(wire::Name::from_wire(w));
    uint32_t vb = b.find_suffix(l, 0);
    if (vb == NameTable::kNotFound || !same(va, vb)) ok = add(w);
  });
  b.for_each([&](std::span<const uint8_t> w, uint32_t) {
    if (!ok) return;
    LookupName l(wire::Name::from_wire(w));
    if (a.find_suffix(l, 0) == NameTable::kNotFound) ok = add(w);
  });
  return ok;
}

bool same_prefixes(const PrefixTable& a, const PrefixTable& b) {
  if (a.size() != b.size()) return false;
  bool same = true;
  a.for_each([&](const AddressPrefix& p, uint32_t) {
    if (same && b.find_exact(p) == PrefixTable::kNotFound) same = false;
  });
  return same;
}

bool same_dns64(const std::shared_ptr<const Dns64>& a, const std::shared_ptr<const Dns64>& b) {
  if (a == b) return true;
  if (!a || !b) return false;
  const auto& x = a->options();
  const auto& y = b->options();
  return x.prefix == y.prefix && x.clients == y.clients && x.exclude == y.exclude;
}

// The flush for one view present in both policies with the same tag.
AnswerFlush compare_views(const View& o, const View& n) {
  AnswerFlush f;
  f.tag = o.cache_tag;
  if (!same_dns64(o.dns64, n.dns64) || o.cname_inspection != n.cname_inspection ||
      o.blocklists.size() != n.blocklists.size() || o.rpz.size() != n.rpz.size()) {
    f.everything = true;
    return f;
  }
  auto changed = std::make_shared<NameTable>();
  for (size_t i = 0; i < o.blocklists.size(); ++i) {
    const auto& a = o.blocklists[i];
    const auto& b = n.blocklists[i];
    if (a == b || !o.cname_inspection) continue;
    if (a->name() != b->name() || a->options().action != b->options().action ||
        !diff_tables(a->names().table(), b->names().table(), *changed, [](uint32_t x, uint32_t y) { return x == y; })) {
      f.everything = true;
      return f;
    }
  }
  for (size_t i = 0; i < o.rpz.size(); ++i) {
    const auto& a = o.rpz[i];
    const auto& b = n.rpz[i];
    if (a == b) continue;
    if (a->name() != b->name() || a->options().override_action != b->options().override_action ||
        !same_prefixes(a->response_table(), b->response_table())) {
      f.everything = true;
      return f;
    }
    if (!o.cname_inspection) continue;
    bool ok = diff_tables(a->qname_table(), b->qname_table(), *changed,
                          [&](uint32_t x, uint32_t y) { return a->rule_fingerprint(x) == b->rule_fingerprint(y); });
    if (!ok) {
      f.everything = true;
      return f;
    }
  }
  if (changed->empty()) return AnswerFlush{};  // nothing to flush (tag 0: no-op)
  f.names = std::move(changed);
  return f;
}

}  // namespace

std::vector<AnswerFlush> plan_answer_flush(const Policy& old, const Policy& next) {
  std::vector<AnswerFlush> out;
  for (const View& o : old.views()) {
    if (o.cache_tag == 0) continue;
    const View* n = nullptr;
    for (const View& v : next.views())
      if (v.cache_tag == o.cache_tag) n = &v;
    if (!n) {
      AnswerFlush f;
      f.tag = o.cache_tag;
      f.everything = true;  // unreachable now: give the memory back
      out.push_back(f);
      continue;
    }
    AnswerFlush f = compare_views(o, *n);
    if (f.tag != 0) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace sextant::resolver::policy
