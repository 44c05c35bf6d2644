// The parsers the settings table (config.cpp) binds its rows with: each
// turns a YAML value into a field of Config, or throws a message that the
// loader prefixes with file:line. Only for resolver/config/.
#pragma once

#include <arpa/inet.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "resolver/config/config.h"
#include "wire/name.h"

namespace sextant::resolver::config_binders {

using Apply = std::function<void(Config&, const YAML::Node&)>;

// One row of the settings table: the YAML key path, its default (as YAML
// text, parsed by the same code as user input), and what it means.
struct Setting {
  const char* key;
  const char* default_yaml;
  const char* doc;
  Apply apply;
};

inline std::string scalar(const YAML::Node& n) {
  if (!n.IsScalar()) throw std::invalid_argument("expected a single value");
  return n.Scalar();
}

inline uint64_t parse_unsigned(const std::string& s, uint64_t max) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw std::invalid_argument(fmt::format("'{}' is not a non-negative integer", s));
  if (v > max) throw std::invalid_argument(fmt::format("{} is larger than the maximum {}", v, max));
  return v;
}

inline bool parse_bool(const std::string& s) {
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  throw std::invalid_argument(fmt::format("'{}' is not a boolean (use true or false)", s));
}

inline std::vector<std::string> scalar_list(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) throw std::invalid_argument("expected a list");
  for (const auto& item : n) out.push_back(scalar(item));
  return out;
}

template <typename T>
Apply bind_uint(T Config::*field, uint64_t min, uint64_t max) {
  return [=](Config& c, const YAML::Node& n) {
    uint64_t v = parse_unsigned(scalar(n), max);
    if (v < min) throw std::invalid_argument(fmt::format("{} is below the minimum {}", v, min));
    c.*field = static_cast<T>(v);
  };
}

inline Apply bind_bool(bool Config::*field) {
  return [=](Config& c, const YAML::Node& n) { c.*field = parse_bool(scalar(n)); };
}

inline Apply bind_string(std::string Config::*field) {
  return [=](Config& c, const YAML::Node& n) { c.*field = n.IsNull() ? std::string() : scalar(n); };
}

inline Apply bind_strings(std::vector<std::string> Config::*field) {
  return [=](Config& c, const YAML::Node& n) { c.*field = scalar_list(n); };
}

template <typename T>
Apply bind_duration_ms(T Config::*field, uint64_t min_ms, uint64_t max_ms) {
  return [=](Config& c, const YAML::Node& n) {
    uint64_t v = parse_duration_ms(scalar(n));
    if (v < min_ms || v > max_ms)
      throw std::invalid_argument(fmt::format("duration must be between {} ms and {} ms", min_ms, max_ms));
    c.*field = static_cast<T>(v);
  };
}

// A TTL-like setting in whole seconds; accepts durations ("1d", "3600").
inline Apply bind_seconds(uint32_t Config::*field, uint64_t max_s) {
  return [=](Config& c, const YAML::Node& n) {
    uint64_t ms = parse_duration_ms(scalar(n));
    if (ms % 1000 != 0) throw std::invalid_argument("must be a whole number of seconds");
    if (ms / 1000 > max_s) throw std::invalid_argument(fmt::format("must be at most {} seconds", max_s));
    c.*field = static_cast<uint32_t>(ms / 1000);
  };
}

inline Apply bind_endpoints(std::vector<Endpoint> Config::*field, uint16_t default_port) {
  return [=](Config& c, const YAML::Node& n) {
    std::vector<Endpoint> out;
    for (const auto& s : scalar_list(n)) out.push_back(parse_endpoint(s, default_port));
    c.*field = std::move(out);
  };
}

// A URL path: starts with '/', no query, fragment, spaces or controls.
inline Apply bind_url_path(std::string Config::*field) {
  return [=](Config& c, const YAML::Node& n) {
    std::string v = scalar(n);
    if (v.empty() || v.front() != '/') throw std::invalid_argument(fmt::format("'{}' must start with '/'", v));
    for (char ch : v) {
      if (ch == '?' || ch == '#' || static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
        throw std::invalid_argument(fmt::format("'{}' is not a plain URL path (no '?', '#', spaces or controls)", v));
    }
    c.*field = v;
  };
}

// QUIC listeners need a concrete address: libuv 1.44 reports no packet's
// destination address, which QUIC needs for every packet it sends.
inline Apply bind_quic_endpoints(std::vector<Endpoint> Config::*field, uint16_t default_port) {
  return [=](Config& c, const YAML::Node& n) {
    std::vector<Endpoint> out;
    for (const auto& s : scalar_list(n)) {
      Endpoint ep = parse_endpoint(s, default_port);
      unsigned char bytes[16] = {};
      bool v4 = inet_pton(AF_INET, ep.address.c_str(), bytes) == 1;
      if (!v4) inet_pton(AF_INET6, ep.address.c_str(), bytes);
      if (std::all_of(bytes, bytes + (v4 ? 4 : 16), [](unsigned char b) { return b == 0; }))
        throw std::invalid_argument(fmt::format("'{}': QUIC needs a concrete address, not the wildcard", s));
      out.push_back(ep);
    }
    c.*field = std::move(out);
  };
}

// Domain names in presentation format, kept as text once they parse.
inline std::vector<std::string> checked_names(const YAML::Node& n) {
  std::vector<std::string> out = scalar_list(n);
  for (const auto& name : out) {
    try {
      (void)wire::Name::from_text(name);
    } catch (const std::exception& e) {
      throw std::invalid_argument(fmt::format("'{}' is not a domain name: {}", name, e.what()));
    }
  }
  return out;
}

inline Apply bind_names(std::vector<std::string> Config::*field) {
  return [=](Config& c, const YAML::Node& n) { c.*field = checked_names(n); };
}

inline Apply bind_prefixes(std::vector<Prefix> Config::*field) {
  return [=](Config& c, const YAML::Node& n) {
    std::vector<Prefix> out;
    for (const auto& s : scalar_list(n)) out.push_back(parse_prefix(s));
    c.*field = std::move(out);
  };
}

// Settings of a sub-struct of Config (the defences' sections).
template <typename Sub, typename T>
Apply bind_sub_uint(Sub Config::*sub, T Sub::*field, uint64_t min, uint64_t max) {
  return [=](Config& c, const YAML::Node& n) {
    uint64_t v = parse_unsigned(scalar(n), max);
    if (v < min) throw std::invalid_argument(fmt::format("{} is below the minimum {}", v, min));
    c.*sub.*field = static_cast<T>(v);
  };
}

template <typename Sub>
Apply bind_sub_bool(Sub Config::*sub, bool Sub::*field) {
  return [=](Config& c, const YAML::Node& n) { c.*sub.*field = parse_bool(scalar(n)); };
}

template <typename Sub>
Apply bind_sub_names(Sub Config::*sub, std::vector<std::string> Sub::*field) {
  return [=](Config& c, const YAML::Node& n) { c.*sub.*field = checked_names(n); };
}

template <typename Sub>
Apply bind_sub_prefixes(Sub Config::*sub, std::vector<std::string> Sub::*field) {
  return [=](Config& c, const YAML::Node& n) {
    std::vector<std::string> out = scalar_list(n);
    for (const auto& p : out) (void)parse_prefix(p);
    c.*sub.*field = std::move(out);
  };
}

inline Apply bind_duration_ms_sub_seconds() {
  return [](Config& c, const YAML::Node& n) {
    uint64_t ms = parse_duration_ms(scalar(n));
    if (ms < 2 * 3600 * 1000ull || ms > 365 * 86400 * 1000ull)
      throw std::invalid_argument("must be between 2h (longer than a cookie's lifetime) and 365d");
    c.cookies.rotation_s = static_cast<uint32_t>(ms / 1000);
  };
}

inline Apply apply_cookie_secret() {
  return [](Config& c, const YAML::Node& n) {
    std::string s = n.IsNull() ? std::string() : scalar(n);
    uint8_t key[16];
    if (!s.empty()) parse_secret_hex(s, key);
    c.cookies.secret = s;
  };
}

inline Apply apply_cookie_accept() {
  return [](Config& c, const YAML::Node& n) {
    std::vector<std::string> out = scalar_list(n);
    uint8_t key[16];
    for (const auto& s : out) parse_secret_hex(s, key);
    c.cookies.accept_secrets = std::move(out);
  };
}

inline Apply bind_string_event(std::string EventLogConfig::*field) {
  return [=](Config& c, const YAML::Node& n) { c.event_log.*field = n.IsNull() ? std::string() : scalar(n); };
}

inline Apply bind_uint_event(uint32_t EventLogConfig::*field, uint32_t min, uint32_t max) {
  return [=](Config& c, const YAML::Node& n) {
    uint64_t v = parse_unsigned(scalar(n), max);
    if (v < min) throw std::invalid_argument(fmt::format("{} is below the minimum {}", v, min));
    c.event_log.*field = static_cast<uint32_t>(v);
  };
}

inline void apply_acl(Config& c, const YAML::Node& n) {
  std::vector<AclRule> rules;
  if (!n.IsNull() && !n.IsSequence()) throw std::invalid_argument("expected a list of {subnet, action}");
  for (const auto& item : n) {
    if (!item.IsMap()) throw std::invalid_argument("each rule is a map with 'subnet' and 'action'");
    for (const auto& kv : item) {
      std::string k = kv.first.Scalar();
      if (k != "subnet" && k != "action")
        throw std::invalid_argument(fmt::format("unknown key '{}' in an access-control rule", k));
    }
    if (!item["subnet"] || !item["action"])
      throw std::invalid_argument("each rule needs both 'subnet' and 'action'");
    AclRule r;
    r.prefix = parse_prefix(scalar(item["subnet"]));
    std::string a = scalar(item["action"]);
    if (a == "allow") r.action = AclAction::allow;
    else if (a == "refuse") r.action = AclAction::refuse;
    else if (a == "deny") r.action = AclAction::deny;
    else throw std::invalid_argument(fmt::format("action '{}' is not allow, refuse or deny", a));
    rules.push_back(r);
  }
  c.access_control = std::move(rules);
}

inline void apply_log_level(Config& c, const YAML::Node& n) {
  std::string s = scalar(n);
  if (s == "error") c.log_level = LogLevel::error;
  else if (s == "warning") c.log_level = LogLevel::warning;
  else if (s == "info") c.log_level = LogLevel::info;
  else if (s == "debug") c.log_level = LogLevel::debug;
  else throw std::invalid_argument(fmt::format("'{}' is not error, warning, info or debug", s));
}

constexpr uint64_t kDay = 86400;

}  // namespace sextant::resolver::config_binders
