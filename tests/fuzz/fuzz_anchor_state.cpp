// libFuzzer target for the RFC 5011 state file reader
// (dnssec/anchor_state_file.h), a file the daemon reads at start and that
// an operator may edit by hand or bring over from Unbound.
//
// Properties checked on every input (any violation aborts):
// - reading never crashes, leaks or reads out of bounds (ASan/UBSan), and
//   fails only with wire::TextError;
// - what reads back from a file it accepted is a fixed point: writing it
//   and reading that again gives the same trust points, keys, states and
//   timers, and the same text when written once more;
// - every trust point it accepts turns into a validator anchor without
//   throwing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dnssec/anchor_state_file.h"
#include "wire/errors.h"

using namespace sextant;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool same(const dnssec::ManagedAnchor& a, const dnssec::ManagedAnchor& b) {
  if (!(a.zone == b.zone) || a.ds_seeds != b.ds_seeds || a.keys.size() != b.keys.size() ||
      a.last_queried != b.last_queried || a.last_success != b.last_success || a.next_probe != b.next_probe ||
      a.query_failed != b.query_failed || a.query_interval != b.query_interval || a.retry_time != b.retry_time) {
    return false;
  }
  for (size_t i = 0; i < a.keys.size(); ++i) {
    const auto& x = a.keys[i];
    const auto& y = b.keys[i];
    if (x.dnskey != y.dnskey || x.state != y.state || x.last_change != y.last_change ||
        x.pending_count != y.pending_count) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<dnssec::ManagedAnchor> anchors;
  try {
    anchors = dnssec::read_anchor_state(input, "fuzz");
  } catch (const wire::TextError&) {
    return 0;
  }
  for (const auto& a : anchors) (void)dnssec::trust_anchor_of(a);
  const std::string written = dnssec::write_anchor_state(anchors);
  std::vector<dnssec::ManagedAnchor> again;
  try {
    again = dnssec::read_anchor_state(written, "rewritten");
  } catch (const wire::TextError&) {
    std::abort();  // what we write must read back
  }
  require(again.size() == anchors.size());
  for (size_t i = 0; i < anchors.size(); ++i) require(same(anchors[i], again[i]));
  require(dnssec::write_anchor_state(again) == written);
  return 0;
}
