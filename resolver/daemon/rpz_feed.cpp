#include "resolver/daemon/rpz_feed.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "resolver/config/config.h"
#include "resolver/daemon/log.h"
#include "resolver/policy/address_match.h"
#include "resolver/policy/policy_builder.h"
#include "resolver/policy/rpz_feed_timers.h"
#include "resolver/policy/rpz_records.h"
#include "transports/socket_util.h"
#include "transports/zone_transfer_client.h"
#include "wire/errors.h"
#include "wire/message.h"
#include "wire/rdata_views.h"
#include "wire/zone_reader.h"
#include "wire/zone_transfer.h"

namespace sextant::resolver {

struct RpzFeed::Zone {
  RpzConfig config;
  std::string name;
  wire::Name origin;
  policy::RpzOptions options;
  std::vector<transports::SocketAddress> primaries;
  std::vector<policy::AddressPrefix> allow_notify;
  // Feed thread only (and load_caches before it starts).
  std::unique_ptr<policy::RpzRecordSet> records;  // null: no copy IXFR can apply to
  std::shared_ptr<const policy::RpzZone> served;   // built from `records`, the base of an IXFR edit
  // Under RpzFeed::mu_.
  policy::RpzFeedTimers timers;
  RpzFeedZoneStats stats;
};

namespace {

using SteadyClock = std::chrono::steady_clock;

double steady_now() {
  return std::chrono::duration<double>(SteadyClock::now().time_since_epoch()).count();
}
int64_t wall_now() { return static_cast<int64_t>(std::time(nullptr)); }

uint16_t random_id() {
  uint16_t id = 0;
  if (getrandom(&id, sizeof id, 0) != sizeof id) id = static_cast<uint16_t>(steady_now() * 1e6);
  return id;
}

std::vector<uint8_t> make_query(const wire::Name& zone, wire::RRType type, uint16_t id,
                                const wire::ResourceRecord* ixfr_soa) {
  wire::Message m;
  m.header.id = id;
  m.questions.push_back({zone, type, wire::RRClass::IN});
  if (ixfr_soa) m.authority.push_back(*ixfr_soa);  // RFC 1995 §3: the version we hold
  std::vector<uint8_t> out;
  wire::build_message(m, out);
  return out;
}

struct SoaAnswer {
  wire::ResourceRecord record;
  wire::SoaView soa;
};

// The primary's SOA for the zone, or an error message.
std::optional<SoaAnswer> query_soa(const transports::SocketAddress& primary, const wire::Name& zone,
                                   std::chrono::milliseconds timeout, const std::atomic<bool>& cancel,
                                   std::string& error) {
  const uint16_t id = random_id();
  std::vector<uint8_t> query = make_query(zone, wire::RRType::SOA, id, nullptr);
  std::optional<SoaAnswer> out;
  transports::StreamExchangeLimits limits;
  limits.timeout = timeout;
  limits.max_bytes = 65535;
  limits.cancel = &cancel;
  auto r = transports::stream_exchange(primary, query, limits, [&](std::span<const uint8_t> packet) {
    wire::Message m;
    if (wire::Message::parse(packet, m) != wire::WireError::ok || m.header.id != id || !m.header.qr()) {
      error = "the SOA answer does not parse or does not match the query";
      return true;
    }
    if (m.rcode() != wire::Rcode::NOERROR) {
      error = fmt::format("the SOA query was answered {}", wire::to_string(m.rcode()));
      return true;
    }
    for (const auto& rr : m.answer)
      if (rr.type == wire::RRType::SOA && rr.owner == zone)
        if (auto soa = wire::SoaView::parse(rr.rdata)) out = SoaAnswer{rr, *soa};
    if (!out) error = "the SOA answer holds no SOA for the zone (not authoritative for it?)";
    return true;
  });
  if (!r.ok && error.empty()) error = r.error.empty() ? "closed without an answer" : r.error;
  return out;
}

void write_cache(const std::string& path, const policy::RpzRecordSet& set) {
  // Written aside and renamed over: a crash mid-write leaves the previous copy.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp));
    out << "; RPZ " << set.origin().to_text() << " serial " << (set.serial() ? *set.serial() : 0)
        << ", written by sextant after a zone transfer\n";
    out << "$ORIGIN " << set.origin().to_text() << "\n";
    out << set.to_text();
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot rename {} to {}", tmp, path));
  }
}

}  // namespace

RpzFeed::RpzFeed(const PolicyConfig& policy, Install install) : install_(std::move(install)) {
  zones_ = zones_of(policy);
}

std::vector<std::unique_ptr<RpzFeed::Zone>> RpzFeed::zones_of(const PolicyConfig& policy) {
  std::vector<std::unique_ptr<Zone>> zones;
  auto add = [&](const RpzConfig& c) {
    if (c.primaries.empty()) return;
    const std::string name = policy::rpz_zone_name(c);
    for (const auto& z : zones)
      if (z->name == name) return;  // one feed per zone, whatever views use it
    auto z = std::make_unique<Zone>();
    z->config = c;
    z->name = name;
    z->origin = wire::Name::from_text(c.zone).lowercased();
    z->options = policy::rpz_options(c);
    for (const auto& p : c.primaries) {
      Endpoint ep = parse_endpoint(p, 53);
      z->primaries.push_back(transports::parse_address_or_throw(ep.to_text(), 53));
    }
    if (c.allow_notify.empty()) {
      for (const auto& p : z->primaries) {
        policy::Address a = policy::Address::from_sockaddr(p.get());
        policy::AddressPrefix prefix;
        prefix.family = a.family;
        std::memcpy(prefix.bytes, a.bytes, sizeof prefix.bytes);
        prefix.length = a.family == AF_INET ? 32 : 128;
        z->allow_notify.push_back(prefix);
      }
    } else {
      for (const auto& p : c.allow_notify)
        if (auto prefix = policy::AddressPrefix::parse(p)) z->allow_notify.push_back(*prefix);
    }
    z->stats.name = name;
    zones.push_back(std::move(z));
  };
  for (const auto& r : policy.top.rpz) add(r);
  for (const auto& v : policy.views)
    for (const auto& r : v.set.rpz) add(r);
  return zones;
}

void RpzFeed::reconfigure(const PolicyConfig& policy) {
  auto next = zones_of(policy);  // throws before anything changes
  stop();
  {
    std::lock_guard lock(mu_);
    const double now = steady_now();
    for (auto& z : next) {
      bool adopted = false;
      for (auto& old : zones_) {
        if (!old || old->name != z->name || !(old->config == z->config)) continue;
        z = std::move(old);  // unchanged: its copy, timers and counters go on
        adopted = true;
        break;
      }
      if (!adopted) z->timers.start(now, false);  // the running copy serves until the first transfer
    }
    zones_ = std::move(next);
  }
  start();
}

RpzFeed::~RpzFeed() { stop(); }

void RpzFeed::load_caches() {
  for (auto& zp : zones_) {
    Zone& z = *zp;
    const double now = steady_now();
    bool loaded = false;
    if (!z.config.file.empty() && ::access(z.config.file.c_str(), R_OK) == 0) {
      try {
        auto set = std::make_unique<policy::RpzRecordSet>(z.origin);
        wire::ZoneReaderOptions zo;
        zo.origin = z.origin;
        zo.default_ttl = 300;
        zo.max_include_depth = 0;
        wire::read_zone_file(z.config.file, zo, [&](wire::ResourceRecord&& rr, std::string_view, size_t) {
          if (!rr.owner.is_subdomain_of(z.origin))
            throw wire::TextError(fmt::format("{} is outside the zone", rr.owner.to_text()));
          set->add(rr);
        });
        auto zone = set->build(z.options, z.config.file);
        const auto serial = zone->serial();
        std::shared_ptr<const policy::RpzZone> installed = zone;
        if (install_(z.name, std::move(zone), nullptr)) {
          z.records = std::move(set);
          z.served = std::move(installed);
          loaded = true;
          log::info("rpz {}: serial {} loaded from {} (the last good transfer)", z.name, serial.value_or(0),
                    z.config.file);
          std::lock_guard lock(mu_);
          z.stats.serial = serial;
          z.stats.last_transfer = wall_now();
        }
      } catch (const std::exception& e) {
        log::warning("rpz {}: zonefile cache {} not used: {}", z.name, z.config.file, e.what());
      }
    }
    std::lock_guard lock(mu_);
    z.timers.start(now, loaded);
  }
}

void RpzFeed::start() {
  if (zones_.empty() || thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    cancel_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void RpzFeed::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancel_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RpzFeed::notify(const sockaddr* from, const wire::Name& zone) {
  const policy::Address a = policy::Address::from_sockaddr(from);
  std::lock_guard lock(mu_);
  for (auto& zp : zones_) {
    Zone& z = *zp;
    if (!(z.origin == zone)) continue;
    bool allowed = false;
    for (const auto& p : z.allow_notify) allowed = allowed || p.contains(a);
    if (!allowed) {
      ++z.stats.notify_refused;
      return false;
    }
    ++z.stats.notify_accepted;
    z.timers.notified(steady_now());
    cv_.notify_all();
    return true;
  }
  return false;
}

std::vector<RpzFeedZoneStats> RpzFeed::stats() const {
  std::lock_guard lock(mu_);
  std::vector<RpzFeedZoneStats> out;
  for (const auto& z : zones_) out.push_back(z->stats);
  return out;
}

void RpzFeed::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    double next = 1e300;
    Zone* due = nullptr;
    const double now = steady_now();
    for (auto& z : zones_) {
      if (z->timers.due(now)) {
        due = z.get();
        break;
      }
      next = std::min(next, z->timers.next_check());
    }
    if (!due) {
      // Wakes on NOTIFY and stop; at least once a minute regardless.
      double wait = std::clamp(next - now, 0.01, 60.0);
      cv_.wait_for(lock, std::chrono::duration<double>(wait));
      continue;
    }
    lock.unlock();
    refresh(*due);
    lock.lock();
  }
}

}  // namespace sextant::resolver

// ------------------------------------------------------------- one refresh

namespace sextant::resolver {

namespace {

struct TransferOutcome {
  bool ok = false;
  bool changed = false;
  std::string error;
};

// One transfer of `kind` from `primary`; the zone's copy changes only if
// all of it was read, applied and accepted by the policy loader.
TransferOutcome transfer(RpzFeed::Zone& z, const transports::SocketAddress& primary, wire::XfrKind kind,
                         const RpzFeed::Install& install, std::mutex& mu, const std::atomic<bool>& cancel) {
  TransferOutcome out;
  const auto started = SteadyClock::now();
  const std::string what = fmt::format("{} of {} from {}", wire::to_string(kind), z.name, primary.to_string());
  std::optional<wire::ResourceRecord> held_soa = z.records ? z.records->soa() : std::nullopt;
  if (kind == wire::XfrKind::ixfr && !held_soa) {
    out.error = what + ": no copy to apply differences to";
    return out;
  }
  const uint32_t held_serial = held_soa ? wire::SoaView::parse(held_soa->rdata)->serial : 0;
  const uint16_t id = random_id();
  policy::RpzTransfer sink(z.origin);
  wire::XfrParser parser(z.origin, kind, id, held_serial, sink);
  const std::vector<uint8_t> query = make_query(
      z.origin, kind == wire::XfrKind::axfr ? wire::RRType::AXFR : wire::RRType::IXFR, id,
      kind == wire::XfrKind::ixfr ? &*held_soa : nullptr);
  transports::StreamExchangeLimits limits;
  limits.timeout = std::chrono::seconds(z.config.transfer_timeout);
  limits.max_bytes = z.config.max_transfer_bytes;
  limits.cancel = &cancel;
  std::unique_ptr<policy::RpzRecordSet> full;
  std::shared_ptr<policy::RpzZone> zone;
  bool rebuilt = false;  // an IXFR that could not be applied in place
  try {
    auto r = transports::stream_exchange(primary, query, limits, [&](std::span<const uint8_t> m) {
      parser.feed(m);
      return parser.done();
    });
    if (!r.ok) {
      if (!r.closed) throw wire::XfrError(fmt::format("after {} message(s): {}", r.messages, r.error));
      parser.finish();
    }
    const std::string source =
        fmt::format("{} from {} serial {}",
                    parser.outcome() == wire::XfrParser::Outcome::incremental ? "IXFR" : "AXFR", primary.to_string(),
                    parser.serial());
    switch (parser.outcome()) {
      case wire::XfrParser::Outcome::up_to_date:
      case wire::XfrParser::Outcome::pending: out.ok = true; return out;
      case wire::XfrParser::Outcome::full:
        full = sink.take_full();
        if (!full) throw wire::XfrError("an empty zone");
        try {
          zone = full->build(z.options, source);
        } catch (const wire::TextError& e) {
          throw wire::XfrError(fmt::format("serial {}: the policy zone is refused: {}", parser.serial(), e.what()));
        }
        break;
      case wire::XfrParser::Outcome::incremental: {
        std::string error;
        if (!sink.apply_to(*z.records, error))
          throw wire::XfrError(fmt::format("serial {} -> {}: does not apply: {}", held_serial, parser.serial(), error));
        try {
          // In place when it can be (the tables copied and changed), else
          // rebuilt from the record set.
          if (z.served) zone = sink.edit(*z.served, source);
          if (!zone) {
            zone = z.records->build(z.options, source);
            rebuilt = true;
          }
        } catch (const wire::TextError& e) {
          z.records.reset();  // changed but refused: the next transfer is a whole one
          throw wire::XfrError(fmt::format("serial {}: the policy zone is refused: {}", parser.serial(), e.what()));
        }
        break;
      }
    }
  } catch (const std::exception& e) {
    out.error = fmt::format("{}: {} (the running copy stays)", what, e.what());
    std::lock_guard lock(mu);
    ++(kind == wire::XfrKind::axfr ? z.stats.axfr_failed : z.stats.ixfr_failed);
    z.stats.last_error = out.error;
    return out;
  }
  const bool incremental = parser.outcome() == wire::XfrParser::Outcome::incremental;
  const auto serial = zone->serial();
  const size_t triggers = zone->qname_triggers() + zone->client_ip_triggers() + zone->response_ip_triggers();
  std::shared_ptr<const policy::RpzZone> installed = zone;
  // Edited in place: the flush is planned from the names the IXFR touched.
  std::shared_ptr<const policy::NameTable> changed = incremental && !rebuilt ? sink.changed_triggers() : nullptr;
  if (!install(z.name, std::move(zone), std::move(changed))) {
    out.error = what + ": no view uses the zone any more";
    return out;
  }
  z.served = std::move(installed);
  if (full) z.records = std::move(full);
  const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count();
  log::info("rpz {}: serial {} by {} from {} ({} message(s), {}, {} triggers) in {:.1f} ms", z.name,
            serial.value_or(0), incremental ? "IXFR" : "AXFR", primary.to_string(), parser.messages(),
            incremental ? fmt::format("{} changes, {}", sink.changes(), rebuilt ? "rebuilt" : "applied in place")
                        : fmt::format("{} records", parser.records()),
            triggers, ms);
  {
    std::lock_guard lock(mu);
    ++(incremental ? z.stats.ixfr_ok : z.stats.axfr_ok);
    z.stats.serial = serial;
    z.stats.last_transfer = wall_now();
  }
  if (!z.config.file.empty()) {
    try {
      write_cache(z.config.file, *z.records);
    } catch (const std::exception& e) {
      log::warning("rpz {}: zonefile cache: {}", z.name, e.what());
    }
  }
  out.ok = out.changed = true;
  return out;
}

}  // namespace

void RpzFeed::refresh(Zone& z) {
  std::optional<uint32_t> served;
  {
    std::lock_guard lock(mu_);
    served = z.stats.serial;
  }
  std::vector<std::string> errors;
  for (const auto& primary : z.primaries) {
    if (cancel_) return;  // stopping: the timers stay as they were
    std::string error;
    auto soa = query_soa(primary, z.origin, std::min<std::chrono::milliseconds>(
                                                 std::chrono::seconds(z.config.transfer_timeout), std::chrono::seconds(10)),
                         cancel_, error);
    if (!soa) {
      errors.push_back(fmt::format("SOA query to {}: {}", primary.to_string(), error));
      continue;
    }
    bool ok = served && !wire::serial_newer(soa->soa.serial, *served);  // up to date
    if (!ok && served && z.records) {
      TransferOutcome t = transfer(z, primary, wire::XfrKind::ixfr, install_, mu_, cancel_);
      if (!t.ok) log::warning("rpz {}: {}; trying AXFR", z.name, t.error);
      ok = t.ok;
    }
    if (!ok) {
      TransferOutcome t = transfer(z, primary, wire::XfrKind::axfr, install_, mu_, cancel_);
      if (!t.ok) {
        log::error("rpz {}: {}", z.name, t.error);
        errors.push_back(t.error);
        continue;
      }
      ok = true;
    }
    std::lock_guard lock(mu_);
    z.timers.succeeded(steady_now(), policy::SoaTimers{soa->soa.refresh, soa->soa.retry, soa->soa.expire});
    z.stats.last_check = wall_now();
    if (z.stats.expired) log::info("rpz {}: in contact with {} again", z.name, primary.to_string());
    z.stats.expired = false;
    return;
  }
  std::lock_guard lock(mu_);
  const double now = steady_now();
  z.timers.failed(now);
  ++z.stats.checks_failed;
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
  z.stats.last_error = all;
  log::warning("rpz {}: refresh failed ({}); next try in {:.0f} s", z.name, all, z.timers.next_check() - now);
  if (!z.stats.expired && z.timers.expired(now)) {
    z.stats.expired = true;
    ++z.stats.expired_events;
    log::error("rpz {}: no primary reached for longer than the SOA expire; still serving serial {}", z.name,
               z.stats.serial ? fmt::format("{}", *z.stats.serial) : std::string("(none)"));
  }
}

}  // namespace sextant::resolver
