#include "resolver/daemon/policy_runtime.h"

#include <fmt/format.h>

#include "resolver/daemon/log.h"

namespace sextant::resolver {

PolicyRuntime::PolicyRuntime(unsigned workers, cache::Cache& cache)
    : cache_(cache), counters_(workers), policy_(std::make_shared<const policy::Policy>()) {}

policy::BuildReport PolicyRuntime::load(const PolicyConfig& config) {
  std::lock_guard build(build_mu_);
  policy::BuildContext ctx;
  ctx.counters = &counters_;
  ctx.tags = &tags_;
  policy::BuildReport report;
  auto next = policy::build_policy(config, ctx, report);
  std::lock_guard lock(mu_);
  policy_ = std::move(next);
  return report;
}

std::shared_ptr<const policy::Policy> PolicyRuntime::current() const {
  std::lock_guard lock(mu_);
  return policy_;
}

size_t PolicyRuntime::install(std::shared_ptr<const policy::Policy> next, const SwitchWorkers& switch_workers,
                              bool& switched, std::vector<policy::AnswerFlush>* plan) {
  std::shared_ptr<const policy::Policy> old = current();
  std::vector<policy::AnswerFlush> flushes = plan ? std::move(*plan) : policy::plan_answer_flush(*old, *next);
  switched = switch_workers(next);
  {
    std::lock_guard lock(mu_);
    if (!switched) retired_.push_back(old);  // a worker may still read it
    policy_ = std::move(next);
  }
  size_t flushed = 0;
  for (const auto& f : flushes) {
    for (uint16_t tag : {f.tag, static_cast<uint16_t>(f.tag + 1)}) {  // the view's and its DNS64 clients'
      // The ECS-scoped answers of the view go too (scoped_answer_cache.h).
      if (f.everything) {
        flushed += cache_.answers().flush_view(tag) + cache_.scoped_answers().flush_view(tag);
      } else {
        auto covered = [&f](const wire::Name& n) { return f.covers(n); };
        flushed += cache_.answers().flush_view(tag, covered) + cache_.scoped_answers().flush_view(tag, covered);
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    ++swaps_;
    flushed_ += flushed;
  }
  old.reset();  // the old policy goes now (unless a slow worker holds it, above)
  return flushed;
}

std::string PolicyRuntime::reload(const PolicyConfig& config, const SwitchWorkers& switch_workers) {
  std::lock_guard build(build_mu_);
  std::shared_ptr<const policy::Policy> previous = current();
  policy::BuildContext ctx;
  ctx.counters = &counters_;
  ctx.tags = &tags_;
  ctx.previous = previous.get();
  policy::BuildReport report;
  std::shared_ptr<const policy::Policy> next;
  try {
    next = policy::build_policy(config, ctx, report);
  } catch (const std::exception& e) {
    log::error("reload: keeping the running policy: {}", e.what());
    return fmt::format("error: policy: keeping the running policy: {}\n", e.what());
  }
  previous.reset();  // install() takes its own reference; the old policy must not outlive the swap here
  bool switched = false;
  size_t flushed = install(std::move(next), switch_workers, switched);
  std::string out;
  for (const auto& e : report.errors) {
    log::error("reload: policy: {}", e);
    out += fmt::format("error: policy: {}\n", e);
  }
  for (const auto& w : report.warnings) {
    log::warning("reload: policy: {}", w);
    out += fmt::format("warning: policy: {}\n", w);
  }
  if (!switched) out += "error: policy: not every worker switched in time; run reload again\n";
  log::info("reload: policy rebuilt in {:.3f} s ({} entries); {} cached answers flushed", report.seconds,
            report.entries, flushed);
  out += fmt::format("ok: policy rebuilt ({} entries, {:.3f} s); {} cached answers flushed\n", report.entries,
                     report.seconds, flushed);
  return out;
}

bool PolicyRuntime::replace_rpz_zone(const std::string& name, std::shared_ptr<const policy::RpzZone> zone,
                                     const SwitchWorkers& switch_workers, std::string* report,
                                     std::shared_ptr<const policy::NameTable> changed) {
  std::lock_guard build(build_mu_);
  auto next = current()->with_rpz_zone(name, std::move(zone));
  if (!next) return false;
  bool switched = false;
  const bool hinted = changed != nullptr;
  std::vector<policy::AnswerFlush> plan;
  if (hinted) plan = policy::plan_rpz_flush(*next, name, std::move(changed));
  size_t flushed = install(std::move(next), switch_workers, switched, hinted ? &plan : nullptr);
  if (report) *report = fmt::format("policy zone {} replaced; {} cached answers flushed{}", name, flushed,
                                    switched ? "" : " (not every worker switched in time)");
  return true;
}

PolicySnapshot PolicyRuntime::snapshot() const {
  PolicySnapshot s;
  std::shared_ptr<const policy::Policy> p;
  {
    std::lock_guard lock(mu_);
    p = policy_;
    s.swaps = swaps_;
    s.flushed_answers = flushed_;
  }
  s.hits = counters_.samples();
  std::vector<const void*> seen;  // components shared between views are reported once
  auto once = [&](const void* c) {
    if (std::find(seen.begin(), seen.end(), c) != seen.end()) return false;
    seen.push_back(c);
    return true;
  };
  for (const auto& v : p->views()) {
    if (v.local_data && once(v.local_data.get()))
      s.components.push_back({"local-data", v.name, v.local_data->record_count(), v.local_data->memory_bytes()});
    if (v.allowlist && once(v.allowlist.get()))
      s.components.push_back({"allowlist", v.name, v.allowlist->names().size(), v.allowlist->names().memory_bytes()});
    for (const auto& b : v.blocklists)
      if (once(b.get())) s.components.push_back({"blocklist", b->name(), b->size(), b->memory_bytes()});
    for (const auto& z : v.rpz) {
      if (!once(z.get())) continue;
      s.components.push_back({"rpz", z->name(),
                              z->qname_triggers() + z->client_ip_triggers() + z->response_ip_triggers(),
                              z->memory_bytes()});
      s.zones.push_back({z->name(), z->serial(), static_cast<int64_t>(z->loaded_at())});
    }
  }
  return s;
}

}  // namespace sextant::resolver
