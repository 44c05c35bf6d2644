// QNAME minimisation (RFC 9156): which name to show the servers of the
// current zone cut, so each learns only one label more than it needs.
//
// Relaxed mode: the walker turns minimisation off for the rest of a name
// (and asks the full name) when a server answers a minimised query with
// NXDOMAIN, an error, or a CNAME, since broken servers do that for empty
// non-terminals. The number of minimised steps is bounded by
// MAX_MINIMISE_COUNT, the first MINIMISE_ONE_LAB steps adding one label
// each and the rest spreading the remaining labels (RFC 9156 §2.3).
#pragma once

#include <cstdint>

#include "wire/name.h"
#include "wire/types.h"

namespace sextant::resolver {

class QnameMinimiser {
 public:
  // Minimised queries ask for A: RFC 9156 prefers it to NS, which more
  // servers mishandle.
  static constexpr wire::RRType kMinimisedType = wire::RRType::A;

  QnameMinimiser() = default;
  QnameMinimiser(bool enabled, uint32_t max_count, uint32_t one_label_steps)
      : enabled_(enabled), max_count_(max_count), one_label_steps_(one_label_steps) {}

  // A new target name (start, or after a CNAME/DNAME): minimisation restarts.
  void start(const wire::Name& target, const wire::Name& zone, bool enabled);
  // A referral moved the cut to `zone`; the step count carries on.
  void enter_zone(const wire::Name& zone);
  // The minimised name exists without a cut (answer or NODATA): ask one
  // step deeper next time.
  void advance();
  // Relaxed-mode fallback: ask the full name from now on.
  void disable() noexcept { enabled_ = false; }

  bool enabled() const noexcept { return enabled_; }
  // The name to ask now (the target itself when not minimising or done).
  wire::Name asked_name() const;
  // True if asked_name() is a strict ancestor of the target.
  bool minimising() const noexcept { return enabled_ && asked_labels_ < target_.label_count(); }
  uint32_t steps() const noexcept { return count_; }

 private:
  // Labels to show after the next step from `from_labels`.
  size_t next_label_count(size_t from_labels) const;

  bool enabled_ = false;
  uint32_t max_count_ = 10;
  uint32_t one_label_steps_ = 4;
  uint32_t count_ = 0;
  wire::Name target_;
  size_t asked_labels_ = 0;
};

}  // namespace sextant::resolver
