// Presentation format of SVCB/HTTPS SvcParams (svc_params_text.h).
#include "wire/svc_params_text.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "wire/base_encoding.h"
#include "wire/errors.h"
#include "wire/rdata_text_fields.h"

namespace sextant::wire::detail {

namespace {

std::string svc_key_to_text(uint16_t key) {
  switch (static_cast<SvcParamKey>(key)) {
    case SvcParamKey::mandatory: return "mandatory";
    case SvcParamKey::alpn: return "alpn";
    case SvcParamKey::no_default_alpn: return "no-default-alpn";
    case SvcParamKey::port: return "port";
    case SvcParamKey::ipv4hint: return "ipv4hint";
    case SvcParamKey::ech: return "ech";
    case SvcParamKey::ipv6hint: return "ipv6hint";
    case SvcParamKey::dohpath: return "dohpath";
    case SvcParamKey::ohttp: return "ohttp";
  }
  return "key" + std::to_string(key);
}

std::optional<uint16_t> svc_key_from_text(std::string_view s) {
  static constexpr std::string_view kNames[] = {"mandatory", "alpn",     "no-default-alpn",
                                                "port",      "ipv4hint", "ech",
                                                "ipv6hint",  "dohpath",  "ohttp"};
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (s == kNames[i]) return static_cast<uint16_t>(i);
  }
  if (s.size() > 3 && s.size() <= 8 && s.substr(0, 3) == "key") {
    std::string_view digits = s.substr(3);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // RFC 9460 §2.1: no leading zeros
    unsigned v = 0;
    for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
    if (v >= 65535) return std::nullopt;  // 65535 is the reserved "Invalid key"
    return static_cast<uint16_t>(v);
  }
  return std::nullopt;
}

// Splits a value-list (RFC 9460 Appendix A.1): items separated by ',', with
// "\," and "\\" standing for a literal comma and backslash.
std::vector<std::string> split_value_list(std::span<const uint8_t> value, std::string_view key) {
  std::vector<std::string> items(1);
  for (size_t i = 0; i < value.size(); ++i) {
    char c = static_cast<char>(value[i]);
    if (c == '\\') {
      if (i + 1 >= value.size()) throw TextError(fmt::format("dangling backslash in {} value", key));
      items.back().push_back(static_cast<char>(value[++i]));
    } else if (c == ',') {
      items.emplace_back();
    } else {
      items.back().push_back(c);
    }
  }
  for (const auto& item : items) {
    if (item.empty()) throw TextError(fmt::format("empty item in {} value list", key));
  }
  return items;
}

}  // namespace

// The presentation format rejects a mandatory list naming an absent key
// (RFC 9460 §8 and Appendix D.3); such wire data is shown generically.
bool svc_mandatory_keys_present(std::span<const uint8_t> params) noexcept {
  auto has_key = [&](uint16_t wanted) {
    for (size_t pos = 0; pos + 4 <= params.size(); pos += 4 + read_u16(params, pos + 2)) {
      if (read_u16(params, pos) == wanted) return true;
    }
    return false;
  };
  if (params.size() < 4 || read_u16(params, 0) != 0) return true;  // no mandatory key
  size_t len = read_u16(params, 2);
  for (size_t i = 0; i + 1 < len && 4 + i + 1 < params.size(); i += 2) {
    if (!has_key(read_u16(params, 4 + i))) return false;
  }
  return true;
}

// Expects params already checked by check_svc_params().
std::string svc_params_to_text(std::span<const uint8_t> params) {
  std::string out;
  size_t pos = 0;
  while (pos < params.size()) {
    uint16_t key = read_u16(params, pos);
    size_t len = read_u16(params, pos + 2);
    auto value = params.subspan(pos + 4, len);
    pos += 4 + len;
    if (!out.empty()) out.push_back(' ');
    out += svc_key_to_text(key);
    switch (static_cast<SvcParamKey>(key)) {
      case SvcParamKey::mandatory:
        out.push_back('=');
        for (size_t i = 0; i < len; i += 2) {
          if (i != 0) out.push_back(',');
          out += svc_key_to_text(read_u16(value, i));
        }
        break;
      case SvcParamKey::alpn: {
        // Two levels of escaping (RFC 9460 Appendix A.1): ',' and '\' inside
        // an alpn-id are escaped for the value list, then the whole list is
        // escaped as a <character-string>.
        std::string list;
        size_t i = 0;
        while (i < len) {
          size_t id_len = value[i];
          if (!list.empty()) list.push_back(',');
          for (size_t k = 0; k < id_len; ++k) {
            char c = static_cast<char>(value[i + 1 + k]);
            if (c == ',' || c == '\\') list.push_back('\\');
            list.push_back(c);
          }
          i += 1 + id_len;
        }
        out.push_back('=');
        out += quoted({reinterpret_cast<const uint8_t*>(list.data()), list.size()});
        break;
      }
      case SvcParamKey::no_default_alpn:
      case SvcParamKey::ohttp:
        break;
      case SvcParamKey::port:
        out += fmt::format("={}", read_u16(value, 0));
        break;
      case SvcParamKey::ipv4hint:
        out.push_back('=');
        for (size_t i = 0; i < len; i += 4) {
          if (i != 0) out.push_back(',');
          out += ipv4_to_text(value.subspan(i, 4));
        }
        break;
      case SvcParamKey::ipv6hint:
        out.push_back('=');
        for (size_t i = 0; i < len; i += 16) {
          if (i != 0) out.push_back(',');
          out += ipv6_to_text(value.subspan(i, 16));
        }
        break;
      case SvcParamKey::ech:
        // Two appends, not operator+: GCC 12 -O2 misreads the temporary (-Wrestrict).
        out.push_back('=');
        out += base64_encode(value);
        break;
      case SvcParamKey::dohpath:
      default:
        if (len != 0) {
          out.push_back('=');
          out += quoted(value);
        }
        break;
    }
  }
  return out;
}

std::vector<uint8_t> svc_params_from_tokens(std::span<const TextToken> tokens) {
  struct Param {
    uint16_t key;
    std::vector<uint8_t> value;
  };
  std::vector<Param> params;
  std::vector<uint16_t> mandatory;
  for (const auto& token : tokens) {
    if (token.quoted) throw TextError("SvcParam must be key=value, not a quoted string");
    std::string_view text = token.text;
    size_t eq = text.find('=');
    std::string_view key_text = text.substr(0, eq);
    auto key = svc_key_from_text(key_text);
    if (!key) throw TextError("unknown SvcParamKey '" + std::string(key_text) + "'");
    bool has_value = eq != std::string_view::npos;
    std::vector<uint8_t> raw;  // the value after <character-string> unescaping
    if (has_value) {
      std::string_view v = text.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
      } else if (v.find('"') != std::string_view::npos) {
        throw TextError("stray quote in SvcParam '" + std::string(text) + "'");
      }
      raw = decode_text_escapes(v, 65535);
    }
    for (const auto& p : params) {
      if (p.key == *key) throw TextError("duplicate SvcParamKey '" + std::string(key_text) + "'");
    }
    std::string key_name = svc_key_to_text(*key);
    auto require_value = [&] {
      if (raw.empty()) throw TextError("SvcParam " + key_name + " needs a value");
    };
    std::string raw_text(raw.begin(), raw.end());
    Param param{*key, {}};
    switch (static_cast<SvcParamKey>(*key)) {
      case SvcParamKey::mandatory: {
        require_value();
        for (const auto& item : split_value_list(raw, key_name)) {
          auto k = svc_key_from_text(item);
          if (!k) throw TextError("unknown SvcParamKey '" + item + "' in mandatory");
          if (*k == 0) throw TextError("mandatory must not list itself");
          if (std::find(mandatory.begin(), mandatory.end(), *k) != mandatory.end())
            throw TextError("duplicate key '" + item + "' in mandatory");
          mandatory.push_back(*k);
        }
        std::vector<uint16_t> sorted = mandatory;
        std::sort(sorted.begin(), sorted.end());
        for (uint16_t k : sorted) put_u16(param.value, k);
        break;
      }
      case SvcParamKey::alpn:
        require_value();
        for (const auto& id : split_value_list(raw, key_name)) {
          if (id.size() > 255) throw TextError("alpn-id longer than 255 octets");
          param.value.push_back(static_cast<uint8_t>(id.size()));
          param.value.insert(param.value.end(), id.begin(), id.end());
        }
        break;
      case SvcParamKey::no_default_alpn:
      case SvcParamKey::ohttp:
        if (!raw.empty()) throw TextError("SvcParam " + key_name + " takes no value");
        break;
      case SvcParamKey::port:
        require_value();
        put_u16(param.value, static_cast<uint16_t>(parse_decimal(raw_text, 0xFFFF, "port")));
        break;
      case SvcParamKey::ipv4hint:
        require_value();
        for (const auto& a : split_value_list(raw, key_name)) parse_ipv4(a, param.value);
        break;
      case SvcParamKey::ipv6hint:
        require_value();
        for (const auto& a : split_value_list(raw, key_name)) parse_ipv6(a, param.value);
        break;
      case SvcParamKey::ech: {
        require_value();
        DecodeError e = base64_decode(raw_text, param.value);
        if (e != DecodeError::ok) throw TextError(std::string("bad base64 in ech: ") + to_string(e));
        break;
      }
      case SvcParamKey::dohpath:
        require_value();
        param.value = raw;
        break;
      default:
        param.value = raw;
        break;
    }
    if (param.value.size() > 65535) throw TextError("SvcParam " + key_name + " value too long");
    params.push_back(std::move(param));
  }
  for (uint16_t k : mandatory) {
    bool present = std::any_of(params.begin(), params.end(), [&](const Param& p) { return p.key == k; });
    if (!present) throw TextError("mandatory lists " + svc_key_to_text(k) + ", which is not present");
  }
  std::sort(params.begin(), params.end(), [](const Param& a, const Param& b) { return a.key < b.key; });
  std::vector<uint8_t> out;
  for (const auto& p : params) {
    put_u16(out, p.key);
    put_u16(out, static_cast<uint16_t>(p.value.size()));
    out.insert(out.end(), p.value.begin(), p.value.end());
  }
  return out;
}

}  // namespace sextant::wire::detail
