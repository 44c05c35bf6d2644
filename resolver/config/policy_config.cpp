#include "resolver/config/policy_config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "resolver/config/config.h"
#include "wire/errors.h"
#include "wire/name.h"
#include "wire/zone_reader.h"

namespace sextant::resolver {

namespace {

size_t line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? static_cast<size_t>(n.Mark().line) + 1 : 0; }

[[noreturn]] void fail(const YAML::Node& n, const std::string& message) {
  throw ConfigNodeError(n.Mark().line, message);  // config.h: 0-based, as YAML marks are
}

std::string text(const YAML::Node& n) {
  if (!n.IsScalar()) fail(n, "expected a single value");
  return n.Scalar();
}

std::vector<std::string> texts(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) fail(n, "expected a list");
  for (const auto& item : n) out.push_back(text(item));
  return out;
}

bool boolean(const YAML::Node& n) {
  std::string s = text(n);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(n, fmt::format("'{}' is not a boolean (use true or false)", s));
}

uint32_t unsigned_value(const YAML::Node& n, uint32_t max) {
  std::string s = text(n);
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > max)
    fail(n, fmt::format("'{}' is not an integer between 0 and {}", s, max));
  return v;
}

// A map's keys must all be known.
void check_keys(const YAML::Node& map, std::initializer_list<const char*> allowed, const char* what) {
  if (!map.IsMap()) fail(map, fmt::format("each {} is a map", what));
  for (const auto& kv : map) {
    std::string k = kv.first.Scalar();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) {
      std::string known;
      for (const char* a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      fail(kv.first, fmt::format("unknown key '{}' in a {} (known: {})", k, what, known));
    }
  }
}

// A domain name as written in the file ("example.com", "*.example.com.").
std::string domain(const YAML::Node& n) {
  std::string s = text(n);
  try {
    wire::Name::from_text(s);
  } catch (const wire::TextError& e) {
    fail(n, fmt::format("'{}' is not a domain name: {}", s, e.what()));
  }
  return s;
}

// A name of a list as list files write it: letters, digits, '-', '_',
// '.', and an optional leading "*." (resolver/policy/list_files.h).
std::string list_name(const YAML::Node& n) {
  std::string s = text(n);
  std::string_view rest = s;
  if (rest.size() >= 2 && rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  bool ok = !rest.empty() && rest != "." && rest.front() != '.' && rest.find("..") == std::string_view::npos;
  for (char c : rest)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                c == '.');
  if (!ok) fail(n, fmt::format("'{}' is not a list name (a domain name, or '*.' and a domain name)", s));
  return domain(n);
}

std::vector<std::string> list_names(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (n.IsScalar()) return {list_name(n)};
  if (!n.IsSequence()) fail(n, "expected a list of names");
  for (const auto& item : n) out.push_back(list_name(item));
  return out;
}

std::vector<std::string> prefixes(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  auto one = [&](const YAML::Node& item) {
    std::string s = text(item);
    try {
      parse_prefix(s);
    } catch (const std::exception& e) {
      fail(item, e.what());
    }
    out.push_back(s);
  };
  if (n.IsScalar()) one(n);
  else if (n.IsSequence()) for (const auto& item : n) one(item);
  else fail(n, "expected a list of prefixes");
  return out;
}

std::string one_of(const YAML::Node& n, std::initializer_list<const char*> allowed) {
  std::string s = text(n);
  std::string known;
  for (const char* a : allowed) {
    if (s == a) return s;
    known += (known.empty() ? "" : ", ") + std::string(a);
  }
  fail(n, fmt::format("'{}' is not one of {}", s, known));
}

constexpr std::initializer_list<const char*> kZoneTypes = {
    "transparent", "typetransparent", "static", "redirect", "refuse", "deny", "always_transparent",
    "always_refuse", "always_deny", "always_nxdomain", "always_nodata", "always_null"};
constexpr std::initializer_list<const char*> kEdeNames = {"blocked", "censored", "filtered", "forged", "none"};

template <typename F>
void each_item(const YAML::Node& n, const char* what, F&& f) {
  if (n.IsNull()) return;
  if (!n.IsSequence()) fail(n, fmt::format("expected a list of {}", what));
  for (const auto& item : n) f(item);
}

}  // namespace

void apply_local_zones(PolicySetConfig& s, const YAML::Node& n) {
  s.local_zones.clear();
  each_item(n, "local zones", [&](const YAML::Node& item) {
    check_keys(item, {"name", "type"}, "local zone");
    if (!item["name"] || !item["type"]) fail(item, "a local zone needs 'name' and 'type'");
    s.local_zones.push_back({domain(item["name"]), one_of(item["type"], kZoneTypes), line_of(item)});
  });
}

void apply_local_data(PolicySetConfig& s, const YAML::Node& n) {
  s.local_data.clear();
  s.local_data_lines.clear();
  each_item(n, "records", [&](const YAML::Node& item) {
    std::string record = text(item);
    wire::ZoneReaderOptions o;
    o.default_ttl = 3600;
    o.max_include_depth = 0;
    std::vector<wire::ResourceRecord> rrs;
    try {
      rrs = wire::read_zone_text(record, "record", o);
    } catch (const wire::TextError& e) {
      std::string m = e.what();
      if (m.rfind("record:1: ", 0) == 0) m = m.substr(10);
      fail(item, fmt::format("'{}': {}", record, m));
    }
    if (rrs.size() != 1) fail(item, fmt::format("'{}': one record per entry", record));
    if (rrs[0].rclass != wire::RRClass::IN) fail(item, "local data must be class IN");
    s.local_data.push_back(record);
    s.local_data_lines.push_back(line_of(item));
  });
}

void apply_local_zone_files(PolicySetConfig& s, const YAML::Node& n) {
  s.local_zone_files.clear();
  each_item(n, "zone files", [&](const YAML::Node& item) {
    check_keys(item, {"file", "name", "type"}, "local zone file");
    if (!item["file"]) fail(item, "a local zone file needs 'file'");
    LocalZoneFileConfig z;
    z.file = text(item["file"]);
    if (item["name"]) z.name = domain(item["name"]);
    if (item["type"]) z.type = one_of(item["type"], kZoneTypes);
    z.line = line_of(item);
    s.local_zone_files.push_back(z);
  });
}

void apply_hosts_files(PolicySetConfig& s, const YAML::Node& n) { s.hosts_files = texts(n); }

void apply_allowlist(PolicySetConfig& s, const YAML::Node& n) {
  s.allowlist = AllowlistConfig{};
  if (n.IsNull()) return;
  check_keys(n, {"enabled", "names", "files", "action"}, "allowlist");
  s.allowlist.enabled = n["enabled"] ? boolean(n["enabled"]) : true;
  if (n["names"]) s.allowlist.names = list_names(n["names"]);
  if (n["files"]) s.allowlist.files = texts(n["files"]);
  if (n["action"]) s.allowlist.action = one_of(n["action"], {"refuse", "nxdomain"});
  s.allowlist.line = line_of(n);
}

void apply_blocklists(PolicySetConfig& s, const YAML::Node& n) {
  s.blocklists.clear();
  each_item(n, "blocklists", [&](const YAML::Node& item) {
    check_keys(item, {"name", "file", "files", "names", "format", "action", "sinkhole", "ede", "ttl"}, "blocklist");
    if (!item["name"]) fail(item, "a blocklist needs a 'name' (it labels metrics and logs)");
    BlocklistConfig b;
    b.name = text(item["name"]);
    if (b.name.empty() || b.name.find_first_of(" \t\"\\:") != std::string::npos)
      fail(item["name"], "a blocklist name is one word (no spaces, quotes or ':')");
    if (item["file"]) b.files.push_back(text(item["file"]));
    if (item["files"])
      for (auto& f : texts(item["files"])) b.files.push_back(f);
    if (item["names"]) b.names = list_names(item["names"]);
    if (b.files.empty() && b.names.empty()) fail(item, "a blocklist needs 'file', 'files' or 'names'");
    if (item["format"]) b.format = one_of(item["format"], {"any", "hosts", "domains"});
    if (item["action"]) b.action = one_of(item["action"], {"nxdomain", "nodata", "sinkhole", "refuse"});
    if (item["sinkhole"]) {
      b.sinkhole.clear();
      for (const auto& a : texts(item["sinkhole"])) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, a.c_str(), buf) != 1 && inet_pton(AF_INET6, a.c_str(), buf) != 1)
          fail(item["sinkhole"], fmt::format("'{}' is not an address", a));
        b.sinkhole.push_back(a);
      }
    }
    if (item["ede"]) b.ede = one_of(item["ede"], kEdeNames);
    if (item["ttl"]) b.ttl = unsigned_value(item["ttl"], 86400);
    b.line = line_of(item);
    s.blocklists.push_back(b);
  });
}

void apply_rpz(PolicySetConfig& s, const YAML::Node& n) {
  s.rpz.clear();
  each_item(n, "policy zones", [&](const YAML::Node& item) {
    check_keys(item, {"name", "file", "zone", "action", "cname", "ede"}, "policy zone");
    if (!item["file"]) fail(item, "a policy zone needs 'file' (transfers from a primary are not built yet)");
    RpzConfig r;
    r.file = text(item["file"]);
    if (item["name"]) r.name = text(item["name"]);
    if (item["zone"]) r.zone = domain(item["zone"]);
    if (item["action"])
      r.action = one_of(item["action"], {"given", "disabled", "passthru", "drop", "tcp-only", "nxdomain", "nodata", "cname"});
    if (item["cname"]) r.cname = domain(item["cname"]);
    if (r.action == "cname" && r.cname.empty()) fail(item, "action: cname needs 'cname: TARGET' (the walled garden)");
    if (item["ede"]) r.ede = one_of(item["ede"], kEdeNames);
    if (r.name.find_first_of(" \t\"\\:") != std::string::npos) fail(item["name"], "a zone name for logs is one word");
    r.line = line_of(item);
    s.rpz.push_back(r);
  });
}

void apply_dns64(PolicySetConfig& s, const YAML::Node& n) {
  s.dns64 = Dns64Config{};
  if (n.IsNull()) return;
  check_keys(n, {"enabled", "prefix", "clients", "exclude"}, "dns64 section");
  s.dns64.enabled = n["enabled"] ? boolean(n["enabled"]) : true;
  if (n["prefix"]) {
    s.dns64.prefix = text(n["prefix"]);
    Prefix p;
    try {
      p = parse_prefix(s.dns64.prefix);
    } catch (const std::exception& e) {
      fail(n["prefix"], e.what());
    }
    unsigned l = p.length;
    if (p.family != AF_INET6 || (l != 32 && l != 40 && l != 48 && l != 56 && l != 64 && l != 96))
      fail(n["prefix"], "the DNS64 prefix must be an IPv6 /32, /40, /48, /56, /64 or /96 (RFC 6052)");
    if (p.bytes[8] != 0) fail(n["prefix"], "bits 64 to 71 of the DNS64 prefix must be zero (RFC 6052 §2.2)");
  }
  if (n["clients"]) s.dns64.clients = prefixes(n["clients"]);
  if (n["exclude"]) s.dns64.exclude = prefixes(n["exclude"]);
  s.dns64.line = line_of(n);
}

namespace {

struct SetKey {
  const char* key;
  void (*apply)(PolicySetConfig&, const YAML::Node&);
};
const SetKey kSetKeys[] = {
    {"local-zones", apply_local_zones},
    {"local-data", apply_local_data},
    {"local-data-ptr", [](PolicySetConfig& s, const YAML::Node& n) { s.local_data_ptr = boolean(n); }},
    {"local-zone-files", apply_local_zone_files},
    {"hosts-files", apply_hosts_files},
    {"allowlist", apply_allowlist},
    {"blocklists", apply_blocklists},
    {"rpz", apply_rpz},
    {"dns64", apply_dns64},
    {"cname-inspection", [](PolicySetConfig& s, const YAML::Node& n) { s.cname_inspection = boolean(n); }},
};

}  // namespace

void apply_views(PolicyConfig& p, const YAML::Node& n) {
  p.views.clear();
  each_item(n, "views", [&](const YAML::Node& item) {
    if (!item.IsMap()) fail(item, "each view is a map");
    ViewConfig v;
    v.line = line_of(item);
    for (const auto& kv : item) {
      std::string k = kv.first.Scalar();
      if (k == "name") v.name = text(kv.second);
      else if (k == "clients") v.clients = prefixes(kv.second);
      else if (k == "listeners") {
        for (const auto& e : texts(kv.second)) {
          try {
            parse_endpoint(e, 53);
          } catch (const std::exception& ex) {
            fail(kv.second, ex.what());
          }
          v.listeners.push_back(e);
        }
      } else if (k == "inherit") v.inherit = boolean(kv.second);
      else {
        auto it = std::find_if(std::begin(kSetKeys), std::end(kSetKeys), [&](const SetKey& s) { return k == s.key; });
        if (it == std::end(kSetKeys))
          fail(kv.first, fmt::format("unknown key '{}' in a view (name, clients, listeners, inherit, or a policy.* key)", k));
        if (std::find(v.keys.begin(), v.keys.end(), k) != v.keys.end()) fail(kv.first, fmt::format("'{}' set twice", k));
        it->apply(v.set, kv.second);
        v.keys.push_back(k);
      }
    }
    if (v.name.empty()) fail(item, "a view needs a 'name'");
    if (v.name == "default") fail(item, "'default' names the top-level policy; pick another view name");
    if (v.clients.empty() && v.listeners.empty()) fail(item, "a view needs 'clients' and/or 'listeners' to select it");
    p.views.push_back(v);
  });
}

void check_policy(const PolicyConfig& p, const std::string& source) {
  auto check_set = [&](const PolicySetConfig& s, const std::string& where) {
    std::set<std::string> names;
    for (const auto& b : s.blocklists)
      if (!names.insert(b.name).second)
        throw ConfigError(fmt::format("{}:{}: {}blocklist name '{}' used twice", source, b.line, where, b.name));
  };
  check_set(p.top, "");
  std::set<std::string> views;
  for (const auto& v : p.views) {
    if (!views.insert(v.name).second)
      throw ConfigError(fmt::format("{}:{}: policy.views: view name '{}' used twice", source, v.line, v.name));
    check_set(v.set, fmt::format("view {}: ", v.name));
  }
}

}  // namespace sextant::resolver
