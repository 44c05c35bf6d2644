// A resolution told step by step (issue 13, section 5): the cut it starts
// from, each server asked and why, how each reply was judged, what was
// cached, the DNSSEC verdict and the result; a traced resolution is its own
// (never joined, never joining) and, with `refresh`, takes nothing of its
// answer from the cache.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

#include "resolver/walk/walk_trace.h"
#include "walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::Rcode;
using wire::RRType;

namespace {

// The lines that contain `text`.
size_t count_lines(const std::vector<std::string>& lines, std::string_view text) {
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.find(text) != std::string::npos;
  }));
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// A log sink whose level can be switched, like the daemon's.
struct SwitchableSink : WalkTrace {
  bool on = false;
  std::vector<std::string> lines;
  bool enabled() const noexcept override { return on; }
  void line(std::string_view text) override { lines.emplace_back(text); }
};

}  // namespace

TEST_CASE("trace: every step of a walk from the root", "[walker][trace]") {
  WalkerFixture f;
  auto trace = std::make_shared<TraceCollector>();
  ResolveOptions ro;
  ro.trace = trace;
  auto r = f.resolve("www.example.com.", RRType::A, ro);
  REQUIRE(r.rcode == Rcode::NOERROR);
  auto lines = trace->lines();
  INFO(joined(lines));
  CHECK(lines.front().find("q0: question www.example.com. A") != std::string::npos);
  CHECK(count_lines(lines, "waiting for the root priming") == 1);
  CHECK(count_lines(lines, "starting at . (a.root-servers.net. [198.41.0.4], b.root-servers.net. "
                           "[199.9.14.201]), from the primed root") == 1);
  CHECK(count_lines(lines, "choosing 198.41.0.4 (a.root-servers.net.)") +
            count_lines(lines, "choosing 199.9.14.201 (b.root-servers.net.)") >= 1);
  CHECK(count_lines(lines, "sent com. A to ") >= 1);  // minimised
  CHECK(count_lines(lines, "minimised (RFC 9156)") >= 1);
  CHECK(count_lines(lines, "judged as referral to com.: com. 172800 NS a.gtld-servers.net.") == 1);
  CHECK(count_lines(lines, "cached the delegation of com. (1 NS, TTL 172800)") == 1);
  CHECK(count_lines(lines, "descending to example.com. (ns1.example.com. [192.0.2.53], "
                           "ns2.example.com. [192.0.2.54])") == 1);
  CHECK(count_lines(lines, "judged as answer: www.example.com. 300 A 192.0.2.80") == 1);
  CHECK(count_lines(lines, "cached (answer-auth, not yet validated): www.example.com. 300 A") == 1);
  CHECK(lines.back().find("done: NOERROR; answer: www.example.com. 300 A 192.0.2.80") !=
        std::string::npos);
  // Every line names its resolution, its time and its query.
  for (const auto& l : lines) CHECK(l.rfind("r", 0) == 0);
}

TEST_CASE("trace: lame servers, sub-queries and failures are told", "[walker][trace]") {
  WalkerFixture f(false);
  ScriptedReply upward;
  upward.aa = true;
  upward.authority.push_back(rr(". 518400 IN NS a.root-servers.net."));
  f.network.on(net::example_com_1, "www.example.com.", RRType::AAAA, upward);
  f.network.on(net::example_com_2, "www.example.com.", RRType::AAAA, upward);
  auto trace = std::make_shared<TraceCollector>();
  ResolveOptions ro;
  ro.trace = trace;
  auto r = f.resolve("www.example.com.", RRType::AAAA, ro);
  CHECK(r.rcode == Rcode::SERVFAIL);
  auto lines = trace->lines();
  INFO(joined(lines));
  CHECK(count_lines(lines, "judged as lame: authoritative referral to . does not lead down from "
                           "example.com.") == 2);
  CHECK(count_lines(lines, "is not asked again for this question") >= 2);
  CHECK(count_lines(lines, "failing with SERVFAIL, EDE 22: no reachable authority for example.com.") == 1);

  auto glueless = std::make_shared<TraceCollector>();
  ro.trace = glueless;
  REQUIRE(f.resolve("www.glueless.com.", RRType::A, ro).rcode == Rcode::NOERROR);
  lines = glueless->lines();
  INFO(joined(lines));
  CHECK(count_lines(lines, "no address to ask for glueless.com.: resolving the name server "
                           "ns.example.net. (it came without glue)") == 1);
  CHECK(count_lines(lines, ": sub-query of q0: ns.example.net. A (ns-address)") == 1);
  CHECK(count_lines(lines, "finished: NOERROR; answer: ns.example.net. 3600 A 198.51.100.53") == 1);
}

TEST_CASE("trace: a traced question is its own resolution, and cold with refresh",
          "[walker][trace]") {
  WalkerFixture f;
  REQUIRE(f.resolve("www.example.com.", RRType::A).rcode == Rcode::NOERROR);
  const size_t sent = f.sent();
  // Answered from the cache without a trace of its own ...
  auto trace = std::make_shared<TraceCollector>();
  ResolveOptions ro;
  ro.trace = trace;
  REQUIRE(f.resolve("www.example.com.", RRType::A, ro).rcode == Rcode::NOERROR);
  CHECK(f.sent() == sent);
  CHECK(count_lines(trace->lines(), "from the cache (indeterminate): www.example.com.") == 1);
  // ... and asked upstream with refresh, from the cached cut.
  auto cold = std::make_shared<TraceCollector>();
  ro.trace = cold;
  ro.refresh = true;
  REQUIRE(f.resolve("www.example.com.", RRType::A, ro).rcode == Rcode::NOERROR);
  CHECK(f.sent() == sent + 1);
  auto lines = cold->lines();
  INFO(joined(lines));
  CHECK(count_lines(lines, "its answer is not taken from the cache") == 1);
  CHECK(count_lines(lines, "starting at example.com. (ns1.example.com. [192.0.2.53], "
                           "ns2.example.com. [192.0.2.54]), from the closest cut in the cache") == 1);

  // Two identical questions at once: the traced one neither joins the other
  // nor is joined.
  ResultCapture plain, traced, plain2;
  auto own = std::make_shared<TraceCollector>();
  ResolveOptions with_trace;
  with_trace.trace = own;
  with_trace.refresh = true;
  ResolveOptions refresh;
  refresh.refresh = true;
  wire::Question q{wire::Name::from_text("www.example.com."), RRType::A, wire::RRClass::IN};
  f.w().resolve(q, refresh, [&](const ResolutionResult& res) { plain.results.push_back(res); });
  f.w().resolve(q, with_trace, [&](const ResolutionResult& res) { traced.results.push_back(res); });
  f.w().resolve(q, refresh, [&](const ResolutionResult& res) { plain2.results.push_back(res); });
  CHECK(f.w().stats().deduplicated == 1);  // the third joined the first
  f.loop.run_for(milliseconds{500});
  REQUIRE(plain.results.size() == 1);
  REQUIRE(traced.results.size() == 1);
  REQUIRE(plain2.results.size() == 1);
  CHECK(f.sent() == sent + 3);
  CHECK(count_lines(own->lines(), "joined") == 0);
}

TEST_CASE("trace: the walker-wide sink follows its switch, and tells the DNSSEC verdict",
          "[walker][trace]") {
  WalkerFixture f(false);
  auto sink = std::make_shared<SwitchableSink>();
  f.options.trace = sink;
  f.options.dnssec.enabled = true;
  f.options.dnssec.anchors = std::make_shared<const dnssec::TrustAnchors>();
  REQUIRE(f.resolve("www.example.com.", RRType::A).rcode == Rcode::NOERROR);
  CHECK(sink->lines.empty());  // off: nothing formatted, nothing told
  sink->on = true;
  auto r = f.resolve("www.example.net.", RRType::A);
  REQUIRE(r.rcode == Rcode::NOERROR);
  INFO(joined(sink->lines));
  CHECK(count_lines(sink->lines, "question www.example.net. A") == 1);
  CHECK(count_lines(sink->lines, "validation: insecure: ") == 1);
  CHECK(count_lines(sink->lines, "DNSSEC insecure") == 1);
  // Every resolution is told while it is on, a joined question too.
  sink->lines.clear();
  ResultCapture a, b;
  wire::Question q{wire::Name::from_text("sales.example.net."), RRType::A, wire::RRClass::IN};
  f.w().resolve(q, {}, [&](const ResolutionResult& res) { a.results.push_back(res); });
  f.w().resolve(q, {}, [&](const ResolutionResult& res) { b.results.push_back(res); });
  f.loop.run_for(milliseconds{500});
  REQUIRE(b.results.size() == 1);
  CHECK(count_lines(sink->lines, "an identical question joined this resolution") == 1);
}
