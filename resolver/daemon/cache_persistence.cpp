#include "resolver/daemon/cache_persistence.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "cache/cache_key.h"
#include "resolver/daemon/log.h"
#include "resolver/walk/server_state_snapshot.h"

namespace sextant::resolver {

namespace {

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint32_t wall_seconds() { return static_cast<uint32_t>(std::time(nullptr)); }

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The whole file, or nullopt with `why` set ("" when it does not exist).
std::optional<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_bytes,
                                              std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = errno == ENOENT ? "" : std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  std::optional<std::vector<uint8_t>> out;
  if (fstat(fd, &st) != 0) {
    why = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = "not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    why = fmt::format("{} octets, more than the {} a snapshot of this cache can take",
                      st.st_size, max_bytes);
  } else {
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == bytes.size()) out = std::move(bytes);
    else why = "short read";
  }
  ::close(fd);
  return out;
}

}  // namespace

// --- the context -------------------------------------------------------------

SnapshotContext SnapshotContext::of(bool validation, const dnssec::TrustAnchors* anchors,
                                    unsigned nsec3_max_iterations,
                                    std::span<const wire::Name> negative_anchors) {
  SnapshotContext c;
  c.validation = validation;
  c.nsec3_max_iterations = nsec3_max_iterations;
  uint64_t h = 0;
  if (validation && anchors) {
    for (const auto& anchor : anchors->anchors()) {
      wire::Name zone = anchor.zone.lowercased();
      h = cache::hash_bytes(zone.wire().data(), zone.wire_size(), h);
      for (const auto& ds : anchor.ds) h = cache::hash_bytes(ds.data(), ds.size(), h);
    }
  }
  c.anchors = fmt::format("{:016x}", h);
  for (const auto& n : negative_anchors) c.negative_anchors.push_back(n.lowercased());
  return c;
}

namespace {

// The settings of a zone that its operator== compares, as one string (the
// fingerprint hashes it): a zone whose string changed answers differently.
std::string describe(const ZoneTrustConfig& t) {
  std::string out = fmt::format("nta={}", t.negative_trust_anchor ? 1 : 0);
  for (const auto& a : t.trust_anchors) out += fmt::format("|anchor={}", a);
  return out;
}

std::string describe(const ForwardZoneConfig& z) {
  std::string out = fmt::format("forward|first={}|{}", z.forward_first ? 1 : 0, describe(z.trust));
  for (const auto& u : z.upstreams) {
    out += fmt::format("|upstream={} {} {} {} {} {}", u.address, u.port, to_string(u.transport), u.tls_name,
                       u.ca_file, u.url);
    for (const auto& pin : u.spki_pins) out += fmt::format(" pin={}", pin);
  }
  return out;
}

std::string describe(const StubZoneConfig& z) {
  std::string out = fmt::format("stub|{}", describe(z.trust));
  for (const auto& s : z.servers) out += fmt::format("|server={} {} {}", s.address, s.port, s.name);
  return out;
}

SnapshotContext::ConfiguredZone configured(const std::string& zone, const std::string& description) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(description.data());
  return {wire::Name::from_text(zone).lowercased(),
          fmt::format("{:016x}", cache::hash_bytes(bytes, description.size(), 0))};
}

}  // namespace

std::vector<SnapshotContext::ConfiguredZone> SnapshotContext::zones_of(const Config& config) {
  std::vector<ConfiguredZone> out;
  for (const auto& z : config.forward_zones) out.push_back(configured(z.zone, describe(z)));
  for (const auto& z : config.stub_zones) out.push_back(configured(z.zone, describe(z)));
  return out;
}

std::vector<uint8_t> SnapshotContext::encode() const {
  std::string text = fmt::format("validation {}\nanchors {}\nnsec3-max-iterations {}\n",
                                 validation ? "on" : "off", anchors, nsec3_max_iterations);
  for (const auto& n : negative_anchors) text += fmt::format("nta {}\n", n.to_text());
  for (const auto& z : zones) text += fmt::format("zone {} {}\n", z.fingerprint, z.zone.to_text());
  return {text.begin(), text.end()};
}

std::optional<SnapshotContext> SnapshotContext::decode(std::span<const uint8_t> bytes) {
  SnapshotContext c;
  std::string text(bytes.begin(), bytes.end());
  bool seen_validation = false, seen_anchors = false, seen_iterations = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) return std::nullopt;
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t space = line.find(' ');
    if (space == std::string::npos) return std::nullopt;
    std::string key = line.substr(0, space), value = line.substr(space + 1);
    try {
      if (key == "validation" && (value == "on" || value == "off")) {
        c.validation = value == "on";
        seen_validation = true;
      } else if (key == "anchors") {
        c.anchors = value;
        seen_anchors = true;
      } else if (key == "nsec3-max-iterations") {
        c.nsec3_max_iterations = static_cast<unsigned>(std::stoul(value));
        seen_iterations = true;
      } else if (key == "nta") {
        c.negative_anchors.push_back(wire::Name::from_text(value).lowercased());
      } else if (key == "zone") {
        size_t split = value.find(' ');
        if (split == 0 || split == std::string::npos) return std::nullopt;
        c.zones.push_back({wire::Name::from_text(value.substr(split + 1)).lowercased(), value.substr(0, split)});
      } else {
        return std::nullopt;
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!seen_validation || !seen_anchors || !seen_iterations) return std::nullopt;
  return c;
}

std::string SnapshotContext::incompatibility(const SnapshotContext& saved) const {
  if (saved.validation != validation) {
    return fmt::format("it was written with DNSSEC validation {}", saved.validation ? "on" : "off");
  }
  if (saved.anchors != anchors) return "it was written under other trust anchors";
  if (saved.nsec3_max_iterations != nsec3_max_iterations) {
    return fmt::format("it was written with dnssec.nsec3-max-iterations {}",
                       saved.nsec3_max_iterations);
  }
  return {};
}

std::vector<wire::Name> SnapshotContext::changed_negative_anchors(
    const SnapshotContext& saved) const {
  std::vector<wire::Name> out;
  auto contains = [](const std::vector<wire::Name>& list, const wire::Name& n) {
    return std::find(list.begin(), list.end(), n) != list.end();
  };
  for (const auto& n : negative_anchors)
    if (!contains(saved.negative_anchors, n)) out.push_back(n);
  for (const auto& n : saved.negative_anchors)
    if (!contains(negative_anchors, n)) out.push_back(n);
  return out;
}

std::vector<wire::Name> SnapshotContext::changed_zones(const SnapshotContext& saved) const {
  std::vector<wire::Name> out;
  auto note = [&](const wire::Name& n) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  };
  for (const auto& z : zones)
    if (std::find(saved.zones.begin(), saved.zones.end(), z) == saved.zones.end()) note(z.zone);
  for (const auto& z : saved.zones)
    if (std::find(zones.begin(), zones.end(), z) == zones.end()) note(z.zone);
  return out;
}

// --- persistence -------------------------------------------------------------

CachePersistence::CachePersistence(std::string file, uint32_t save_interval_ms,
                                   uint64_t max_file_bytes, cache::Cache& cache,
                                   SnapshotContext context)
    : file_(std::move(file)),
      save_interval_ms_(save_interval_ms),
      max_file_bytes_(max_file_bytes),
      cache_(cache),
      context_(std::move(context)),
      context_bytes_(context_.encode()),
      last_save_(std::chrono::steady_clock::now()) {}

CachePersistence::~CachePersistence() { stop_loading(); }

void CachePersistence::prepare_directory(int uid, int gid) {
  if (file_.empty()) return;
  std::string dir = parent_of(file_);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    // Not ours to change: say so now rather than failing at stop.
    bool writable = uid < 0 ? ::access(dir.c_str(), W_OK) == 0
                            : (st.st_uid == static_cast<uid_t>(uid) && (st.st_mode & S_IWUSR)) ||
                                  (st.st_gid == static_cast<gid_t>(gid) && (st.st_mode & S_IWGRP)) ||
                                  (st.st_mode & S_IWOTH) || uid == 0;
    if (!writable) {
      log::warning("warm restart: {} is not writable by the user Sextant runs as: the cache will "
                   "not be saved (chown it, or set cache.warm-restart.file)",
                   dir);
    }
    return;
  }
  if (::stat(parent_of(dir).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  if (::mkdir(dir.c_str(), 0750) != 0) {
    log::warning("warm restart: cannot create {}: {}", dir, std::strerror(errno));
    return;
  }
  if ((uid >= 0 || gid >= 0) && ::chown(dir.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    log::warning("warm restart: cannot give {} to uid {}: {}", dir, uid, std::strerror(errno));
  }
}

void CachePersistence::start_loading() {
  if (file_.empty()) return;
  std::string why;
  auto bytes = read_file(file_, max_file_bytes_, why);
  if (!bytes) {
    if (why.empty()) log::info("warm restart: no cache snapshot at {} yet: starting cold", file_);
    else log::warning("warm restart: ignoring {}: {}; starting cold", file_, why);
    return;
  }
  {
    std::lock_guard lock(loaded_mu_);
    load_finished_ = false;
  }
  stats_.loading.store(true);
  loader_ = std::thread([this, b = std::move(*bytes)]() mutable { load(std::move(b)); });
}

void CachePersistence::load(std::vector<uint8_t> bytes) {
  auto started = std::chrono::steady_clock::now();
  auto finish = [&] {
    stats_.loading.store(false);
    std::lock_guard lock(loaded_mu_);
    load_finished_ = true;
    loaded_cv_.notify_all();
  };
  cache::SnapshotReader reader;
  cache::SnapshotError e = reader.open(bytes);
  if (e != cache::SnapshotError::ok) {
    log::warning("warm restart: ignoring {}: {}{}; starting cold", file_, cache::to_string(e),
                 e == cache::SnapshotError::other_version
                     ? fmt::format(" (version {}, this Sextant reads {})", reader.version(),
                                   cache::kSnapshotFormatVersion)
                     : std::string());
    finish();
    return;
  }
  auto saved = SnapshotContext::decode(reader.context());
  std::string incompatible = saved ? context_.incompatibility(*saved) : "its settings do not parse";
  if (!incompatible.empty()) {
    log::warning("warm restart: ignoring {}: {}; starting cold", file_, incompatible);
    finish();
    return;
  }
  for (const auto& name : context_.changed_negative_anchors(*saved)) reader.exclude_subtree(name);
  for (const auto& zone : context_.changed_zones(*saved)) {
    log::info("warm restart: forward or stub zone {} came, went or changed: nothing at or below it is restored",
              zone.to_text());
    reader.exclude_subtree(zone);
  }

  const uint64_t written = reader.written_at_ms();
  const uint64_t now_ms = wall_ms();
  const uint64_t elapsed_ms = now_ms > written ? now_ms - written : 0;
  const auto ticks = std::chrono::steady_clock::now();
  size_t servers = 0;
  cache::SnapshotReader::ExtensionHandler on_extension =
      [&](uint8_t kind, std::span<const uint8_t> payload) {
        if (kind != kServerStateRecordKind) return true;  // a later extension: skipped
        ++servers;
        return restore_server_state(payload, elapsed_ms, tables_, ticks);
      };
  cache::SnapshotReader::Step step;
  do {
    if (stop_loader_.load()) {
      load_interrupted_.store(true);
      log::warning("warm restart: stopped while loading {} ({} records of it restored); the "
                   "file is kept as it is",
                   file_, reader.records_read());
      finish();
      return;
    }
    step = reader.restore(cache_, wall_seconds(), kRecordsPerSlice, on_extension);
  } while (step == cache::SnapshotReader::Step::more);

  const auto& st = reader.stats();
  stats_.restored_entries.store(st.restored.total());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  std::string summary = fmt::format(
      "{} RRsets, {} answers, {} negative, {} delegations, {} servers in {} ms (written {} s ago; "
      "{} aged out, {} newer in the cache, {} refused, {} excluded)",
      st.restored.rrsets, st.restored.answers, st.restored.negatives, st.restored.delegations,
      servers, ms, elapsed_ms / 1000, st.expired, st.kept, st.rejected + st.too_large,
      st.excluded);
  if (step == cache::SnapshotReader::Step::failed) {
    log::warning("warm restart: {} is damaged at octet {} ({}); kept what came before: {}", file_,
                 reader.error_offset(), cache::to_string(reader.error()), summary);
  } else {
    log::info("warm restart: restored from {}: {}", file_, summary);
  }
  finish();
}

bool CachePersistence::wait_loaded(std::chrono::milliseconds max) {
  std::unique_lock lock(loaded_mu_);
  return loaded_cv_.wait_for(lock, max, [&] { return load_finished_; });
}

void CachePersistence::stop_loading() {
  stop_loader_.store(true);
  if (loader_.joinable()) loader_.join();
}

std::vector<uint8_t> CachePersistence::snapshot(cache::SnapshotCounts* counts) {
  cache::SnapshotWriter writer(context_bytes_, wall_ms());
  writer.add_cache(cache_, wall_seconds());
  std::vector<const ServerStateTable*> tables(tables_.begin(), tables_.end());
  add_server_states(writer, tables, std::chrono::steady_clock::now());
  if (counts) *counts = writer.counts();
  return writer.finish();
}

bool CachePersistence::save(const char* why) {
  if (file_.empty()) return false;
  std::lock_guard lock(save_mu_);
  auto started = std::chrono::steady_clock::now();
  last_save_ = started;
  cache::SnapshotCounts counts;
  std::vector<uint8_t> bytes = snapshot(&counts);
  std::string tmp = file_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  bool ok = fd >= 0 && write_all(fd, bytes.data(), bytes.size());
  int saved_errno = errno;
  if (fd >= 0 && ::close(fd) != 0 && ok) {
    ok = false;
    saved_errno = errno;
  }
  if (ok && ::rename(tmp.c_str(), file_.c_str()) != 0) {
    ok = false;
    saved_errno = errno;
  }
  if (!ok) {
    if (fd >= 0) ::unlink(tmp.c_str());
    stats_.saves_failed.fetch_add(1);
    log::warning("warm restart: cannot save the cache to {}: {} (cache.warm-restart.file sets "
                 "the path; cache.warm-restart.enabled: false turns this off)",
                 file_, std::strerror(saved_errno));
    return false;
  }
  stats_.saves_ok.fetch_add(1);
  stats_.last_save_entries.store(counts.total());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  log::info("warm restart: saved the cache {} to {}: {} RRsets, {} answers, {} negative, {} "
            "delegations, {} servers, {} octets in {} ms",
            why, file_, counts.rrsets, counts.answers, counts.negatives, counts.delegations,
            counts.extensions, bytes.size(), ms);
  return true;
}

void CachePersistence::on_tick(std::chrono::steady_clock::time_point now) {
  if (file_.empty() || save_interval_ms_ == 0 || stats_.loading.load()) return;
  if (now - last_save_ >= std::chrono::milliseconds(save_interval_ms_)) save("(periodic)");
}

void CachePersistence::save_at_stop() {
  if (file_.empty()) return;
  stop_loading();
  if (load_interrupted_.load()) return;
  save("at stop");
}

}  // namespace sextant::resolver
