#include "resolver/policy/policy_builder.h"

#include <chrono>

#include <fmt/format.h>

#include "resolver/config/config.h"
#include "wire/errors.h"
#include "wire/zone_reader.h"

namespace sextant::resolver::policy {

uint16_t ViewTags::tag_for(const std::string& view) {
  std::lock_guard lock(mu_);
  auto it = tags_.find(view);
  if (it != tags_.end()) return it->second;
  // Odd numbers: the even one above each is the view's DNS64 clients' (View::cache_tag_for).
  uint16_t tag = static_cast<uint16_t>(std::min<size_t>(2 * tags_.size() + 1, 0xFFFD));
  tags_.emplace(view, tag);
  return tag;
}

std::string BuildReport::text() const {
  std::string out;
  for (const auto& e : errors) out += "error: " + e + "\n";
  for (const auto& w : warnings) out += "warning: " + w + "\n";
  return out;
}

namespace {

std::optional<wire::EdeCode> ede_from_text(const std::string& s) {
  if (s == "blocked") return wire::EdeCode::Blocked;
  if (s == "censored") return wire::EdeCode::Censored;
  if (s == "filtered") return wire::EdeCode::Filtered;
  if (s == "forged") return wire::EdeCode::ForgedAnswer;
  return std::nullopt;
}

// The policy set a view applies: its own keys, the top level's for the
// others when it inherits.
PolicySetConfig resolve(const PolicySetConfig& top, const ViewConfig& v) {
  if (!v.inherit) return v.set;
  PolicySetConfig out = top;
  auto has = [&](const char* k) { return std::find(v.keys.begin(), v.keys.end(), k) != v.keys.end(); };
  if (has("local-zones")) out.local_zones = v.set.local_zones;
  if (has("local-data")) {
    out.local_data = v.set.local_data;
    out.local_data_lines = v.set.local_data_lines;
  }
  if (has("local-data-ptr")) out.local_data_ptr = v.set.local_data_ptr;
  if (has("local-zone-files")) out.local_zone_files = v.set.local_zone_files;
  if (has("hosts-files")) out.hosts_files = v.set.hosts_files;
  if (has("allowlist")) out.allowlist = v.set.allowlist;
  if (has("blocklists")) out.blocklists = v.set.blocklists;
  if (has("rpz")) out.rpz = v.set.rpz;
  if (has("dns64")) out.dns64 = v.set.dns64;
  if (has("cname-inspection")) out.cname_inspection = v.set.cname_inspection;
  return out;
}

bool same_local(const PolicySetConfig& a, const PolicySetConfig& b) {
  return a.local_zones == b.local_zones && a.local_data == b.local_data && a.local_data_ptr == b.local_data_ptr &&
         a.local_zone_files == b.local_zone_files && a.hosts_files == b.hosts_files;
}

class Builder {
 public:
  Builder(const PolicyConfig& config, BuildContext& context, BuildReport& report)
      : config_(config), context_(context), report_(report) {}

  std::shared_ptr<const Policy> build() {
    auto start = std::chrono::steady_clock::now();
    std::vector<View> views;
    for (const auto& v : config_.views) views.push_back(build_view(v.name, resolve(config_.top, v), &v));
    views.push_back(build_view("default", config_.top, nullptr));
    for (auto& v : views) {
      if (!v.has_response_stage()) continue;
      v.cache_tag = context_.tags ? context_.tags->tag_for(v.name) : static_cast<uint16_t>(2 * untracked_tags_++ + 1);
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::make_shared<const Policy>(std::move(views));
  }

 private:
  // A component that failed: fatal without a previous policy, else the
  // previous copy (if any) stays.
  template <typename T>
  std::shared_ptr<const T> failed(const std::string& message, std::shared_ptr<const T> previous) {
    if (!context_.previous) throw PolicyError(message);
    report_.errors.push_back(previous ? message + " (the previous copy stays)" : message);
    return previous;
  }

  std::string at(size_t line, const std::string& key) const {
    return fmt::format("{}:{}: {}", config_.source.empty() ? "(configuration)" : config_.source, line, key);
  }

  const View* previous_view(const std::string& name) const {
    if (!context_.previous) return nullptr;
    for (const auto& v : context_.previous->views())
      if (v.name == name) return &v;
    return nullptr;
  }

  uint32_t slot(PolicyKind kind, const std::string& name) {
    return context_.counters ? context_.counters->slot(kind, name) : PolicyMatch::kNoSlot;
  }

  View build_view(const std::string& name, const PolicySetConfig& set, const ViewConfig* vc) {
    View v;
    v.name = name;
    const View* prev = previous_view(name);
    if (vc) {
      for (const auto& c : vc->clients) v.selector.clients.push_back(*AddressPrefix::parse(c));
      for (const auto& l : vc->listeners) {
        Endpoint ep = parse_endpoint(l, 53);
        auto p = AddressPrefix::parse(ep.address);
        Address a;
        a.family = p->family;
        std::memcpy(a.bytes, p->bytes, 16);
        a.port = ep.port;
        v.selector.listeners.push_back(a);
      }
    }
    v.local_data = local_data(name, set, prev ? prev->local_data : nullptr);
    if (set.allowlist.enabled) v.allowlist = allowlist(name, set.allowlist, prev ? prev->allowlist : nullptr);
    for (const auto& b : set.blocklists) {
      std::shared_ptr<const Blocklist> old;
      if (prev)
        for (const auto& pb : prev->blocklists)
          if (pb->name() == b.name) old = pb;
      if (auto list = blocklist(b, old)) v.blocklists.push_back(std::move(list));
    }
    for (const auto& r : set.rpz) {
      std::shared_ptr<const RpzZone> old;
      if (context_.previous)
        for (const auto& pv : context_.previous->views())
          for (const auto& pz : pv.rpz)
            if (pz->options().name == r.name && pz->source() == r.file) old = pz;
      if (auto zone = rpz(r, old)) v.rpz.push_back(std::move(zone));
    }
    if (set.dns64.enabled) {
      Dns64Options o;
      o.prefix = *AddressPrefix::parse(set.dns64.prefix);
      for (const auto& c : set.dns64.clients) o.clients.push_back(*AddressPrefix::parse(c));
      o.exclude.clear();
      for (const auto& e : set.dns64.exclude) o.exclude.push_back(*AddressPrefix::parse(e));
      v.dns64 = std::make_shared<const Dns64>(std::move(o));
    }
    v.cname_inspection = set.cname_inspection;
    return v;
  }

  std::shared_ptr<const LocalData> local_data(const std::string& view, const PolicySetConfig& set,
                                              std::shared_ptr<const LocalData> previous) {
    if (set.local_zones.empty() && set.local_data.empty() && set.local_zone_files.empty() && set.hosts_files.empty())
      return nullptr;
    for (const auto& [cfg, built] : local_cache_)
      if (same_local(cfg, set)) return built;
    auto data = std::make_shared<LocalData>();
    std::string where;
    try {
      for (const auto& z : set.local_zones) {
        where = at(z.line, "policy.local-zones");
        if (!data->add_zone(wire::Name::from_text(z.name), *local_zone_type_from_text(z.type)))
          throw PolicyError(fmt::format("{}: zone {} declared twice", where, z.name));
      }
      for (size_t i = 0; i < set.local_data.size(); ++i) {
        where = at(i < set.local_data_lines.size() ? set.local_data_lines[i] : 0, "policy.local-data");
        wire::ZoneReaderOptions o;
        o.default_ttl = LocalData::kDefaultTtl;
        o.max_include_depth = 0;
        for (const auto& rr : wire::read_zone_text(set.local_data[i], "record", o)) {
          try {
            data->add_record(rr);
          } catch (const std::invalid_argument& e) {
            throw PolicyError(fmt::format("{}: {}", where, e.what()));
          }
        }
      }
      for (const auto& zf : set.local_zone_files) {
        where = at(zf.line, "policy.local-zone-files");
        load_zone_file(*data, zf);
      }
      for (const auto& path : set.hosts_files) {
        where = path;
        std::string text = read_list_file(path);
        ListReport report;
        report.source = path;
        parse_hosts_file(text, report, [&](const Address& a, const std::vector<wire::Name>& names, size_t) {
          wire::RRType type = a.family == AF_INET ? wire::RRType::A : wire::RRType::AAAA;
          for (const auto& n : names)
            data->add_record(wire::ResourceRecord{n, type, wire::RRClass::IN, LocalData::kDefaultTtl,
                                                  wire::Rdata(a.bytes, a.bytes + a.size())});
        });
        note_list(report);
      }
      data->finish(set.local_data_ptr);
    } catch (const PolicyError& e) {
      return failed<LocalData>(fmt::format("view {}: local data: {}", view, e.what()), previous);
    } catch (const std::exception& e) {
      return failed<LocalData>(fmt::format("{}: view {}: local data: {}", where, view, e.what()), previous);
    }
    data->set_counter_slot(slot(PolicyKind::local_data, view));
    report_.entries += data->record_count();
    std::shared_ptr<const LocalData> built = data;
    local_cache_.emplace_back(set, built);
    return built;
  }

  void load_zone_file(LocalData& data, const LocalZoneFileConfig& zf) {
    wire::ZoneReaderOptions o;
    o.default_ttl = LocalData::kDefaultTtl;
    std::optional<wire::Name> origin;
    if (!zf.name.empty()) {
      origin = wire::Name::from_text(zf.name);
      o.origin = *origin;
    }
    bool zone_added = false;
    wire::read_zone_file(zf.file, o, [&](wire::ResourceRecord&& rr, std::string_view, size_t) {
      if (!origin) {
        if (rr.type != wire::RRType::SOA) throw wire::TextError("the first record is not the SOA: give the zone's name");
        origin = rr.owner;
      }
      if (!zone_added) {
        if (!data.add_zone(*origin, *local_zone_type_from_text(zf.type)))
          throw wire::TextError(fmt::format("zone {} is declared twice", origin->to_text()));
        zone_added = true;
      }
      if (!rr.owner.is_subdomain_of(*origin))
        throw wire::TextError(fmt::format("{} is outside the zone {}", rr.owner.to_text(), origin->to_text()));
      try {
        data.add_record(rr);
      } catch (const std::invalid_argument& e) {
        throw wire::TextError(e.what());
      }
    });
    if (!zone_added) throw wire::TextError(fmt::format("{}: no records", zf.file));
  }

  void note_list(const ListReport& r) {
    if (r.bad_lines == 0) return;
    std::string problems = r.problems_text();
    if (!problems.empty() && problems.back() == '\n') problems.pop_back();
    report_.warnings.push_back(fmt::format("{}: {} bad line(s) skipped, {} names loaded:\n{}", r.source, r.bad_lines,
                                           r.entries, problems));
  }

  std::shared_ptr<const Allowlist> allowlist(const std::string& view, const AllowlistConfig& c,
                                             std::shared_ptr<const Allowlist> previous) {
    auto list = std::make_shared<Allowlist>(c.action == "nxdomain" ? AllowlistMiss::nxdomain : AllowlistMiss::refuse,
                                            slot(PolicyKind::refused_by_allowlist, view));
    for (const auto& n : c.names) {
      wire::Name name;
      bool below = false;
      std::string why;
      if (!parse_list_name(n, name, below, why))
        return failed<Allowlist>(fmt::format("{}: {}", at(c.line, "policy.allowlist"), why), previous);
      list->add(name, below);
    }
    for (const auto& path : c.files) {
      try {
        std::string text = read_list_file(path);
        ListReport report;
        report.source = path;
        list->add_text(text, report);
        note_list(report);
      } catch (const ListError& e) {
        return failed<Allowlist>(fmt::format("{}: {}", at(c.line, "policy.allowlist"), e.what()), previous);
      }
    }
    list->finish();
    report_.entries += list->names().size();
    return list;
  }

  std::shared_ptr<const Blocklist> blocklist(const BlocklistConfig& c, std::shared_ptr<const Blocklist> previous) {
    for (const auto& [cfg, built] : block_cache_)
      if (cfg == c) return built;
    BlocklistOptions o;
    o.name = c.name;
    o.action = *block_action_from_text(c.action);
    o.ede = ede_from_text(c.ede);
    o.ttl = c.ttl;
    for (const auto& s : c.sinkhole) {
      auto p = AddressPrefix::parse(s);
      o.sinkhole.push_back(p->family == AF_INET ? Address::v4(p->bytes) : Address::v6(p->bytes));
    }
    o.counter_slot = slot(PolicyKind::blocked, c.name);
    auto list = std::make_shared<Blocklist>(std::move(o));
    ListFormat format = c.format == "hosts" ? ListFormat::hosts : c.format == "domains" ? ListFormat::domains : ListFormat::any;
    std::string where = at(c.line, fmt::format("policy.blocklists[{}]", c.name));
    for (const auto& n : c.names) {
      wire::Name name;
      bool below = false;
      std::string why;
      if (!parse_list_name(n, name, below, why)) return failed<Blocklist>(fmt::format("{}: {}", where, why), previous);
      list->add(name, below);
    }
    for (const auto& path : c.files) {
      try {
        std::string text = read_list_file(path);
        ListReport report;
        report.source = path;
        list->add_text(text, format, report);
        note_list(report);
      } catch (const ListError& e) {
        return failed<Blocklist>(fmt::format("{}: {}", where, e.what()), previous);
      }
    }
    list->finish();
    report_.entries += list->size();
    std::shared_ptr<const Blocklist> built = list;
    block_cache_.emplace_back(c, built);
    return built;
  }

  std::shared_ptr<const RpzZone> rpz(const RpzConfig& c, std::shared_ptr<const RpzZone> previous) {
    for (const auto& [cfg, built] : rpz_cache_)
      if (cfg == c) return built;
    RpzOptions o;
    o.name = c.name;
    auto action = rpz_override_from_text(c.action);
    o.override_action = action.value_or(RpzOverride::given);
    if (!c.cname.empty()) o.override_cname = wire::Name::from_text(c.cname);
    o.ede = ede_from_text(c.ede);
    wire::Name origin = c.zone.empty() ? wire::Name() : wire::Name::from_text(c.zone);
    std::shared_ptr<RpzZone> zone;
    try {
      zone = load_rpz_file(c.file, origin, o);
    } catch (const wire::TextError& e) {
      return failed<RpzZone>(fmt::format("{}: policy zone refused: {}", at(c.line, "policy.rpz"), e.what()), previous);
    }
    if (zone->unsupported_triggers() > 0)
      report_.warnings.push_back(fmt::format("{}: {} rpz-nsdname/rpz-nsip trigger(s) skipped (not supported)", c.file,
                                             zone->unsupported_triggers()));
    // The name may come from the zone's SOA: count under it once known.
    zone->set_counter_slot(slot(PolicyKind::rpz, zone->name()));
    report_.entries += zone->qname_triggers() + zone->client_ip_triggers() + zone->response_ip_triggers();
    rpz_cache_.emplace_back(c, zone);
    return zone;
  }

  const PolicyConfig& config_;
  BuildContext& context_;
  BuildReport& report_;
  unsigned untracked_tags_ = 0;
  std::vector<std::pair<PolicySetConfig, std::shared_ptr<const LocalData>>> local_cache_;
  std::vector<std::pair<BlocklistConfig, std::shared_ptr<const Blocklist>>> block_cache_;
  std::vector<std::pair<RpzConfig, std::shared_ptr<const RpzZone>>> rpz_cache_;
};

}  // namespace

std::shared_ptr<const Policy> build_policy(const PolicyConfig& config, BuildContext& context, BuildReport& report) {
  Builder b(config, context, report);
  return b.build();
}

}  // namespace sextant::resolver::policy
