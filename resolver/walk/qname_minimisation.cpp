#include "resolver/walk/qname_minimisation.h"

#include <algorithm>

namespace sextant::resolver {

void QnameMinimiser::start(const wire::Name& target, const wire::Name& zone, bool enabled) {
  target_ = target;
  enabled_ = enabled;
  count_ = 0;
  asked_labels_ = target.label_count();
  enter_zone(zone);
}

void QnameMinimiser::enter_zone(const wire::Name& zone) {
  if (!enabled_) return;
  size_t zone_labels = std::min(zone.label_count(), target_.label_count());
  asked_labels_ = next_label_count(zone_labels);
  ++count_;
}

void QnameMinimiser::advance() {
  if (!enabled_) return;
  asked_labels_ = next_label_count(asked_labels_);
  ++count_;
}

size_t QnameMinimiser::next_label_count(size_t from_labels) const {
  size_t total = target_.label_count();
  if (from_labels >= total) return total;
  size_t remaining = total - from_labels;
  size_t add = 1;
  if (count_ >= one_label_steps_) {
    // Spread what is left over the steps still allowed; at the limit, jump
    // to the full name.
    size_t steps_left = max_count_ > count_ ? max_count_ - count_ : 1;
    add = (remaining + steps_left - 1) / steps_left;
  }
  return from_labels + std::max<size_t>(add, 1);
}

wire::Name QnameMinimiser::asked_name() const {
  if (!minimising()) return target_;
  return target_.suffix(asked_labels_);
}

}  // namespace sextant::resolver
