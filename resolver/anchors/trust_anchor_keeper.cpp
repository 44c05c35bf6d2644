#include "resolver/anchors/trust_anchor_keeper.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "dnssec/anchor_state_file.h"
#include "wire/errors.h"

namespace sextant::resolver {

namespace {

constexpr uint32_t kMaxTimerSeconds = 3600;  // re-read the wall clock at least hourly
constexpr size_t kMaxStateFile = 1024 * 1024;

std::string errno_text() { return std::strerror(errno); }

// The whole file; false with errno set when it cannot be opened.
bool read_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || out.size() > kMaxStateFile) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return n == 0 || out.size() > kMaxStateFile;
}

// Rewrites the file itself: for a directory the daemon's user may not
// create files in (the file was handed over to it).
std::string write_in_place(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return fmt::format("cannot write {}: {}", path, errno_text());
  std::string error;
  size_t done = 0;
  while (error.empty() && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error = fmt::format("cannot write {}: {}", path, errno_text());
    else done += static_cast<size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = fmt::format("cannot sync {}: {}", path, errno_text());
  ::close(fd);
  return error;
}

// Writes `text` to `path` through a temporary file renamed over it, so a
// crash never leaves half a file. An error message, or empty.
std::string write_atomically(const std::string& path, const std::string& text,
                             const std::optional<std::pair<uid_t, gid_t>>& owner) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EACCES && ::access(path.c_str(), W_OK) == 0) return write_in_place(path, text);
  if (fd < 0) return fmt::format("cannot create {}: {}", tmp, errno_text());
  std::string error;
  // Written as root between hand_over() and the drop of privileges, the new
  // file must still be server.user's (it replaces the one handed over).
  if (owner && ::geteuid() == 0 && ::fchown(fd, owner->first, owner->second) != 0)
    error = fmt::format("cannot chown {}: {}", tmp, errno_text());
  size_t done = 0;
  while (error.empty() && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error = fmt::format("cannot write {}: {}", tmp, errno_text());
    else done += static_cast<size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = fmt::format("cannot sync {}: {}", tmp, errno_text());
  ::close(fd);
  if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot rename {} to {}: {}", tmp, path, errno_text());
  }
  if (!error.empty()) ::unlink(tmp.c_str());
  return error;
}

}  // namespace

TrustAnchorKeeper::TrustAnchorKeeper(Settings settings, const dnssec::TrustAnchors& configured)
    : settings_(std::move(settings)), configured_(configured) {
  const std::string& path = settings_.state_file;
  std::string lock_error;
  lock_fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    lock_error = fmt::format("cannot open {}.lock: {}", path, errno_text());
    log(true, fmt::format("trust anchors: {}: the state file will not be updated", lock_error));
  } else if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    log(true, fmt::format("trust anchors: another process maintains {}: this one reads it but does not "
                          "write it",
                          path));
    ::close(lock_fd_);
    lock_fd_ = -1;
  }

  std::string text;
  if (read_file(path, text)) {
    if (text.size() > kMaxStateFile) throw std::runtime_error(fmt::format("{}: larger than 1 MiB", path));
    try {
      managed_ = dnssec::read_anchor_state(text, path);
    } catch (const wire::TextError& e) {
      throw std::runtime_error(e.what());
    }
  } else if (errno != ENOENT) {
    throw std::runtime_error(fmt::format("{}: cannot read it: {}", path, errno_text()));
  } else {
    for (const dnssec::TrustAnchor& a : configured_.anchors()) managed_.push_back(dnssec::managed_anchor_from(a));
    if (managed_.empty()) throw std::runtime_error(fmt::format("{}: no trust anchor to start from", path));
    log(false, fmt::format("trust anchors: {} does not exist; starting from the configured anchors", path));
    if (!lock_error.empty()) throw std::runtime_error(fmt::format("{}: cannot create it ({})", path, lock_error));
    if (owns_state_file()) {
      const std::string error = write_atomically(path, dnssec::write_anchor_state(managed_), owner_);
      if (!error.empty()) throw std::runtime_error(fmt::format("{}: {}", path, error));
    }
  }
  in_flight_.assign(managed_.size(), false);
  std::lock_guard lock(mu_);
  current_ = build_locked();
}

TrustAnchorKeeper::~TrustAnchorKeeper() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string TrustAnchorKeeper::hand_over(uid_t uid, gid_t gid) {
  if (!owns_state_file()) return {};
  // Under mu_: a probe's write waits, and every write after this one gives
  // the file to server.user (write_atomically), even before the drop.
  std::lock_guard lock(mu_);
  owner_ = std::make_pair(uid, gid);
  const std::string& path = settings_.state_file;
  for (const std::string& file : {path, path + ".lock"}) {
    if (::chown(file.c_str(), uid, gid) != 0) return fmt::format("cannot chown {}: {}", file, errno_text());
  }
  return {};
}

std::shared_ptr<const dnssec::TrustAnchors> TrustAnchorKeeper::anchors() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::shared_ptr<const dnssec::TrustAnchors> TrustAnchorKeeper::build_locked() const {
  auto built = std::make_shared<dnssec::TrustAnchors>(configured_);
  dnssec::TrustAnchors managed;
  for (const dnssec::ManagedAnchor& a : managed_) {
    const dnssec::TrustAnchor t = dnssec::trust_anchor_of(a);
    managed.add_zone(t.zone);
    for (const wire::Rdata& ds : t.ds) managed.add_ds(t.zone, ds);
  }
  built->replace_with(managed);
  return built;
}

void TrustAnchorKeeper::log(bool warning, const std::string& message) const {
  if (settings_.log) settings_.log(warning, message);
}

void TrustAnchorKeeper::write_state_locked() {
  if (!owns_state_file()) return;
  const std::string error = write_atomically(settings_.state_file, dnssec::write_anchor_state(managed_), owner_);
  if (error.empty()) return;
  ++counters_.write_errors;
  log(true, fmt::format("trust anchors: {} (the keys in memory are still used)", error));
}

void TrustAnchorKeeper::start(Walker& walker, TimerService& timers, Publish publish) {
  walker_ = &walker;
  timers_ = &timers;
  publish_ = std::move(publish);
  *alive_ = true;
  schedule_next();
}

void TrustAnchorKeeper::stop() {
  *alive_ = false;
  alive_ = std::make_shared<bool>(false);
  if (timers_ && timer_) timers_->cancel(timer_);
  timer_ = 0;
  walker_ = nullptr;
  timers_ = nullptr;
}

void TrustAnchorKeeper::schedule_next() {
  if (!timers_) return;
  if (timer_) timers_->cancel(timer_);
  timer_ = 0;
  const uint32_t now = timers_->wall_seconds();
  uint32_t wait = kMaxTimerSeconds;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < managed_.size(); ++i) {
      if (in_flight_[i]) continue;
      const uint32_t next = managed_[i].next_probe;
      wait = std::min(wait, next <= now ? 0u : next - now);
    }
  }
  timer_ = timers_->schedule(std::chrono::seconds(wait), [this, alive = alive_] {
    if (!*alive) return;
    timer_ = 0;
    probe_due();
  });
}

void TrustAnchorKeeper::probe_due() {
  const uint32_t now = timers_->wall_seconds();
  std::vector<std::pair<size_t, wire::Name>> due;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < managed_.size(); ++i) {
      if (in_flight_[i] || managed_[i].next_probe > now) continue;
      in_flight_[i] = true;
      due.emplace_back(i, managed_[i].zone);
    }
  }
  for (const auto& [index, zone] : due) {
    walker_->resolve(wire::Question{zone, wire::RRType::DNSKEY, wire::RRClass::IN},
                     ResolveOptions{.dnssec_ok = true, .checking_disabled = true, .refresh = true},
                     [this, i = index, alive = alive_](const ResolutionResult& r) {
                       if (*alive) on_probe(i, r);
                     });
  }
  schedule_next();
}

void TrustAnchorKeeper::on_probe(size_t index, const ResolutionResult& result) {
  const uint32_t now = timers_->wall_seconds();
  std::shared_ptr<const dnssec::TrustAnchors> changed;
  {
    std::lock_guard lock(mu_);
    in_flight_[index] = false;
    dnssec::ManagedAnchor& anchor = managed_[index];
    const std::string zone = anchor.zone.to_text();
    const wire::RRset* keys = nullptr;
    if (result.rcode == wire::Rcode::NOERROR) {
      for (const wire::RRset& set : result.answer) {
        if (set.type == wire::RRType::DNSKEY && set.owner == anchor.zone) keys = &set;
      }
    }
    dnssec::ProbeResult probe;
    if (keys) {
      dnssec::ValidationBudget budget;
      probe = dnssec::apply_probe(anchor, *keys, now, settings_.timers, budget);
    } else {
      dnssec::apply_probe_failure(anchor, now, settings_.timers);
      probe.reason = fmt::format("{}: the DNSKEY query failed ({}{}{})", zone, wire::to_string(result.rcode),
                                 result.ede ? ": " : "", result.ede ? result.ede->extra_text : "");
    }
    if (probe.validated) {
      ++counters_.probes_ok;
    } else {
      ++counters_.probes_failed;
      log(true, fmt::format("trust anchors: probe of {} failed, retry in {} s: {}", zone,
                            anchor.next_probe - now, probe.reason));
    }
    for (const dnssec::KeyTransition& t : probe.transitions) {
      log(false, fmt::format("trust anchors: {} key {} {} -> {}", zone, t.tag, dnssec::to_string(t.from),
                             dnssec::to_string(t.to)));
    }
    if (probe.validated && !probe.reason.empty()) log(true, "trust anchors: " + probe.reason);
    write_state_locked();
    if (probe.trust_changed) {
      current_ = build_locked();
      changed = current_;
      if (dnssec::trust_anchor_of(anchor).ds.empty()) {
        log(true, fmt::format("trust anchors: {} has no trusted key left: names below it fail (SERVFAIL) "
                              "until an operator gives a new anchor",
                              zone));
      }
    }
  }
  if (changed && publish_) publish_(changed);
  schedule_next();
}

std::vector<TrustAnchorKeeper::AnchorStatus> TrustAnchorKeeper::status() const {
  std::lock_guard lock(mu_);
  std::vector<AnchorStatus> out;
  for (const dnssec::ManagedAnchor& a : managed_) {
    out.push_back({a.zone, a.keys, a.ds_seeds.size(), a.last_success, a.next_probe, a.query_failed});
  }
  return out;
}

TrustAnchorKeeper::Counters TrustAnchorKeeper::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

}  // namespace sextant::resolver
