// `sextant control trace NAME [TYPE]`: one question resolved with a cold
// view of that name, told step by step, like Knot Resolver's trace and
// Unbound's lookup.
//
// Cold: the answer is not taken from the cache (RRsets, negative entries,
// RFC 8198 synthesis) and the resolution is not shared with identical
// questions in flight, so every server asked for the name shows in the
// trace. Delegations and DNSSEC keys the cache already holds are used (the
// trace says where the walk starts and why); what the resolution learns is
// cached as by any resolution (it is the freshest data there is).
//
// The resolution runs on a worker's loop; the control socket's thread waits
// for it, at most the resolution deadline plus a second.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "resolver/walk/resolution_result.h"
#include "resolver/walk/walk_trace.h"
#include "wire/message.h"

namespace sextant::resolver {

class Walker;

class TracedResolution : public std::enable_shared_from_this<TracedResolution> {
 public:
  explicit TracedResolution(wire::Question question);

  // On the walker's loop thread: starts the resolution.
  void start(Walker& walker);
  // From any thread: the resolution could not start (`why`).
  void fail(std::string why);
  // From any thread: waits until the result came or `limit` passed; true if it came.
  bool wait(std::chrono::milliseconds limit);
  // The reply for the control client: the trace, then the result (or
  // what is missing).
  std::string report() const;

 private:
  void finish(const ResolutionResult& result);

  wire::Question question_;
  std::shared_ptr<TraceCollector> trace_ = std::make_shared<TraceCollector>();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ResolutionResult> result_;
  std::string failure_;
  bool done_ = false;
};

}  // namespace sextant::resolver
