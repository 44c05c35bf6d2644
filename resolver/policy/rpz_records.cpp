#include "resolver/policy/rpz_records.h"

#include <fmt/format.h>

#include "wire/errors.h"
#include "wire/rdata.h"
#include "wire/rdata_views.h"

namespace sextant::resolver::policy {

std::string RpzRecordSet::key_of(const wire::ResourceRecord& rr) {
  wire::Name owner = rr.owner.lowercased();
  std::string key;
  key.reserve(owner.wire_size() + 2 + rr.rdata.size());
  key.append(reinterpret_cast<const char*>(owner.wire().data()), owner.wire_size());
  auto t = static_cast<uint16_t>(rr.type);
  key.push_back(static_cast<char>(t >> 8));
  key.push_back(static_cast<char>(t));
  key.append(reinterpret_cast<const char*>(rr.rdata.data()), rr.rdata.size());
  return key;
}

bool RpzRecordSet::add(const wire::ResourceRecord& rr) {
  if (rr.type == wire::RRType::SOA) {
    // One SOA: the new one replaces the old.
    if (!soa_key_.empty()) records_.erase(soa_key_);
    soa_key_ = key_of(rr);
    if (auto soa = wire::SoaView::parse(rr.rdata)) serial_ = soa->serial;
  }
  auto [it, fresh] = records_.insert_or_assign(key_of(rr), rr.ttl);
  (void)it;
  return fresh;
}

bool RpzRecordSet::remove(const wire::ResourceRecord& rr) {
  std::string key = key_of(rr);
  if (key == soa_key_) return false;  // the SOA is replaced, never removed
  return records_.erase(key) == 1;
}

bool RpzRecordSet::decode(const std::string& key, uint32_t ttl, wire::ResourceRecord& rr) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size());
  size_t pos = 0;
  if (wire::Name::parse_uncompressed(bytes, pos, rr.owner) != wire::WireError::ok || pos + 2 > bytes.size())
    return false;  // cannot happen: the keys are built by key_of()
  rr.type = static_cast<wire::RRType>((bytes[pos] << 8) | bytes[pos + 1]);
  rr.rclass = wire::RRClass::IN;
  rr.ttl = ttl;
  rr.rdata.assign(bytes.begin() + static_cast<std::ptrdiff_t>(pos + 2), bytes.end());
  return true;
}

std::optional<wire::ResourceRecord> RpzRecordSet::soa() const {
  auto it = records_.find(soa_key_);
  wire::ResourceRecord rr;
  if (it == records_.end() || !decode(it->first, it->second, rr)) return std::nullopt;
  return rr;
}

void RpzRecordSet::for_each(const std::function<void(const wire::ResourceRecord&)>& f) const {
  wire::ResourceRecord rr;
  for (const auto& [key, ttl] : records_)
    if (decode(key, ttl, rr)) f(rr);
}

std::shared_ptr<RpzZone> RpzRecordSet::build(const RpzOptions& options, const std::string& source) const {
  if (!serial_) throw wire::TextError("the zone has no SOA");
  RpzZoneBuilder builder(origin_, options, source);
  for_each([&](const wire::ResourceRecord& rr) {
    try {
      builder.add(rr);
    } catch (const wire::TextError& e) {
      throw wire::TextError(fmt::format("{} {}: {}", rr.owner.to_text(), wire::to_string(rr.type), e.what()));
    }
  });
  return builder.finish();
}

std::string RpzRecordSet::to_text() const {
  std::string soa, rest;
  for_each([&](const wire::ResourceRecord& rr) {
    (rr.type == wire::RRType::SOA ? soa : rest) += wire::record_to_text(rr) + "\n";
  });
  return soa + rest;
}

// ---------------------------------------------------------------- transfer

void RpzTransfer::full_record(const wire::ResourceRecord& rr) {
  if (!full_) full_ = std::make_unique<RpzRecordSet>(origin_);
  full_->add(rr);
}

void RpzTransfer::diff_begin(uint32_t from) { diffs_.push_back(Diff{from, from, {}, {}, {}}); }

void RpzTransfer::diff_additions(uint32_t to, const wire::ResourceRecord& new_soa) {
  diffs_.back().to = to;
  diffs_.back().new_soa = new_soa;
}

void RpzTransfer::diff_delete(const wire::ResourceRecord& rr) { diffs_.back().deleted.push_back(rr); }
void RpzTransfer::diff_add(const wire::ResourceRecord& rr) { diffs_.back().added.push_back(rr); }

size_t RpzTransfer::changes() const noexcept {
  size_t n = 0;
  for (const auto& d : diffs_) n += d.deleted.size() + d.added.size();
  return n;
}

std::shared_ptr<RpzZone> RpzTransfer::edit(const RpzZone& base, const std::string& source) const {
  RpzZoneBuilder builder = RpzZoneBuilder::editing(base, source);
  auto named = [](const wire::ResourceRecord& rr, auto&& f) {
    try {
      return f();
    } catch (const wire::TextError& e) {
      throw wire::TextError(fmt::format("{} {}: {}", rr.owner.to_text(), wire::to_string(rr.type), e.what()));
    }
  };
  for (const auto& d : diffs_) {
    for (const auto& r : d.deleted)
      if (!named(r, [&] { return builder.remove(r); })) return nullptr;
    for (const auto& r : d.added) named(r, [&] { builder.add(r); });
    builder.add(d.new_soa);
  }
  return builder.finish();
}

std::shared_ptr<const NameTable> RpzTransfer::changed_triggers() const {
  auto names = std::make_shared<NameTable>();
  const size_t origin_labels = origin_.label_count();
  auto note = [&](const wire::ResourceRecord& rr) {
    if (!rr.owner.is_subdomain_of(origin_) || rr.owner.label_count() == origin_labels) return true;
    const size_t relative_labels = rr.owner.label_count() - origin_labels;
    std::string_view last = rr.owner.label(relative_labels - 1);
    auto is = [&](std::string_view w) {
      return last.size() == w.size() && std::equal(last.begin(), last.end(), w.begin(), [](char a, char b) {
               return wire::ascii_lower(static_cast<uint8_t>(a)) == static_cast<uint8_t>(b);
             });
    };
    if (is("rpz-ip") || is("rpz-client-ip")) return false;
    if (is("rpz-nsdname") || is("rpz-nsip")) return true;
    const size_t relative_size = rr.owner.wire_size() - origin_.wire_size();
    std::vector<uint8_t> relative(rr.owner.wire().begin(), rr.owner.wire().begin() + static_cast<std::ptrdiff_t>(relative_size));
    relative.push_back(0);
    wire::Name name = wire::Name::from_wire(relative).lowercased();
    if (name.is_wildcard()) name = name.parent();
    names->insert(name, 0);
    return names->size() <= 100000;
  };
  for (const auto& d : diffs_) {
    for (const auto& r : d.deleted)
      if (!note(r)) return nullptr;
    for (const auto& r : d.added)
      if (!note(r)) return nullptr;
  }
  return names;
}

bool RpzTransfer::apply_to(RpzRecordSet& set, std::string& error) const {
  // What was done, to undo it on an inconsistency.
  std::vector<wire::ResourceRecord> removed, inserted;
  const std::optional<wire::ResourceRecord> old_soa = set.soa();
  auto undo = [&] {
    for (auto it = inserted.rbegin(); it != inserted.rend(); ++it) set.remove(*it);
    for (const auto& r : removed) set.add(r);
    if (old_soa) set.add(*old_soa);
  };
  for (const auto& d : diffs_) {
    if (set.serial() != d.from) {
      error = fmt::format("differences from serial {} do not apply to our serial {}", d.from,
                          set.serial() ? fmt::format("{}", *set.serial()) : "none");
      undo();
      return false;
    }
    for (const auto& r : d.deleted) {
      if (!set.remove(r)) {
        error = fmt::format("serial {} -> {}: deletes {} {}, which we do not hold", d.from, d.to, r.owner.to_text(),
                            wire::to_string(r.type));
        undo();
        return false;
      }
      removed.push_back(r);
    }
    for (const auto& r : d.added)
      if (set.add(r)) inserted.push_back(r);
    set.add(d.new_soa);
  }
  return true;
}

}  // namespace sextant::resolver::policy
