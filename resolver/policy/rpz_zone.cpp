#include "resolver/policy/rpz_zone.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "wire/errors.h"
#include "wire/zone_reader.h"

namespace sextant::resolver::policy {

namespace {

bool parse_decimal(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty() || s.size() > 3) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out <= max;
}

bool parse_hex_group(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 4) return false;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

// The special CNAME targets (draft-vixie-dnsop-dns-rpz §3).
RpzAction special_action(const wire::Name& target) {
  if (target.is_root()) return RpzAction::nxdomain;
  if (target.label_count() == 1) {
    std::string_view l = target.label(0);
    auto is = [&](std::string_view w) {
      return l.size() == w.size() && std::equal(l.begin(), l.end(), w.begin(), [](char a, char b) {
               return wire::ascii_lower(static_cast<uint8_t>(a)) == static_cast<uint8_t>(b);
             });
    };
    if (is("*")) return RpzAction::nodata;
    if (is("rpz-passthru")) return RpzAction::passthru;
    if (is("rpz-drop")) return RpzAction::drop;
    if (is("rpz-tcp-only")) return RpzAction::tcp_only;
  }
  return RpzAction::local_data;
}

bool label_is(const wire::Name& n, size_t i, std::string_view w) {
  std::string_view l = n.label(i);
  if (l.size() != w.size()) return false;
  for (size_t k = 0; k < l.size(); ++k)
    if (wire::ascii_lower(static_cast<uint8_t>(l[k])) != static_cast<uint8_t>(w[k])) return false;
  return true;
}

wire::Name cname_target(const wire::Rdata& rdata) {
  size_t pos = 0;
  wire::Name target;
  if (wire::Name::parse_uncompressed(rdata, pos, target) != wire::WireError::ok)
    throw wire::TextError("a CNAME whose target does not parse");
  return target;
}

// An IP trigger as a name for logs: its RPZ owner form ("24.0.2.0.192"),
// which names no real host and reads back unambiguously.
wire::Name prefix_rule_name(const AddressPrefix& p) {
  std::string text = fmt::format("{}", p.length);
  if (p.family == AF_INET) {
    for (int i = 3; i >= 0; --i) text += fmt::format(".{}", p.bytes[i]);
  } else {
    for (int i = 7; i >= 0; --i) text += fmt::format(".{:x}", (p.bytes[2 * i] << 8) | p.bytes[2 * i + 1]);
  }
  text += '.';
  return wire::Name::from_text(text);
}

}  // namespace

std::optional<RpzOverride> rpz_override_from_text(std::string_view text) {
  static constexpr std::pair<std::string_view, RpzOverride> kNames[] = {
      {"given", RpzOverride::given},       {"disabled", RpzOverride::disabled},
      {"passthru", RpzOverride::passthru}, {"drop", RpzOverride::drop},
      {"tcp-only", RpzOverride::tcp_only}, {"nxdomain", RpzOverride::nxdomain},
      {"nodata", RpzOverride::nodata},     {"cname", RpzOverride::cname},
  };
  for (const auto& [t, o] : kNames)
    if (t == text) return o;
  return std::nullopt;
}

AddressPrefix parse_rpz_ip_labels(const wire::Name& labels) {
  size_t n = labels.label_count();
  if (n < 2) throw wire::TextError("an IP trigger needs a prefix length and an address");
  unsigned length = 0;
  if (!parse_decimal(labels.label(0), 128, length) || length == 0)
    throw wire::TextError(fmt::format("'{}' is not a prefix length", labels.label(0)));
  AddressPrefix p;
  unsigned octet = 0;
  bool v4 = n == 5 && length <= 32;
  for (size_t i = 1; v4 && i < 5; ++i) v4 = parse_decimal(labels.label(i), 255, octet);
  if (v4) {
    p.family = AF_INET;
    for (size_t i = 1; i < 5; ++i) {
      parse_decimal(labels.label(i), 255, octet);
      p.bytes[4 - i] = static_cast<uint8_t>(octet);
    }
  } else {
    // Groups from the most significant (rightmost label) down; one "zz"
    // stands for the run of zero groups, as "::" does.
    std::vector<uint16_t> before, after;
    bool seen_zz = false;
    for (size_t i = n; i-- > 1;) {
      if (label_is(labels, i, "zz")) {
        if (seen_zz) throw wire::TextError("more than one 'zz' in an IPv6 trigger");
        seen_zz = true;
        continue;
      }
      uint16_t g = 0;
      if (!parse_hex_group(labels.label(i), g))
        throw wire::TextError(fmt::format("'{}' is not an IPv4 octet or IPv6 group", labels.label(i)));
      (seen_zz ? after : before).push_back(g);
    }
    size_t groups = before.size() + after.size();
    if (groups > 8 || (!seen_zz && groups != 8) || (seen_zz && groups == 8))
      throw wire::TextError("an IPv6 trigger needs 8 groups (or fewer with 'zz')");
    std::vector<uint16_t> all = before;
    all.resize(8 - after.size(), 0);
    all.insert(all.end(), after.begin(), after.end());
    p.family = AF_INET6;
    for (size_t i = 0; i < 8; ++i) {
      p.bytes[2 * i] = static_cast<uint8_t>(all[i] >> 8);
      p.bytes[2 * i + 1] = static_cast<uint8_t>(all[i]);
    }
  }
  unsigned max = p.family == AF_INET ? 32 : 128;
  if (length > max) throw wire::TextError(fmt::format("prefix length {} is longer than {}", length, max));
  p.length = static_cast<uint8_t>(length);
  for (unsigned bit = length; bit < max; ++bit) p.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return p;
}

// ---------------------------------------------------------------- matching

bool RpzZone::match_client(const Address& client, RpzHit& hit) const {
  if (client_ip_.empty()) return false;
  AddressPrefix matched;
  uint32_t v = client_ip_.longest_match(client, &matched);
  if (v == PrefixTable::kNotFound) return false;
  hit.action = action_of(v);
  hit.rule = index_of(v);
  hit.trigger = RpzTrigger::client_ip;
  hit.trigger_name = prefix_rule_name(matched);
  return true;
}

void RpzZone::prefetch(const LookupName& qname) const noexcept {
  if (qname_.empty()) return;
  qname_.prefetch_suffix(qname, 0);
  for (size_t i = 1; i <= qname.labels(); ++i) qname_.prefetch_wildcard(qname, i);
}

bool RpzZone::match_qname(const LookupName& qname, RpzHit& hit) const {
  if (qname_.empty()) return false;
  uint32_t v = qname_.find_suffix(qname, 0);
  size_t at = 0;
  if (v == NameTable::kNotFound) {
    for (size_t i = 1; i <= qname.labels(); ++i) {
      v = qname_.find_wildcard(qname, i);
      if (v != NameTable::kNotFound) {
        at = i;
        break;
      }
    }
    if (v == NameTable::kNotFound) return false;
  }
  hit.action = action_of(v);
  hit.rule = index_of(v);
  hit.trigger = RpzTrigger::qname;
  hit.wildcard_suffix = at;
  hit.trigger_name = at == 0 ? qname.name() : wire::Name::from_wire(qname.suffix(at)).prepend("*");
  return true;
}

bool RpzZone::match_response(std::span<const wire::RRset> answer, RpzHit& hit) const {
  if (response_ip_.empty()) return false;
  int best = -1;
  for (const auto& set : answer) {
    if (set.type != wire::RRType::A && set.type != wire::RRType::AAAA) continue;
    for (const auto& rd : set.rdatas) {
      if (rd.size() != (set.type == wire::RRType::A ? 4u : 16u)) continue;
      Address a = set.type == wire::RRType::A ? Address::v4(rd.data()) : Address::v6(rd.data());
      AddressPrefix matched;
      uint32_t v = response_ip_.longest_match(a, &matched);
      if (v == PrefixTable::kNotFound || static_cast<int>(matched.length) <= best) continue;
      best = matched.length;
      hit.action = action_of(v);
      hit.rule = index_of(v);
      hit.trigger = RpzTrigger::response_ip;
      hit.trigger_name = prefix_rule_name(matched);
    }
  }
  return best >= 0;
}

bool RpzZone::apply(const RpzHit& hit, const LookupName& qname, wire::RRType qtype, PolicyAnswer& out) const {
  RpzAction action = hit.action;
  switch (options_.override_action) {
    case RpzOverride::given: break;
    case RpzOverride::disabled: action = RpzAction::passthru; break;
    case RpzOverride::passthru: action = RpzAction::passthru; break;
    case RpzOverride::drop: action = RpzAction::drop; break;
    case RpzOverride::tcp_only: action = RpzAction::tcp_only; break;
    case RpzOverride::nxdomain: action = RpzAction::nxdomain; break;
    case RpzOverride::nodata: action = RpzAction::nodata; break;
    case RpzOverride::cname: action = RpzAction::local_data; break;
  }
  out.match.kind = PolicyKind::rpz;
  out.match.action = options_.override_action == RpzOverride::disabled ? hit.action : action;
  out.match.trigger = hit.trigger;
  out.match.source = name_;
  out.match.counter_slot = options_.counter_slot;
  out.match.rule_name = hit.trigger_name;
  out.match.has_rule_name = true;
  out.ede = options_.ede;
  out.owner_is_qname = true;
  out.negative_ttl = negative_ttl_;
  switch (action) {
    case RpzAction::none:
    case RpzAction::passthru: out.disposition = Disposition::pass; out.ede.reset(); return false;
    case RpzAction::drop: out.disposition = Disposition::drop; return true;
    case RpzAction::refuse: out.disposition = Disposition::refuse; return true;
    case RpzAction::tcp_only: out.disposition = Disposition::tcp_only; out.ede.reset(); return true;
    case RpzAction::nxdomain:
      out.disposition = Disposition::answer;
      out.rcode = wire::Rcode::NXDOMAIN;
      return true;
    case RpzAction::nodata:
      out.disposition = Disposition::answer;
      out.rcode = wire::Rcode::NOERROR;
      return true;
    case RpzAction::local_data: break;
  }
  out.disposition = Disposition::answer;
  out.rcode = wire::Rcode::NOERROR;
  if (options_.override_action == RpzOverride::cname) {
    out.chase = options_.override_cname;
    out.synthesised_cname = true;
    out.cname_ttl = 300;
    return true;
  }
  if (hit.action != RpzAction::local_data || hit.rule >= rules_.size()) return true;  // NODATA
  const Rule& rule = rules_[hit.rule];
  const wire::RRset* cname = nullptr;
  for (const auto& set : rule.sets) {
    if (set.type == wire::RRType::CNAME) cname = &set;
    else if (qtype == wire::RRType::ANY || set.type == qtype) out.add(&set);
  }
  if (out.answer_count > 0 || !cname) return true;  // the records, or NODATA
  if (qtype == wire::RRType::CNAME) {
    out.add(cname);
    return true;
  }
  wire::Name target = cname_target(cname->rdatas.front());
  if (target.is_wildcard()) {
    // "CNAME *.garden.example.": the question name in front of the garden.
    try {
      out.chase = qname.name().concat(target.parent());
    } catch (const wire::TextError&) {
      out.rcode = wire::Rcode::NXDOMAIN;  // too long to put in front
      return true;
    }
    out.synthesised_cname = true;
    out.cname_ttl = cname->ttl;
    return true;
  }
  out.add(cname);
  out.chase = target;
  return true;
}

uint64_t RpzZone::rule_fingerprint(uint32_t value) const {
  uint64_t h = value >> kActionShift;
  if (action_of(value) != RpzAction::local_data || index_of(value) >= rules_.size()) return h;
  for (const auto& set : rules_[index_of(value)].sets) {
    h = h * 31 + static_cast<uint16_t>(set.type) + set.ttl;
    for (const auto& rd : set.rdatas)
      for (uint8_t b : rd) h = h * 131 + b;
  }
  return h;
}

size_t RpzZone::memory_bytes() const noexcept {
  size_t bytes = qname_.memory_bytes() + client_ip_.memory_bytes() + response_ip_.memory_bytes() +
                 rules_.capacity() * sizeof(Rule);
  for (const auto& r : rules_) {
    bytes += r.sets.capacity() * sizeof(wire::RRset);
    for (const auto& s : r.sets)
      for (const auto& rd : s.rdatas) bytes += rd.capacity() + sizeof(wire::Rdata);
  }
  return bytes;
}

// ----------------------------------------------------------------- building

RpzZoneBuilder::RpzZoneBuilder(const wire::Name& origin, RpzOptions options, std::string source)
    : zone_(std::make_shared<RpzZone>()) {
  zone_->origin_ = origin.lowercased();
  zone_->name_ = options.name.empty() ? zone_->origin_.to_text() : options.name;
  zone_->options_ = std::move(options);
  zone_->source_ = std::move(source);
}

void RpzZoneBuilder::add(const wire::ResourceRecord& rr) {
  RpzZone& z = *zone_;
  if (!rr.owner.is_subdomain_of(z.origin_))
    throw wire::TextError(fmt::format("{} is outside the policy zone {}", rr.owner.to_text(), z.origin_.to_text()));
  ++z.records_;
  if (rr.type == wire::RRType::RRSIG || rr.type == wire::RRType::NSEC || rr.type == wire::RRType::NSEC3 ||
      rr.type == wire::RRType::DNSKEY || rr.type == wire::RRType::NSEC3PARAM)
    return;  // a signed policy zone's DNSSEC records
  size_t origin_labels = z.origin_.label_count();
  if (rr.owner.label_count() == origin_labels) {
    if (rr.type == wire::RRType::SOA && rr.rdata.size() >= 22) {
      const uint8_t* serial = rr.rdata.data() + rr.rdata.size() - 20;
      z.serial_ = (uint32_t{serial[0]} << 24) | (uint32_t{serial[1]} << 16) | (uint32_t{serial[2]} << 8) | serial[3];
      const uint8_t* m = rr.rdata.data() + rr.rdata.size() - 4;
      uint32_t minimum = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) | (uint32_t{m[2]} << 8) | m[3];
      z.negative_ttl_ = std::min(rr.ttl, minimum);  // RFC 2308 §5, as for any negative answer
    }
    return;  // SOA, NS and anything else at the apex are not triggers
  }
  // The owner relative to the origin, and what kind of trigger it is.
  const size_t relative_labels = rr.owner.label_count() - origin_labels;
  uint8_t relative_wire[wire::Name::kMaxWireSize];
  const size_t relative_size = rr.owner.wire_size() - z.origin_.wire_size();
  std::memcpy(relative_wire, rr.owner.wire().data(), relative_size);
  relative_wire[relative_size] = 0;
  const wire::Name relative = wire::Name::from_wire({relative_wire, relative_size + 1}).lowercased();
  RpzTrigger trigger = RpzTrigger::qname;
  AddressPrefix prefix;
  const size_t last = relative_labels - 1;  // the label just below the origin
  if (label_is(rr.owner, last, "rpz-ip") || label_is(rr.owner, last, "rpz-client-ip")) {
    trigger = label_is(rr.owner, last, "rpz-ip") ? RpzTrigger::response_ip : RpzTrigger::client_ip;
    // The labels in front of rpz-ip: the relative name without its last label.
    const size_t ip_size = relative_size - (rr.owner.label(last).size() + 1);
    relative_wire[ip_size] = 0;
    prefix = parse_rpz_ip_labels(wire::Name::from_wire({relative_wire, ip_size + 1}));
  } else if (label_is(rr.owner, last, "rpz-nsdname") || label_is(rr.owner, last, "rpz-nsip")) {
    ++z.unsupported_;
    return;
  } else {
    // A QNAME trigger: "*" may only be the first label.
    for (size_t i = 1; i < relative_labels; ++i)
      if (label_is(rr.owner, i, "*"))
        throw wire::TextError(fmt::format("'*' inside {}: only a leading '*.' is a wildcard", rr.owner.to_text()));
  }

  RpzAction action = RpzAction::local_data;
  if (rr.type == wire::RRType::CNAME) {
    wire::Name target = cname_target(rr.rdata);
    action = special_action(target);
    if (action == RpzAction::local_data && trigger == RpzTrigger::qname && target == relative)
      action = RpzAction::passthru;  // the legacy PASSTHRU: a CNAME to the name itself
  }

  const uint32_t existing = trigger == RpzTrigger::qname ? z.qname_.find(relative)
                             : trigger == RpzTrigger::client_ip ? z.client_ip_.find_exact(prefix)
                                                                : z.response_ip_.find_exact(prefix);
  const bool fresh = existing == NameTable::kNotFound;
  uint32_t value;
  if (fresh) {
    if (action == RpzAction::local_data) {
      if (z.rules_.size() >= (1u << RpzZone::kActionShift)) throw wire::TextError("too many local-data triggers");
      value = RpzZone::encode(action, static_cast<uint32_t>(z.rules_.size()));
      z.rules_.emplace_back();
    } else {
      value = RpzZone::encode(action, 0);
    }
  } else {
    if (RpzZone::action_of(existing) != RpzAction::local_data || action != RpzAction::local_data)
      throw wire::TextError(fmt::format("{}: more than one policy for one trigger (an action CNAME beside other records)",
                                        rr.owner.to_text()));
    value = existing;
  }
  if (action == RpzAction::local_data) {
    auto& sets = z.rules_[RpzZone::index_of(value)].sets;
    bool has_cname = std::any_of(sets.begin(), sets.end(), [](const wire::RRset& s) { return s.type == wire::RRType::CNAME; });
    if ((rr.type == wire::RRType::CNAME && !sets.empty()) || (rr.type != wire::RRType::CNAME && has_cname))
      throw wire::TextError(fmt::format("{}: a CNAME must be the only record of a trigger", rr.owner.to_text()));
    auto it = std::find_if(sets.begin(), sets.end(), [&](const wire::RRset& s) { return s.type == rr.type; });
    if (it == sets.end()) {
      wire::RRset set;
      set.owner = relative;
      set.type = rr.type;
      set.rclass = wire::RRClass::IN;
      set.ttl = rr.ttl;
      sets.push_back(std::move(set));
      it = sets.end() - 1;
    }
    if (std::find(it->rdatas.begin(), it->rdatas.end(), rr.rdata) == it->rdatas.end()) it->rdatas.push_back(rr.rdata);
  }
  if (!fresh) return;
  if (trigger == RpzTrigger::qname) {
    z.qname_.insert(relative, value);
  } else {
    (trigger == RpzTrigger::client_ip ? z.client_ip_ : z.response_ip_).insert(prefix, value);
  }
}

std::shared_ptr<RpzZone> RpzZoneBuilder::finish() {
  zone_->qname_.shrink();
  zone_->rules_.shrink_to_fit();
  zone_->loaded_at_ = std::time(nullptr);
  return std::move(zone_);
}

std::shared_ptr<RpzZone> load_rpz_text(std::string_view text, std::string_view source,
                                             const wire::Name& origin, RpzOptions options) {
  wire::ZoneReaderOptions zo;
  zo.origin = origin;
  zo.default_ttl = 300;
  zo.max_include_depth = 0;  // a policy zone is one file
  std::optional<RpzZoneBuilder> builder;
  if (!origin.is_root()) builder.emplace(origin, options, std::string(source));
  wire::read_zone_text(text, source, zo, [&](wire::ResourceRecord&& rr, std::string_view, size_t) {
    if (!builder) {
      if (rr.type != wire::RRType::SOA)
        throw wire::TextError("the first record is not the SOA: give the policy zone's name (origin)");
      builder.emplace(rr.owner, options, std::string(source));
    }
    builder->add(rr);
  });
  if (!builder) throw wire::TextError(fmt::format("{}: no records (an RPZ zone needs at least its SOA)", source));
  return builder->finish();
}

std::shared_ptr<RpzZone> load_rpz_file(const std::string& path, const wire::Name& origin, RpzOptions options) {
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw wire::TextError(fmt::format("{}: cannot open the policy zone", path));
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  return load_rpz_text(text, path, origin, std::move(options));
}

}  // namespace sextant::resolver::policy
