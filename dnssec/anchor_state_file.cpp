#include "dnssec/anchor_state_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <optional>

#include "dnssec/digests.h"
#include "dnssec/record_fields.h"
#include "wire/errors.h"
#include "wire/rdata.h"
#include "wire/zone_reader.h"

namespace sextant::dnssec {

namespace {

constexpr size_t kMaxStateFileSize = 1024 * 1024;
constexpr size_t kMaxAnchors = 64;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The decimal number right after `key` in `text`, if `key` occurs.
std::optional<uint32_t> number_after(std::string_view text, std::string_view key, bool& malformed) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(at + key.size());
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc() || end == rest.data()) {
    malformed = true;
    return std::nullopt;
  }
  return value;
}

std::string iso_time(uint32_t t) {
  if (t == 0) return "never";
  const std::time_t when = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&when, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  [[noreturn]] void fail(size_t line, std::string_view what) const {
    throw wire::TextError(fmt::format("{}:{}: {}", source_, line, what));
  }

  size_t anchor_for(const wire::Name& zone, size_t line) {
    for (size_t i = 0; i < anchors_.size(); ++i) {
      if (anchors_[i].zone == zone) return i;
    }
    if (anchors_.size() >= kMaxAnchors) fail(line, fmt::format("more than {} trust points", kMaxAnchors));
    anchors_.emplace_back();
    anchors_.back().zone = zone;
    return anchors_.size() - 1;
  }

  void header(std::string_view text, size_t line) {
    // ";;id: ZONE CLASS" starts a trust point; the others set its timers.
    if (starts_with(text, ";;id:")) {
      std::string_view rest = trim(text.substr(5));
      const std::string zone_text(rest.substr(0, rest.find_first_of(" \t")));
      try {
        current_ = anchor_for(wire::Name::from_text(zone_text), line);
      } catch (const wire::TextError& e) {
        fail(line, fmt::format("bad trust point name: {}", e.what()));
      }
      return;
    }
    struct Field {
      const char* key;
      uint32_t ManagedAnchor::*field;
    };
    static constexpr Field kFields[] = {
        {";;last_queried:", &ManagedAnchor::last_queried},   {";;last_success:", &ManagedAnchor::last_success},
        {";;next_probe_time:", &ManagedAnchor::next_probe},  {";;query_failed:", &ManagedAnchor::query_failed},
        {";;query_interval:", &ManagedAnchor::query_interval}, {";;retry_time:", &ManagedAnchor::retry_time},
    };
    for (const Field& f : kFields) {
      if (!starts_with(text, f.key)) continue;
      if (!current_) fail(line, fmt::format("'{}' before any ';;id:' line", f.key));
      const std::string_view value = trim(text.substr(std::string_view(f.key).size()));
      uint32_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || end == value.data()) fail(line, fmt::format("'{}' needs a number", f.key));
      anchors_[*current_].*f.field = v;
      return;
    }
    // Other ";;" lines are comments, as in Unbound's files.
  }

  void record(std::string_view text, size_t line) {
    const size_t comment = text.find(';');
    const std::string_view data = trim(text.substr(0, comment));
    const std::string_view notes = comment == std::string_view::npos ? std::string_view() : text.substr(comment);
    std::vector<wire::ResourceRecord> rrs;
    try {
      wire::ZoneReaderOptions options;
      options.max_include_depth = 0;
      options.max_records = 1;
      rrs = wire::read_zone_text(data, "state", options);
    } catch (const wire::TextError& e) {
      std::string what = e.what();
      if (starts_with(what, "state:1: ")) what.erase(0, 9);
      fail(line, what);
    }
    if (rrs.size() != 1) fail(line, "expected one record");
    const wire::ResourceRecord& rr = rrs.front();
    if (rr.rclass != wire::RRClass::IN) fail(line, "only class IN trust anchors");
    ManagedAnchor& anchor = anchors_[anchor_for(rr.owner, line)];
    if (rr.type == wire::RRType::DS) {
      DsFields ds;
      if (!read_ds(rr.rdata, ds)) fail(line, "malformed DS record");
      if (std::find(anchor.ds_seeds.begin(), anchor.ds_seeds.end(), rr.rdata) == anchor.ds_seeds.end()) {
        anchor.ds_seeds.push_back(rr.rdata);
      }
      return;
    }
    if (rr.type != wire::RRType::DNSKEY) {
      fail(line, fmt::format("a {} record: only DNSKEY and DS records belong here", wire::to_string(rr.type)));
    }
    DnskeyFields key;
    if (!read_dnskey(rr.rdata, key)) fail(line, "malformed DNSKEY record");
    if ((key.flags & kDnskeyFlagZone) == 0 || key.protocol != kDnskeyProtocol) fail(line, "the DNSKEY is not a zone key");
    if ((key.flags & kDnskeyFlagSep) == 0) {
      fail(line, "the DNSKEY is not a SEP key (flags 257): only key-signing keys are trust anchors");
    }
    bool malformed = false;
    ManagedKey managed;
    managed.dnskey = rr.rdata;
    managed.state = ManagedKeyState::valid;
    if (auto state = number_after(notes, ";;state=", malformed)) {
      if (*state > static_cast<uint32_t>(ManagedKeyState::removed)) {
        fail(line, fmt::format("state={} is not an RFC 5011 state (0 to 5)", *state));
      }
      managed.state = static_cast<ManagedKeyState>(*state);
    }
    managed.pending_count = number_after(notes, ";;count=", malformed).value_or(0);
    managed.last_change = number_after(notes, ";;lastchange=", malformed).value_or(0);
    if (malformed) fail(line, "';;state=', ';;count=' and ';;lastchange=' need numbers");
    if (managed.state == ManagedKeyState::start || managed.state == ManagedKeyState::removed) return;
    for (const ManagedKey& k : anchor.keys) {
      if (k.dnskey == managed.dnskey) fail(line, "the same key twice");
    }
    if (anchor.keys.size() >= kMaxManagedKeys) {
      fail(line, fmt::format("more than {} keys for {}", kMaxManagedKeys, anchor.zone.to_text()));
    }
    anchor.keys.push_back(std::move(managed));
  }

  std::vector<ManagedAnchor> take() { return std::move(anchors_); }

 private:
  std::string_view source_;
  std::vector<ManagedAnchor> anchors_;
  std::optional<size_t> current_;  // the trust point of the last ";;id:" line
};

}  // namespace

std::vector<ManagedAnchor> read_anchor_state(std::string_view text, std::string_view source_name) {
  if (text.size() > kMaxStateFileSize) {
    throw wire::TextError(fmt::format("{}: larger than {} bytes", source_name, kMaxStateFileSize));
  }
  Reader reader(source_name);
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty()) continue;
    if (starts_with(line, ";;")) {
      reader.header(line, line_number);
    } else if (line.front() == ';') {
      continue;
    } else if (line.front() == '$') {
      reader.fail(line_number, "directives ($ORIGIN, $TTL...) are not used in a state file");
    } else {
      reader.record(line, line_number);
    }
  }
  std::vector<ManagedAnchor> anchors = reader.take();
  if (anchors.empty()) throw wire::TextError(fmt::format("{}: no trust anchors", source_name));
  return anchors;
}

std::string write_anchor_state(std::span<const ManagedAnchor> anchors) {
  std::string out = "; autotrust trust anchor file (RFC 5011), written by sextant\n";
  for (const ManagedAnchor& a : anchors) {
    const std::string zone = a.zone.to_text();
    out += fmt::format(";;id: {} 1\n", zone);
    out += fmt::format(";;last_queried: {} ;;{}\n", a.last_queried, iso_time(a.last_queried));
    out += fmt::format(";;last_success: {} ;;{}\n", a.last_success, iso_time(a.last_success));
    out += fmt::format(";;next_probe_time: {} ;;{}\n", a.next_probe, iso_time(a.next_probe));
    out += fmt::format(";;query_failed: {}\n", a.query_failed);
    out += fmt::format(";;query_interval: {}\n", a.query_interval);
    out += fmt::format(";;retry_time: {}\n", a.retry_time);
    for (const ManagedKey& k : a.keys) {
      out += fmt::format("{}\t86400\tIN\tDNSKEY\t{} ;{{id = {} (ksk)}} ;;state={} [ {} ] ;;count={} ;;lastchange={} ;;{}\n",
                         zone, wire::rdata_to_text(wire::RRType::DNSKEY, k.dnskey), k.tag(),
                         static_cast<int>(k.state), to_string(k.state), k.pending_count, k.last_change,
                         iso_time(k.last_change));
    }
    for (const wire::Rdata& ds : a.ds_seeds) {
      out += fmt::format("{}\t86400\tIN\tDS\t{}\n", zone, wire::rdata_to_text(wire::RRType::DS, ds));
    }
  }
  return out;
}

}  // namespace sextant::dnssec
