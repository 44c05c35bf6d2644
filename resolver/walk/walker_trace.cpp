// Telling a resolution's steps (walk_trace.h): the line format and the
// short descriptions of cuts, server choices, replies, classifications and
// results that the walker's parts write when a resolution is traced.
//
//   r12 +35ms q0: asked 192.0.2.53 (ns1.example.com.) for www.example.com. A over udp: ...
//
// "r12" is the resolution (lines of many interleave in the log), "+35ms"
// the time since it started, "q0" the query of its plan (q0 is the
// client's question; sub-queries say what they are when they start).
#include "resolver/walk/walker.h"

#include <fmt/format.h>

#include <algorithm>

#include "wire/rdata.h"

namespace sextant::resolver {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using wire::RRset;

namespace {

// Sets and records shown in one line before "... and N more".
constexpr size_t kShownSets = 6;
constexpr size_t kShownRecords = 4;

const char* to_text(dnssec::SecurityState s) {
  switch (s) {
    case dnssec::SecurityState::secure: return "secure";
    case dnssec::SecurityState::insecure: return "insecure";
    case dnssec::SecurityState::bogus: return "bogus";
    case dnssec::SecurityState::indeterminate: return "indeterminate";
  }
  return "unknown";
}

std::string set_text(const RRset& set) {
  std::string out = fmt::format("{} {} {}", set.owner.to_text(), set.ttl, wire::to_string(set.type));
  for (size_t i = 0; i < set.rdatas.size() && i < kShownRecords; ++i) {
    out += fmt::format("{}{}", i == 0 ? " " : ", ", wire::rdata_to_text(set.type, set.rdatas[i]));
  }
  if (set.rdatas.size() > kShownRecords) {
    out += fmt::format(" (and {} more)", set.rdatas.size() - kShownRecords);
  }
  if (!set.signatures.empty()) out += fmt::format(" +{} RRSIG", set.signatures.size());
  return out;
}

}  // namespace

void Walker::trace_line(const Resolution& r, const SubQuery* q, std::string_view text) const {
  if (!r.trace) return;
  auto elapsed = duration_cast<milliseconds>(timers_.now() - r.started).count();
  if (q) {
    r.trace->line(fmt::format("r{} +{}ms q{}: {}", r.id, elapsed, q->index, text));
  } else {
    r.trace->line(fmt::format("r{} +{}ms: {}", r.id, elapsed, text));
  }
}

std::string Walker::describe_sets(const std::vector<RRset>& sets) {
  if (sets.empty()) return "nothing";
  std::string out;
  for (size_t i = 0; i < sets.size() && i < kShownSets; ++i) {
    out += (i == 0 ? "" : "; ") + set_text(sets[i]);
  }
  if (sets.size() > kShownSets) out += fmt::format("; and {} more RRsets", sets.size() - kShownSets);
  return out;
}

std::string Walker::describe_cut(const ZoneCut& cut) const {
  std::string out;
  for (const auto& ns : cut.servers) {
    out += out.empty() ? "" : ", ";
    out += ns.name.to_text();
    if (!ns.addresses.empty()) {
      out += " [";
      for (size_t i = 0; i < ns.addresses.size(); ++i) {
        out += (i == 0 ? "" : " ") + ns.addresses[i].to_string();
      }
      out += "]";
    } else if (ns.lookup == NameServerEntry::Lookup::failed) {
      out += " [no address: unresolvable]";
    } else {
      out += " [no address yet]";
    }
  }
  return fmt::format("{} ({})", cut.zone.to_text(), out.empty() ? "no servers" : out);
}

std::string Walker::describe_choice(const SubQuery& q, const ServerAddress& address,
                                    size_t candidates, bool all_dead) const {
  std::string name;
  for (const auto& ns : q.cut.servers) {
    if (std::find(ns.addresses.begin(), ns.addresses.end(), address) != ns.addresses.end()) {
      name = ns.name.to_text();
      break;
    }
  }
  uint32_t tries = 0;
  for (const auto& t : q.cut.tried) {
    if (t.address == address) tries = t.tries;
  }
  std::string why;
  if (candidates == 1) {
    why = "the only server left to ask";
  } else {
    why = fmt::format("fewest tries ({}), then lowest expected RTT, of {} candidates", tries,
                      candidates);
  }
  const std::optional<ServerState> state = servers_.find(address);
  if (all_dead) {
    why += "; every server of the zone is held down, so they are asked anyway";
  } else if (state && state->dead) {
    why += "; its hold-down ended: a probe";
  }
  if (state && state->rtt_known) {
    why += fmt::format("; smoothed RTT {} ms",
                       duration_cast<milliseconds>(state->srtt).count());
  } else {
    why += "; not heard from yet";
  }
  if (state && state->mangles_case) why += "; it breaks 0x20, so TCP";
  if (state && state->no_edns) why += "; it refuses EDNS";
  return fmt::format("{}{}: {}", address.to_string(), name.empty() ? "" : " (" + name + ")", why);
}

std::string Walker::describe_reply(const wire::Message& msg) {
  std::string flags;
  if (msg.header.aa()) flags += " AA";
  if (msg.header.tc()) flags += " TC";
  return fmt::format("{}{}, {} answer, {} authority, {} additional records{}",
                     wire::to_string(msg.rcode()), flags, msg.answer.size(), msg.authority.size(),
                     msg.additional.size(), msg.edns ? "" : ", no EDNS");
}

std::string Walker::describe_classified(const ClassifiedResponse& c) {
  switch (c.kind) {
    case ResponseKind::answer: {
      std::vector<RRset> all = c.chain;
      all.insert(all.end(), c.answers.begin(), c.answers.end());
      return fmt::format("answer: {}", describe_sets(all));
    }
    case ResponseKind::chase:
      return fmt::format("chain to {}, which this zone cannot answer for: {}",
                         c.final_name.to_text(), describe_sets(c.chain));
    case ResponseKind::nxdomain:
      return fmt::format("NXDOMAIN for {}{}", c.final_name.to_text(),
                         c.soa ? fmt::format(" (SOA {} TTL {})", c.soa->owner.to_text(), c.soa->ttl)
                               : " without SOA (not cached: RFC 2308 §5)");
    case ResponseKind::nodata:
      return fmt::format("NODATA for {}{}", c.final_name.to_text(),
                         c.soa ? fmt::format(" (SOA {} TTL {})", c.soa->owner.to_text(), c.soa->ttl)
                               : " without SOA (not cached: RFC 2308 §5)");
    case ResponseKind::referral: {
      std::string glue = describe_sets(c.glue);
      return fmt::format("referral to {}: {}; glue: {}{}", c.referral_zone.to_text(),
                         c.referral_ns ? set_text(*c.referral_ns) : std::string("no NS"), glue,
                         c.referral_ds ? "; with DS" : "");
    }
    case ResponseKind::lame: return fmt::format("lame: {}", c.reason);
    case ResponseKind::server_error: return fmt::format("server error: {}", c.reason);
    case ResponseKind::cname_loop: return fmt::format("CNAME loop: {}", c.reason);
    case ResponseKind::dname_overflow:
      return fmt::format("DNAME substitution too long at {} (YXDOMAIN)", c.final_name.to_text());
  }
  return "unknown";
}

std::string Walker::describe_result(const ResolutionResult& result) {
  std::string out = wire::to_string(result.rcode);
  if (!result.answer.empty()) out += fmt::format("; answer: {}", describe_sets(result.answer));
  if (!result.authority.empty()) out += fmt::format("; authority: {}", describe_sets(result.authority));
  if (result.validation != ValidationState::unchecked) {
    out += fmt::format("; DNSSEC {}", to_string(result.validation));
  }
  if (result.ede) {
    out += fmt::format("; EDE {} \"{}\"", result.ede->info_code, result.ede->extra_text);
  }
  return out;
}

void Walker::trace_validation(const Resolution& r, const SubQuery& q,
                              const dnssec::Verdict* decisive, bool indeterminate) const {
  if (!r.trace) return;
  if (decisive && decisive->is_bogus()) {
    trace_line(r, &q, fmt::format("validation: bogus: {}{}; cached as bogus (briefly)",
                                  decisive->reason, decisive->transient ? " (transient)" : ""));
  } else if (indeterminate) {
    trace_line(r, &q, "validation: indeterminate (part of the answer could not be checked)");
  } else if (decisive) {
    trace_line(r, &q, fmt::format("validation: {}: {}; cached with that status",
                                  to_text(decisive->state),
                                  decisive->reason.empty() ? "no reason given" : decisive->reason));
  } else {
    trace_line(r, &q, "validation: secure (every RRset and proof verified from a trust anchor); "
                      "cached as secure");
  }
}

}  // namespace sextant::resolver
