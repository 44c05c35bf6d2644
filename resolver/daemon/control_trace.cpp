#include "resolver/daemon/control_trace.h"

#include <fmt/format.h>

#include "resolver/walk/walker.h"
#include "wire/rdata.h"

namespace sextant::resolver {

TracedResolution::TracedResolution(wire::Question question) : question_(std::move(question)) {}

void TracedResolution::start(Walker& walker) {
  ResolveOptions options;
  options.dnssec_ok = true;  // keep the signatures in the result shown
  options.refresh = true;    // cold: the name's answer is not taken from the cache
  options.trace = trace_;    // and not shared with other questions
  std::weak_ptr<TracedResolution> self = weak_from_this();
  walker.resolve(question_, options, [self](const ResolutionResult& result) {
    if (auto run = self.lock()) run->finish(result);
  });
}

void TracedResolution::fail(std::string why) {
  std::lock_guard lock(mu_);
  failure_ = std::move(why);
  done_ = true;
  cv_.notify_all();
}

void TracedResolution::finish(const ResolutionResult& result) {
  std::lock_guard lock(mu_);
  result_ = result;
  done_ = true;
  cv_.notify_all();
}

bool TracedResolution::wait(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return done_; });
}

std::string TracedResolution::report() const {
  std::string out = fmt::format(
      "trace {} {}: not answered from the cache, not shared with other questions; what it "
      "learns is cached\n",
      question_.name.to_text(), wire::to_string(question_.type));
  for (const auto& line : trace_->lines()) out += line + "\n";
  if (size_t dropped = trace_->dropped()) out += fmt::format("({} more lines not kept)\n", dropped);
  std::lock_guard lock(mu_);
  if (!failure_.empty()) return out + fmt::format("error: {}\n", failure_);
  if (!result_) return out + "error: no result within the resolution deadline\n";
  const ResolutionResult& r = *result_;
  out += fmt::format(";; rcode {}, DNSSEC {}, {} upstream queries, {} ms\n", wire::to_string(r.rcode),
                     to_string(r.validation), r.upstream_queries, r.elapsed.count());
  if (r.ede) out += fmt::format(";; EDE {}: {}\n", r.ede->info_code, r.ede->extra_text);
  auto section = [&](const char* name, const std::vector<wire::RRset>& sets) {
    if (sets.empty()) return;
    out += fmt::format(";; {}\n", name);
    for (const auto& set : sets) {
      for (const auto& rdata : set.rdatas) {
        out += fmt::format("{} {} IN {} {}\n", set.owner.to_text(), set.ttl, wire::to_string(set.type),
                           wire::rdata_to_text(set.type, rdata));
      }
      for (const auto& sig : set.signatures) {
        out += fmt::format("{} {} IN RRSIG {}\n", set.owner.to_text(), set.ttl,
                           wire::rdata_to_text(wire::RRType::RRSIG, sig));
      }
    }
  };
  section("answer", r.answer);
  section("authority", r.authority);
  return out;
}

}  // namespace sextant::resolver
